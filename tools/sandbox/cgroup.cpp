#include "cgroup.hpp"
#include "sandbox.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace fs = std::filesystem;

namespace socklab::sandbox {
namespace {

const fs::path kRoot = "/sys/fs/cgroup";

bool write_file(const fs::path& path, const std::string& text) {
    std::ofstream out(path);
    out << text;
    out.flush();
    return static_cast<bool>(out);
}

// This process's cgroup under a v1 controller ("/process_api/xyz"), from /proc/self/cgroup.
std::string own_v1_path(const std::string& controller) {
    std::istringstream lines(read_text("/proc/self/cgroup"));
    for (std::string line; std::getline(lines, line);) {
        const auto a = line.find(':');
        const auto b = line.find(':', a + 1);
        if (a == std::string::npos || b == std::string::npos) {
            continue;
        }
        std::istringstream names(line.substr(a + 1, b - a - 1));
        for (std::string name; std::getline(names, name, ',');) {
            if (name == controller) {
                return line.substr(b + 1);
            }
        }
    }
    return "";
}

// Removes the groups beside ours that a grader killed by SIGKILL left behind (a grader removes its
// own on the way out): "socklab-grade-PID-..." whose PID is no process. Only empty ones go (rmdir
// of a cgroup with processes fails), so a group in use is never touched, whatever its name says.
void remove_stale(const fs::path& parent) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(parent, ec)) {
        const std::string name = entry.path().filename().string();
        const std::string prefix = "socklab-grade-";
        if (name.rfind(prefix, 0) != 0 || !entry.is_directory(ec)) {
            continue;
        }
        const std::string pid = name.substr(prefix.size(), name.find('-', prefix.size()) - prefix.size());
        if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos || pid.size() > 9) {
            continue;
        }
        if (::kill(static_cast<pid_t>(std::stol(pid)), 0) != 0 && errno == ESRCH) {
            (void)::rmdir(entry.path().c_str());
        }
    }
}

} // namespace

std::unique_ptr<Group> Group::make(const std::string& name, std::uint64_t memory_bytes, int max_processes,
                                   std::string& why_not) {
    if (::geteuid() != 0) {
        why_not = "the grader is not root";
        return nullptr;
    }
    std::unique_ptr<Group> g(new Group);
    const std::string leaf = "socklab-grade-" + name;
    std::error_code ec;
    const std::string limits = std::to_string(memory_bytes >> 20) + " MiB of memory and " +
                               std::to_string(max_processes) + " processes";
    if (fs::exists(kRoot / "cgroup.controllers")) {
        // v2: under a parent of ours whose children may use the memory and pids controllers (a
        // cgroup with processes may not, so not our own: the root's).
        const fs::path parent = kRoot / "socklab-grade";
        const std::string root_controls = read_text(kRoot / "cgroup.subtree_control");
        if (root_controls.find("memory") == std::string::npos ||
            root_controls.find("pids") == std::string::npos) {
            why_not = "cgroup v2 without the memory and pids controllers for new groups";
            return nullptr;
        }
        fs::create_directories(parent, ec);
        if (ec || !write_file(parent / "cgroup.subtree_control", "+memory +pids")) {
            why_not = "cannot make " + parent.string() + (ec ? ": " + ec.message() : "");
            return nullptr;
        }
        remove_stale(parent);
        const fs::path folder = parent / leaf;
        fs::create_directory(folder, ec);
        if (ec || !write_file(folder / "memory.max", std::to_string(memory_bytes)) ||
            !write_file(folder / "memory.swap.max", "0") ||
            !write_file(folder / "pids.max", std::to_string(max_processes))) {
            why_not = "cannot make or limit " + folder.string() + (ec ? ": " + ec.message() : "");
            fs::remove(folder, ec);
            return nullptr;
        }
        g->v2_ = true;
        g->folders_.push_back(folder.string());
        g->description_ = "cgroup v2 " + folder.string() + ": " + limits;
        return g;
    }
    // v1: a group under our own in each of the memory and pids hierarchies.
    for (const std::string controller : {"memory", "pids"}) {
        const fs::path hierarchy = kRoot / controller;
        if (!fs::exists(hierarchy / "cgroup.procs")) {
            why_not = "no cgroup v1 " + controller + " controller at " + hierarchy.string();
            return nullptr;
        }
        const fs::path parent = hierarchy / fs::path(own_v1_path(controller)).relative_path();
        remove_stale(parent);
        const fs::path folder = parent / leaf;
        fs::create_directory(folder, ec);
        if (ec && ec != std::errc::file_exists) {
            why_not = "cannot make " + folder.string() + ": " + ec.message();
            return nullptr;
        }
        const bool limited = controller == "memory"
                                 ? write_file(folder / "memory.limit_in_bytes", std::to_string(memory_bytes))
                                 : write_file(folder / "pids.max", std::to_string(max_processes));
        g->folders_.push_back(folder.string()); // removed by ~Group on failure below
        if (!limited) {
            why_not = "cannot set the limit of " + folder.string();
            return nullptr;
        }
    }
    g->description_ = "cgroup v1 (memory, pids) " + g->folders_.front() + ": " + limits;
    return g;
}

int Group::count() const {
    std::set<int> pids;
    for (const auto& f : folders_) {
        std::istringstream procs(read_text(fs::path(f) / "cgroup.procs"));
        for (int pid = 0; procs >> pid;) {
            pids.insert(pid);
        }
    }
    return static_cast<int>(pids.size());
}

int Group::kill_all(std::chrono::milliseconds grace) {
    const auto patience = std::chrono::steady_clock::now() + grace;
    while (count() > 0 && std::chrono::steady_clock::now() < patience) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    const int first = count();
    if (first == 0) {
        return 0;
    }
    if (v2_ && write_file(fs::path(folders_.front()) / "cgroup.kill", "1")) {
        // The kernel kills them all at once, forks in flight included.
    }
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (count() > 0 && std::chrono::steady_clock::now() < until) {
        for (const auto& f : folders_) {
            std::istringstream procs(read_text(fs::path(f) / "cgroup.procs"));
            for (int pid = 0; procs >> pid;) {
                ::kill(pid, SIGKILL);
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return first;
}

Group::~Group() {
    kill_all();
    for (const auto& f : folders_) {
        // A cgroup goes once its last process is gone; a killed one takes a moment to leave.
        for (int i = 0; i < 200 && ::rmdir(f.c_str()) != 0 && errno == EBUSY; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
}

} // namespace socklab::sandbox
