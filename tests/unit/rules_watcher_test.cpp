// SPDX-License-Identifier: Apache-2.0
#include "daemon/rules_watcher.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "temp_dir.hpp"

#include "daemon/policy_set.hpp"

namespace fnw {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

using test::TempDir;

void write_file(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    ASSERT_TRUE(out.good()) << path;
}

RulesWatcher watch_or_fail(const fs::path& dir) {
    auto watching = RulesWatcher::watch(dir);
    if (!watching) {
        ADD_FAILURE() << watching.error();
        std::abort();
    }
    return std::move(*watching);
}

// As the daemon's loop does it: wait for the fd, then consume(). True as
// soon as consume() reports a change; false when `deadline` passes without.
bool changed_within(RulesWatcher& watcher, std::chrono::milliseconds deadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd pfd{watcher.fd(), POLLIN, 0};
        const int ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
        if (ready < 0) return false;
        if (ready > 0 && watcher.consume()) return true;
    }
}

// Generous: a loaded CI machine. A change shows up in microseconds.
constexpr auto kSeen = 5s;
// How long silence must last to count as "nothing was reported".
constexpr auto kQuiet = 300ms;

TEST(RulesWatcher, DescriptorIsNonBlockingAndCloseOnExec) {
    TempDir dir;
    RulesWatcher watcher = watch_or_fail(dir.path());
    ASSERT_GE(watcher.fd(), 0);
    EXPECT_TRUE(::fcntl(watcher.fd(), F_GETFL) & O_NONBLOCK);
    EXPECT_TRUE(::fcntl(watcher.fd(), F_GETFD) & FD_CLOEXEC);
    EXPECT_FALSE(watcher.consume()) << "nothing pending: false, and no blocking";
    EXPECT_TRUE(watcher.root_watched());
    EXPECT_EQ(watcher.dir(), dir.path());
}

TEST(RulesWatcher, MissingDirectoryIsAnError) {
    TempDir dir;
    auto watching = RulesWatcher::watch(dir.path() / "nope");
    ASSERT_FALSE(watching);
    EXPECT_NE(watching.error().find("no such directory"), std::string::npos);
}

TEST(RulesWatcher, WritingAPolicyIsAChange) {
    TempDir dir;
    RulesWatcher watcher = watch_or_fail(dir.path());
    write_file(dir.path() / "a.yaml", "kind: FunctionPolicy\n");
    EXPECT_TRUE(changed_within(watcher, kSeen));
    EXPECT_FALSE(changed_within(watcher, kQuiet)) << "every event was consumed";

    write_file(dir.path() / "a.yaml", "kind: FunctionPolicy # edited\n");
    EXPECT_TRUE(changed_within(watcher, kSeen));
}

TEST(RulesWatcher, ReadsAreNotChanges) {
    TempDir dir;
    write_file(dir.path() / "a.yaml", "kind: FunctionPolicy\n");
    fs::create_directory(dir.path() / "sub");
    RulesWatcher watcher = watch_or_fail(dir.path());
    EXPECT_FALSE(changed_within(watcher, kQuiet));

    std::ifstream in(dir.path() / "a.yaml");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_FALSE(text.empty());
    for (const auto& entry : fs::recursive_directory_iterator(dir.path())) (void)entry.status();
    (void)load_policy_set(dir.path());  // what the daemon does after a change
    EXPECT_FALSE(changed_within(watcher, kQuiet));
}

TEST(RulesWatcher, FilesTheLoaderIgnoresAreNotChanges) {
    TempDir dir;
    RulesWatcher watcher = watch_or_fail(dir.path());
    write_file(dir.path() / "notes.txt", "x");
    write_file(dir.path() / ".a.yaml.swp", "x");
    write_file(dir.path() / "a.yaml~", "x");
    fs::create_directory(dir.path() / ".git");
    EXPECT_FALSE(changed_within(watcher, kQuiet));
}

TEST(RulesWatcher, RemovingAndRenamingAreChanges) {
    TempDir dir;
    write_file(dir.path() / "a.yaml", "x");
    write_file(dir.path() / "b.yaml", "x");
    RulesWatcher watcher = watch_or_fail(dir.path());

    fs::remove(dir.path() / "a.yaml");
    EXPECT_TRUE(changed_within(watcher, kSeen));
    // Renamed away to a name the loader ignores: only IN_MOVED_FROM matters.
    fs::rename(dir.path() / "b.yaml", dir.path() / "b.yaml.disabled");
    EXPECT_TRUE(changed_within(watcher, kSeen));
    // An editor's save: write a temporary file, rename it over the policy.
    write_file(dir.path() / ".c.yaml.tmp", "x");
    EXPECT_FALSE(changed_within(watcher, kQuiet));
    fs::rename(dir.path() / ".c.yaml.tmp", dir.path() / "c.yaml");
    EXPECT_TRUE(changed_within(watcher, kSeen));
    // chmod decides whether the loader can read it.
    fs::permissions(dir.path() / "c.yaml", fs::perms::owner_read);
    EXPECT_TRUE(changed_within(watcher, kSeen));
}

