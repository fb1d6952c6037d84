// SPDX-License-Identifier: Apache-2.0
// A daemon in a private cgroup namespace (a Kubernetes pod on cgroup v2)
// reads other pods' /proc/PID/cgroup as "/../../kubepods.slice/...": these
// tests place such paths in the node's hierarchy, on a fake hierarchy of
// directories with cgroup.procs files.
#include <fstream>

#include <gtest/gtest.h>

#include "runtime/proc_info.hpp"
#include "temp_dir.hpp"

namespace fnw {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

void make_cgroup(const fs::path& dir, const std::string& procs = "") {
    fs::create_directories(dir);
    std::ofstream(dir / "cgroup.procs") << procs;
}

TEST(CgroupNamespace, PathsClimbFromTheNamespaceRoot) {
    const fs::path pod = "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podA.slice/cri-containerd-D.scope";
    EXPECT_EQ(cgroup_path_in_hierarchy(pod, "/../../kubepods-besteffort.slice/pod-B.slice/cri-containerd-F.scope"),
              fs::path("kubepods.slice/kubepods-burstable.slice/kubepods-besteffort.slice/pod-B.slice/cri-containerd-F.scope"));
    EXPECT_EQ(cgroup_path_in_hierarchy(pod, "/"), pod);
    EXPECT_EQ(cgroup_path_in_hierarchy(pod, "/../../../../init.scope"), fs::path("init.scope"));
    EXPECT_EQ(cgroup_path_in_hierarchy("", "/system.slice/fnwarden.service"), fs::path("system.slice/fnwarden.service"));
    EXPECT_EQ(cgroup_path_in_hierarchy("", "/"), fs::path());
}

TEST(CgroupNamespace, AboveTheHierarchysRootIsNowhere) {
    EXPECT_FALSE(cgroup_path_in_hierarchy("a/b", "/../../../x"));
    EXPECT_FALSE(cgroup_path_in_hierarchy("", "/../x"));
}

TEST(CgroupNamespace, TheHostsNamespaceIsTheRoot) {
    TempDir tree;
    make_cgroup(tree.path());
    make_cgroup(tree.path() / "system.slice/fnwarden.service", "77\n4242\n");
    EXPECT_EQ(cgroup_namespace_root(tree.path(), "system.slice/fnwarden.service", 4242), fs::path());
}

TEST(CgroupNamespace, APodsRootIsFoundByItsProcesses) {
    TempDir tree;
    make_cgroup(tree.path(), "1\n");
    make_cgroup(tree.path() / "init.scope", "1\n");
    make_cgroup(tree.path() / "kubepods.slice/kubepods-podA.slice/cri-containerd-X.scope", "9\n");
    make_cgroup(tree.path() / "kubepods.slice/kubepods-podB.slice/cri-containerd-D.scope", "4242\n");
    // In the pod's own namespace the daemon is at its root: "0::/".
    EXPECT_EQ(cgroup_namespace_root(tree.path(), "", 4242),
              fs::path("kubepods.slice/kubepods-podB.slice/cri-containerd-D.scope"));
    // Below its root ("0::/sub"): the root is the listing cgroup minus "sub".
    make_cgroup(tree.path() / "kubepods.slice/kubepods-podB.slice/cri-containerd-D.scope/sub", "5151\n");
    EXPECT_EQ(cgroup_namespace_root(tree.path(), "sub", 5151),
              fs::path("kubepods.slice/kubepods-podB.slice/cri-containerd-D.scope"));
}

TEST(CgroupNamespace, NotListedAnywhereIsUnknown) {
    TempDir tree;
    make_cgroup(tree.path());
    make_cgroup(tree.path() / "a", "1\n");
    EXPECT_FALSE(cgroup_namespace_root(tree.path(), "", 4242));
    // Listed, but not under a cgroup ending with its own relative path.
    make_cgroup(tree.path() / "b/c", "4242\n");
    EXPECT_FALSE(cgroup_namespace_root(tree.path(), "other", 4242));
    EXPECT_FALSE(cgroup_namespace_root(tree.path(), "../b", 4242));
}

}  // namespace
}  // namespace fnw
