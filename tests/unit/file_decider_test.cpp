// SPDX-License-Identifier: Apache-2.0
#include "runtime/file_decider.hpp"

#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <fnwarden/events.h>
#include <fnwarden/kernel_abi.h>

#include "core/policy.hpp"
#include "runtime/cgroup.hpp"
#include "runtime/proc_info.hpp"
#include "runtime/process_handle.hpp"
#include "runtime/violation_response.hpp"

namespace fnw {
namespace {

// respond_to_record for the bytes these tests build: decoded once, as the
// daemon and LocalGuard do, and handed on as the kernel wrote them.
using RecordHandler = std::function<void(std::span<const std::byte> record)>;
void respond_to_record(std::span<const std::byte> bytes, const KillOnViolation& kill, const RecordHandler& next,
                       FileDecider* files = nullptr) {
    Result<Record> record = decode_record(bytes);
    ASSERT_TRUE(record.ok()) << record.error();
    fnw::respond_to_record(
        std::move(*record), kill, [&next](const Record& r) { next(record_bytes(r)); }, files);
}

constexpr int32_t kAtFdcwd = -100;
// Above the largest pid_max Linux allows (2^22): kill() finds nobody.
constexpr uint32_t kNoSuchPid = 999'999'999;
constexpr uint32_t kPolicy = 7;
// rename(2): both names relative to the cwd. renameat/renameat2 have a
// directory fd for each name (see RenameatNewNameIsNotAssumedInTheOldDirectory).
#ifdef SYS_rename
constexpr uint32_t kRenameNr = SYS_rename;
#else
constexpr uint32_t kRenameNr = SYS_renameat2;
#endif

// ---- fixtures ---------------------------------------------------------------

// The files section every test starts from.
FunctionPolicy sample_policy(ViolationAction on_violation = ViolationAction::Report) {
    FunctionPolicy policy;
    policy.name = "demo";
    policy.files.restricted = true;
    policy.files.read = {"/etc/hosts", "/srv/app/**"};
    policy.files.write = {"/srv/app/data/**"};
    policy.files.create = {"/srv/app/data/out/*"};
    policy.files.remove = {"/srv/app/data/*"};
    policy.files.on_violation = on_violation;
    return policy;
}

// A PENDING record as files.bpf.c sends it, zeroed elsewhere (12 KiB: heap).
std::unique_ptr<fnw_file_event> pending(const char* raw, uint32_t access, uint8_t kind = FNW_RESOLVED_NONE,
                                        const char* resolved = "") {
    auto ev = std::make_unique<fnw_file_event>();
    ev->hdr.type = FNW_EVENT_FILE;
    ev->hdr.size = sizeof(*ev);
    ev->hdr.pid = kNoSuchPid;
    ev->hdr.tid = kNoSuchPid;
    ev->hdr.policy_id = kPolicy;
    ev->nr = SYS_openat;
    ev->dfd = kAtFdcwd;
    ev->dfd2 = kAtFdcwd;
    ev->verdict = FNW_VERDICT_PENDING;
    ev->access = access;
    ev->resolved_kind = kind;
    std::strncpy(ev->path, raw, sizeof(ev->path) - 1);
    std::strncpy(ev->resolved, resolved, sizeof(ev->resolved) - 1);
    return ev;
}

// An open of an object the kernel walked: identity filled as for the key.
std::unique_ptr<fnw_file_event> pending_open(const char* resolved, uint32_t access, const char* raw = "x") {
    auto ev = pending(raw, access, FNW_RESOLVED_OBJECT, resolved);
    ev->dev = (8ull << 20) | 1;
    ev->ino = 123456789;
    ev->parent_ino = 4242;
    ev->generation = 0xdeadbeef;
    return ev;
}

// A rename as files.bpf.c sends it: delete the old name, create the new one.
std::unique_ptr<fnw_file_event> pending_rename(const char* from, const char* to, uint8_t kind = FNW_RESOLVED_NONE,
                                               const char* base = "") {
    auto ev = pending(from, FNW_FILE_DELETE, kind, base);
    ev->nr = kRenameNr;
    ev->access2 = FNW_FILE_CREATE;
    std::strncpy(ev->path2, to, sizeof(ev->path2) - 1);
    return ev;
}

// Counts and keeps what the decider writes back to the kernel.
struct RememberSpy {
    std::vector<fnw_file_verdict_key> keys;
    bool answer = true;
    FileDecider::Remember callback() {
        return [this](const fnw_file_verdict_key& key) {
            keys.push_back(key);
            return answer;
        };
    }
};

FileDecider make_decider(RememberSpy& spy, Mode mode = Mode::Enforce,
                         ViolationAction on_violation = ViolationAction::Report) {
    FileDecider decider(spy.callback());
    Status written = decider.set_policy(kPolicy, sample_policy(on_violation), mode);
    EXPECT_TRUE(written) << written.error();
    return decider;
}

// A process to kill: a child that waits for signals. Killed and reaped at
// the end of the test whatever happened to it.
class Child {
public:
    Child() {
        pid_ = ::fork();
        if (pid_ == 0) {
            for (;;) ::pause();
        }
        if (pid_ < 0) ADD_FAILURE() << "fork failed";
    }
    ~Child() {
        if (pid_ > 0 && !reaped_) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    pid_t pid() const { return pid_; }

    // The signal that ended the child within `timeout`, or nullopt if it
    // still runs (or exited without one).
    std::optional<int> wait_for_signal(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            int status = 0;
            const pid_t got = ::waitpid(pid_, &status, WNOHANG);
            if (got == pid_) {
                reaped_ = true;
                if (WIFSIGNALED(status)) return WTERMSIG(status);
                return std::nullopt;
            }
            if (got < 0 || std::chrono::steady_clock::now() >= deadline) return std::nullopt;
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }

    bool alive() {
        if (reaped_) return false;
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            reaped_ = true;
            return false;
        }
        return ::kill(pid_, 0) == 0;
    }

