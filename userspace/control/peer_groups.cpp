// SPDX-License-Identifier: Apache-2.0
#include "control/peer_groups.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <string>

namespace fnw {

// Supplementary groups as they were when the peer called connect(), from
// the kernel (Linux 4.13+; every kernel with BPF ring buffers has it). Taken
// at connect time it cannot be raced by the peer exiting or changing groups.
std::optional<std::vector<gid_t>> peer_groups_from_socket(int connection) {
    std::vector<gid_t> groups(64);
    for (int attempt = 0; attempt < 4; ++attempt) {
        socklen_t length = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
        if (::getsockopt(connection, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &length) == 0) {
            groups.resize(length / sizeof(gid_t));
            return groups;
        }
        if (errno != ERANGE) return std::nullopt;
        groups.resize(length / sizeof(gid_t) + 1);  // the kernel reported the size it needs
    }
    return std::nullopt;
}

// Fallback for kernels without SO_PEERGROUPS. SO_PEERCRED has no
// supplementary groups, and getgrouplist() on the uid would describe the
// user's configured groups, not the process: a member who dropped the group
// (or a process never given it) would pass. /proc/PID/status has the peer's
// actual groups, but now rather than at connect time, and the pid may have
// been recycled: the effective uid there must still be the peer's, which
// rules out a recycled pid of another user.
std::optional<std::vector<gid_t>> peer_groups_from_proc(pid_t pid, uid_t uid) {
    if (pid <= 0) return std::nullopt;  // peer in another pid namespace
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::optional<std::vector<gid_t>> groups;
    bool uid_matches = false;
    for (std::string line; std::getline(status, line);) {
        std::istringstream fields(line);
        std::string key;
        fields >> key;
        if (key == "Uid:") {
            unsigned long real = 0, effective = 0;
            uid_matches = static_cast<bool>(fields >> real >> effective) && effective == uid;
        } else if (key == "Groups:") {
            groups.emplace();
            for (unsigned long gid = 0; fields >> gid;) groups->push_back(static_cast<gid_t>(gid));
        }
    }
    if (!uid_matches) return std::nullopt;
    return groups;
}

}  // namespace fnw
