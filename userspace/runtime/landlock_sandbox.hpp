// SPDX-License-Identifier: Apache-2.0
// Real file and exec blocking without BPF-LSM: a Landlock ruleset compiled
// from the policy's files/exec sections, applied by the launcher to the
// function before it execs (Landlock is unprivileged and stacks; on by
// default on Debian/Ubuntu kernels >= 5.13). A denied access fails with
// EACCES and has no side effect.
//
// Landlock rules are "everything beneath this path"; glob patterns are
// widened to their longest literal directory prefix. The widening is
// reported (explain) and the exact patterns stay the policy of record.
//
// From ABI 4 (6.7) Landlock also restricts TCP connect and bind by port.
// The network section's TCP ports go there too: ports only, so an egress
// rule "10.0.0.0/8 port 443" lets Landlock allow port 443 to any address and
// the cgroup hooks keep deciding the address. Its value is that the ruleset
// lives in the function's own credentials: it holds even when fnwarden's
// probes are gone (daemon stopped, links closed).
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include "common/result.hpp"
#include <vector>

#include "common/unique_fd.hpp"
#include "core/policy.hpp"

namespace fnw {

struct LandlockRule {
    std::string path;      // the directory or file the rule is anchored at
    uint64_t access = 0;   // LANDLOCK_ACCESS_FS_* granted beneath it
    std::string pattern;   // the policy pattern it came from
    bool widened = false;  // the pattern had wildcards: Landlock grants the whole prefix
};

// A TCP port the function may connect to or bind (LANDLOCK_RULE_NET_PORT).
struct LandlockPortRule {
    uint16_t port = 0;
    uint64_t access = 0;  // LANDLOCK_ACCESS_NET_*
};

struct LandlockPlan {
    int abi = 0;
    uint64_t handled_fs = 0;   // rights the ruleset restricts (everything else is untouched)
    uint64_t handled_net = 0;  // LANDLOCK_ACCESS_NET_* restricted (ABI >= 4)
    std::vector<LandlockRule> rules;
    std::vector<LandlockPortRule> port_rules;
    std::vector<std::string> notes;  // what could not be expressed, for --explain
    bool active() const { return handled_fs != 0 || handled_net != 0; }
};

// Landlock's network rights (ABI 4, 6.7), defined here because the uapi
// headers this builds against (Debian 12: 6.1) predate them. Kernel ABI.
constexpr uint64_t kLandlockNetBindTcp = 1ull << 0;
constexpr uint64_t kLandlockNetConnectTcp = 1ull << 1;

// The Landlock ABI of the running kernel, or 0 when Landlock is unavailable.
int landlock_abi();

// Pure: policy + ABI -> rules. No I/O. Sections that are not restricted
// (or that the caller cleared because they only report) add nothing.
LandlockPlan plan_landlock(const FunctionPolicy& policy, int abi);

// The literal directory prefix of a pattern ("/var/task/**/*.py" -> "/var/task").
std::string literal_prefix(const std::string& pattern, bool* widened);

// In the launcher (parent): creates the ruleset and adds every rule whose
// path exists (O_PATH; a missing path is noted, not an error: nothing is
// there to grant). Returns the ruleset fd, to be enforced in the child.
Result<UniqueFd> build_landlock_ruleset(LandlockPlan& plan);

// In the child, right before seccomp and exec: no_new_privs + restrict_self.
// Returns 0 or -errno.
int enforce_landlock(int ruleset_fd);

}  // namespace fnw
