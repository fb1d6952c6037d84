// SPDX-License-Identifier: Apache-2.0
// The pinned set's name and directory handling, without bpffs: a set is
// shared only by builds whose object and map sizes agree.
#include "probes/pinned_set.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace fnw {
namespace {

std::span<const std::byte> bytes_of(const std::string& s) {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

TEST(PinnedSet, NameIsTheLayoutVersionAndADigestOfObjectAndSizes) {
    const std::string object = "\x7f" "ELF one build";
    const std::string name = pinned_set_name(bytes_of(object), 8 << 20, 1 << 20);
    EXPECT_EQ(name.rfind("v" + std::to_string(kPinLayoutVersion) + "-", 0), 0u) << name;
    EXPECT_EQ(name.size(), 3u + 16u) << name;
    EXPECT_EQ(pinned_set_name(bytes_of(object), 8 << 20, 1 << 20), name) << "not stable";
    EXPECT_NE(pinned_set_name(bytes_of(object + "x"), 8 << 20, 1 << 20), name) << "another build";
    EXPECT_NE(pinned_set_name(bytes_of(object), 16 << 20, 1 << 20), name) << "another ring size";
    EXPECT_NE(pinned_set_name(bytes_of(object), 8 << 20, 2 << 20), name) << "another alerts ring size";
}

TEST(PinnedSet, PinNamesHaveNoDotsForBpffs) {
    EXPECT_EQ(pin_name("fnwarden.bss"), "fnwarden_bss");
    EXPECT_EQ(pin_name("monitored_cgroups"), "monitored_cgroups");
}

TEST(PinnedSet, ListsOnlySetDirectoriesAndRemovesThem) {
    const auto root = std::filesystem::temp_directory_path() / ("fnw-pins-" + std::to_string(::getpid()));
    std::filesystem::remove_all(root);
    std::filesystem::create_directories(root / "v1-aaaa/maps");
    std::filesystem::create_directories(root / "v1-aaaa/links");
    std::ofstream(root / "v1-aaaa/maps/policies") << "";
    std::ofstream(root / "v1-aaaa/links/fnw_sys_enter") << "";
    std::filesystem::create_directories(root / "v2-bbbb/maps");
    std::filesystem::create_directories(root / "not-a-set");
    std::ofstream(root / "v1-file") << "";

    EXPECT_EQ(pinned_sets(root), (std::vector<std::filesystem::path>{root / "v1-aaaa", root / "v2-bbbb"}));
    ASSERT_TRUE(remove_pinned_set(root / "v1-aaaa"));
    EXPECT_FALSE(std::filesystem::exists(root / "v1-aaaa"));
    EXPECT_EQ(pinned_sets(root), std::vector<std::filesystem::path>{root / "v2-bbbb"});
    // A directory that is not a set is left alone, and keeps the root.
    auto unloaded = unload_pinned_sets(root);
    EXPECT_FALSE(unloaded);
    EXPECT_FALSE(std::filesystem::exists(root / "v2-bbbb"));
    EXPECT_TRUE(std::filesystem::exists(root / "not-a-set"));
    std::filesystem::remove_all(root);
    auto none = unload_pinned_sets(root);
    ASSERT_TRUE(none);
    EXPECT_EQ(*none, 0u);
}

}  // namespace
}  // namespace fnw
