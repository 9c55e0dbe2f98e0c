#include "object_cache.hpp"

#include "stage.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <system_error>
#include <utility>

namespace fs = std::filesystem;

namespace socklab::grade {
namespace {

// Writes through a temporary name and renames, so that a grader killed meanwhile leaves no half
// of a file under the real name.
bool write_bytes(const fs::path& path, const std::string& bytes) {
    const fs::path partial = path.string() + ".partial";
    {
        std::ofstream out(partial, std::ios::binary | std::ios::trunc);
        out << bytes;
        if (!out.flush()) {
            return false;
        }
    }
    std::error_code ec;
    fs::rename(partial, path, ec);
    return !ec;
}

// Where a key's entry lives: FNV-1a of the key names the folder (the key itself is compared whole).
std::string hash_name(const std::string& key) {
    std::uint64_t h = 14695981039346656037ULL;
    for (const unsigned char c : key) {
        h = (h ^ c) * 1099511628211ULL;
    }
    std::ostringstream name;
    name << std::hex << std::setw(16) << std::setfill('0') << h;
    return name.str();
}

std::string stamp_of(const fs::path& path) {
    struct stat st = {};
    if (::stat(path.c_str(), &st) != 0) {
        return path.string() + " missing\n";
    }
    return path.string() + " " + std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) + "." +
           std::to_string(st.st_mtim.tv_nsec) + "\n";
}

} // namespace

ObjectCache::ObjectCache(fs::path folder, std::size_t max_entries)
    : folder_(std::move(folder)), max_entries_(max_entries) {}

std::string ObjectCache::key(const std::vector<std::string>& command, const std::vector<fs::path>& sources,
                             const std::string& given) {
    std::string key = "command\n";
    for (const auto& word : command) {
        key += std::to_string(word.size()) + ":" + word + "\n";
    }
    for (const auto& source : sources) {
        const std::string bytes = read_text(source);
        key += "source " + source.string() + " " + std::to_string(bytes.size()) + "\n" + bytes + "\n";
    }
    return key + "given\n" + given;
}

std::string ObjectCache::given_stamp(const fs::path& labs, const std::string& compiler) {
    std::vector<std::string> stamps;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(labs, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file(ec)) {
            stamps.push_back(stamp_of(it->path()));
        }
    }
    std::sort(stamps.begin(), stamps.end());
    std::string all = stamp_of(fs::weakly_canonical(compiler, ec));
    for (const auto& s : stamps) {
        all += s;
    }
    return all;
}

fs::path ObjectCache::entry(const std::string& key) const {
    return folder_ / hash_name(key);
}

bool ObjectCache::take(const std::string& key, const fs::path& object) const {
    const fs::path e = entry(key);
    std::error_code ec;
    if (!fs::is_regular_file(e / "object", ec) || read_text(e / "key") != key) {
        return false;
    }
    if (!write_bytes(object, read_text(e / "object"))) {
        return false;
    }
    fs::last_write_time(e, fs::file_time_type::clock::now(), ec); // recently used
    return true;
}

void ObjectCache::keep(const std::string& key, const fs::path& object) const {
    const fs::path e = entry(key);
    std::error_code ec;
    fs::create_directories(e, ec);
    ::chmod(folder_.c_str(), 0700); // the grader's: no grading user reads or writes here
    if (ec || !write_bytes(e / "object", read_text(object)) || !write_bytes(e / "key", key)) {
        fs::remove_all(e, ec);
        return;
    }
    std::vector<std::pair<fs::file_time_type, fs::path>> entries;
    for (const auto& d : fs::directory_iterator(folder_, ec)) {
        entries.emplace_back(fs::last_write_time(d.path(), ec), d.path());
    }
    if (entries.size() > max_entries_) {
        std::sort(entries.begin(), entries.end());
        for (std::size_t i = 0; i + max_entries_ < entries.size(); ++i) {
            fs::remove_all(entries[i].second, ec);
        }
    }
}

} // namespace socklab::grade
