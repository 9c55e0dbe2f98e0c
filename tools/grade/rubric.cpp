#include "rubric.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string_view>

namespace socklab::grade {
namespace {

std::string where(const std::string& path, const toml::node& node) {
    std::ostringstream out;
    out << path << ":" << node.source().begin.line;
    return out.str();
}

double points_of(const std::string& path, const toml::table& table, const char* key) {
    const toml::node* node = table.get(key);
    if (node == nullptr) {
        return 0;
    }
    const auto value = node->value<double>();
    if (!value || *value < 0) {
        throw RubricError(where(path, *node) + ": " + key + " must be a number of points, 0 or more");
    }
    return *value;
}

std::string text_of(const std::string& path, const toml::table& table, const char* key,
                    const toml::node& owner) {
    const auto value = table[key].value<std::string>();
    if (!value || value->empty()) {
        throw RubricError(where(path, owner) + ": " + key + " (a string) is missing");
    }
    return *value;
}

// A misspelt key would be ignored and its points silently lost: every key must be a known one.
void check_keys(const std::string& path, const toml::table& table,
                std::initializer_list<std::string_view> known, const std::string& where_in_file) {
    for (const auto& [key, value] : table) {
        if (std::find(known.begin(), known.end(), key.str()) == known.end()) {
            std::string list;
            for (const auto k : known) {
                list += list.empty() ? "" : ", ";
                list += k;
            }
            std::string message = where(path, value);
            message += ": unknown key '" + std::string(key.str()) + "' in " + where_in_file;
            message += " (known: " + list + ")";
            throw RubricError(message);
        }
    }
}

// A check name such as "the server closes after the client's FIN" cannot be a TOML literal key
// ('...'), which the docs suggest for names with backslashes; toml++'s own message ("expected
// '=', saw 's'") does not say why. True when the line starts with a single-quoted key that holds
// another ' before its '='.
bool quote_in_literal_key(const std::string& path, int line_number) {
    std::ifstream in(path);
    std::string line;
    for (int n = 1; n <= line_number && std::getline(in, line); ++n) {
    }
    const auto start = line.find_first_not_of(" \t");
    const auto equals = line.rfind('=');
    if (start == std::string::npos || line[start] != '\'' || equals == std::string::npos) {
        return false;
    }
    return std::count(line.begin() + static_cast<std::ptrdiff_t>(start),
                      line.begin() + static_cast<std::ptrdiff_t>(equals), '\'') > 2;
}

} // namespace

const LabRubric* Rubric::lab(const std::string& id) const {
    for (const auto& l : labs) {
        if (l.id == id) {
            return &l;
        }
    }
    return nullptr;
}

Rubric load_rubric(const std::string& path) {
    toml::table root;
    try {
        root = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
        std::ostringstream out;
        out << path; // line 0: the file itself could not be read
        if (e.source().begin.line > 0) {
            out << ":" << e.source().begin.line;
        }
        out << ": " << e.description();
        if (quote_in_literal_key(path, static_cast<int>(e.source().begin.line))) {
            out << " (a key in single quotes ends at the next ', so a check name with an apostrophe"
                   " needs double quotes: \"script/the client's check\" = 3)";
        }
        throw RubricError(out.str());
    }
    Rubric rubric;
    rubric.path = path;
    check_keys(path, root, {"grader", "lab"}, "the top level");
    if (const auto* grader = root["grader"].as_table()) {
        check_keys(path, *grader,
                   {"test_timeout_seconds", "lab_timeout_seconds", "build_timeout_seconds",
                    "lab_max_timeouts", "submission_timeout_seconds", "memory_mib", "max_processes",
                    "refused_calls"},
                   "[grader]");
        rubric.test_timeout_seconds = points_of(path, *grader, "test_timeout_seconds");
        if (rubric.test_timeout_seconds <= 0) {
            rubric.test_timeout_seconds = 20;
        }
        rubric.build_timeout_seconds = points_of(path, *grader, "build_timeout_seconds");
        if (rubric.build_timeout_seconds <= 0) {
            rubric.build_timeout_seconds = 600;
        }
        rubric.lab_timeout_seconds = points_of(path, *grader, "lab_timeout_seconds");
        if (rubric.lab_timeout_seconds <= 0) {
            rubric.lab_timeout_seconds = 300;
        }
        if (const toml::node* node = grader->get("lab_max_timeouts")) {
            const auto value = node->value<std::int64_t>();
            if (!value || *value < 1 || *value > 1000) {
                throw RubricError(where(path, *node) +
                                  ": lab_max_timeouts must be a whole number from 1 to 1000");
            }
            rubric.lab_max_timeouts = static_cast<int>(*value);
        }
        if (grader->get("submission_timeout_seconds") != nullptr) {
            rubric.submission_timeout_seconds = points_of(path, *grader, "submission_timeout_seconds");
            if (rubric.submission_timeout_seconds <= 0) {
                rubric.submission_timeout_seconds = 1800;
            }
        }
        const auto whole = [&](const char* key, int low, int high, int& into) {
            if (const toml::node* node = grader->get(key)) {
                const auto value = node->value<std::int64_t>();
                if (!value || *value < low || *value > high) {
                    throw RubricError(where(path, *node) + ": " + key + " must be a whole number from " +
                                      std::to_string(low) + " to " + std::to_string(high));
                }
                into = static_cast<int>(*value);
            }
        };
        whole("memory_mib", 256, 1 << 20, rubric.memory_mib);
        whole("max_processes", 16, 1 << 16, rubric.max_processes);
        if (const toml::node* node = grader->get("refused_calls")) {
            const auto* list = node->as_array();
            if (list == nullptr) {
                throw RubricError(where(path, *node) + ": refused_calls must be a list of function names");
            }
            rubric.refused_calls.clear();
            for (const auto& name : *list) {
                const auto text = name.value<std::string>();
                if (!text || text->empty()) {
                    throw RubricError(where(path, name) + ": refused_calls holds names in double quotes");
                }
                rubric.refused_calls.push_back(*text);
            }
        }
    }
    const auto* labs = root["lab"].as_array();
    if (labs == nullptr) {
        throw RubricError(path + ": no [[lab]] tables");
    }
    for (const auto& node : *labs) {
        const auto* table = node.as_table();
        if (table == nullptr) {
            throw RubricError(where(path, node) + ": [[lab]] must be a table");
        }
        check_keys(path, *table, {"id", "title", "group", "scripts", "ungraded"}, "[[lab]]");
        LabRubric lab;
        lab.id = text_of(path, *table, "id", node);
        lab.title = text_of(path, *table, "title", node);
        if (rubric.lab(lab.id) != nullptr) {
            throw RubricError(where(path, node) + ": lab " + lab.id + " appears twice");
        }
        if (const auto* groups = (*table)["group"].as_array()) {
            for (const auto& g : *groups) {
                const auto* gt = g.as_table();
                if (gt == nullptr) {
                    throw RubricError(where(path, g) + ": [[lab.group]] must be a table");
                }
                check_keys(path, *gt, {"name", "section", "points"}, "[[lab.group]]");
                TestGroup group{text_of(path, *gt, "name", g), text_of(path, *gt, "section", g),
                                points_of(path, *gt, "points"), static_cast<int>(g.source().begin.line)};
                lab.groups.push_back(std::move(group));
            }
        }
        if (const auto* scripts = (*table)["scripts"].as_table()) {
            check_keys(path, *scripts, {"visible", "hidden", "weights"}, "[lab.scripts]");
            lab.visible_scripts = points_of(path, *scripts, "visible");
            lab.hidden_scripts = points_of(path, *scripts, "hidden");
            if (const auto* weights = (*scripts)["weights"].as_table()) {
                for (const auto& [key, value] : *weights) {
                    const auto w = value.value<double>();
                    if (!w || *w < 0) {
                        throw RubricError(where(path, value) + ": the weight of \"" + std::string(key.str()) +
                                          "\" must be a number, 0 or more");
                    }
                    lab.check_weights[std::string(key.str())] = *w;
                    lab.lines[std::string(key.str())] = static_cast<int>(value.source().begin.line);
                }
            }
        }
        if (const auto* ungraded = (*table)["ungraded"].as_array()) {
            for (const auto& u : *ungraded) {
                const auto* ut = u.as_table();
                if (ut == nullptr) {
                    throw RubricError(where(path, u) + ": [[lab.ungraded]] must be a table");
                }
                check_keys(path, *ut, {"test", "reason"}, "[[lab.ungraded]]");
                const std::string test = text_of(path, *ut, "test", u);
                lab.ungraded[test] = text_of(path, *ut, "reason", u);
                lab.lines[test] = static_cast<int>(u.source().begin.line);
            }
        }
        rubric.labs.push_back(std::move(lab));
    }
    return rubric;
}

} // namespace socklab::grade
