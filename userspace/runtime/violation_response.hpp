// The userspace half of a violation's response, shared by `fnwarden run`
// and the daemon: the kernel already refused the operation (network hook,
// Landlock); a section that says `kill` also ends the process, and the
// record is rewritten to say so before anyone sees it.
#pragma once

#include <cstddef>
#include <functional>
#include <span>

#include "core/policy.hpp"
#include "runtime/file_decider.hpp"

namespace fnw {

using RecordHandler = std::function<void(std::span<const std::byte> record)>;

struct KillOnViolation {
    bool network = false;
    bool files = false;
    bool exec = false;

    static KillOnViolation from(const FunctionPolicy& policy, Mode mode);
    bool any() const { return network || files || exec; }
};

// Passes `record` to `next`, after acting on it as `kill` asks and filling
// what the producing hook could not read (the parent of a network event's
// process: cgroup socket hooks cannot read the task). File accesses the
// kernel left undecided go through `files` first; those it finds allowed
// and untraced end here.
void respond_to_record(std::span<const std::byte> record, const KillOnViolation& kill, const RecordHandler& next,
                       FileDecider* files = nullptr);

}  // namespace fnw
