// SPDX-License-Identifier: Apache-2.0
// The lineage the kernel remembers for each task (lineage_memo, bpf/emit.bpf.h)
// against userspace's writes to monitored_cgroups. A task's lineage names its
// ancestors up to the first whose cgroup is under another policy or none: a
// registration that changes an ancestor's cgroup moves no task and ends no
// process, so only ProbeSet::monitored_cgroups_changed tells the kernel that what it
// remembered is stale. The exits and migrations are syscall_probe_test.cpp's.
#include <fcntl.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <fnwarden/events.h>

#include "common/unique_fd.hpp"
#include "handshake.hpp"
#include "probe_fixture.hpp"
#include "probes/ring_buffer_consumer.hpp"
#include "runtime/cgroup.hpp"
#include "../helpers/compile_policy.hpp"

namespace fnw {
namespace {

using test::policy_denying;

// A parent P in cgroup A and its child T in cgroup B, T traced under
// kPolicy: every getppid of T is a record from fnw_sys_enter, the program
// that recalls the remembered lineage. T makes one per byte the test writes,
// so the test knows which records come before a registration and which
// after. P's policy is whatever the test gives A.
//
// Each test changes A's entry between two of T's records, with no exit and
// no migration of its own in between, in several rounds. The kernel moves
// the epoch at every exit on the host too: a round whose window an unrelated
// exit happens to fall in cannot tell a missing bump from a present one, so
// the test counts the stale rounds rather than trusting one. Before each
// round's first record the test ends a process of its own: that record walks
// afresh whatever undid the previous round's change.
class LineageMemoTest : public test::ProbeTest {
protected:
    static constexpr uint32_t kPolicy = 31;       // T's
    static constexpr uint32_t kOtherPolicy = 32;  // another function's
    static constexpr int kRounds = 8;

    void SetUp() override {
        ProbeTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        const fnw_policy policy =
            compile_kernel_policy(policy_denying({SYS_getpgid}, ViolationAction::Report), Mode::Audit);
        ASSERT_TRUE(probes_->set_policy(kPolicy, policy));
        ASSERT_TRUE(probes_->set_policy(kOtherPolicy, policy));
        const std::string tag = std::to_string(getpid());
        auto a = CgroupDir::create(cgroup_parent_ / ("lineage-parent-" + tag));
        ASSERT_TRUE(a.ok()) << a.error();
        parent_cgroup_.emplace(std::move(a.value()));
        auto b = CgroupDir::create(cgroup_parent_ / ("lineage-task-" + tag));
        ASSERT_TRUE(b.ok()) << b.error();
        task_cgroup_.emplace(std::move(b.value()));

        consumer_ = RingBufferConsumer::create(probes_->ringbuf_fds(), [this](std::span<const std::byte> rec) {
            fnw_event_header hdr{};
            ASSERT_GE(rec.size(), sizeof(hdr));
            std::memcpy(&hdr, rec.data(), sizeof(hdr));
            if (hdr.type != FNW_EVENT_SYSCALL) return;
            ASSERT_EQ(rec.size(), sizeof(fnw_syscall_event));
            fnw_syscall_event ev{};
            std::memcpy(&ev, rec.data(), sizeof(ev));
            if (ev.nr != static_cast<uint32_t>(SYS_getppid)) return;
            if (hdr.pid == static_cast<uint32_t>(task_))
                getppids_.push_back(ev);
            else
                others_getppids_.push_back(ev);
        });
        ASSERT_TRUE(consumer_);

        start_family();
        if (HasFatalFailure()) return;
        Status moved = parent_cgroup_->add_process(parent_);
        ASSERT_TRUE(moved) << moved.error();
        moved = task_cgroup_->add_process(task_);
        ASSERT_TRUE(moved) << moved.error();
        ASSERT_TRUE(probes_->monitor_cgroup(task_cgroup_->id(), fnw_cgroup_entry{kPolicy, FNW_CGROUP_TRACE}));
    }

    // T reads end of file and exits, then P, which waits for it.
    void TearDown() override {
        commands_.reset();
        if (parent_ <= 0) return;
        UniqueFd pidfd = test::open_pidfd(parent_);
        if (!pidfd.valid() || !test::wait_for_exit(pidfd.get(), std::chrono::seconds(10))) {
            ADD_FAILURE() << "the traced task's parent did not exit";
            ::kill(parent_, SIGKILL);
        }
        int status = 0;
        ::waitpid(parent_, &status, 0);
    }

