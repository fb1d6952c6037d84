// SPDX-License-Identifier: Apache-2.0
// A grant report (core/grant_usage.hpp) as JSON: what the daemon sends for
// `policy report`, what `run --report` writes, and what `policy report
// --from FILE` reads back.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "common/result.hpp"
#include "core/grant_usage.hpp"

namespace fnw {

struct GrantReportDocument {
    GrantReport report;
    // The policy without its unused grants, as a policy file (policy_writer).
    std::string suggested_policy;
};

// `report` of `policy`, with `policy` tightened (tighten_policy) and
// written as a policy file that parses back.
GrantReportDocument make_grant_report_document(const FunctionPolicy& policy, GrantReport report);

// {"function", "policy", "observed_seconds", "syscalls_unrestricted",
//  "counts": {"used", "unused", "not_counted"},
//  "grants": [{"section", "item", "use"}], "suggested_policy"}
nlohmann::json grant_report_json(const GrantReportDocument& document);
Result<GrantReportDocument> grant_report_from_json(const nlohmann::json& j);

}  // namespace fnw
