// SPDX-License-Identifier: Apache-2.0
// The `status` reply as the daemon assembles it: one typed part per
// component (control/protocol.hpp), JSON only when it goes on the socket.
// The golden fixture pins the wire format (keys, nesting, null and absent
// members), which e2e scripts and the CLI read; the round trips show the
// CLI's parser reads back exactly what the daemon writes.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "control/protocol.hpp"
#include "daemon/daemon_status.hpp"
#include "fakes/control_fixtures.hpp"

using nlohmann::json;

namespace fnw {
namespace {

std::string read_fixture(const std::string& name) { return testing::read_control_fixture(name); }

// Every counter a distinct value, so a key that moved or swapped shows.
StatusCounters fake_counters() {
    StatusCounters counters;
    uint64_t next = 100;
    for (const KernelCounter& counter : kKernelCounters) counters.kernel.*counter.field = next++;
#define FNW_FAKE_DAEMON_COUNTER(field) counters.daemon.field = next++;
    FNW_DAEMON_COUNTERS(FNW_FAKE_DAEMON_COUNTER)
#undef FNW_FAKE_DAEMON_COUNTER
    counters.control = ControlInfo{{{"owner", 2}, {"path", 1}}, 64, "fnwarden", "/sys/fs/cgroup/fnwarden"};
    counters.webhook = WebhookCounters{10, 1, 2, 3};
    return counters;
}

// What each component hands the daemon for its member of the reply.
StatusReply fake_status() {
    StatusReply s;
    s.daemon = DaemonInfo{"0.1.0", "2026-12-05T06:00:00Z", "enforce", "/etc/fnwarden/rules",
                          "/run/fnwarden/fnwarden.sock", "127.0.0.1:9464", "stdout", "https://hooks.example/x",
                          4321, 42};
    s.kernel.release = "6.8.0-test";
    s.kernel.lsm_programs = "loaded";
    s.kernel.seccomp_user_notif = true;
    s.kernel.landlock_abi = 4;
    s.kernel.lsm_hooks = {{"file_open", "loaded"}, {"socket_bind", "refused at load"}};
    s.kernel.active_lsms = std::vector<std::string>{"lockdown", "bpf"};
    s.pinned = PinnedInfo{"adopted", "/sys/fs/bpf/fnwarden/v1-0123456789abcdef", "", 14, 2.5,
                          {"/sys/fs/bpf/fnwarden/v1-fedcba9876543210"}, {"fnw_sys_exit: Invalid argument"}};
    s.enforcement = {EnforcementInfo{"syscalls", "seccomp", "sigkill at sys_enter", {"bpf-lsm: no hook"}}};
    s.programs = {ProgramInfo{"on_sys_enter", "tp_btf/sys_enter", true, true, 7, 900}};
    s.programs_stats = "off: no bpf_stats";
    s.policy_set = PolicySetInfo{"v-abc", "2026-12-05T06:00:01Z", "baseline.yaml", 3, 1,
                                 LastReloadInfo{"failed", "2026-12-05T06:00:02Z", {"bad.yaml: no name"}, {"w"}}};
    CgroupInfo registered{4242, 1, "hello-fn", {"arm-on-exec", "trace"}, "/sys/fs/cgroup/fnwarden/hello-fn-1-1",
                          777, "gone", std::nullopt, std::nullopt};
    CgroupInfo found{99, 2, "pod-fn", {"inherited"}, "/kubepods/pod-1/abc", std::nullopt, std::nullopt,
                     "podSelector", CgroupPodInfo{"default", "web-1", "abc"}};
    CgroupInfo inherited{100, 2, "pod-fn", {}, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt};
    s.cgroups = {registered, found, inherited};
    s.functions = {FunctionInfo{"hello-fn", "hello", "hello.yaml", "enforce", 1, 1, 12, 3, 0},
                   FunctionInfo{"pod-fn", "pods", "pods.yaml", "audit", 2, 2, 5, 0, 4}};
    s.functions[0].roots = {RootInfo{4026532451, "0:34", 2, 5120, "/run/containerd/io.containerd.runtime.v2.task/x/rootfs",
                                     {"read", "write"}}};
    s.counters = fake_counters();
    s.kubernetes = KubernetesInfo{"node-1", "12345", "watch: EOF", true, 4, 1, 0, 2, 9, 1, 1};
    s.clients = {ClientInfo{1, 5742, 0, "client", 0, 0}, ClientInfo{2, 6000, 1000, "trace", 128, 5}};
    return s;
}

TEST(StatusReply, FromItsPartsWritesTheGoldenWireFormat) {
    EXPECT_EQ(reply_json(fake_status()).dump(2) + "\n", read_fixture("status_golden.json"));
}

// Without a pod watcher "kubernetes" is null, without a webhook
// counters.webhook is left out: both are part of the format too.
TEST(StatusReply, MissingPartsAreNullOrAbsentAsBefore) {
    StatusReply s = fake_status();
    s.kubernetes.reset();
    s.counters.webhook.reset();
    const json j = reply_json(s);
    ASSERT_TRUE(j.contains("kubernetes"));
    EXPECT_TRUE(j["kubernetes"].is_null());
    EXPECT_FALSE(j["counters"].contains("webhook"));
    EXPECT_FALSE(j["cgroups"][2].contains("path"));
}

TEST(StatusReply, SurvivesARoundTripThroughTheCliParser) {
    const json written = reply_json(fake_status());
    Result<StatusReply> read = expect_reply<StatusReply>(written);
    ASSERT_TRUE(read.ok()) << read.error();
    EXPECT_EQ(reply_json(*read), written);
    Result<StatusReply> golden = expect_reply<StatusReply>(json::parse(read_fixture("status_golden.json")));
    ASSERT_TRUE(golden.ok()) << golden.error();
    EXPECT_EQ(golden->counters.daemon.registrations_refused, fake_status().counters.daemon.registrations_refused);
    EXPECT_EQ(reply_json(*golden), written);
}

// functions[].roots: a container's root as the kernel keys it (s_dev's
// encoding, major in the high 12 bits), with the rights decided there.
TEST(StatusReply, ACompiledRootIsListedWithItsDeviceAndRights) {
    const CompiledRoot root{4026532451, (uint64_t{0} << 20) | 34, 2, 5120, FNW_FILE_READ | FNW_FILE_EXEC};
    const RootInfo info = root_info(root, "/tmp/box/rootfs");
    EXPECT_EQ(info.mnt_ns, 4026532451u);
    EXPECT_EQ(info.root_dev, "0:34");
    EXPECT_EQ(info.root_ino, 2u);
    EXPECT_EQ(info.pid, 5120);
    EXPECT_EQ(info.path, "/tmp/box/rootfs");
    EXPECT_EQ(info.rights, (std::vector<std::string>{"read", "exec"}));
    EXPECT_EQ(root_info(CompiledRoot{1, (uint64_t{259} << 20) | 3, 5, 6, 0}, "").root_dev, "259:3");
    EXPECT_TRUE(root_info(CompiledRoot{}, "").rights.empty()) << "a root being compiled decides nothing yet";
    // Absent while there is none (the fixtures' other function).
    EXPECT_FALSE(reply_json(fake_status())["functions"][1].contains("roots"));
    EXPECT_EQ(reply_json(fake_status())["functions"][0]["roots"][0]["root_dev"], "0:34");
}

// Key paths ("counters.daemon.records", "cgroups[].path"): what a reader
// of the JSON depends on, values aside.
void key_paths(const json& j, const std::string& at, std::set<std::string>& out) {
    if (j.is_object()) {
        for (const auto& [key, value] : j.items()) {
            const std::string path = at.empty() ? key : at + "." + key;
            out.insert(path);
            key_paths(value, path, out);
        }
    } else if (j.is_array()) {
        for (const json& element : j) key_paths(element, at + "[]", out);
    }
}

// What the daemon sent before the reply was typed (captured fixtures): every
// key is still in the typed reply, at the same place.
TEST(StatusReply, KeepsEveryKeyTheCapturedDaemonSent) {
    std::set<std::string> golden;
    key_paths(json::parse(read_fixture("status_golden.json")), "", golden);
    for (const char* name : {"status_real.json", "status_enriched.json"}) {
        std::set<std::string> captured;
        key_paths(json::parse(read_fixture(name)), "", captured);
        for (const std::string& path : captured) {
            if (path.rfind("counters.control.register_refused.", 0) == 0) continue;  // by reason: data
            if (path.rfind("kernel.lsm_hooks.", 0) == 0) continue;                   // by hook: data
            EXPECT_TRUE(golden.count(path)) << name << ": " << path;
        }
    }
}

}  // namespace
}  // namespace fnw
