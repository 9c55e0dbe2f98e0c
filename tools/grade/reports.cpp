#include "reports.hpp"

#include <pugixml.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include <unistd.h>

namespace socklab::grade {
namespace {

std::string points(double value) {
    char text[32];
    if (std::fabs(value - std::round(value)) < 0.005) {
        std::snprintf(text, sizeof text, "%.0f", value);
    } else {
        std::snprintf(text, sizeof text, "%.2f", value);
    }
    return text;
}

std::string pad(const std::string& text, std::size_t width, bool right = false) {
    if (text.size() >= width) {
        return text;
    }
    const std::string fill(width - text.size(), ' ');
    return right ? fill + text : text + fill;
}

// The last lines of a long output, indented, so a report stays readable.
std::string indented_tail(const std::string& text, std::size_t max_lines, const std::string& indent) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        lines.push_back(line);
    }
    std::string out;
    std::size_t from = 0;
    if (lines.size() > max_lines) {
        from = lines.size() - max_lines;
        out += indent + "(" + std::to_string(from) + " earlier lines not shown)\n";
    }
    for (std::size_t i = from; i < lines.size(); ++i) {
        out += indent + lines[i] + "\n";
    }
    return out;
}

// The end of an item's output, where a failure shows: a test's last 25 lines; a check's last 60
// lines of its report, and under them the wire's heading and its last 20 lines, when the report
// has one (it comes last: whole, it would push the transcript and its caret out of the 60).
std::string output_tail(const Item& item) {
    const std::string output = clean_text(item.output);
    const auto wire = output.find("\nthe wire: ");
    if (item.kind != "check" || wire == std::string::npos) {
        return indented_tail(output, item.kind == "check" ? 60 : 25, "  | ");
    }
    const auto heading_end = output.find('\n', wire + 1);
    const std::string heading = output.substr(wire + 1, heading_end - wire - 1);
    return indented_tail(output.substr(0, wire + 1), 60, "  | ") + "  | " + heading + "\n" +
           (heading_end == std::string::npos ? ""
                                             : indented_tail(output.substr(heading_end + 1), 20, "  | "));
}

// What a student may see of why an item did not pass: a hidden check says only that it failed
// (its reason quotes the script's values); everything is in the JSON report for the instructor.
std::string student_reason(const Item& item) {
    if (item.hidden && item.status != Status::Passed) {
        return "a hidden check did not pass; its details are for your instructor";
    }
    return clean_text(item.reason);
}

// A one-line message and the docs section to read, unless the message names it already (a
// skeleton's "not implemented yet" does).
std::string with_docs(std::string message, const std::string& docs) {
    if (!docs.empty() && message.find(docs) == std::string::npos) {
        message += (message.empty() ? "" : " ") + std::string("(read ") + docs + ")";
    }
    return message;
}

// The first line of the report's entry for a lab whose build state is not "ok".
std::string build_problem(const std::string& build) {
    if (build == "refused") {
        return "The lab's build was refused; every test and check of it scores 0.";
    }
    if (build == "compile error") {
        return "The lab did not compile; every test and check of it scores 0.";
    }
    return "The lab's test program does not start; every test of it scores 0 (its scripts ran).";
}

int count(const Lab& lab, const std::string& kind, Status status) {
    int n = 0;
    for (const auto& i : lab.items) {
        n += i.kind == kind && i.status == status ? 1 : 0;
    }
    return n;
}

int count(const Lab& lab, const std::string& kind) {
    int n = 0;
    for (const auto& i : lab.items) {
        n += i.kind == kind ? 1 : 0;
    }
    return n;
}

} // namespace

