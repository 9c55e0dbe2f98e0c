// Objects compiled for earlier grades in one work folder, kept by everything that made them, so
// that a file handed in again with the same bytes (most of a class's files are the given or the
// same code) is not compiled again, as ninja did not recompile it before the sandbox.
//
// The key is the compile command, the bytes of every student file of the lab (one may include
// another), and a stamp of the given code (path, size and time of every file under labs/, and of
// the compiler). An object found under a key is what that command made of those bytes, so taking
// it is the same as compiling them. Keys are compared whole, never by their hash alone, so no
// crafted source can take another submission's object. The cache is the grader's own folder,
// outside every sandbox, and keeps only objects that passed the checks (objects.hpp).
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace socklab::grade {

class ObjectCache {
public:
    explicit ObjectCache(std::filesystem::path folder, std::size_t max_entries = 4096);

    // What an object depends on, whole: see above.
    [[nodiscard]] static std::string key(const std::vector<std::string>& command,
                                         const std::vector<std::filesystem::path>& sources,
                                         const std::string& given);
    // The stamp of the given code under labs and of the compiler (the command's first word).
    [[nodiscard]] static std::string given_stamp(const std::filesystem::path& labs,
                                                 const std::string& compiler);

    // Copies the object kept under key to object; false when none is kept.
    [[nodiscard]] bool take(const std::string& key, const std::filesystem::path& object) const;
    // Keeps a copy of object under key; the least recently used go beyond max_entries.
    void keep(const std::string& key, const std::filesystem::path& object) const;

private:
    [[nodiscard]] std::filesystem::path entry(const std::string& key) const;
    std::filesystem::path folder_;
    std::size_t max_entries_;
};

} // namespace socklab::grade
