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

#include "core/policy.hpp"
#include "probes/probe_set.hpp"

namespace fnw {

struct RunRequest {
    std::string function;
    FunctionPolicy policy;
    Mode mode = Mode::Audit;
    std::vector<std::string> argv;  // argv[0] is looked up in PATH
    bool trace = false;             // emit every syscall, not only violations
    // Enforce deny/kill with seccomp (no side effect). false leaves the BPF
    // probe alone, which is what a function not launched by fnwarden gets.
    bool use_seccomp = true;
    // Aggregate every syscall number into learned_syscalls[policy id].
    bool learn = false;
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

using RecordHandler = std::function<void(std::span<const std::byte> record)>;

class FunctionRunner {
public:
    // `cgroup_parent`: the directory under which each run gets its own cgroup.
    FunctionRunner(ProbeSet& probes, std::filesystem::path cgroup_parent, uint32_t policy_id)
        : probes_(probes), cgroup_parent_(std::move(cgroup_parent)), policy_id_(policy_id) {}

    // Runs the command to completion and calls `on_record` for every
    // ring-buffer record (from the consumer thread = the caller's thread).
    // Returns an error message when the run could not be started.
    std::variant<RunOutcome, std::string> run(const RunRequest& request, const RecordHandler& on_record);

private:
    ProbeSet& probes_;
    std::filesystem::path cgroup_parent_;
    uint32_t policy_id_;
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
