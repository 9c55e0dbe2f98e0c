// The grader's cache of compiled objects (tools/grade/object_cache.hpp): an object is taken only
// for the very inputs that made it, whatever their hash.
#include "object_cache.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using socklab::grade::ObjectCache;

namespace {

class ObjectCacheTest : public ::testing::Test {
protected:
    void SetUp() override {
        folder_ = fs::temp_directory_path() / ("socklab-object-cache-" + std::to_string(::getpid()));
        fs::remove_all(folder_);
        fs::create_directories(folder_ / "files");
        source_ = folder_ / "files" / "answer.cpp";
        object_ = folder_ / "answer.o";
        taken_ = folder_ / "taken.o";
        write(source_, "int answer() { return 42; }\n");
        write(object_, "an object's bytes");
    }
    void TearDown() override { fs::remove_all(folder_); }

    static void write(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }
    static std::string read(const fs::path& path) {
        std::ifstream in(path);
        std::ostringstream text;
        text << in.rdbuf();
        return text.str();
    }
    [[nodiscard]] std::string key() const {
        return ObjectCache::key({"/usr/bin/c++", "-O1"}, {source_}, "given 1\n");
    }

    fs::path folder_;
    fs::path source_;
    fs::path object_;
    fs::path taken_;
};

TEST_F(ObjectCacheTest, AnObjectKeptForSomeInputsIsTakenForTheSameInputs) {
    const ObjectCache cache(folder_ / "cache");
    cache.keep(key(), object_);
    ASSERT_TRUE(cache.take(key(), taken_));
    EXPECT_EQ(read(taken_), "an object's bytes");
}

TEST_F(ObjectCacheTest, OneByteMoreInASourceIsAnotherKey) {
    const ObjectCache cache(folder_ / "cache");
    cache.keep(key(), object_);
    write(source_, "int answer() { return 42; }\n\n");
    EXPECT_FALSE(cache.take(key(), taken_));
}

TEST_F(ObjectCacheTest, AnotherCommandOrGivenCodeIsAnotherKey) {
    const ObjectCache cache(folder_ / "cache");
    cache.keep(key(), object_);
    EXPECT_FALSE(cache.take(ObjectCache::key({"/usr/bin/c++", "-O2"}, {source_}, "given 1\n"), taken_));
    EXPECT_FALSE(cache.take(ObjectCache::key({"/usr/bin/c++", "-O1"}, {source_}, "given 2\n"), taken_));
}

// Two keys whose hash names the same entry: the second finds the first's object refused, as its
// key is compared whole (a crafted collision takes nothing).
TEST_F(ObjectCacheTest, AKeyIsComparedWholeNotByItsHash) {
    const ObjectCache cache(folder_ / "cache");
    cache.keep(key(), object_);
    fs::path entry;
    for (const auto& e : fs::directory_iterator(folder_ / "cache")) {
        entry = e.path();
    }
    ASSERT_FALSE(entry.empty());
    write(entry / "key", key() + "x"); // as if another key had the same hash
    EXPECT_FALSE(cache.take(key(), taken_));
}

TEST_F(ObjectCacheTest, BeyondItsSizeTheLeastRecentlyUsedGo) {
    const ObjectCache cache(folder_ / "cache", 2);
    for (const std::string given : {"a\n", "b\n", "c\n"}) {
        cache.keep(ObjectCache::key({"c++"}, {source_}, given), object_);
    }
    EXPECT_FALSE(cache.take(ObjectCache::key({"c++"}, {source_}, "a\n"), taken_));
    EXPECT_TRUE(cache.take(ObjectCache::key({"c++"}, {source_}, "c\n"), taken_));
}

TEST_F(ObjectCacheTest, TheGivenStampChangesWhenAGivenFileChanges) {
    fs::create_directories(folder_ / "labs");
    write(folder_ / "labs" / "header.hpp", "#pragma once\n");
    const std::string before = ObjectCache::given_stamp(folder_ / "labs", "/bin/sh");
    write(folder_ / "labs" / "header.hpp", "#pragma once\nint x;\n");
    EXPECT_NE(ObjectCache::given_stamp(folder_ / "labs", "/bin/sh"), before);
}

} // namespace
