// SPDX-License-Identifier: Apache-2.0
// A full ring buffer must not be a way past the policy (docs/threat-model.md,
// "Flooding the ring buffer"):
//  - an access only fnwarden could decide (a glob: FNW_VERDICT_PENDING)
//    whose record finds no room is killed in enforce mode (fail_closed_kills)
//    and counted as the function's coverage gap in audit;
//  - violations and cgroup births have their own ring (alerts): another
//    function's flood of traced records cannot crowd them out.
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <fnwarden/events.h>

#include "probe_fixture.hpp"
#include "probes/ring_buffer_consumer.hpp"
#include "../helpers/compile_policy.hpp"

namespace fnw::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class FailClosedFloodTest : public ProbeTest {
protected:
    // A small events ring that is never woken: the consumer drains it on its
    // timer only, so a traced flood keeps it full. The alerts ring keeps its
    // default size.
    void SetUp() override {
        ProbeOptions tiny;
        tiny.ringbuf_bytes = 64u << 10;
        tiny.ringbuf_wakeup_bytes = UINT64_MAX;
        load(tiny);
        if (IsSkipped() || HasFatalFailure()) return;
        char tmpl[] = "/tmp/fnw-flood-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = fs::canonical(tmpl);
        for (int i = 0; i < kRounds; ++i) std::ofstream(file(i)) << "x\n";
    }
    void TearDown() override {
        std::error_code ec;
        if (!dir_.empty()) fs::remove_all(dir_, ec);
    }

    static constexpr int kRounds = 8;
    fs::path file(int i) const { return dir_ / ("f" + std::to_string(i) + ".txt"); }

    // The loader's files by inode (decided in the kernel), the test's files
    // only by a glob: each first read of one is FNW_VERDICT_PENDING.
    FunctionPolicy glob_policy(ViolationAction action) const {
        FunctionPolicy p = policy_denying({}, ViolationAction::Report);
        p.files.restricted = true;
        p.files.read = {"/usr/**", "/lib/**", "/lib64/**", "/etc/ld.so.cache", dir_.string() + "/*.txt"};
        p.files.on_violation = action;
        return p;
    }

    // Traced getppid floods, each followed by the read of a file only the
    // glob allows: the read's record meets a full events ring.
    std::vector<std::string> flood_and_read() const {
        std::vector<std::string> steps;
        for (int i = 0; i < kRounds; ++i) {
            steps.push_back("repeat-getppid:3000");
            steps.push_back("read:" + file(i).string());
        }
        return steps;
    }

    fs::path dir_;
};

TEST_F(FailClosedFloodTest, AGlobDecidedReadThatFindsTheRingFullIsKilledInEnforce) {
    const ProbeCounters before = probes_->counters();
    auto r = run_workload(glob_policy(ViolationAction::Kill), Mode::Enforce, flood_and_read(),
                          {.trace = true, .use_landlock = false});
    const ProbeCounters after = probes_->counters();
    EXPECT_GT(after.ringbuf_drops, before.ringbuf_drops) << "the flood did not fill the ring";
    EXPECT_EQ(r.outcome.term_signal, std::optional<int>(SIGKILL))
        << "an undecided read went through with no record of it (exit " << r.outcome.exit_code << ")";
    EXPECT_GT(after.fail_closed_kills, before.fail_closed_kills);
}

TEST_F(FailClosedFloodTest, AGlobDecidedReadThatFindsTheRingFullIsACoverageGapInAudit) {
    const ProbeCounters before = probes_->counters();
    const uint64_t gaps_before = [&] {
        auto gaps = probes_->coverage_gaps();
        auto it = gaps.find(last_policy_id() + 1);  // the slot run() is about to use
        return it == gaps.end() ? uint64_t{0} : it->second;
    }();
    auto r = run_workload(glob_policy(ViolationAction::Kill), Mode::Audit, flood_and_read(),
                          {.trace = true, .use_landlock = false});
    const ProbeCounters after = probes_->counters();
    EXPECT_EQ(r.outcome.exit_code, 0) << "audit never kills";
    EXPECT_GT(after.ringbuf_drops, before.ringbuf_drops) << "the flood did not fill the ring";
    EXPECT_EQ(after.fail_closed_kills, before.fail_closed_kills);
    auto gaps = probes_->coverage_gaps();
    auto it = gaps.find(last_policy_id());
    ASSERT_NE(it, gaps.end()) << "no coverage gap counted for the function";
    EXPECT_GT(it->second, gaps_before);
    EXPECT_GT(after.coverage_gaps, before.coverage_gaps);
}

