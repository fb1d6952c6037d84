// SPDX-License-Identifier: Apache-2.0
#include "core/policy_parser.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <initializer_list>
#include <span>
#include <sstream>
#include <utility>

#include <yaml-cpp/yaml.h>

#include "common/hex.hpp"
#include "common/result.hpp"
#include "common/utf8.hpp"
#include "core/elf_interpreter.hpp"
#include "core/policy_checker.hpp"
#include "core/selector.hpp"
#include "core/suggest.hpp"
#include "core/syscall_table.hpp"

namespace fnw {

using policy_yaml::Checker;

std::string PolicyError::to_string() const {
    std::ostringstream out;
    out << file;
    if (line > 0) out << ':' << line << ':' << column;
    out << ": " << message;
    return out.str();
}

namespace {

constexpr std::string_view kApiVersion = "fnwarden.io/v1";
constexpr std::string_view kKind = "FunctionPolicy";

}  // namespace

namespace policy_yaml {

void parse_violation_action_key(Checker& check, const YAML::Node& section, std::string_view what,
                                ViolationAction& out) {
    const YAML::Node action = section["onViolation"];
    if (!action) return;
    const std::string key = std::string(what) + ".onViolation";
    if (auto text = check.scalar(action, key)) {
        if (auto parsed = parse_violation_action(*text))
            out = *parsed;
        else
            check.error(action, key + " must be \"report\", \"deny\" or \"kill\", not \"" + *text + "\"");
    }
}

}  // namespace policy_yaml

namespace {

using policy_yaml::parse_network;
using policy_yaml::parse_violation_action_key;

// A list of x86_64 syscall names into a bitmap; unknown names are errors
// with a suggestion.
void parse_syscall_names(Checker& check, const YAML::Node& list, const std::string& what, SyscallBitmap& out) {
    if (!list) return;
    if (!list.IsSequence()) {
        check.error(list, what + " must be a list of syscall names");
        return;
    }
    for (const auto& item : list) {
        auto name = check.scalar(item, "a syscall name");
        if (!name) continue;
        auto nr = SyscallTable::number(*name);
        if (!nr) {
            std::string msg = "unknown syscall \"" + *name + "\" for x86_64";
            auto close = SyscallTable::suggestions(*name);
            if (!close.empty()) msg += " (did you mean \"" + std::string(close.front()) + "\"?)";
            check.error(item, std::move(msg));
            continue;
        }
        if (*nr < 0 || *nr >= FNW_MAX_SYSCALLS) {
            check.error(item, "syscall \"" + *name + "\" is outside the supported range");
            continue;
        }
        out.set(static_cast<size_t>(*nr));
    }
}

void parse_syscalls(Checker& check, const YAML::Node& node, SyscallRules& rules) {
    if (!check.expect_map(node, "spec.syscalls", {"allow", "onViolation"})) return;

    if (const YAML::Node allow = node["allow"])
        parse_syscall_names(check, allow, "spec.syscalls.allow", rules.allow);
    else
        check.error(node, "spec.syscalls needs an \"allow\" list");

    parse_violation_action_key(check, node, "spec.syscalls", rules.on_violation);
}

void parse_path_item(Checker& check, const YAML::Node& item, std::vector<std::string>& out) {
    auto text = check.scalar(item, "a path pattern");
    if (!text) return;
    if (std::string why = validate_path_pattern(*text); !why.empty()) {
        check.error(item, "path pattern \"" + *text + "\" " + why);
        return;
    }
    out.push_back(*text);
}

void parse_path_list(Checker& check, const YAML::Node& node, const std::string& what, std::vector<std::string>& out) {
    if (!node) return;
    if (!node.IsSequence()) {
        check.error(node, what + " must be a list of path patterns");
        return;
    }
    for (const auto& item : node) parse_path_item(check, item, out);
}

void parse_files(Checker& check, const YAML::Node& node, FileRules& rules) {
    rules.restricted = true;
    if (!check.expect_map(node, "spec.files", {"read", "write", "create", "delete", "onViolation"})) return;
    parse_path_list(check, node["read"], "spec.files.read", rules.read);
    parse_path_list(check, node["write"], "spec.files.write", rules.write);
    parse_path_list(check, node["create"], "spec.files.create", rules.create);
    parse_path_list(check, node["delete"], "spec.files.delete", rules.remove);
    parse_violation_action_key(check, node, "spec.files", rules.on_violation);
}

// exec.allow: path patterns, or {path, sha256} for a program pinned to its content.
void parse_exec_allow(Checker& check, const YAML::Node& node, ExecRules& rules) {
    if (!node) return;
    if (!node.IsSequence()) {
        check.error(node, "spec.exec.allow must be a list of path patterns or {path, sha256}");
        return;
    }
    for (const auto& item : node) {
        if (!item.IsMap()) {
            parse_path_item(check, item, rules.allow);
            continue;
        }
        if (!check.expect_map(item, "an exec.allow entry", {"path", "sha256"})) continue;
        const YAML::Node path_node = item["path"], hash_node = item["sha256"];
        if (!path_node || !hash_node) {
            check.error(item, "an exec.allow entry with a hash needs both \"path\" and \"sha256\"");
            continue;
        }
        auto path = check.scalar(path_node, "a path");
        auto hash = check.scalar(hash_node, "a sha256");
        if (!path || !hash) continue;
        if (std::string why = validate_path_pattern(*path); !why.empty()) {
            check.error(path_node, "path pattern \"" + *path + "\" " + why);
            continue;
        }
        if (path->find('*') != std::string::npos) {
            check.error(path_node, "a sha256 pins one file: \"" + *path + "\" must be an exact path, not a glob");
            continue;
        }
        std::string digest = *hash;
        for (char& c : digest) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (digest.size() != 64 || digest.find_first_not_of("0123456789abcdef") != std::string::npos) {
            check.error(hash_node, "sha256 must be 64 hex digits (sha256sum's output), not \"" + *hash + "\"");
            continue;
        }
        if (auto [it, fresh] = rules.sha256.emplace(*path, digest); !fresh && it->second != digest) {
            check.error(hash_node, "\"" + *path + "\" is pinned to two different sha256 values");
            continue;
        }
        rules.allow.push_back(*path);
    }
}

void parse_exec(Checker& check, const YAML::Node& node, ExecRules& rules) {
    rules.restricted = true;
    if (!check.expect_map(node, "spec.exec", {"allow", "onViolation"})) return;
    parse_exec_allow(check, node["allow"], rules);
    parse_violation_action_key(check, node, "spec.exec", rules.on_violation);
}

// A yes/no key: YAML's true/false only, so a typo ("flase") or a string
// never reads as a permission.
void parse_bool_key(Checker& check, const YAML::Node& section, const char* key, std::string_view what, bool& out) {
    const YAML::Node node = section[key];
    if (!node) return;
    const std::string name = std::string(what) + "." + key;
    auto text = check.scalar(node, name);
    if (!text) return;
    if (*text == "true")
        out = true;
    else if (*text == "false")
        out = false;
    else
        check.error(node, name + " must be true or false, not \"" + *text + "\"");
}

void parse_process(Checker& check, const YAML::Node& node, ProcessRules& rules) {
    rules.restricted = true;
    if (!check.expect_map(node, "spec.process", {"ptrace", "bpf", "execMemory", "onViolation"})) return;
    parse_bool_key(check, node, "ptrace", "spec.process", rules.ptrace);
    parse_bool_key(check, node, "bpf", "spec.process", rules.bpf);
    parse_bool_key(check, node, "execMemory", "spec.process", rules.exec_memory);
    parse_violation_action_key(check, node, "spec.process", rules.on_violation);
}

void parse_pod_selector(Checker& check, const YAML::Node& node, PodSelector& pod) {
    if (!check.expect_map(node, "spec.selector.pod", {"namespace", "labels"})) return;
    if (const YAML::Node ns = node["namespace"]) {
        if (auto text = check.scalar(ns, "spec.selector.pod.namespace")) {
            if (std::string why = validate_namespace_name(*text); !why.empty())
                check.error(ns, "spec.selector.pod." + why);
            pod.namespace_ = *text;
        }
    }
    const YAML::Node labels = node["labels"];
    if (labels) {
        if (!labels.IsMap()) {
            check.error(labels, "spec.selector.pod.labels must be a mapping of label keys to values");
        } else {
            for (const auto& kv : labels) {
                auto key = check.scalar(kv.first, "a label key");
                auto value = check.scalar(kv.second, "a label value");
                if (!key || !value) continue;
                if (std::string why = validate_label_key(*key); !why.empty()) {
                    check.error(kv.first, "spec.selector.pod.labels: " + why);
                    continue;
                }
                if (std::string why = validate_label_value(*value); !why.empty()) {
                    check.error(kv.second, "spec.selector.pod.labels: " + why);
                    continue;
                }
                if (!pod.labels.emplace(*key, *value).second)
                    check.error(kv.first, "spec.selector.pod.labels: label key \"" + *key + "\" appears twice");
            }
        }
    }
    // Keys there but all unknown were reported already, with a suggestion.
    const bool only_unknown_keys = !node["namespace"] && !labels && node.size() > 0;
    if (!only_unknown_keys && !node["namespace"] && (!labels || (labels.IsMap() && labels.size() == 0)))
        check.error(node, "spec.selector.pod needs a \"namespace\" or \"labels\" (an empty pod selector would "
                          "select every pod on the host)");
}

// spec.selector: `function`, `cgroupPath` and `pod`, at least one. Sets
// policy.function to the selector's function, else metadata.name.
void parse_selector(Checker& check, const YAML::Node& node, FunctionPolicy& policy) {
    if (!check.expect_map(node, "spec.selector", {"function", "cgroupPath", "pod"})) return;
    Selector& selector = policy.selector;

    const YAML::Node fn = node["function"];
    if (fn) {
        if (auto name = check.scalar(fn, "spec.selector.function")) {
            if (name->empty()) check.error(fn, "spec.selector.function must not be empty");
            selector.function = *name;
        }
    }

    const YAML::Node cgroup_path = node["cgroupPath"];
    if (cgroup_path) {
        if (auto pattern = check.scalar(cgroup_path, "spec.selector.cgroupPath")) {
            if (std::string why = validate_cgroup_path_regex(*pattern); !why.empty())
                check.error(cgroup_path, "spec.selector.cgroupPath " + why);
            selector.cgroup_path = *pattern;
        }
    }

    const YAML::Node pod = node["pod"];
    if (pod) parse_pod_selector(check, pod, selector.pod.emplace());

    if (!fn && !cgroup_path && !pod) {
        // Keys there but all unknown were reported already, with a suggestion.
        if (node.size() == 0) check.error(node, "spec.selector needs \"function\", \"cgroupPath\" or \"pod\"");
        return;
    }
    // Without a `function`, the policy is known by its name (a cgroupPath
    // with a capture group still names each matched function itself).
    policy.function = fn ? selector.function : policy.name;
    if (!fn && policy.name.empty())
        check.error(node, "spec.selector has no \"function\", so metadata.name names the function and must not be "
                          "empty");
}

void parse_spec(Checker& check, const YAML::Node& spec, FunctionPolicy& policy) {
    if (!check.expect_map(spec, "spec", {"selector", "mode", "syscalls", "network", "files", "exec", "process"}))
        return;

    if (const YAML::Node selector = spec["selector"]) {
        parse_selector(check, selector, policy);
    } else {
        check.error(spec, "spec needs a \"selector\"");
    }

    if (const YAML::Node mode = spec["mode"]) {
        if (auto text = check.scalar(mode, "spec.mode")) {
            if (auto parsed = parse_mode(*text))
                policy.mode = *parsed;
            else
                check.error(mode, "spec.mode must be \"audit\" or \"enforce\", not \"" + *text + "\"");
        }
    }

    if (const YAML::Node syscalls = spec["syscalls"]) {
        parse_syscalls(check, syscalls, policy.syscalls);
    } else {
        // No syscalls section: this policy does not restrict syscalls.
        policy.syscalls.allow.set();
    }
    // No network section: network is not restricted (restricted stays false).
    if (const YAML::Node network = spec["network"]) parse_network(check, network, policy.network);
    // Likewise absent files/exec sections restrict nothing.
    if (const YAML::Node files = spec["files"]) parse_files(check, files, policy.files);
    if (const YAML::Node exec = spec["exec"]) parse_exec(check, exec, policy.exec);
    if (const YAML::Node process = spec["process"]) parse_process(check, process, policy.process);
}

// Line and column (from 1) of byte `offset` in `text`.
std::pair<int, int> position_of(std::string_view text, size_t offset) {
    const std::string_view before = text.substr(0, offset);
    const size_t line_start = before.rfind('\n');
    const auto line = static_cast<int>(std::count(before.begin(), before.end(), '\n')) + 1;
    const auto column = static_cast<int>(line_start == std::string_view::npos ? offset : offset - line_start - 1) + 1;
    return {line, column};
}

// Parses YAML text; on a syntax error records it and returns nullopt.
// A policy is UTF-8 text (YAML 1.2 allows UTF-16 and -32 too; nobody
// writes policies in them). Other bytes are refused, not passed through:
// yaml-cpp keeps them in a scalar as read but decodes them when it writes
// (an overlong C0 98 becomes a raw control character), so a policy that
// `learn --merge` writes back would no longer say what it said.
std::optional<YAML::Node> load_document(Checker& check, const std::string& text) {
    if (const auto bad = first_invalid_utf8(text)) {
        const auto [line, column] = position_of(text, *bad);
        const auto byte = static_cast<uint8_t>(text[*bad]);
        check.error_at(line, column, "not UTF-8 text: byte 0x" + to_hex(std::span(&byte, 1)));
        return std::nullopt;
    }
    try {
        return YAML::Load(text);
    } catch (const YAML::ParserException& e) {
        check.error_at(e.mark.line + 1, e.mark.column + 1, "invalid YAML: " + e.msg);
    } catch (const YAML::Exception& e) {
        check.error_at(0, 0, std::string("invalid YAML: ") + e.what());
    }
    return std::nullopt;
}

// apiVersion, kind and metadata of a document of `kind`; returns metadata.name.
std::string check_header(Checker& check, const YAML::Node& root, std::string_view kind) {
    if (const YAML::Node v = root["apiVersion"]) {
        auto text = check.scalar(v, "apiVersion");
        if (text && *text != kApiVersion)
            check.error(v, "apiVersion must be \"" + std::string(kApiVersion) + "\", not \"" + *text + "\"");
    } else {
        check.error(root, "missing \"apiVersion\"");
    }
    if (const YAML::Node k = root["kind"]) {
        auto text = check.scalar(k, "kind");
        if (text && *text != kind)
            check.error(k, "kind must be \"" + std::string(kind) + "\", not \"" + *text + "\"");
    } else {
        check.error(root, "missing \"kind\"");
    }
    std::string name;
    if (const YAML::Node meta = root["metadata"]) {
        if (check.expect_map(meta, "metadata", {"name", "labels"})) {
            if (const YAML::Node n = meta["name"]) {
                if (auto text = check.scalar(n, "metadata.name")) name = *text;
            } else {
                check.error(meta, "metadata needs a \"name\"");
            }
            if (const YAML::Node labels = meta["labels"]; labels && !labels.IsMap())
                check.error(labels, "metadata.labels must be a mapping");
        }
    } else {
        check.error(root, "missing \"metadata\"");
    }
    return name;
}

}  // namespace

PolicyParseResult parse_policy(const std::string& yaml_text, const std::string& source_name) {
    Checker check(source_name);
    FunctionPolicy policy;
    policy.source = source_name;

    auto root = load_document(check, yaml_text);
    if (!root) return {std::nullopt, check.take()};

    try {
        if (!*root || root->IsNull()) {
            check.error_at(0, 0, "empty policy file");
        } else if (check.expect_map(*root, "the policy document", {"apiVersion", "kind", "metadata", "spec"})) {
            policy.name = check_header(check, *root, kKind);
            if (const YAML::Node spec = (*root)["spec"])
                parse_spec(check, spec, policy);
            else
                check.error(*root, "missing \"spec\"");
        }
    } catch (const YAML::Exception& e) {
        // Defensive: yaml-cpp throws on odd node shapes (e.g. aliases of
        // aliases); an error message beats a crashed daemon.
        check.error_at(e.mark.line + 1, e.mark.column + 1, std::string("invalid policy: ") + e.msg);
    }

    if (!check.clean()) return {std::nullopt, check.take()};
    return {std::move(policy), {}};
}

namespace {

// A policy file's text, refusing anything larger than kMaxPolicyFileBytes.
// The error is about the whole file: it becomes a PolicyError at line 0.
Result<std::string> read_policy_text(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return fail("cannot read file");
    // In chunks, not into a buffer of the limit's size: zeroing and
    // faulting in 1 MiB for a policy of a few hundred bytes was a tenth of
    // fnwarden-run's CPU per run (docs/performance.md).
    std::string text;
    char chunk[16384];
    while (in.read(chunk, sizeof(chunk)) || in.gcount() > 0) {
        text.append(chunk, static_cast<size_t>(in.gcount()));
        if (text.size() > kMaxPolicyFileBytes)
            return fail("file larger than " + std::to_string(kMaxPolicyFileBytes) + " bytes");
    }
    return text;
}

PolicyError whole_file_error(const std::filesystem::path& path, const std::string& message) {
    return PolicyError{path.string(), 0, 0, message};
}

}  // namespace

PolicyParseResult parse_policy_file(const std::filesystem::path& path) {
    auto text = read_policy_text(path);
    if (!text) return {std::nullopt, {whole_file_error(path, text.error())}};
    PolicyParseResult result = parse_policy(*text, path.string());
    // Loading a policy file for a function on this host: what its programs
    // bring with them is read here, once (parse_policy stays free of I/O on
    // the programs, for the daemon's rules and the fuzzer).
    if (result.policy && result.policy->exec.restricted) resolve_exec_interpreters(result.policy->exec);
    return result;
}

BaselineParseResult parse_baseline_file(const std::filesystem::path& path) {
    auto text = read_policy_text(path);
    if (!text) return {std::nullopt, {whole_file_error(path, text.error())}};
    return parse_baseline(*text, path.string());
}

std::string document_kind_of_file(const std::filesystem::path& path) {
    auto text = read_policy_text(path);
    if (!text) return "";
    try {
        YAML::Node root = YAML::Load(*text);
        if (root.IsMap() && root["kind"] && root["kind"].IsScalar()) return root["kind"].Scalar();
    } catch (const YAML::Exception&) {
    }
    return "";
}

BaselineParseResult parse_baseline(const std::string& yaml_text, const std::string& source_name) {
    Checker check(source_name);
    Baseline baseline;
    baseline.source = source_name;
    auto loaded = load_document(check, yaml_text);
    if (!loaded) return {std::nullopt, check.take()};
    const YAML::Node root = *loaded;
    try {
        if (!root || root.IsNull()) {
            check.error_at(0, 0, "empty baseline file");
            return {std::nullopt, check.take()};
        }
        if (!check.expect_map(root, "the baseline document", {"apiVersion", "kind", "metadata", "spec"}))
            return {std::nullopt, check.take()};
        baseline.name = check_header(check, root, "Baseline");
        const YAML::Node spec = root["spec"];
        if (!spec) {
            check.error(root, "missing \"spec\"");
        } else if (check.expect_map(spec, "spec", {"syscalls"})) {
            if (const YAML::Node sys = spec["syscalls"];
                sys && check.expect_map(sys, "spec.syscalls", {"deny", "denyUnlessAllowed"})) {
                parse_syscall_names(check, sys["deny"], "spec.syscalls.deny", baseline.deny);
                parse_syscall_names(check, sys["denyUnlessAllowed"], "spec.syscalls.denyUnlessAllowed",
                                    baseline.deny_unless_allowed);
            }
        }
    } catch (const YAML::Exception& e) {
        check.error_at(e.mark.line + 1, e.mark.column + 1, std::string("invalid baseline: ") + e.msg);
    }
    if (!check.clean()) return {std::nullopt, check.take()};
    return {std::move(baseline), {}};
}

}  // namespace fnw
