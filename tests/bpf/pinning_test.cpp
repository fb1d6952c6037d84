// SPDX-License-Identifier: Apache-2.0
// Pinned probe sets (probes/pinned_set.hpp) on the real kernel: what a probe
// set leaves running when its process lets go of every fd (a daemon killed
// with SIGKILL), what the next load adopts, how another build's set is
// replaced, and that unload leaves nothing behind.
#include <bpf/bpf.h>
#include <sys/syscall.h>
#include <sys/wait.h>


#include <cstring>
#include <fstream>
#include <set>
#include <thread>

#include "probe_fixture.hpp"
#include "probes/pinned_set.hpp"
#include "probes/ring_buffer_consumer.hpp"

namespace fnw::test {
namespace {

constexpr uint32_t kSlot = 3;

// getpgid is killed at sys_enter, and no egress is allowed (UDP: EPERM).
FunctionPolicy guarded_policy() {
    FunctionPolicy p = policy_denying({SYS_getpgid}, ViolationAction::Kill);
    p.function = "pinned";
    p.network.restricted = true;
    p.network.on_violation = ViolationAction::Deny;
    return p;
}

// Each program id a set's pinned links run.
std::set<uint32_t> pinned_program_ids(const std::filesystem::path& set_dir) {
    std::set<uint32_t> ids;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(set_dir / "links", ec)) {
        UniqueFd link(bpf_obj_get(entry.path().c_str()));
        bpf_link_info info{};
        uint32_t len = sizeof(info);
        if (link.valid() && bpf_obj_get_info_by_fd(link.get(), &info, &len) == 0) ids.insert(info.prog_id);
    }
    return ids;
}

// Programs loaded anywhere on the host under `name` (the kernel keeps the
// first 15 characters).
// Each map id a set pins.
std::set<uint32_t> pinned_map_ids(const std::filesystem::path& set_dir) {
    std::set<uint32_t> ids;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(set_dir / "maps", ec)) {
        UniqueFd map(bpf_obj_get(entry.path().c_str()));
        bpf_map_info info{};
        uint32_t len = sizeof(info);
        if (map.valid() && bpf_obj_get_info_by_fd(map.get(), &info, &len) == 0) ids.insert(info.id);
    }
    return ids;
}

bool map_exists(uint32_t id) {
    UniqueFd fd(bpf_map_get_fd_by_id(id));
    return fd.valid();
}

// The programs named `name` loaded after program id `after`. Ids only
// grow, so this counts new loads whatever else is being freed meanwhile
// (an earlier test's programs go after an RCU grace period: counting all
// of them made the comparison flaky).
size_t programs_named(const std::string& name, uint32_t after) {
    size_t count = 0;
    for (uint32_t id = after; bpf_prog_get_next_id(id, &id) == 0;) {
        UniqueFd fd(bpf_prog_get_fd_by_id(id));
        bpf_prog_info info{};
        uint32_t len = sizeof(info);
        if (fd.valid() && bpf_obj_get_info_by_fd(fd.get(), &info, &len) == 0 && name == info.name) ++count;
    }
    return count;
}

// The highest program id loaded so far.
uint32_t last_program_id() {
    uint32_t last = 0;
    for (uint32_t id = 0; bpf_prog_get_next_id(id, &id) == 0;) last = id;
    return last;
}

bool program_exists(uint32_t id) {
    UniqueFd fd(bpf_prog_get_fd_by_id(id));
    return fd.valid();
}

// Freeing a detached program waits for an RCU grace period: a bound on
// the condition, not a delay.
bool eventually_gone(const std::set<uint32_t>& ids, bool (*exists)(uint32_t) = program_exists) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
        bool any = false;
        for (uint32_t id : ids) any = any || exists(id);
        if (!any) return true;
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

class PinningTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto root = find_cgroup2_mount();
        ASSERT_TRUE(root) << "no cgroup2 mount";
        cgroup2_root_ = *root;
        std::string why;
        const std::filesystem::path pins = "/sys/fs/bpf/fnw-test-" + std::to_string(::getpid());
        if (geteuid() != 0)
            why = "not root";
        else if (Status ready = prepare_pin_root(pins); !ready)  // mounts bpffs where missing
            why = ready.error();
        if (!why.empty()) {
            if (bpf_required()) FAIL() << "FNW_REQUIRE_BPF=1 but " << why;
            GTEST_SKIP() << why;
        }
        pin_root_ = pins;
        (void)unload_pinned_sets(pin_root_);
        const auto parent = test_cgroup_parent(cgroup2_root_);
        static_cast<void>(::mkdir(parent.c_str(), 0755));
        cgroup_ = parent / "pinned";
        static_cast<void>(::mkdir(cgroup_.c_str(), 0755));
        struct stat st {};
        ASSERT_EQ(::stat(cgroup_.c_str(), &st), 0);
        cgroup_id_ = st.st_ino;  // cgroup2: the directory's inode is the cgroup id
    }

    void TearDown() override {
        if (pin_root_.empty()) return;
        auto unloaded = unload_pinned_sets(pin_root_);
        EXPECT_TRUE(unloaded) << unloaded.error();
        static_cast<void>(remove_cgroup_tree(cgroup_));
    }

    std::unique_ptr<ProbeSet> load(uint32_t ringbuf_bytes = FNW_RINGBUF_DEFAULT_BYTES) {
        ProbeOptions options;
        options.cgroup2_root = cgroup2_root_;
        options.pin_root = pin_root_;
        options.ringbuf_bytes = ringbuf_bytes;
        auto loaded = ProbeSet::load(options);
        if (!loaded) {
            ADD_FAILURE() << "load: " << loaded.error();
            return nullptr;
        }
        return std::move(*loaded);
    }

    void guard_the_cgroup(ProbeSet& probes) {
        ASSERT_TRUE(probes.set_policy(kSlot, guarded_policy(), Mode::Enforce));
        ASSERT_TRUE(probes.set_slot_owner(kSlot, SlotOwner{"pinned", "pinned-policy", Mode::Enforce}));
        ASSERT_TRUE(probes.monitor_cgroup(cgroup_id_, fnw_cgroup_entry{kSlot, 0}));
    }

    // The workload with `steps`, inside the test cgroup; its wait status.
    int run_in_cgroup(std::vector<std::string> steps) { return run_in(cgroup_, std::move(steps)); }
    int run_in(const std::filesystem::path& cgroup, std::vector<std::string> steps) {
        std::vector<std::string> argv{FNW_TEST_WORKLOAD};
        argv.insert(argv.end(), steps.begin(), steps.end());
        const pid_t pid = ::fork();
        if (pid == 0) {
            std::ofstream(cgroup / "cgroup.procs") << ::getpid() << std::flush;
            std::vector<char*> args;
            for (auto& a : argv) args.push_back(a.data());
            args.push_back(nullptr);
            ::execv(args[0], args.data());
            ::_exit(127);
        }
        int status = 0;
        ::waitpid(pid, &status, 0);
        return status;
    }

    bool udp_send_denied() {
        const int status = run_in_cgroup({"udp4:127.0.0.1:9", "exit-errno"});
        return WIFEXITED(status) && WEXITSTATUS(status) == EPERM;
    }
    bool getpgid_killed() {
        const int status = run_in_cgroup({"getpgid", "print:survived"});
        return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    }

    std::filesystem::path cgroup2_root_, cgroup_, pin_root_;
    uint64_t cgroup_id_ = 0;
};

