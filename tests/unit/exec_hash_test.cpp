// exec.allow sha256 pins: the hasher, and the decider acting on its verdict.
#include "runtime/exec_hash.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include <fnwarden/events.h>
#include <fnwarden/kernel_abi.h>

#include "common/kernel_dev.hpp"
#include "common/unique_fd.hpp"
#include "runtime/file_decider.hpp"
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

}  // namespace
}  // namespace fnw
