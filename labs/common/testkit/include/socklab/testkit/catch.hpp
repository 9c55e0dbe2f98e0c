// Catch2 for socklab's tests, v2 or v3, whichever the machine has (CMake says which: it defines
// SOCKLAB_CATCH2_MAJOR). Every test file and test-kit header includes this, never a Catch2 header
// itself, and writes the tests once, in the spellings below:
//   Catch::Contains, Catch::StartsWith, Catch::VectorContains   string and vector matchers
//   socklab::testkit::MatcherBase<T>                            the base of the kit's matchers
//   Catch::StringMaker<T>, TEST_CASE, CHECK_THAT, INFO, WARN     the same on both
// Debian 12 and Ubuntu 22.04 package v2.13; Debian 13 and Ubuntu 24.04 package v3.
#pragma once

#if SOCKLAB_CATCH2_MAJOR == 3

#include <catch2/catch_all.hpp>

#include <string>

// v2 spelled the string and vector matchers Catch::Contains, Catch::StartsWith and
// Catch::VectorContains; v3 keeps them in Catch::Matchers, and names the substring matcher
// ContainsSubstring (its Contains takes any range). The v2 names, so the tests read the same.
namespace Catch {
using Matchers::StartsWith;
using Matchers::VectorContains;
inline Matchers::StringContainsMatcher Contains(const std::string& text,
                                                CaseSensitive sensitivity = CaseSensitive::Yes) {
    return Matchers::ContainsSubstring(text, sensitivity);
}
} // namespace Catch

namespace socklab::testkit {
template <typename T>
using MatcherBase = Catch::Matchers::MatcherBase<T>;
} // namespace socklab::testkit

#elif SOCKLAB_CATCH2_MAJOR == 2

// v3 prints a std::chrono duration ("1500 ms"), a std::optional, a pair, a tuple and a variant;
// v2 only when asked, and "{?}" otherwise.
#ifndef CATCH_CONFIG_ENABLE_ALL_STRINGMAKERS
#define CATCH_CONFIG_ENABLE_ALL_STRINGMAKERS
#endif
#include <catch2/catch.hpp>

namespace socklab::testkit {
template <typename T>
using MatcherBase = Catch::MatcherBase<T>;
} // namespace socklab::testkit

#else
#error "SOCKLAB_CATCH2_MAJOR is not 2 or 3: build the tests through CMake (it links socklab_testkit)"
#endif
