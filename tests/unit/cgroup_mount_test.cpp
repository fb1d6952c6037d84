// SPDX-License-Identifier: Apache-2.0
#include <sstream>

#include <gtest/gtest.h>

#include "runtime/cgroup.hpp"

namespace fnw {
namespace {

TEST(Cgroup2Mount, FoundInAHybridLayout) {
    std::istringstream in(
        "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
        "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
        "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n");
    EXPECT_EQ(find_cgroup2_mount(in), std::filesystem::path("/sys/fs/cgroup/unified"));
}

TEST(Cgroup2Mount, FoundWithOptionalFields) {
    std::istringstream in(
        "35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 master:2 - cgroup2 cgroup2 "
        "rw,nsdelegate,memory_recursiveprot\n");
    EXPECT_EQ(find_cgroup2_mount(in), std::filesystem::path("/sys/fs/cgroup"));
}

TEST(Cgroup2Mount, DecodesEscapedMountPoints) {
    std::istringstream in("50 1 0:40 / /mnt/my\\040cgroup rw - cgroup2 none rw\n");
    EXPECT_EQ(find_cgroup2_mount(in), std::filesystem::path("/mnt/my cgroup"));
}

TEST(Cgroup2Mount, AbsentOrMalformedGivesNothing) {
    std::istringstream v1_only("32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n");
    EXPECT_FALSE(find_cgroup2_mount(v1_only));
    std::istringstream junk("garbage\n\n1 2 3\n- cgroup2\n");
    EXPECT_FALSE(find_cgroup2_mount(junk));
    // "cgroup2" as the mount source, not the type, does not count.
    std::istringstream source("60 1 0:50 / /x rw - tmpfs cgroup2 rw\n");
    EXPECT_FALSE(find_cgroup2_mount(source));
}

}  // namespace
}  // namespace fnw
