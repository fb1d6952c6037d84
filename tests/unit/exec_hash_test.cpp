// SPDX-License-Identifier: Apache-2.0
// exec.allow sha256 pins: the hasher, and the decider acting on its verdict.
#include "runtime/exec_hash.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include <fnwarden/events.h>
#include <fnwarden/kernel_abi.h>

#include "common/kernel_dev.hpp"
#include "common/unique_fd.hpp"
#include "runtime/cgroup.hpp"
#include "runtime/file_decider.hpp"
#include "runtime/proc_info.hpp"
#include "temp_dir.hpp"

namespace fnw {
namespace {

// sha256("abc"), FIPS 180-2 appendix B.1.
constexpr const char* kAbc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
// Above the largest pid_max Linux allows: no /proc entry, so the path is used.
constexpr pid_t kNoSuchPid = 999'999'999;

void write_file(const std::filesystem::path& path, const std::string& content) {
    std::ofstream(path, std::ios::trunc) << content;
}

struct Identity {
    uint64_t dev = 0, ino = 0;
};
Identity identity_of(const std::filesystem::path& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0);
    return {kernel_dev(st.st_dev), st.st_ino};
}

TEST(ExecHash, Sha256OfAKnownVector) {
    test::TempDir dir;
    write_file(dir.path() / "abc", "abc");
    UniqueFd fd(::open((dir.path() / "abc").c_str(), O_RDONLY | O_CLOEXEC));
    auto digest = sha256_of_fd(fd.get());
    ASSERT_TRUE(digest);
    EXPECT_EQ(to_hex(*digest), kAbc);
}

TEST(ExecHash, AFileIsHashedOncePerVersionAndAChangeIsSeen) {
    test::TempDir dir;
    const auto path = dir.path() / "prog";
    write_file(path, "abc");
    const Identity id = identity_of(path);
    ExecHasher hasher;
    EXPECT_EQ(hasher.verify(kNoSuchPid, id.dev, id.ino, path, kAbc).check, FNW_SHA256_MATCH);
    EXPECT_EQ(hasher.verify(kNoSuchPid, id.dev, id.ino, path, kAbc).check, FNW_SHA256_MATCH);
    EXPECT_EQ(hasher.stats().hashed, 1u);
    EXPECT_EQ(hasher.stats().cache_hits, 1u);

    // Rewritten in place (same inode): a new version, hashed again.
    {
        std::fstream f(path, std::ios::in | std::ios::out);
        f << "abd";
    }
    ASSERT_EQ(identity_of(path).ino, id.ino);
    const auto changed = hasher.verify(kNoSuchPid, id.dev, id.ino, path, kAbc);
    EXPECT_EQ(changed.check, FNW_SHA256_MISMATCH);
    EXPECT_NE(to_hex(changed.digest), kAbc);
    EXPECT_EQ(hasher.stats().hashed, 2u);
}

TEST(ExecHash, AnotherInodeUnderTheNameOrNoFileIsUnreadableNotVerified) {
    test::TempDir dir;
    const auto path = dir.path() / "prog";
    write_file(path, "abc");
    const Identity id = identity_of(path);
    // Replaced by rename since the exec: the name now means another file.
    write_file(dir.path() / "new", "abc");
    std::filesystem::rename(dir.path() / "new", path);
    ExecHasher hasher;
    EXPECT_EQ(hasher.verify(kNoSuchPid, id.dev, id.ino, path, kAbc).check, FNW_SHA256_UNREADABLE);
    std::filesystem::remove(path);
    EXPECT_EQ(hasher.verify(kNoSuchPid, id.dev, id.ino, path, kAbc).check, FNW_SHA256_UNREADABLE);
    EXPECT_EQ(hasher.stats().unreadable, 2u);
}

TEST(ExecHash, ARunningProcessIsHashedThroughProcExe) {
    // This test binary, by its /proc/self/exe: the path given is a decoy.
    const Identity id = identity_of("/proc/self/exe");
    UniqueFd fd(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
    const auto digest = sha256_of_fd(fd.get());
    ASSERT_TRUE(digest);
    ExecHasher hasher;
    const auto verdict = hasher.verify(::getpid(), id.dev, id.ino, "/nonexistent", to_hex(*digest));
    EXPECT_EQ(verdict.check, FNW_SHA256_MATCH);
}

// ---- what an attacker can put under a pinned name ----------------------------

// Runs verify() on a thread and fails if it has not answered within `limit`:
// a hasher that blocks must fail the test, not hang it. A FIFO left blocked
// is released by opening its write end.
struct Timed {
    uint8_t check = FNW_SHA256_NOT_CHECKED;
    std::chrono::milliseconds took{0};
    bool finished = false;
};
Timed verify_with_watchdog(const std::filesystem::path& path, const Identity& id,
                           std::chrono::milliseconds limit = std::chrono::seconds(3)) {
    auto hasher = std::make_shared<ExecHasher>();
    auto done = std::make_shared<std::promise<uint8_t>>();
    auto answer = done->get_future();
    const auto start = std::chrono::steady_clock::now();
    std::thread([hasher, done, path, id] {
        done->set_value(hasher->verify(kNoSuchPid, id.dev, id.ino, path, kAbc).check);
    }).detach();
    Timed out;
    if (answer.wait_for(limit) == std::future_status::ready) {
        out.finished = true;
        out.check = answer.get();
    } else {
        // Release a reader blocked in open(): the test must end either way.
        UniqueFd writer(::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
        answer.wait_for(std::chrono::seconds(5));
    }
    out.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    return out;
}

TEST(ExecHash, AFifoUnderThePinnedNameIsRefusedWithoutBlocking) {
    test::TempDir dir;
    const auto path = dir.path() / "prog";
    ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
    // The inode the event names: the FIFO's own (the worst case: even the
    // identity check would pass). Nobody ever opens the write end.
    const Timed t = verify_with_watchdog(path, identity_of(path));
    EXPECT_TRUE(t.finished) << "the hasher blocked on a FIFO for " << t.took.count() << " ms";
    EXPECT_EQ(t.check, FNW_SHA256_UNREADABLE);
}

TEST(ExecHash, ASymlinkUnderThePinnedNameIsNotFollowed) {
    test::TempDir dir;
    const auto target = dir.path() / "real";
    write_file(target, "abc");
    const auto path = dir.path() / "prog";
    std::filesystem::create_symlink(target, path);
    // Named by the target's inode: following the link would "verify" it.
    const Timed t = verify_with_watchdog(path, identity_of(target));
    EXPECT_TRUE(t.finished);
    EXPECT_EQ(t.check, FNW_SHA256_UNREADABLE);
}

TEST(ExecHash, ADirectoryUnderThePinnedNameIsRefused) {
    test::TempDir dir;
    const auto path = dir.path() / "prog";
    std::filesystem::create_directory(path);
    const Timed t = verify_with_watchdog(path, identity_of(path));
    EXPECT_TRUE(t.finished);
    EXPECT_EQ(t.check, FNW_SHA256_UNREADABLE);
}

TEST(ExecHash, AFileOverTheSizeCapIsRefusedUnread) {
    test::TempDir dir;
    const auto path = dir.path() / "prog";
    {
        // Sparse: costs no disk, but reading it whole would take seconds.
        UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0700));
        ASSERT_TRUE(fd.valid());
        ASSERT_EQ(::ftruncate(fd.get(), HashLimits::kDefaultMaxBytes + 1), 0);
    }
    const Timed t = verify_with_watchdog(path, identity_of(path), std::chrono::seconds(30));
    EXPECT_TRUE(t.finished);
    EXPECT_EQ(t.check, FNW_SHA256_UNREADABLE) << "a file over the cap is not verified";
    EXPECT_LT(t.took, std::chrono::milliseconds(500)) << "refused before reading, not after";
}

TEST(ExecHash, AFileWithAnotherInodeThanTheEventsIsRefusedUnread) {
    test::TempDir dir;
    const auto path = dir.path() / "prog";
    write_file(path, "abc");
    Identity other = identity_of(path);
    other.ino += 1;
    const Timed t = verify_with_watchdog(path, other);
    EXPECT_TRUE(t.finished);
    EXPECT_EQ(t.check, FNW_SHA256_UNREADABLE);
}

// ---- the decider ------------------------------------------------------------

std::unique_ptr<fnw_file_event> pending_exec(const std::string& path, const Identity& id) {
    auto ev = std::make_unique<fnw_file_event>();
    ev->hdr.type = FNW_EVENT_FILE;
    ev->hdr.size = sizeof(*ev);
    ev->hdr.pid = kNoSuchPid;
    ev->hdr.policy_id = 3;
    ev->nr = FNW_NR_EXEC;
    ev->verdict = FNW_VERDICT_PENDING;
    ev->access = FNW_FILE_EXEC;
    ev->resolved_kind = FNW_RESOLVED_OBJECT;
    ev->dev = id.dev;
    ev->ino = id.ino;
    std::strncpy(ev->resolved, path.c_str(), sizeof(ev->resolved) - 1);
    std::strncpy(ev->path, path.c_str(), sizeof(ev->path) - 1);
    return ev;
}

TEST(ExecHash, TheDeciderAllowsThePinnedContentAndReportsAnyOther) {
    test::TempDir dir;
    const auto good = std::filesystem::canonical(dir.path()) / "good";
    const auto bad = std::filesystem::canonical(dir.path()) / "bad";
    const auto unpinned = std::filesystem::canonical(dir.path()) / "unpinned";
    write_file(good, "abc");
    write_file(bad, "evil");
    write_file(unpinned, "anything");
    FunctionPolicy policy;
    policy.exec.restricted = true;
    policy.exec.allow = {good.string(), bad.string(), unpinned.string()};
    policy.exec.sha256 = {{good.string(), kAbc}, {bad.string(), kAbc}};
    policy.exec.on_violation = ViolationAction::Kill;
    FileDecider decider(nullptr);
    ASSERT_TRUE(decider.set_policy(3, policy, Mode::Enforce));

    auto ok = pending_exec(good, identity_of(good));
    EXPECT_FALSE(decider.decide(*ok)) << "allowed and untraced: nothing to report";
    EXPECT_EQ(ok->verdict, FNW_VERDICT_ALLOWED);
    EXPECT_EQ(ok->sha256_check, FNW_SHA256_MATCH);

    auto other = pending_exec(unpinned, identity_of(unpinned));
    EXPECT_FALSE(decider.decide(*other));
    EXPECT_EQ(other->sha256_check, FNW_SHA256_NOT_CHECKED) << "not pinned: not hashed";

    auto wrong = pending_exec(bad, identity_of(bad));
    EXPECT_TRUE(decider.decide(*wrong));
    EXPECT_EQ(wrong->verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(wrong->sha256_check, FNW_SHA256_MISMATCH);
    EXPECT_EQ(wrong->missing, uint32_t{FNW_FILE_EXEC});
    EXPECT_EQ(wrong->action, FNW_ACTION_REPORTED) << "no such pid to kill: reported, not claimed killed";
    EXPECT_EQ(decider.stats().sha256_mismatches, 1u);
    EXPECT_EQ(decider.hash_stats().hashed, 2u);
}


// ---- off the caller's thread (the daemon) -------------------------------------

// Polls the decider's fd and collects until one record comes out or 10 s pass.
std::unique_ptr<fnw_file_event> collect_one(FileDecider& decider, int fd) {
    std::unique_ptr<fnw_file_event> out;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!out && std::chrono::steady_clock::now() < until) {
        pollfd p{fd, POLLIN, 0};
        ::poll(&p, 1, 50);  // the daemon's tick: deadlines are checked on it too
        decider.collect([&](const fnw_file_event& ev) {
            out = std::make_unique<fnw_file_event>();
            std::memcpy(out.get(), &ev, sizeof(ev));
        });
    }
    return out;
}

FunctionPolicy pinned_policy(const std::filesystem::path& path, const std::string& digest) {
    FunctionPolicy policy;
    policy.exec.restricted = true;
    policy.exec.allow = {path.string()};
    policy.exec.sha256 = {{path.string(), digest}};
    policy.exec.on_violation = ViolationAction::Kill;
    return policy;
}

void own(fnw_event_header& hdr, pid_t pid) {
    hdr.pid = hdr.tid = static_cast<uint32_t>(pid);
    const auto root = find_cgroup2_mount();
    ASSERT_TRUE(root);
    hdr.cgroup_id = read_proc_cgroup_id(pid, *root).value_or(0);
    timespec ts{};
    clock_gettime(CLOCK_BOOTTIME, &ts);
    hdr.boot_ns = uint64_t(ts.tv_sec) * 1'000'000'000ull + uint64_t(ts.tv_nsec);
}

TEST(ExecHash, DeferredAMismatchIsKilledThroughThePidfdWhenTheHashComesBack) {
    test::TempDir dir;
    const auto bad = std::filesystem::canonical(dir.path()) / "bad";
    write_file(bad, "evil");
    FileDecider decider(nullptr);
    ASSERT_TRUE(decider.set_policy(3, pinned_policy(bad, kAbc), Mode::Enforce));
    const int fd = decider.defer_hashing();
    ASSERT_GE(fd, 0);

    const pid_t child = ::fork();
    if (child == 0)
        for (;;) ::pause();
    ASSERT_GT(child, 0);
    auto ev = pending_exec(bad, identity_of(bad));
    own(ev->hdr, child);
    EXPECT_EQ(decider.decide_event(*ev), FileDecider::Decision::Deferred) << "the caller must not hash";
    auto done = collect_one(decider, fd);
    ASSERT_TRUE(done);
    EXPECT_EQ(done->verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(done->sha256_check, FNW_SHA256_MISMATCH);
    EXPECT_EQ(done->action, FNW_ACTION_KILLED);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    EXPECT_EQ(decider.stats().sha256_deferred, 1u);
}

TEST(ExecHash, DeferredAHashPastItsDeadlineIsAViolation) {
    test::TempDir dir;
    const auto slow = std::filesystem::canonical(dir.path()) / "slow";
    {
        // Under the size cap, but seconds of reading at SHA-256 speed.
        UniqueFd out(::open(slow.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0700));
        ASSERT_TRUE(out.valid());
        ASSERT_EQ(::ftruncate(out.get(), int64_t{512} << 20), 0);
    }
    HashLimits limits;
    limits.deadline = std::chrono::milliseconds(100);
    FileDecider decider(nullptr, limits);
    ASSERT_TRUE(decider.set_policy(3, pinned_policy(slow, kAbc), Mode::Enforce));
    const int fd = decider.defer_hashing();
    auto ev = pending_exec(slow, identity_of(slow));
    const auto start = std::chrono::steady_clock::now();
    ASSERT_EQ(decider.decide_event(*ev), FileDecider::Decision::Deferred);
    auto done = collect_one(decider, fd);
    ASSERT_TRUE(done);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
    EXPECT_EQ(done->verdict, FNW_VERDICT_VIOLATION) << "cannot verify in time: fail closed";
    EXPECT_EQ(done->sha256_check, FNW_SHA256_UNREADABLE);
    EXPECT_EQ(done->missing, uint32_t{FNW_FILE_EXEC});
}

// ---- code pins (a bundle's) ------------------------------------------------

std::unique_ptr<fnw_file_event> pending_code_open(const std::string& path, const Identity& id, pid_t pid = kNoSuchPid,
                                                  int fd = -1) {
    auto ev = pending_exec(path, id);
    ev->hdr.pid = static_cast<uint32_t>(pid);
    ev->nr = 257;  // openat
    ev->ret = fd;
    ev->access = FNW_FILE_READ;
    ev->object_flags = FNW_OBJECT_CODE_PINNED;
    return ev;
}

std::string hex_of(const uint8_t (&digest)[32]) {
    Sha256 bytes{};
    std::memcpy(bytes.data(), digest, bytes.size());
    return to_hex(bytes);
}

TEST(ExecHash, ACodeFileIsCheckedAgainstItsPinAndOneWithoutAPinIsRefused) {
    test::TempDir dir;
    const auto code = std::filesystem::canonical(dir.path());
    write_file(code / "handler.py", "abc");
    write_file(code / "json.py", "shadow");
    FunctionPolicy policy;  // no files section: the pins alone
    policy.code_pins = {{(code / "handler.py").string(), kAbc}};
    FileDecider decider(nullptr);
    ASSERT_TRUE(decider.set_policy(3, policy, Mode::Enforce));

    auto same = pending_code_open((code / "handler.py").string(), identity_of(code / "handler.py"));
    EXPECT_FALSE(decider.decide(*same));
    EXPECT_EQ(same->verdict, FNW_VERDICT_ALLOWED);
    EXPECT_EQ(same->sha256_check, FNW_SHA256_MATCH);

    write_file(code / "handler.py", "abc; evil()");
    auto changed = pending_code_open((code / "handler.py").string(), identity_of(code / "handler.py"));
    EXPECT_TRUE(decider.decide(*changed));
    EXPECT_EQ(changed->verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(changed->sha256_check, FNW_SHA256_MISMATCH);
    EXPECT_EQ(changed->missing, uint32_t{FNW_FILE_READ}) << "what the open asked for";
    EXPECT_EQ(hex_of(changed->expected_sha256), kAbc);
    EXPECT_NE(hex_of(changed->sha256), kAbc);

    auto added = pending_code_open((code / "json.py").string(), identity_of(code / "json.py"));
    EXPECT_TRUE(decider.decide(*added));
    EXPECT_EQ(added->verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(added->sha256_check, FNW_SHA256_NOT_PINNED);

    // Only what the kernel found in a code directory is checked.
    auto elsewhere = pending_code_open((code / "handler.py").string(), identity_of(code / "handler.py"));
    elsewhere->object_flags = 0;
    EXPECT_FALSE(decider.decide(*elsewhere));
    EXPECT_EQ(elsewhere->sha256_check, FNW_SHA256_NOT_CHECKED);
    EXPECT_EQ(decider.stats().sha256_mismatches, 2u);
}

TEST(ExecHash, ACodeFileIsReadThroughTheFdTheProcessGot) {
    test::TempDir dir;
    const auto code = std::filesystem::canonical(dir.path());
    write_file(code / "handler.py", "abc");
    FunctionPolicy policy;
    policy.code_pins = {{(code / "handler.py").string(), kAbc}};
    FileDecider decider(nullptr);
    ASSERT_TRUE(decider.set_policy(3, policy, Mode::Audit));  // audit: nothing is killed, this process least
    UniqueFd held(::open((code / "handler.py").c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(held.valid());
    const Identity id = identity_of(code / "handler.py");
    // Replaced by a rename since the open: the name now leads elsewhere,
    // the fd still to what the process opened.
    write_file(code / "other", "abcd");
    std::filesystem::rename(code / "other", code / "handler.py");
    auto ev = pending_code_open((code / "handler.py").string(), id, ::getpid(), held.get());
    EXPECT_FALSE(decider.decide(*ev));
    EXPECT_EQ(ev->sha256_check, FNW_SHA256_MATCH) << "hashed what the fd holds, not what the name holds now";
}

}  // namespace
}  // namespace fnw
