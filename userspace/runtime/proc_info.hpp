// What /proc says about a task. Racy by nature (the task may exit, its id
// be reused): callers use it for enrichment, or confirm it another way.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace fnw {

struct ProcStatus {
    uint32_t tgid = 0;
    uint32_t ppid = 0;
};

std::optional<ProcStatus> read_proc_status(pid_t tid);

}  // namespace fnw
