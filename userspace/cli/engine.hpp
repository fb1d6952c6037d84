// SPDX-License-Identifier: Apache-2.0
// fnwarden's own probes, for `run --standalone` and `learn`: loaded and
// attached in this process, with the cgroup2 mount functions go under.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string_view>

#include "probes/probe_set.hpp"

namespace fnw::cli {

// Probes loaded and attached, and where launched functions get their cgroups.
struct Engine {
    std::unique_ptr<ProbeSet> probes;
    std::filesystem::path cgroup2_root;

    std::filesystem::path cgroup_parent() const { return cgroup2_root / "fnwarden"; }

    // Says why not on stderr, prefixed with `who`, and returns nullopt.
    // `alerts_ringbuf_bytes`: the violations ring; learn, where every first
    // access is one, asks for more than the default.
    // `needs`: only the on-demand probes one policy asks for (a standalone
    // run); unset: all of them.
    static std::optional<Engine> start(std::string_view who, uint32_t ringbuf_bytes,
                                       uint32_t alerts_ringbuf_bytes = FNW_ALERTS_RINGBUF_DEFAULT_BYTES,
                                       std::optional<ProbeNeeds> needs = std::nullopt);
};

}  // namespace fnw::cli
