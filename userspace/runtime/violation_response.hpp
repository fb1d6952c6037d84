// SPDX-License-Identifier: Apache-2.0
// The userspace half of a violation's response, shared by `fnwarden run`
// and the daemon: the kernel already refused the operation (network hook,
// Landlock); a section that says `kill` also ends the process, and the
// record is rewritten to say so before anyone sees it.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string_view>

#include <fnwarden/events.h>

#include "core/enforcement_plan.hpp"
#include "core/policy.hpp"
#include "probes/record.hpp"
#include "runtime/file_decider.hpp"

namespace fnw {

class KernelMaps;
class ProbeSet;

// Takes records once decode_record() made them a Record: nothing after the
// decoder reads raw bytes again.
using DecodedRecordHandler = std::function<void(const Record& record)>;

struct KillOnViolation {
    bool network = false;
    bool files = false;
    bool exec = false;

    // The sections whose plan has fnwarden kill after the kernel refused.
    static KillOnViolation from(const EnforcementPlan& plan);
    // The same for a cgroup the daemon watches; who kills does not depend
    // on the kernel's abilities (a kill the kernel did is not repeated).
    static KillOnViolation from(const FunctionPolicy& policy, Mode mode);
    bool any() const { return network || files || exec; }
};

// What userspace needs to name a network event's ancestors (the cgroup
// socket hooks cannot read the task tree): where cgroup2 is mounted, and
// which policy the kernel has for a cgroup (monitored_cgroups).
struct LineageLookup {
    std::filesystem::path cgroup2_root;
    std::function<std::optional<uint32_t>(uint64_t cgroup_id)> policy_of;

    // Answers from `probes`' monitored_cgroups map (it must outlive this).
    static LineageLookup from(const ProbeSet& probes, std::filesystem::path cgroup2_root);
};

// Fills hdr.lineage from /proc, the way the kernel does for its own events:
// hdr.ppid and up, while the ancestor runs under hdr.policy_id. Best effort:
// an ancestor that exited ends the chain early.
void fill_lineage_from_proc(fnw_event_header& hdr, const LineageLookup& lookup);

// Passes `record` to `next`, after acting on it as `kill` asks and filling
// what the producing hook could not read (the parent of a network event's
// process: cgroup socket hooks cannot read the task; the canonical names of
// a file event whose object the kernel did not walk, resolved in the
// process's root: runtime/path_resolver.hpp). File accesses the
// kernel left undecided go through `files` first; those it finds allowed
// and untraced end here. A file record is copied only when it changes.
void respond_to_record(Record record, const KillOnViolation& kill, const DecodedRecordHandler& next,
                       FileDecider* files = nullptr, const LineageLookup* lineage = nullptr);

// The kernel decides a file or exec miss only for a task in a root the
// policy's rules were compiled in (bpf/path.bpf.h, rules_root_rights). A
// record it left undecided may come from another root: a container's, a
// chroot's, or the first exec there, held until this returns
// (exec.bpf.c, new_root). Compiles the rules in the root of the record's
// process, before its verdict, so that process's next accesses are the
// kernel's. Asked for every undecided record: a process changes roots
// (runc's init pivots, then execs the entrypoint), and a root known
// already costs a few stat() calls. `function` names it in the log (made
// printable there, only when a line is written: this is asked per record).
// Used by the daemon and by `fnwarden run` alike.
void compile_rules_in_root_of(KernelMaps& maps, const Record& record, std::string_view function);

}  // namespace fnw
