// SPDX-License-Identifier: Apache-2.0
// `fnwarden run`: start a command as a monitored function in its own cgroup.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include <fnwarden/events.h>

#include "common/result.hpp"
#include "core/enforcement_plan.hpp"
#include "core/policy.hpp"
#include "runtime/cgroup.hpp"

struct epoll_event;

namespace fnw {

// The credentials the function runs with, when not the launcher's own.
struct RunAs {
    uid_t uid = 0;
    gid_t gid = 0;  // primary group; the function gets no supplementary ones
};

struct RunRequest {
    std::string function;
    FunctionPolicy policy;
    Mode mode = Mode::Audit;
    std::vector<std::string> argv;  // argv[0] is looked up in PATH
    bool trace = false;             // emit every syscall, not only violations
    // Enforce deny/kill with seccomp (no side effect). false leaves the BPF
    // probe alone, which is what a function not launched by fnwarden gets.
    bool use_seccomp = true;
    // Enforce files/exec deny/kill with Landlock (EACCES, no side effect).
    // false leaves them to the file probes (kill at sys_exit), which is what
    // a function not launched by fnwarden gets.
    bool use_landlock = true;
    // Aggregate every syscall number into learned_syscalls[policy id].
    bool learn = false;
    // Dropped to in the child after the cgroup move and the registration,
    // before Landlock, seccomp and exec: the function never holds the
    // launcher's (usually root's) uid or groups. Unset: the launcher's.
    std::optional<RunAs> run_as;
};

// Why a run did not start. `exec_errno` is set when everything was in place
// but execve itself failed (the command was not found, or found and not
// executable): `fnwarden run` then exits 127 or 126 as a shell would,
// where any other failure is fnwarden's own (125).
struct RunFailure {
    std::string message;
    int exec_errno = 0;
};

struct RunOutcome {
    pid_t pid = 0;
    uint64_t cgroup_id = 0;
    int exit_code = 0;                // the shell convention: 128+N when killed by signal N
    std::optional<int> term_signal;   // set when the command died of a signal
    std::optional<int> exit_status;   // set when it exited normally
    uint64_t seccomp_violations = 0;  // syscalls stopped by seccomp (never seen by the probe)
    std::optional<int> forwarded_signal;  // the last SIGINT/TERM/HUP/QUIT fnwarden passed on to it
};

// How the guard should watch the cgroup (fnw_cgroup_entry flags).
struct GuardRequest {
    std::string function;
    std::filesystem::path cgroup_path;
    uint64_t cgroup_id = 0;
    pid_t pid = 0;
    bool trace = false;
    bool learn = false;
    bool landlock = false;  // report Landlock denials (sys_exit probe)
};

// Who keeps watch over a launched function's cgroup: probes this process
// loaded (LocalGuard), or the host daemon that owns them (DaemonGuard).
class FunctionGuard {
public:
    virtual ~FunctionGuard() = default;
    // Called while the child sits in its cgroup, stopped before exec. When
    // it succeeds the cgroup is monitored from the child's exec on.
    virtual Status arm(const GuardRequest& request) = 0;
    virtual void disarm(uint64_t cgroup_id) = 0;
    // The policy slot the kernel uses for the function (for launcher events).
    virtual uint32_t policy_id() const = 0;
    // What the kernel can do for a function under this guard, with what the
    // probes behind it actually loaded: the launch plans with this, once,
    // so what it wires is what --explain and status describe.
    virtual const EnforcementCapabilities& capabilities() const = 0;
    // An fd the run loop polls (-1: none), and the work to do on each tick
    // (at least every kConsumerLatencyMs). service() returns false when the
    // guard is gone (the daemon died and no next one took the function
    // back): the function is no longer watched. poll_fd() may change from
    // one service() to the next; a guard that replaces its descriptor
    // returns -1 from at least one service() in between, so a number the
    // kernel reuses is still seen as new.
    virtual int poll_fd() const { return -1; }
    virtual bool service() { return true; }
    // An event the launcher itself produced (a syscall seccomp stopped),
    // with the program of its process as the launcher read it while the
    // process waited ("" when unknown): a killed process has no
    // /proc/PID/exe left by the time its line is written.
    virtual void launcher_event(const fnw_syscall_event& event, std::string_view exe) = 0;
};

class FunctionRunner {
public:
    // `cgroup_parent`: the directory under which each run gets its own cgroup.
    FunctionRunner(FunctionGuard& guard, std::filesystem::path cgroup_parent)
        : guard_(guard), cgroup_parent_(std::move(cgroup_parent)) {}

    // Runs the command to completion; fails when the run could not be started.
    Result<RunOutcome, RunFailure> run(const RunRequest& request);

private:
    struct Supervision;
    Result<CgroupDir> create_cgroup(const std::string& function);
    Status supervise(Supervision& run, RunOutcome& outcome);
    // false when the function's main process exited.
    bool handle_ready(Supervision& run, const epoll_event& ready, RunOutcome& outcome);
    void service_guard(Supervision& run);

    FunctionGuard& guard_;
    std::filesystem::path cgroup_parent_;
    uint32_t runs_started_ = 0;
};

// Blocks SIGINT/TERM/HUP/QUIT for the rest of the process's life. Called
// first thing by run/learn: a signal that arrives while the probes load
// stays pending and is forwarded to the function once it starts, instead of
// killing fnwarden half way through its set-up.
void hold_forwarded_signals();

// How long a record may wait in the ring buffer before the consumer looks:
// producers do not wake the consumer below the wakeup threshold.
inline constexpr int kConsumerLatencyMs = 50;

}  // namespace fnw
