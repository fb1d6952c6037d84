// SPDX-License-Identifier: Apache-2.0
#include "cli/grant_report_view.hpp"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/text_table.hpp"
#include "core/display_name.hpp"

namespace fnw::cli {
namespace {

std::string seconds_text(double seconds) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.1f s", seconds);
    return buf;
}

std::string summary_of(const GrantReport& r) {
    std::string text = std::to_string(r.count(GrantUse::Unused)) + " of " + std::to_string(r.grants.size()) +
                       " grants unused over " + seconds_text(r.observed_seconds);
    if (size_t n = r.count(GrantUse::NotCounted)) text += " (" + std::to_string(n) + " not counted)";
    if (r.syscalls_unrestricted) text += "; syscalls: unrestricted, no list to count";
    return text;
}

// Unused first, then not counted, then used; the policy's order within each.
std::vector<const Grant*> grants_by_use(const GrantReport& r) {
    std::vector<const Grant*> out;
    for (GrantUse use : {GrantUse::Unused, GrantUse::NotCounted, GrantUse::Used})
        for (const Grant& g : r.grants)
            if (g.use == use) out.push_back(&g);
    return out;
}

}  // namespace

// A markdown table cell: no pipe or newline can break the row.
std::string markdown_cell(const std::string& text) {
    std::string out = "`";
    for (char c : display_name(text)) out += (c == '|' ? std::string("\\|") : c == '`' ? std::string("'") : std::string(1, c));
    return out + "`";
}

void print_grant_report_table(const GrantReport& report, std::ostream& out, bool color) {
    out << display_name(report.function) << " (policy " << display_name(report.policy) << "): " << summary_of(report)
        << "\n";
    TextTable table({"SECTION", "GRANT", "USE"});
    for (const Grant* g : grants_by_use(report)) {
        const Tone tone = g->use == GrantUse::Unused ? Tone::Warning : Tone::Plain;
        table.add_row({g->section, display_name(g->item), Cell(std::string(to_string(g->use)), tone)});
    }
    if (!table.empty()) table.print(out, color);
}

void print_grant_report_markdown(const GrantReportDocument& document, std::ostream& out) {
    const GrantReport& r = document.report;
    out << "### fnwarden policy report: " << markdown_cell(r.function) << "\n\n";
    out << "Policy " << markdown_cell(r.policy) << ": **" << summary_of(r) << "**.\n\n";
    if (r.count(GrantUse::Unused) == 0) {
        out << "Every counted grant was used.\n";
    } else {
        out << "| Section | Unused grant |\n|---|---|\n";
        for (const Grant* g : grants_by_use(r))
            if (g->use == GrantUse::Unused) out << "| " << g->section << " | " << markdown_cell(g->item) << " |\n";
    }
    if (!document.suggested_policy.empty()) {
        out << "\n<details><summary>Suggested policy without the unused grants</summary>\n\n```yaml\n"
            << document.suggested_policy;
        if (document.suggested_policy.back() != '\n') out << "\n";
        out << "```\n\n</details>\n";
    }
}

}  // namespace fnw::cli
