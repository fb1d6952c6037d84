// SPDX-License-Identifier: Apache-2.0
// File rules for functions in a root of their own, without BPF: the
// compile across roots with stand-in openers, and which overlay mount a
// path is on, from mountinfo fixtures.
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <fstream>
#include <optional>

#include <gtest/gtest.h>

#include <fnwarden/kernel_abi.h>

#include "common/kernel_dev.hpp"
#include "core/file_rules.hpp"
#include "probes/root_opener.hpp"
#include "stat_identity.hpp"
#include "temp_dir.hpp"

namespace fnw {
namespace {

namespace fs = std::filesystem;

using test::stat_identity;

// A function's root at `base`: "/app" is base/app.
class DirectoryRoot final : public PathOpener {
public:
    explicit DirectoryRoot(fs::path base) : base_(std::move(base)) {}
    UniqueFd open(const std::string& path) const override {
        return UniqueFd(::open((base_.string() + path).c_str(), O_PATH | O_CLOEXEC));
    }
    std::optional<fs::path> canonical(const std::string& path) const override {
        std::error_code ec;
        const fs::path found = fs::canonical(base_.string() + path, ec);
        if (ec) return std::nullopt;
        return fs::path("/") / found.lexically_relative(base_);
    }
    std::string foreign_root() const override { return "in the test's root"; }

private:
    fs::path base_;
};

bool has_rule(const KernelFileRules& rules, const fs::path& object, uint32_t subtree) {
    struct stat st {};
    if (::stat(object.c_str(), &st) != 0) return false;
    for (const auto& [key, rule] : rules.rules)
        if (key.ino == st.st_ino && key.dev == st.st_dev && rule.subtree == subtree) return true;
    return false;
}

// Patterns mean paths as the function sees them: "/app/**" is the app
// directory of whichever root it is compiled in. The rules are the union;
// what is complete is each root's own.
TEST(RootedFileRules, EachRootCompilesItsOwnObjectsAndCompleteness) {
    test::TempDir dir;
    fs::create_directories(dir.path() / "container/app");
    fs::create_directories(dir.path() / "chroot/etc");
    FileRules files;
    files.restricted = true;
    files.read = {"/app/**"};
    const DirectoryRoot container(dir.path() / "container"), chroot(dir.path() / "chroot");
    const RootedFileRules rooted =
        compile_file_rules_in_roots(4, files, ExecRules{}, stat_identity, {&container, &chroot});

    ASSERT_EQ(rooted.complete_rights.size(), 2u);
    EXPECT_EQ(rooted.complete_rights[0] & FNW_FILE_READ, static_cast<uint32_t>(FNW_FILE_READ))
        << "the container has /app: read is the kernel's there";
    EXPECT_EQ(rooted.complete_rights[1] & FNW_FILE_READ, 0u) << "the chroot has no /app: a miss proves nothing there";
    EXPECT_EQ(rooted.rules.complete_rights, rooted.complete_rights[0]);
    EXPECT_TRUE(has_rule(rooted.rules, dir.path() / "container/app", FNW_FILE_READ));
    ASSERT_EQ(rooted.rules.userspace_only.size(), 1u);
    EXPECT_NE(rooted.rules.userspace_only[0].find("in the test's root"), std::string::npos)
        << "--explain says which root: " << rooted.rules.userspace_only[0];
    for (const auto& [key, rule] : rooted.rules.rules) EXPECT_EQ(key.policy_id, 4u);
}

constexpr const char* kContainerMountinfo =
    "650 600 0:45 / / rw,relatime - overlay overlay rw,lowerdir=/var/lib/c/l2:/var/lib/c/l1,"
    "upperdir=/var/lib/c/u,workdir=/var/lib/c/w\n"
    "651 650 0:46 / /proc rw,nosuid - proc proc rw\n"
    "652 650 254:0 /usr /usr ro,relatime - ext4 /dev/vda rw\n"
    "653 650 0:45 /app/data /mnt/data\\040copy rw - overlay overlay rw,lowerdir=/var/lib/c/l1,upperdir=/var/lib/c/u2,"
    "workdir=/var/lib/c/w2\n";

TEST(OverlayMountinfo, TheDeepestMountHoldingThePathAndItsLayers) {
    const auto root = overlay_mount_of(kContainerMountinfo, "/app/handler.py");
    ASSERT_TRUE(root);
    EXPECT_EQ(root->dev, kernel_dev(makedev(0, 45)));
    EXPECT_EQ(root->fs_path, "/app/handler.py");
    EXPECT_EQ(root->lower_dirs, (std::vector<fs::path>{"/var/lib/c/l2", "/var/lib/c/l1"}));
    EXPECT_EQ(root->upper_dir, fs::path("/var/lib/c/u"));

    EXPECT_FALSE(overlay_mount_of(kContainerMountinfo, "/usr/bin/cat")) << "/usr is an ext4 bind mount on top";
    EXPECT_FALSE(overlay_mount_of(kContainerMountinfo, "/proc/self")) << "proc";
    EXPECT_TRUE(overlay_mount_of(kContainerMountinfo, "/usrlocal")) << "a name that only starts like a mount point";

    const auto bound = overlay_mount_of(kContainerMountinfo, "/mnt/data copy/x.csv");
    ASSERT_TRUE(bound) << "an escaped space in the mount point";
    EXPECT_EQ(bound->fs_path, "/app/data/x.csv") << "the path inside the overlay's tree: the mount's root + the rest";
    EXPECT_EQ(bound->upper_dir, fs::path("/var/lib/c/u2"));
}

TEST(OverlayMountinfo, LayersItCannotReadAreNotGuessed) {
    // A ':' inside a layer's name is escaped with a backslash: not split on.
    const std::string escaped =
        "650 600 0:45 / / rw - overlay overlay rw,lowerdir=/l\\134:x:/l2,upperdir=/u,workdir=/w\n";
    EXPECT_FALSE(overlay_mount_of(escaped, "/app"));
    // Data-only layers follow "::"; no upper layer: read-only overlay.
    const std::string data_only = "650 600 0:45 / / ro - overlay overlay ro,lowerdir=/l1::/data\n";
    const auto found = overlay_mount_of(data_only, "/app");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->lower_dirs, (std::vector<fs::path>{"/l1", "/data"}));
    EXPECT_FALSE(found->upper_dir);
    EXPECT_FALSE(overlay_mount_of("garbage line\n", "/app"));
}

}  // namespace
}  // namespace fnw
