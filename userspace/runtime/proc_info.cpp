// SPDX-License-Identifier: Apache-2.0
#include "runtime/proc_info.hpp"

#include "runtime/cgroup.hpp"

#include <cstdlib>
#include <fstream>
#include <string>

namespace fnw {

std::optional<ProcStatus> read_proc_status(pid_t tid) {
    std::ifstream status("/proc/" + std::to_string(tid) + "/status");
    if (!status) return std::nullopt;
    ProcStatus out;
    bool tgid = false, ppid = false;
    for (std::string line; std::getline(status, line) && !(tgid && ppid);) {
        if (line.rfind("Tgid:", 0) == 0) {
            out.tgid = static_cast<uint32_t>(std::strtoul(line.c_str() + 5, nullptr, 10));
            tgid = true;
        } else if (line.rfind("PPid:", 0) == 0) {
            out.ppid = static_cast<uint32_t>(std::strtoul(line.c_str() + 5, nullptr, 10));
            ppid = true;
        }
    }
    if (!tgid || !ppid) return std::nullopt;
    return out;
}

std::optional<uint64_t> read_proc_cgroup_id(pid_t tid, const std::filesystem::path& cgroup2_root) {
    std::ifstream cgroups("/proc/" + std::to_string(tid) + "/cgroup");
    if (!cgroups) return std::nullopt;
    for (std::string line; std::getline(cgroups, line);) {
        if (line.rfind("0::/", 0) != 0) continue;
        const std::string relative = line.substr(4);
        // " (deleted)" or any ".." would point elsewhere: not a path to follow.
        if (relative.find("..") != std::string::npos) return std::nullopt;
        return cgroup_id_of(relative.empty() ? cgroup2_root : cgroup2_root / relative);
    }
    return std::nullopt;
}

}  // namespace fnw
