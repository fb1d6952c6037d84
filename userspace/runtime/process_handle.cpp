// SPDX-License-Identifier: Apache-2.0
#include "runtime/process_handle.hpp"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "runtime/cgroup.hpp"
#include "runtime/proc_info.hpp"

namespace fnw {
namespace {

std::atomic<uint64_t> g_kills{0}, g_gone{0}, g_not_theirs{0};

const std::filesystem::path& host_cgroup2_root() {
    static const std::filesystem::path root = find_cgroup2_mount().value_or(std::filesystem::path());
    return root;
}

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

int pidfd_send_signal(int fd, int sig) { return static_cast<int>(::syscall(SYS_pidfd_send_signal, fd, sig, nullptr, 0)); }

}  // namespace

std::optional<uint64_t> read_proc_start_boot_ns(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!in || !std::getline(in, line)) return std::nullopt;
    // comm may hold spaces and parentheses: the fields start after the last ')'.
    const auto close = line.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::istringstream fields(line.substr(close + 1));
    std::string field;
    // After comm: state is field 3, starttime field 22.
    for (int i = 3; i <= 22; ++i)
        if (!(fields >> field)) return std::nullopt;
    char* end = nullptr;
    const unsigned long long ticks = std::strtoull(field.c_str(), &end, 10);
    if (end == field.c_str()) return std::nullopt;
    const long hz = ::sysconf(_SC_CLK_TCK);
    if (hz <= 0) return std::nullopt;
    return static_cast<uint64_t>(ticks) * (1'000'000'000ull / static_cast<uint64_t>(hz));
}

ProcessHandle ProcessHandle::open(pid_t pid) {
    return ProcessHandle(UniqueFd(pid > 0 ? pidfd_open(pid) : -1));
}

ProcessHandle ProcessHandle::for_event(const fnw_event_header& hdr, const std::filesystem::path& cgroup2_root) {
    const pid_t pid = static_cast<pid_t>(hdr.pid);
    ProcessHandle handle = open(pid);
    if (!handle.valid()) return ProcessHandle();
    const auto& root = cgroup2_root.empty() ? host_cgroup2_root() : cgroup2_root;
    bool theirs = !root.empty();
    if (theirs) {
        const auto cgroup = read_proc_cgroup_id(pid, root);
        theirs = cgroup && *cgroup == hdr.cgroup_id;
    }
    if (theirs && hdr.boot_ns != 0) {
        const auto started = read_proc_start_boot_ns(pid);
        theirs = started && *started <= hdr.boot_ns;
    }
    // Still alive after the reads: they were of this pidfd's process.
    if (pidfd_send_signal(handle.fd(), 0) != 0) return ProcessHandle();
    if (!theirs) {
        ProcessHandle refused;
        refused.not_theirs_ = true;
        return refused;
    }
    return handle;
}

bool ProcessHandle::kill() {
    if (!valid() || pidfd_send_signal(fd_.get(), SIGKILL) != 0) {
        if (not_theirs_) ++g_not_theirs;
        ++g_gone;
        return false;
    }
    ++g_kills;
    return true;
}

bool ProcessHandle::resume() { return valid() && pidfd_send_signal(fd_.get(), SIGCONT) == 0; }

ProcessHandle::Stats ProcessHandle::stats() {
    return Stats{g_kills.load(), g_gone.load(), g_not_theirs.load()};
}

}  // namespace fnw
