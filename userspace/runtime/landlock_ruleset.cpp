// SPDX-License-Identifier: Apache-2.0
// Applying a LandlockPlan: the ruleset built from the plan's paths as the
// calling process sees them, then enforced on itself. Apart from
// landlock_sandbox.cpp (the planning) because fnwarden-runtime's container
// init links only this: a static binary, inside the container's root.
#include <fcntl.h>
#include <linux/landlock.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "runtime/landlock_sandbox.hpp"

namespace fnw {
namespace {

// Rights that make sense on a regular file (others are EINVAL there).
// TRUNCATE (1 << 14, ABI 3) is not in the 6.1 uapi headers.
constexpr uint64_t kFileRights =
    LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE | (1ull << 14);

// LANDLOCK_RULE_NET_PORT and its attribute (ABI 4; not in 6.1's uapi).
constexpr int kRuleNetPort = 2;
struct NetPortAttr {
    uint64_t allowed_access;
    uint64_t port;
};
// landlock_ruleset_attr as of ABI 4: the kernel takes the size it is given,
// so the short form (fs only) is passed unless network rights are handled.
struct RulesetAttrV4 {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
};

}  // namespace

Result<UniqueFd> build_landlock_ruleset(LandlockPlan& plan) {
    RulesetAttrV4 attr{plan.handled_fs, plan.handled_net};
    // Without network rights, the ABI 1 size: older kernels reject a larger
    // struct only when the extra fields are non-zero, but say what is meant.
    const size_t attr_size = plan.handled_net ? sizeof(attr) : sizeof(attr.handled_access_fs);
    UniqueFd ruleset(static_cast<int>(syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0)));
    if (!ruleset.valid()) return fail(std::string("landlock_create_ruleset: ") + std::strerror(errno));

    std::set<std::string> missing;
    for (const auto& rule : plan.rules) {
        UniqueFd target(::open(rule.path.c_str(), O_PATH | O_CLOEXEC));
        if (!target.valid()) {
            if (missing.insert(rule.path).second)
                plan.notes.push_back(rule.path + ": " + std::strerror(errno) + ", rules for it not added (nothing there to grant)");
            continue;
        }
        struct stat st {};
        uint64_t access = rule.access & plan.handled_fs;
        if (::fstat(target.get(), &st) == 0 && !S_ISDIR(st.st_mode)) access &= kFileRights;
        if (access == 0) continue;
        landlock_path_beneath_attr beneath{};
        beneath.allowed_access = access;
        beneath.parent_fd = target.get();
        if (syscall(SYS_landlock_add_rule, ruleset.get(), LANDLOCK_RULE_PATH_BENEATH, &beneath, 0) != 0)
            return fail("landlock_add_rule " + rule.path + ": " + std::strerror(errno));
    }
    for (const auto& rule : plan.port_rules) {
        NetPortAttr port{rule.access & plan.handled_net, rule.port};
        if (syscall(SYS_landlock_add_rule, ruleset.get(), kRuleNetPort, &port, 0) != 0)
            return fail("landlock_add_rule tcp port " + std::to_string(rule.port) + ": " + std::strerror(errno));
    }
    return ruleset;
}

int enforce_landlock(int ruleset_fd) {
    // Required unless CAP_SYS_ADMIN; set anyway: the sandbox must not be
    // escapable through a setuid binary.
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -errno;
    if (syscall(SYS_landlock_restrict_self, ruleset_fd, 0) != 0) return -errno;
    return 0;
}

}  // namespace fnw
