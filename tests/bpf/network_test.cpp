// SPDX-License-Identifier: Apache-2.0
// The network allowlist, decided and enforced in the kernel by the cgroup
// sock_addr hooks (net.bpf.c): real sockets, real loopback peers.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sys/eventfd.h>
#include <sys/un.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "common/unique_fd.hpp"
#include "handshake.hpp"
#include "loopback_listener.hpp"
#include "probe_fixture.hpp"

namespace fnw {
namespace {

using test::egress_policy;
using test::Listener;
using test::rule;

// A fresh directory of this test's own (mkdtemp under $TMPDIR or /tmp).
std::string temp_dir() {
    const std::string pattern = (std::filesystem::temp_directory_path() / "fnw-net-XXXXXX").string();
    std::vector<char> dir(pattern.begin(), pattern.end());
    dir.push_back('\0');
    EXPECT_NE(::mkdtemp(dir.data()), nullptr) << strerror(errno);
    return dir.data();
}

class NetworkTest : public test::ProbeTest {
protected:
    void SetUp() override {
        test::ProbeTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        v4_ = Listener::open(false);
        v6_ = Listener::open(true);
    }
    std::string at(const char* ip, uint16_t port) { return std::string(ip) + ":" + std::to_string(port); }

    // These tests are about the cgroup hooks, which act on every monitored
    // cgroup, launched or not: no Landlock port layer in front of them
    // (that layer is landlock_test's).
    Run run_workload(const FunctionPolicy& policy, Mode mode, std::vector<std::string> steps) {
        return ProbeTest::run_workload(policy, mode, std::move(steps), {.use_landlock = false});
    }

