// SPDX-License-Identifier: Apache-2.0
// Compiling a policy's files/exec/network sections into Landlock rules: pure, no kernel.
#include "runtime/landlock_sandbox.hpp"

#include <linux/landlock.h>

#include <algorithm>

#include <gtest/gtest.h>

namespace fnw {
namespace {

TEST(LandlockPlan, WidensOnlyWhatLandlockCannotExpress) {
    bool widened = true;
    EXPECT_EQ(literal_prefix("/var/task/**", &widened), "/var/task");
    EXPECT_FALSE(widened);
    EXPECT_EQ(literal_prefix("/var/task/*.py", &widened), "/var/task");
    EXPECT_TRUE(widened);
    EXPECT_EQ(literal_prefix("/var/**/x", &widened), "/var");
    EXPECT_TRUE(widened);
    EXPECT_EQ(literal_prefix("/etc/hostname", &widened), "/etc/hostname");
    EXPECT_FALSE(widened);
    EXPECT_EQ(literal_prefix("/*", &widened), "/");
    EXPECT_TRUE(widened);

    FunctionPolicy p;
    p.files.restricted = true;
    p.files.read = {"/srv/*.json"};
    auto plan = plan_landlock(p, 1);
    EXPECT_FALSE(plan.handled_fs & LANDLOCK_ACCESS_FS_EXECUTE) << "no exec section: execute is not restricted";
    EXPECT_FALSE(plan.handled_fs & LANDLOCK_ACCESS_FS_REFER) << "ABI 1 has no REFER";
    ASSERT_EQ(plan.rules.size(), 1u);
    EXPECT_TRUE(plan.rules[0].widened);
    EXPECT_EQ(plan.rules[0].path, "/srv");
    EXPECT_TRUE(plan_landlock(p, 2).handled_fs & LANDLOCK_ACCESS_FS_REFER);
    EXPECT_FALSE(plan_landlock(p, 0).active()) << "no Landlock, no plan";
}

TEST(LandlockPlan, MapsSectionsToRights) {
    FunctionPolicy p;
    p.files.restricted = true;
    p.files.read = {"/a/**"};
    p.files.write = {"/b/**"};
    p.files.create = {"/c/**"};
    p.files.remove = {"/d/**"};
    p.exec.restricted = true;
    p.exec.allow = {"/usr/bin/python3"};
    auto plan = plan_landlock(p, 3);
    EXPECT_TRUE(plan.handled_fs & LANDLOCK_ACCESS_FS_EXECUTE);
    EXPECT_TRUE(plan.handled_fs & LANDLOCK_ACCESS_FS_MAKE_CHAR) << "handled, never granted";
    ASSERT_EQ(plan.rules.size(), 5u);
    EXPECT_EQ(plan.rules[0].access, static_cast<uint64_t>(LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR));
    EXPECT_TRUE(plan.rules[1].access & LANDLOCK_ACCESS_FS_WRITE_FILE);
    EXPECT_TRUE(plan.rules[1].access & (1ull << 14)) << "truncate on ABI 3";
    EXPECT_TRUE(plan.rules[2].access & LANDLOCK_ACCESS_FS_MAKE_REG);
    EXPECT_FALSE(plan.rules[2].access & LANDLOCK_ACCESS_FS_MAKE_CHAR);
    EXPECT_TRUE(plan.rules[3].access & LANDLOCK_ACCESS_FS_REMOVE_FILE);
    EXPECT_EQ(plan.rules[4].access, static_cast<uint64_t>(LANDLOCK_ACCESS_FS_EXECUTE));
    EXPECT_EQ(plan.rules[4].path, "/usr/bin/python3");
    EXPECT_FALSE(plan_landlock(p, 2).rules[1].access & (1ull << 14)) << "ABI 2 has no truncate right";
}

}  // namespace
}  // namespace fnw

#include <gmock/gmock.h>

#include "core/policy_parser.hpp"
#include "probes/probe_set.hpp"
#include "../helpers/compile_policy.hpp"

#include <filesystem>

