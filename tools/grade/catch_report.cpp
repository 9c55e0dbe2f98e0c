#include "catch_report.hpp"

#include <pugixml.hpp>

#include <cstring>

namespace socklab::grade {
namespace {

// Catch2 reads a test name as a test spec: escape the characters that mean something there.
std::string catch_spec(const std::string& name) {
    std::string out;
    for (const char c : name) {
        if (c == ',' || c == '[' || c == ']' || c == '\\' || c == '*' || c == '~') {
            out += '\\';
        }
        out += c;
    }
    return out;
}

std::string trimmed(const std::string& text) {
    const auto first = text.find_first_not_of(" \n\t");
    const auto last = text.find_last_not_of(" \n\t");
    return first == std::string::npos ? "" : text.substr(first, last - first + 1);
}

std::string place(const pugi::xml_node& node) {
    const std::string file = node.attribute("filename").as_string();
    const std::string line = node.attribute("line").as_string();
    return file.empty() ? "" : file.substr(file.rfind('/') + 1) + ":" + line + ": ";
}

} // namespace

std::vector<std::string> catch_run_args(const std::string& name) {
    return {catch_spec(name), "--reporter", "xml", "--out", "/dev/fd/3"};
}

CatchResult read_catch_report(const std::string& xml, const std::string& name) {
    CatchResult result;
    pugi::xml_document doc;
    // A report cut short (the program died mid-test) still parses up to where it stops.
    (void)doc.load_buffer(xml.data(), xml.size());
    pugi::xml_node test;
    for (const auto& found : doc.select_nodes("//TestCase")) {
        if (found.node().attribute("name").as_string() == name) {
            test = found.node();
        }
    }
    if (!test) {
        return result;
    }
    const pugi::xml_node overall = test.child("OverallResult");
    result.finished = static_cast<bool>(overall);
    result.success = result.finished && std::strcmp(overall.attribute("success").as_string(), "true") == 0;
    // Every failure, in the order it happened: a failed expression, an exception, a FAIL(), a crash.
    for (const auto& found :
         test.select_nodes(".//Expression[@success='false'] | .//Exception | .//Failure | "
                           ".//FatalErrorCondition")) {
        const pugi::xml_node node = found.node();
        const std::string kind = node.name();
        std::string line;
        std::string text;
        if (kind == "Expression") {
            const std::string original = trimmed(node.child_value("Original"));
            const std::string expanded = trimmed(node.child_value("Expanded"));
            text = place(node) + node.attribute("type").as_string() + "( " + original + " )";
            if (!expanded.empty() && expanded != original) {
                text += "\nwith expansion:\n  " + expanded;
            }
            line = expanded.empty() ? original : expanded;
        } else {
            line = trimmed(node.text().as_string());
            const std::string what = kind == "Exception"             ? "an exception was thrown: "
                                     : kind == "FatalErrorCondition" ? "the test crashed: "
                                                                     : "";
            text = place(node);
            text += what;
            text += line;
        }
        // The INFO and CAPTURE messages of a failed assertion come just before it.
        std::string messages;
        for (pugi::xml_node info = node.previous_sibling(); info && std::strcmp(info.name(), "Info") == 0;
             info = info.previous_sibling()) {
            messages.insert(0, "\n  " + trimmed(info.text().as_string()));
        }
        if (!messages.empty()) {
            text += "\nwith messages:" + messages;
        }
        if (result.reason.empty()) {
            result.reason = line.substr(0, line.find('\n'));
        }
        result.text += (result.text.empty() ? "" : "\n\n") + text;
    }
    return result;
}

} // namespace socklab::grade
