// SPDX-License-Identifier: Apache-2.0
// The daemon's settings: defaults, the config file that overrides them, and
// the checks both the file and the command line must pass.
//
// Precedence: a command-line flag beats the config file, which beats the
// defaults below. This file only parses and checks; the CLI reads the file
// (load_daemon_config), applies its flags on top, then calls
// validate_daemon_config() on the result, so a flag value gets the same
// checks as a file value.
//
// File keys are the flag names in camelCase (three keys have no flag):
//
//   rules: /etc/fnwarden/rules          # --rules
//   mode: audit                         # --mode: audit | enforce
//   output: stdout                      # --output: stdout | /absolute/file (JSON lines) | none
//   socket: /run/fnwarden/fnwarden.sock # --socket
//   socketGroup: fnwarden               # --socket-group: name or gid ("" = root's group)
//   adminGroup: ""                      # --admin-group: members' `trace` shows every function
//   metrics: 127.0.0.1:9464             # --metrics: IP:PORT, [IPv6]:PORT, "" = off
//   metricsAllowNonLoopback: false      # --metrics-allow-non-loopback
//   webhook: ""                         # --webhook: http(s) URL, "" = none
//   outputFormat: json                  # --output-format: json | falco (output and webhook; docs/outputs.md)
//   ringbufBytes: 8388608               # --ringbuf-bytes: power of two >= 4096
//   clientQueueBytes: 4194304           # (file only)
//   outputQueueEvents: 65536            # (file only)
//   cgroupParent: fnwarden              # (file only; `fnwarden run` always uses fnwarden)
//   logLevel: info                      # --log-level
//   programStats: false                 # --program-stats (kernel bpf_stats: costs every probe run)
//   kubeconfig: ""                      # --kubeconfig: "" off | in-cluster | /path/to/kubeconfig
//   nodeName: ""                        # --node-name: "" = $NODE_NAME, else the hostname
//   policySource: files                 # (file only) files | kubernetes | both: where policies come from
//   functionPolicyNamespace: ""         # (file only) FunctionPolicy objects of this namespace only; "" = all
//   functionPolicyStatus: true          # (file only) write each object's verdict into its status
//   bundle: ""                          # --bundle: a signed policy bundle instead of the rules directory
//   trustedKey: ""                      # --trusted-key: the Ed25519 public key (PEM) bundles must verify with
//   requireSigned: false                # --require-signed: refuse plain directories and FunctionPolicy objects
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fnwarden/limits.h>

#include "common/result.hpp"
#include "core/policy.hpp"
#include "core/policy_parser.hpp"

