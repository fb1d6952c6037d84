// SPDX-License-Identifier: Apache-2.0
// Which policy a cgroup below a monitored cgroup runs under (docs/policy.md,
// "Nested cgroups"). Pure decisions: no kernel, no I/O.
//
// The kernel copies a parent's entry into every child at cgroup_mkdir, so a
// child starts under its nearest monitored ancestor's policy. A selector
// that also matches the child (a catch-all `faas/.+`, say) must not be a
// way out of that policy: a function could otherwise make a child cgroup,
// move into it and run under a looser rule. The rule, kept simple:
//
//   * below a cgroup a launcher registered (`fnwarden run`), or one a
//     selector identified as a function (it names one: `function`, a
//     capture group, a pod), a descendant always keeps that policy;
//   * below a *default* (a cgroupPath selector that names no function: the
//     runtime's directory, whose unknown children it covers from mkdir on),
//     a selector may give a descendant its own function's policy, as long
//     as it does not lower the mode (audit < enforce).
#pragma once

#include "core/policy.hpp"

namespace fnw {

// Who gave a cgroup's nearest monitored ancestor its policy.
enum class AncestorOrigin {
    Registered,  // a launcher's registration
    Function,    // a selector that names a function (function, capture group, pod)
    Default,     // a cgroupPath selector that names no function
    Unknown,     // an entry whose origin the daemon no longer knows: treated as a function's
};

// Whether a selector match may replace the policy a descendant inherits.
// `inherited` and `matched` are the effective modes (after the daemon's
// ceiling).
inline bool nested_match_applies(AncestorOrigin origin, Mode inherited, Mode matched) {
    if (origin != AncestorOrigin::Default) return false;
    return !(inherited == Mode::Enforce && matched == Mode::Audit);
}

inline const char* to_string(AncestorOrigin origin) {
    switch (origin) {
    case AncestorOrigin::Registered: return "registered by a launcher";
    case AncestorOrigin::Function: return "a function's";
    case AncestorOrigin::Default: return "a default";
    case AncestorOrigin::Unknown: return "of unknown origin";
    }
    return "?";
}

}  // namespace fnw
