// SPDX-License-Identifier: Apache-2.0
// `fnwarden run` under a host daemon, shared by fnwarden and fnwarden-run.
#include "cli/daemon_run.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <utility>

#include <spdlog/spdlog.h>

#include "cli/conventions.hpp"
#include "cli/function_commands.hpp"
#include "control/daemon_guard.hpp"
#include "core/display_name.hpp"
#include "core/elf_interpreter.hpp"
#include "runtime/cgroup.hpp"
#include "runtime/kernel_features.hpp"

namespace fnw::cli {

void print_policy_errors(const PolicyParseResult& result) {
    for (const auto& e : result.errors) std::cerr << e.to_string() << "\n";
}

namespace {

// baseline.yaml in the policy's directory or its parent (rules/examples/x.yaml
// finds rules/baseline.yaml); "" when there is none.
std::string find_baseline_for(const std::string& policy_file) {
    std::filesystem::path dir = std::filesystem::absolute(policy_file).parent_path();
    for (int up = 0; up < 2 && !dir.empty(); ++up, dir = dir.parent_path()) {
        std::error_code ec;
        if (std::filesystem::is_regular_file(dir / "baseline.yaml", ec)) return (dir / "baseline.yaml").string();
    }
    return "";
}

// A whole decimal id, nothing else ("65534", not "65534x" or "").
std::optional<unsigned long> parse_id(const char* text) {
    if (text == nullptr || *text < '0' || *text > '9') return std::nullopt;
    errno = 0;
    char* end = nullptr;
    unsigned long value = std::strtoul(text, &end, 10);
    if (errno != 0 || *end != '\0' || value >= static_cast<unsigned long>(static_cast<uid_t>(-1))) return std::nullopt;
    return value;
}

}  // namespace

// Whose rights the function runs with (`run --user/--group`). Default: the
// user who ran `sudo fnwarden run` (SUDO_UID/SUDO_GID), so a function started
// through sudo never runs as root by accident; otherwise the caller's own.
// Supplementary groups are never kept: the function gets none, not even
// the control socket's group its user may be in.
// Fails when a name does not resolve; nullopt stands for "the launcher's own".
Result<std::optional<RunAs>> resolve_run_as(const std::string& user, const std::string& group) {
    std::optional<uid_t> uid;
    std::optional<gid_t> gid;
    if (!user.empty()) {
        const passwd* pw = nullptr;
        if (auto id = parse_id(user.c_str())) {
            uid = static_cast<uid_t>(*id);
            pw = ::getpwuid(*uid);
        } else if ((pw = ::getpwnam(user.c_str())) != nullptr) {
            uid = pw->pw_uid;
        } else {
            return fail("--user: no such user \"" + display_name(user) + "\"");
        }
        if (pw) gid = pw->pw_gid;
    } else if (auto sudo_uid = parse_id(std::getenv("SUDO_UID")); sudo_uid && ::getuid() == 0) {
        uid = static_cast<uid_t>(*sudo_uid);
        if (auto sudo_gid = parse_id(std::getenv("SUDO_GID"))) gid = static_cast<gid_t>(*sudo_gid);
    }
    if (!group.empty()) {
        if (auto id = parse_id(group.c_str())) {
            gid = static_cast<gid_t>(*id);
        } else if (const struct group* gr = ::getgrnam(group.c_str())) {
            gid = gr->gr_gid;
        } else {
            return fail("--group: no such group \"" + display_name(group) + "\"");
        }
    }
    if (!uid && !gid) return std::optional<RunAs>();  // the launcher's own
    if (!uid) uid = ::getuid();
    if (!gid) return fail("--user " + std::to_string(*uid) + " has no passwd entry: give its group with --group");
    return std::optional<RunAs>(RunAs{*uid, *gid});
}

// The policy (with its baseline) a run applies: from --policy, or, under a
// daemon, the file the daemon loaded for the function.
std::optional<FunctionPolicy> load_run_policy(const std::string& policy_file, bool no_baseline,
                                              std::string baseline_file) {
    auto parsed = parse_policy_file(policy_file);
    if (!parsed.ok()) {
        print_policy_errors(parsed);
        std::cerr << "fnwarden run: invalid policy, nothing loaded\n";
        return std::nullopt;
    }
    FunctionPolicy policy = std::move(*parsed.policy);
    if (no_baseline) return policy;
    if (baseline_file.empty()) baseline_file = find_baseline_for(policy_file);
    if (baseline_file.empty()) {
        spdlog::warn("no baseline.yaml beside {} or one directory up: none applied (--baseline FILE)", policy_file);
        return policy;
    }
    auto baseline = parse_baseline_file(baseline_file);
    if (!baseline.ok()) {
        for (const auto& e : baseline.errors) std::cerr << e.to_string() << "\n";
        std::cerr << "fnwarden run: invalid baseline, nothing loaded\n";
        return std::nullopt;
    }
    for (const auto& name : apply_baseline(policy, *baseline.baseline))
        spdlog::warn("policy {} allows {}, which the baseline {} forbids: denied", policy.name, name, baseline_file);
    spdlog::debug("baseline {} applied", baseline_file);
    return policy;
}

// The function run to its end, or why it did not start (said on stderr;
// exit_code_for() turns it into 125, 126 or 127).
Result<RunOutcome, RunFailure> run_function(FunctionRunner& runner, RunRequest request,
                                            const std::optional<RunAs>& run_as) {
    request.run_as = run_as;
    auto result = runner.run(request);
    if (!result.ok()) std::cerr << "fnwarden run: " << result.error() << "\n";
    return result;
}

void log_outcome(const std::string& function, const RunOutcome& outcome) {
    spdlog::info("{} (pid {}) {} {}; {} syscalls stopped by seccomp", function, outcome.pid,
                 outcome.term_signal ? "killed by signal" : "exited",
                 outcome.term_signal ? *outcome.term_signal : *outcome.exit_status, outcome.seccomp_violations);
}

// `fnwarden run` under a host daemon: the daemon's policy for the function
// applies, the daemon guards the cgroup, events go to the daemon's outputs.
int run_under_daemon(ControlClient client, const std::string& socket, const std::string& function,
                     const std::vector<std::string>& command, bool trace, bool explain,
                     const std::optional<RunAs>& run_as) {
    auto reply = client.request({{"op", "policy"}, {"function", function}}, std::chrono::seconds(5));
    if (!reply || reply->value("type", "") != "policy") {
        std::cerr << "fnwarden run: the daemon cannot guard \"" << function
                  << "\": " << (reply ? reply->value("error", reply->dump()) : client.last_error())
                  << " (or run with --standalone --policy FILE)\n";
        return kExitRunFailed;
    }
    const std::string file = reply->value("file", "");
    // From a signed bundle: the daemon's verified text.
    auto policy = reply->contains("document") ? policy_from_daemon_documents(*reply)
                                              : load_run_policy(file, !reply->contains("baseline"), reply->value("baseline", ""));
    if (!policy) return kExitRunFailed;
    const Mode mode = parse_mode(reply->value("mode", "audit")).value_or(Mode::Audit);
    spdlog::info("{}: guarded by the daemon (policy {} from {}, {} mode, set {}); events go to its outputs",
                 function, policy->name, file, to_string(mode), reply->value("version", ""));
    if (explain) std::cerr << explain_enforcement(*policy, mode, probe_kernel_capabilities(), LsmStatus{"(see fnwarden status)", {}});
    if (command.empty()) return 0;

    DaemonGuard guard(std::move(client), socket,
                      EventContext{function, policy->name, mode, /*resolve_exe=*/true, refused_interpreters(*policy)});
    auto cgroup2 = find_cgroup2_mount();
    if (!cgroup2) {
        std::cerr << "fnwarden run: no cgroup2 mount in /proc/self/mountinfo\n";
        return kExitRunFailed;
    }
    FunctionRunner runner(guard, *cgroup2 / "fnwarden");
    auto outcome = run_function(runner, RunRequest{function, *policy, mode, command, trace}, run_as);
    if (!outcome) return exit_code_for(outcome.failure());
    log_outcome(function, *outcome);
    return outcome->exit_code;
}

// A policy reply from a daemon whose set is a signed bundle: the policy (and
// baseline) as the verified texts it sent, parsed as a file would be.
std::optional<FunctionPolicy> policy_from_daemon_documents(const nlohmann::json& reply) {
    const std::string file = reply.value("file", "");
    PolicyParseResult parsed = parse_policy(reply.value("document", ""), file);
    for (const auto& e : parsed.errors) std::cerr << e.to_string() << "\n";
    if (!parsed.policy) return std::nullopt;
    FunctionPolicy policy = std::move(*parsed.policy);
    if (policy.exec.restricted) resolve_exec_interpreters(policy.exec);
    if (!reply.contains("baseline_document")) return policy;
    BaselineParseResult baseline = parse_baseline(reply.value("baseline_document", ""), reply.value("baseline", ""));
    for (const auto& e : baseline.errors) std::cerr << e.to_string() << "\n";
    if (!baseline.baseline) return std::nullopt;
    (void)apply_baseline(policy, *baseline.baseline);
    return policy;
}

}  // namespace fnw::cli
