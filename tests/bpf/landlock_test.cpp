// SPDX-License-Identifier: Apache-2.0
// Real file, exec and TCP-port blocking without BPF-LSM: the launcher's
// Landlock ruleset, with each denial reported from sys_exit (landlock.bpf.c).
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <algorithm>

#include <gtest/gtest.h>

#include <fnwarden/kernel_abi.h>

#include "loopback_listener.hpp"
#include "probe_fixture.hpp"
#include "runtime/kernel_features.hpp"
#include "runtime/landlock_sandbox.hpp"

namespace fnw {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

class LandlockTest : public test::ProbeTest {
protected:
    void SetUp() override {
        test::ProbeTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        if (landlock_abi() == 0) {
            if (test::bpf_required()) FAIL() << "this kernel has no Landlock";
            GTEST_SKIP() << "no Landlock";
        }
        scratch_ = fs::temp_directory_path() / ("fnw-landlock-" + std::to_string(getpid()));
        fs::remove_all(scratch_);
        fs::create_directories(scratch_ / "rw");
        fs::create_directories(scratch_ / "ro");
        std::ofstream(scratch_ / "ro" / "data.txt") << "original";
        std::ofstream(scratch_ / "rw" / "move-me.txt") << "m";
    }
    void TearDown() override {
        if (!scratch_.empty()) fs::remove_all(scratch_);
        test::ProbeTest::TearDown();
    }

    // What the workload needs to start, plus read on the scratch tree and
    // full rights on scratch/rw only.
    FunctionPolicy policy(ViolationAction action) const {
        const std::string bin_dir = fs::path(FNW_TEST_WORKLOAD).parent_path().string();
        FunctionPolicy p;
        p.name = "landlock-test";
        p.function = "test";
        p.syscalls.allow.set();
        p.files.restricted = true;
        p.files.read = {"/usr/**", "/lib/**", "/lib64/**", "/etc/**", "/proc/**", bin_dir + "/**",
                        scratch_.string() + "/**"};
        p.files.write = {scratch_.string() + "/rw/**", "/dev/null"};
        p.files.create = {scratch_.string() + "/rw/**"};
        p.files.remove = {scratch_.string() + "/rw/**"};
        p.files.on_violation = action;
        p.exec.restricted = true;
        p.exec.allow = {FNW_TEST_WORKLOAD, "/lib64/ld-linux-x86-64.so.2"};
        p.exec.on_violation = action;
        return p;
    }

    const fnw_file_event* only_file_event(const Run& r) {
        EXPECT_EQ(r.file_events.size(), 1u);
        return r.file_events.empty() ? nullptr : &r.file_events[0];
    }

