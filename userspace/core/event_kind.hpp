// Which policy section a kernel event answers to, where the record alone
// does not say it directly.
#pragma once

#include <fnwarden/events.h>

#include "core/syscall_table.hpp"

namespace fnw {

// A file event is about exec (the exec.allow section) when it comes from the
// LSM exec hook, sched_process_exec or an execve/execveat syscall (Landlock);
// otherwise about files.
inline bool is_exec_event(const fnw_file_event& ev) {
    if (ev.nr == FNW_NR_LSM_EXEC || ev.nr == FNW_NR_EXEC) return true;
    const auto name = SyscallTable::name(static_cast<int>(ev.nr));
    return name == "execve" || name == "execveat";
}

}  // namespace fnw
