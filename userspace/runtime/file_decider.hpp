// SPDX-License-Identifier: Apache-2.0
// Userspace's half of file checking, shared by `fnwarden run` and the
// daemon: the kernel decides what its inode rules can (files.bpf.c) and
// sends the rest as FNW_VERDICT_PENDING; this matches those against the
// policy's compiled globs, acts on violations, and writes allowed opens
// back to the kernel so the same access is not asked about again.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fnwarden/events.h>
#include <fnwarden/kernel_abi.h>

#include "core/file_access.hpp"
#include "core/policy.hpp"
#include "probes/record.hpp"
#include "runtime/exec_hash.hpp"
#include "runtime/process_handle.hpp"

namespace fnw {

class FileDecider {
public:
    // Writes an allowed open into the kernel's file_verdicts (ProbeSet).
    using Remember = std::function<bool(const fnw_file_verdict_key&)>;

    explicit FileDecider(Remember remember, HashLimits limits = {})
        : remember_(std::move(remember)), hasher_(std::make_shared<ExecHasher>(limits)) {}
    FileDecider(FileDecider&&) = default;
    FileDecider& operator=(FileDecider&&) = default;
    ~FileDecider();

    // Compiles `policy`'s files section for slot `policy_id`, replacing what
    // the slot had. An error (and the slot unchanged) if a pattern does not
    // compile; the parser validated them, so that is a bug or a limit.
    Status set_policy(uint32_t policy_id, const FunctionPolicy& policy, Mode mode);
    void forget(uint32_t policy_id) { slots_.erase(policy_id); }

    // Called with the slot of a record whose walk met a rule's object
    // deleted and made again (FNW_OBJECT_RULE_REPLACED), before the record
    // is decided by name: ProbeSet::refresh_file_rules gives the new object
    // its grant in the kernel.
    using RulesStale = std::function<void(uint32_t policy_id)>;
    void on_rules_stale(RulesStale stale) { rules_stale_ = std::move(stale); }

    // Ends a held thread's entry in the kernel's holds map (ProbeSet::
    // end_hold); true while another thread of its process is still held.
    // A held record (fnw_file_event.held: the process is stopped at the
    // operation's end) is settled once its verdict is in: killed, or let go
    // (SIGCONT) when no other thread of its process waits. Without this
    // callback nobody can end a hold, so a held process is killed.
    using EndHold = std::function<bool(uint32_t tid, uint32_t tgid)>;
    void on_hold_end(EndHold end) { end_hold_ = std::move(end); }

    // The bounded wait: every hold (ProbeSet::holds()) older than `bound`
    // at `now_boot_ns` (CLOCK_BOOTTIME, the kernel's held_ns clock) ends
    // with a kill, through a pidfd proven to be the held process, and its
    // entry is removed: its record was lost to this process (a crash
    // before the verdict, an earlier daemon's) or waits behind a flood.
    // Returns how many expired.
    size_t expire_holds(const std::vector<std::pair<uint32_t, fnw_hold>>& holds, uint64_t now_boot_ns,
                        std::chrono::nanoseconds bound, const std::filesystem::path& cgroup2_root = {});

    // Decides a PENDING record in place: verdict, action, mechanism and
    // missing rights; kills the process when the section acts (deny falls
    // back to kill: the operation already happened). Returns whether the
    // record is still worth reporting: a violation, or a traced access.
    // Records the kernel already decided pass through untouched.
    // A pinned program is hashed on the calling thread, bounded by the
    // HashLimits (no FIFO, no file over the cap, a deadline).
    bool decide(fnw_file_event& ev);

    // The daemon's way: after defer_hashing(), a pinned program's exec is
    // hashed on a HashWorker thread and decide_event() answers Deferred; the
    // decider keeps the record and a pidfd of its process (ProcessHandle,
    // taken now), and collect() finishes it when the hash (or its deadline)
    // comes: verdict, kill through the pidfd, then `report` if it is worth
    // reporting. Returns the fd to poll (readable when a hash is done).
    enum class Decision { Drop, Report, Deferred };
    Decision decide_event(fnw_file_event& ev);
    // The same for a decoded record: copied (once) only when pending, and
    // a deferred one is moved into the decider, not copied again.
    Decision decide_event(FileRecord& file);