TEST_F(PinningTest, EnforcementOutlivesTheProcessAndIsAdoptedWithoutASecondCopy) {
    auto first = load();
    ASSERT_TRUE(first);
    EXPECT_EQ(first->pinned().origin, PinnedOrigin::Fresh);
    EXPECT_TRUE(first->pinned().unpinned_links.empty()) << first->pinned().unpinned_links.front();
    guard_the_cgroup(*first);
    first->mark_drained(1);  // long ago: the next load's gap covers what follows
    const auto set_dir = first->pinned().dir;
    const std::set<uint32_t> ids = pinned_program_ids(set_dir);
    ASSERT_FALSE(ids.empty());
    first.reset();  // every fd of ours closed, as when a daemon is killed

    // Nobody holds the set but bpffs: the kernel still decides.
    EXPECT_TRUE(udp_send_denied()) << "the cgroup hook went with the process";
    EXPECT_TRUE(getpgid_killed()) << "the sys_enter kill went with the process";
    // A cgroup made now inherits its parent's policy in the kernel alone.
    const auto child = cgroup_ / "born-unwatched";
    ASSERT_EQ(::mkdir(child.c_str(), 0755), 0);
    const int child_status = run_in(child, {"getpgid", "print:survived"});
    EXPECT_TRUE(WIFSIGNALED(child_status) && WTERMSIG(child_status) == SIGKILL)
        << "a cgroup born while no daemon ran was not guarded";

    const uint32_t before_second = last_program_id();
    auto second = load();
    ASSERT_TRUE(second);
    EXPECT_EQ(second->pinned().origin, PinnedOrigin::Adopted);
    EXPECT_EQ(second->pinned().adopted_links, ids.size());
    EXPECT_TRUE(second->pinned().unread_gap.has_value());
    EXPECT_EQ(pinned_program_ids(set_dir), ids) << "the adopted set runs other programs";
    EXPECT_EQ(programs_named("fnw_sys_enter", before_second), 0u) << "sys_enter loaded a second time";
    // The in-kernel state came along: the entry, its owner, the counts.
    auto entry = second->monitored_cgroup(cgroup_id_);
    ASSERT_TRUE(entry);
    EXPECT_EQ(entry->policy_id, kSlot);
    EXPECT_EQ(second->slot_owners(),
              (std::map<uint32_t, SlotOwner>{{kSlot, SlotOwner{"pinned", "pinned-policy", Mode::Enforce}}}));
    EXPECT_GE(second->counters().kills, 1u);
    // The kill done while nobody read is in the pinned ring, for this reader.
    size_t gap_violations = 0;
    auto consumer = RingBufferConsumer::create(second->ringbuf_fds(), [&](std::span<const std::byte> r) {
        fnw_event_header hdr{};
        if (r.size() < sizeof(hdr)) return;
        std::memcpy(&hdr, r.data(), sizeof(hdr));
        if (hdr.cgroup_id == cgroup_id_ && hdr.type == FNW_EVENT_SYSCALL) ++gap_violations;
    });
    ASSERT_TRUE(consumer);
    consumer->drain();
    EXPECT_GE(gap_violations, 1u);
    // Still enforcing, and the adopted programs show as loaded in status.
    EXPECT_TRUE(getpgid_killed());
    bool sys_enter_listed = false;
    for (const auto& stats : second->program_stats())
        if (stats.name == "fnw_sys_enter") sys_enter_listed = stats.loaded && stats.attached;
    EXPECT_TRUE(sys_enter_listed);

    // Unload: nothing of the set remains, and the cgroup is free again.
    const std::set<uint32_t> map_ids = pinned_map_ids(set_dir);
    ASSERT_FALSE(map_ids.empty());
    consumer.reset();  // its mmap of the rings holds them too
    second.reset();
    auto unloaded = unload_pinned_sets(pin_root_);
    ASSERT_TRUE(unloaded) << unloaded.error();
    EXPECT_EQ(*unloaded, 1u);
    EXPECT_FALSE(std::filesystem::exists(pin_root_));
    EXPECT_TRUE(eventually_gone(ids)) << "a program of the unloaded set is still loaded";
    EXPECT_TRUE(eventually_gone(map_ids, map_exists)) << "a map of the unloaded set is still there";
    const int status = run_in_cgroup({"udp4:127.0.0.1:9", "exit-errno"});
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "still denied after unload";
}

// Repeats of one violation are counted in the pinned tally; the adopting
// daemon reports only those the earlier one had not reported yet.
TEST_F(PinningTest, AnAdopterReportsOnlyTheRepeatsNobodyReported) {
    constexpr int kBefore = 300, kDuring = 200;
    auto sum = [](const std::vector<fnw_violation_summary_event>& summaries) {
        uint64_t repeats = 0;
        for (const auto& s : summaries) repeats += s.repeats;
        return repeats;
    };
    auto first = load();
    ASSERT_TRUE(first);
    ASSERT_TRUE(first->set_policy(kSlot, policy_denying({SYS_getpgid}, ViolationAction::Report), Mode::Audit));
    ASSERT_TRUE(first->monitor_cgroup(cgroup_id_, fnw_cgroup_entry{kSlot, 0}));
    run_in_cgroup({"repeat-getpgid:" + std::to_string(kBefore), "exit:0"});
    const uint64_t reported_first = sum(first->take_violation_summaries());
    ASSERT_GT(reported_first, 0u);
    first.reset();

    run_in_cgroup({"repeat-getpgid:" + std::to_string(kDuring), "exit:0"});  // nobody reads
    auto second = load();
    ASSERT_TRUE(second);
    ASSERT_EQ(second->pinned().origin, PinnedOrigin::Adopted);
    const uint64_t reported_second = sum(second->take_violation_summaries());
    // Every repeat is reported once: the second daemon's share is what
    // happened after the first one's last summary, the gap's (all repeats,
    // or all but one if the kernel's window closed in between and the
    // first of them went out as a record of its own).
    EXPECT_LE(reported_second, uint64_t{kDuring}) << "the first daemon's repeats were reported again";
    EXPECT_GE(reported_second, uint64_t{kDuring - 1}) << "the gap's repeats were not reported";
}

