// SPDX-License-Identifier: Apache-2.0
// What `fnwarden learn` makes of the events of its audit run: every
// violation of the most restrictive policy is one access the function made,
// added to LearnedAccesses (core/learned_policy). Also what the kernel
// opens on a program's behalf that no event names: its ELF interpreter
// (PT_INTERP) and a script's `#!` interpreter.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/learned_policy.hpp"
#include "probes/probe_counters.hpp"
#include "probes/record.hpp"

namespace fnw::cli {

class LearnRecorder {
public:
    // One decoded record of the run (LocalGuard's handler).
    void record(const Record& record);

    // Adds the interpreters of every program learned so far (reads their
    // first bytes; a program that cannot be read adds nothing).
    void add_interpreters();
    // The program the function was started as, canonical: the exec that
    // starts it happens before the probes watch the cgroup.
    void add_program(const std::string& command0);

    LearnedAccesses& seen() { return seen_; }
    const LearnedAccesses& seen() const { return seen_; }
    uint64_t summaries() const { return summaries_; }
    uint64_t skipped() const { return skipped_; }

private:
    LearnedAccesses seen_;
    uint64_t summaries_ = 0;  // repeats reported in summaries: each first seen on its own
    uint64_t skipped_ = 0;    // accesses with no usable name (not absolute, ephemeral bind)
};

// What the kernel lost or could not decide during the run, one line each
// ("12 ring-buffer drops"); empty when nothing. Learning from a run with
// any of these would silently miss accesses.
std::vector<std::string> learning_losses(const ProbeCounters& counters);

}  // namespace fnw::cli
