// SPDX-License-Identifier: Apache-2.0
// fnwarden policy validate FILE...: parse each file, say what it holds or
// where it is wrong.
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "cli/function_commands.hpp"
#include "cli/options.hpp"
#include "core/policy_summary.hpp"

namespace fnw::cli {

namespace {

// After the one-line summary (scripts grep it): what each right allows, and
// each way the policy cannot work as written.
void print_policy_meaning(const FunctionPolicy& policy) {
    for (const auto& line : summarize_policy(policy)) std::cout << "  " << line << "\n";
    for (const auto& line : policy_warnings(policy)) std::cout << "  warning: " << line << "\n";
}

constexpr const char* kPolicyUsage =
    "usage: fnwarden policy validate FILE...\n"
    "       fnwarden policy bundle --key KEY.pem -o BUNDLE RULES_DIR [--pin PATH[=DEPLOYED]]... [--expires WHEN]\n"
    "       fnwarden policy verify --trusted-key PUB.pem BUNDLE\n"
    "       fnwarden policy report (--function NAME | --from REPORT.json) [-o table|json|markdown] [--write-policy FILE]\n"
    "       fnwarden policy diff OLD.yaml NEW.yaml [-o table|json|markdown]\n"
    "Checks policy and baseline files without loading anything: prints, per file, \"ok\" with what the\n"
    "policy allows per right and each way it cannot work as written, or file:line:column for each error.\n"
    "Exit status: 0 when every file is valid, 2 when one is not or the arguments are wrong.\n";

bool asks_for_help(const std::string& arg) { return arg == "--help" || arg == "-h"; }

}  // namespace

// policy_bundle_command.cpp
int cmd_policy_bundle(const std::vector<std::string>& args);
int cmd_policy_verify(const std::vector<std::string>& args);
// policy_report_command.cpp
int cmd_policy_report(const std::vector<std::string>& args);
// policy_diff_command.cpp
int cmd_policy_diff(const std::vector<std::string>& args);

int cmd_policy_validate(const std::vector<std::string>& args) {
    if (!args.empty() && args[0] == "bundle") return cmd_policy_bundle(args);
    if (!args.empty() && args[0] == "verify") return cmd_policy_verify(args);
    if (!args.empty() && args[0] == "report") return cmd_policy_report(args);
    if (!args.empty() && args[0] == "diff") return cmd_policy_diff(args);
    // --help at any level is an answer, not a file name (exit 0).
    if ((!args.empty() && asks_for_help(args[0])) || (args.size() >= 2 && args[0] == "validate" && asks_for_help(args[1]))) {
        std::cout << kPolicyUsage;
        return 0;
    }
    if (args.empty() || args[0] != "validate") {
        std::cerr << kPolicyUsage;
        return kExitUsage;
    }
    if (args.size() < 2) {
        std::cerr << "fnwarden policy validate: no files given\n";
        return kExitUsage;
    }
    int rc = 0;
    for (size_t i = 1; i < args.size(); ++i) {
        if (document_kind_of_file(args[i]) == "Baseline") {
            auto baseline = parse_baseline_file(args[i]);
            for (const auto& e : baseline.errors) std::cerr << e.to_string() << "\n";
            if (!baseline.ok()) {
                rc = kExitUsage;
                continue;
            }
            std::cout << args[i] << ": ok (baseline " << baseline.baseline->name << ": " << baseline.baseline->deny.count()
                      << " syscalls denied, " << baseline.baseline->deny_unless_allowed.count()
                      << " denied unless allowed)\n";
            continue;
        }
        auto result = parse_policy_file(args[i]);
        if (!result.ok()) {
            print_policy_errors(result);
            rc = kExitUsage;
            continue;
        }
        const auto& p = *result.policy;
        std::cout << args[i] << ": ok (policy " << p.name << ", function " << p.function << ", mode "
                  << to_string(p.mode) << "; syscalls: ";
        if (p.syscalls.allow.all())
            std::cout << "unrestricted";
        else
            std::cout << p.syscalls.allow.count() << " allowed, " << to_string(p.syscalls.on_violation);
        std::cout << "; network: ";
        if (p.network.restricted)
            std::cout << p.network.egress.size() << " egress + " << p.network.listen.size() << " listen rules, "
                      << to_string(p.network.on_violation);
        else
            std::cout << "unrestricted";
        std::cout << "; files: ";
        if (p.files.restricted)
            std::cout << p.files.read.size() + p.files.write.size() + p.files.create.size() + p.files.remove.size()
                      << " patterns, " << to_string(p.files.on_violation);
        else
            std::cout << "unrestricted";
        std::cout << "; exec: ";
        if (p.exec.restricted)
            std::cout << p.exec.allow.size() << " programs, " << to_string(p.exec.on_violation);
        else
            std::cout << "unrestricted";
        std::cout << "; process: ";
        if (p.process.restricted) {
            std::string refused;
            for (auto [allowed, name] : {std::pair{p.process.ptrace, "ptrace"}, {p.process.bpf, "bpf"},
                                         {p.process.exec_memory, "execMemory"}})
                if (!allowed) refused += (refused.empty() ? "" : " ") + std::string(name);
            std::cout << (refused.empty() ? "nothing" : refused) << " refused, " << to_string(p.process.on_violation);
        } else {
            std::cout << "unrestricted";
        }
        std::cout << ")\n";
        print_policy_meaning(p);
    }
    return rc;
}

}  // namespace fnw::cli
