// SPDX-License-Identifier: Apache-2.0
// The cgroups `fnwarden run` asked the daemon to guard. Each is kept, with
// its policy in the kernel, until the cgroup is gone: when the launcher lets
// go (unregister) or goes away (its connection closes: killed, crashed),
// what still runs there (a double-forked grandchild PDEATHSIG missed) stays
// checked, and a run's cgroup is emptied and removed by the daemon.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "control/protocol.hpp"

#include "control/control_socket.hpp"
#include "probes/kernel_maps.hpp"

namespace fnw {

struct Registration {
    std::string function;
    std::string path;
    ClientId client = 0;
    uid_t uid = 0;  // the client's, from SO_PEERCRED: whose trace may show it
    pid_t pid = 0;
    bool trace = false;
    bool landlock = false;
    // Released: unregistered, or its launcher is gone.
    bool released = false;
    bool launcher_gone = false;
    // Released and a run's cgroup (under <cgroup2>/fnwarden): the daemon
    // empties it; once the launcher is gone, removes it too.
    bool ours_to_empty = false;
    uint32_t kills_sent = 0;
    std::optional<std::chrono::steady_clock::time_point> released_at, last_kill;
    bool stuck_reported = false;
    bool emptied = false;  // counted in launcher_cgroups_emptied
};

class Registrations {
public:
    using Map = std::map<uint64_t, Registration>;  // cgroup id -> who asked

    Registrations(KernelMaps& maps, std::filesystem::path cgroup2_root)
        : maps_(maps), cgroup2_root_(std::move(cgroup2_root)) {}

    const Map& all() const { return by_cgroup_; }
    const Registration* find(uint64_t cgroup_id) const;
    bool contains(uint64_t cgroup_id) const { return by_cgroup_.count(cgroup_id) > 0; }
    void add(uint64_t cgroup_id, Registration registration) {
        adopted_.erase(cgroup_id);
        by_cgroup_[cgroup_id] = std::move(registration);
    }
    void erase(uint64_t cgroup_id) { by_cgroup_.erase(cgroup_id); }
    size_t count_of(ClientId client) const;

    // The launcher let go of `cgroup_id` (if it is `client`'s). True when
    // something was released.
    bool unregister(ClientId client, uint64_t cgroup_id);
    // The client's connection closed: every cgroup it registered is
    // released. True when it had any.
    bool release_client(ClientId client);
    // Released registrations: empty a run's cgroup, remove it once its
    // launcher is gone, forget it once the kernel entry is gone. Each loop
    // turn.
    void drain_released(std::chrono::steady_clock::time_point now);

    // A pinned set adopted at start: the cgroups the kernel held then, each
    // with the function whose slot it pointed at. A launcher whose daemon
    // restarted registers its cgroup again (RegisterRequest::resume); only
    // these entries, for the same function, can be resumed. Inherited
    // entries are left out: a launcher's entry is written by its
    // registration, never copied from a parent.
    void adopt(const std::vector<std::pair<uint64_t, fnw_cgroup_entry>>& entries,
               const std::function<std::string(uint32_t slot)>& function_of_slot);
    // The function an adopted, not yet resumed cgroup belonged to.
    const std::string* adopted_function(uint64_t cgroup_id) const;

    // status: counters.daemon's share.
    void add_status_counters(DaemonCounters& daemon_counters) const;

private:
    void release(uint64_t cgroup_id, Registration& reg, bool launcher_gone);
    // One released registration's turn; false when it is gone (erase it).
    bool drain_one(uint64_t cgroup_id, Registration& reg, std::chrono::steady_clock::time_point now);

    KernelMaps& maps_;
    std::filesystem::path cgroup2_root_;
    Map by_cgroup_;
    std::map<uint64_t, std::string> adopted_;  // cgroup id -> function; resumed ones leave
    uint64_t cgroups_emptied_ = 0, cgroups_removed_ = 0;
};

}  // namespace fnw
