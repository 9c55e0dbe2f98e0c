#include "intake.hpp"

#include "fd.hpp"
#include "stage.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

namespace fs = std::filesystem;

namespace socklab::grade {
namespace {

using sandbox::Fd;

// Opens the folder base/relative without following a link below base; why says where it stopped.
Fd open_folder(const std::filesystem::path& base, const std::filesystem::path& relative, std::string& why) {
    Fd at(::open(base.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (at.get() < 0) {
        why = "missing";
        return at;
    }
    std::filesystem::path walked;
    for (const auto& part : relative) {
        if (part.empty() || part == ".") {
            continue;
        }
        walked /= part;
        if (part == "..") {
            why = "a path with .. : not accepted";
            return Fd(-1);
        }
        Fd next(::openat(at.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (next.get() < 0) {
            struct stat st = {};
            why = ::fstatat(at.get(), part.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)
                      ? "in " + walked.string() + ", a symbolic link: not accepted"
                      : "missing";
            return Fd(-1);
        }
        at = std::move(next);
    }
    return at;
}

// Writes a file only when its content changes, so the build recompiles only what changed.
void write_if_changed(const fs::path& path, const std::string& content) {
    if (fs::exists(path) && read_text(path) == content) {
        return;
    }
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << content;
}

} // namespace

Taken take_file(const std::filesystem::path& base, const std::filesystem::path& relative,
                std::size_t max_bytes) {
    Taken taken;
    Fd folder = open_folder(base, relative.parent_path(), taken.why_not);
    if (folder.get() < 0) {
        return taken;
    }
    const std::string name = relative.filename().string();
    struct stat st = {};
    if (::fstatat(folder.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        taken.why_not = "missing";
        return taken;
    }
    if (S_ISLNK(st.st_mode)) {
        taken.why_not = "a symbolic link: not accepted";
        return taken;
    }
    if (!S_ISREG(st.st_mode)) {
        taken.why_not = "not a regular file: not accepted";
        return taken;
    }
    // O_NONBLOCK: a FIFO swapped in after the check must not hang the grader.
    const Fd file(::openat(folder.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (file.get() < 0 || ::fstat(file.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
        taken.why_not = file.get() < 0 ? std::string("cannot be read: ") + std::strerror(errno)
                                       : "not a regular file: not accepted";
        return taken;
    }
    if (static_cast<std::size_t>(st.st_size) > max_bytes) {
        taken.why_not = "over " + std::to_string(max_bytes >> 20) + " MiB: not accepted";
        return taken;
    }
    std::string content;
    std::vector<char> buffer(65536);
    for (;;) {
        const ssize_t n = ::read(file.get(), buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            taken.why_not = std::string("cannot be read: ") + std::strerror(errno);
            return taken;
        }
        if (n == 0) {
            break;
        }
        content.append(buffer.data(), static_cast<std::size_t>(n));
        if (content.size() > max_bytes) {
            taken.why_not = "over " + std::to_string(max_bytes >> 20) + " MiB: not accepted";
            return taken;
        }
    }
    taken.content = std::move(content);
    return taken;
}

bool is_plain_folder(const std::filesystem::path& base, const std::filesystem::path& relative) {
    std::string why;
    return static_cast<bool>(open_folder(base, relative, why));
}

void place_files(const std::filesystem::path& submission, const std::filesystem::path& root,
                 const std::filesystem::path& files, const ManifestLab& m, Lab& lab) {
    // Nothing of the submission is followed through a symbolic link, at any depth (intake.hpp):
    // a link to the reference solutions, as a file or as any folder above it, takes nothing.
    const fs::path sub = fs::absolute(submission);
    const bool handout = is_plain_folder(sub, "labs");
    const fs::path from = handout ? fs::path("labs") / m.folder / "src" : fs::path(m.folder);
    for (const auto& file : m.files) {
        const Taken taken = take_file(sub, from / file);
        if (!taken.content) {
            lab.missing.push_back(m.folder + "/" + file +
                                  (taken.why_not == "missing" ? "" : " (" + taken.why_not + ")"));
        }
        write_if_changed(files / m.folder / file,
                         taken.content ? *taken.content : read_text(root / "labs" / m.folder / "src" / file));
    }
    if (is_plain_folder(sub, from)) {
        for (const auto& entry : fs::directory_iterator(sub / from)) {
            const std::string name = entry.path().filename().string();
            if (std::find(m.files.begin(), m.files.end(), name) == m.files.end()) {
                lab.extra.push_back(m.folder + "/" + name);
            }
        }
        std::sort(lab.extra.begin(), lab.extra.end());
    }
}

} // namespace socklab::grade
