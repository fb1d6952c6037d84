// SPDX-License-Identifier: Apache-2.0
// spec.process (process.bpf.c): ptrace, bpf() and executable memory.
// Where BPF-LSM runs (the 6.1 VM lane) its hooks refuse with EPERM; here
// (6.18, LSM refused at load) syscall tracepoints stand in and kill. Each
// test takes the branch the kernel offers and checks what the process saw.
#include <sys/mman.h>
#include <sys/syscall.h>
#include <signal.h>

#include <gtest/gtest.h>

#include "probe_fixture.hpp"

namespace fnw {
namespace {

class ProcessRulesTest : public test::ProbeTest {
protected:
    static FunctionPolicy process_policy(ViolationAction action) {
        FunctionPolicy p;
        p.name = "process-test";
        p.function = "test";
        p.syscalls.allow.set();
        p.process.restricted = true;
        p.process.on_violation = action;
        return p;
    }
    static bool lsm_required() {
        const char* required = std::getenv("FNW_REQUIRE_LSM");
        return required && std::string(required) == "1";
    }
    // Whether the LSM hooks guard this class here (else the tracepoints do).
    bool lsm_guards(const std::string& hook) const {
        if (lsm_required()) EXPECT_TRUE(probes_->lsm_hook_loaded(hook)) << hook << ": " << probes_->lsm_error();
        return probes_->lsm_hook_loaded(hook);
    }
};

struct Case {
    const char* step;
    long nr;
    uint8_t rule;
    const char* hook;
};

const Case kCases[] = {
    {"bpf", SYS_bpf, FNW_RULE_PROCESS_BPF, "bpf"},
    {"ptrace-child", SYS_ptrace, FNW_RULE_PROCESS_PTRACE, "ptrace_access_check"},
    {"mmap-exec", SYS_mmap, FNW_RULE_PROCESS_EXEC_MEMORY, "mmap_file"},
    {"jit", SYS_mprotect, FNW_RULE_PROCESS_EXEC_MEMORY, "file_mprotect"},
};

// Audit: every one is reported once, with the rule it broke and the
// syscall it came from, and the process carries on.
TEST_F(ProcessRulesTest, EachForbiddenOperationIsReportedOnceWithItsRule) {
    auto r = run_workload(process_policy(ViolationAction::Kill), Mode::Audit,
                          {"bpf", "ptrace-child", "mmap-exec", "jit", "print:done"});
    ASSERT_EQ(r.outcome.exit_code, 0);
    ASSERT_EQ(r.events.size(), std::size(kCases));
    for (size_t i = 0; i < std::size(kCases); ++i) {
        SCOPED_TRACE(kCases[i].step);
        const auto& ev = r.events[i];
        EXPECT_EQ(ev.nr, static_cast<uint32_t>(kCases[i].nr));
        EXPECT_EQ(ev.rule, kCases[i].rule);
        EXPECT_EQ(ev.verdict, FNW_VERDICT_VIOLATION);
        EXPECT_EQ(ev.action, FNW_ACTION_REPORTED);
        EXPECT_EQ(ev.mechanism, FNW_MECH_NONE);
        EXPECT_EQ(ev.hdr.pid, static_cast<uint32_t>(r.outcome.pid));
        EXPECT_EQ(ev.hdr.cgroup_id, r.outcome.cgroup_id);
    }
    EXPECT_EQ(r.events[2].args[2], static_cast<uint64_t>(PROT_READ | PROT_WRITE | PROT_EXEC));  // mmap's prot
    EXPECT_EQ(r.events[3].args[2], static_cast<uint64_t>(PROT_READ | PROT_EXEC));              // mprotect's
    const auto c = probes_->counters();
    EXPECT_EQ(c.process_violations, std::size(kCases));
    EXPECT_EQ(c.process_denied, 0u);
}

// What the policy allows passes without a word; what stays forbidden is
// still caught. A file's own code mapped executable (every exec, every
// shared library) is never exec memory.
TEST_F(ProcessRulesTest, AllowedOperationsPassSilently) {
    FunctionPolicy policy = process_policy(ViolationAction::Kill);
    policy.process.ptrace = true;
    policy.process.exec_memory = true;
    auto r = run_workload(policy, Mode::Enforce, {"ptrace-child", "exit-errno"});
    EXPECT_EQ(r.outcome.exit_code, 0) << "PTRACE_SEIZE of its own child, allowed";
    r = run_workload(policy, Mode::Enforce, {"jit", "mmap-exec", "exit-errno"});
    EXPECT_EQ(r.outcome.exit_code, 0);
    EXPECT_TRUE(r.events.empty());
    r = run_workload(policy, Mode::Enforce, {"bpf", "exit-errno"});
    EXPECT_NE(r.outcome.exit_code, 0);
    ASSERT_EQ(r.events.size(), 1u);
    EXPECT_EQ(r.events[0].rule, FNW_RULE_PROCESS_BPF);

    // No process section: nothing is restricted.
    FunctionPolicy open = process_policy(ViolationAction::Kill);
    open.process = ProcessRules{};
    r = run_workload(open, Mode::Enforce, {"bpf", "jit", "mmap-exec", "ptrace-child", "print:done"});
    EXPECT_EQ(r.outcome.exit_code, 0);
    EXPECT_TRUE(r.events.empty());
}

// Enforce with deny: refused (EPERM) before it happens where BPF-LSM
// runs; elsewhere the tracepoint can only kill, and the syscall completes.
TEST_F(ProcessRulesTest, EnforceRefusesWhereBpfLsmRunsAndKillsElsewhere) {
    for (const Case& c : kCases) {
        SCOPED_TRACE(c.step);
        const bool lsm = lsm_guards(c.hook);
        auto r = run_workload(process_policy(ViolationAction::Deny), Mode::Enforce, {c.step, "exit-errno"});
        ASSERT_EQ(r.events.size(), 1u);
        const auto& ev = r.events[0];
        EXPECT_EQ(ev.rule, c.rule);
        EXPECT_EQ(ev.nr, static_cast<uint32_t>(c.nr));
        if (lsm) {
            EXPECT_EQ(r.outcome.exit_code, EPERM) << "the process sees the refusal";
            EXPECT_EQ(ev.action, FNW_ACTION_DENIED);
            EXPECT_EQ(ev.mechanism, FNW_MECH_BPF_LSM);
        } else {
            EXPECT_EQ(r.outcome.exit_code, 128 + SIGKILL);
            EXPECT_EQ(ev.action, FNW_ACTION_KILLED);
            EXPECT_EQ(ev.mechanism, FNW_MECH_SIGKILL);
        }
    }
}

}  // namespace
}  // namespace fnw
