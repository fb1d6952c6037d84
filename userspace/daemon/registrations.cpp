// SPDX-License-Identifier: Apache-2.0
#include "daemon/registrations.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "core/display_name.hpp"
#include "runtime/cgroup.hpp"
#include "runtime/cgroup_tree.hpp"

namespace fnw {
namespace {

// Re-kill a released cgroup still populated at most this often (the
// fallback walk can miss a fork in flight), and warn once past the bound.
constexpr auto kRekillInterval = std::chrono::milliseconds(100);
constexpr auto kEmptyingBound = std::chrono::seconds(5);

}  // namespace

const Registration* Registrations::find(uint64_t cgroup_id) const {
    auto it = by_cgroup_.find(cgroup_id);
    return it == by_cgroup_.end() ? nullptr : &it->second;
}

size_t Registrations::count_of(ClientId client) const {
    return static_cast<size_t>(
        std::count_if(by_cgroup_.begin(), by_cgroup_.end(), [&](const auto& r) { return r.second.client == client; }));
}

bool Registrations::unregister(ClientId client, uint64_t cgroup_id) {
    auto reg = by_cgroup_.find(cgroup_id);
    if (reg == by_cgroup_.end() || reg->second.client != client) return false;
    release(cgroup_id, reg->second, /*launcher_gone=*/false);
    return true;
}

bool Registrations::release_client(ClientId client) {
    bool changed = false;
    for (auto& [cgroup_id, reg] : by_cgroup_) {
        if (reg.client != client) continue;
        // The launcher is gone; what it left there stays guarded until the
        // cgroup is emptied and gone. The entry is this client's own:
        // handle_register never lets a registration replace one (a guarded
        // cgroup is refused), so releasing it never disarms what another
        // launcher or a selector put there.
        release(cgroup_id, reg, /*launcher_gone=*/true);
        changed = true;
    }
    return changed;
}

// PDEATHSIG reached only the function's main process; a double-forked
// grandchild may still run there. Its entry stays in the kernel map (it is
// still checked) until the cgroup is gone, and a run's cgroup is emptied:
// cgroup.kill, or a SIGKILL walk of every descendant's cgroup.procs, until
// cgroup.events says "populated 0" (drain_released(), each loop turn,
// bounded). Only cgroups under <cgroup2>/fnwarden, where `fnwarden run`
// makes them, are emptied: a client must not be able to have the daemon
// kill any cgroup it registered.
void Registrations::release(uint64_t cgroup_id, Registration& reg, bool launcher_gone) {
    if (!reg.released) {
        reg.released = true;
        reg.released_at = std::chrono::steady_clock::now();
        const std::filesystem::path runs = cgroup2_root_ / "fnwarden";
        const std::filesystem::path path(reg.path);
        reg.ours_to_empty = !reg.path.empty() && path.parent_path() == runs && cgroup_id_of(path) == cgroup_id;
    }
    reg.launcher_gone = reg.launcher_gone || launcher_gone;
    reg.trace = false;  // the launcher's --trace ended with it
    if (launcher_gone && cgroup_populated(reg.path) == Populated::Yes)
        spdlog::warn("{}: launcher gone (pid {}), processes left in cgroup {}: {}", display_name(reg.function),
                     reg.pid, display_name(reg.path),
                     reg.ours_to_empty ? "still guarded; emptying it" : "still guarded until it is removed");
    // Emptied by drain_released() at the end of this loop turn: not from
    // here, where callers iterate over the registrations it may erase.
}

void Registrations::drain_released(std::chrono::steady_clock::time_point now) {
    for (auto it = by_cgroup_.begin(); it != by_cgroup_.end();)
        it = !it->second.released || drain_one(it->first, it->second, now) ? std::next(it) : by_cgroup_.erase(it);
}

bool Registrations::drain_one(uint64_t cgroup_id, Registration& reg, std::chrono::steady_clock::time_point now) {
    const Populated populated = reg.path.empty() ? Populated::Yes : cgroup_populated(reg.path);
    if (!maps_.monitored_cgroup(cgroup_id) || populated == Populated::Gone) {
        // Gone: cgroup_rmdir took the entry (or the directory vanished
        // between two reads; then the entry goes here).
        maps_.unmonitor_cgroup(cgroup_id);
        return false;
    }
    if (reg.ours_to_empty && populated == Populated::Yes) {
        if (!reg.last_kill || now - *reg.last_kill >= kRekillInterval) {
            size_t signalled = 0;
            const KillMethod how = kill_cgroup_tree(reg.path, &signalled);
            if (reg.kills_sent++ == 0)
                spdlog::info("{}: emptying cgroup {} ({})", display_name(reg.function), display_name(reg.path),
                             how == KillMethod::CgroupKill ? "cgroup.kill"
                                                           : "SIGKILL to " + std::to_string(signalled) + " pids");
            reg.last_kill = now;
        }
        if (!reg.stuck_reported && now - *reg.released_at > kEmptyingBound) {
            reg.stuck_reported = true;
            spdlog::error("{}: cgroup {} still has processes {} s after its launcher let go; they stay guarded "
                          "and the daemon keeps killing them",
                          display_name(reg.function), display_name(reg.path),
                          std::chrono::duration_cast<std::chrono::seconds>(kEmptyingBound).count());
        }
    } else if (reg.ours_to_empty && populated == Populated::No) {
        if (reg.kills_sent > 0 && !reg.emptied) {
            reg.emptied = true;
            ++cgroups_emptied_;
            spdlog::info("{}: cgroup {} emptied (launcher {})", display_name(reg.function), display_name(reg.path),
                         reg.launcher_gone ? "gone" : "unregistered");
        }
        // Nobody else will remove it once the launcher (and its reaper) is
        // gone; a live launcher removes its own. EBUSY for a moment after
        // the last exit: tried again next turn.
        if (reg.launcher_gone && remove_cgroup_tree(reg.path)) ++cgroups_removed_;
    }
    return true;
}

void Registrations::adopt(const std::vector<std::pair<uint64_t, fnw_cgroup_entry>>& entries,
                          const std::function<std::string(uint32_t slot)>& function_of_slot) {
    for (const auto& [cgroup_id, entry] : entries) {
        if (entry.flags & FNW_CGROUP_INHERITED) continue;
        std::string function = function_of_slot(entry.policy_id);
        if (!function.empty()) adopted_[cgroup_id] = std::move(function);
    }
}

const std::string* Registrations::adopted_function(uint64_t cgroup_id) const {
    auto it = adopted_.find(cgroup_id);
    return it == adopted_.end() ? nullptr : &it->second;
}

void Registrations::add_status_counters(DaemonCounters& daemon_counters) const {
    daemon_counters.launcher_cgroups_emptied = cgroups_emptied_;
    daemon_counters.launcher_cgroups_removed = cgroups_removed_;
}

}  // namespace fnw
