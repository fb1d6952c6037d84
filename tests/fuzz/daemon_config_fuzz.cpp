// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the daemon's config file (/etc/fnwarden/fnwarden.yaml, or
// a ConfigMap) comes from outside, so its parser must turn any byte string
// into a config or errors, never a crash, a hang or an escaping exception.
// The metrics address parser gets the raw input too: it also sees --metrics.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "daemon/daemon_config.hpp"

namespace {
// parse_daemon_config_file refuses anything larger (kMaxConfigFileBytes).
constexpr size_t kMaxConfigBytes = 1 << 20;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > kMaxConfigBytes) return 0;
    const std::string text(reinterpret_cast<const char*>(data), size);

    auto load = fnw::parse_daemon_config(text, "fuzz.yaml");
    // Invariants: exactly one of config / errors, and every error renders.
    if (load.config.has_value() == !load.errors.empty()) __builtin_trap();
    for (const auto& e : load.errors)
        if (e.to_string().empty()) __builtin_trap();
    // A config the file parser accepted passes the per-key checks again;
    // only the cross-key one (non-loopback metrics) may still complain.
    if (load.config) (void)fnw::validate_daemon_config(*load.config);

    auto address = fnw::parse_listen_address(text);
    if (!address && address.error().empty()) __builtin_trap();  // a refusal always says why
    if (address && address->host.empty()) __builtin_trap();
    // Same for the first line alone: a flag value is one line.
    const std::string_view first_line = std::string_view(text).substr(0, text.find('\n'));
    (void)fnw::parse_listen_address(first_line);
    return 0;
}
