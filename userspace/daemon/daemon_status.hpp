// SPDX-License-Identifier: Apache-2.0
// The parts of `fnwarden status` that no single component owns: each
// function reads one source (the probes, the kernel's maps against the
// policy table, the outputs) and returns its member of the status object,
// as the protocol's StatusReply types it (control/protocol.hpp).
// Components add their own parts (ActivePolicies::status, ...).
#pragma once

#include <cstdint>
#include <map>

#include "control/protocol.hpp"
#include "daemon/cgroup_identifier.hpp"
#include "daemon/lost_records.hpp"
#include "daemon/policy_table.hpp"
#include "daemon/registrations.hpp"
#include "output/event_sinks.hpp"
#include "output/function_tally.hpp"
#include "probes/probe_set.hpp"
#include "runtime/file_decider.hpp"
#include "runtime/kernel_features.hpp"

namespace fnw {

// "kernel", "enforcement", "programs".
KernelInfo kernel_status(const KernelCapabilities& features, const ProbeSet& probes);
PinnedInfo pinned_status(const PinnedState& pinned);
std::vector<EnforcementInfo> enforcement_status(const KernelCapabilities& features, const ProbeSet& probes);
std::vector<ProgramInfo> programs_status(const ProbeSet& probes);

// "cgroups": every monitored cgroup and who put it there; counts per slot
// into `per_slot` (for "functions").
std::vector<CgroupInfo> cgroups_status(const KernelMaps& maps, const PolicyTable& table,
                                       const Registrations& registrations, const CgroupIdentifier& identifier, std::map<uint32_t, size_t>& per_slot);
// One of "functions[].roots": `root` as the kernel keys it, `path` where
// its process's root is from the daemon's view ("" if unknown).
RootInfo root_info(const CompiledRoot& root, std::string path);
// "functions": one per policy of the set in force (code pins and compiled
// roots from `maps`).
std::vector<FunctionInfo> functions_status(const PolicySet* set, const PolicyTable& table, const KernelMaps& maps,
                                           const FunctionTally& tally, const LostRecords& lost,
                                           std::map<uint32_t, size_t>& per_slot);

// counters.daemon's share of the probes, the file decider, kills and outputs.
void add_engine_counters(DaemonCounters& daemon_counters, const ProbeSet& probes, const FileDecider& files,
                         const OutputPipeline::Stats& out, const ControlServerStats& server);
// counters.webhook.
WebhookCounters webhook_counters(const WebhookSink& webhook);

}  // namespace fnw
