// SPDX-License-Identifier: Apache-2.0
// The enforcement matrix and --explain: which mechanism each kernel
// capability leads to, per event class and per LSM hook. Pure: the kernel
// features are given, not probed.
#include "runtime/kernel_features.hpp"

#include <algorithm>
#include <string>

#include <gtest/gtest.h>

namespace fnw {
namespace {

const EnforcementRow& row(const std::vector<EnforcementRow>& rows, const std::string& name) {
    auto it = std::find_if(rows.begin(), rows.end(), [&](const EnforcementRow& r) { return r.event_class == name; });
    if (it == rows.end()) throw std::runtime_error("no row " + name);
    return *it;
}

bool mentions(const std::vector<std::string>& lines, const std::string& text) {
    return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) { return l.find(text) != l.npos; });
}

KernelCapabilities kernel(std::optional<int> landlock_abi) {
    KernelCapabilities f;
    f.release = "test";
    f.seccomp_user_notif = true;
    f.landlock_abi = landlock_abi;
    return f;
}

TEST(EnforcementMatrix, EachLsmHookDecidesItsOwnRow) {
    // exec's hook loaded, file_open's refused: exec is denied by the LSM,
    // files fall back to the kill at sys_exit and say why.
    LsmStatus lsm{"", {{"bprm_check_security", ""}, {"file_open", "this kernel has no LSM hook file_open"}}};
    auto rows = enforcement_matrix(kernel(std::nullopt), lsm);
    EXPECT_NE(row(rows, "exec").watched.find("bpf-lsm bprm_check_security"), std::string::npos);
    EXPECT_NE(row(rows, "files").watched.find("sigkill at sys_exit"), std::string::npos);
    EXPECT_TRUE(mentions(row(rows, "files").rejected, "bpf-lsm file_open: this kernel has no LSM hook file_open"));

    lsm.hooks["file_open"] = "";
    rows = enforcement_matrix(kernel(std::nullopt), lsm);
    EXPECT_NE(row(rows, "files").watched.find("bpf-lsm file_open: opens refused"), std::string::npos);
    EXPECT_TRUE(mentions(row(rows, "files").rejected, "bpf-lsm path_* hooks: not in this build"));
    lsm.hooks["path_mkdir"] = "";
    rows = enforcement_matrix(kernel(std::nullopt), lsm);
    EXPECT_NE(row(rows, "files").watched.find("opens, creates, deletes, links refused"), std::string::npos);
    EXPECT_NE(row(rows, "files").watched.find("rename: sigkill at sys_exit"), std::string::npos);
    EXPECT_TRUE(mentions(row(rows, "files").rejected, "bpf-lsm path_rename: not in this build"));
    lsm.hooks["path_rename"] = "";
    rows = enforcement_matrix(kernel(std::nullopt), lsm);
    EXPECT_NE(row(rows, "files").watched.find("links, renames refused"), std::string::npos);
    EXPECT_FALSE(mentions(row(rows, "files").rejected, "path_rename"));
    EXPECT_NE(row(rows, "files").launched.find("bpf-lsm file_open"), std::string::npos) << "no Landlock: LSM for both";

    rows = enforcement_matrix(kernel(7), lsm);
    EXPECT_NE(row(rows, "files").launched.find("landlock ABI 7"), std::string::npos) << "Landlock refuses first";
}

TEST(EnforcementMatrix, NoLsmAtAllNamesTheReasonEverywhere) {
    const std::string why = "kernel lacks bpf in /sys/kernel/security/lsm (lockdown,capability,landlock)";
    LsmStatus lsm{why, {{"bprm_check_security", why}, {"file_open", why}}};
    auto rows = enforcement_matrix(kernel(2), lsm);
    EXPECT_TRUE(mentions(row(rows, "exec").rejected, why));
    EXPECT_TRUE(mentions(row(rows, "files").rejected, why));
    EXPECT_TRUE(mentions(row(rows, "network").rejected, "landlock network rights: need ABI 4"));
    EXPECT_EQ(LsmStatus{}.why_not("socket_connect"), "not in this build");
}

TEST(EnforcementMatrix, UnixConnectsAreRefusedByTheLsmHookWhereItLoads) {
    LsmStatus lsm{"", {{"socket_connect", ""}}};
    auto rows = enforcement_matrix(kernel(std::nullopt), lsm);
    EXPECT_NE(row(rows, "network").watched.find("bpf-lsm socket_connect refuses (EPERM)"), std::string::npos);
    EXPECT_NE(row(rows, "network").watched.find("accept on an unlisted port: sigkill"), std::string::npos);
    lsm.hooks["socket_connect"] = "lsm programs refused at load: Operation not permitted";
    rows = enforcement_matrix(kernel(std::nullopt), lsm);
    EXPECT_NE(row(rows, "network").watched.find("unix connect outside network.unix: sigkill at sys_exit"),
              std::string::npos);
    EXPECT_TRUE(mentions(row(rows, "network").rejected,
                         "bpf-lsm socket_connect: lsm programs refused at load"));
}

