// SPDX-License-Identifier: Apache-2.0
// Policy inheritance at cgroup birth, done in the kernel by cgroups.bpf.c.
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <memory>
#include <variant>

#include <gtest/gtest.h>

#include <fnwarden/events.h>

#include "probe_fixture.hpp"
#include "probes/ring_buffer_consumer.hpp"
#include "../helpers/compile_policy.hpp"

namespace fnw {
namespace {

using test::policy_denying;

class CgroupInheritanceTest : public test::ProbeTest {
protected:
    // A monitored cgroup for the test, registered the way the launcher does it.
    CgroupDir monitored_parent(uint32_t policy_id) {
        auto created = CgroupDir::create(cgroup_parent_ / ("parent-" + std::to_string(getpid())));
        EXPECT_TRUE(created.ok()) << created.error();
        CgroupDir dir = std::move(created.value());
        EXPECT_TRUE(probes_->set_policy(
            policy_id, compile_kernel_policy(policy_denying({SYS_getpgid}, ViolationAction::Report), Mode::Audit)));
        EXPECT_TRUE(probes_->monitor_cgroup(dir.id(), fnw_cgroup_entry{policy_id, 0}));
        return dir;
    }
};

TEST_F(CgroupInheritanceTest, ChildCgroupGetsItsParentsPolicyAtMkdirAndLosesItAtRmdir) {
    CgroupDir parent = monitored_parent(11);
    uint64_t child_id = 0;
    {
        auto created = CgroupDir::create(parent.path() / "child");
        ASSERT_TRUE(created.ok());
        const CgroupDir& child = created.value();
        child_id = child.id();
        // No userspace registration happened: the entry exists because mkdir returned.
        auto entry = probes_->monitored_cgroup(child_id);
        ASSERT_TRUE(entry.has_value());
        EXPECT_EQ(entry->policy_id, 11u);
        EXPECT_TRUE(entry->flags & FNW_CGROUP_INHERITED);

        auto grand = CgroupDir::create(child.path() / "grandchild");
        ASSERT_TRUE(grand.ok());
        EXPECT_TRUE(probes_->monitored_cgroup(grand.value().id()).has_value())
            << "inheritance must apply at every depth";
    }  // rmdir
    EXPECT_FALSE(probes_->monitored_cgroup(child_id).has_value()) << "rmdir must drop the entry";
    EXPECT_GE(probes_->counters().cgroups_inherited, 2u);
}

// The daemon's selectors need to hear of cgroups other runtimes create. With
// reporting on, every birth arrives with its path (relative to the cgroup2
// root) and, under a monitored parent, the entry it already inherited.
TEST_F(CgroupInheritanceTest, BirthsAreReportedWithTheirPathOnlyWhileAsked) {
    std::vector<fnw_cgroup_event> births;
    auto consumer = RingBufferConsumer::create(probes_->ringbuf_fds(), [&](std::span<const std::byte> rec) {
        fnw_event_header hdr{};
        ASSERT_GE(rec.size(), sizeof(hdr));
        std::memcpy(&hdr, rec.data(), sizeof(hdr));
        if (hdr.type != FNW_EVENT_CGROUP) return;
        ASSERT_EQ(rec.size(), sizeof(fnw_cgroup_event));
        auto ev = std::make_unique<fnw_cgroup_event>();
        std::memcpy(ev.get(), rec.data(), sizeof(*ev));
        births.push_back(*ev);
    });
    ASSERT_TRUE(consumer);
    const auto root = *find_cgroup2_mount();
    const std::string base = "births-" + std::to_string(getpid());

    auto quiet = CgroupDir::create(cgroup_parent_ / (base + "-quiet"));
    ASSERT_TRUE(quiet.ok());
    consumer->drain();
    EXPECT_TRUE(births.empty()) << "reporting is off by default";

    probes_->report_cgroup_births(true);
    CgroupDir parent = monitored_parent(13);
    auto plain = CgroupDir::create(cgroup_parent_ / (base + "-plain"));
    auto child = CgroupDir::create(parent.path() / "child");
    probes_->report_cgroup_births(false);
    auto after = CgroupDir::create(cgroup_parent_ / (base + "-after"));
    ASSERT_TRUE(plain.ok());
    ASSERT_TRUE(child.ok());
    ASSERT_TRUE(after.ok());
    consumer->drain();

    std::map<uint64_t, fnw_cgroup_event> by_id;
    for (const auto& b : births) by_id[b.hdr.cgroup_id] = b;
    const auto& plain_dir = plain.value();
    const auto& child_dir = child.value();
    ASSERT_TRUE(by_id.count(plain_dir.id()));
    ASSERT_TRUE(by_id.count(child_dir.id()));
    EXPECT_FALSE(by_id.count(after.value().id())) << "reported after reporting was turned off";

    const auto& p = by_id[plain_dir.id()];
    EXPECT_EQ(std::string(p.path), std::filesystem::relative(plain_dir.path(), root).string());
    EXPECT_FALSE(p.inherited);
    EXPECT_EQ(p.hdr.pid, static_cast<uint32_t>(getpid())) << "the creator";
    const auto& c = by_id[child_dir.id()];
    EXPECT_EQ(std::string(c.path), std::filesystem::relative(child_dir.path(), root).string());
    EXPECT_TRUE(c.inherited);
    EXPECT_EQ(c.inherited_policy_id, 13u);
    EXPECT_EQ(c.parent_id, parent.id());
}

TEST_F(CgroupInheritanceTest, UnmonitoredParentPassesNothingOn) {
    auto created = CgroupDir::create(cgroup_parent_ / ("plain-" + std::to_string(getpid())));
    ASSERT_TRUE(created.ok());
    const CgroupDir& plain = created.value();
    auto child = CgroupDir::create(plain.path() / "child");
    ASSERT_TRUE(child.ok());
    EXPECT_FALSE(probes_->monitored_cgroup(child.value().id()).has_value());
}

// "Create a child cgroup, move a process in, make a disallowed syscall
// immediately", 1000 times: every single one must be reported, attributed to
// the child cgroup. There is no userspace step between mkdir and the syscall.
TEST_F(CgroupInheritanceTest, EveryProcessInAFreshChildCgroupIsCoveredFromItsFirstSyscall) {
    constexpr int kIterations = 1000;
    CgroupDir parent = monitored_parent(12);

    std::map<uint64_t, int> violations_by_cgroup;
    size_t malformed = 0;
    auto consumer = RingBufferConsumer::create(probes_->ringbuf_fds(), [&](std::span<const std::byte> rec) {
        if (rec.size() != sizeof(fnw_syscall_event)) {
            ++malformed;
            return;
        }
        fnw_syscall_event ev;
        std::memcpy(&ev, rec.data(), sizeof(ev));
        if (ev.nr == SYS_getpgid && ev.verdict == FNW_VERDICT_VIOLATION) ++violations_by_cgroup[ev.hdr.cgroup_id];
    });
    ASSERT_TRUE(consumer);

    std::vector<uint64_t> child_ids;
    for (int i = 0; i < kIterations; ++i) {
        int go[2];
        ASSERT_EQ(pipe2(go, O_CLOEXEC), 0);
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            char c;
            if (read(go[0], &c, 1) != 1) _exit(2);
            syscall(SYS_getpgid, 0);  // the very first thing it does in the new cgroup
            _exit(0);
        }
        close(go[0]);
        {
            auto created = CgroupDir::create(parent.path() / ("c" + std::to_string(i)));
            ASSERT_TRUE(created.ok()) << created.error();
            const CgroupDir& child = created.value();
            child_ids.push_back(child.id());
            Status added = child.add_process(pid);
            ASSERT_TRUE(added) << added.error();
            ASSERT_EQ(write(go[1], "x", 1), 1);
            close(go[1]);
            int status = 0;
            ASSERT_EQ(waitpid(pid, &status, 0), pid);
            ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }  // rmdir
        if (i % 64 == 0) consumer->drain();
    }
    consumer->drain();

    EXPECT_EQ(malformed, 0u);
    EXPECT_EQ(probes_->counters().ringbuf_drops, 0u);
    int missed = 0;
    for (uint64_t id : child_ids)
        if (violations_by_cgroup[id] != 1) ++missed;
    EXPECT_EQ(missed, 0) << "of " << kIterations << " fresh cgroups, " << missed
                         << " did not report exactly one violation";
    // cgroup_rmdir removed every child entry: no growth under churn.
    for (uint64_t id : child_ids) ASSERT_FALSE(probes_->monitored_cgroup(id).has_value());
}

}  // namespace
}  // namespace fnw