    // Makes `ev` this child's event, as the kernel would have recorded it:
    // its cgroup, a time after its birth.
    void own(fnw_event_header& hdr) const {
        hdr.pid = static_cast<uint32_t>(pid_);
        hdr.tid = hdr.pid;
        const auto root = find_cgroup2_mount();
        ASSERT_TRUE(root);
        const auto cgroup = read_proc_cgroup_id(pid_, *root);
        ASSERT_TRUE(cgroup);
        hdr.cgroup_id = *cgroup;
        timespec ts{};
        clock_gettime(CLOCK_BOOTTIME, &ts);
        hdr.boot_ns = uint64_t(ts.tv_sec) * 1'000'000'000ull + uint64_t(ts.tv_nsec);
    }

private:
    pid_t pid_ = -1;
    bool reaped_ = false;
};

bool same_bytes(const fnw_file_event& a, const fnw_file_event& b) { return std::memcmp(&a, &b, sizeof(a)) == 0; }

// ---- records the kernel already decided ------------------------------------

TEST(FileDecider, DecidedRecordsPassThroughUntouched) {
    RememberSpy spy;
    FileDecider decider = make_decider(spy, Mode::Enforce, ViolationAction::Kill);
    for (uint8_t verdict : {uint8_t{FNW_VERDICT_ALLOWED}, uint8_t{FNW_VERDICT_VIOLATION}}) {
        // A path no section grants and a policy nobody set: still untouched.
        for (uint32_t policy_id : {kPolicy, 99u}) {
            auto ev = pending_open("/etc/shadow", FNW_FILE_READ | FNW_FILE_WRITE);
            ev->verdict = verdict;
            ev->hdr.policy_id = policy_id;
            ev->action = verdict == FNW_VERDICT_VIOLATION ? FNW_ACTION_REPORTED : FNW_ACTION_NONE;
            auto before = std::make_unique<fnw_file_event>(*ev);
            EXPECT_TRUE(decider.decide(*ev)) << int(verdict) << " " << policy_id;
            EXPECT_TRUE(same_bytes(*ev, *before)) << int(verdict) << " " << policy_id;
        }
    }
    EXPECT_TRUE(spy.keys.empty());
    EXPECT_EQ(decider.stats().allowed, 0u);
    EXPECT_EQ(decider.stats().violations, 0u);
    EXPECT_EQ(decider.stats().unknown_policy, 0u);
}

// ---- allowed ---------------------------------------------------------------

TEST(FileDecider, AllowedOpenIsRememberedWithItsIdentity) {
    RememberSpy spy;
    FileDecider decider = make_decider(spy);
    auto ev = pending_open("/srv/app/data/db", FNW_FILE_READ | FNW_FILE_WRITE);
    ev->action = FNW_ACTION_REPORTED;  // whatever was there is overwritten
    ev->mechanism = FNW_MECH_SIGKILL;
    EXPECT_FALSE(decider.decide(*ev));  // allowed and not traced: nothing to report
    EXPECT_EQ(ev->verdict, FNW_VERDICT_ALLOWED);
    EXPECT_EQ(ev->action, FNW_ACTION_NONE);
    EXPECT_EQ(ev->mechanism, FNW_MECH_NONE);
    EXPECT_EQ(ev->missing, 0u);

    ASSERT_EQ(spy.keys.size(), 1u);
    fnw_file_verdict_key expected{};
    expected.policy_id = kPolicy;
    expected.access = FNW_FILE_READ | FNW_FILE_WRITE;
    expected.dev = (8ull << 20) | 1;
    expected.ino = 123456789;
    expected.parent_ino = 4242;
    expected.generation = 0xdeadbeef;
    const fnw_file_verdict_key& key = spy.keys[0];
    EXPECT_EQ(key.policy_id, expected.policy_id);
    EXPECT_EQ(key.access, expected.access);
    EXPECT_EQ(key.dev, expected.dev);
    EXPECT_EQ(key.ino, expected.ino);
    EXPECT_EQ(key.parent_ino, expected.parent_ino);
    EXPECT_EQ(key.generation, expected.generation);
    // The kernel hashes the whole key: padding included.
    EXPECT_EQ(std::memcmp(&key, &expected, sizeof(key)), 0);

    EXPECT_EQ(decider.stats().allowed, 1u);
    EXPECT_EQ(decider.stats().remembered, 1u);
    EXPECT_EQ(decider.stats().violations, 0u);
}

// A record whose walk met a rule's object deleted and made again: the
// slot's rules are re-read (ProbeSet::refresh_file_rules), and the record
// is still decided by name like any other undecided one.
TEST(FileDecider, AReplacedRuleObjectAsksForTheSlotsRulesToBeReread) {
    RememberSpy spy;
    FileDecider decider = make_decider(spy);
    std::vector<uint32_t> stale;
    decider.on_rules_stale([&](uint32_t slot) { stale.push_back(slot); });

    auto plain = pending_open("/srv/app/data/db", FNW_FILE_READ);
    EXPECT_FALSE(decider.decide(*plain));
    EXPECT_TRUE(stale.empty()) << "an undecided record alone says nothing about the rules";

    auto replaced = pending_open("/srv/app/data/db", FNW_FILE_READ);
    replaced->object_flags |= FNW_OBJECT_RULE_REPLACED;
    EXPECT_FALSE(decider.decide(*replaced));
    EXPECT_EQ(replaced->verdict, FNW_VERDICT_ALLOWED) << "decided by name all the same";
    EXPECT_EQ(stale, std::vector<uint32_t>{kPolicy});

    auto outside = pending_open("/etc/shadow", FNW_FILE_READ);
    outside->object_flags |= FNW_OBJECT_RULE_REPLACED;
    EXPECT_TRUE(decider.decide(*outside));
    EXPECT_EQ(outside->verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(stale.size(), 2u);
    EXPECT_EQ(decider.stats().replaced_rule_objects, 2u);
}

TEST(FileDecider, AllowedTracedAccessIsStillReported) {
    RememberSpy spy;
    FileDecider decider = make_decider(spy);
    auto ev = pending_open("/etc/hosts", FNW_FILE_READ);
    ev->traced = 1;
    EXPECT_TRUE(decider.decide(*ev));
    EXPECT_EQ(ev->verdict, FNW_VERDICT_ALLOWED);
    EXPECT_EQ(spy.keys.size(), 1u);  // remembered all the same
}

TEST(FileDecider, ARefusedWriteBackIsNotCounted) {
    RememberSpy spy;
    spy.answer = false;  // the map was full, say
    FileDecider decider = make_decider(spy);
    auto ev = pending_open("/etc/hosts", FNW_FILE_READ);
    EXPECT_FALSE(decider.decide(*ev));
    EXPECT_EQ(ev->verdict, FNW_VERDICT_ALLOWED);
    EXPECT_EQ(spy.keys.size(), 1u);
    EXPECT_EQ(decider.stats().allowed, 1u);
    EXPECT_EQ(decider.stats().remembered, 0u);
}

TEST(FileDecider, OnlyKernelWalkedObjectsWithAnInodeAreRemembered) {
    RememberSpy spy;
    FileDecider decider = make_decider(spy);

    auto no_inode = pending_open("/etc/hosts", FNW_FILE_READ);
    no_inode->ino = 0;
    auto base = pending("hosts", FNW_FILE_READ, FNW_RESOLVED_BASE, "/etc");
    base->ino = 55;  // an identity without an object is no identity
    auto lexical = pending("/etc/hosts", FNW_FILE_READ);
    lexical->ino = 55;
    for (fnw_file_event* ev : {no_inode.get(), base.get(), lexical.get()}) {
        EXPECT_FALSE(decider.decide(*ev));
        EXPECT_EQ(ev->verdict, FNW_VERDICT_ALLOWED);
    }
    EXPECT_TRUE(spy.keys.empty());
    EXPECT_EQ(decider.stats().allowed, 3u);
    EXPECT_EQ(decider.stats().remembered, 0u);
}

TEST(FileDecider, NoRememberCallbackIsFine) {
    FileDecider decider{FileDecider::Remember{}};
    ASSERT_TRUE(decider.set_policy(kPolicy, sample_policy(), Mode::Enforce));
    auto ev = pending_open("/etc/hosts", FNW_FILE_READ);
    EXPECT_FALSE(decider.decide(*ev));
    EXPECT_EQ(ev->verdict, FNW_VERDICT_ALLOWED);
    EXPECT_EQ(decider.stats().remembered, 0u);
}

TEST(FileDecider, UnrestrictedPolicyAllowsEverything) {
    RememberSpy spy;
    FileDecider decider(spy.callback());
    FunctionPolicy policy;  // no files section
    ASSERT_TRUE(decider.set_policy(kPolicy, policy, Mode::Enforce));
    auto ev = pending_open("/etc/shadow", FNW_FILE_READ | FNW_FILE_WRITE | FNW_FILE_CREATE);
    EXPECT_FALSE(decider.decide(*ev));
    EXPECT_EQ(ev->verdict, FNW_VERDICT_ALLOWED);
}

// ---- violations ------------------------------------------------------------

TEST(FileDecider, ViolationNamesTheMissingRights) {
    RememberSpy spy;
    FileDecider decider = make_decider(spy);
    // /srv/app/main.py: read granted, write not.
    auto ev = pending_open("/srv/app/main.py", FNW_FILE_READ | FNW_FILE_WRITE);
    EXPECT_TRUE(decider.decide(*ev));
    EXPECT_EQ(ev->verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(ev->missing, uint32_t{FNW_FILE_WRITE});
    EXPECT_EQ(ev->action, FNW_ACTION_REPORTED);
    EXPECT_EQ(ev->mechanism, FNW_MECH_NONE);
    EXPECT_TRUE(spy.keys.empty());  // a violation is never remembered

    auto nothing = pending_open("/etc/shadow", FNW_FILE_READ | FNW_FILE_WRITE | FNW_FILE_CREATE);
    EXPECT_TRUE(decider.decide(*nothing));
    EXPECT_EQ(nothing->missing, uint32_t{FNW_FILE_READ | FNW_FILE_WRITE | FNW_FILE_CREATE});
    EXPECT_EQ(decider.stats().violations, 2u);
    EXPECT_EQ(decider.stats().allowed, 0u);
}

TEST(FileDecider, RelativePathWithoutABaseOrProcessIsAViolation) {
    RememberSpy spy;
    FileDecider decider = make_decider(spy);
    // No base, no /proc/PID: the path is unknown, so nothing grants it
    // (read /srv/app/** would match had it been known to be there).
    auto ev = pending("srv/app/main.py", FNW_FILE_READ);
    EXPECT_TRUE(decider.decide(*ev));
    EXPECT_EQ(ev->verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(ev->missing, uint32_t{FNW_FILE_READ});
}

TEST(FileDecider, TruncatedKernelPathFailsClosed) {
    RememberSpy spy;
    FileDecider decider = make_decider(spy);
    // The control: the same record whole is allowed.
    auto whole = pending_open("/srv/app/data/db", FNW_FILE_READ | FNW_FILE_WRITE);
    EXPECT_FALSE(decider.decide(*whole));
    EXPECT_EQ(whole->verdict, FNW_VERDICT_ALLOWED);
    spy.keys.clear();

    // Cut: what was walked matches the globs, but it is not the whole path.
    auto cut = pending_open("/srv/app/data/db", FNW_FILE_READ | FNW_FILE_WRITE);
    cut->resolved_truncated = 1;
    EXPECT_TRUE(decider.decide(*cut));
    EXPECT_EQ(cut->verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(cut->missing, uint32_t{FNW_FILE_READ | FNW_FILE_WRITE});
    EXPECT_TRUE(spy.keys.empty());

    // A cut base, a cut raw name: the same.
    auto cut_base = pending("db", FNW_FILE_READ, FNW_RESOLVED_BASE, "/srv/app/data");
    cut_base->resolved_truncated = 1;
    EXPECT_TRUE(decider.decide(*cut_base));
    EXPECT_EQ(cut_base->verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(cut_base->missing, uint32_t{FNW_FILE_READ});

    auto cut_raw = pending("/srv/app/data/db", FNW_FILE_READ);
    cut_raw->path_truncated = 1;
    EXPECT_TRUE(decider.decide(*cut_raw));
    EXPECT_EQ(cut_raw->verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(cut_raw->missing, uint32_t{FNW_FILE_READ});
}

TEST(FileDecider, UnknownPolicyIsReportedNotActedOn) {
    RememberSpy spy;
    FileDecider decider = make_decider(spy, Mode::Enforce, ViolationAction::Kill);
    Child child;
    ASSERT_GT(child.pid(), 0);
    auto ev = pending_open("/etc/hosts", FNW_FILE_READ);  // granted by kPolicy, but:
    ev->hdr.policy_id = kPolicy + 1;
    ev->hdr.pid = static_cast<uint32_t>(child.pid());
    ev->access2 = FNW_FILE_CREATE;
    EXPECT_TRUE(decider.decide(*ev));
    EXPECT_EQ(ev->verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(ev->action, FNW_ACTION_REPORTED);
    EXPECT_EQ(ev->missing, uint32_t{FNW_FILE_READ | FNW_FILE_CREATE});
    EXPECT_EQ(decider.stats().unknown_policy, 1u);
    EXPECT_TRUE(spy.keys.empty());
    EXPECT_TRUE(child.alive());
}

// ---- held processes (files.bpf.c stops them until this verdict) -------------

// Which holds the decider ended, and what it answers about other threads.
struct HoldSpy {
    std::vector<std::pair<uint32_t, uint32_t>> ended;  // (tid, tgid)
    bool others_held = false;
    FileDecider::EndHold callback() {
        return [this](uint32_t tid, uint32_t tgid) {
            ended.emplace_back(tid, tgid);
            return others_held;
        };
    }
};

// Stops `child` as the kernel's hold does, and waits until it is stopped.
void hold(Child& child) {
    ASSERT_EQ(::kill(child.pid(), SIGSTOP), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(child.pid(), &status, WUNTRACED), child.pid());
    ASSERT_TRUE(WIFSTOPPED(status));
}

// Whether `child` was continued (SIGCONT) within a second.
bool continued(Child& child) {
    for (int i = 0; i < 200; ++i) {
        int status = 0;
        if (::waitpid(child.pid(), &status, WCONTINUED | WNOHANG) == child.pid() && WIFCONTINUED(status)) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
}

// A decider that can end holds, and a child the kernel "held" (stopped).
struct HeldChild {
    explicit HeldChild(Mode mode = Mode::Enforce)
        : decider(make_decider(spy, mode, ViolationAction::Kill)) {
        decider.on_hold_end(holds.callback());
        if (child.pid() > 0) hold(child);
    }
    // A held PENDING open of `path` by the child.
    std::unique_ptr<fnw_file_event> record(const char* path) {
        auto ev = pending_open(path, FNW_FILE_READ);
        child.own(ev->hdr);
        ev->held = 1;
        return ev;
    }
    RememberSpy spy;
    HoldSpy holds;
    FileDecider decider;
    Child child;
};

TEST(FileDecider, AHeldProcessGoesOnOnceItsLastHeldThreadIsAllowed) {
    RememberSpy spy;
    HoldSpy holds;
    FileDecider decider = make_decider(spy, Mode::Enforce, ViolationAction::Kill);
    decider.on_hold_end(holds.callback());
    Child child;
    ASSERT_GT(child.pid(), 0);
    hold(child);
    auto first = pending_open("/srv/app/a", FNW_FILE_READ);
    child.own(first->hdr);
    first->held = 1;
    holds.others_held = true;  // another thread of it still waits for its verdict
    EXPECT_FALSE(decider.decide(*first));
    EXPECT_FALSE(continued(child)) << "let go while a thread of it was still held";
    auto last = pending_open("/srv/app/b", FNW_FILE_READ);
    child.own(last->hdr);
    last->held = 1;
    holds.others_held = false;
    EXPECT_FALSE(decider.decide(*last));
    EXPECT_TRUE(continued(child));
    ASSERT_EQ(holds.ended.size(), 2u);
    EXPECT_EQ(holds.ended[1], std::make_pair(uint32_t(child.pid()), uint32_t(child.pid())));
    EXPECT_EQ(decider.stats().holds_released, 1u);
    EXPECT_TRUE(child.alive());
}

TEST(FileDecider, AHeldViolationIsKilledWhileHeld) {
    HeldChild held;
    ASSERT_GT(held.child.pid(), 0);
    auto ev = held.record("/etc/shadow");
    EXPECT_TRUE(held.decider.decide(*ev));
    EXPECT_EQ(ev->action, FNW_ACTION_KILLED);
    EXPECT_EQ(ev->mechanism, FNW_MECH_HELD_KILL);
    EXPECT_EQ(held.child.wait_for_signal(), SIGKILL);
    EXPECT_EQ(held.holds.ended.size(), 1u) << "its entry in holds ended";
    EXPECT_EQ(held.decider.stats().holds_killed, 1u);
}

TEST(FileDecider, AHeldReportOnlyViolationGoesOn) {
    HeldChild held(Mode::Audit);
    ASSERT_GT(held.child.pid(), 0);
    auto ev = held.record("/etc/shadow");
    EXPECT_TRUE(held.decider.decide(*ev));
    EXPECT_EQ(ev->action, FNW_ACTION_REPORTED);
    EXPECT_TRUE(continued(held.child)) << "audit: the kernel's hold must not outlast the verdict";
}

TEST(FileDecider, AHeldRecordNobodyCanDecideFailsClosed) {
    HeldChild held;
    ASSERT_GT(held.child.pid(), 0);
    auto ev = held.record("/etc/hosts");
    ev->hdr.policy_id = kPolicy + 1;  // a slot this decider never compiled
    EXPECT_TRUE(held.decider.decide(*ev));
    EXPECT_EQ(ev->action, FNW_ACTION_KILLED);
    EXPECT_EQ(held.child.wait_for_signal(), SIGKILL);
}

TEST(FileDecider, WithoutAWayToEndHoldsAHeldProcessIsKilled) {
    RememberSpy spy;
    FileDecider decider = make_decider(spy, Mode::Enforce, ViolationAction::Kill);
    Child child;
    ASSERT_GT(child.pid(), 0);
    hold(child);
    auto ev = pending_open("/srv/app/a", FNW_FILE_READ);  // allowed, but
    child.own(ev->hdr);
    ev->held = 1;
    decider.decide(*ev);
    EXPECT_EQ(child.wait_for_signal(), SIGKILL) << "its hold could never end: fail closed";
}

TEST(FileDecider, AHoldOlderThanTheBoundIsKilledAndEnded) {
    RememberSpy spy;
    HoldSpy holds;
    FileDecider decider = make_decider(spy, Mode::Enforce, ViolationAction::Kill);
    decider.on_hold_end(holds.callback());
    Child old_one, young_one;
    ASSERT_GT(old_one.pid(), 0);
    ASSERT_GT(young_one.pid(), 0);
    hold(old_one);
    hold(young_one);
    fnw_event_header a{}, b{};
    old_one.own(a);
    young_one.own(b);
    const auto held = [](const fnw_event_header& hdr, uint64_t held_ns) {
        return std::make_pair(hdr.tid, fnw_hold{held_ns, hdr.cgroup_id, hdr.pid, kPolicy});
    };
    const uint64_t now = a.boot_ns + 6'000'000'000ull;
    const auto expired = decider.expire_holds({held(a, a.boot_ns), held(b, now - 1'000'000'000ull)}, now,
                                              std::chrono::seconds(5));
    EXPECT_EQ(expired, 1u);
    EXPECT_EQ(old_one.wait_for_signal(), SIGKILL);
    EXPECT_TRUE(young_one.alive()) << "held for 1 s of a 5 s bound";
    ASSERT_EQ(holds.ended.size(), 1u);
    EXPECT_EQ(holds.ended[0].first, a.tid);
    EXPECT_EQ(decider.stats().holds_expired, 1u);
}

TEST(FileDecider, ForgottenPolicyIsUnknown) {
    RememberSpy spy;
    FileDecider decider = make_decider(spy);
    decider.forget(kPolicy);
    auto ev = pending_open("/etc/hosts", FNW_FILE_READ);
    EXPECT_TRUE(decider.decide(*ev));
    EXPECT_EQ(ev->verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(decider.stats().unknown_policy, 1u);
}

TEST(FileDecider, SetPolicyReplacesTheSlotAndKeepsItOnError) {
    RememberSpy spy;
    FileDecider decider = make_decider(spy);
    FunctionPolicy bad = sample_policy();
    bad.files.read = {"/etc/hosts", "not/absolute"};
    Status written = decider.set_policy(kPolicy, bad, Mode::Enforce);
    EXPECT_FALSE(written);
    const std::string error = written.error();
    EXPECT_FALSE(error.empty());
    auto ev = pending_open("/etc/hosts", FNW_FILE_READ);
    EXPECT_FALSE(decider.decide(*ev));  // the old slot still answers
    EXPECT_EQ(ev->verdict, FNW_VERDICT_ALLOWED);

    FunctionPolicy stricter = sample_policy();
    stricter.files.read = {"/srv/app/**"};
    ASSERT_TRUE(decider.set_policy(kPolicy, stricter, Mode::Enforce));
    auto again = pending_open("/etc/hosts", FNW_FILE_READ);
    EXPECT_TRUE(decider.decide(*again));
    EXPECT_EQ(again->verdict, FNW_VERDICT_VIOLATION);
}

// ---- acting on violations --------------------------------------------------

struct ActCase {
    Mode mode;
    ViolationAction on_violation;
    bool kills;
};

class FileDeciderAct : public ::testing::TestWithParam<ActCase> {};

TEST_P(FileDeciderAct, KillsOnlyWhenTheSectionActsInEnforceMode) {
    const ActCase c = GetParam();
    RememberSpy spy;
    FileDecider decider = make_decider(spy, c.mode, c.on_violation);
    Child child;
    ASSERT_GT(child.pid(), 0);
    auto ev = pending_open("/etc/shadow", FNW_FILE_READ);
    child.own(ev->hdr);
    EXPECT_TRUE(decider.decide(*ev));
    EXPECT_EQ(ev->verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(ev->missing, uint32_t{FNW_FILE_READ});
    if (c.kills) {
        EXPECT_EQ(ev->action, FNW_ACTION_KILLED);
        EXPECT_EQ(ev->mechanism, FNW_MECH_USER_KILL);
        EXPECT_EQ(child.wait_for_signal(), std::optional<int>(SIGKILL));
    } else {
        EXPECT_EQ(ev->action, FNW_ACTION_REPORTED);
        EXPECT_EQ(ev->mechanism, FNW_MECH_NONE);
        EXPECT_EQ(child.wait_for_signal(std::chrono::milliseconds(100)), std::nullopt);
        EXPECT_TRUE(child.alive());
    }
}

INSTANTIATE_TEST_SUITE_P(FileDeciderModes, FileDeciderAct,
                         ::testing::Values(ActCase{Mode::Enforce, ViolationAction::Kill, true},
                                           ActCase{Mode::Enforce, ViolationAction::Deny, true},
                                           ActCase{Mode::Enforce, ViolationAction::Report, false},
                                           ActCase{Mode::Audit, ViolationAction::Kill, false},
                                           ActCase{Mode::Audit, ViolationAction::Deny, false},
                                           ActCase{Mode::Audit, ViolationAction::Report, false}),
                         [](const ::testing::TestParamInfo<ActCase>& info) {
                             return std::string(info.param.mode == Mode::Audit ? "Audit" : "Enforce") +
                                    std::string(to_string(info.param.on_violation));
                         });

TEST(FileDecider, AllowedAccessNeverKills) {
    RememberSpy spy;
    FileDecider decider = make_decider(spy, Mode::Enforce, ViolationAction::Kill);
    Child child;
    ASSERT_GT(child.pid(), 0);
    auto ev = pending_open("/etc/hosts", FNW_FILE_READ);
    child.own(ev->hdr);
    EXPECT_FALSE(decider.decide(*ev));
    EXPECT_EQ(ev->verdict, FNW_VERDICT_ALLOWED);
    EXPECT_EQ(child.wait_for_signal(std::chrono::milliseconds(100)), std::nullopt);
    EXPECT_TRUE(child.alive());
}

// The kill is sent long after the event: the pid may belong to someone else
// by then. Only a process proven to be the event's (its cgroup, born before
// the event, pinned by a pidfd) is killed; anyone else is left alone and
// counted.
TEST(FileDecider, APidNowInAnotherCgroupIsNotKilled) {
    RememberSpy spy;
    FileDecider decider = make_decider(spy, Mode::Enforce, ViolationAction::Kill);
    Child child;
    ASSERT_GT(child.pid(), 0);
    auto ev = pending_open("/etc/shadow", FNW_FILE_READ);
    child.own(ev->hdr);
    ev->hdr.cgroup_id += 1;  // the event happened in another cgroup: not this process
    const auto before = ProcessHandle::stats();
    EXPECT_TRUE(decider.decide(*ev));
    EXPECT_EQ(ev->verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(ev->action, FNW_ACTION_REPORTED) << "not claimed killed";
    EXPECT_EQ(child.wait_for_signal(std::chrono::milliseconds(200)), std::nullopt);
    EXPECT_TRUE(child.alive()) << "an innocent process holding the pid was killed";
    const auto after = ProcessHandle::stats();
    EXPECT_EQ(after.kill_target_gone, before.kill_target_gone + 1);
    EXPECT_EQ(after.not_the_event_process, before.not_the_event_process + 1);
    EXPECT_EQ(after.kills, before.kills);
}

TEST(FileDecider, APidReusedAfterTheEventIsNotKilled) {
    RememberSpy spy;
    FileDecider decider = make_decider(spy, Mode::Enforce, ViolationAction::Kill);
    // The event, then (20 ms later: past a clock tick) a process with its pid.
    timespec ts{};
    clock_gettime(CLOCK_BOOTTIME, &ts);
    const uint64_t event_ns = uint64_t(ts.tv_sec) * 1'000'000'000ull + uint64_t(ts.tv_nsec);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    Child child;
    ASSERT_GT(child.pid(), 0);
    auto ev = pending_open("/etc/shadow", FNW_FILE_READ);
    child.own(ev->hdr);  // same cgroup...
    ev->hdr.boot_ns = event_ns;  // ...but born after the event
    const auto before = ProcessHandle::stats();
    EXPECT_TRUE(decider.decide(*ev));
    EXPECT_EQ(ev->action, FNW_ACTION_REPORTED);
    EXPECT_EQ(child.wait_for_signal(std::chrono::milliseconds(200)), std::nullopt);
    EXPECT_TRUE(child.alive());
    EXPECT_EQ(ProcessHandle::stats().not_the_event_process, before.not_the_event_process + 1);
}

TEST(FileDecider, NetworkAndKernelDecidedKillsGoThroughTheSameProof) {
    // respond_to_record's own kills (network, kernel-decided files).
    Child innocent;
    ASSERT_GT(innocent.pid(), 0);
    fnw_net_event net{};
    net.hdr.type = FNW_EVENT_NET;
    net.hdr.size = sizeof(net);
    innocent.own(net.hdr);
    net.hdr.cgroup_id += 1;
    net.verdict = FNW_VERDICT_VIOLATION;
    net.action = FNW_ACTION_DENIED;
    KillOnViolation kill;
    kill.network = true;
    uint8_t action = 0;
    respond_to_record(std::span(reinterpret_cast<const std::byte*>(&net), sizeof(net)), kill,
                      [&](std::span<const std::byte> r) {
                          std::memcpy(&action, r.data() + offsetof(fnw_net_event, action), 1);
                      });
    EXPECT_EQ(action, FNW_ACTION_DENIED) << "not claimed killed";
    EXPECT_EQ(innocent.wait_for_signal(std::chrono::milliseconds(200)), std::nullopt);
    EXPECT_TRUE(innocent.alive());

    Child guilty;
    ASSERT_GT(guilty.pid(), 0);
    guilty.own(net.hdr);
    respond_to_record(std::span(reinterpret_cast<const std::byte*>(&net), sizeof(net)), kill,
                      [&](std::span<const std::byte> r) {
                          std::memcpy(&action, r.data() + offsetof(fnw_net_event, action), 1);
                      });
    EXPECT_EQ(action, FNW_ACTION_KILLED);
    EXPECT_EQ(guilty.wait_for_signal(), std::optional<int>(SIGKILL));
}

TEST(FileDecider, AProcessAlreadyGoneIsReportedNotKilled) {
    RememberSpy spy;
    FileDecider decider = make_decider(spy, Mode::Enforce, ViolationAction::Kill);
    auto ev = pending_open("/etc/shadow", FNW_FILE_READ);
    ev->hdr.pid = kNoSuchPid;
    EXPECT_TRUE(decider.decide(*ev));
    EXPECT_EQ(ev->verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(ev->action, FNW_ACTION_REPORTED);
    EXPECT_EQ(ev->mechanism, FNW_MECH_NONE);
}

// ---- renames: two names, two sections ----------------------------------------

TEST(FileDecider, RenameWithBothNamesGrantedIsAllowed) {
    RememberSpy spy;
    FileDecider decider = make_decider(spy);
    // delete /srv/app/data/*, create /srv/app/data/out/*
    auto absolute = pending_rename("/srv/app/data/part", "/srv/app/data/out/final");
    EXPECT_FALSE(decider.decide(*absolute));
    EXPECT_EQ(absolute->verdict, FNW_VERDICT_ALLOWED);
    EXPECT_EQ(absolute->missing, 0u);

    // Relative to the cwd for both names (rename(2)): the kernel's base
    // serves the new name too.
    auto relative = pending_rename("part", "out/final", FNW_RESOLVED_BASE, "/srv/app/data");
    EXPECT_FALSE(decider.decide(*relative));
    EXPECT_EQ(relative->verdict, FNW_VERDICT_ALLOWED);
    EXPECT_EQ(decider.stats().allowed, 2u);
    EXPECT_TRUE(spy.keys.empty());  // no object, nothing to remember
}

TEST(FileDecider, RenameToAnUngrantedNameMissesOnlyCreate) {
    RememberSpy spy;
    FileDecider decider = make_decider(spy);
    // The old name may be deleted, the new one is outside create's patterns.
    auto absolute = pending_rename("/srv/app/data/part", "/srv/app/data/final");
    EXPECT_TRUE(decider.decide(*absolute));
    EXPECT_EQ(absolute->verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(absolute->missing, uint32_t{FNW_FILE_CREATE});

    auto relative = pending_rename("part", "../../../etc/cron.d/job", FNW_RESOLVED_BASE, "/srv/app/data");
    EXPECT_TRUE(decider.decide(*relative));
    EXPECT_EQ(relative->verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(relative->missing, uint32_t{FNW_FILE_CREATE});
}

TEST(FileDecider, RenameChecksEachNameAgainstItsOwnSection) {
    RememberSpy spy;
    FileDecider decider(spy.callback());
    FunctionPolicy policy;
    policy.files.restricted = true;
    policy.files.create = {"/a/*"};
    policy.files.remove = {"/b/*"};
    ASSERT_TRUE(decider.set_policy(kPolicy, policy, Mode::Enforce));

    auto right_way = pending_rename("/b/x", "/a/x");
    EXPECT_FALSE(decider.decide(*right_way));
    EXPECT_EQ(right_way->verdict, FNW_VERDICT_ALLOWED);

    // Swapped: /a/x may be created, not deleted; /b/x deleted, not created.
    auto swapped = pending_rename("/a/x", "/b/x");
    EXPECT_TRUE(decider.decide(*swapped));
    EXPECT_EQ(swapped->verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(swapped->missing, uint32_t{FNW_FILE_DELETE | FNW_FILE_CREATE});

    // Only the old name wrong.
    auto old_wrong = pending_rename("/c/x", "/a/x");
    EXPECT_TRUE(decider.decide(*old_wrong));
    EXPECT_EQ(old_wrong->missing, uint32_t{FNW_FILE_DELETE});
}

TEST(FileDecider, TruncatedNewNameFailsClosed) {
    RememberSpy spy;
    FileDecider decider = make_decider(spy);
    auto ev = pending_rename("/srv/app/data/part", "/srv/app/data/out/final");
    ev->path2_truncated = 1;
    EXPECT_TRUE(decider.decide(*ev));
    EXPECT_EQ(ev->verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(ev->missing, uint32_t{FNW_FILE_CREATE});
}

// The new name's base is not the decider's to read (it used to readlink
// /proc/PID/cwd itself, at decision time): the resolver
// (runtime/path_resolver) puts both canonical names in the record before
// the decider runs (respond_to_record). Without them, it fails closed.
TEST(FileDecider, NewNameWithoutABaseIsDecidedFromTheResolvedNames) {
    RememberSpy spy;
    FileDecider decider(spy.callback());
    FunctionPolicy policy;
    policy.files.restricted = true;
    policy.files.remove = {"/srv/old"};
    policy.files.create = {"/srv/cwd/new-name"};
    ASSERT_TRUE(decider.set_policy(kPolicy, policy, Mode::Audit));

    auto unresolved = pending_rename("/srv/old", "new-name");
    EXPECT_TRUE(decider.decide(*unresolved));
    EXPECT_EQ(unresolved->missing, uint32_t{FNW_FILE_CREATE}) << "no base: fails closed";

    auto ev = pending_rename("/srv/old", "new-name");
    ev->resolved_kind = FNW_RESOLVED_USER;
    const char both[] = "/srv/old\0/srv/cwd/new-name";
    std::memcpy(ev->resolved, both, sizeof(both));
    EXPECT_FALSE(decider.decide(*ev));
    EXPECT_EQ(ev->verdict, FNW_VERDICT_ALLOWED);

    auto elsewhere = pending_rename("/srv/old", "other-name");
    elsewhere->resolved_kind = FNW_RESOLVED_USER;
    const char other[] = "/srv/old\0/srv/cwd/other-name";
    std::memcpy(elsewhere->resolved, other, sizeof(other));
    EXPECT_TRUE(decider.decide(*elsewhere));
    EXPECT_EQ(elsewhere->missing, uint32_t{FNW_FILE_CREATE});
}

// Regression (found in review): the new name of a rename relative to a
// base the kernel could not walk whole is built on that cut base, yet it is
// matched as if it were whole: only the old name fails closed.
TEST(FileDecider, NewNameOnATruncatedBaseFailsClosed) {
    RememberSpy spy;
    FileDecider decider = make_decider(spy);
    auto ev = pending_rename("part", "out/final", FNW_RESOLVED_BASE, "/srv/app/data");
    ev->nr = SYS_renameat2;
    ev->resolved_truncated = 1;
    EXPECT_TRUE(decider.decide(*ev));
    EXPECT_EQ(ev->verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(ev->missing, uint32_t{FNW_FILE_DELETE | FNW_FILE_CREATE});
}

// Regression (found in review): renameat/renameat2 take a second
// directory fd for the new name (once not recorded at all), and
// a relative new name must not be resolved against the old name's
// directory. renameat(dirfd_of("/srv/app/data"), "part", other_dirfd,
// "out/final") really creates <other_dir>/out/final. The record carries
// newdirfd (dfd2); the process is gone, so /proc cannot resolve it and the
// create fails closed.
TEST(FileDecider, RenameatNewNameIsNotAssumedInTheOldDirectory) {
    RememberSpy spy;
    FileDecider decider = make_decider(spy);
    auto ev = pending_rename("part", "out/final", FNW_RESOLVED_BASE, "/srv/app/data");
    ev->nr = SYS_renameat;
    ev->dfd = 5;   // olddirfd
    ev->dfd2 = 6;  // newdirfd: another directory
    EXPECT_TRUE(decider.decide(*ev));
    EXPECT_EQ(ev->verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(ev->missing, uint32_t{FNW_FILE_CREATE});
}

// Regression (found in review): a rename whose new name the probe could
// not read (bpf_probe_read_user_str failed at sys_exit: path2 left empty,
// access2 still FNW_FILE_CREATE) is allowed without the create ever being
// checked. A rename always has a new name: an empty one is an unknown one,
// and the create must fail closed like a truncated name does.
TEST(FileDecider, UnreadableNewNameFailsClosed) {
    RememberSpy spy;
    FileDecider decider = make_decider(spy);
    auto ev = pending_rename("/srv/app/data/part", "");
    ASSERT_EQ(ev->access2, uint32_t{FNW_FILE_CREATE});
    EXPECT_TRUE(decider.decide(*ev));
    EXPECT_EQ(ev->verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(ev->missing, uint32_t{FNW_FILE_CREATE});
}

TEST(FileDecider, StatsCountEachOutcome) {
    RememberSpy spy;
    FileDecider decider = make_decider(spy);
    auto a = pending_open("/etc/hosts", FNW_FILE_READ);             // allowed, remembered
    auto b = pending("/srv/app/data/db", FNW_FILE_WRITE);            // allowed, no object
    auto c = pending_open("/etc/shadow", FNW_FILE_READ);            // violation
    auto d = pending_open("/srv/app/x", FNW_FILE_WRITE);            // violation
    auto e = pending_open("/etc/hosts", FNW_FILE_READ);             // unknown policy
    e->hdr.policy_id = 1000;
    auto f = pending_open("/etc/shadow", FNW_FILE_READ);            // decided by the kernel
    f->verdict = FNW_VERDICT_VIOLATION;
    for (auto* ev : {a.get(), b.get(), c.get(), d.get(), e.get(), f.get()}) decider.decide(*ev);
    EXPECT_EQ(decider.stats().allowed, 2u);
    EXPECT_EQ(decider.stats().remembered, 1u);
    EXPECT_EQ(decider.stats().violations, 2u);
    EXPECT_EQ(decider.stats().unknown_policy, 1u);
}

// ---- respond_to_record with a decider ---------------------------------------

std::span<const std::byte> bytes(const fnw_file_event& ev) {
    return {reinterpret_cast<const std::byte*>(&ev), sizeof(ev)};
}

// What reached `next`: a copy of every record.
struct NextSpy {
    std::vector<std::unique_ptr<fnw_file_event>> files;
    size_t calls = 0;
    RecordHandler handler() {
        return [this](std::span<const std::byte> record) {
            ++calls;
            if (record.size() == sizeof(fnw_file_event)) {
                auto copy = std::make_unique<fnw_file_event>();
                std::memcpy(copy.get(), record.data(), sizeof(*copy));
                files.push_back(std::move(copy));
            }
        };
    }
};

TEST(RespondToRecordFiles, AllowedUntracedPendingEndsHere) {
    RememberSpy spy;
    FileDecider decider = make_decider(spy);
    NextSpy next;
    auto ev = pending_open("/etc/hosts", FNW_FILE_READ);
    respond_to_record(bytes(*ev), KillOnViolation{}, next.handler(), &decider);
    EXPECT_EQ(next.calls, 0u);
    EXPECT_EQ(spy.keys.size(), 1u);  // decided, and remembered
    EXPECT_EQ(ev->verdict, FNW_VERDICT_PENDING);  // the caller's record is not written
}

TEST(RespondToRecordFiles, AllowedTracedPendingGoesOnAllowed) {
    RememberSpy spy;
    FileDecider decider = make_decider(spy);
    NextSpy next;
    auto ev = pending_open("/etc/hosts", FNW_FILE_READ);
    ev->traced = 1;
    respond_to_record(bytes(*ev), KillOnViolation{}, next.handler(), &decider);
    ASSERT_EQ(next.calls, 1u);
    ASSERT_EQ(next.files.size(), 1u);
    EXPECT_EQ(next.files[0]->verdict, FNW_VERDICT_ALLOWED);
    EXPECT_EQ(next.files[0]->action, FNW_ACTION_NONE);
    EXPECT_EQ(std::string(next.files[0]->resolved), "/etc/hosts");
}

TEST(RespondToRecordFiles, PendingViolationGoesOnAsAViolation) {
    RememberSpy spy;
    FileDecider decider = make_decider(spy);
    NextSpy next;
    auto ev = pending_open("/srv/app/main.py", FNW_FILE_READ | FNW_FILE_WRITE);
    respond_to_record(bytes(*ev), KillOnViolation{}, next.handler(), &decider);
    ASSERT_EQ(next.files.size(), 1u);
    EXPECT_EQ(next.files[0]->verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(next.files[0]->action, FNW_ACTION_REPORTED);
    EXPECT_EQ(next.files[0]->missing, uint32_t{FNW_FILE_WRITE});
    EXPECT_EQ(decider.stats().violations, 1u);
}

TEST(RespondToRecordFiles, PendingWithoutADeciderIsReportedAsAViolation) {
    NextSpy next;
    auto ev = pending_rename("/srv/app/data/part", "/srv/app/data/out/final");
    respond_to_record(bytes(*ev), KillOnViolation{}, next.handler(), nullptr);
    ASSERT_EQ(next.files.size(), 1u);
    EXPECT_EQ(next.files[0]->verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(next.files[0]->action, FNW_ACTION_REPORTED);
    EXPECT_EQ(next.files[0]->missing, uint32_t{FNW_FILE_DELETE | FNW_FILE_CREATE});
}

TEST(RespondToRecordFiles, DecidedRecordsSkipTheDecider) {
    RememberSpy spy;
    FileDecider decider = make_decider(spy);
    NextSpy next;
    auto ev = pending_open("/etc/hosts", FNW_FILE_READ);
    ev->verdict = FNW_VERDICT_ALLOWED;
    ev->traced = 1;
    respond_to_record(bytes(*ev), KillOnViolation{}, next.handler(), &decider);
    ASSERT_EQ(next.files.size(), 1u);
    EXPECT_TRUE(same_bytes(*next.files[0], *ev));
    EXPECT_TRUE(spy.keys.empty());
    EXPECT_EQ(decider.stats().allowed, 0u);
}

}  // namespace
}  // namespace fnw
