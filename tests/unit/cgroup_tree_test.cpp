// SPDX-License-Identifier: Apache-2.0
// A cgroup subtree without a kernel: cgroup.events parsing, and the walk
// that removes a tree deepest first (on plain directories).
#include <gtest/gtest.h>

#include <fstream>

#include "runtime/cgroup_tree.hpp"
#include "temp_dir.hpp"

namespace fnw {
namespace {

namespace fs = std::filesystem;

TEST(CgroupTreeTest, PopulatedIsReadFromItsOwnLine) {
    EXPECT_EQ(parse_populated("populated 0\nfrozen 0\n"), false);
    EXPECT_EQ(parse_populated("populated 1\nfrozen 0\n"), true);
    EXPECT_EQ(parse_populated("frozen 1\npopulated 0"), false);
    EXPECT_EQ(parse_populated("frozen 0\n"), std::nullopt);
    EXPECT_EQ(parse_populated("populated 2\n"), std::nullopt);
    EXPECT_EQ(parse_populated("unpopulated 0\n"), std::nullopt);
    EXPECT_EQ(parse_populated(""), std::nullopt);
}

// Gone when there is no directory; anything it cannot read as "populated 0"
// counts as still populated: never "empty" on a doubt.
TEST(CgroupTreeTest, OnlyAnExplicitZeroIsEmpty) {
    test::TempDir dir;
    EXPECT_EQ(cgroup_populated(dir.path() / "missing"), Populated::Gone);
    std::ofstream(dir.path() / "cgroup.events") << "populated 0\nfrozen 0\n";
    EXPECT_EQ(cgroup_populated(dir.path()), Populated::No);
    EXPECT_TRUE(wait_until_unpopulated(dir.path(), std::chrono::milliseconds(10)));
    std::ofstream(dir.path() / "cgroup.events") << "populated 1\nfrozen 0\n";
    EXPECT_EQ(cgroup_populated(dir.path()), Populated::Yes);
    EXPECT_FALSE(wait_until_unpopulated(dir.path(), std::chrono::milliseconds(10)));
    std::ofstream(dir.path() / "cgroup.events") << "garbage\n";
    EXPECT_EQ(cgroup_populated(dir.path()), Populated::Yes);
}

TEST(CgroupTreeTest, ATreeIsRemovedDeepestFirst) {
    test::TempDir dir;
    const fs::path top = dir.path() / "run";
    fs::create_directories(top / "a" / "b" / "c");
    fs::create_directories(top / "d");
    Status removed = remove_cgroup_tree(top);
    EXPECT_TRUE(removed) << removed.error();
    EXPECT_FALSE(fs::exists(top));
    EXPECT_TRUE(remove_cgroup_tree(top)) << "already gone is gone";
}

TEST(CgroupTreeTest, WhatCannotBeRemovedIsSaid) {
    test::TempDir dir;
    const fs::path top = dir.path() / "run";
    fs::create_directories(top / "a");
    std::ofstream(top / "a" / "file") << "x";  // rmdir: ENOTEMPTY, as EBUSY on a busy cgroup
    Status removed = remove_cgroup_tree(top);
    EXPECT_FALSE(removed);
    const std::string& error = removed.error();
    EXPECT_NE(error.find("run"), std::string::npos) << error;
    EXPECT_TRUE(fs::exists(top / "a" / "file"));
}

TEST(CgroupTreeTest, KillingAGoneCgroupSaysSo) {
    test::TempDir dir;
    EXPECT_EQ(kill_cgroup_tree(dir.path() / "missing"), KillMethod::Gone);
    // A directory without cgroup.kill (a kernel before 5.14): the walk, which
    // finds no pid here.
    size_t signalled = 99;
    EXPECT_EQ(kill_cgroup_tree(dir.path(), &signalled), KillMethod::SignalWalk);
    EXPECT_EQ(signalled, 0u);
}

}  // namespace
}  // namespace fnw
