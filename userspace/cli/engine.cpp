// SPDX-License-Identifier: Apache-2.0
#include "cli/engine.hpp"

#include <iostream>
#include <variant>

#include <spdlog/spdlog.h>

#include "runtime/cgroup.hpp"

namespace fnw::cli {

std::optional<Engine> Engine::start(std::string_view who, uint32_t ringbuf_bytes, uint32_t alerts_ringbuf_bytes,
                                    std::optional<ProbeNeeds> needs) {
    auto root = find_cgroup2_mount();
    if (!root) {
        std::cerr << who << ": no cgroup2 mount in /proc/self/mountinfo (mount -t cgroup2 none /sys/fs/cgroup)\n";
        return std::nullopt;
    }
    // securityfs first: the capabilities read it.
    if (Status mounted = mount_kernel_filesystems(); !mounted.ok()) spdlog::warn("{}", mounted.error());
    ProbeOptions options;
    options.cgroup2_root = *root;
    options.ringbuf_bytes = ringbuf_bytes;
    options.alerts_ringbuf_bytes = alerts_ringbuf_bytes;
    options.capabilities = probe_kernel_capabilities();
    options.needs = needs;
    auto loaded = ProbeSet::load(options);
    if (!loaded) {
        std::cerr << who << ": " << loaded.error() << "\n";
        return std::nullopt;
    }
    return Engine{std::move(*loaded), *root};
}

}  // namespace fnw::cli
