// SPDX-License-Identifier: Apache-2.0
#include "core/policy_writer.hpp"

#include <algorithm>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "core/syscall_table.hpp"

namespace fnw {

namespace {

// spec.selector as parse_policy() reads it back. A policy built in code that
// sets only FunctionPolicy::function (as `fnwarden learn` does) gets
// `function: NAME`; one with a cgroupPath or pod selector and no selector
// function gets none, and parses back with FunctionPolicy::function =
// metadata.name.
void write_selector(YAML::Emitter& out, const FunctionPolicy& policy) {
    const Selector& selector = policy.selector;
    const bool has_other_selector = !selector.cgroup_path.empty() || selector.pod.has_value();
    out << YAML::Key << "selector" << YAML::Value << YAML::BeginMap;
    if (!selector.function.empty())
        out << YAML::Key << "function" << YAML::Value << selector.function;
    else if (!has_other_selector)
        out << YAML::Key << "function" << YAML::Value << policy.function;
    if (!selector.cgroup_path.empty()) {
        // Single quotes keep a pattern's backslashes as typed ('\d', not
        // "\\d"), but cannot hold a control character: those need double
        // quotes and their escapes.
        const bool printable = std::none_of(selector.cgroup_path.begin(), selector.cgroup_path.end(),
                                            [](unsigned char c) { return c < 0x20 || c == 0x7f; });
        out << YAML::Key << "cgroupPath" << YAML::Value << (printable ? YAML::SingleQuoted : YAML::DoubleQuoted)
            << selector.cgroup_path;
    }
    if (selector.pod) {
        out << YAML::Key << "pod" << YAML::Value << YAML::BeginMap;
        if (!selector.pod->namespace_.empty())
            out << YAML::Key << "namespace" << YAML::Value << selector.pod->namespace_;
        if (!selector.pod->labels.empty()) {
            out << YAML::Key << "labels" << YAML::Value << YAML::BeginMap;
            // Values such as "true" or "1" must stay strings for a reader
            // that types scalars; quoting them all is the simple way.
            for (const auto& [key, value] : selector.pod->labels)
                out << YAML::Key << key << YAML::Value << YAML::DoubleQuoted << value;
            out << YAML::EndMap;
        }
        out << YAML::EndMap;
    }
    out << YAML::EndMap;
}

const char* protocol_name(uint8_t protocol) { return protocol == 6 ? "tcp" : protocol == 17 ? "udp" : nullptr; }

// A short list on one line; a long one (learn writes hundreds of paths) one
// entry a line, so a reviewer can read it and a diff shows what changed.
void write_strings(YAML::Emitter& out, const char* key, const std::vector<std::string>& values) {
    out << YAML::Key << key << YAML::Value;
    if (values.size() <= 4) out << YAML::Flow;
    out << YAML::BeginSeq;
    for (const auto& v : values) out << v;
    out << YAML::EndSeq;
}

void write_on_violation(YAML::Emitter& out, ViolationAction action) {
    out << YAML::Key << "onViolation" << YAML::Value << std::string(to_string(action));
}

void write_network(YAML::Emitter& out, const NetworkRules& net) {
    out << YAML::Key << "network" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "egress" << YAML::Value << YAML::BeginSeq;
    for (const auto& rule : net.egress) {
        out << YAML::Flow << YAML::BeginMap << YAML::Key << "cidr" << YAML::Value << format_network(rule.network);
        if (!rule.ports.empty()) {
            out << YAML::Key << "ports" << YAML::Value << YAML::Flow << YAML::BeginSeq;
            for (uint16_t port : rule.ports) out << port;
            out << YAML::EndSeq;
        }
        if (const char* proto = protocol_name(rule.protocol)) out << YAML::Key << "protocol" << YAML::Value << proto;
        out << YAML::EndMap;
    }
    out << YAML::EndSeq;
    if (!net.listen.empty()) {
        out << YAML::Key << "listen" << YAML::Value << YAML::BeginSeq;
        for (const auto& rule : net.listen) {
            out << YAML::Flow << YAML::BeginMap << YAML::Key << "port" << YAML::Value << rule.port;
            if (const char* proto = protocol_name(rule.protocol)) out << YAML::Key << "protocol" << YAML::Value << proto;
            out << YAML::EndMap;
        }
        out << YAML::EndSeq;
    }
    if (!net.unix_sockets.empty()) write_strings(out, "unix", net.unix_sockets);
    write_on_violation(out, net.on_violation);
    out << YAML::EndMap;
}

void write_files(YAML::Emitter& out, const FileRules& files) {
    out << YAML::Key << "files" << YAML::Value << YAML::BeginMap;
    write_strings(out, "read", files.read);
    write_strings(out, "write", files.write);
    write_strings(out, "create", files.create);
    write_strings(out, "delete", files.remove);
    write_on_violation(out, files.on_violation);
    out << YAML::EndMap;
}

void write_exec(YAML::Emitter& out, const ExecRules& exec) {
    out << YAML::Key << "exec" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "allow" << YAML::Value << YAML::BeginSeq;
    for (const auto& path : exec.allow) {
        if (auto pin = exec.sha256.find(path); pin != exec.sha256.end())
            out << YAML::Flow << YAML::BeginMap << YAML::Key << "path" << YAML::Value << path << YAML::Key << "sha256"
                << YAML::Value << pin->second << YAML::EndMap;
        else
            out << path;
    }
    out << YAML::EndSeq;
    write_on_violation(out, exec.on_violation);
    out << YAML::EndMap;
}

void write_process(YAML::Emitter& out, const ProcessRules& process) {
    out << YAML::Key << "process" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "ptrace" << YAML::Value << YAML::TrueFalseBool << process.ptrace;
    out << YAML::Key << "bpf" << YAML::Value << YAML::TrueFalseBool << process.bpf;
    out << YAML::Key << "execMemory" << YAML::Value << YAML::TrueFalseBool << process.exec_memory;
    write_on_violation(out, process.on_violation);
    out << YAML::EndMap;
}

}  // namespace

std::string render_policy_yaml(const FunctionPolicy& policy, const std::string& comment) {
    // yaml-cpp's emitter quotes whatever needs quoting (names come from the
    // user's command line and must not break the document).
    YAML::Emitter out;
    out << YAML::BeginMap;
    out << YAML::Key << "apiVersion" << YAML::Value << "fnwarden.io/v1";
    out << YAML::Key << "kind" << YAML::Value << "FunctionPolicy";
    out << YAML::Key << "metadata" << YAML::Value << YAML::BeginMap << YAML::Key << "name" << YAML::Value
        << policy.name << YAML::EndMap;
    out << YAML::Key << "spec" << YAML::Value << YAML::BeginMap;
    write_selector(out, policy);
    out << YAML::Key << "mode" << YAML::Value << std::string(to_string(policy.mode));
    if (!policy.syscalls.allow.all()) {
        out << YAML::Key << "syscalls" << YAML::Value << YAML::BeginMap;
        out << YAML::Key << "onViolation" << YAML::Value << std::string(to_string(policy.syscalls.on_violation));
        out << YAML::Key << "allow" << YAML::Value << YAML::BeginSeq;
        for (size_t nr = 0; nr < policy.syscalls.allow.size(); ++nr) {
            if (!policy.syscalls.allow.test(nr)) continue;
            auto name = SyscallTable::name(static_cast<int>(nr));
            if (!name.empty()) out << std::string(name);
        }
        out << YAML::EndSeq << YAML::EndMap;
    }
    // Every other section too: `fnwarden learn --merge` writes back a policy
    // that may have them, and must not drop one.
    if (policy.network.restricted) write_network(out, policy.network);
    if (policy.files.restricted) write_files(out, policy.files);
    if (policy.exec.restricted) write_exec(out, policy.exec);
    if (policy.process.restricted) write_process(out, policy.process);
    out << YAML::EndMap << YAML::EndMap;

    std::ostringstream text;
    std::istringstream lines(comment);
    for (std::string line; std::getline(lines, line);) text << "# " << line << "\n";
    text << out.c_str() << "\n";
    return text.str();
}

}  // namespace fnw
