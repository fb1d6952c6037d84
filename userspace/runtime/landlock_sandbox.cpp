// SPDX-License-Identifier: Apache-2.0
#include "runtime/landlock_sandbox.hpp"

#include <fcntl.h>
#include <linux/landlock.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "core/elf_interpreter.hpp"

namespace fnw {
namespace {

// Rights added after the uapi headers this is built against (6.1). The
// values are kernel ABI and never change.
constexpr uint64_t kAccessFsTruncate = 1ull << 14;  // ABI 3 (6.2)

constexpr uint64_t kMake = LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_SYM |
                           LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO;
constexpr uint64_t kRemove = LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR;
constexpr uint64_t kRead = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;

// More distinct ports than this in one direction and the network rights are
// left to the cgroup hooks: one rule per port, each a kernel allocation.
constexpr size_t kMaxPortRules = 1024;

// Every filesystem right each ABI knows.
uint64_t fs_rights_of_abi(int abi) {
    uint64_t rights = (1ull << 13) - 1;  // ABI 1: EXECUTE .. MAKE_SYM
    if (abi >= 2) rights |= LANDLOCK_ACCESS_FS_REFER;
    if (abi >= 3) rights |= kAccessFsTruncate;
    return rights;
}

// TCP ports of the network section -> Landlock port rules (ABI >= 4). A
// direction is handled only if every rule that allows TCP in it names its
// ports: "any port" cannot be written as a Landlock rule, and widening it
// would deny what the policy allows.
void plan_landlock_network(const NetworkRules& network, int abi, bool io_uring_usable, LandlockPlan& plan) {
    if (!network.restricted) return;
    if (abi < 4) {
        plan.notes.push_back("landlock ABI " + std::to_string(abi) +
                             " has no network rights (ABI 4, 6.7): TCP connect/bind are left to the cgroup hooks");
        return;
    }
    // Landlock refuses an io_uring connect or bind in the ring's worker, with
    // no syscall that could report it: the function would be refused and
    // nobody told, while audit mode reports it (the cgroup hooks see every
    // connect and bind, io_uring's included). So where the policy allows
    // io_uring, the hooks alone decide, and report what they refuse.
    if (io_uring_usable) {
        plan.notes.push_back("landlock: TCP connect/bind are left to the cgroup hooks: the policy lets the function "
                             "use io_uring, whose connects and binds Landlock would refuse unreported");
        return;
    }
    auto is_tcp = [](uint8_t protocol) { return protocol == 0 || protocol == 6; };

    std::set<uint16_t> connect_ports;
    bool connect_any_port = false;
    for (const auto& rule : network.egress) {
        if (!is_tcp(rule.protocol)) continue;
        if (rule.ports.empty()) connect_any_port = true;
        connect_ports.insert(rule.ports.begin(), rule.ports.end());
    }
    std::set<uint16_t> bind_ports;
    bool bind_any_port = false;
    for (const auto& rule : network.listen) {
        if (!is_tcp(rule.protocol)) continue;
        if (rule.port == 0) bind_any_port = true;  // listen port 0 means every port
        bind_ports.insert(rule.port);
    }

    auto add_direction = [&](const char* what, bool any_port, const std::set<uint16_t>& ports, uint64_t right) {
        if (any_port) {
            plan.notes.push_back(std::string("landlock: TCP ") + what +
                                 " is not restricted (a rule allows every port); the cgroup hooks decide it");
            return;
        }
        if (ports.size() > kMaxPortRules) {
            plan.notes.push_back(std::string("landlock: TCP ") + what + " is not restricted (" +
                                 std::to_string(ports.size()) + " ports); the cgroup hooks decide it");
            return;
        }
        plan.handled_net |= right;
        for (uint16_t port : ports) plan.port_rules.push_back({port, right});
    };
    add_direction("connect", connect_any_port, connect_ports, kLandlockNetConnectTcp);
    add_direction("bind", bind_any_port, bind_ports, kLandlockNetBindTcp);
    if ((plan.handled_net & kLandlockNetConnectTcp) && !connect_ports.empty())
        plan.notes.push_back("landlock: TCP connect allowed by port only (any address); the cgroup hooks check the address");
}

}  // namespace

int landlock_abi() {
    long abi = syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
    return abi > 0 ? static_cast<int>(abi) : 0;
}

std::string literal_prefix(const std::string& pattern, bool* widened) {
    size_t wildcard = pattern.find('*');
    if (widened) *widened = false;
    if (wildcard == std::string::npos) return pattern;
    size_t slash = pattern.rfind('/', wildcard);
    std::string prefix = slash == 0 ? "/" : pattern.substr(0, slash);
    // "dir/**" is exactly Landlock's "everything beneath dir": no widening.
    const bool whole_subtree = pattern.size() == slash + 3 && pattern.compare(slash, 3, "/**") == 0;
    if (widened) *widened = !whole_subtree;
    return prefix;
}

LandlockPlan plan_landlock(const FunctionPolicy& policy, int abi) {
    LandlockPlan plan;
    plan.abi = abi;
    if (abi <= 0) return plan;
    // Allowed by a syscalls section that names it (the baseline takes it out
    // of every list that does not). An unrestricted list (no section, no
    // baseline) keeps Landlock's port rules, as before: that gap remains.
    const bool io_uring_usable = !policy.syscalls.allow.all() && policy.syscalls.allow.test(SYS_io_uring_setup);
    plan_landlock_network(policy.network, abi, io_uring_usable, plan);
    if (!policy.files.restricted && !policy.exec.restricted) return plan;
    const uint64_t known = fs_rights_of_abi(abi);

    if (policy.files.restricted) {
        // Everything but execute (exec's own section) and ioctl on devices.
        plan.handled_fs |= known & ~LANDLOCK_ACCESS_FS_EXECUTE;
        if (abi < 2) plan.notes.push_back("landlock ABI 1: renames and links across directories are not restricted");
        if (abi < 3) plan.notes.push_back("landlock ABI < 3: truncate() is not restricted");
    }
    if (policy.exec.restricted) plan.handled_fs |= LANDLOCK_ACCESS_FS_EXECUTE;

    auto add = [&](const std::vector<std::string>& patterns, uint64_t access) {
        for (const auto& pattern : patterns) {
            LandlockRule rule;
            rule.pattern = pattern;
            rule.path = literal_prefix(pattern, &rule.widened);
            rule.access = access & known;
            plan.rules.push_back(rule);
            if (rule.widened)
                plan.notes.push_back("\"" + pattern + "\" widened to everything beneath " + rule.path +
                                     " for landlock");
        }
    };
    if (policy.files.restricted) {
        add(policy.files.read, kRead);
        add(policy.files.write, LANDLOCK_ACCESS_FS_WRITE_FILE | kAccessFsTruncate);
        // Moving a file between directories (REFER) needs create on the
        // destination and delete on the source; granting it with both keeps
        // rename(2) working where the policy allows it.
        add(policy.files.create, kMake | LANDLOCK_ACCESS_FS_REFER);
        add(policy.files.remove, kRemove | LANDLOCK_ACCESS_FS_REFER);
    }
    if (policy.exec.restricted) {
        add(policy.exec.allow, LANDLOCK_ACCESS_FS_EXECUTE);
        // The kernel opens a program's ELF interpreter with execute access
        // on its behalf: without this an allowed program is refused.
        add(implied_exec_paths(policy.exec), LANDLOCK_ACCESS_FS_EXECUTE);
    }
    return plan;
}

}  // namespace fnw