    fs::path scratch_;
};

TEST_F(LandlockTest, DisallowedWriteFailsWithEaccesAndTheFileIsUntouched) {
    const auto target = scratch_ / "ro" / "data.txt";
    auto r = run_workload(policy(ViolationAction::Deny), Mode::Enforce, {"write:" + target.string(), "exit-errno"});
    EXPECT_EQ(r.outcome.exit_code, EACCES);
    EXPECT_EQ(slurp(target), "original");
    const auto* ev = only_file_event(r);
    ASSERT_NE(ev, nullptr);
    EXPECT_EQ(std::string(ev->path), target.string());
    EXPECT_EQ(ev->nr, static_cast<uint32_t>(SYS_openat));
    EXPECT_EQ(ev->ret, -EACCES);
    EXPECT_EQ(ev->action, FNW_ACTION_DENIED);
    EXPECT_EQ(ev->mechanism, FNW_MECH_LANDLOCK);
    EXPECT_EQ(ev->hdr.pid, static_cast<uint32_t>(r.outcome.pid));
    EXPECT_EQ(ev->hdr.cgroup_id, r.outcome.cgroup_id);
}

TEST_F(LandlockTest, DisallowedMkdirUnlinkRenameHaveNoSideEffect) {
    const auto dir = scratch_ / "ro" / "newdir";
    const auto kept = scratch_ / "ro" / "data.txt";
    auto mk = run_workload(policy(ViolationAction::Deny), Mode::Enforce, {"mkdir:" + dir.string(), "exit-errno"});
    EXPECT_EQ(mk.outcome.exit_code, EACCES);
    EXPECT_FALSE(fs::exists(dir));
    ASSERT_EQ(mk.file_events.size(), 1u);
    EXPECT_EQ(mk.file_events[0].nr, static_cast<uint32_t>(SYS_mkdir));

    auto rm = run_workload(policy(ViolationAction::Deny), Mode::Enforce, {"unlink:" + kept.string(), "exit-errno"});
    EXPECT_EQ(rm.outcome.exit_code, EACCES);
    EXPECT_TRUE(fs::exists(kept));
    ASSERT_EQ(rm.file_events.size(), 1u);

    // Moving a file out of the writable tree into the read-only one.
    const auto from = scratch_ / "rw" / "move-me.txt";
    const auto to = scratch_ / "ro" / "moved.txt";
    auto mv = run_workload(policy(ViolationAction::Deny), Mode::Enforce,
                           {"rename:" + from.string() + ":" + to.string(), "exit-errno"});
    EXPECT_NE(mv.outcome.exit_code, 0);
    EXPECT_TRUE(fs::exists(from));
    EXPECT_FALSE(fs::exists(to));
}

TEST_F(LandlockTest, ExecOfANonAllowedBinaryFails) {
    auto r = run_workload(policy(ViolationAction::Deny), Mode::Enforce, {"exec:/bin/true", "exit-errno"});
    EXPECT_EQ(r.outcome.exit_code, EACCES);
    const auto* ev = only_file_event(r);
    ASSERT_NE(ev, nullptr);
    EXPECT_EQ(std::string(ev->path), "/bin/true");
    EXPECT_EQ(ev->nr, static_cast<uint32_t>(SYS_execve));
}

TEST_F(LandlockTest, AllowedWorkloadRunsNormallyWithNoEvents) {
    const auto rw = scratch_ / "rw";
    auto r = run_workload(policy(ViolationAction::Deny), Mode::Enforce,
                          {"read:" + (scratch_ / "ro" / "data.txt").string(), "mkdir:" + (rw / "sub").string(),
                           "rename:" + (rw / "move-me.txt").string() + ":" + (rw / "sub" / "moved.txt").string(),
                           "unlink:" + (rw / "sub" / "moved.txt").string(), "exit-errno"});
    EXPECT_EQ(r.outcome.exit_code, 0);
    EXPECT_TRUE(r.file_events.empty());
    EXPECT_TRUE(fs::is_directory(rw / "sub"));
}

TEST_F(LandlockTest, KillActionDeniesThenKills) {
    const auto dir = scratch_ / "ro" / "never";
    auto r = run_workload(policy(ViolationAction::Kill), Mode::Enforce,
                          {"mkdir:" + dir.string(), "repeat-getppid:100000000", "exit:0"});
    ASSERT_TRUE(r.outcome.term_signal.has_value()) << "exit " << r.outcome.exit_code;
    EXPECT_EQ(*r.outcome.term_signal, SIGKILL);
    EXPECT_FALSE(fs::exists(dir));
    ASSERT_EQ(r.file_events.size(), 1u);
    EXPECT_EQ(r.file_events[0].action, FNW_ACTION_KILLED);
}

// Landlock grew rights over time; fnwarden uses what the kernel has and says
// what it could not restrict. truncate(2) became a right in ABI 3 (6.2): on
// this host (ABI 7) it is refused, on Debian's 6.1 (ABI 2) it cannot be, and
// the file probes report it (and, deny falling back to kill, kill the
// process when fnwarden reads the event: after the truncate, asynchronously).
TEST_F(LandlockTest, TruncateIsRestrictedOnlyWhereTheAbiHasTheRight) {
    const auto target = scratch_ / "ro" / "data.txt";
    auto r = run_workload(policy(ViolationAction::Deny), Mode::Enforce, {"truncate:" + target.string(), "exit-errno"});
    const int abi = landlock_abi();
    if (abi >= 3) {
        EXPECT_EQ(r.outcome.exit_code, EACCES);
        EXPECT_EQ(slurp(target), "original");
        EXPECT_EQ(r.file_events.size(), 1u);
    } else {
        EXPECT_TRUE(r.outcome.exit_code == 0 || r.outcome.exit_code == 128 + SIGKILL)
            << "ABI " << abi << " has no truncate right; exit " << r.outcome.exit_code;
        EXPECT_EQ(slurp(target), "");
        ASSERT_EQ(r.file_events.size(), 1u) << "the file probes saw it";
        EXPECT_EQ(r.file_events[0].access, uint32_t{FNW_FILE_WRITE});
        EXPECT_EQ(r.file_events[0].verdict, FNW_VERDICT_VIOLATION);
        auto notes = plan_landlock(policy(ViolationAction::Deny), abi).notes;
        EXPECT_NE(std::find(notes.begin(), notes.end(), "landlock ABI < 3: truncate() is not restricted"), notes.end());
    }
}

// io_uring opens files in the kernel without an openat syscall, out of sight
// of the sys_enter probe. Landlock sits on the kernel's file-open path, so
// it refuses them all the same (the denial has no syscall to be reported
// from at sys_exit: docs/threat-model.md).
TEST_F(LandlockTest, IoUringOpenOfADeniedFileFailsToo) {
    auto p = policy(ViolationAction::Deny);
    p.files.read = {"/usr/**", "/lib/**", "/lib64/**", "/etc/**", "/proc/**",
                    fs::path(FNW_TEST_WORKLOAD).parent_path().string() + "/**", (scratch_ / "rw").string() + "/**"};
    std::ofstream(scratch_ / "rw" / "ok.txt") << "ok";
    auto allowed = run_workload(p, Mode::Enforce, {"uring-read:" + (scratch_ / "rw" / "ok.txt").string(), "exit-errno"});
    EXPECT_EQ(allowed.outcome.exit_code, 0) << "io_uring open of an allowed file";
    auto denied = run_workload(p, Mode::Enforce, {"uring-read:" + (scratch_ / "ro" / "data.txt").string(), "exit-errno"});
    EXPECT_EQ(denied.outcome.exit_code, EACCES) << "io_uring open of a denied file";
}

// From ABI 4 (6.7) Landlock restricts TCP connect and bind by port. It runs
// before the cgroup hooks (security_socket_connect comes first), so a port
// no rule names is refused by Landlock with EACCES and reported from
// sys_exit; an allowed port to a disallowed address passes Landlock and is
// refused by the cgroup hook (EPERM). On Debian's 6.1 (ABI 2) there is no
// network right: the cgroup hook refuses both, and the plan says why.
TEST_F(LandlockTest, TcpPortsNoRuleNamesAreRefusedByLandlockWhereTheAbiHasNetworkRights) {
    test::Listener allowed_peer = test::Listener::open(false);
    test::Listener other_peer = test::Listener::open(false);
    FunctionPolicy p = test::egress_policy({test::rule("127.0.0.1/32", {allowed_peer.port}, IPPROTO_TCP)},
                                           ViolationAction::Deny);
    const int abi = landlock_abi();
    const bool landlock_net = abi >= 4;
    auto at = [](const char* ip, uint16_t port) { return std::string(ip) + ":" + std::to_string(port); };

    auto ok = run_workload(p, Mode::Enforce, {"tcp4:" + at("127.0.0.1", allowed_peer.port), "exit-errno"});
    EXPECT_EQ(ok.outcome.exit_code, 0) << "the allowed peer";
    EXPECT_TRUE(ok.net_events.empty());

    auto port = run_workload(p, Mode::Enforce, {"tcp4:" + at("127.0.0.1", other_peer.port), "exit-errno"});
    EXPECT_EQ(port.outcome.exit_code, landlock_net ? EACCES : EPERM) << "ABI " << abi;
    ASSERT_EQ(port.net_events.size(), 1u);
    const fnw_net_event& ev = port.net_events[0];
    EXPECT_EQ(ev.mechanism, landlock_net ? FNW_MECH_LANDLOCK : inet_refusal());
    EXPECT_EQ(ev.action, FNW_ACTION_DENIED);
    EXPECT_EQ(ev.verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(ev.op, FNW_NET_CONNECT);
    EXPECT_EQ(ev.port, other_peer.port);
    EXPECT_EQ(ev.family, 4);
    EXPECT_EQ(ev.protocol, IPPROTO_TCP);
    EXPECT_EQ(ev.hdr.pid, static_cast<uint32_t>(port.outcome.pid));
    const uint8_t loopback_mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};
    EXPECT_EQ(std::memcmp(ev.addr, loopback_mapped, 16), 0);

    // Landlock knows ports, not addresses: the address is the cgroup hook's
    // (BPF-LSM's, where it runs: it comes first).
    auto address = run_workload(p, Mode::Enforce, {"tcp4:" + at("127.0.0.2", allowed_peer.port), "exit-errno"});
    EXPECT_EQ(address.outcome.exit_code, EPERM);
    ASSERT_EQ(address.net_events.size(), 1u);
    EXPECT_EQ(address.net_events[0].mechanism, inet_refusal());

    // No listen rule: every TCP bind is refused, by Landlock where it can.
    auto bind = run_workload(p, Mode::Enforce, {"bind6:" + std::to_string(other_peer.port), "exit-errno"});
    EXPECT_EQ(bind.outcome.exit_code, landlock_net ? EACCES : EPERM);
    ASSERT_EQ(bind.net_events.size(), 1u);
    EXPECT_EQ(bind.net_events[0].op, FNW_NET_BIND);
    EXPECT_EQ(bind.net_events[0].family, 6);
    EXPECT_EQ(bind.net_events[0].port, other_peer.port);
    EXPECT_EQ(bind.net_events[0].mechanism, landlock_net ? FNW_MECH_LANDLOCK : inet_refusal("socket_bind"));

    // UDP is not Landlock's: the cgroup hook refuses it on every ABI.
    auto udp = run_workload(p, Mode::Enforce, {"udp4:" + at("127.0.0.1", other_peer.port), "exit-errno"});
    EXPECT_EQ(udp.outcome.exit_code, EPERM);
    ASSERT_EQ(udp.net_events.size(), 1u);
    EXPECT_EQ(udp.net_events[0].mechanism, FNW_MECH_CGROUP_SOCK);

    const auto notes = plan_landlock(p, abi).notes;
    if (!landlock_net)
        EXPECT_NE(std::find(notes.begin(), notes.end(),
                            "landlock ABI " + std::to_string(abi) +
                                " has no network rights (ABI 4, 6.7): TCP connect/bind are left to the cgroup hooks"),
                  notes.end());
}

// kill: on ABI 4+ Landlock refuses and the kernel kills at sys_exit; below,
// the cgroup hook refuses and fnwarden kills when it reads the event (under
// BPF-LSM, lsm/socket_connect refuses and kills in the kernel).
TEST_F(LandlockTest, TcpPortKillActionDeniesThenKills) {
    const bool landlock_net = landlock_abi() >= 4;
    test::Listener peer = test::Listener::open(false);
    FunctionPolicy p = test::egress_policy({}, ViolationAction::Kill);
    auto r = run_workload(p, Mode::Enforce,
                          {"tcp4:127.0.0.1:" + std::to_string(peer.port), "repeat-getppid:100000000", "exit:0"});
    ASSERT_TRUE(r.outcome.term_signal.has_value()) << "exit " << r.outcome.exit_code;
    EXPECT_EQ(*r.outcome.term_signal, SIGKILL);
    ASSERT_EQ(r.net_events.size(), 1u);
    EXPECT_EQ(r.net_events[0].mechanism, landlock_net ? FNW_MECH_LANDLOCK : inet_refusal());
    EXPECT_EQ(r.net_events[0].action, FNW_ACTION_KILLED);
}

TEST_F(LandlockTest, AuditModeAppliesNoLandlock) {
    const auto dir = scratch_ / "ro" / "audit-made";
    auto r = run_workload(policy(ViolationAction::Deny), Mode::Audit, {"mkdir:" + dir.string(), "exit-errno"});
    EXPECT_EQ(r.outcome.exit_code, 0);
    EXPECT_TRUE(fs::is_directory(dir));
}

// docs/enforcement.md: a direction whose rules name more than 1024 TCP ports
// is left to the cgroup hooks (one Landlock rule per port, each a kernel
// allocation), and `--explain` prints why. Both sides of the limit, with the
// same peer on a port no rule names: at 1024 ports Landlock refuses it
// (EACCES), at 1025 it is not asked and the cgroup hook refuses it (EPERM).
// The allowed port keeps working on both sides.
TEST_F(LandlockTest, MoreThan1024TcpPortsFallBackToTheCgroupHooksAndExplainSaysWhy) {
    test::Listener allowed_peer = test::Listener::open(false);
    test::Listener other_peer = test::Listener::open(false);
    auto policy_with_ports = [&](size_t count) {
        std::vector<uint16_t> ports{allowed_peer.port};
        for (uint32_t port = 1; ports.size() < count; ++port)
            if (port != allowed_peer.port && port != other_peer.port) ports.push_back(static_cast<uint16_t>(port));
        return test::egress_policy({test::rule("127.0.0.1/32", std::move(ports), IPPROTO_TCP)}, ViolationAction::Deny);
    };
    const int abi = landlock_abi();
    const bool landlock_net = abi >= 4;
    const std::string allowed = "tcp4:127.0.0.1:" + std::to_string(allowed_peer.port);
    const std::string other = "tcp4:127.0.0.1:" + std::to_string(other_peer.port);
    const std::string fallback_note = "note: landlock: TCP connect is not restricted (1025 ports); the cgroup hooks decide it";

    const FunctionPolicy at_limit = policy_with_ports(1024);
    EXPECT_EQ(run_workload(at_limit, Mode::Enforce, {allowed, "exit-errno"}).outcome.exit_code, 0);
    auto landlock_refused = run_workload(at_limit, Mode::Enforce, {other, "exit-errno"});
    EXPECT_EQ(landlock_refused.outcome.exit_code, landlock_net ? EACCES : EPERM) << "ABI " << abi;
    ASSERT_EQ(landlock_refused.net_events.size(), 1u);
    EXPECT_EQ(landlock_refused.net_events[0].mechanism, landlock_net ? FNW_MECH_LANDLOCK : inet_refusal());
    EXPECT_EQ(landlock_refused.net_events[0].action, FNW_ACTION_DENIED);

    const FunctionPolicy over_limit = policy_with_ports(1025);
    EXPECT_EQ(run_workload(over_limit, Mode::Enforce, {allowed, "exit-errno"}).outcome.exit_code, 0);
    auto hook_refused = run_workload(over_limit, Mode::Enforce, {other, "exit-errno"});
    EXPECT_EQ(hook_refused.outcome.exit_code, EPERM) << "Landlock refused a connect it should not restrict";
    ASSERT_EQ(hook_refused.net_events.size(), 1u);
    EXPECT_EQ(hook_refused.net_events[0].mechanism, inet_refusal());
    EXPECT_EQ(hook_refused.net_events[0].action, FNW_ACTION_DENIED);
    EXPECT_EQ(hook_refused.net_events[0].port, other_peer.port);

    // What `fnwarden run --explain` prints (the same call, the same kernel probe).
    const LsmStatus lsm{probes_->lsm_error(), probes_->lsm_hooks()};
    const std::string explained_over = explain_enforcement(over_limit, Mode::Enforce, probe_kernel_capabilities(), lsm);
    const std::string explained_at = explain_enforcement(at_limit, Mode::Enforce, probe_kernel_capabilities(), lsm);
    if (landlock_net) {
        EXPECT_NE(explained_over.find(fallback_note), std::string::npos) << explained_over;
        EXPECT_EQ(explained_at.find("TCP connect is not restricted"), std::string::npos) << explained_at;
    }
}

}  // namespace
}  // namespace fnw
