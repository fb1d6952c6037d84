// SPDX-License-Identifier: Apache-2.0
// What /proc says about a task. Racy by nature (the task may exit, its id
// be reused): callers use it for enrichment, or confirm it another way.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>

namespace fnw {

struct ProcStatus {
    uint32_t tgid = 0;
    uint32_t ppid = 0;
};

std::optional<ProcStatus> read_proc_status(pid_t tid);

// The cgroup v2 id of a task: its "0::" line of /proc/PID/cgroup, looked up
// under `cgroup2_root`. nullopt when the task is gone or has no v2 line.
std::optional<uint64_t> read_proc_cgroup_id(pid_t tid, const std::filesystem::path& cgroup2_root);

}  // namespace fnw