    // P forks T and reports T's pid; T makes a getppid per byte it reads.
    // Between fork and _exit, only async-signal-safe calls.
    void start_family() {
        int commands[2], report[2];
        ASSERT_EQ(::pipe2(commands, O_CLOEXEC), 0);
        ASSERT_EQ(::pipe2(report, O_CLOEXEC), 0);
        parent_ = ::fork();
        ASSERT_GE(parent_, 0);
        if (parent_ == 0) {
            ::close(commands[1]);
            ::close(report[0]);
            const pid_t task = ::fork();
            if (task == 0) {
                ::close(report[1]);
                char c;
                while (::read(commands[0], &c, 1) == 1) ::syscall(SYS_getppid);
                ::_exit(0);
            }
            ::close(commands[0]);
            if (task < 0 || ::write(report[1], &task, sizeof(task)) != sizeof(task)) ::_exit(1);
            ::close(report[1]);
            int status = 0;
            while (::waitpid(task, &status, 0) < 0 && errno == EINTR) {
            }
            ::_exit(0);
        }
        ::close(commands[0]);
        ::close(report[1]);
        commands_.reset(commands[1]);
        UniqueFd reported(report[0]);
        ASSERT_EQ(::read(reported.get(), &task_, sizeof(task_)), static_cast<ssize_t>(sizeof(task_)))
            << "the parent did not report the task it forked";
    }

    // T's next getppid, as the kernel reported it; the ring is polled until
    // it is there, with a bound.
    std::optional<fnw_syscall_event> next_record() {
        if (::write(commands_.get(), "g", 1) != 1) return std::nullopt;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (getppids_.size() <= taken_) {
            if (consumer_->drain() < 0 || std::chrono::steady_clock::now() > deadline) return std::nullopt;
        }
        return getppids_[taken_++];
    }

    // An exit of the test's own: the kernel moves the epoch at
    // sched_process_exit, before the child can be reaped.
    static void end_a_process() {
        const pid_t child = ::fork();
        ASSERT_GE(child, 0);
        if (child == 0) ::_exit(0);
        int status = 0;
        ASSERT_EQ(::waitpid(child, &status, 0), child);
    }

    static std::vector<uint32_t> lineage_of(const fnw_syscall_event& ev) {
        return {ev.hdr.lineage, ev.hdr.lineage + std::min<uint32_t>(ev.hdr.lineage_len, FNW_LINEAGE_MAX)};
    }

    // Rounds of: `undo` (A's entry as it was), a record with lineage
    // `before`, `change`, a record that must have lineage `after`. Returns
    // how many rounds' second record still had `before`'s.
    template <typename Undo, typename Change>
    int stale_rounds(Undo undo, Change change, const std::vector<uint32_t>& before, const std::vector<uint32_t>& after) {
        int stale = 0;
        for (int round = 0; round < kRounds; ++round) {
            undo();
            end_a_process();
            if (HasFatalFailure()) return -1;
            auto first = next_record();
            if (!first) {
                ADD_FAILURE() << "round " << round << ": no record of T's getppid";
                return -1;
            }
            EXPECT_EQ(first->hdr.ppid, static_cast<uint32_t>(parent_));
            if (lineage_of(*first) != before) {
                ADD_FAILURE() << "round " << round << ": the record before the change has the wrong lineage";
                return -1;
            }
            change();
            if (HasFatalFailure()) return -1;
            auto second = next_record();
            if (!second) {
                ADD_FAILURE() << "round " << round << ": no record of T's getppid after the change";
                return -1;
            }
            EXPECT_EQ(second->hdr.ppid, static_cast<uint32_t>(parent_));
            EXPECT_EQ(second->hdr.cgroup_id, task_cgroup_->id());
            if (lineage_of(*second) == before)
                ++stale;
            else
                EXPECT_EQ(lineage_of(*second), after) << "round " << round;
        }
        return stale;
    }

    std::vector<uint32_t> parent_only() const { return {static_cast<uint32_t>(parent_)}; }