namespace fnw {
namespace {

using ::testing::HasSubstr;

PolicyParseResult parse_sections(const std::string& sections) {
    return parse_policy("apiVersion: fnwarden.io/v1\nkind: FunctionPolicy\nmetadata: {name: p}\n"
                        "spec:\n  selector: {function: f}\n" +
                            sections,
                        "t.yaml");
}

EgressRule tcp_egress(std::vector<uint16_t> ports, uint8_t protocol = 6) {
    EgressRule r;
    r.network = *parse_ip_network("10.0.0.0/8");
    r.ports = std::move(ports);
    r.protocol = protocol;
    return r;
}

std::vector<std::pair<uint16_t, uint64_t>> port_rules(const LandlockPlan& plan) {
    std::vector<std::pair<uint16_t, uint64_t>> out;
    for (const auto& r : plan.port_rules) out.emplace_back(r.port, r.access);
    return out;
}

TEST(LandlockPlan, TcpPortsOfTheNetworkSectionNeedAbi4) {
    FunctionPolicy p;
    p.network.restricted = true;
    p.network.egress = {tcp_egress({443, 80}), tcp_egress({53}, 17), tcp_egress({443}, 0)};
    p.network.listen = {ListenRule{8080, 6}, ListenRule{9090, 17}};

    auto old = plan_landlock(p, 3);
    EXPECT_FALSE(old.active()) << "ABI 3 has no network rights and the plan has no files";
    ASSERT_EQ(old.notes.size(), 1u);
    EXPECT_NE(old.notes[0].find("no network rights"), std::string::npos);

    auto plan = plan_landlock(p, 4);
    EXPECT_TRUE(plan.active());
    EXPECT_EQ(plan.handled_fs, 0u) << "no files/exec section: no filesystem right restricted";
    EXPECT_EQ(plan.handled_net, kLandlockNetConnectTcp | kLandlockNetBindTcp);
    // UDP rules (53, 9090) are not Landlock's; 443 twice is one rule.
    using R = std::vector<std::pair<uint16_t, uint64_t>>;
    EXPECT_EQ(port_rules(plan), (R{{80, kLandlockNetConnectTcp}, {443, kLandlockNetConnectTcp},
                                   {8080, kLandlockNetBindTcp}}));
}

TEST(LandlockPlan, AnyPortRuleLeavesThatDirectionToTheCgroupHooks) {
    FunctionPolicy p;
    p.network.restricted = true;
    p.network.egress = {tcp_egress({443}), tcp_egress({}, 0)};  // the second: every port, any protocol
    auto plan = plan_landlock(p, 7);
    EXPECT_EQ(plan.handled_net, kLandlockNetBindTcp) << "connect cannot be restricted, bind (no listen rule) can";
    EXPECT_TRUE(plan.port_rules.empty()) << "bind: nothing allowed";
    EXPECT_NE(std::find_if(plan.notes.begin(), plan.notes.end(),
                           [](const std::string& n) { return n.find("TCP connect is not restricted") != n.npos; }),
              plan.notes.end());

    p.network.egress = {tcp_egress({}, 17)};  // UDP to every port: says nothing about TCP
    p.network.listen = {ListenRule{0, 0}};    // listen port 0: every port
    plan = plan_landlock(p, 7);
    EXPECT_EQ(plan.handled_net, kLandlockNetConnectTcp);

    p.network.restricted = false;
    EXPECT_FALSE(plan_landlock(p, 7).active()) << "no network section: nothing restricted";
}

TEST(FilesPolicy, ParsesFilesAndExecSections) {
    auto r = parse_sections(
        "  files:\n"
        "    read: [\"/var/task/**\", \"/etc/hostname\"]\n"
        "    write: [\"/tmp/**\"]\n"
        "    create: [\"/tmp/**\"]\n"
        "    delete: [\"/tmp/*.log\"]\n"
        "    onViolation: deny\n"
        "  exec:\n"
        "    allow: [/usr/bin/python3]\n"
        "    onViolation: kill\n");
    ASSERT_TRUE(r.ok()) << r.errors.front().to_string();
    const auto& p = *r.policy;
    EXPECT_TRUE(p.files.restricted);
    EXPECT_EQ(p.files.read, (std::vector<std::string>{"/var/task/**", "/etc/hostname"}));
    EXPECT_EQ(p.files.remove, (std::vector<std::string>{"/tmp/*.log"}));
    EXPECT_EQ(p.files.on_violation, ViolationAction::Deny);
    EXPECT_TRUE(p.exec.restricted);
    EXPECT_EQ(p.exec.allow, (std::vector<std::string>{"/usr/bin/python3"}));
    EXPECT_EQ(p.exec.on_violation, ViolationAction::Kill);
}

TEST(FilesPolicy, AbsentSectionsRestrictNothing) {
    auto r = parse_sections("  mode: enforce\n");
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r.policy->files.restricted);
    EXPECT_FALSE(r.policy->exec.restricted);
}

TEST(FilesPolicy, BadPatternsPointAtTheirLine) {
    auto r = parse_sections("  files:\n    read:\n      - /ok/**\n      - relative/path\n");
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0].line, 9);
    EXPECT_THAT(r.errors[0].message, HasSubstr("must be an absolute path"));
    EXPECT_THAT(parse_sections("  files: {read: [\"/a/../b\"]}\n").errors.at(0).message, HasSubstr("\"..\""));
    EXPECT_THAT(parse_sections("  files: {read: [\"/a/x**\"]}\n").errors.at(0).message, HasSubstr("whole segment"));
    EXPECT_THAT(parse_sections("  files: {read: [\"/a/[ab]\"]}\n").errors.at(0).message, HasSubstr("not supported"));
    EXPECT_THAT(parse_sections("  files: {read: [\"/a//b\"]}\n").errors.at(0).message, HasSubstr("empty segment"));
    EXPECT_THAT(parse_sections("  files: {modify: []}\n").errors.at(0).message, HasSubstr("unknown key \"modify\""));
    EXPECT_THAT(parse_sections("  exec: {allow: /bin/sh}\n").errors.at(0).message, HasSubstr("must be a list"));
    EXPECT_THAT(parse_sections("  exec: {allow: [], onViolation: maybe}\n").errors.at(0).message,
                HasSubstr("spec.exec.onViolation must be"));
}

