// SPDX-License-Identifier: Apache-2.0
// The after-the-fact resolver: a temporary directory tree stands in for
// /proc/PID/root, so nothing here needs root or another process.
#include "runtime/path_resolver.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include <fnwarden/events.h>
#include <fnwarden/kernel_abi.h>

#include "core/file_access.hpp"
#include "temp_dir.hpp"

namespace fnw {
namespace {

namespace fs = std::filesystem;
constexpr int32_t kAtFdcwd = -100;

// A root with /work/main/README.md, /srv/app (the cwd), and links to them.
class PathResolverTest : public ::testing::Test {
protected:
    void SetUp() override {
        root_ = fs::canonical(dir_.path());
        fs::create_directories(root_ / "work/main");
        fs::create_directories(root_ / "srv/app/sub");
        std::ofstream(root_ / "work/main/README.md") << "readme";
        // Absolute: must land in the fake root, never in the host's /work.
        fs::create_symlink("/work/main/README.md", root_ / "srv/app/link");
        fs::create_symlink("../../work/main", root_ / "srv/app/up");  // relative to srv/app
        fs::create_symlink("/srv/app/sub", root_ / "srv/app/down");
    }
    std::string resolve(std::string_view name, bool follow_last = true, std::string_view base = "/srv/app") {
        return resolve_in_root(root_, base, name, follow_last).path;
    }

