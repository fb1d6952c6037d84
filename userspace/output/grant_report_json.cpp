// SPDX-License-Identifier: Apache-2.0
#include "output/grant_report_json.hpp"

#include <optional>
#include <utility>

#include "core/policy_writer.hpp"

namespace fnw {
namespace {

std::optional<GrantUse> parse_grant_use(const std::string& text) {
    for (GrantUse use : {GrantUse::Used, GrantUse::Unused, GrantUse::NotCounted})
        if (to_string(use) == text) return use;
    return std::nullopt;
}

}  // namespace

GrantReportDocument make_grant_report_document(const FunctionPolicy& policy, GrantReport report) {
    const std::string comment = "Suggested by fnwarden policy report: " + policy.name + " without the grants unused over " +
                                std::to_string(static_cast<long long>(report.observed_seconds)) + " s";
    std::string yaml = render_policy_yaml(tighten_policy(policy, report), comment);
    return GrantReportDocument{std::move(report), std::move(yaml)};
}

nlohmann::json grant_report_json(const GrantReportDocument& document) {
    const GrantReport& r = document.report;
    nlohmann::json grants = nlohmann::json::array();
    for (const Grant& g : r.grants)
        grants.push_back({{"section", g.section}, {"item", g.item}, {"use", std::string(to_string(g.use))}});
    return {{"function", r.function},
            {"policy", r.policy},
            {"observed_seconds", r.observed_seconds},
            {"syscalls_unrestricted", r.syscalls_unrestricted},
            {"counts",
             {{"used", r.count(GrantUse::Used)},
              {"unused", r.count(GrantUse::Unused)},
              {"not_counted", r.count(GrantUse::NotCounted)}}},
            {"grants", std::move(grants)},
            {"suggested_policy", document.suggested_policy}};
}

Result<GrantReportDocument> grant_report_from_json(const nlohmann::json& j) {
    if (!j.is_object()) return fail("a grant report is a JSON object");
    try {
        GrantReportDocument out;
        GrantReport& r = out.report;
        r.function = j.at("function").get<std::string>();
        r.policy = j.value("policy", "");
        r.observed_seconds = j.value("observed_seconds", 0.0);
        r.syscalls_unrestricted = j.value("syscalls_unrestricted", false);
        for (const auto& g : j.at("grants")) {
            auto use = parse_grant_use(g.at("use").get<std::string>());
            if (!use) return fail("unknown grant use \"" + g.at("use").get<std::string>() + "\"");
            r.grants.push_back({g.at("section").get<std::string>(), g.at("item").get<std::string>(), *use});
        }
        out.suggested_policy = j.value("suggested_policy", "");
        return out;
    } catch (const nlohmann::json::exception& e) {
        return fail(std::string("not a grant report: ") + e.what());
    }
}

}  // namespace fnw
