// SPDX-License-Identifier: Apache-2.0
// Container identity from a cgroup v2 path: the "0::" line of
// /proc/PID/cgroup, relative to the cgroup2 root.
//
// Why the path can be trusted at all: a process can only move itself into
// cgroups below its own delegated subtree (or cgroup namespace root), never
// above. Every layout below is therefore anchored at the root, and the
// OUTERMOST container segment wins: whatever follows it (podman's
// "/container", systemd running inside the container, a nested Docker) is
// the container's own business and cannot change who it is. The exception is
// a rootless runtime: the user owns that whole subtree (everything under
// user@UID.service) and can create any name there, so a rootless identity
// says which user-made cgroup a process is in, not that a runtime vouched
// for it.
//
// Recognised (H = 64 lowercase hex digits, U = pod UID 8-4-4-4-12 lowercase
// hex; U_ the same with '_' for '-', as systemd slice names need):
//
//   Kubernetes, systemd driver (QoS: guaranteed has no QoS slice)
//     /kubepods.slice/kubepods-podU_.slice/S
//     /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podU_.slice/S
//     /kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podU_.slice/S
//       S = cri-containerd-H.scope | crio-H.scope | docker-H.scope (cri-dockerd)
//   Kubernetes, cgroupfs driver
//     /kubepods/podU/C   /kubepods/burstable/podU/C   /kubepods/besteffort/podU/C
//       C = crio-H (CRI-O) | H (runtime Unknown: containerd and dockershim /
//           cri-dockerd both use the bare id, and we do not guess)
//   Docker       /system.slice/docker-H.scope   /docker/H
//                USER/user.slice/docker-H.scope (rootless)
//   Podman       /machine.slice/libpod-H.scope
//                /machine.slice/machine-libpod_pod_H.slice/libpod-H.scope (pod)
//                USER/user.slice/libpod-H.scope
//                USER/user.slice/user-libpod_pod_H.slice/libpod-H.scope
//                /libpod_parent/libpod-H   /libpod_parent/H/libpod-H (cgroupfs, pod)
//                /system.slice/NAME.service/libpod-payload-H (--cgroups=split,
//                Quadlet's default), USER/NAME.slice/NAME.service/libpod-payload-H
//   runc         /system.slice/runc-NAME.scope, USER/user.slice/runc-NAME.scope:
//                what runc --systemd-cgroup makes when no cgroupsPath is given
//   where USER = /user.slice/user-UID.slice/user@UID.service
//
// Not recognised, on purpose (nullopt):
//   - conmon, the runtime's monitor: crio-conmon-H(.scope), libpod-conmon-H.scope,
//     /libpod_parent/conmon, the split mode's ".../runtime". It is a host
//     process outside the container's namespaces; judging it by the
//     container's policy would report the runtime's syscalls as violations.
//   - ctr's default /<namespace>/<id> and any explicit cgroupsPath
//     (runc/crun/ctr --cgroup): byte for byte the same as any hand-made
//     cgroup, e.g. /faasmon/fn-hello. Whoever launches those knows the path
//     and should register it; guessing from the shape would label
//     /system.slice/ssh.service a container.
//   - the pod or QoS cgroup alone (no container segment), kubelet
//     --cgroup-root prefixes (kind's /kubelet.slice/...), static pods (their
//     UID is a 32-hex md5, not 8-4-4-4-12), paths outside our cgroup
//     namespace ("/../.."), and the " (deleted)" suffix of a dead cgroup.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace fnw {

enum class ContainerRuntime { Unknown, Docker, Containerd, CriO, Podman, Runc };

struct ContainerIdentity {
    // Unknown only for the cgroupfs Kubernetes layout (see above).
    ContainerRuntime runtime = ContainerRuntime::Unknown;
    // Always set. The full id, 64 lowercase hex digits, for every runtime
    // but Runc; for Runc the name it was given ([A-Za-z0-9_.-], not "." or
    // "..": runc's own id rule minus '+', which systemd would escape).
    std::string container_id;
    // Kubernetes pod UID, 8-4-4-4-12 lowercase hex with dashes; empty outside
    // Kubernetes (a podman pod id is not a pod UID).
    std::string pod_uid;
    // "guaranteed", "burstable" or "besteffort" when pod_uid is set, else "".
    std::string qos_class;

    bool operator==(const ContainerIdentity&) const = default;
};

// /proc/PID/cgroup is printed from a PATH_MAX buffer, NUL included.
inline constexpr size_t kMaxCgroupPathBytes = 4095;

// The container a process in cgroup `path` belongs to, or nullopt when the
// path is not one of the layouts above. Pure; never throws for bad input.
std::optional<ContainerIdentity> parse_container_cgroup_path(std::string_view path);

// "unknown", "docker", "containerd", "cri-o", "podman", "runc".
std::string_view to_string(ContainerRuntime runtime);

}  // namespace fnw