    test::TempDir dir_;
    fs::path root_;
};

TEST_F(PathResolverTest, RelativeNameWithDotDotIsFolded) {
    EXPECT_EQ(resolve("../../work/main/./README.md"), "/work/main/README.md");
    EXPECT_EQ(resolve("sub/../../app/x"), "/srv/app/x");
    EXPECT_EQ(resolve("../../../../../etc/shadow"), "/etc/shadow") << "never above the root";
}

TEST_F(PathResolverTest, AnAbsoluteLinkIsFollowedInsideTheRoot) {
    const Resolution r = resolve_in_root(root_, "/srv/app", "link", true);
    EXPECT_EQ(r.path, "/work/main/README.md");
    EXPECT_TRUE(r.exists);
    EXPECT_EQ(r.note, FNW_RESOLVE_NOTE_NONE);
}

TEST_F(PathResolverTest, TheLastLinkIsTheEntryItselfWhenNotFollowed) {
    EXPECT_EQ(resolve("link", /*follow_last=*/false), "/srv/app/link") << "unlink or rename of the link";
    EXPECT_EQ(resolve("down/new", false), "/srv/app/sub/new") << "links before the last are always followed";
}

// ".." after a link is taken from where the link led, as the kernel does,
// not by removing the link's name from the string.
TEST_F(PathResolverTest, DotDotAfterALinkClimbsFromItsTarget) {
    EXPECT_EQ(resolve("down/../x"), "/srv/app/x");
    EXPECT_EQ(resolve("up/../other/f"), "/work/other/f");
    EXPECT_EQ(resolve("up/README.md"), "/work/main/README.md");
}

TEST_F(PathResolverTest, AMissingComponentEndsTheWalkLexically) {
    const Resolution r = resolve_in_root(root_, "/srv/app", "new-dir/../made", true);
    EXPECT_EQ(r.path, "/srv/app/made");
    EXPECT_FALSE(r.exists);
    EXPECT_EQ(r.note, FNW_RESOLVE_NOTE_NONE) << "a name to be created is no failure";
}

TEST_F(PathResolverTest, ALinkLoopStopsAtTheKernelsLimit) {
    fs::create_symlink("b", root_ / "srv/app/a");
    fs::create_symlink("a", root_ / "srv/app/b");
    const Resolution r = resolve_in_root(root_, "/srv/app", "a", true);
    EXPECT_EQ(r.note, FNW_RESOLVE_NOTE_TOO_MANY_LINKS);
    // A chain the kernel would follow (40 links) resolves.
    for (int i = 0; i < kMaxLinks - 1; ++i)
        fs::create_symlink("c" + std::to_string(i + 1), root_ / ("srv/app/c" + std::to_string(i)));
    fs::create_symlink("/work/main/README.md", root_ / ("srv/app/c" + std::to_string(kMaxLinks - 1)));
    const Resolution chain = resolve_in_root(root_, "/srv/app", "c0", true);
    EXPECT_EQ(chain.note, FNW_RESOLVE_NOTE_NONE);
    EXPECT_EQ(chain.path, "/work/main/README.md");
}

// Only lstat and readlink: a FIFO at the end would block an open for ever.
TEST_F(PathResolverTest, AFifoIsNamedNotOpened) {
    ASSERT_EQ(::mkfifo((root_ / "srv/app/pipe").c_str(), 0600), 0);
    fs::create_symlink("/srv/app/pipe", root_ / "srv/app/to-pipe");
    const Resolution r = resolve_in_root(root_, "/srv/app", "to-pipe", true);
    EXPECT_EQ(r.path, "/srv/app/pipe");
    EXPECT_TRUE(r.exists);
}

// A hard link has no target: its own name is its canonical path.
TEST_F(PathResolverTest, AHardLinkIsItsOwnName) {
    fs::create_hard_link(root_ / "work/main/README.md", root_ / "srv/app/hard");
    EXPECT_EQ(resolve("hard"), "/srv/app/hard");
}

// ---- The record rewriter, with a fake process -----------------------------

class FakeView final : public ProcessView {
public:
    std::optional<fs::path> root_dir;
    std::map<int32_t, std::string> bases;
    bool alive_after = true;
    std::optional<fs::path> root() const override { return root_dir; }
    std::optional<std::string> base(int32_t dfd) const override {
        auto it = bases.find(dfd);
        return it == bases.end() ? std::nullopt : std::optional<std::string>(it->second);
    }
    bool still_there() const override { return alive_after; }
};

std::unique_ptr<fnw_file_event> landlock_refusal(int nr, const char* raw, const char* base) {
    auto ev = std::make_unique<fnw_file_event>();
    ev->hdr.type = FNW_EVENT_FILE;
    ev->hdr.size = sizeof(*ev);
    ev->nr = static_cast<uint32_t>(nr);
    ev->dfd = kAtFdcwd;
    ev->dfd2 = kAtFdcwd;
    ev->verdict = FNW_VERDICT_VIOLATION;
    ev->mechanism = FNW_MECH_LANDLOCK;
    ev->access = FNW_FILE_READ;
    ev->missing = FNW_FILE_READ;
    std::strncpy(ev->path, raw, sizeof(ev->path) - 1);
    if (base) {
        ev->resolved_kind = FNW_RESOLVED_BASE;
        std::strncpy(ev->resolved, base, sizeof(ev->resolved) - 1);
    }
    return ev;
}

TEST_F(PathResolverTest, ARefusedReadThroughALinkNamesTheTarget) {
    FakeView view;
    view.root_dir = root_;
    auto ev = landlock_refusal(SYS_openat, "link", "/srv/app");
    ASSERT_TRUE(needs_resolving(*ev));
    resolve_file_event(*ev, view);
    EXPECT_EQ(ev->resolved_kind, FNW_RESOLVED_USER);
    const EventPath p = event_path(*ev);
    EXPECT_EQ(p.path, "/work/main/README.md");
    EXPECT_EQ(p.source, PathSource::Resolved);
    EXPECT_EQ(std::string(ev->path), "link") << "raw_path keeps what the function passed";
    EXPECT_FALSE(needs_resolving(*ev)) << "once";
}

TEST_F(PathResolverTest, TheBaseComesFromTheProcessWhenTheKernelHadNone) {
    FakeView view;
    view.root_dir = root_;
    view.bases[5] = "/srv/app/sub";
    auto ev = landlock_refusal(SYS_openat, "../link", nullptr);
    ev->dfd = 5;
    resolve_file_event(*ev, view);
    EXPECT_EQ(event_path(*ev).path, "/work/main/README.md");

    auto unknown = landlock_refusal(SYS_openat, "x", nullptr);
    unknown->dfd = 6;
    resolve_file_event(*unknown, view);
    EXPECT_EQ(unknown->resolve_note, FNW_RESOLVE_NOTE_BASE_UNREADABLE);
    EXPECT_EQ(event_path(*unknown).reason, "base unreadable");
}

TEST_F(PathResolverTest, ARenameResolvesBothNamesWithoutFollowingThem) {
    FakeView view;
    view.root_dir = root_;
    view.bases[kAtFdcwd] = "/srv/app";
    auto ev = landlock_refusal(SYS_rename, "link", "/srv/app");
    std::strcpy(ev->path2, "up/moved");
    ev->access = FNW_FILE_DELETE;
    ev->access2 = FNW_FILE_CREATE;
    resolve_file_event(*ev, view);
    EXPECT_EQ(event_path(*ev).path, "/srv/app/link") << "the link itself is renamed";
    EXPECT_EQ(event_path2(*ev).path, "/work/main/moved");
}

TEST_F(PathResolverTest, AGoneProcessKeepsTheKernelsNameAndSaysSo) {
    FakeView view;  // no root: exited
    auto ev = landlock_refusal(SYS_openat, "link", "/srv/app");
    resolve_file_event(*ev, view);
    EventPath p = event_path(*ev);
    EXPECT_EQ(p.path, "/srv/app/link");
    EXPECT_EQ(p.source, PathSource::Base);
    EXPECT_EQ(p.reason, "process exited");

    // Gone while it was looked at: what was read may be another's.
    view.root_dir = root_;
    view.alive_after = false;
    ev = landlock_refusal(SYS_openat, "link", "/srv/app");
    resolve_file_event(*ev, view);
    EXPECT_EQ(ev->resolved_kind, FNW_RESOLVED_BASE);
    EXPECT_EQ(ev->resolve_note, FNW_RESOLVE_NOTE_PROCESS_GONE);
}

// A killed function is gone before its record is read; when the kernel saw
// it in fnwarden's own root, its names still resolve, in ours.
TEST_F(PathResolverTest, AGoneProcessInOurRootIsResolvedInOurs) {
    FakeView gone;  // no root: exited
    FakeView ours;
    ours.root_dir = root_;  // stands in for "/"
    auto ev = landlock_refusal(SYS_openat, "link", "/srv/app");
    resolve_file_event(*ev, gone, ours);
    EXPECT_EQ(ev->resolve_note, FNW_RESOLVE_NOTE_PROCESS_GONE) << "not known to share our root: left as it was";
    EXPECT_EQ(event_path(*ev).path, "/srv/app/link");

    ev = landlock_refusal(SYS_openat, "link", "/srv/app");
    ev->object_flags = FNW_OBJECT_ROOT_IS_OURS;
    resolve_file_event(*ev, gone, ours);
    const EventPath p = event_path(*ev);
    EXPECT_EQ(p.path, "/work/main/README.md");
    EXPECT_EQ(p.source, PathSource::Resolved);

    // The real one: "/" itself, and no base of its own.
    const auto own = own_root_view();
    EXPECT_EQ(own->root(), fs::path("/"));
    EXPECT_FALSE(own->base(kAtFdcwd).has_value());
}

// O_CREAT of a file that is there opens it: create is not what it needed.
TEST_F(PathResolverTest, CreateIsDroppedWhenTheFileExists) {
    FakeView view;
    view.root_dir = root_;
    auto ev = landlock_refusal(SYS_openat, "link", "/srv/app");
    ev->open_flags = O_WRONLY | O_CREAT;
    ev->access = ev->missing = FNW_FILE_WRITE | FNW_FILE_CREATE;
    resolve_file_event(*ev, view);
    EXPECT_EQ(ev->access, uint32_t{FNW_FILE_WRITE});
    EXPECT_EQ(ev->missing, uint32_t{FNW_FILE_WRITE});

    ev = landlock_refusal(SYS_openat, "fresh", "/srv/app");
    ev->open_flags = O_WRONLY | O_CREAT;
    ev->access = FNW_FILE_WRITE | FNW_FILE_CREATE;
    resolve_file_event(*ev, view);
    EXPECT_EQ(ev->access, uint32_t{FNW_FILE_WRITE | FNW_FILE_CREATE});
}

TEST(PathResolverRecord, OnlyWhatTheKernelDidNotWalk) {
    auto ev = std::make_unique<fnw_file_event>();
    ev->verdict = FNW_VERDICT_VIOLATION;
    std::strcpy(ev->path, "x");
    ev->resolved_kind = FNW_RESOLVED_OBJECT;
    EXPECT_FALSE(needs_resolving(*ev)) << "the opened object, already canonical";
    ev->resolved_kind = FNW_RESOLVED_BASE;
    EXPECT_TRUE(needs_resolving(*ev));
    ev->verdict = FNW_VERDICT_ALLOWED;
    EXPECT_FALSE(needs_resolving(*ev)) << "an allowed traced access stays cheap";
}

}  // namespace
}  // namespace fnw
