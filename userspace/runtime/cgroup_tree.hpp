// SPDX-License-Identifier: Apache-2.0
// A cgroup and everything below it: is anything still running there, kill
// it all, remove it all. Shared by the launcher (CgroupDir) and the daemon,
// which empties a run's cgroup when its launcher is gone.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace fnw {

// "populated 0|1" from the text of a cgroup.events file; nullopt when the
// line is missing or malformed. The kernel counts the whole subtree: a
// process in any descendant cgroup makes it 1, where the top cgroup.procs
// would be empty.
std::optional<bool> parse_populated(std::string_view cgroup_events);

enum class Populated { No, Yes, Gone };
// Gone: the directory (or its cgroup.events) no longer exists. An
// unreadable or malformed file counts as Yes: never "empty" on a doubt.
Populated cgroup_populated(const std::filesystem::path& cgroup);

// Blocks until `cgroup` has no process left anywhere below it, or `timeout`
// passes (cgroup.events raises POLLPRI on every change). True when empty or gone.
bool wait_until_unpopulated(const std::filesystem::path& cgroup, std::chrono::milliseconds timeout);

enum class KillMethod { CgroupKill, SignalWalk, Gone };
// Kills every process in `cgroup` and its descendants. cgroup.kill (5.14+)
// is recursive and atomic (forks in flight included); without it, SIGKILL
// to each pid in the cgroup.procs of every descendant (bounded depth and
// count), which a fork racing the walk can escape: callers repeat until
// cgroup_populated() says No.
KillMethod kill_cgroup_tree(const std::filesystem::path& cgroup, size_t* signalled = nullptr);

// rmdir of `cgroup` and every cgroup below it, deepest first. True when it
// is gone; else why not, while something is still there, e.g. EBUSY for
// a moment after the last task exited.
Status remove_cgroup_tree(const std::filesystem::path& cgroup);

}  // namespace fnw
