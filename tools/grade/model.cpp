#include "model.hpp"

#include <cstdio>

namespace socklab::grade {

const char* status_name(Status status) {
    switch (status) {
    case Status::Passed: return "passed";
    case Status::Failed: return "failed";
    case Status::Error: return "error";
    case Status::Skipped: return "skipped";
    }
    return "failed";
}

namespace {

Status status_from(const std::string& name) {
    if (name == "passed") {
        return Status::Passed;
    }
    if (name == "error") {
        return Status::Error;
    }
    if (name == "skipped") {
        return Status::Skipped;
    }
    return Status::Failed;
}

// The length of the valid UTF-8 sequence at s[i], or 0 when it is not one.
std::size_t utf8_length(const std::string& s, std::size_t i) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = byte(i);
    std::size_t n = 0;
    unsigned int min = 0;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (i + n > s.size()) {
        return 0;
    }
    unsigned int code = c & (0x7f >> n);
    for (std::size_t k = 1; k < n; ++k) {
        if ((byte(i + k) & 0xc0) != 0x80) {
            return 0;
        }
        code = (code << 6) | (byte(i + k) & 0x3f);
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
        return 0;
    }
    return n;
}

} // namespace

std::string clean_text(const std::string& bytes) {
    std::string out;
    out.reserve(bytes.size());
    for (std::size_t i = 0; i < bytes.size();) {
        const auto c = static_cast<unsigned char>(bytes[i]);
        if (c == '\t' || c == '\n' || c == '\r' || (c >= 0x20 && c < 0x7f)) {
            out += static_cast<char>(c);
            ++i;
        } else if (const std::size_t n = c >= 0x80 ? utf8_length(bytes, i) : 0; n > 0) {
            out.append(bytes, i, n);
            i += n;
        } else {
            char hex[5];
            std::snprintf(hex, sizeof hex, "\\x%02x", c);
            out += hex;
            ++i;
        }
    }
    return out;
}

nlohmann::json to_json(const Grade& grade) {
    nlohmann::json labs = nlohmann::json::array();
    for (const Lab& lab : grade.labs) {
        nlohmann::json groups = nlohmann::json::array();
        for (const Group& g : lab.groups) {
            groups.push_back({{"name", g.name},
                              {"score", g.score},
                              {"max_score", g.max_score},
                              {"passed", g.passed},
                              {"counted", g.counted}});
        }
        // Every field written by name, as the reader below reads it: the lists look alike on purpose.
        nlohmann::json items = nlohmann::json::array();
        for (const Item& i : lab.items) {
            items.push_back({{"name", clean_text(i.name)},
                             {"kind", i.kind},
                             {"group", i.group},
                             {"status", status_name(i.status)},
                             {"score", i.score},
                             {"max_score", i.max_score},
                             {"hidden", i.hidden},
                             {"seconds", i.seconds},
                             {"reason", clean_text(i.reason)},
                             {"output", clean_text(i.output)},
                             {"docs", i.docs},
                             {"replay", clean_text(i.replay)},
                             {"seed", i.seed}});
        }
        labs.push_back({{"id", lab.id},
                        {"folder", lab.folder},
                        {"title", lab.title},
                        {"build", lab.build},
                        {"build_log", clean_text(lab.build_log)},
                        {"missing", lab.missing},
                        {"extra", lab.extra},
                        {"score", lab.score},
                        {"max_score", lab.max_score},
                        {"read_first", lab.read_first},
                        {"groups", groups},
                        {"items", items}});
    }
    return {{"format", "socklab-grade/1"},
            {"student", clean_text(grade.student)},
            {"submission", clean_text(grade.submission)},
            {"cumulative", grade.cumulative},
            {"seed", grade.seed},
            {"started", grade.started},
            {"finished", grade.finished},
            {"build_seconds", grade.build_seconds},
            {"run_seconds", grade.run_seconds},
            {"score", grade.score},
            {"max_score", grade.max_score},
            {"notes", grade.notes},
            {"labs", labs}};
}

Grade grade_from_json(const nlohmann::json& json) {
    Grade grade;
    grade.student = json.at("student").get<std::string>();
    grade.submission = json.at("submission").get<std::string>();
    grade.cumulative = json.at("cumulative").get<bool>();
    grade.seed = json.at("seed").get<std::uint64_t>();
    grade.started = json.at("started").get<std::string>();
    grade.finished = json.at("finished").get<std::string>();
    grade.build_seconds = json.value("build_seconds", 0.0);
    grade.run_seconds = json.value("run_seconds", 0.0);
    grade.score = json.at("score").get<double>();
    grade.max_score = json.at("max_score").get<double>();
    grade.notes = json.at("notes").get<std::vector<std::string>>();
    for (const auto& l : json.at("labs")) {
        Lab lab;
        lab.id = l.at("id").get<std::string>();
        lab.folder = l.at("folder").get<std::string>();
        lab.title = l.at("title").get<std::string>();
        lab.build = l.at("build").get<std::string>();
        lab.build_log = l.at("build_log").get<std::string>();
        lab.missing = l.at("missing").get<std::vector<std::string>>();
        lab.extra = l.at("extra").get<std::vector<std::string>>();
        lab.score = l.at("score").get<double>();
        lab.max_score = l.at("max_score").get<double>();
        lab.read_first = l.at("read_first").get<std::string>();
        for (const auto& g : l.at("groups")) {
            lab.groups.push_back({g.at("name").get<std::string>(), g.at("score").get<double>(),
                                  g.at("max_score").get<double>(), g.at("passed").get<int>(),
                                  g.at("counted").get<int>()});
        }
        for (const auto& i : l.at("items")) {
            Item item;
            item.name = i.at("name").get<std::string>();
            item.kind = i.at("kind").get<std::string>();
            item.group = i.at("group").get<std::string>();
            item.status = status_from(i.at("status").get<std::string>());
            item.score = i.at("score").get<double>();
            item.max_score = i.at("max_score").get<double>();
            item.hidden = i.at("hidden").get<bool>();
            item.seconds = i.at("seconds").get<double>();
            item.reason = i.at("reason").get<std::string>();
            item.output = i.at("output").get<std::string>();
            item.docs = i.at("docs").get<std::string>();
            item.replay = i.at("replay").get<std::string>();
            item.seed = i.value("seed", std::uint64_t{0});
            lab.items.push_back(std::move(item));
        }
        grade.labs.push_back(std::move(lab));
    }
    return grade;
}

} // namespace socklab::grade
