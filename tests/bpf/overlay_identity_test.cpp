// SPDX-License-Identifier: Apache-2.0
// What the kernel's walk meets for a file of an overlayfs root, read with
// the identity iterator (identity.bpf.c: the same inode fields rights_step
// reads), and RootOpener's judgement of it. Pins the argument of
// docs/threat-model.md, "Overlay roots": on an overlay whose layers share a
// filesystem, an object's inode is the overlay's own (its device, generation
// 0) numbered like the real inode, and a copied-up file keeps its lower
// inode's number, also once the overlay inode is made anew (a remount);
// only an object that lives in the upper layer alone has the upper inode's
// number, which the function can free.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "common/kernel_dev.hpp"
#include "common/unique_fd.hpp"
#include "probe_fixture.hpp"
#include "probes/root_opener.hpp"

namespace fnw::test {
namespace {

namespace fs = std::filesystem;

class OverlayIdentityTest : public ProbeTest {
protected:
    void SetUp() override {
        ProbeTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        std::string tmpl = (fs::temp_directory_path() / "fnw-ovl-XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
        // The layers on tmpfs mounts of the test's own: the same answer on
        // every host, whatever /tmp is.
        for (const char* sub : {"fs1", "fs2", "merged"}) fs::create_directories(dir_ / sub);
        for (const char* sub : {"fs1", "fs2"}) {
            ASSERT_EQ(::mount("tmpfs", (dir_ / sub).c_str(), "tmpfs", 0, "size=4m"), 0) << std::strerror(errno);
            mounts_.push_back(dir_ / sub);
        }
        for (const char* sub : {"fs1/lower/app", "fs1/upper", "fs1/work", "fs2/upper", "fs2/work"})
            fs::create_directories(dir_ / sub);
        std::ofstream(dir_ / "fs1/lower/app/copied.txt") << "image\n";
        std::ofstream(dir_ / "fs1/lower/app/kept.txt") << "image\n";
    }
    void TearDown() override {
        for (auto it = mounts_.rbegin(); it != mounts_.rend(); ++it) ::umount2(it->c_str(), MNT_DETACH);
        std::error_code ec;
        if (!dir_.empty()) fs::remove_all(dir_, ec);
    }

    // The overlay at dir_/merged, its upper layer on fs1 (one filesystem
    // with the lower) or on fs2 (two).
    void mount_overlay(const char* upper_fs) {
        const std::string opts = "lowerdir=" + (dir_ / "fs1/lower").string() + ",upperdir=" +
                                 (dir_ / upper_fs / "upper").string() + ",workdir=" + (dir_ / upper_fs / "work").string();
        ASSERT_EQ(::mount("overlay", (dir_ / "merged").c_str(), "overlay", 0, opts.c_str()), 0) << std::strerror(errno);
        mounts_.push_back(dir_ / "merged");
    }
    void unmount_overlay() {
        ASSERT_EQ(::umount2((dir_ / "merged").c_str(), 0), 0) << std::strerror(errno);
        mounts_.pop_back();
    }
    fnw_object_identity identity(const fs::path& path) {
        UniqueFd fd(::open(path.c_str(), O_PATH | O_CLOEXEC));
        EXPECT_TRUE(fd.valid()) << path << ": " << std::strerror(errno);
        auto id = probes_->object_identity(fd.get());
        EXPECT_TRUE(id) << "identity iterator";
        return id.value_or(fnw_object_identity{});
    }
    bool stable(const RootOpener& root, const fs::path& path) {
        const fnw_object_identity id = identity(path);
        return root.overlay_identity_is_stable(path, id.dev, id.ino);
    }
    static ino_t ino_of(const fs::path& path) {
        struct stat st {};
        EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
        return st.st_ino;
    }

    fs::path dir_;
    std::vector<fs::path> mounts_;
};

TEST_F(OverlayIdentityTest, OneFilesystemKeepsTheLowerNumberAcrossCopyUpAndOnlyUpperOnlyObjectsAreRefused) {
    mount_overlay("fs1");
    const fs::path merged = dir_ / "merged";
    struct stat overlay {};
    ASSERT_EQ(::stat(merged.c_str(), &overlay), 0);
    const fnw_object_identity before = identity(merged / "app/copied.txt");
    EXPECT_EQ(before.dev, kernel_dev(overlay.st_dev)) << "the overlay's own device, not the layer's";
    EXPECT_EQ(before.generation, 0u) << "overlayfs gives its inodes no generation";
    EXPECT_EQ(before.ino, ino_of(dir_ / "fs1/lower/app/copied.txt")) << "numbered like the real (lower) inode";

    std::ofstream(merged / "app/copied.txt", std::ios::app) << "written\n";  // copy-up
    ASSERT_TRUE(fs::exists(dir_ / "fs1/upper/app/copied.txt")) << "the write copied the file up";
    EXPECT_NE(ino_of(dir_ / "fs1/upper/app/copied.txt"), before.ino) << "the upper copy is another inode";
    const fnw_object_identity after = identity(merged / "app/copied.txt");
    EXPECT_EQ(after.ino, before.ino) << "the overlay inode keeps its number after copy-up";
    EXPECT_EQ(after.dev, before.dev);
    std::ofstream(merged / "app/new.txt") << "made in the container\n";

    // A new overlay inode for the same file: numbered from its origin.
    unmount_overlay();
    mount_overlay("fs1");
    EXPECT_EQ(identity(merged / "app/copied.txt").ino, before.ino) << "after a remount too (origin xattr)";
    EXPECT_EQ(identity(merged / "app/new.txt").ino, ino_of(dir_ / "fs1/upper/app/new.txt"))
        << "an upper-only file has the upper inode's number";

    auto self = RootOpener::of_process(::getpid());
    ASSERT_TRUE(self) << self.error();
    EXPECT_TRUE(stable(*self, merged / "app/kept.txt")) << "a lower file";
    EXPECT_TRUE(stable(*self, merged / "app/copied.txt")) << "a copied-up file keeps its lower number";
    EXPECT_TRUE(stable(*self, merged / "app")) << "a directory copied up";
    EXPECT_FALSE(stable(*self, merged / "app/new.txt")) << "upper only: deleting it frees its number";
    const fnw_object_identity kept = identity(merged / "app/kept.txt");
    EXPECT_FALSE(self->overlay_identity_is_stable(merged / "app/kept.txt", kept.dev + 1, kept.ino))
        << "another device is not this overlay";
}

TEST_F(OverlayIdentityTest, LayersOnTwoFilesystemsAreNotTrusted) {
    mount_overlay("fs2");
    auto self = RootOpener::of_process(::getpid());
    ASSERT_TRUE(self) << self.error();
    EXPECT_FALSE(stable(*self, dir_ / "merged/app/kept.txt")) << "numbers may collide across the layers";
    EXPECT_FALSE(stable(*self, dir_ / "merged/app")) << "directories numbered from a counter";
}

}  // namespace
}  // namespace fnw::test
