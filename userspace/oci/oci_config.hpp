// SPDX-License-Identifier: Apache-2.0
// An OCI bundle's config.json as fnwarden-runtime reads and changes it:
// which function a container claims (annotations), where its cgroup will be
// (linux.cgroupsPath, both of runc's cgroup drivers), and the rewrite that
// makes fnwarden's container init the container's first program. No I/O.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.hpp"

namespace fnw {

// The plain annotation: the name of a loaded policy's function (tests,
// containers outside Kubernetes).
inline constexpr std::string_view kFunctionAnnotation = "fnwarden.io/function";

// Who the container says it is (not k8s/cgroup_path.hpp's ContainerIdentity,
// which is read from a cgroup path). Kubernetes runtimes annotate every
// container: containerd io.kubernetes.cri.*, CRI-O io.kubernetes.pod.* and
// io.kubernetes.container.name.
struct ContainerClaim {
    std::string function;                    // kFunctionAnnotation, "" when absent
    std::string namespace_, pod, container;  // Kubernetes, "" when absent
    bool sandbox = false;                    // a pod's sandbox (pause) container
    bool kubernetes() const { return !pod.empty(); }
    // Whether a policy may take it: it names a function, or it is a pod's
    // own container (the daemon's selectors decide which, if any).
    bool may_have_policy() const { return !function.empty() || (kubernetes() && !sandbox); }
};
ContainerClaim claim_of(const nlohmann::json& config);

// Where runc will put the container's cgroup, as an absolute path under
// `cgroup2_root`. `own_cgroup` is the caller's cgroup relative to the root
// (runc puts a relative cgroupfs path below the cgroup it runs in).
struct CgroupPlacement {
    std::string cgroups_path;  // linux.cgroupsPath, "" when absent
    bool systemd = false;      // runc --systemd-cgroup
    std::string container_id;
};
Result<std::filesystem::path> container_cgroup(const CgroupPlacement& placement,
                                               const std::filesystem::path& cgroup2_root,
                                               const std::filesystem::path& own_cgroup);
// systemd's slice name to its path: "a-b.slice" -> "a.slice/a-b.slice".
Result<std::string> expand_systemd_slice(std::string_view slice);

// Where the init and its plan are on the host, and where the container
// sees them.
struct InitMounts {
    std::filesystem::path host_init;  // the static init binary
    std::filesystem::path host_dir;   // plan, seccomp program, an empty "fnwarden-init" mount point
    std::string container_dir = "/.fnwarden";
};
// process.args becomes [dir/fnwarden-init, dir/plan, --, the original
// args...], and the two read-only bind mounts are appended. The init's
// name is its comm after exec, which exec.bpf.c looks for. Fails on a config with no
// process.args.
Result<nlohmann::json> rewrite_for_init(nlohmann::json config, const InitMounts& mounts);

}  // namespace fnw