std::string text_report(const Grade& grade, const TextStyle& style) {
    const auto paint = [&](const char* code, const std::string& text) {
        return style.colour ? std::string("\033[") + code + "m" + text + "\033[0m" : text;
    };
    std::ostringstream out;
    out << "socklab grade for " << clean_text(grade.student) << " (" << clean_text(grade.submission) << ")"
        << (grade.cumulative ? ", cumulative" : "")
        << (grade.seed != 0 ? ", scripts seeded with " + std::to_string(grade.seed) : std::string())
        << "\n\n";
    // The build column fits its longest state ("test program does not start" is wider than most).
    std::size_t build_width = 15;
    for (const Lab& lab : grade.labs) {
        build_width = std::max(build_width, lab.build.size() + 2);
    }
    out << pad("lab", 5) << pad("build", build_width) << pad("tests", 10, true) << pad("checks", 10, true)
        << pad("points", 16, true) << "   read first\n";
    for (const Lab& lab : grade.labs) {
        const std::string tests =
            std::to_string(count(lab, "test", Status::Passed)) + "/" + std::to_string(count(lab, "test"));
        const std::string checks =
            std::to_string(count(lab, "check", Status::Passed)) + "/" + std::to_string(count(lab, "check"));
        const std::string pts = points(lab.score) + " / " + points(lab.max_score);
        const bool full = lab.score >= lab.max_score - 0.005;
        out << pad(lab.id, 5) << pad(lab.build, build_width) << pad(tests, 10, true) << pad(checks, 10, true)
            << paint(full ? "32" : (lab.score > 0 ? "33" : "31"), pad(pts, 16, true)) << "   "
            << (lab.build == "ok"              ? lab.read_first
                : lab.build == "refused"       ? "why its build was refused, below"
                : lab.build == "compile error" ? "the compiler's errors, below"
                                               : "why its tests do not start, below")
            << "\n";
    }
    out << pad("", 25 + build_width)
        << paint("1", pad(points(grade.score) + " / " + points(grade.max_score), 16, true)) << "   total\n";
    for (const auto& note : grade.notes) {
        out << "note: " << note << "\n";
    }
    for (const Lab& lab : grade.labs) {
        if (!lab.missing.empty() || !lab.extra.empty() || lab.build != "ok") {
            out << "\n" << paint("1", "lab " + lab.id + " (" + lab.title + ")") << "\n";
        }
        for (const auto& m : lab.missing) {
            out << "  missing: " << m << " (the skeleton's was used)\n";
        }
        for (const auto& e : lab.extra) {
            out << "  ignored: " << clean_text(e) << " (not a file of the lab's manifest)\n";
        }
        if (lab.build != "ok") {
            out << "  " << paint("31", lab.build)
                << (lab.build == "compile error" || lab.build == "refused"
                        ? ": every test and check of this lab scores 0\n"
                        : ": every test of this lab scores 0 (its scripts ran)\n");
            out << indented_tail(clean_text(lab.build_log), 30, "  | ");
        }
    }
    if (!style.details) {
        return out.str();
    }
    for (const Lab& lab : grade.labs) {
        bool header = false;
        for (const Item& item : lab.items) {
            if (item.status == Status::Passed) {
                continue;
            }
            if (!header) {
                out << "\n" << paint("1", "lab " + lab.id + ": what did not pass") << "\n";
                header = true;
            }
            out << "\n"
                << paint(item.status == Status::Skipped ? "33" : "31",
                         std::string(status_name(item.status)) + ": ")
                << clean_text(item.name) << " (" << points(item.score) << "/" << points(item.max_score) << ")"
                << (item.hidden ? " [hidden]" : "") << "\n";
            if (!item.reason.empty()) {
                out << "  " << student_reason(item) << "\n";
            }
            if (!item.docs.empty()) {
                out << "  read: " << item.docs << "\n";
            }
            if (item.hidden) {
                continue; // a hidden check shows what failed, not the script
            }
            if (!item.output.empty() && item.status != Status::Skipped) {
                out << output_tail(item);
            }
            if (!item.replay.empty()) {
                out << "  rerun: " << clean_text(item.replay) << "\n";
            }
        }
    }
    return out.str();
}

