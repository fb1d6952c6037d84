// SPDX-License-Identifier: Apache-2.0
// What /proc says about a task. Racy by nature (the task may exit, its id
// be reused): callers use it for enrichment, or confirm it another way.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace fnw {

struct ProcStatus {
    uint32_t tgid = 0;
    uint32_t ppid = 0;
};

std::optional<ProcStatus> read_proc_status(pid_t tid);

// /proc/PID/exe, the program the process runs; nullopt when it cannot be
// read (the process is gone, or exiting and past its memory).
std::optional<std::string> read_proc_exe(pid_t pid);

// The cgroup v2 id of a task: its "0::" line of /proc/PID/cgroup, looked up
// under `cgroup2_root`. nullopt when the task is gone or has no v2 line.
//
// That line is relative to the reader's cgroup namespace root. In a
// Kubernetes pod (a private cgroup namespace on cgroup v2, with no pod
// setting to share the node's) another pod's process reads
// "0::/../../kubepods.slice/...": the path is then taken from where this
// process's namespace root sits in `cgroup2_root` (the node's hierarchy,
// mounted from the host), found once by cgroup_namespace_root().
std::optional<uint64_t> read_proc_cgroup_id(pid_t tid, const std::filesystem::path& cgroup2_root);

// The pids the cgroup.procs file of `cgroup_dir` lists; nullopt when it
// cannot be read (the cgroup is gone).
std::optional<std::vector<pid_t>> cgroup_procs(const std::filesystem::path& cgroup_dir);

// A container not started yet: its cgroup (`cgroup_dir`) holds no process,
// or only runc's init (is_container_runtime_init) and processes reaped since
// cgroup.procs listed them. False when the cgroup is gone.
bool holds_only_runtime_init(const std::filesystem::path& cgroup_dir);

// runc's init inside a container that has not started: comm "runc:[2:INIT]"
// (and its earlier stages), and an exe that is runc's own copy, no program
// of the container's: the sealed memfd "/memfd:runc_cloned:..." of runc
// 1.1, which reads as "/" once init has pivoted into the container's root
// (measured with Debian's runc 1.1.5). The exec of the entrypoint changes
// both; a container's process can rename itself but its exe stays the
// program it runs. Also runc's child before that: the sealed copy before
// nsexec names it (the parent is named runc), and runc's own binary,
// forked or exec'd as `runc init`, under a parent named runc that runs the
// same file (exec.bpf.c does not arm a cgroup on that exec either). Other
// runtimes' inits are not recognized (false), nor a process that is gone.
bool is_container_runtime_init(pid_t pid);

// Where the cgroup namespace root of process `self` is in the hierarchy
// mounted at `cgroup2_root`, relative to it ("" = the hierarchy's root: the
// host's namespace, or a namespace rooted there). `own` is self's line
// "0::OWN" of /proc/self/cgroup (relative to its namespace root). Found by
// the cgroup whose cgroup.procs lists `self`: first OWN itself (true in the
// host's namespace), else a bounded walk of the hierarchy. nullopt when no
// cgroup lists `self` (not mounted from the host, or self moved meanwhile).
std::optional<std::filesystem::path> cgroup_namespace_root(const std::filesystem::path& cgroup2_root,
                                                           const std::filesystem::path& own, pid_t self);

// `relative` (a "0::" path, from a namespace rooted at `namespace_root`)
// as a path relative to the hierarchy's root: ".." folded against
// namespace_root. nullopt when it climbs above the hierarchy's root.
std::optional<std::filesystem::path> cgroup_path_in_hierarchy(const std::filesystem::path& namespace_root,
                                                              const std::string& relative);

}  // namespace fnw
