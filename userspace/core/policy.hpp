// SPDX-License-Identifier: Apache-2.0
// The policy model: what a function may do. Pure data; no BPF, no I/O.
#pragma once

#include <array>
#include <bitset>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fnwarden/limits.h>

#include "common/result.hpp"

namespace fnw {

enum class Mode { Audit, Enforce };

// What a violation of a rule section triggers (in enforce mode).
//   Report: let it happen, emit an event.
//   Deny:   make the operation fail with an error and no side effect, where a
//           mechanism can (seccomp for launched functions); elsewhere it falls
//           back to Kill, and the event says which mechanism acted.
//   Kill:   kill the process.
enum class ViolationAction { Report, Deny, Kill };

using SyscallBitmap = std::bitset<FNW_MAX_SYSCALLS>;

struct SyscallRules {
    SyscallBitmap allow;
    ViolationAction on_violation = ViolationAction::Report;
};

// An IP network; IPv4 is stored v4-mapped (::ffff:a.b.c.d/96+n) so one
// table matches both socket families.
struct IpNetwork {
    std::array<uint8_t, 16> address{};
    unsigned prefix = 0;  // 0..128, over the 16-byte form
};

enum class IpProtocol : uint8_t { Any = 0, Tcp = 6, Udp = 17 };

struct EgressRule {
    IpNetwork network;
    std::vector<uint16_t> ports;  // empty: every port
    uint8_t protocol = 0;         // IPPROTO_TCP/UDP, 0 = any
};

struct ListenRule {
    uint16_t port = 0;
    uint8_t protocol = 0;
};

struct NetworkRules {
    bool restricted = false;  // a network section exists: default deny
    std::vector<EgressRule> egress;
    std::vector<ListenRule> listen;
    // Unix sockets the function may connect to: absolute paths, or "@name"
    // for an abstract socket. Exact names (the kernel compares them).
    std::vector<std::string> unix_sockets;
    ViolationAction on_violation = ViolationAction::Report;
};

// Checks a network.unix entry; returns an error message or "".
std::string validate_unix_socket_name(std::string_view name);

// Path patterns: absolute, '/'-separated; "*" matches within one segment,
// "**" (a whole segment) matches any number of segments. See docs/policy.md.
struct FileRules {
    bool restricted = false;  // a files section exists: default deny
    std::vector<std::string> read, write, create, remove;  // "delete" in YAML
    ViolationAction on_violation = ViolationAction::Report;
};

struct ExecRules {
    bool restricted = false;  // an exec section exists: only these programs
    std::vector<std::string> allow;
    // Code integrity: exact exec.allow paths pinned to a SHA-256 of their
    // content (64 lowercase hex digits). An exec of one whose file hashes
    // otherwise is a violation (daemon-side check, see FileDecider).
    std::map<std::string, std::string> sha256;
    ViolationAction on_violation = ViolationAction::Report;
    // Filled at policy load from the files themselves (core/elf_interpreter),
    // never written back: one entry per exact exec.allow path that is a
    // dynamic ELF program or could not be read.
    struct ProgramInterpreter {
        std::string program;      // the exec.allow entry
        std::string interpreter;  // its PT_INTERP, canonical; "" when undetermined
        std::string problem;      // why it could not be determined; "" when known
    };
    std::vector<ProgramInterpreter> interpreters;
};

// spec.process: what a function may do to other processes and to its own
// memory, beyond the syscall list. Each is false (refused) by default once
// the section exists; no section = not restricted.
struct ProcessRules {
    bool restricted = false;
    bool ptrace = false;       // attach to or read another process (ptrace, process_vm_*)
    bool bpf = false;          // the bpf() syscall
    bool exec_memory = false;  // make anonymous or writable memory executable (JITs need it)
    ViolationAction on_violation = ViolationAction::Report;
};

// Checks a path pattern; returns an error message or "".
std::string validate_path_pattern(std::string_view pattern);

// spec.selector.pod: a Kubernetes pod by namespace and labels, as a
// NetworkPolicy podSelector would pick it. At least one of the two is set
// (an empty pod selector would take every pod on the host).
struct PodSelector {
    std::string namespace_;                     // "" = any namespace
    std::map<std::string, std::string> labels;  // every one must match
    bool operator==(const PodSelector&) const = default;
};

// spec.selector: the ways a process is recognised as this policy's function.
// Each set member is an alternative (any one that matches selects the
// policy), and at least one is set. See docs/policy.md and core/selector.hpp.
struct Selector {
    // The YAML `function`, "" when absent. The name `fnwarden run --function`
    // registers under.
    std::string function;
    // An RE2 pattern, fully matched against the cgroup path relative to the
    // cgroup2 mount (no leading '/'); at most one capture group, which then
    // names the function. "" = none.
    std::string cgroup_path;
    std::optional<PodSelector> pod;
    bool operator==(const Selector&) const = default;
};

// Code integrity from a signed bundle (`policy bundle --pin`): a file of the
// function's code and the SHA-256 its content must have. The directories
// holding pinned files are code directories: every regular file opened or
// executed in one is checked, and one without a pin is a violation too.
struct CodePin {
    std::string path;    // absolute, as the function sees it
    std::string sha256;  // 64 lowercase hex digits
};

struct FunctionPolicy {
    std::string name;  // metadata.name
    // spec.selector.function, or metadata.name when the selector has no
    // `function` (a cgroupPath or pod selector alone): the key the policy is
    // known by in slots and events.
    std::string function;
    Selector selector;
    Mode mode = Mode::Audit;
    SyscallRules syscalls;
    NetworkRules network;
    FileRules files;
    ExecRules exec;
    ProcessRules process;
    std::string source;  // file it came from, for messages
    // metadata.namespace of a FunctionPolicy object read from the Kubernetes
    // API; "" for a rules file. Such a policy selects pods of this namespace
    // only, whatever its pod selector says (core/selector.hpp): whoever may
    // write policies in one namespace must not reach another's pods.
    std::string kube_namespace;
    // The pins of the bundle the policy came in (every policy of a bundle
    // gets all of them); empty for a rules file. Never written as YAML.
    std::vector<CodePin> code_pins;
};

// What no function may do (rules/baseline.yaml), merged into every policy.
struct Baseline {
    std::string name;
    SyscallBitmap deny;                 // removed from every allowlist
    SyscallBitmap deny_unless_allowed;  // removed unless the policy lists them
    std::string source;
};

// Merges `baseline` into `policy`. A policy without a syscalls section stops
// being unrestricted: it allows everything but the baseline. Returns one
// message per syscall the policy listed but the baseline forbids.
std::vector<std::string> apply_baseline(FunctionPolicy& policy, const Baseline& baseline);

// The daemon's mode is a ceiling: a policy still in audit stays in audit
// under an enforcing daemon, and an auditing daemon enforces nothing (one
// switch to turn enforcement off host-wide).
Mode effective_mode(Mode daemon_ceiling, Mode policy_mode);

// The action the kernel applies: kill only in enforce mode.
// What a section's onViolation means in `mode` (audit never acts).
ViolationAction effective_action(ViolationAction section_action, Mode mode);
ViolationAction effective_syscall_action(const FunctionPolicy& policy, Mode mode);
ViolationAction effective_network_action(const FunctionPolicy& policy, Mode mode);

// "10.0.0.0/8", "2001:db8::/32", "127.0.0.1" (= /32), "::1" (= /128).
// Fails saying what is wrong ("bad prefix length").
Result<IpNetwork> parse_ip_network(std::string_view text);
std::string format_ip(const std::array<uint8_t, 16>& address);
std::string format_network(const IpNetwork& network);  // as written in a policy

std::string_view to_string(Mode mode);
std::string_view to_string(ViolationAction action);
std::optional<Mode> parse_mode(std::string_view text);
std::optional<ViolationAction> parse_violation_action(std::string_view text);

}  // namespace fnw