// The exec allowlist without a daemon: refused by lsm/bprm_check_security
// where BPF-LSM runs (the 6.1 VM, FNW_REQUIRE_LSM=1), else killed at
// sched_process_exec; either way by the pinned programs alone.
TEST_F(PinningTest, AnExecOutsideTheAllowlistIsStoppedWithoutADaemon) {
    auto first = load();
    ASSERT_TRUE(first);
    const bool lsm = first->lsm_hook_loaded("bprm_check_security");
    const char* required = std::getenv("FNW_REQUIRE_LSM");
    if (required && std::string(required) == "1") ASSERT_TRUE(lsm) << first->lsm_error();
    FunctionPolicy policy = policy_denying({}, ViolationAction::Report);
    policy.function = "pinned";
    policy.exec.restricted = true;
    policy.exec.allow = {FNW_TEST_WORKLOAD};
    policy.exec.on_violation = ViolationAction::Deny;
    ASSERT_TRUE(first->set_policy(kSlot, policy, Mode::Enforce));
    ASSERT_TRUE(first->monitor_cgroup(cgroup_id_, fnw_cgroup_entry{kSlot, 0}));
    first.reset();

    const int status = run_in_cgroup({"exec:/bin/true", "exit-errno"});
    if (lsm) {
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == EPERM) << "bprm_check_security went with the process";
    } else {
        EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "sched_process_exec went with the process";
    }
}

TEST_F(PinningTest, AnotherBuildsSetGuardsUntilTheNewOneTakesOver) {
    auto old_build = load();
    ASSERT_TRUE(old_build);
    guard_the_cgroup(*old_build);
    const auto old_dir = old_build->pinned().dir;
    const std::set<uint32_t> old_ids = pinned_program_ids(old_dir);
    old_build.reset();

    // Another ring size: another layout, so not adoptable.
    auto new_build = load(FNW_RINGBUF_DEFAULT_BYTES * 2);
    ASSERT_TRUE(new_build);
    EXPECT_EQ(new_build->pinned().origin, PinnedOrigin::Replacing);
    ASSERT_EQ(new_build->pinned().replaced, std::vector<std::filesystem::path>{old_dir});
    EXPECT_NE(new_build->pinned().dir, old_dir);
    // Both attached: the old set still guards while the new one has nothing.
    EXPECT_TRUE(udp_send_denied());
    guard_the_cgroup(*new_build);
    ASSERT_TRUE(new_build->retire_replaced_sets());
    EXPECT_TRUE(new_build->pinned().replaced.empty());
    EXPECT_FALSE(std::filesystem::exists(old_dir));
    EXPECT_TRUE(eventually_gone(old_ids)) << "the replaced set's programs are still loaded";
    // The new set alone guards now.
    EXPECT_TRUE(udp_send_denied());
    EXPECT_TRUE(getpgid_killed());
}

TEST_F(PinningTest, ASecondProcessCannotTakeALockedPinRoot) {
    auto first = load();
    ASSERT_TRUE(first);
    ProbeOptions options;
    options.cgroup2_root = cgroup2_root_;
    options.pin_root = pin_root_;
    auto second = ProbeSet::load(options);
    ASSERT_FALSE(second);
    EXPECT_NE(second.error().find("another fnwarden daemon holds"), std::string::npos) << second.error();
    auto unloaded = unload_pinned_sets(pin_root_);
    EXPECT_FALSE(unloaded) << "unloaded under a running set";
}

}  // namespace
}  // namespace fnw::test
