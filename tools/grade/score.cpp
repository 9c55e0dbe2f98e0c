// Scoring one lab: after its tests and scripts ran, the rubric's names are checked against what
// the lab has, each group's points are shared out among its items (the script checks by weight),
// and the lab's score is added up and rounded.
#include "score.hpp"

#include "stage.hpp"

#include <cmath>
#include <map>
#include <set>

namespace socklab::grade {
namespace {

// A rubric that names a test, a section or a check that does not exist would silently make
// points nobody can earn: the grader stops instead, naming the mistake.
void check_rubric_names(const LabRubric& lr, const Lab& lab, bool hidden, const std::string& rubric_path) {
    std::set<std::string> names;
    std::set<std::string> groups_seen;
    for (const auto& item : lab.items) {
        names.insert(item.name);
        groups_seen.insert(item.group);
    }
    // path:LINE: when the mistake is on a line of the rubric, as a compiler would say it.
    const auto fail = [&](int line, const std::string& what) {
        std::string at = rubric_path;
        if (line > 0) {
            at += ":" + std::to_string(line);
        }
        throw TreeError(at + ": lab " + lr.id + ": " + what);
    };
    const auto line_of = [&](const std::string& name) {
        const auto found = lr.lines.find(name);
        return found == lr.lines.end() ? 0 : found->second;
    };
    for (const auto& g : lr.groups) {
        if (groups_seen.count(g.name) == 0) {
            fail(g.line,
                 "the group \"" + g.name + "\" has no test: no test case is tagged [" + g.section + "]");
        }
    }
    for (const auto& [name, reason] : lr.ungraded) {
        if (names.count(name) == 0) {
            fail(line_of(name), "[[lab.ungraded]] names \"" + name + "\", which is not a test of the lab");
        }
    }
    for (const auto& [name, weight] : lr.check_weights) {
        if (names.count(name) == 0 && hidden) { // without hidden scripts, their checks are absent
            fail(line_of(name), "[lab.scripts.weights] names \"" + name +
                                    "\", which is not a check (\"script/check name\")");
        }
    }
    for (const auto& item : lab.items) {
        if (item.group == kNoGroup) {
            fail(0, "the test \"" + item.name + "\" is in no [[lab.group]] (its docs tag has no group)");
        }
    }
}

} // namespace

void score(const LabRubric& lr, Lab& lab, bool hidden, const std::string& rubric_path) {
    lab.groups.clear();
    for (const auto& g : lr.groups) {
        lab.groups.push_back({g.name, 0, g.points, 0, 0});
    }
    lab.groups.push_back({"scripts", 0, lr.visible_scripts, 0, 0});
    lab.groups.push_back({"hidden scripts", 0, hidden ? lr.hidden_scripts : 0, 0, 0});
    const auto group = [&](const std::string& name) -> Group* {
        for (auto& g : lab.groups) {
            if (g.name == name) {
                return &g;
            }
        }
        return nullptr;
    };
    // Counted items per group, and the total weight of the script checks.
    std::map<std::string, double> weight;
    for (auto& item : lab.items) {
        Group* g = group(item.group);
        const bool ungraded = lr.ungraded.count(item.name) != 0;
        if (g == nullptr || ungraded || item.status == Status::Skipped) {
            continue;
        }
        ++g->counted;
        if (item.kind == "check") {
            const auto w = lr.check_weights.find(item.name);
            if (w != lr.check_weights.end()) {
                item.max_score = w->second;
            }
            weight[item.group] += item.max_score;
        }
    }
    for (auto& item : lab.items) {
        Group* g = group(item.group);
        const bool ungraded = lr.ungraded.count(item.name) != 0;
        if (ungraded) {
            item.reason = "ungraded: " + lr.ungraded.at(item.name) +
                          (item.status == Status::Passed || item.reason.empty() ? "" : "; " + item.reason);
            item.max_score = 0;
            item.score = 0;
            continue;
        }
        if (g == nullptr || item.status == Status::Skipped || g->counted == 0) {
            item.max_score = 0;
            item.score = 0;
            continue;
        }
        if (item.kind == "check") {
            const double total = weight[item.group];
            item.max_score = total > 0 ? g->max_score * item.max_score / total : 0;
        } else {
            item.max_score = g->max_score / g->counted;
        }
        item.score = item.status == Status::Passed ? item.max_score : 0;
        g->score += item.score;
        g->passed += item.status == Status::Passed ? 1 : 0;
    }
    if (lab.build == "ok") {
        check_rubric_names(lr, lab, hidden, rubric_path);
    }
    lab.score = 0;
    lab.max_score = 0;
    for (const auto& g : lab.groups) {
        lab.score += g.score;
        lab.max_score += g.max_score;
    }
    // Round each lab to hundredths so reports add up to what they show.
    lab.score = static_cast<double>(std::llround(lab.score * 100)) / 100;
    lab.read_first.clear();
    for (const auto& item : lab.items) {
        if (item.status != Status::Passed && item.status != Status::Skipped && !item.docs.empty() &&
            !item.hidden) {
            lab.read_first = item.docs;
            break;
        }
    }
}

} // namespace socklab::grade