TEST(EnforcementMatrix, InetConnectAndBindNameTheLsmHooksThatComeFirst) {
    LsmStatus lsm{"", {{"socket_connect", ""}, {"socket_bind", ""}}};
    auto network = row(enforcement_matrix(kernel(std::nullopt), lsm), "network");
    EXPECT_EQ(network.watched.rfind("bpf-lsm socket_connect/socket_bind refuses first (EPERM; kill in the kernel); "
                                    "cgroup sock_addr hooks",
                                    0),
              0u)
        << network.watched;
    EXPECT_FALSE(mentions(network.rejected, "bpf-lsm"));
    lsm.hooks["socket_bind"] = "this kernel has no LSM hook socket_bind";
    network = row(enforcement_matrix(kernel(std::nullopt), lsm), "network");
    EXPECT_EQ(network.watched.rfind("bpf-lsm socket_connect refuses first", 0), 0u) << network.watched;
    EXPECT_TRUE(mentions(network.rejected, "bpf-lsm socket_bind: this kernel has no LSM hook socket_bind"));
}

TEST(EnforcementMatrix, ProcessRulesNameTheHookOrTheTracepointEach) {
    LsmStatus lsm{"", {{"ptrace_access_check", ""}, {"bpf", ""}, {"file_mprotect", ""},
                       {"mmap_file", "this kernel has no LSM hook mmap_file"}}};
    auto process = row(enforcement_matrix(kernel(std::nullopt), lsm), "process");
    EXPECT_EQ(process.watched,
              "ptrace, bpf(), exec memory (mprotect): bpf-lsm refuses (EPERM) before it happens (ptrace_access_check, "
              "bpf, file_mprotect); exec memory (mmap): sigkill at sys_enter (the syscall completes first)");
    EXPECT_EQ(process.launched, process.watched);
    ASSERT_EQ(process.rejected.size(), 1u);
    EXPECT_EQ(process.rejected[0], "bpf-lsm mmap_file: this kernel has no LSM hook mmap_file");

    // No BPF-LSM at all: one line, one reason.
    const std::string why = "lsm programs refused at load: Operation not permitted";
    process = row(enforcement_matrix(kernel(std::nullopt), LsmStatus{why, {}}), "process");
    EXPECT_EQ(process.watched,
              "ptrace, bpf(), exec memory (mprotect), exec memory (mmap): sigkill at sys_enter (the syscall completes "
              "first)");
    ASSERT_EQ(process.rejected.size(), 1u);
    EXPECT_EQ(process.rejected[0], "bpf-lsm ptrace_access_check/bpf/file_mprotect/mmap_file: " + why);
}

TEST(EnforcementMatrix, LandlockAbi4AddsTcpPortsForLaunchedFunctions) {
    auto rows = enforcement_matrix(kernel(4), LsmStatus{"x", {}});
    EXPECT_NE(row(rows, "network").launched.find("landlock ABI 4: TCP connect/bind by port"), std::string::npos);
    EXPECT_EQ(row(rows, "network").watched.find("landlock"), std::string::npos) << "not launched: no Landlock";
}

TEST(ExplainEnforcement, PrintsEveryHookAndWhyItIsNotUsed) {
    FunctionPolicy p;
    p.name = "x";
    p.files.restricted = true;
    p.files.read = {"/usr/**"};
    p.files.on_violation = ViolationAction::Deny;
    LsmStatus lsm{"", {{"bprm_check_security", ""}, {"file_open", "lsm programs refused at load: Operation not permitted"}}};
    const std::string text = explain_enforcement(p, Mode::Enforce, kernel(7), lsm);
    EXPECT_NE(text.find("bpf-lsm (file_open): not available: lsm programs refused at load"), std::string::npos) << text;
    EXPECT_NE(text.find("lsm/bprm_check_security: loaded"), std::string::npos) << text;
    lsm.hooks["file_open"] = "";
    EXPECT_NE(explain_enforcement(p, Mode::Enforce, kernel(7), lsm).find("bpf-lsm (file_open): opens outside"),
              std::string::npos);
    lsm.hooks["path_mkdir"] = "";
    EXPECT_NE(explain_enforcement(p, Mode::Enforce, kernel(7), lsm)
                  .find("bpf-lsm (file_open, path_*): opens, creates, deletes, links outside"),
              std::string::npos);
}

}  // namespace
}  // namespace fnw
