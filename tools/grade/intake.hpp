// Taking a submission's files: only regular files, reached without following a symbolic link at
// any depth, under a size cap. Anything else is reported as missing, with the reason. What is
// taken is placed in the work folder's files/, where the grading build compiles it.
#pragma once

#include "grade.hpp"
#include "model.hpp"

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>

namespace socklab::grade {

inline constexpr std::size_t kMaxSourceBytes = std::size_t{1} << 20; // a lab's source file, at most

struct Taken {
    std::optional<std::string> content; // the file's bytes, when it could be taken
    std::string why_not;                // otherwise: "a symbolic link: not accepted", "missing", ...
};

// Reads base/relative, opening every folder of relative from base down and the file itself with
// O_NOFOLLOW (openat(2)), so that no link anywhere in the path is followed: a folder of the
// submission that is a link to the reference solutions takes nothing. base itself may be a link
// (the instructor named it).
[[nodiscard]] Taken take_file(const std::filesystem::path& base, const std::filesystem::path& relative,
                              std::size_t max_bytes = kMaxSourceBytes);

// Whether base/relative is a folder reached without a link (as take_file would walk it).
[[nodiscard]] bool is_plain_folder(const std::filesystem::path& base, const std::filesystem::path& relative);

// Takes the lab's student-owned files from the submission (or the skeleton's from the tree at
// root, reported as missing) into files/FOLDER/, and notes the files beside them that the grader
// ignores. A file is rewritten only when its content changes, so the build recompiles only what
// changed.
void place_files(const std::filesystem::path& submission, const std::filesystem::path& root,
                 const std::filesystem::path& files, const ManifestLab& m, Lab& lab);

} // namespace socklab::grade