TEST(RulesWatcher, NewSubdirectoryThenAFileInIt) {
    TempDir dir;
    RulesWatcher watcher = watch_or_fail(dir.path());
    fs::create_directory(dir.path() / "team");
    EXPECT_TRUE(changed_within(watcher, kSeen));
    write_file(dir.path() / "team" / "x.yaml", "x");
    EXPECT_TRUE(changed_within(watcher, kSeen)) << "the new directory is watched too";

    // Two levels made before the watcher looks: both get watched.
    fs::create_directories(dir.path() / "a" / "b");
    EXPECT_TRUE(changed_within(watcher, kSeen));
    write_file(dir.path() / "a" / "b" / "y.yaml", "x");
    EXPECT_TRUE(changed_within(watcher, kSeen));

    // Existing subdirectories are watched from the start.
    RulesWatcher fresh = watch_or_fail(dir.path());
    write_file(dir.path() / "a" / "b" / "z.yml", "x");
    EXPECT_TRUE(changed_within(fresh, kSeen));

    fs::remove_all(dir.path() / "team");
    EXPECT_TRUE(changed_within(watcher, kSeen));
}

TEST(RulesWatcher, ConfigMapSwapIsAChange) {
    TempDir dir;
    const fs::path root = dir.path();
    fs::create_directory(root / "..2024_01_01");
    write_file(root / "..2024_01_01" / "a.yaml", "old");
    fs::create_directory_symlink("..2024_01_01", root / "..data");
    fs::create_symlink("..data/a.yaml", root / "a.yaml");
    RulesWatcher watcher = watch_or_fail(root);

    // kubelet's AtomicWriter: the new copy and a temporary link first...
    fs::create_directory(root / "..2025_01_01");
    write_file(root / "..2025_01_01" / "a.yaml", "new");
    fs::create_directory_symlink("..2025_01_01", root / "..data_tmp");
    EXPECT_FALSE(changed_within(watcher, kQuiet)) << "nothing visible has changed yet";
    // ...then one rename() makes every file change at once.
    ASSERT_EQ(::rename((root / "..data_tmp").c_str(), (root / "..data").c_str()), 0);
    EXPECT_TRUE(changed_within(watcher, kSeen));
    fs::remove_all(root / "..2024_01_01");
    EXPECT_FALSE(changed_within(watcher, kQuiet)) << "the old copy was never read";

    // A new key: a new top-level link, and nothing else.
    write_file(root / "..2025_01_01" / "b.yaml", "new");
    fs::create_symlink("..data/b.yaml", root / "b.yaml");
    EXPECT_TRUE(changed_within(watcher, kSeen));
}

TEST(RulesWatcher, SymlinkedDirectoryIsWatchedAtItsTarget) {
    TempDir dir;
    const fs::path root = dir.path();
    fs::create_directories(root / "..2024_01_01" / "nested");
    fs::create_directory_symlink("..2024_01_01", root / "..data");
    RulesWatcher watcher = watch_or_fail(root);

    // A ConfigMap key with a '/' in its path: a link to a directory appears.
    fs::create_directory_symlink("..data/nested", root / "nested");
    EXPECT_TRUE(changed_within(watcher, kSeen));
    write_file(root / "nested" / "c.yaml", "x");
    EXPECT_TRUE(changed_within(watcher, kSeen));
    fs::remove(root / "nested");
    EXPECT_TRUE(changed_within(watcher, kSeen)) << "the link to a watched directory went away";
}

TEST(RulesWatcher, QueueOverflowIsAChange) {
    int max_queued = 0;
    std::ifstream("/proc/sys/fs/inotify/max_queued_events") >> max_queued;
    if (max_queued <= 0 || max_queued > 100000) GTEST_SKIP() << "max_queued_events " << max_queued;
    TempDir dir;
    RulesWatcher watcher = watch_or_fail(dir.path());
    // Only names the watcher ignores: nothing but the overflow can say true.
    // Each file is two events (IN_CREATE, IN_CLOSE_WRITE).
    for (int i = 0; i <= max_queued / 2 + 100; ++i) write_file(dir.path() / ("n" + std::to_string(i) + ".txt"), "");
    EXPECT_TRUE(watcher.consume());
    // The queue is drained and the watches are intact.
    EXPECT_FALSE(changed_within(watcher, kQuiet));
    write_file(dir.path() / "a.yaml", "x");
    EXPECT_TRUE(changed_within(watcher, kSeen));
}

TEST(RulesWatcher, RulesDirectoryRemovedIsAChangeAndEndsTheWatch) {
    TempDir dir;
    const fs::path root = dir.path() / "rules";
    fs::create_directories(root / "sub");
    write_file(root / "a.yaml", "x");
    RulesWatcher watcher = watch_or_fail(root);
    fs::remove_all(root);
    EXPECT_TRUE(changed_within(watcher, kSeen));
    // IN_IGNORED may arrive in a later read than IN_DELETE_SELF.
    const auto until = std::chrono::steady_clock::now() + kSeen;
    while (watcher.root_watched() && std::chrono::steady_clock::now() < until) changed_within(watcher, 50ms);
    EXPECT_FALSE(watcher.root_watched());
}

TEST(RulesWatcher, MovedWatcherKeepsWatching) {
    TempDir dir;
    RulesWatcher first = watch_or_fail(dir.path());
    const int fd = first.fd();
    RulesWatcher second = std::move(first);
    EXPECT_EQ(second.fd(), fd);
    write_file(dir.path() / "a.yaml", "x");
    EXPECT_TRUE(changed_within(second, kSeen));
}

}  // namespace
}  // namespace fnw
