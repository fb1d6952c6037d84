#include "runtime/proc_info.hpp"

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

}  // namespace fnw