    // A refusal the kernel made without knowing which of the rights the
    // policy lacks (Landlock: EACCES for the whole operation): `missing`
    // narrowed to those no pattern grants on the event's canonical names,
    // so it names the rule the file probes would. Left as is when the
    // patterns grant them all (Landlock refused something else: a
    // symlink's own name, the ELF interpreter) or the slot is unknown.
    void explain_refusal(fnw_file_event& ev) const;
    int defer_hashing();
    void collect(const std::function<void(const fnw_file_event&)>& report);
    // When collect() must run at the latest, while hashes are outstanding.
    std::optional<std::chrono::steady_clock::time_point> next_deadline() const;

    struct Stats {
        uint64_t allowed = 0;
        uint64_t violations = 0;
        uint64_t remembered = 0;  // allowed opens written back to the kernel
        uint64_t unknown_policy = 0;
        uint64_t sha256_mismatches = 0;  // pinned programs and code files that hashed otherwise, or could not be read
        uint64_t sha256_deferred = 0;    // hashed off the caller's thread
        uint64_t sha256_late = 0;        // no answer by the deadline: "cannot verify in time"
        uint64_t replaced_rule_objects = 0;  // records that met a rule's object made again
        uint64_t holds_released = 0;  // held processes let go (SIGCONT) on an allowed verdict
        uint64_t holds_killed = 0;    // held processes killed on a violation, or failing closed
        uint64_t holds_gone = 0;      // held processes no longer there to settle
        uint64_t holds_expired = 0;   // held longer than the bound: killed (fail closed)
    };
    const Stats& stats() const { return stats_; }
    ExecHasher::Stats hash_stats() const { return hasher_->stats(); }
    std::optional<HashWorker::Stats> worker_stats() const;

private:
    struct Slot {
        FileMatcher matcher;
        bool files_restricted = false;
        bool exec_restricted = false;
        bool files_kill = false;  // effective action is deny or kill
        bool exec_kill = false;
        // exec.allow sha256 pins by canonical path (what the kernel reports).
        std::map<std::string, std::string> sha256;
        // The bundle's code pins by canonical path (which directories are
        // code is the kernel's to say: FNW_OBJECT_CODE_PINNED); a code
        // pin's violation is killed in enforce mode.
        std::map<std::string, std::string> code_pins;
        bool code_kill = false;
        // Set when an allowed program's interpreter may be refused
        // (FNW_POLICY_EXEC_INTERP): the sections that decide it.
        std::optional<FunctionPolicy> interpreter_rules;
    };

    // The rights `slot` refuses the ELF interpreter of the program `ev`
    // executed; when some, `ev` names the interpreter (canonical) instead.
    static uint32_t refused_interpreter(const Slot& slot, fnw_file_event& ev);

    // The pin for a pinned program's exec, or nullptr.
    const std::string* pin_of(const Slot& slot, const fnw_file_event& ev) const;
    // What a record's content must hash to: a pinned program's exec.allow
    // digest, or, for a file of a pinned code directory, its code pin.
    struct PinCheck {
        const std::string* expected = nullptr;
        bool code = false;      // a code pin decides (code.sha256, killed in enforce)
        bool unpinned = false;  // in a code directory without a pin of its own
    };
    PinCheck pin_check(const Slot& slot, const fnw_file_event& ev) const;
    // A hash verdict written into `ev`; the missing right, if any.
    uint32_t apply_sha256(const ExecHasher::Verdict& verdict, fnw_file_event& ev);
    // Writes the verdict for `missing` into `ev`; kills through `target`
    // (taken when the record arrived) when `kill`. Whether to report it.
    bool conclude(fnw_file_event& ev, uint32_t missing, bool kill, ProcessHandle target);
    // Ends `ev`'s hold, if it has one: its process killed (or gone), or let
    // go once no other thread of it is held. `target` may be invalid: the
    // process is then found again from the record.
    // `may_go` false: it is killed whatever the record says (fail closed).
    void settle_hold(fnw_file_event& ev, ProcessHandle& target, bool may_go);
    // decide_event for a PENDING `ev`; `keep` hands over the record to
    // hold while its program is hashed.
    using Keep = std::function<std::unique_ptr<fnw_file_event>()>;
    Decision decide_pending(fnw_file_event& ev, const Keep& keep);

    struct Deferred {
        std::unique_ptr<fnw_file_event> ev;
        ProcessHandle target;  // invalid when the section does not kill
        bool kill = false;     // the section's action when the record came
    };

    Remember remember_;
    RulesStale rules_stale_;
    EndHold end_hold_;
    std::shared_ptr<ExecHasher> hasher_;
    std::unique_ptr<HashWorker> worker_;
    std::map<uint64_t, Deferred> deferred_;  // HashWorker job id -> the record waiting for it
    std::map<uint32_t, Slot> slots_;
    Stats stats_;
};

}  // namespace fnw
