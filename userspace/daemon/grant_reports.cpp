// SPDX-License-Identifier: Apache-2.0
#include "daemon/grant_reports.hpp"

#include <string>

#include <utility>

namespace fnw {
namespace {

Result<GrantReport> report_of(const ActivePolicies& policies, const KernelMaps& maps, std::string_view function,
                              std::chrono::steady_clock::time_point now, const FunctionPolicy** policy_out) {
    const PolicySet* set = policies.set();
    const FunctionPolicy* policy = set ? set->find(function) : nullptr;
    if (!policy) return fail("no policy for function \"" + std::string(function) + "\"");
    auto slot = policies.table().slot_of(function);
    auto counted = slot ? maps.grant_use(*slot) : std::nullopt;
    if (!counted) return fail("the grants of \"" + std::string(function) + "\" are not counted by this daemon");
    if (policy_out) *policy_out = policy;
    return report_loaded_grant_use(*policy, set->baseline ? &*set->baseline : nullptr, *counted, now);
}

}  // namespace

Result<GrantReportDocument> function_grant_report(const ActivePolicies& policies, const KernelMaps& maps,
                                                  std::string_view function,
                                                  std::chrono::steady_clock::time_point now) {
    const FunctionPolicy* policy = nullptr;
    Result<GrantReport> report = report_of(policies, maps, function, now, &policy);
    if (!report) return fail(report.error());
    return make_grant_report_document(*policy, std::move(*report));
}

std::optional<GrantsInfo> function_grants_info(const ActivePolicies& policies, const KernelMaps& maps,
                                               std::string_view function, std::chrono::steady_clock::time_point now) {
    Result<GrantReport> report = report_of(policies, maps, function, now, nullptr);
    if (!report) return std::nullopt;
    return GrantsInfo{report->count(GrantUse::Used), report->count(GrantUse::Unused),
                      report->count(GrantUse::NotCounted), report->observed_seconds};
}

GrantGauges::GrantGauges(MetricsRegistry& registry)
    : grants_(registry.gauge("fnwarden_policy_grants",
                             "Grants of each function's policy by use since the policy was loaded: used, unused, "
                             "not_counted (fnwarden policy report lists them).",
                             {"function", "use"})),
      observed_(registry.gauge("fnwarden_policy_grants_observed_seconds",
                               "How long the kernel has counted the grants of each function's policy.",
                               {"function"})) {}

void GrantGauges::update(const ActivePolicies& policies, const KernelMaps& maps,
                         std::chrono::steady_clock::time_point now) {
    const PolicySet* set = policies.set();
    if (!set) return;
    for (const FunctionPolicy& policy : set->policies) {
        auto info = function_grants_info(policies, maps, policy.function, now);
        if (!info) continue;
        grants_.with({policy.function, "used"}).set(static_cast<double>(info->used));
        grants_.with({policy.function, "unused"}).set(static_cast<double>(info->unused));
        grants_.with({policy.function, "not_counted"}).set(static_cast<double>(info->not_counted));
        observed_.with({policy.function}).set(info->observed_seconds);
    }
}

}  // namespace fnw
