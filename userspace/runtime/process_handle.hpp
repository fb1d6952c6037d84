// SPDX-License-Identifier: Apache-2.0
// A process to kill later, pinned by a pidfd. A bare pid names whoever holds
// the number when the signal is sent: seconds after an event (a hash, a
// stalled loop) that may be an innocent host process that got the pid
// reused. A pidfd names one process for its whole life; pidfd_send_signal
// on it reaches that process or nobody (ESRCH).
//
// for_event() takes the pidfd and then proves it is the event's process:
//   1. pidfd_open(hdr.pid): from here on the pid cannot be reused while
//      this handle sees the process alive;
//   2. /proc/PID/cgroup names the event's cgroup (hdr.cgroup_id: the
//      cgroup2 directory's inode, as the kernel recorded it). A function
//      cannot leave its cgroup (threat-model.md), and nothing else runs in
//      it, so a process there is the function's;
//   3. /proc/PID/stat's start time is not after the event (hdr.boot_ns,
//      same clock: CLOCK_BOOTTIME): a process born after the event, even in
//      the same cgroup, is not the one that caused it;
//   4. pidfd_send_signal(0) still succeeds: the process was not reaped
//      between 1 and 3, so the /proc reads were of the pidfd's process.
// Any step failing: an invalid handle; kill() on it sends nothing and
// counts kill_target_gone.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>

#include <fnwarden/events.h>

#include "common/unique_fd.hpp"

namespace fnw {

class ProcessHandle {
public:
    ProcessHandle() = default;

    // The event's process, proven as above, or an invalid handle.
    // `cgroup2_root` empty: this host's cgroup2 mount.
    static ProcessHandle for_event(const fnw_event_header& hdr, const std::filesystem::path& cgroup2_root = {});

    // A pidfd for `pid` with no proof: the caller confirms identity another
    // way after this returns (seccomp: NOTIF_ID_VALID of the notifying
    // thread). Invalid when the process is gone.
    static ProcessHandle open(pid_t pid);

    bool valid() const { return fd_.valid(); }
    int fd() const { return fd_.get(); }

    // SIGKILL through the pidfd. False, and counted as kill_target_gone,
    // when the handle is invalid or the process has gone since.
    bool kill();
    // SIGCONT through the pidfd: lets a process the probes held go on.
    bool resume();

    // Process-wide counters (every call site adds to them).
    struct Stats {
        uint64_t kills = 0;             // SIGKILLs delivered through a pidfd
        uint64_t kill_target_gone = 0;  // not sent: exited, or not the event's process
        uint64_t not_the_event_process = 0;  // of those: alive but another cgroup or younger
    };
    static Stats stats();

private:
    explicit ProcessHandle(UniqueFd fd) : fd_(std::move(fd)) {}
    UniqueFd fd_;
    bool not_theirs_ = false;  // alive, but failed the proof
};

// When the process started, in CLOCK_BOOTTIME ns (rounded down to a clock
// tick), from /proc/PID/stat.
std::optional<uint64_t> read_proc_start_boot_ns(pid_t pid);

}  // namespace fnw
