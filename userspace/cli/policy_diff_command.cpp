// SPDX-License-Identifier: Apache-2.0
// fnwarden policy diff OLD NEW: which grants a policy change adds and
// removes, per section (core/policy_diff.hpp; docs/policy.md, "Reviewing
// a change"). Exit status as diff(1)'s: 0 equal, 1 different, 2 trouble.
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/grant_report_view.hpp"
#include "cli/options.hpp"
#include "cli/terminal.hpp"
#include "cli/text_table.hpp"
#include "core/display_name.hpp"
#include "core/policy_diff.hpp"
#include "core/policy_parser.hpp"

namespace fnw::cli {
namespace {

constexpr int kExitDifferent = 1;

constexpr const char* kDiffUsage =
    "usage: fnwarden policy diff OLD.yaml NEW.yaml [-o table|json|markdown] [--color auto|always|never]\n"
    "Compares two FunctionPolicy files by what they grant, not by their text: per section (selector, mode\n"
    "and onViolation, syscalls, files per right, exec and its sha256 pins, network, process), the grants\n"
    "NEW adds and the ones it removes. An unrestricted section is the grant \"(unrestricted)\".\n"
    "-o markdown: for a pull request comment. Exit status: 0 equal, 1 different, 2 a file does not\n"
    "parse or bad arguments.\n";

struct DiffArgs {
    std::string before, after, format = "table", color_choice = "auto";
};

std::optional<DiffArgs> parse_diff_args(const std::vector<std::string>& args) {
    DiffArgs out;
    std::vector<std::string> files;
    for (size_t i = 1; i < args.size(); ++i) {
        const std::string& arg = args[i];
        const bool has_value = i + 1 < args.size();
        if ((arg == "-o" || arg == "--output") && has_value) out.format = args[++i];
        else if (arg == "--color" && has_value) out.color_choice = args[++i];
        else if (arg.starts_with("-") && arg != "-") return std::nullopt;
        else files.push_back(arg);
    }
    if (files.size() != 2) return std::nullopt;
    out.before = files[0];
    out.after = files[1];
    return out;
}

std::string summary_of(const PolicyDiff& diff) {
    if (diff.equal()) return "no grant added or removed";
    return std::to_string(diff.added()) + " added, " + std::to_string(diff.removed()) + " removed";
}

nlohmann::json diff_json(const DiffArgs& a, const PolicyDiff& diff) {
    nlohmann::json sections = nlohmann::json::array();
    for (const SectionDiff& s : diff.sections)
        sections.push_back({{"section", s.section}, {"added", s.added}, {"removed", s.removed}});
    return {{"old", a.before},          {"new", a.after},           {"equal", diff.equal()},
            {"added", diff.added()},    {"removed", diff.removed()}, {"sections", std::move(sections)}};
}

void print_table(const DiffArgs& a, const PolicyDiff& diff, bool color) {
    std::cout << display_name(a.before) << " -> " << display_name(a.after) << ": " << summary_of(diff) << "\n";
    TextTable table({"SECTION", "CHANGE", "GRANT"});
    for (const SectionDiff& s : diff.sections) {
        for (const std::string& item : s.removed) table.add_row({s.section, "-", display_name(item)});
        for (const std::string& item : s.added) table.add_row({s.section, Cell("+", Tone::Warning), display_name(item)});
    }
    if (!table.empty()) table.print(std::cout, color);
}

void print_markdown(const DiffArgs& a, const PolicyDiff& diff, const std::string& function) {
    std::cout << "### fnwarden policy diff: " << markdown_cell(function) << "\n\n"
              << markdown_cell(a.before) << " → " << markdown_cell(a.after) << ": **" << summary_of(diff) << "**.\n";
    if (diff.equal()) return;
    std::cout << "\n| Section | Change | Grant |\n|---|---|---|\n";
    for (const SectionDiff& s : diff.sections) {
        for (const std::string& item : s.removed) std::cout << "| " << s.section << " | removed | " << markdown_cell(item) << " |\n";
        for (const std::string& item : s.added) std::cout << "| " << s.section << " | **added** | " << markdown_cell(item) << " |\n";
    }
}

}  // namespace

int cmd_policy_diff(const std::vector<std::string>& args) {
    for (const std::string& arg : args)
        if (arg == "--help" || arg == "-h") {
            std::cout << kDiffUsage;
            return 0;
        }
    auto a = parse_diff_args(args);
    if (!a || (a->format != "table" && a->format != "json" && a->format != "markdown")) {
        std::cerr << kDiffUsage;
        return kExitUsage;
    }
    auto color = parse_color_choice(a->color_choice);
    if (!color) {
        std::cerr << "fnwarden policy diff: --color must be auto, always or never\n";
        return kExitUsage;
    }
    PolicyParseResult before = parse_policy_file(a->before), after = parse_policy_file(a->after);
    for (const PolicyParseResult* parsed : {&before, &after})
        for (const auto& e : parsed->errors) std::cerr << e.to_string() << "\n";
    if (!before.ok() || !after.ok()) return kExitUsage;
    const PolicyDiff diff = diff_policies(*before.policy, *after.policy);
    if (a->format == "json")
        std::cout << diff_json(*a, diff).dump(2) << "\n";
    else if (a->format == "markdown")
        print_markdown(*a, diff, after.policy->function);
    else
        print_table(*a, diff, should_color(*color));
    return diff.equal() ? 0 : kExitDifferent;
}

}  // namespace fnw::cli
