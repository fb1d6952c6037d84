// Userspace's half of file checking, shared by `fnwarden run` and the
// daemon: the kernel decides what its inode rules can (files.bpf.c) and
// sends the rest as FNW_VERDICT_PENDING; this matches those against the
// policy's compiled globs, acts on violations, and writes allowed opens
// back to the kernel so the same access is not asked about again.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include <fnwarden/events.h>
#include <fnwarden/kernel_abi.h>

#include "core/file_access.hpp"
#include "core/policy.hpp"
#include "runtime/exec_hash.hpp"

namespace fnw {

class FileDecider {
public:
    // Writes an allowed open into the kernel's file_verdicts (ProbeSet).
    using Remember = std::function<bool(const fnw_file_verdict_key&)>;

    explicit FileDecider(Remember remember) : remember_(std::move(remember)) {}

    // Compiles `policy`'s files section for slot `policy_id`, replacing what
    // the slot had. False (and the slot unchanged) if a pattern does not
    // compile; the parser validated them, so that is a bug or a limit.
    bool set_policy(uint32_t policy_id, const FunctionPolicy& policy, Mode mode, std::string* error = nullptr);
    void forget(uint32_t policy_id) { slots_.erase(policy_id); }

    // Decides a PENDING record in place: verdict, action, mechanism and
    // missing rights; kills the process when the section acts (deny falls
    // back to kill: the operation already happened). Returns whether the
    // record is still worth reporting: a violation, or a traced access.
    // Records the kernel already decided pass through untouched.
    bool decide(fnw_file_event& ev);

    struct Stats {
        uint64_t allowed = 0;
        uint64_t violations = 0;
        uint64_t remembered = 0;  // allowed opens written back to the kernel
        uint64_t unknown_policy = 0;
        uint64_t sha256_mismatches = 0;  // pinned programs that hashed otherwise, or could not be read
    };
    const Stats& stats() const { return stats_; }
    const ExecHasher::Stats& hash_stats() const { return hasher_.stats(); }

private:
    struct Slot {
        FileMatcher matcher;
        bool files_restricted = false;
        bool exec_restricted = false;
        bool files_kill = false;  // effective action is deny or kill
        bool exec_kill = false;
        // exec.allow sha256 pins by canonical path (what the kernel reports).
        std::map<std::string, std::string> sha256;
    };

    // A pinned program's verdict, written into `ev`; the missing right, if any.
    uint32_t check_sha256(const Slot& slot, fnw_file_event& ev);

    Remember remember_;
    ExecHasher hasher_;
    std::map<uint32_t, Slot> slots_;
    Stats stats_;
};

}  // namespace fnw