    std::optional<CgroupDir> parent_cgroup_;  // A: P's
    std::optional<CgroupDir> task_cgroup_;    // B: T's, traced under kPolicy
    std::unique_ptr<RingBufferConsumer> consumer_;
    std::vector<fnw_syscall_event> getppids_;  // T's, in arrival order
    std::vector<fnw_syscall_event> others_getppids_;  // every other traced task's
    size_t taken_ = 0;
    UniqueFd commands_;  // a byte: one getppid of T's
    pid_t parent_ = -1;
    pid_t task_ = -1;
};

TEST_F(LineageMemoTest, ARunningTasksLineageGrowsWhenItsParentsCgroupIsMonitoredUnderItsPolicy) {
    const uint64_t a = parent_cgroup_->id();
    const int stale = stale_rounds([&] { probes_->unmonitor_cgroup(a); },
                                   [&] { ASSERT_TRUE(probes_->monitor_cgroup(a, fnw_cgroup_entry{kPolicy, 0})); },
                                   {}, parent_only());
    EXPECT_EQ(stale, 0) << "of " << kRounds << " records after monitor_cgroup, " << stale
                        << " left out the parent now in the function";
}

TEST_F(LineageMemoTest, ARunningTasksLineageShrinksWhenItsParentsCgroupIsUnmonitored) {
    const uint64_t a = parent_cgroup_->id();
    const int stale = stale_rounds([&] { ASSERT_TRUE(probes_->monitor_cgroup(a, fnw_cgroup_entry{kPolicy, 0})); },
                                   [&] { ASSERT_TRUE(probes_->unmonitor_cgroup(a)); }, parent_only(), {});
    EXPECT_EQ(stale, 0) << "of " << kRounds << " records after unmonitor_cgroup, " << stale
                        << " named the parent no longer in the function";
}

// What a policy reload does to every cgroup of a function (PolicyTable):
// here only A is under kOtherPolicy, so only P joins T's function.
TEST_F(LineageMemoTest, ARunningTasksLineageGrowsWhenItsParentsCgroupIsRetargetedToItsPolicy) {
    const uint64_t a = parent_cgroup_->id();
    const int stale = stale_rounds(
        [&] { ASSERT_TRUE(probes_->monitor_cgroup(a, fnw_cgroup_entry{kOtherPolicy, 0})); },
        [&] { ASSERT_EQ(probes_->retarget_cgroups(kOtherPolicy, kPolicy), 1u); }, {}, parent_only());
    EXPECT_EQ(stale, 0) << "of " << kRounds << " records after retarget_cgroups, " << stale
                        << " left out the parent now in the function";
}

// fnw_sys_enter looks a lineage up in lineage_last (bpf/maps.bpf.h), one per
// CPU, before the task's storage. Two traced tasks of one function that take
// turns on one CPU, C and its child G, must each get their own: a slot
// recalled for the wrong task names the other's parent. C's parent is this
// test, outside every function (no lineage); G's is C.
TEST_F(LineageMemoTest, TwoTasksTakingTurnsOnOneCpuEachGetTheirOwnLineage) {
    constexpr int kTurns = 40;
    int start[2], to_c[2], to_g[2], to_c_back[2];
    for (int* p : {start, to_c, to_g, to_c_back}) ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    const pid_t c = ::fork();
    ASSERT_GE(c, 0);
    if (c == 0) {
        // Only async-signal-safe calls until _exit.
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(0, &one);
        char byte;
        // C's read of to_c ends when the test closes its end: no other may stay open.
        ::close(to_c[1]);
        ::close(start[1]);
        if (::sched_setaffinity(0, sizeof(one), &one) != 0 || ::read(start[0], &byte, 1) != 1) ::_exit(1);
        const pid_t g = ::fork();  // born in C's cgroup, on C's CPU
        if (g == 0) {
            ::close(to_g[1]);
            while (::read(to_g[0], &byte, 1) == 1) {
                ::syscall(SYS_getppid);
                if (::write(to_c_back[1], &byte, 1) != 1) ::_exit(1);
            }
            ::_exit(0);
        }
        ::close(to_g[0]);
        while (g > 0 && ::read(to_c[0], &byte, 1) == 1) {
            ::syscall(SYS_getppid);
            if (::write(to_g[1], &byte, 1) != 1 || ::read(to_c_back[0], &byte, 1) != 1) ::_exit(1);
        }
        ::close(to_g[1]);
        int status = 0;
        while (g > 0 && ::waitpid(g, &status, 0) < 0 && errno == EINTR) {
        }
        ::_exit(g > 0 ? 0 : 1);
    }
    for (int fd : {start[0], to_c[0], to_g[0], to_g[1], to_c_back[0], to_c_back[1]}) ::close(fd);
    UniqueFd go(start[1]), turns(to_c[1]);
    Status moved = task_cgroup_->add_process(c);
    EXPECT_TRUE(moved) << moved.error();
    if (moved) {
        EXPECT_EQ(::write(go.get(), "g", 1), 1);
        for (int turn = 0; turn < kTurns; ++turn) EXPECT_EQ(::write(turns.get(), "t", 1), 1);
    }
    go.reset();
    turns.reset();
    int status = 0;
    ASSERT_EQ(::waitpid(c, &status, 0), c);
    ASSERT_TRUE(moved);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "C or G failed: status " << status;

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (others_getppids_.size() < 2u * kTurns && std::chrono::steady_clock::now() < deadline)
        ASSERT_GE(consumer_->drain(), 0);
    ASSERT_EQ(others_getppids_.size(), 2u * kTurns) << "records of C's and G's getppid calls";
    int cs = 0, gs = 0, wrong = 0;
    for (const fnw_syscall_event& ev : others_getppids_) {
        const bool of_c = ev.hdr.pid == static_cast<uint32_t>(c);
        const std::vector<uint32_t> expected = of_c ? std::vector<uint32_t>{} : std::vector<uint32_t>{uint32_t(c)};
        const uint32_t expected_ppid = of_c ? static_cast<uint32_t>(::getpid()) : static_cast<uint32_t>(c);
        (of_c ? cs : gs)++;
        if (ev.hdr.ppid != expected_ppid || lineage_of(ev) != expected) ++wrong;
    }
    EXPECT_EQ(cs, kTurns);
    EXPECT_EQ(gs, kTurns);
    EXPECT_EQ(wrong, 0) << "of " << 2 * kTurns << " records, " << wrong << " named the other task's parent or lineage";
}

// The dispatchers keep a copy of the last cgroup entry they found on each
// CPU (cgroup_last, bpf/policy.bpf.h), good while cgroups_epoch has not
// moved. A task pinned to one CPU whose own cgroup's entry is rewritten
// between two of its syscalls must see the new entry at the second: here
// its trace flag, on and off in turns. Without ProbeSet::monitor_cgroup's
// monitored_cgroups_changed() move of cgroups_epoch every "off" round is still traced.
TEST_F(LineageMemoTest, ATasksNextSyscallSeesItsCgroupsEntryRewritten) {
    constexpr int kRounds = 8;
    int commands[2], acks[2];
    ASSERT_EQ(::pipe2(commands, O_CLOEXEC), 0);
    ASSERT_EQ(::pipe2(acks, O_CLOEXEC), 0);
    const pid_t x = ::fork();
    ASSERT_GE(x, 0);
    if (x == 0) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(0, &one);
        ::close(commands[1]);
        ::close(acks[0]);
        char byte;
        if (::sched_setaffinity(0, sizeof(one), &one) != 0) ::_exit(1);
        while (::read(commands[0], &byte, 1) == 1) {
            ::syscall(SYS_getppid);
            if (::write(acks[1], &byte, 1) != 1) ::_exit(1);
        }
        ::_exit(0);
    }
    ::close(commands[0]);
    ::close(acks[1]);
    UniqueFd command(commands[1]), ack(acks[0]);
    Status moved = task_cgroup_->add_process(x);
    ASSERT_TRUE(moved) << moved.error();
    // One getppid of X's; how many records of it the ring then holds (it
    // was submitted before X acknowledged).
    auto records_of_one_call = [&]() -> long {
        const size_t before = others_getppids_.size();
        char byte = 'g';
        if (::write(command.get(), &byte, 1) != 1 || ::read(ack.get(), &byte, 1) != 1) return -1;
        if (consumer_->drain() < 0) return -1;
        return static_cast<long>(others_getppids_.size() - before);
    };
    int stale = 0;
    for (int round = 0; round < kRounds; ++round) {
        ASSERT_TRUE(probes_->monitor_cgroup(task_cgroup_->id(), fnw_cgroup_entry{kPolicy, FNW_CGROUP_TRACE}));
        const long traced = records_of_one_call();
        ASSERT_EQ(traced, 1) << "round " << round << ": the call while traced";
        ASSERT_TRUE(probes_->monitor_cgroup(task_cgroup_->id(), fnw_cgroup_entry{kPolicy, 0}));
        const long untraced = records_of_one_call();
        ASSERT_GE(untraced, 0) << "round " << round;
        if (untraced != 0) ++stale;
    }
    command.reset();
    int status = 0;
    ASSERT_EQ(::waitpid(x, &status, 0), x);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
    EXPECT_EQ(stale, 0) << "of " << kRounds << " calls made after the trace flag was cleared, " << stale
                        << " were still traced";
}

}  // namespace
}  // namespace fnw