namespace fnw {

// Read when no --config is given; its absence just means "defaults".
inline constexpr std::string_view kDefaultDaemonConfigFile = "/etc/fnwarden/fnwarden.yaml";

// Below this a client queue could not hold even a few events: one JSON line
// can carry several PATH_MAX-long paths.
inline constexpr size_t kMinClientQueueBytes = 64 << 10;

// Where the policy set comes from: the rules directory, FunctionPolicy
// objects of the Kubernetes API (k8s/policy_watcher.hpp; needs kubeconfig),
// or both as one set.
enum class PolicySource { Files, Kubernetes, Both };
std::optional<PolicySource> parse_policy_source(std::string_view text);
std::string_view to_string(PolicySource source);

struct DaemonConfig {
    std::filesystem::path rules_dir = "/etc/fnwarden/rules";
    Mode mode = Mode::Audit;  // a ceiling on every policy's spec.mode
    std::string output = "stdout";  // or an absolute file path, or "none" (webhook/trace clients only)
    std::string socket_path = "/run/fnwarden/fnwarden.sock";
    std::string socket_group = "fnwarden";
    // Socket-group members outside this group see only the functions their
    // own uid registered in `trace`; root and members of this group see
    // every function. "" (or a group that does not exist): root only.
    std::string admin_group;
    // Prometheus endpoint, "" disables. It has no authentication, so it
    // listens on loopback only unless metrics_allow_non_loopback says otherwise.
    std::string metrics_address = "127.0.0.1:9464";
    bool metrics_allow_non_loopback = false;
    std::string webhook_url;  // "" none
    // How the output and the webhook write events: "json" (docs/events.md)
    // or "falco" (Falco's schema, one event per POST: docs/outputs.md).
    std::string output_format = "json";
    uint32_t ringbuf_bytes = FNW_RINGBUF_DEFAULT_BYTES;
    size_t client_queue_bytes = 4 << 20;  // per subscriber; a slow one is cut off, not waited for
    size_t output_queue_events = 65536;
    // Relative to the cgroup2 root: where `fnwarden run` creates functions'
    // cgroups.
    std::string cgroup_parent = "fnwarden";
    std::string log_level = "info";  // trace debug info warn error critical off
    // Per-program run counts and times in `status` (BPF_ENABLE_STATS). Off
    // by default: it adds two clock reads to every run of every program.
    bool program_stats = false;
    // bpffs directory the probes are pinned under, so that enforcement
    // outlives the daemon (docs/daemon.md, "Pinned state"); "none": not
    // pinned, everything detaches when the daemon exits.
    std::string pin_root = "/sys/fs/bpf/fnwarden";
    // Unpin on exit: the probes go with the daemon (the package's purge and
    // `fnwarden unload` do the same for a stopped daemon).
    bool unload_on_exit = false;
    // Kubernetes pod metadata (pod selectors, k8s fields in events): "" off,
    // "in-cluster" (service account of a DaemonSet pod), or a kubeconfig path.
    std::string kubeconfig;
    // The node whose pods are watched; "" means $NODE_NAME, else the hostname.
    std::string node_name;
    PolicySource policy_source = PolicySource::Files;
    // FunctionPolicy objects of this namespace only (a Role instead of a
    // ClusterRole then suffices); "" = every namespace.
    std::string function_policy_namespace;
    // Each reload's verdict on an object goes into the object's status
    // (RBAC: patch on functionpolicies/status; the CRD's status subresource).
    bool function_policy_status = true;
    // A signed policy bundle (docs/policy.md, "Signed bundles"): used instead
    // of rules_dir, loaded only when it verifies with trusted_key.
    std::filesystem::path bundle;
    std::filesystem::path trusted_key;
    // Only signed bundles: a plain rules directory or FunctionPolicy objects
    // are refused (fail-closed: no set rather than an unsigned one).
    bool require_signed = false;
};

struct ConfigLoad {
    std::optional<DaemonConfig> config;  // present only when errors is empty
    std::vector<PolicyError> errors;     // file:line:column, as for policies
    std::string source;                  // the file read; "" when only defaults

    bool ok() const { return errors.empty(); }
};

// Parses config text; keys absent from it keep their defaults. An empty
// document (or one with only comments) is all defaults.
ConfigLoad parse_daemon_config(const std::string& yaml_text, const std::string& source_name);
// A file that does not exist is an error: whoever named it expects it read.
ConfigLoad parse_daemon_config_file(const std::filesystem::path& path);
// `named` (from --config) if given; else `default_file` if it exists; else
// the defaults.
ConfigLoad load_daemon_config(const std::optional<std::filesystem::path>& named,
                              const std::filesystem::path& default_file = kDefaultDaemonConfigFile);

// Every problem of a merged config, one message each ("" list: fine). The
// file parser runs the same checks per key; this adds those that span keys
// (a non-loopback metrics address needs metricsAllowNonLoopback).
std::vector<std::string> validate_daemon_config(const DaemonConfig& config);

// What is allowed but unwise (a plain http:// webhook to another host): for
// the log at start-up, never fatal. Every URL in them is redacted.
std::vector<std::string> daemon_config_warnings(const DaemonConfig& config);

// A metrics listen address: "127.0.0.1:9464", "[::1]:9464". IP literals
// only: whether an address is loopback must follow from the text, not from
// what a resolver answers on the day.
struct ListenAddress {
    std::string host;  // without brackets
    uint16_t port = 0;
    bool loopback = false;
};
// Fails saying what is wrong with the text.
Result<ListenAddress> parse_listen_address(std::string_view text);

}  // namespace fnw
