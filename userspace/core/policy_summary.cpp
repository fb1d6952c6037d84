// SPDX-License-Identifier: Apache-2.0
#include "core/policy_summary.hpp"

#include <algorithm>

#include "core/elf_interpreter.hpp"
#include "core/path_glob.hpp"
#include "core/syscall_table.hpp"

namespace fnw {
namespace {

// A list is shown whole up to this many entries, then counted.
constexpr size_t kShownEntries = 6;

std::string joined(const std::vector<std::string>& items) {
    std::string out;
    for (size_t i = 0; i < items.size() && i < kShownEntries; ++i) out += (i ? ", " : "") + items[i];
    if (items.size() > kShownEntries) out += " and " + std::to_string(items.size() - kShownEntries) + " more";
    return out;
}

std::string allowed_list(const std::vector<std::string>& items) { return items.empty() ? "nothing" : joined(items); }

std::string protocol_name(uint8_t protocol) {
    return protocol == 6 ? "tcp" : protocol == 17 ? "udp" : "tcp/udp";
}

std::string egress_text(const EgressRule& rule) {
    std::string text = format_network(rule.network) + " " + protocol_name(rule.protocol);
    if (rule.ports.empty()) return text + " any port";
    std::vector<std::string> ports;
    for (uint16_t port : rule.ports) ports.push_back(std::to_string(port));
    return text + " port " + joined(ports);
}

void summarize_files(const FileRules& files, std::vector<std::string>& out) {
    if (!files.restricted) {
        out.push_back("files: unrestricted");
        return;
    }
    const std::string action = " (onViolation " + std::string(to_string(files.on_violation)) + ")";
    out.push_back("files.read: " + allowed_list(files.read) + action);
    out.push_back("files.write: " + allowed_list(files.write) + action);
    out.push_back("files.create: " + allowed_list(files.create) + action);
    out.push_back("files.delete: " + allowed_list(files.remove) + action);
}

void summarize_network(const NetworkRules& network, std::vector<std::string>& out) {
    if (!network.restricted) {
        out.push_back("network: unrestricted");
        return;
    }
    const std::string action = " (onViolation " + std::string(to_string(network.on_violation)) + ")";
    std::vector<std::string> egress, listen;
    for (const auto& rule : network.egress) egress.push_back(egress_text(rule));
    for (const auto& rule : network.listen)
        listen.push_back(protocol_name(rule.protocol) + " " + (rule.port ? std::to_string(rule.port) : "any port"));
    out.push_back("network.egress: " + allowed_list(egress) + action);
    out.push_back("network.listen: " + allowed_list(listen) + action);
    out.push_back("network.unix: " + allowed_list(network.unix_sockets) + action);
}

void summarize_process(const ProcessRules& process, std::vector<std::string>& out) {
    if (!process.restricted) {
        out.push_back("process: unrestricted");
        return;
    }
    std::vector<std::string> allowed;
    for (auto [granted, name] : {std::pair{process.ptrace, "ptrace"}, {process.bpf, "bpf"},
                                 {process.exec_memory, "execMemory"}})
        if (granted) allowed.push_back(name);
    out.push_back("process: allows " + allowed_list(allowed) + " (onViolation " +
                  std::string(to_string(process.on_violation)) + ")");
}

void summarize_syscalls(const SyscallRules& syscalls, std::vector<std::string>& out) {
    if (syscalls.allow.all()) {
        out.push_back("syscalls: unrestricted");
        return;
    }
    std::vector<std::string> names;
    for (size_t nr = 0; nr < syscalls.allow.size(); ++nr)
        if (syscalls.allow.test(nr)) names.push_back(std::string(SyscallTable::name(static_cast<int>(nr))));
    out.push_back("syscalls: " + std::to_string(names.size()) + " allowed: " + allowed_list(names) +
                  " (onViolation " + std::string(to_string(syscalls.on_violation)) + ")");
}

// Programs and interpreters the kernel reads to start an allowed program
// (exec opens them for reading) but files.read does not cover: the program
// cannot start once files are restricted.
void warn_unreadable_interpreters(const FunctionPolicy& policy, std::vector<std::string>& out) {
    auto read = PathGlobSet::compile(policy.files.read);
    if (!read) return;  // the parser validated every pattern: cannot happen
    for (const auto& program : policy.exec.allow)
        if (program.find('*') == std::string::npos && !read->match(program))
            out.push_back("files.read does not cover " + program +
                          ", which exec.allow allows: the kernel reads a program to start it, so it cannot start");
    for (const auto& entry : policy.exec.interpreters)
        if (!entry.interpreter.empty() && !read->match(entry.interpreter))
            out.push_back("files.read does not cover " + entry.interpreter + ", the ELF interpreter of " +
                          entry.program + ": the kernel reads it to start the program, so the program cannot start");
}

}  // namespace

std::vector<std::string> summarize_policy(const FunctionPolicy& policy) {
    std::vector<std::string> out;
    summarize_files(policy.files, out);
    if (!policy.exec.restricted) {
        out.push_back("exec: unrestricted");
    } else {
        out.push_back("exec: " + allowed_list(policy.exec.allow) + " (onViolation " +
                      std::string(to_string(policy.exec.on_violation)) + ")");
        for (const auto& line : describe_exec_interpreters(policy.exec)) out.push_back("exec: " + line);
    }
    summarize_network(policy.network, out);
    summarize_process(policy.process, out);
    summarize_syscalls(policy.syscalls, out);
    return out;
}

std::vector<std::string> policy_warnings(const FunctionPolicy& policy) {
    std::vector<std::string> out;
    if (policy.files.restricted && policy.files.read.empty())
        out.push_back("files grants no read: no program can load its libraries (or be read to start), "
                      "so every dynamic program fails");
    else if (policy.files.restricted && policy.exec.restricted)
        warn_unreadable_interpreters(policy, out);
    if (policy.exec.restricted && policy.exec.allow.empty())
        out.push_back("exec.allow is empty: every exec is refused (under `fnwarden run`, the function's own start too)");
    for (const auto& entry : policy.exec.interpreters)
        if (!entry.problem.empty())
            out.push_back("the ELF interpreter of " + entry.program + " could not be determined (" + entry.problem +
                          "): if it is a dynamic program and its interpreter is not in exec.allow, the exec is refused");
    return out;
}

std::vector<std::string> describe_exec_interpreters(const ExecRules& rules) {
    std::vector<std::string> out;
    const std::vector<std::string> implied = implied_exec_paths(rules);
    for (const auto& entry : rules.interpreters) {
        if (!entry.problem.empty())
            out.push_back("interpreter of " + entry.program + " could not be determined: " + entry.problem);
        else if (std::find(implied.begin(), implied.end(), entry.interpreter) != implied.end())
            out.push_back("implied by " + entry.program + ": " + entry.interpreter + " (PT_INTERP)");
        else
            out.push_back("interpreter of " + entry.program + ": " + entry.interpreter + " (PT_INTERP), allowed");
    }
    return out;
}

}  // namespace fnw
