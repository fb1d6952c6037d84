// SPDX-License-Identifier: Apache-2.0
// The event line for a refused policy source (a bundle that did not
// verify, an unsigned source under --require-signed), for the event
// outputs (docs/events.md, "policy_refused").
#pragma once

#include <string>
#include <string_view>

namespace fnw {

struct PolicyRefusal {
    std::string source;      // the bundle file, or what was refused
    std::string_view reason; // BundleRefusal's label
    std::string message;
    std::string in_force;    // version of the set that stays, "" none
    std::string time;        // ISO 8601
};

// One JSON object, no newline: {"type":"policy_refused", ...}.
std::string policy_refused_line(const PolicyRefusal& refusal);

}  // namespace fnw