TEST(ExecLsm, OnlyLiteralExecRulesAreCheckedInTheKernel) {
    ExecRules globbed;
    globbed.restricted = true;
    globbed.allow = {"/usr/bin/*"};
    EXPECT_FALSE(exec_rules_fit_lsm(globbed));
    FunctionPolicy policy;
    policy.exec = globbed;
    policy.exec.on_violation = ViolationAction::Deny;
    EXPECT_FALSE(compile_kernel_policy(policy, Mode::Enforce).flags & FNW_POLICY_EXEC_LSM)
        << "globs stay with Landlock";

    policy.exec.allow = {"/bin/true"};
    auto compiled = compile_kernel_policy(policy, Mode::Enforce);
    EXPECT_TRUE(compiled.flags & FNW_POLICY_EXEC_LSM);
    EXPECT_EQ(compiled.exec_action, static_cast<uint32_t>(FNW_KACTION_DENY));
    EXPECT_EQ(compile_kernel_policy(policy, Mode::Audit).exec_action, static_cast<uint32_t>(FNW_KACTION_REPORT));
    EXPECT_FALSE(compiled.flags & (FNW_POLICY_DENY_PTRACE | FNW_POLICY_DENY_BPF | FNW_POLICY_DENY_EXEC_MEMORY))
        << "no process section: nothing refused";

    policy.process.restricted = true;
    policy.process.exec_memory = true;
    policy.process.on_violation = ViolationAction::Kill;
    compiled = compile_kernel_policy(policy, Mode::Enforce);
    EXPECT_EQ(compiled.flags & (FNW_POLICY_DENY_PTRACE | FNW_POLICY_DENY_BPF | FNW_POLICY_DENY_EXEC_MEMORY),
              static_cast<uint32_t>(FNW_POLICY_DENY_PTRACE | FNW_POLICY_DENY_BPF));
    EXPECT_EQ(compiled.process_action, static_cast<uint32_t>(FNW_KACTION_KILL));
    EXPECT_EQ(compile_kernel_policy(policy, Mode::Audit).process_action, static_cast<uint32_t>(FNW_KACTION_REPORT));
    auto keys = compile_exec_keys(3, policy.exec);
    ASSERT_EQ(keys.size(), 1u);
    EXPECT_EQ(keys[0].policy_id, 3u);
    EXPECT_EQ(std::string(keys[0].path), std::filesystem::canonical("/bin/true").string())
        << "symlinks resolved, as bpf_d_path reports them";
}

// io_uring's connects and binds run in the ring's worker: a Landlock
// refusal there reaches no syscall exit and is never reported, while audit
// mode reports it. A policy that allows io_uring_setup leaves TCP to the
// cgroup hooks, which refuse and report (tests/e2e/differential n-uring-tcp).
TEST(LandlockPlan, AllowedIoUringLeavesTcpToTheCgroupHooks) {
    FunctionPolicy p;
    p.network.restricted = true;
    p.network.egress = {tcp_egress({443})};
    p.network.listen = {ListenRule{8080, 6}};
    p.syscalls.allow.set(SYS_read);
    EXPECT_EQ(plan_landlock(p, 7).handled_net, kLandlockNetConnectTcp | kLandlockNetBindTcp) << "no io_uring";

    p.syscalls.allow.set(SYS_io_uring_setup);
    auto plan = plan_landlock(p, 7);
    EXPECT_EQ(plan.handled_net, 0u);
    EXPECT_TRUE(plan.port_rules.empty());
    EXPECT_NE(std::find_if(plan.notes.begin(), plan.notes.end(),
                           [](const std::string& n) { return n.find("io_uring") != n.npos; }),
              plan.notes.end());

    p.syscalls.allow.set();  // unrestricted (no section, no baseline): unchanged, Landlock keeps the ports
    EXPECT_EQ(plan_landlock(p, 7).handled_net, kLandlockNetConnectTcp | kLandlockNetBindTcp);
}

}  // namespace
}  // namespace fnw