// Function A: a monitored, traced cgroup with a process that calls getppid
// in a loop until the test ends, keeping the events ring full.
class Flooder {
public:
    Flooder(ProbeSet& probes, const fs::path& parent, uint32_t policy_id) : probes_(probes) {
        auto created = CgroupDir::create(parent / ("flooder-" + std::to_string(::getpid())));
        if (!created) {
            ADD_FAILURE() << created.error();
            return;
        }
        dir_.emplace(std::move(created.value()));
        EXPECT_TRUE(probes_.set_policy(
            policy_id, compile_kernel_policy(policy_denying({}, ViolationAction::Report), Mode::Audit)));
        EXPECT_TRUE(probes_.monitor_cgroup(dir_->id(), fnw_cgroup_entry{policy_id, FNW_CGROUP_TRACE}));
        const std::string procs = (dir_->path() / "cgroup.procs").string();
        pid_ = ::fork();
        if (pid_ == 0) {
            std::ofstream(procs) << 0 << std::flush;
            for (;;) ::syscall(SYS_getppid);
        }
        EXPECT_GT(pid_, 0);
    }
    ~Flooder() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        if (dir_) probes_.unmonitor_cgroup(dir_->id());
    }
    Flooder(const Flooder&) = delete;
    Flooder& operator=(const Flooder&) = delete;

private:
    ProbeSet& probes_;
    std::optional<CgroupDir> dir_;
    pid_t pid_ = -1;
};

constexpr uint32_t kFlooderPolicy = FNW_MAX_POLICIES - 1;  // far from run()'s slots

TEST_F(FailClosedFloodTest, AnotherFunctionsViolationsArriveDuringAFloodOfTracedRecords) {
    const ProbeCounters before = probes_->counters();
    Flooder a(*probes_, cgroup_parent_, kFlooderPolicy);
    if (HasFailure()) return;
    std::this_thread::sleep_for(100ms);  // A is in its loop: the ring is full
    constexpr int kViolations = 20;
    std::vector<std::string> steps;
    for (int i = 0; i < kViolations; ++i) {
        steps.push_back("getpgid");
        steps.push_back("sleep-ms:2");
    }
    auto r = run_workload(policy_denying({SYS_getpgid}, ViolationAction::Report), Mode::Audit, steps,
                          {.use_seccomp = false});
    EXPECT_EQ(r.outcome.exit_code, 0);
    EXPECT_GT(probes_->counters().ringbuf_drops, before.ringbuf_drops) << "A did not fill the ring";
    // Repeats within a window come back counted, in summaries.
    EXPECT_EQ(syscall_violations_reported(r, SYS_getpgid), uint64_t{kViolations})
        << "B's violations were crowded out by A's traced records";
}

TEST_F(FailClosedFloodTest, ACgroupBornDuringAFloodOfTracedRecordsIsStillReported) {
    const ProbeCounters before = probes_->counters();
    Flooder a(*probes_, cgroup_parent_, kFlooderPolicy);
    if (HasFailure()) return;
    std::vector<uint64_t> births;
    auto consumer = RingBufferConsumer::create(probes_->ringbuf_fds(), [&](std::span<const std::byte> rec) {
        fnw_event_header hdr{};
        ASSERT_GE(rec.size(), sizeof(hdr));
        std::memcpy(&hdr, rec.data(), sizeof(hdr));
        if (hdr.type == FNW_EVENT_CGROUP) births.push_back(hdr.cgroup_id);
    });
    ASSERT_TRUE(consumer);
    probes_->report_cgroup_births(true);
    std::this_thread::sleep_for(100ms);  // A is in its loop: the ring is full
    std::vector<uint64_t> born;
    for (int i = 0; i < 5; ++i) {
        auto created = CgroupDir::create(cgroup_parent_ / ("neighbour-" + std::to_string(i)));
        ASSERT_TRUE(created.ok()) << created.error();
        born.push_back(created.value().id());  // removed again at once: the birth is what counts
        std::this_thread::sleep_for(5ms);
    }
    probes_->report_cgroup_births(false);
    // Bounded bites: A refills the events ring as fast as it is read. Each
    // bite reads the alerts ring first.
    for (int i = 0; i < 3; ++i) consumer->drain_some(4096);
    EXPECT_GT(probes_->counters().ringbuf_drops, before.ringbuf_drops) << "A did not fill the ring";
    for (uint64_t id : born)
        EXPECT_NE(std::find(births.begin(), births.end(), id), births.end()) << "birth of cgroup " << id << " lost";
    EXPECT_EQ(probes_->counters().birth_drops, before.birth_drops);
}

}  // namespace
}  // namespace fnw::test
