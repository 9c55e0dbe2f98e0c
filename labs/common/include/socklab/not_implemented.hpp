// NotImplemented: what every skeleton function throws until the student writes it.
#pragma once

#include <exception>
#include <string>
#include <string_view>

namespace socklab {

// Thrown by a skeleton. Derives from std::exception only, so no test that expects
// std::invalid_argument or std::system_error can mistake it for a right answer.
class NotImplemented : public std::exception {
public:
    // function: what to implement ("Endpoint::parse"); doc_section: where to read about it
    // ("docs/labs/01-endpoints.md#step-5-parse-and-format-an-endpoint").
    NotImplemented(std::string_view function, std::string_view doc_section);

    // "not implemented yet: Endpoint::parse (read
    // docs/labs/01-endpoints.md#step-5-parse-and-format-an-endpoint)"
    [[nodiscard]] const char* what() const noexcept override { return message_.c_str(); }
    [[nodiscard]] const std::string& function() const noexcept { return function_; }
    [[nodiscard]] const std::string& doc_section() const noexcept { return doc_section_; }

private:
    // The members mirror SocketError's (check.hpp) on purpose: both say what failed and where.
    std::string function_;
    std::string doc_section_;
    std::string message_;
};

} // namespace socklab
