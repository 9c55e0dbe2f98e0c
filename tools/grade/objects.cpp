#include "objects.hpp"

#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <regex>
#include <sstream>
#include <string_view>

namespace socklab::grade {
namespace {

bool starts(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

// Whether a mangled name is an entity of std::, __gnu_cxx:: or socklab:: (not socklab::testkit::),
// or the vtable, typeinfo or guard variable of one: what a template instantiated from the
// system's or the labs' headers defines (weak) in every object that uses it.
bool of_a_shared_namespace(std::string_view m) {
    for (const std::string_view special : {"_ZTV", "_ZTI", "_ZTS", "_ZTT", "_ZGV", "_ZTH", "_ZTW"}) {
        if (starts(m, special)) {
            m.remove_prefix(special.size());
            return of_a_shared_namespace(std::string("_Z") + std::string(m));
        }
    }
    if (!starts(m, "_Z")) {
        return false;
    }
    m.remove_prefix(2);
    while (!m.empty() && (m.front() == 'Z' || m.front() == 'L')) {
        m.remove_prefix(1); // a local entity of a function (Z), internal linkage (L): look at its owner
    }
    if (!m.empty() && m.front() == 'N') {
        m.remove_prefix(1);
        while (!m.empty() && std::string_view("rVKRO").find(m.front()) != std::string_view::npos) {
            m.remove_prefix(1); // cv and ref qualifiers of a member function
        }
    }
    // St is std::; Sa, Sb, Ss, Si, So, Sd abbreviate std::allocator, basic_string, string and streams.
    for (const std::string_view ns : {"St", "Sa", "Sb", "Ss", "Si", "So", "Sd", "9__gnu_cxx"}) {
        if (starts(m, ns)) {
            return true;
        }
    }
    return starts(m, "7socklab") && !starts(m, "7socklab7testkit");
}

bool defined(char type) {
    return type != 'U' && type != 'w' && type != 'v' && type != '?' && type != 'N';
}

bool global(char type) {
    return (type >= 'A' && type <= 'Z') || type == 'u' || type == 'i';
}

bool weak(char type) {
    return type == 'W' || type == 'V' || type == 'u';
}

} // namespace

std::string demangle(const std::string& name) {
    int status = 0;
    const std::unique_ptr<char, void (*)(void*)> text(
        abi::__cxa_demangle(name.c_str(), nullptr, nullptr, &status), std::free);
    return status == 0 && text ? std::string(text.get()) : name;
}

std::vector<Symbol> parse_nm(const std::string& nm_output) {
    std::vector<Symbol> symbols;
    std::istringstream lines(nm_output);
    for (std::string line; std::getline(lines, line);) {
        std::istringstream words(line);
        Symbol s;
        std::string type;
        if (words >> s.name >> type && type.size() == 1 && !s.name.empty() && s.name.back() != ':') {
            s.type = type[0];
            symbols.push_back(std::move(s));
        }
    }
    return symbols;
}

std::string object_refused(const std::string& file, const std::vector<Symbol>& symbols,
                           const ObjectRules& rules) {
    for (const auto& s : symbols) {
        if (s.type == 'U' || s.type == 'w' || s.type == 'v') {
            const bool refused = std::find(rules.refused_calls.begin(), rules.refused_calls.end(), s.name) !=
                                 rules.refused_calls.end();
            if (refused && rules.reference_calls.count(s.name) == 0) {
                return file + " calls " + s.name +
                       "(), which ends or controls the process: a lab's code may not call it (the rubric's "
                       "refused_calls), as code under test could fake a test's result with it";
            }
            continue;
        }
        if (!defined(s.type) || !global(s.type) || rules.reference_defines.count(s.name) != 0 ||
            starts(s.name, "DW.ref.")) {
            continue;
        }
        if (weak(s.type) && of_a_shared_namespace(s.name)) {
            continue;
        }
        const std::string shown = demangle(s.name);
        std::string why = file;
        why += " defines ";
        why += shown;
        if (shown != s.name) {
            why += " (" + s.name + ")";
        }
        if (!starts(s.name, "_Z")) {
            why +=
                ", a C function (extern \"C\") that would replace the C library's or the tests' own for the "
                "whole test program";
        } else if (shown.find("Catch::") != std::string::npos || shown.find("testkit") != std::string::npos) {
            why += ", a part of the tests (Catch2 or the test kit)";
        } else {
            why += ", which no header of the lab declares";
        }
        why += ": a lab's code may define only the functions its headers declare; make a helper static or "
               "put it in an anonymous namespace";
        return why;
    }
    return "";
}

std::string assembly_refused(const std::string& file, const std::string& objdump_output) {
    static const std::regex system_call(R"(\t(syscall|sysenter|int\s+\$0x80)\b)");
    std::smatch m;
    if (std::regex_search(objdump_output, m, system_call)) {
        return file + " makes a system call with the " + m[1].str() +
               " instruction (inline assembly): a lab's code may call the C library, not the kernel directly";
    }
    return "";
}

} // namespace socklab::grade
