// SPDX-License-Identifier: Apache-2.0
// fnwarden policy report: which grants of a function's policy went unused
// over the observed window, from the running daemon or from the report a
// `fnwarden run --report` wrote (docs/policy.md, "Unused grants").
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/grant_report_view.hpp"
#include "cli/options.hpp"
#include "cli/terminal.hpp"
#include "control/control_client.hpp"
#include "core/display_name.hpp"
#include "core/policy_parser.hpp"
#include "output/grant_report_json.hpp"

namespace fnw::cli {
namespace {

namespace po = boost::program_options;

constexpr const char* kReportUsage =
    "fnwarden policy report (--function NAME [--socket PATH] | --from REPORT.json) [-o table|json|markdown]\n"
    "                       [--write-policy FILE] [--fail-on-unused]\n"
    "Lists the grants of a function's policy (syscalls, file patterns per right, programs, egress ports,\n"
    "listen ports, process permissions) that were never used since the policy was loaded (from the\n"
    "daemon) or during a `fnwarden run --report REPORT.json` session, and how long that window was.\n"
    "Grants fnwarden cannot count in the kernel (globs, unix sockets) are listed as \"not counted\", never\n"
    "as unused. --write-policy writes the policy without its unused grants. Exit status: 0, 1 when\n"
    "--fail-on-unused and a grant is unused or no report could be had, 2 bad arguments.\n";

struct ReportArgs {
    std::string function, from, socket = kDefaultSocket, format = "table", write_policy, color_choice = "auto";
    bool fail_on_unused = false;
};

Result<nlohmann::json> report_from_daemon(const ReportArgs& a) {
    auto client = ControlClient::connect(a.socket, std::chrono::seconds(2));
    if (!client) return fail(client.error() + " (is `fnwarden daemon` running? --from reads a saved report)");
    auto reply = client->ask(PolicyReportRequest{a.function}, std::chrono::seconds(10));
    if (!reply) return fail(client->last_error());
    Result<PolicyReportReply> report = expect_reply<PolicyReportReply>(*reply);
    if (!report) return fail(report.error());
    return report->report;
}

Result<nlohmann::json> report_from_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) return fail("cannot read " + display_name(path));
    nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return fail(display_name(path) + " is not JSON");
    return j;
}

// The suggested policy, checked to parse back before it is written.
Status write_suggested_policy(const GrantReportDocument& document, const std::string& path) {
    if (document.suggested_policy.empty()) return fail("the report has no suggested policy");
    PolicyParseResult parsed = parse_policy(document.suggested_policy, path);
    if (!parsed.ok())
        return fail("the suggested policy does not parse: " + (parsed.errors.empty() ? "" : parsed.errors[0].to_string()));
    std::ofstream out(path, std::ios::trunc);
    out << document.suggested_policy;
    if (!out.flush()) return fail("cannot write " + display_name(path));
    return {};
}

int print_report(const ReportArgs& a, const nlohmann::json& j, bool color) {
    Result<GrantReportDocument> document = grant_report_from_json(j);
    if (!document) {
        std::cerr << "fnwarden policy report: " << document.error() << "\n";
        return kExitInternal;
    }
    if (!a.write_policy.empty()) {
        if (Status s = write_suggested_policy(*document, a.write_policy); !s) {
            std::cerr << "fnwarden policy report: " << s.error() << "\n";
            return kExitInternal;
        }
    }
    if (a.format == "json")
        std::cout << grant_report_json(*document).dump(2) << "\n";
    else if (a.format == "markdown")
        print_grant_report_markdown(*document, std::cout);
    else
        print_grant_report_table(document->report, std::cout, color);
    return a.fail_on_unused && document->report.count(GrantUse::Unused) > 0 ? kExitInternal : 0;
}

}  // namespace

int cmd_policy_report(const std::vector<std::string>& args) {
    ReportArgs a;
    po::options_description desc("fnwarden policy report options");
    desc.add_options()
        ("help,h", "show this help")
        ("function", po::value(&a.function), "the function whose policy the running daemon reports on")
        ("socket", po::value(&a.socket), "the daemon's control socket")
        ("from", po::value(&a.from), "a report `fnwarden run --report FILE` wrote, instead of the daemon")
        ("output,o", po::value(&a.format), "table|json|markdown (markdown: for a pull request comment)")
        ("write-policy", po::value(&a.write_policy), "write the policy without its unused grants to FILE")
        ("fail-on-unused", po::bool_switch(&a.fail_on_unused), "exit 1 when a grant is unused (for CI)")
        ("color", po::value(&a.color_choice), "auto|always|never");
    const std::vector<std::string> opts(args.begin() + 1, args.end());
    if (auto done = parse_subcommand(opts, desc, "policy report", kReportUsage)) return *done;
    if (a.format != "table" && a.format != "json" && a.format != "markdown") {
        std::cerr << "fnwarden policy report: -o must be table, json or markdown\n";
        return kExitUsage;
    }
    if (a.function.empty() == a.from.empty()) {
        std::cerr << "fnwarden policy report: give --function (from the daemon) or --from FILE\n";
        return kExitUsage;
    }
    auto color = parse_color_choice(a.color_choice);
    if (!color) {
        std::cerr << "fnwarden policy report: --color must be auto, always or never\n";
        return kExitUsage;
    }
    Result<nlohmann::json> j = a.from.empty() ? report_from_daemon(a) : report_from_file(a.from);
    if (!j) {
        std::cerr << "fnwarden policy report: " << display_name(j.error(), 1024) << "\n";
        return kExitInternal;
    }
    return print_report(a, *j, should_color(*color));
}

}  // namespace fnw::cli
