#include "socklab/program.hpp"

#include "socklab/check.hpp"
#include "socklab/not_implemented.hpp"

#include <cerrno>
#include <iostream>
#include <stdexcept>

namespace socklab {

int exit_code_for(const std::system_error& error) {
    if (error.code().category() == resolver_category()) {
        return exit_code::kNoHost;
    }
    switch (error.code().value()) {
    case ECONNREFUSED:
    case ENETUNREACH:
    case EHOSTUNREACH: return exit_code::kUnavailable;
    case ECONNRESET:
    case EPIPE: return exit_code::kConnectionLost;
    case ETIMEDOUT: return exit_code::kTimedOut;
    case EACCES:
    case EPERM: return exit_code::kNoPermission;
    default: return exit_code::kCannotServe;
    }
}

int run_main(std::string_view program, const std::function<int()>& body) {
    const auto report = [&](const char* what) { std::cerr << program << ": " << what << std::endl; };
    try {
        return body();
    } catch (const NotImplemented& e) {
        report(e.what());
        return exit_code::kNotImplemented;
    } catch (const std::invalid_argument& e) {
        report(e.what());
        return exit_code::kUsage;
    } catch (const std::system_error& e) {
        report(e.what());
        return exit_code_for(e);
    } catch (const std::exception& e) {
        report(e.what());
        return exit_code::kNotImplemented;
    }
}

} // namespace socklab