std::string json_report(const Grade& grade) {
    return to_json(grade).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string junit_report(const Grade& grade) {
    pugi::xml_document doc;
    auto decl = doc.append_child(pugi::node_declaration);
    decl.append_attribute("version") = "1.0";
    decl.append_attribute("encoding") = "UTF-8";
    auto suites = doc.append_child("testsuites");
    suites.append_attribute("name") = ("socklab grade: " + clean_text(grade.student)).c_str();
    int total_tests = 0;
    int total_failures = 0;
    int total_errors = 0;
    for (const Lab& lab : grade.labs) {
        auto suite = suites.append_child("testsuite");
        suite.append_attribute("name") = ("lab" + lab.id).c_str();
        int failures = 0;
        int errors = 0;
        int skipped = 0;
        double seconds = 0;
        auto props = suite.append_child("properties");
        const auto property = [](pugi::xml_node parent, const char* name, const std::string& value) {
            auto p = parent.append_child("property");
            p.append_attribute("name") = name;
            p.append_attribute("value") = value.c_str();
        };
        property(props, "points", points(lab.score));
        property(props, "max_points", points(lab.max_score));
        property(props, "build", lab.build);
        std::vector<Item> items = lab.items;
        if (lab.build != "ok") {
            Item build;
            build.name = "build";
            build.kind = "build";
            build.group = "build";
            build.status = Status::Error;
            build.reason = lab.build;
            build.output = lab.build_log;
            build.max_score = lab.max_score;
            items.insert(items.begin(), build);
        }
        for (const Item& item : items) {
            auto tc = suite.append_child("testcase");
            tc.append_attribute("name") = clean_text(item.name).c_str();
            tc.append_attribute("classname") = ("lab" + lab.id + "." + item.group).c_str();
            tc.append_attribute("time") = item.seconds;
            auto tp = tc.append_child("properties");
            property(tp, "points", points(item.score));
            property(tp, "max_points", points(item.max_score));
            property(tp, "kind", item.kind);
            if (item.hidden) {
                property(tp, "hidden", "true");
            }
            seconds += item.seconds;
            if (item.status == Status::Failed || item.status == Status::Error) {
                auto f = tc.append_child(item.status == Status::Failed ? "failure" : "error");
                f.append_attribute("message") = student_reason(item).c_str();
                if (!item.hidden) {
                    f.append_child(pugi::node_pcdata).set_value(clean_text(item.output).c_str());
                }
                (item.status == Status::Failed ? failures : errors) += 1;
            } else if (item.status == Status::Skipped) {
                tc.append_child("skipped").append_attribute("message") = clean_text(item.reason).c_str();
                ++skipped;
            }
        }
        suite.append_attribute("tests") = static_cast<int>(items.size());
        suite.append_attribute("failures") = failures;
        suite.append_attribute("errors") = errors;
        suite.append_attribute("skipped") = skipped;
        suite.append_attribute("time") = seconds;
        total_tests += static_cast<int>(items.size());
        total_failures += failures;
        total_errors += errors;
    }
    suites.append_attribute("tests") = total_tests;
    suites.append_attribute("failures") = total_failures;
    suites.append_attribute("errors") = total_errors;
    std::ostringstream out;
    doc.save(out, "  ", pugi::format_default, pugi::encoding_utf8);
    return out.str();
}

std::string gradescope_report(const Grade& grade) {
    nlohmann::json tests = nlohmann::json::array();
    int skipped = 0;
    for (const Lab& lab : grade.labs) {
        if (lab.build != "ok") {
            tests.push_back({{"name", "lab " + lab.id + ": build"},
                             {"score", 0},
                             {"max_score", 0},
                             {"status", "failed"},
                             {"output", clean_text(build_problem(lab.build) + "\n" + lab.build_log)},
                             {"visibility", "visible"}});
        }
        for (const Item& item : lab.items) {
            if (item.status == Status::Skipped) {
                ++skipped; // Gradescope knows only passed and failed: left out, counted in the output
                continue;
            }
            std::string output = item.reason.empty() ? "" : student_reason(item) + "\n";
            if (!item.docs.empty()) {
                output += "read: " + item.docs + "\n";
            }
            if (!item.hidden && item.status != Status::Passed) {
                output += "\n" + clean_text(item.output);
                if (!item.replay.empty()) {
                    output += "\nrerun: " + clean_text(item.replay) + "\n";
                }
            }
            tests.push_back({{"name", "lab " + lab.id + ": " + clean_text(item.name)},
                             {"score", item.score},
                             {"max_score", item.max_score},
                             {"status", item.status == Status::Passed ? "passed" : "failed"},
                             {"output", output},
                             {"tags", {"lab" + lab.id, item.group}},
                             {"visibility", item.hidden ? "after_published" : "visible"}});
        }
    }
    std::string summary = text_report(grade, TextStyle{false, false});
    if (skipped > 0) {
        summary +=
            std::to_string(skipped) + " test(s) could not run on the grading machine and count for nobody.\n";
    }
    nlohmann::json result = {
        {"score", grade.score},    {"output", summary},
        {"visibility", "visible"}, {"stdout_visibility", "hidden"},
        {"tests", tests},          {"extra_data", {{"max_score", grade.max_score}, {"seed", grade.seed}}}};
    return result.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string gradescope_fallback(const std::string& why) {
    nlohmann::json result = {{"score", 0},
                             {"output", "The grader stopped before it finished: " + clean_text(why) +
                                            "\nThis is not your score: tell your instructor."},
                             {"visibility", "visible"},
                             {"tests", nlohmann::json::array()}};
    return result.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string classroom_report(const Grade& grade) {
    nlohmann::json tests = nlohmann::json::array();
    bool all_passed = true;
    for (const Lab& lab : grade.labs) {
        if (lab.build != "ok") {
            all_passed = false;
            tests.push_back({{"name", "lab " + lab.id + ": build"},
                             {"status", "error"},
                             {"score", 0},
                             {"message", clean_text(lab.build_log)},
                             {"line_no", 0},
                             {"execution_time", "0s"}});
        }
        for (const Item& item : lab.items) {
            if (item.status == Status::Skipped) {
                continue;
            }
            all_passed = all_passed && item.status == Status::Passed;
            const std::string message = with_docs(student_reason(item), item.docs);
            char seconds[32];
            std::snprintf(seconds, sizeof seconds, "%.2fs", item.seconds);
            tests.push_back({{"name", "lab " + lab.id + ": " + clean_text(item.name)},
                             {"status", item.status == Status::Passed  ? "pass"
                                        : item.status == Status::Error ? "error"
                                                                       : "fail"},
                             {"score", item.score},
                             {"message", message},
                             {"line_no", 0},
                             {"execution_time", seconds}});
        }
    }
    nlohmann::json result = {{"version", 1},
                             {"status", all_passed ? "pass" : "fail"},
                             {"max_score", grade.max_score},
                             {"tests", tests}};
    std::string text = result.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    // The workflow hands this file to the reporter base64-encoded in one environment variable, and
    // Linux refuses a variable over 128 KiB: past 64 KiB of JSON (a submission failing hundreds of
    // tests at length), one entry per rubric group instead of one per test, with the same points.
    if (text.size() > std::size_t{64} * 1024) {
        nlohmann::json groups = nlohmann::json::array();
        for (const Lab& lab : grade.labs) {
            if (lab.build != "ok") {
                groups.push_back({{"name", "lab " + lab.id + ": build"},
                                  {"status", "error"},
                                  {"score", 0},
                                  {"message", clean_text(lab.build_log.substr(0, 2000))},
                                  {"line_no", 0},
                                  {"execution_time", "0s"}});
            }
            std::vector<std::string> order;
            std::map<std::string, std::vector<const Item*>> by_group;
            for (const Item& item : lab.items) {
                if (item.status == Status::Skipped) {
                    continue;
                }
                if (by_group.count(item.group) == 0) {
                    order.push_back(item.group);
                }
                by_group[item.group].push_back(&item);
            }
            for (const auto& name : order) {
                const auto& items = by_group[name];
                double score = 0;
                std::size_t failed = 0;
                const Item* first = nullptr;
                for (const Item* item : items) {
                    score += item->score;
                    if (item->status != Status::Passed) {
                        ++failed;
                        first = first == nullptr ? item : first;
                    }
                }
                std::string message;
                if (first != nullptr) {
                    message = with_docs(std::to_string(failed) + " of " + std::to_string(items.size()) +
                                            " did not pass; the first, " + clean_text(first->name) + ": " +
                                            student_reason(*first).substr(0, 300),
                                        first->docs);
                }
                groups.push_back({{"name", "lab " + lab.id + ": " + clean_text(name)},
                                  {"status", failed == 0 ? "pass" : "fail"},
                                  {"score", score},
                                  {"message", message},
                                  {"line_no", 0},
                                  {"execution_time", "0s"}});
            }
        }
        result["tests"] = groups;
        text = result.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    return text + "\n";
}

namespace {

std::string csv_field(const std::string& text) {
    std::string clean = clean_text(text);
    if (clean.find_first_of(",\"\n\r") == std::string::npos) {
        return clean;
    }
    std::string out = "\"";
    for (const char c : clean) {
        out += c == '"' ? "\"\"" : std::string(1, c);
    }
    return out + "\"";
}

} // namespace

std::string csv_header(const Grade& grade) {
    std::string out = "student,submission";
    for (const Lab& lab : grade.labs) {
        out += ",lab" + lab.id;
    }
    return out + ",total,max\n";
}

std::string csv_row(const Grade& grade) {
    std::string out = csv_field(grade.student) + "," + csv_field(grade.submission);
    for (const Lab& lab : grade.labs) {
        out += "," + points(lab.score);
    }
    return out + "," + points(grade.score) + "," + points(grade.max_score) + "\n";
}

void write_atomically(const std::string& path, const std::string& text) {
    const std::filesystem::path target(path);
    if (target.has_parent_path()) {
        std::filesystem::create_directories(target.parent_path());
    }
    const std::string temporary = path + ".tmp." + std::to_string(::getpid());
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        out << text;
        out.flush();
        if (!out) {
            throw std::runtime_error("cannot write " + temporary);
        }
    }
    std::filesystem::rename(temporary, target);
}

} // namespace socklab::grade
