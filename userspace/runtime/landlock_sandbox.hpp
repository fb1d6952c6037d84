// Real file and exec blocking without BPF-LSM: a Landlock ruleset compiled
// from the policy's files/exec sections, applied by the launcher to the
// function before it execs (Landlock is unprivileged and stacks; on by
// default on Debian/Ubuntu kernels >= 5.13). A denied access fails with
// EACCES and has no side effect.
//
// Landlock rules are "everything beneath this path"; glob patterns are
// widened to their longest literal directory prefix. The widening is
// reported (explain) and the exact patterns stay the policy of record.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
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

struct LandlockPlan {
    int abi = 0;
    uint64_t handled_fs = 0;  // rights the ruleset restricts (everything else is untouched)
    std::vector<LandlockRule> rules;
    std::vector<std::string> notes;  // what could not be expressed, for --explain
    bool active() const { return handled_fs != 0; }
};

// The Landlock ABI of the running kernel, or 0 when Landlock is unavailable.
int landlock_abi();

// Pure: policy + ABI -> rules. No I/O.
LandlockPlan plan_landlock(const FunctionPolicy& policy, int abi);

// The literal directory prefix of a pattern ("/var/task/**/*.py" -> "/var/task").
std::string literal_prefix(const std::string& pattern, bool* widened);

// In the launcher (parent): creates the ruleset and adds every rule whose
// path exists (O_PATH; a missing path is noted, not an error: nothing is
// there to grant). Returns the ruleset fd, to be enforced in the child.
std::variant<UniqueFd, std::string> build_landlock_ruleset(LandlockPlan& plan);

// In the child, right before seccomp and exec: no_new_privs + restrict_self.
// Returns 0 or -errno.
int enforce_landlock(int ruleset_fd);

}  // namespace fnw
