// SPDX-License-Identifier: Apache-2.0
// The daemon's side of `fnwarden policy report`: a function's policy in
// force against the grants the kernel counted for its slot (rule_use), for
// the control socket, `status` and `/metrics`.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "control/protocol.hpp"
#include "daemon/active_policies.hpp"
#include "output/grant_report_json.hpp"
#include "output/metrics.hpp"
#include "probes/kernel_maps.hpp"

namespace fnw {

// The report of `function`, with the tightened policy, or why there is none
// (no such function, its slot not counted by this daemon).
Result<GrantReportDocument> function_grant_report(const ActivePolicies& policies, const KernelMaps& maps,
                                                  std::string_view function,
                                                  std::chrono::steady_clock::time_point now);

// The counts alone, for status's "functions" (nullopt: not counted).
std::optional<GrantsInfo> function_grants_info(const ActivePolicies& policies, const KernelMaps& maps,
                                               std::string_view function, std::chrono::steady_clock::time_point now);

// fnwarden_policy_grants{function, use} and
// fnwarden_policy_grants_observed_seconds{function}: three series and one
// per function, however many rules its policy has.
class GrantGauges {
public:
    explicit GrantGauges(MetricsRegistry& registry);
    void update(const ActivePolicies& policies, const KernelMaps& maps, std::chrono::steady_clock::time_point now);

private:
    GaugeFamily& grants_;
    GaugeFamily& observed_;
};

}  // namespace fnw