    Listener v4_, v6_;
};

TEST_F(NetworkTest, TcpConnectToAllowedPeerWorksAndDisallowedGetsEperm) {
    auto policy = egress_policy({rule("127.0.0.1/32", {v4_.port}, IPPROTO_TCP)}, ViolationAction::Deny);

    auto allowed = run_workload(policy, Mode::Enforce, {"tcp4:" + at("127.0.0.1", v4_.port), "exit-errno"});
    EXPECT_EQ(allowed.outcome.exit_code, 0) << "allowed connect failed";
    EXPECT_TRUE(allowed.net_events.empty());

    // Same port, another loopback address: not in the allowlist.
    auto denied = run_workload(policy, Mode::Enforce, {"tcp4:" + at("127.0.0.2", v4_.port), "exit-errno"});
    EXPECT_EQ(denied.outcome.exit_code, EPERM);
    ASSERT_EQ(denied.net_events.size(), 1u);
    const auto& ev = denied.net_events[0];
    EXPECT_EQ(ev.op, FNW_NET_CONNECT);
    EXPECT_EQ(ev.family, 4);
    EXPECT_EQ(ev.protocol, IPPROTO_TCP);
    EXPECT_EQ(ev.port, v4_.port);
    std::array<uint8_t, 16> addr{};
    std::memcpy(addr.data(), ev.addr, 16);
    EXPECT_EQ(format_ip(addr), "127.0.0.2");
    EXPECT_EQ(ev.verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(ev.action, FNW_ACTION_DENIED);
    EXPECT_EQ(ev.mechanism, inet_refusal());
    EXPECT_EQ(ev.hdr.pid, static_cast<uint32_t>(denied.outcome.pid));
    EXPECT_EQ(ev.hdr.cgroup_id, denied.outcome.cgroup_id);
    EXPECT_EQ(ev.hdr.ppid, static_cast<uint32_t>(getpid())) << "from the task, or from /proc for the cgroup hook";
    EXPECT_EQ(ev.hdr.lineage_source, inet_lineage_source());
    EXPECT_EQ(ev.hdr.lineage_len, 0u) << "the root process: its parent is outside the function";

    // Allowed address, other port.
    auto other_port = run_workload(policy, Mode::Enforce, {"tcp4:" + at("127.0.0.1", v6_.port), "exit-errno"});
    EXPECT_EQ(other_port.outcome.exit_code, EPERM);
}

TEST_F(NetworkTest, ANetworkEventNamesItsAncestorsFromProc) {
    auto policy = egress_policy({rule("127.0.0.1/32", {v4_.port}, IPPROTO_TCP)}, ViolationAction::Deny);
    // /proc is all userspace has for the socket hooks' events, so the chain
    // must be alive while the event is read: the sender waits until this
    // test has received the event (fnwarden has read /proc by then) and
    // creates the file it waits for. A UDP send is the cgroup hook's on
    // every kernel (no LSM hook takes it over).
    const std::string dir = temp_dir();
    const std::string release = dir + "/event-read";
    on_record_ = [&](std::span<const std::byte>) { std::ofstream(release) << "read\n"; };
    auto r = run_workload(policy, Mode::Enforce,
                          {"nest:2", "udp4:" + at("127.0.0.2", v4_.port), "await-file:" + release, "exit-errno"});
    on_record_ = nullptr;
    std::filesystem::remove_all(dir);
    EXPECT_EQ(r.outcome.exit_code, EPERM);
    ASSERT_EQ(r.net_events.size(), 1u);
    const auto& hdr = r.net_events[0].hdr;
    EXPECT_EQ(hdr.lineage_source, FNW_LINEAGE_FROM_PROC);
    ASSERT_EQ(hdr.lineage_len, 2u);
    EXPECT_EQ(hdr.lineage_truncated, 0u);
    EXPECT_EQ(hdr.lineage[0], hdr.ppid);
    EXPECT_EQ(hdr.lineage[1], static_cast<uint32_t>(r.outcome.pid));
    EXPECT_NE(hdr.pid, static_cast<uint32_t>(r.outcome.pid));
}

// io_uring's IORING_OP_CONNECT makes no connect syscall, but it goes
// through the same socket layer, in the submitter's cgroup (io-wq workers
// are its threads): the cgroup hook refuses it all the same.
TEST_F(NetworkTest, AConnectSubmittedThroughIoUringIsRefusedToo) {
    auto policy = egress_policy({rule("127.0.0.1/32", {v4_.port}, IPPROTO_TCP)}, ViolationAction::Deny);
    auto allowed = run_workload(policy, Mode::Enforce, {"uring-tcp4:" + at("127.0.0.1", v4_.port), "exit-errno"});
    EXPECT_EQ(allowed.outcome.exit_code, 0) << "the allowed io_uring connect failed";
    EXPECT_TRUE(allowed.net_events.empty());
    auto denied = run_workload(policy, Mode::Enforce, {"uring-tcp4:" + at("127.0.0.2", v4_.port), "exit-errno"});
    EXPECT_EQ(denied.outcome.exit_code, EPERM);
    ASSERT_EQ(denied.net_events.size(), 1u);
    EXPECT_EQ(denied.net_events[0].op, FNW_NET_CONNECT);
    EXPECT_EQ(denied.net_events[0].action, FNW_ACTION_DENIED);
    EXPECT_EQ(denied.net_events[0].mechanism, inet_refusal());
    EXPECT_EQ(denied.net_events[0].hdr.pid, static_cast<uint32_t>(denied.outcome.pid));
}

TEST_F(NetworkTest, UdpSendtoDisallowedPortGetsEperm) {
    auto policy = egress_policy({rule("127.0.0.1/32", {53}, IPPROTO_UDP)}, ViolationAction::Deny);
    auto allowed = run_workload(policy, Mode::Enforce, {"udp4:127.0.0.1:53", "exit-errno"});
    EXPECT_EQ(allowed.outcome.exit_code, 0);
    auto denied = run_workload(policy, Mode::Enforce, {"udp4:127.0.0.1:5353", "exit-errno"});
    EXPECT_EQ(denied.outcome.exit_code, EPERM);
    ASSERT_EQ(denied.net_events.size(), 1u);
    EXPECT_EQ(denied.net_events[0].op, FNW_NET_SENDMSG);
    EXPECT_EQ(denied.net_events[0].protocol, IPPROTO_UDP);
    EXPECT_EQ(denied.net_events[0].port, 5353);
    // The rule is UDP-only: TCP to the same address and port is not allowed.
    auto tcp = run_workload(policy, Mode::Enforce, {"tcp4:127.0.0.1:53", "exit-errno"});
    EXPECT_EQ(tcp.outcome.exit_code, EPERM);
}

TEST_F(NetworkTest, Ipv6LoopbackIsCoveredAndV4MappedMatchesV4Rules) {
    auto v4_only = egress_policy({rule("127.0.0.1/32")}, ViolationAction::Deny);
    auto v6 = run_workload(v4_only, Mode::Enforce, {"tcp6:" + at("::1", v6_.port), "exit-errno"});
    EXPECT_EQ(v6.outcome.exit_code, EPERM);
    ASSERT_EQ(v6.net_events.size(), 1u);
    EXPECT_EQ(v6.net_events[0].family, 6);

    // ::ffff:127.0.0.1 through an AF_INET6 socket is the same peer as 127.0.0.1.
    auto mapped = run_workload(v4_only, Mode::Enforce, {"tcp6:" + at("::ffff:127.0.0.1", v4_.port), "exit-errno"});
    EXPECT_EQ(mapped.outcome.exit_code, 0);
    auto mapped_other = run_workload(v4_only, Mode::Enforce, {"tcp6:" + at("::ffff:127.0.0.2", v4_.port), "exit-errno"});
    EXPECT_EQ(mapped_other.outcome.exit_code, EPERM);

    auto v6_allowed = egress_policy({rule("::1/128", {v6_.port})}, ViolationAction::Deny);
    auto ok = run_workload(v6_allowed, Mode::Enforce, {"tcp6:" + at("::1", v6_.port), "exit-errno"});
    EXPECT_EQ(ok.outcome.exit_code, 0);
}

TEST_F(NetworkTest, BindToUnlistedPortIsDeniedListedPortWorks) {
    // A port the kernel just handed out and we released: free to bind.
    uint16_t free_port;
    {
        Listener probe = Listener::open(false);
        free_port = probe.port;
    }
    ListenRule listen{free_port, IPPROTO_TCP};
    auto policy = egress_policy({}, ViolationAction::Deny, {listen});
    auto allowed = run_workload(policy, Mode::Enforce, {"bind4:" + std::to_string(free_port), "exit-errno"});
    EXPECT_EQ(allowed.outcome.exit_code, 0);
    EXPECT_TRUE(allowed.net_events.empty());
    auto denied = run_workload(policy, Mode::Enforce, {"bind6:" + std::to_string(free_port == 65535 ? 1 : free_port + 1), "exit-errno"});
    EXPECT_EQ(denied.outcome.exit_code, EPERM);
    ASSERT_EQ(denied.net_events.size(), 1u);
    EXPECT_EQ(denied.net_events[0].op, FNW_NET_BIND);
    EXPECT_EQ(denied.net_events[0].family, 6);
    EXPECT_EQ(denied.net_events[0].mechanism, inet_refusal("socket_bind"));
    // An allowed bind through the same hooks: the LSM hook lets it through
    // to the cgroup hook, which allows it too.
    auto allowed6 = run_workload(policy, Mode::Enforce, {"bind6:" + std::to_string(free_port), "exit-errno"});
    EXPECT_EQ(allowed6.outcome.exit_code, 0);
    EXPECT_TRUE(allowed6.net_events.empty());
}

TEST_F(NetworkTest, AuditModeReportsAndAllows) {
    auto policy = egress_policy({rule("127.0.0.1/32", {v6_.port})}, ViolationAction::Deny);
    auto r = run_workload(policy, Mode::Audit, {"tcp4:" + at("127.0.0.1", v4_.port), "exit-errno"});
    EXPECT_EQ(r.outcome.exit_code, 0) << "audit mode must not refuse";
    ASSERT_EQ(r.net_events.size(), 1u);
    EXPECT_EQ(r.net_events[0].action, FNW_ACTION_REPORTED);
    EXPECT_EQ(r.net_events[0].mechanism, FNW_MECH_NONE);
}

TEST_F(NetworkTest, KillActionRefusesThenKills) {
    auto policy = egress_policy({rule("127.0.0.1/32", {v6_.port})}, ViolationAction::Kill);
    auto r = run_workload(policy, Mode::Enforce,
                          {"tcp4:" + at("127.0.0.2", v4_.port), "repeat-getppid:100000000", "exit:0"});
    ASSERT_TRUE(r.outcome.term_signal.has_value()) << "exit " << r.outcome.exit_code;
    EXPECT_EQ(*r.outcome.term_signal, SIGKILL);
    ASSERT_EQ(r.net_events.size(), 1u);
    EXPECT_EQ(r.net_events[0].action, FNW_ACTION_KILLED);
    // Under BPF-LSM the kill is the kernel's, before connect returns; the
    // cgroup hook cannot signal, so there fnwarden kills on the event.
    EXPECT_EQ(r.net_events[0].mechanism, inet_refusal());
    EXPECT_EQ(r.net_events[0].hdr.lineage_source, inet_lineage_source());
}

TEST_F(NetworkTest, UnrestrictedPolicyAndUnmonitoredProcessesAreUntouched) {
    FunctionPolicy open_policy;
    open_policy.name = "open";
    open_policy.function = "test";
    open_policy.syscalls.allow.set();
    auto r = run_workload(open_policy, Mode::Enforce, {"tcp4:" + at("127.0.0.1", v4_.port), "exit-errno"});
    EXPECT_EQ(r.outcome.exit_code, 0);
    EXPECT_TRUE(r.net_events.empty());
    // This test process is in no monitored cgroup: a connect the policies
    // above would refuse goes through.
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(v4_.port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0) << strerror(errno);
}

// ---- Accepted connections -------------------------------------------------

// Connects to the port the workload writes into `port_file` once it listens,
// and holds the connection until the run is over. The workload renames the
// file into place whole, so its appearance is the handshake (inotify, no
// polling); a run that ends without listening ends the wait (the eventfd).
class Connector {
public:
    explicit Connector(std::string port_file, bool v6 = false)
        : v6_(v6), stop_(::eventfd(0, EFD_CLOEXEC)), thread_([this, file = std::move(port_file)] { run(file); }) {}
    ~Connector() {
        const uint64_t one = 1;
        (void)!::write(stop_.get(), &one, sizeof(one));
        thread_.join();
    }
    uint16_t port() const { return port_.load(); }

private:
    void run(const std::string& file) {
        if (test::wait_for_file(file, std::chrono::seconds(30), stop_.get())) {
            std::ifstream in(file);
            unsigned port = 0;
            if (in >> port && port > 0) {
                port_ = static_cast<uint16_t>(port);
                fd_.reset(::socket(v6_ ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
                if (v6_) {
                    sockaddr_in6 a{};
                    a.sin6_family = AF_INET6;
                    a.sin6_port = htons(static_cast<uint16_t>(port));
                    a.sin6_addr = in6addr_loopback;
                    (void)::connect(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a));
                } else {
                    sockaddr_in a{};
                    a.sin_family = AF_INET;
                    a.sin_port = htons(static_cast<uint16_t>(port));
                    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                    (void)::connect(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a));
                }
            }
        }
    }
    const bool v6_;
    std::atomic<uint16_t> port_{0};
    UniqueFd fd_;
    UniqueFd stop_;
    std::thread thread_;
};

TEST_F(NetworkTest, AnAcceptedConnectionOnAListedPortIsTracedWithBothEnds) {
    uint16_t free_port;
    {
        Listener probe = Listener::open(false);
        free_port = probe.port;
    }
    auto policy = egress_policy({}, ViolationAction::Kill, {ListenRule{free_port, IPPROTO_TCP}});
    const std::string dir = temp_dir();
    Run r;
    {
        Connector client(dir + "/port");
        r = ProbeTest::run_workload(policy, Mode::Enforce,
                                    {"listen4:" + std::to_string(free_port) + ":" + dir + "/port", "exit-errno"},
                                    {.trace = true, .use_landlock = false});
    }
    std::filesystem::remove_all(dir);
    EXPECT_EQ(r.outcome.exit_code, 0) << "the accept failed";
    std::vector<fnw_net_event> accepts;
    for (const auto& ev : r.net_events)
        if (ev.op == FNW_NET_ACCEPT) accepts.push_back(ev);
    ASSERT_EQ(accepts.size(), 1u);
    const auto& ev = accepts[0];
    EXPECT_EQ(ev.verdict, FNW_VERDICT_ALLOWED);
    EXPECT_EQ(ev.action, FNW_ACTION_NONE);
    EXPECT_EQ(ev.local_port, free_port);
    EXPECT_EQ(ev.family, 4);
    EXPECT_EQ(ev.protocol, IPPROTO_TCP);
    EXPECT_NE(ev.port, 0u) << "the peer's port";
    std::array<uint8_t, 16> addr{};
    std::memcpy(addr.data(), ev.addr, 16);
    EXPECT_EQ(format_ip(addr), "127.0.0.1");
    EXPECT_EQ(ev.hdr.pid, static_cast<uint32_t>(r.outcome.pid));
    EXPECT_EQ(ev.hdr.lineage_source, FNW_LINEAGE_FROM_KERNEL);
}

// listen() without bind() picks a port itself, and no bind hook runs: the
// accept is where a listener the policy never allowed shows up.
TEST_F(NetworkTest, AcceptOnAPortTheKernelPickedIsAViolationAndKillEndsTheProcess) {
    auto policy = egress_policy({}, ViolationAction::Kill, {});
    const std::string dir = temp_dir();
    Run r;
    uint16_t port = 0;
    {
        Connector client(dir + "/port");
        r = run_workload(policy, Mode::Enforce, {"listen4:0:" + dir + "/port", "exit-errno"});
        port = client.port();
    }
    std::filesystem::remove_all(dir);
    ASSERT_NE(port, 0u) << "the workload never listened";
    ASSERT_TRUE(r.outcome.term_signal.has_value()) << "exit " << r.outcome.exit_code;
    EXPECT_EQ(*r.outcome.term_signal, SIGKILL);
    ASSERT_EQ(r.net_events.size(), 1u);
    const auto& ev = r.net_events[0];
    EXPECT_EQ(ev.op, FNW_NET_ACCEPT);
    EXPECT_EQ(ev.verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(ev.action, FNW_ACTION_KILLED);
    EXPECT_EQ(ev.mechanism, FNW_MECH_SIGKILL);
    EXPECT_EQ(ev.local_port, port);
}

TEST_F(NetworkTest, AcceptOverIpv6InAuditModeIsReportedAndWorks) {
    auto policy = egress_policy({}, ViolationAction::Kill, {});
    const std::string dir = temp_dir();
    Run r;
    {
        Connector client(dir + "/port", /*v6=*/true);
        r = run_workload(policy, Mode::Audit, {"listen6:0:" + dir + "/port", "exit-errno"});
    }
    std::filesystem::remove_all(dir);
    EXPECT_EQ(r.outcome.exit_code, 0) << "audit mode must not get in the way";
    ASSERT_EQ(r.net_events.size(), 1u);
    const auto& ev = r.net_events[0];
    EXPECT_EQ(ev.op, FNW_NET_ACCEPT);
    EXPECT_EQ(ev.family, 6);
    EXPECT_EQ(ev.action, FNW_ACTION_REPORTED);
    std::array<uint8_t, 16> addr{};
    std::memcpy(addr.data(), ev.addr, 16);
    EXPECT_EQ(format_ip(addr), "::1");
}

// ---- Unix-socket connects --------------------------------------------------

struct UnixListener {
    UniqueFd fd;
    static UnixListener open(const std::string& name) {
        UnixListener l;
        l.fd.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        socklen_t len = sizeof(sa_family_t);
        if (name.front() == '@') {
            std::memcpy(addr.sun_path + 1, name.data() + 1, name.size() - 1);
            len += static_cast<socklen_t>(name.size());
        } else {
            std::strncpy(addr.sun_path, name.c_str(), sizeof(addr.sun_path) - 1);
            len += static_cast<socklen_t>(name.size() + 1);
        }
        EXPECT_EQ(::bind(l.fd.get(), reinterpret_cast<sockaddr*>(&addr), len), 0) << strerror(errno);
        EXPECT_EQ(::listen(l.fd.get(), 16), 0);
        return l;
    }
};

std::string unix_name(const fnw_net_event& ev) {
    return std::string(ev.unix_path, std::min<size_t>(ev.unix_path_len, sizeof(ev.unix_path)));
}

TEST_F(NetworkTest, UnixConnectsOutsideNetworkUnixAreReportedWithTheSocketName) {
    const std::string dir = temp_dir();
    const std::string allowed = dir + "/allowed.sock", other = dir + "/other.sock";
    const std::string abstract = "@fnw-test-" + std::to_string(::getpid());
    UnixListener a = UnixListener::open(allowed), b = UnixListener::open(other), c = UnixListener::open(abstract);
    auto policy = egress_policy({}, ViolationAction::Report);
    policy.network.unix_sockets = {allowed};
    auto r = run_workload(policy, Mode::Enforce,
                          {"unix-connect:" + allowed, "unix-connect:" + dir + "/missing.sock", "unix-connect:" + other,
                           "unix-connect:" + abstract, "exit-errno"});
    std::filesystem::remove_all(dir);
    EXPECT_EQ(r.outcome.exit_code, 0) << "report mode: every connect that can succeed does";
    // The allowed one is silent; the missing one connected nothing.
    ASSERT_EQ(r.net_events.size(), 2u);
    EXPECT_EQ(r.net_events[0].op, FNW_NET_CONNECT_UNIX);
    EXPECT_EQ(r.net_events[0].family, 1);
    EXPECT_EQ(unix_name(r.net_events[0]), other);
    EXPECT_EQ(r.net_events[0].verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(r.net_events[0].action, FNW_ACTION_REPORTED);
    EXPECT_EQ(unix_name(r.net_events[1]), std::string(1, '\0') + abstract.substr(1)) << "abstract: leading NUL";

    // The same abstract name allowed: nothing to report.
    policy.network.unix_sockets = {allowed, abstract};
    auto quiet = run_workload(policy, Mode::Enforce, {"unix-connect:" + abstract, "exit-errno"});
    EXPECT_EQ(quiet.outcome.exit_code, 0);
    EXPECT_TRUE(quiet.net_events.empty());
}

TEST_F(NetworkTest, AUnixConnectOutsideTheAllowlistIsRefusedUnderBpfLsmElseKilled) {
    const std::string dir = temp_dir();
    const std::string other = dir + "/other.sock";
    UnixListener b = UnixListener::open(other);
    auto policy = egress_policy({}, ViolationAction::Deny);
    auto r = run_workload(policy, Mode::Enforce, {"unix-connect:" + other, "exit-errno"});
    std::filesystem::remove_all(dir);
    ASSERT_EQ(r.net_events.size(), 1u);
    const auto& ev = r.net_events[0];
    EXPECT_EQ(ev.op, FNW_NET_CONNECT_UNIX);
    EXPECT_EQ(unix_name(ev), other);
    EXPECT_EQ(ev.verdict, FNW_VERDICT_VIOLATION);
    if (probes_->lsm_hook_loaded("socket_connect")) {
        // lsm/socket_connect: refused before it happened, the kernel's copy of the name.
        EXPECT_EQ(r.outcome.exit_code, EPERM);
        EXPECT_EQ(ev.action, FNW_ACTION_DENIED);
        EXPECT_EQ(ev.mechanism, FNW_MECH_BPF_LSM);
    } else {
        // Only the tracepoint: deny cannot undo a finished connect, so it kills.
        ASSERT_TRUE(r.outcome.term_signal.has_value()) << "exit " << r.outcome.exit_code;
        EXPECT_EQ(*r.outcome.term_signal, SIGKILL);
        EXPECT_EQ(ev.action, FNW_ACTION_KILLED);
        EXPECT_EQ(ev.mechanism, FNW_MECH_SIGKILL);
    }
}

}  // namespace
}  // namespace fnw
