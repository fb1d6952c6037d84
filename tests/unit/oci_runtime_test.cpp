// SPDX-License-Identifier: Apache-2.0
// fnwarden-runtime without a kernel: config.json reading and rewriting,
// runc's cgroupsPath in both drivers, runc's command line, the init's plan.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "oci/init_plan.hpp"
#include "oci/oci_config.hpp"
#include "oci/runc_args.hpp"

namespace fnw {
namespace {

using nlohmann::json;

json config_with(json annotations) {
    return {{"ociVersion", "1.0.2"},
            {"process", {{"args", {"python3", "/app/handler.py"}}, {"cwd", "/"}}},
            {"root", {{"path", "rootfs"}}},
            {"annotations", std::move(annotations)}};
}

TEST(OciClaimTest, ThePlainAnnotationNamesTheFunction) {
    const ContainerClaim who = claim_of(config_with({{"fnwarden.io/function", "thumbnailer"}}));
    EXPECT_EQ(who.function, "thumbnailer");
    EXPECT_TRUE(who.may_have_policy());
}

TEST(OciClaimTest, ContainerdAndCrioAnnotationsNameThePod) {
    const ContainerClaim containerd = claim_of(config_with({{"io.kubernetes.cri.container-type", "container"},
                                                                  {"io.kubernetes.cri.sandbox-namespace", "media"},
                                                                  {"io.kubernetes.cri.sandbox-name", "thumb-1"},
                                                                  {"io.kubernetes.cri.container-name", "handler"}}));
    EXPECT_EQ(containerd.namespace_, "media");
    EXPECT_EQ(containerd.pod, "thumb-1");
    EXPECT_EQ(containerd.container, "handler");
    EXPECT_TRUE(containerd.may_have_policy());
    const ContainerClaim crio = claim_of(config_with({{"io.kubernetes.pod.namespace", "media"},
                                                            {"io.kubernetes.pod.name", "thumb-1"},
                                                            {"io.kubernetes.container.name", "handler"}}));
    EXPECT_EQ(crio.pod, "thumb-1");
    EXPECT_EQ(crio.container, "handler");
}

TEST(OciClaimTest, SandboxesAndUnannotatedContainersPassThrough) {
    EXPECT_FALSE(claim_of(config_with({{"io.kubernetes.cri.container-type", "sandbox"},
                                          {"io.kubernetes.cri.sandbox-name", "thumb-1"}}))
                     .may_have_policy());
    EXPECT_FALSE(claim_of(config_with(json::object())).may_have_policy());
    EXPECT_FALSE(claim_of(json{{"process", json::object()}}).may_have_policy());
    EXPECT_FALSE(claim_of(config_with({{"fnwarden.io/function", 7}})).may_have_policy());
}

TEST(OciCgroupTest, SystemdSlicesExpandToTheirPath) {
    EXPECT_EQ(*expand_systemd_slice("kubepods-besteffort-pod12.slice"),
              "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod12.slice");
    EXPECT_EQ(*expand_systemd_slice("system.slice"), "system.slice");
    EXPECT_EQ(*expand_systemd_slice("-.slice"), "");
    EXPECT_FALSE(expand_systemd_slice("a--b.slice"));
    EXPECT_FALSE(expand_systemd_slice("../x.slice"));
    EXPECT_FALSE(expand_systemd_slice("kubepods"));
}

TEST(OciCgroupTest, TheSystemdDriverPutsAScopeInTheSlice) {
    const auto path = container_cgroup({"kubepods-besteffort-pod12.slice:cri-containerd:abc", true, "abc"},
                                       "/sys/fs/cgroup", "/");
    ASSERT_TRUE(path);
    EXPECT_EQ(*path, "/sys/fs/cgroup/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod12.slice/"
                     "cri-containerd-abc.scope");
    EXPECT_EQ(*container_cgroup({"", true, "abc"}, "/sys/fs/cgroup", "/"),
              "/sys/fs/cgroup/system.slice/runc-abc.scope");
    EXPECT_FALSE(container_cgroup({"only:two", true, "abc"}, "/sys/fs/cgroup", "/"));
}

TEST(OciCgroupTest, CgroupfsPathsAreAbsoluteOrBelowTheCallersCgroup) {
    EXPECT_EQ(*container_cgroup({"/kubepods/burstable/pod1/abc", false, "abc"}, "/sys/fs/cgroup", "/user.slice"),
              "/sys/fs/cgroup/kubepods/burstable/pod1/abc");
    EXPECT_EQ(*container_cgroup({"runs/abc", false, "abc"}, "/sys/fs/cgroup", "/user.slice"),
              "/sys/fs/cgroup/user.slice/runs/abc");
    EXPECT_EQ(*container_cgroup({"", false, "abc"}, "/sys/fs/cgroup", "/user.slice"),
              "/sys/fs/cgroup/user.slice/abc");
    EXPECT_FALSE(container_cgroup({"/../../etc", false, "abc"}, "/sys/fs/cgroup", "/"));
    EXPECT_FALSE(container_cgroup({"/", false, "abc"}, "/sys/fs/cgroup", "/"));
}

TEST(OciRewriteTest, TheInitRunsFirstWithTheEntrypointAfterIt) {
    const auto rewritten =
        rewrite_for_init(config_with(json::object()), InitMounts{"/usr/libexec/fnwarden/init", "/run/fnwarden/runtime/c1"});
    ASSERT_TRUE(rewritten);
    EXPECT_EQ((*rewritten)["process"]["args"],
              json({"/.fnwarden/fnwarden-init", "/.fnwarden/plan", "--", "python3", "/app/handler.py"}));
    const json& mounts = (*rewritten)["mounts"];
    ASSERT_EQ(mounts.size(), 2u);
    EXPECT_EQ(mounts[0]["destination"], "/.fnwarden");
    EXPECT_EQ(mounts[0]["source"], "/run/fnwarden/runtime/c1");
    EXPECT_EQ(mounts[1]["destination"], "/.fnwarden/fnwarden-init");
    EXPECT_EQ(mounts[1]["source"], "/usr/libexec/fnwarden/init");
    for (const json& m : mounts) EXPECT_NE(std::find(m["options"].begin(), m["options"].end(), "ro"), m["options"].end());
}

TEST(OciRewriteTest, AConfigWithoutArgsIsRefused) {
    EXPECT_FALSE(rewrite_for_init(json{{"process", {{"args", json::array()}}}}, InitMounts{"/i", "/d"}));
    EXPECT_FALSE(rewrite_for_init(json::object(), InitMounts{"/i", "/d"}));
}

TEST(RuncArgsTest, ContainerdsCreateIsRead) {
    const auto line = parse_runc_command_line({"--root", "/run/containerd/runc/k8s.io", "--log", "/x/log.json",
                                               "--log-format", "json", "--systemd-cgroup", "create", "--bundle",
                                               "/b", "--pid-file", "/b/init.pid", "abc"});
    ASSERT_TRUE(line);
    EXPECT_EQ(line->command, "create");
    EXPECT_EQ(line->bundle, "/b");
    EXPECT_EQ(line->container_id, "abc");
    EXPECT_TRUE(line->systemd_cgroup);
    EXPECT_EQ(line->runc_argv.size(), 14u);
    EXPECT_EQ(line->runc_argv[line->command_index], "create");
}

TEST(RuncArgsTest, InlineValuesShortFormsAndTheWrappersOwnOptions) {
    const auto line = parse_runc_command_line(
        {"--fnwarden-runc", "/opt/runc", "--root=/r", "run", "-b=/b", "-d", "--console-socket", "/s", "abc"});
    ASSERT_TRUE(line);
    EXPECT_EQ(line->runc, "/opt/runc");
    EXPECT_EQ(line->command, "run");
    EXPECT_EQ(line->bundle, "/b");
    EXPECT_EQ(line->container_id, "abc");
    EXPECT_FALSE(line->systemd_cgroup);
    EXPECT_EQ(line->runc_argv, (std::vector<std::string>{"runc", "--root=/r", "run", "-b=/b", "-d",
                                                         "--console-socket", "/s", "abc"}));
    EXPECT_FALSE(parse_runc_command_line({"--fnwarden-socket"}));
}

TEST(RuncArgsTest, OtherCommandsPassAsTheyCame) {
    const auto line = parse_runc_command_line({"--root", "/r", "delete", "--force", "abc"});
    ASSERT_TRUE(line);
    EXPECT_EQ(line->command, "delete");
    EXPECT_TRUE(line->force);
    EXPECT_EQ(line->container_id, "abc");
    EXPECT_EQ(parse_runc_command_line({"--version"})->command, "");
}

TEST(InitPlanTest, RoundTrips) {
    InitPlan plan;
    plan.landlock.abi = 7;
    plan.landlock.handled_fs = 0x7fff;
    plan.landlock.handled_net = 3;
    plan.landlock.rules.push_back({"/app dir", 0x3, "/app dir/**", true});
    plan.landlock.port_rules.push_back({443, 2});
    plan.seccomp_file = "/.fnwarden/seccomp.bpf";
    const auto parsed = parse_init_plan(init_plan_text(plan));
    ASSERT_TRUE(parsed) << parsed.error();
    EXPECT_EQ(parsed->landlock.abi, 7);
    EXPECT_EQ(parsed->landlock.handled_fs, 0x7fffu);
    EXPECT_EQ(parsed->landlock.handled_net, 3u);
    ASSERT_EQ(parsed->landlock.rules.size(), 1u);
    EXPECT_EQ(parsed->landlock.rules[0].path, "/app dir");
    EXPECT_EQ(parsed->landlock.rules[0].access, 3u);
    ASSERT_EQ(parsed->landlock.port_rules.size(), 1u);
    EXPECT_EQ(parsed->landlock.port_rules[0].port, 443);
    EXPECT_EQ(parsed->seccomp_file, "/.fnwarden/seccomp.bpf");
}

TEST(InitPlanTest, MalformedPlansAreRefused) {
    EXPECT_FALSE(parse_init_plan(""));
    EXPECT_FALSE(parse_init_plan("something else\n"));
    EXPECT_FALSE(parse_init_plan("fnwarden-init-plan 1\npath zz /app\n"));
    EXPECT_FALSE(parse_init_plan("fnwarden-init-plan 1\npath 3 relative\n"));
    EXPECT_FALSE(parse_init_plan("fnwarden-init-plan 1\nport 2 70000\n"));
    EXPECT_FALSE(parse_init_plan("fnwarden-init-plan 1\nlandlock 7 ff"));
}

}  // namespace
}  // namespace fnw
