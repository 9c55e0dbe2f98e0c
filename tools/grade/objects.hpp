// What a student's compiled objects may define and call. Code linked into a test program could
// otherwise fake the test's result from inside: end the program before the test fails (_exit,
// atexit), replace a C library function for the whole program (an extern "C" send), or specialize
// a template of Catch2 or of the test kit. The check reads the symbol tables (nm -P), not C++
// text, so no spelling of the source gets around it.
#pragma once

#include <set>
#include <string>
#include <vector>

namespace socklab::grade {

// One line of `nm -P`: a symbol's name (mangled) and its type letter.
struct Symbol {
    std::string name;
    char type = '?'; // nm's letters: T D B R defined, W V weak, U undefined, lower case local
};

[[nodiscard]] std::vector<Symbol> parse_nm(const std::string& nm_output);

struct ObjectRules {
    std::set<std::string> reference_defines; // global symbols the lab's reference objects define
    std::set<std::string> reference_calls;   // undefined symbols they use
    std::vector<std::string> refused_calls;  // the rubric's list
};

// Why the object file (named file in messages) breaks the rules, or "" when it does not:
// it may define only what the reference defines (the functions of the lab's headers), weak
// instantiations of templates of std::, __gnu_cxx:: or socklab:: (not socklab::testkit::), and
// anything of internal linkage; it may call no refused function the reference does not call.
[[nodiscard]] std::string object_refused(const std::string& file, const std::vector<Symbol>& symbols,
                                         const ObjectRules& rules);

// Why a disassembly (objdump -d) of the object shows a system call made by the code itself
// (inline assembly: syscall, sysenter, int $0x80), or "".
[[nodiscard]] std::string assembly_refused(const std::string& file, const std::string& objdump_output);

// A mangled name as C++ (abi::__cxa_demangle), or itself.
[[nodiscard]] std::string demangle(const std::string& name);

} // namespace socklab::grade
