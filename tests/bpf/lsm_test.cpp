// BPF-LSM: an exec outside the allowlist fails with EPERM before the new
// image runs (lsm/bprm_check_security in exec.bpf.c). Only kernels that run
// BPF-LSM programs can load it: this 6.18 host refuses them, the 6.1 VM lane
// (lsm=...,bpf) runs them and sets FNW_REQUIRE_LSM=1 so a skip is a failure.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>

#include <gtest/gtest.h>

#include "probe_fixture.hpp"
#include "probes/ring_buffer_consumer.hpp"

namespace fnw {
namespace {

class BpfLsmTest : public test::ProbeTest {
protected:
    static bool lsm_required() {
        const char* required = std::getenv("FNW_REQUIRE_LSM");
        return required && std::string(required) == "1";
    }

    // Forks a process that waits until it is in `cgroup`, then execs argv.
    // Returns its exit code (errno of a failed exec, or the program's own).
    int exec_in(const CgroupDir& cgroup, std::vector<std::string> argv) {
        int go[2];
        EXPECT_EQ(pipe2(go, O_CLOEXEC), 0);
        pid_t pid = fork();
        if (pid == 0) {
            char c;
            if (read(go[0], &c, 1) != 1) _exit(120);
            std::vector<char*> args;
            for (auto& a : argv) args.push_back(a.data());
            args.push_back(nullptr);
            execv(args[0], args.data());
            _exit(errno);
        }
        close(go[0]);
        std::string err;
        EXPECT_TRUE(cgroup.add_process(pid, &err)) << err;
        EXPECT_EQ(write(go[1], "x", 1), 1);
        close(go[1]);
        int status = 0;
        EXPECT_EQ(waitpid(pid, &status, 0), pid);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
};

// Where BPF-LSM runs, the exec is refused with EPERM before the new image
// runs. Where it does not (this host: EPERM at load), the probes still load
// without it and say why (an optional hook never stops fnwarden from
// starting), and deny falls back to a kill at sched_process_exec: the exec
// happened, the new image never runs.
TEST_F(BpfLsmTest, ExecOutsideTheAllowlistIsRefusedWhereBpfLsmRuns) {
    if (lsm_required()) ASSERT_TRUE(probes_->lsm_available()) << "FNW_REQUIRE_LSM=1: " << probes_->lsm_error();
    FunctionPolicy policy;
    policy.name = "lsm-test";
    policy.function = "test";
    policy.syscalls.allow.set();
    policy.exec.restricted = true;
    policy.exec.allow = {FNW_TEST_WORKLOAD};
    policy.exec.on_violation = ViolationAction::Deny;
    const uint32_t policy_id = 40;
    std::string err;
    ASSERT_TRUE(probes_->set_policy(policy_id, policy, Mode::Enforce, &err)) << err;

    auto created = CgroupDir::create(cgroup_parent_ / ("lsm-" + std::to_string(getpid())));
    ASSERT_TRUE(std::holds_alternative<CgroupDir>(created));
    const CgroupDir& cgroup = std::get<CgroupDir>(created);
    ASSERT_TRUE(probes_->monitor_cgroup(cgroup.id(), fnw_cgroup_entry{policy_id, 0}));

    std::vector<fnw_file_event> events;
    auto consumer = RingBufferConsumer::create(probes_->ringbuf_fd(), [&](std::span<const std::byte> rec) {
        if (rec.size() != sizeof(fnw_file_event)) return;
        events.emplace_back();
        std::memcpy(&events.back(), rec.data(), sizeof(fnw_file_event));
    });
    ASSERT_TRUE(consumer);

    const auto true_path = std::filesystem::canonical("/bin/true").string();
    if (!probes_->lsm_available()) {
        std::cout << "BPF-LSM unavailable here, checked the fallback: " << probes_->lsm_error() << "\n";
        EXPECT_NE(probes_->lsm_error().find("lsm programs refused at load"), std::string::npos);
        EXPECT_EQ(exec_in(cgroup, {"/bin/true"}), 128 + SIGKILL) << "without BPF-LSM, deny falls back to kill";
        EXPECT_EQ(exec_in(cgroup, {FNW_TEST_WORKLOAD, "exit:7"}), 7) << "exec of the allowed program";
        consumer->drain();
        ASSERT_EQ(events.size(), 1u);
        EXPECT_EQ(std::string(events[0].resolved), true_path) << "the program the kernel ran";
        EXPECT_EQ(events[0].nr, FNW_NR_EXEC);
        EXPECT_EQ(events[0].action, FNW_ACTION_KILLED);
        EXPECT_EQ(events[0].mechanism, FNW_MECH_SIGKILL);
        probes_->unmonitor_cgroup(cgroup.id());
        return;
    }
    EXPECT_EQ(exec_in(cgroup, {"/bin/true"}), EPERM) << "exec of a program not in exec.allow";
    EXPECT_EQ(exec_in(cgroup, {FNW_TEST_WORKLOAD, "exit:7"}), 7) << "exec of the allowed program";
    consumer->drain();

    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(std::string(events[0].path), true_path) << "the kernel's canonical path";
    EXPECT_EQ(events[0].nr, FNW_NR_LSM_EXEC);
    EXPECT_EQ(events[0].action, FNW_ACTION_DENIED);
    EXPECT_EQ(events[0].mechanism, FNW_MECH_BPF_LSM);
    EXPECT_EQ(events[0].hdr.cgroup_id, cgroup.id());
    probes_->unmonitor_cgroup(cgroup.id());
}

}  // namespace
}  // namespace fnw
