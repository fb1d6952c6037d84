// SPDX-License-Identifier: Apache-2.0
#include "runtime/file_decider.hpp"

#include "core/event_kind.hpp"

#include <cstring>
#include <filesystem>
#include <memory>

#include "common/hex.hpp"
#include "core/elf_interpreter.hpp"

namespace fnw {

Status FileDecider::set_policy(uint32_t policy_id, const FunctionPolicy& policy, Mode mode) {
    auto matcher = FileMatcher::compile(policy.files, policy.exec);
    if (!matcher) return fail(matcher.error());
    Slot slot;
    slot.matcher = std::move(*matcher);
    slot.files_restricted = policy.files.restricted;
    slot.exec_restricted = policy.exec.restricted;
    slot.files_kill = effective_action(policy.files.on_violation, mode) != ViolationAction::Report;
    slot.exec_kill = effective_action(policy.exec.on_violation, mode) != ViolationAction::Report;
    for (const auto& [path, digest] : policy.exec.sha256) {
        // The kernel reports the executed file's resolved path: pin that
        // (/usr/bin/python3 -> python3.11). A path missing now is pinned as
        // written, and matches if it appears later under that name.
        std::error_code ec;
        const auto canonical = std::filesystem::canonical(path, ec);
        slot.sha256[ec ? path : canonical.string()] = digest;
    }
    for (const CodePin& pin : policy.code_pins) {
        // As the kernel reports the file: its directory resolved.
        std::error_code ec;
        const auto canonical = std::filesystem::weakly_canonical(pin.path, ec);
        const std::filesystem::path path = ec ? std::filesystem::path(pin.path) : canonical;
        slot.code_pins[path.string()] = pin.sha256;
    }
    slot.code_kill = mode == Mode::Enforce;
    if (interpreter_may_be_refused(policy)) slot.interpreter_rules = policy;
    slots_[policy_id] = std::move(slot);
    return {};
}

namespace {

// The rights `ev.access2` needs at the second name (a rename's new name)
// that the policy does not grant. Fails closed when the name could not be
// read or its base is not known for certain.
uint32_t missing_at_second_name(const FileMatcher& matcher, const fnw_file_event& ev) {
    if (ev.path2[0] == '\0' || ev.path2_truncated) return ev.access2;
    const EventPath path = event_path2(ev);
    return path.truncated ? ev.access2 : matcher.missing(path.path, ev.access2);
}

}  // namespace

FileDecider::~FileDecider() = default;

void FileDecider::explain_refusal(fnw_file_event& ev) const {
    auto found = slots_.find(ev.hdr.policy_id);
    if (found == slots_.end() || is_exec_event(ev)) return;  // exec: exec.allow whatever the rights
    const EventPath path = event_path(ev);
    if (path.truncated) return;
    uint32_t missing = found->second.matcher.missing(path.path, ev.access);
    if (ev.access2) missing |= missing_at_second_name(found->second.matcher, ev);
    if (missing) ev.missing = missing;
}

// The kernel opened the program's ELF interpreter on its behalf: one the
// policy refuses is refused with the exec under Landlock (enforce), so it
// is a violation here too, and the event names it (raw_path keeps the
// program). Read from the file now: a program replaced since the exec may
// say otherwise, which is the same race the exec's own path has.
uint32_t FileDecider::refused_interpreter(const Slot& slot, fnw_file_event& ev) {
    if (!slot.interpreter_rules || ev.resolved_kind != FNW_RESOLVED_OBJECT || ev.resolved_truncated) return 0;
    const auto interpreter = refused_interpreter_of(*slot.interpreter_rules, event_path(ev).path);
    if (!interpreter || interpreter->size() >= sizeof(ev.resolved)) return 0;
    std::memset(ev.resolved, 0, sizeof(ev.resolved));
    std::memcpy(ev.resolved, interpreter->data(), interpreter->size());
    return FNW_FILE_EXEC;
}

const std::string* FileDecider::pin_of(const Slot& slot, const fnw_file_event& ev) const {
    if (slot.sha256.empty()) return nullptr;
    auto pin = slot.sha256.find(event_path(ev).path);
    return pin == slot.sha256.end() ? nullptr : &pin->second;
}

FileDecider::PinCheck FileDecider::pin_check(const Slot& slot, const fnw_file_event& ev) const {
    PinCheck check;
    if (ev.resolved_kind != FNW_RESOLVED_OBJECT) return check;
    if (ev.nr == FNW_NR_EXEC) check.expected = pin_of(slot, ev);
    if (check.expected || !(ev.object_flags & FNW_OBJECT_CODE_PINNED)) return check;
    check.code = true;
    const EventPath path = event_path(ev);
    auto pin = path.truncated ? slot.code_pins.end() : slot.code_pins.find(path.path);
    // The kernel found it in a code directory: a file there without a pin
    // (or whose name cannot be read whole) is not the bundle's code.
    if (pin == slot.code_pins.end())
        check.unpinned = true;
    else
        check.expected = &pin->second;
    return check;
}

uint32_t FileDecider::apply_sha256(const ExecHasher::Verdict& verdict, fnw_file_event& ev) {
    ev.sha256_check = verdict.check;
    std::memcpy(ev.sha256, verdict.digest.data(), sizeof(ev.sha256));
    if (verdict.check == FNW_SHA256_MATCH) return 0;
    ++stats_.sha256_mismatches;
    // An exec needs FNW_FILE_EXEC; an open of code, what it asked for.
    return ev.nr == FNW_NR_EXEC ? uint32_t{FNW_FILE_EXEC} : ev.access;
}

bool FileDecider::conclude(fnw_file_event& ev, uint32_t missing, bool kill, ProcessHandle target) {
    const bool exec = ev.nr == FNW_NR_EXEC;
    if (!missing) {
        ++stats_.allowed;
        ev.verdict = FNW_VERDICT_ALLOWED;
        ev.action = FNW_ACTION_NONE;
        ev.mechanism = FNW_MECH_NONE;
        // Opens only: the exec check does not consult file_verdicts. Code
        // is checked before the cache, so remembering it would buy nothing.
        if (!exec && ev.resolved_kind == FNW_RESOLVED_OBJECT && ev.ino != 0 &&
            !(ev.object_flags & FNW_OBJECT_CODE_PINNED)) {
            fnw_file_verdict_key key{};
            key.policy_id = ev.hdr.policy_id;
            key.access = ev.access;
            key.dev = ev.dev;
            key.ino = ev.ino;
            key.parent_ino = ev.parent_ino;
            key.generation = ev.generation;
            if (remember_ && remember_(key)) ++stats_.remembered;
        }
        settle_hold(ev, target, true);
        return ev.traced != 0;
    }
    ++stats_.violations;
    ev.verdict = FNW_VERDICT_VIOLATION;
    ev.missing = missing;
    ev.action = FNW_ACTION_REPORTED;
    ev.mechanism = FNW_MECH_NONE;
    // Through the pidfd taken when the record arrived, proven to be the
    // event's process: never whoever holds the pid by now.
    if (kill && target.kill()) {
        ev.action = FNW_ACTION_KILLED;
        ev.mechanism = ev.held ? FNW_MECH_HELD_KILL : FNW_MECH_USER_KILL;
    }
    settle_hold(ev, target, !kill);  // report-only: it goes on
    return true;
}

void FileDecider::settle_hold(fnw_file_event& ev, ProcessHandle& target, bool may_go) {
    if (!ev.held) return;
    const bool others_held = end_hold_ && end_hold_(ev.hdr.tid, ev.hdr.pid);
    if (ev.action == FNW_ACTION_KILLED) {
        ++stats_.holds_killed;
        return;
    }
    if (!target.valid()) target = ProcessHandle::for_event(ev.hdr);
    // Not to go on, or nobody can end its hold: fail closed, as for a
    // record the ring had no room for.
    if (!may_go || !end_hold_) {
        if (target.kill()) {
            ev.action = FNW_ACTION_KILLED;
            ev.mechanism = FNW_MECH_HELD_KILL;
            ++stats_.holds_killed;
        } else {
            ++stats_.holds_gone;
        }
        return;
    }
    if (others_held) return;  // the last of its threads to be settled lets it go
    if (target.resume()) {
        ++stats_.holds_released;
    } else {
        ++stats_.holds_gone;
    }
}

size_t FileDecider::expire_holds(const std::vector<std::pair<uint32_t, fnw_hold>>& holds, uint64_t now_boot_ns,
                                 std::chrono::nanoseconds bound, const std::filesystem::path& cgroup2_root) {
    size_t expired = 0;
    for (const auto& [tid, hold] : holds) {
        if (hold.held_ns + static_cast<uint64_t>(bound.count()) > now_boot_ns) continue;
        // The proof a record's kill gets: this cgroup, born before the hold.
        fnw_event_header hdr{};
        hdr.pid = hold.tgid;
        hdr.tid = tid;
        hdr.cgroup_id = hold.cgroup_id;
        hdr.boot_ns = hold.held_ns;
        ProcessHandle::for_event(hdr, cgroup2_root).kill();
        if (end_hold_) end_hold_(tid, hold.tgid);
        ++expired;
    }
    stats_.holds_expired += expired;
    return expired;
}

bool FileDecider::decide(fnw_file_event& ev) {
    // Without defer_hashing() nothing is ever deferred.
    return decide_event(ev) == Decision::Report;
}

FileDecider::Decision FileDecider::decide_event(fnw_file_event& ev) {
    if (ev.verdict != FNW_VERDICT_PENDING) return Decision::Report;
    return decide_pending(ev, [&ev] { return std::make_unique<fnw_file_event>(ev); });
}

FileDecider::Decision FileDecider::decide_event(FileRecord& file) {
    if (file->verdict != FNW_VERDICT_PENDING) return Decision::Report;
    return decide_pending(file.edit(), [&file] { return std::move(file).take(); });
}

FileDecider::Decision FileDecider::decide_pending(fnw_file_event& ev, const Keep& keep) {
    if (ev.object_flags & FNW_OBJECT_RULE_REPLACED) {
        ++stats_.replaced_rule_objects;
        if (rules_stale_) rules_stale_(ev.hdr.policy_id);
    }
    auto found = slots_.find(ev.hdr.policy_id);
    if (found == slots_.end()) {
        // A slot we never compiled: nothing can grant the access. Reported,
        // not acted on (the policy it ran under is unknown).
        ++stats_.unknown_policy;
        ev.verdict = FNW_VERDICT_VIOLATION;
        ev.action = FNW_ACTION_REPORTED;
        ev.missing = ev.access | (ev.nr == FNW_NR_EXEC ? 0 : ev.access2);  // exec: the union holds argv_len
        ProcessHandle target;
        settle_hold(ev, target, false);  // held for a verdict nobody can give: killed
        return Decision::Report;
    }
    const Slot& slot = found->second;
    const bool exec = ev.nr == FNW_NR_EXEC;
    uint32_t missing = 0;
    if (exec ? slot.exec_restricted : slot.files_restricted) {
        const EventPath path = event_path(ev);
        // A path the kernel could not walk whole is not the path: fail closed.
        missing = path.truncated ? ev.access : slot.matcher.missing(path.path, ev.access);
        if (!exec && ev.access2) missing |= missing_at_second_name(slot.matcher, ev);  // exec: argv, not a name
        if (exec && !missing) missing = refused_interpreter(slot, ev);
    }
    // Allowed by path: a pinned program, and a file of a pinned code
    // directory, must also be the pinned content.
    const PinCheck pin = missing ? PinCheck{} : pin_check(slot, ev);
    const bool kill = pin.code ? slot.code_kill : exec ? slot.exec_kill : slot.files_kill;
    if (pin.unpinned) {
        ev.sha256_check = FNW_SHA256_NOT_PINNED;
        ++stats_.sha256_mismatches;
        missing = exec ? uint32_t{FNW_FILE_EXEC} : ev.access;
    }
    if (pin.expected) {
        if (auto expected = from_hex(*pin.expected); expected && expected->size() == sizeof(ev.expected_sha256))
            std::memcpy(ev.expected_sha256, expected->data(), sizeof(ev.expected_sha256));
    }
    // The process, pinned now, before any hash: a kill after it goes to
    // this process or to nobody.
    ProcessHandle target;
    if (kill && (missing || pin.expected)) target = ProcessHandle::for_event(ev.hdr);
    // A code file is read through the fd the held process got.
    const int open_fd = exec ? -1 : ev.ret;
    if (pin.expected && worker_) {
        auto kept = keep();  // the same object as `ev`, or a copy of it
        const uint64_t id = worker_->submit(HashWorker::Job{static_cast<pid_t>(ev.hdr.pid), ev.dev, ev.ino,
                                                            event_path(ev).path, *pin.expected, open_fd});
        deferred_.emplace(id, Deferred{std::move(kept), std::move(target), kill});
        ++stats_.sha256_deferred;
        return Decision::Deferred;
    }
    if (pin.expected) {
        const auto pid = static_cast<pid_t>(ev.hdr.pid);
        const std::string path = event_path(ev).path;
        missing = apply_sha256(open_fd >= 0 ? hasher_->verify_open(pid, open_fd, ev.dev, ev.ino, path, *pin.expected)
                                            : hasher_->verify(pid, ev.dev, ev.ino, path, *pin.expected),
                               ev);
    }
    return conclude(ev, missing, kill, std::move(target)) ? Decision::Report : Decision::Drop;
}

int FileDecider::defer_hashing() {
    if (!worker_) worker_ = std::make_unique<HashWorker>(hasher_);
    return worker_->wakeup_fd();
}

void FileDecider::collect(const std::function<void(const fnw_file_event&)>& report) {
    if (!worker_) return;
    // Always take(): it also empties the eventfd the caller polls.
    for (auto& done : worker_->take()) {
        auto it = deferred_.find(done.id);
        if (it == deferred_.end()) continue;
        Deferred job = std::move(it->second);
        deferred_.erase(it);
        if (done.verdict.failure == HashFailure::Deadline) ++stats_.sha256_late;
        const uint32_t missing = apply_sha256(done.verdict, *job.ev);
        if (conclude(*job.ev, missing, job.kill, std::move(job.target))) report(*job.ev);
    }
}

std::optional<std::chrono::steady_clock::time_point> FileDecider::next_deadline() const {
    if (!worker_ || deferred_.empty()) return std::nullopt;
    return worker_->next_deadline();
}

std::optional<HashWorker::Stats> FileDecider::worker_stats() const {
    if (!worker_) return std::nullopt;
    return worker_->stats();
}

}  // namespace fnw
