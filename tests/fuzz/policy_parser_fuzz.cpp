// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: policy files come from outside (rules dirs, ConfigMaps),
// so the parser must turn any byte string into a policy or errors, never a
// crash, a hang or an exception escaping. Whatever parses must also survive
// the writer (`fnwarden learn --merge` writes parsed policies back): what it
// renders parses again, to the same rendering.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/policy_parser.hpp"
#include "core/policy_writer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > fnw::kMaxPolicyFileBytes) return 0;
    std::string text(reinterpret_cast<const char*>(data), size);
    auto result = fnw::parse_policy(text, "fuzz.yaml");
    // Invariants: exactly one of policy / errors, and every error renders.
    if (result.policy.has_value() == !result.errors.empty()) __builtin_trap();
    for (const auto& e : result.errors)
        if (e.to_string().empty()) __builtin_trap();
    if (result.policy) {
        const std::string rendered = fnw::render_policy_yaml(*result.policy);
        auto again = fnw::parse_policy(rendered, "rendered.yaml");
        if (!again.policy || fnw::render_policy_yaml(*again.policy) != rendered) __builtin_trap();
    }
    return 0;
}
