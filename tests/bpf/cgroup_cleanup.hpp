// SPDX-License-Identifier: Apache-2.0
// Tearing down a test's cgroup tree: kill whatever is still in it, wait until
// the kernel says it is empty, remove every directory bottom-up.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "common/unique_fd.hpp"
#include "handshake.hpp"

namespace fnw::test {

// True once no process is left in `cgroup` or below it ("populated 0" in
// cgroup.events). The file is pollable: the kernel raises POLLPRI on every
// change, so this blocks on the change itself rather than sampling.
inline bool wait_until_unpopulated(const std::filesystem::path& cgroup, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    UniqueFd events(::open((cgroup / "cgroup.events").c_str(), O_RDONLY | O_CLOEXEC));
    if (!events.valid()) return errno == ENOENT;  // no cgroup: nothing in it
    for (;;) {
        char buf[256];
        const ssize_t n = ::pread(events.get(), buf, sizeof(buf) - 1, 0);
        if (n < 0) return false;
        buf[n] = '\0';
        if (std::strstr(buf, "populated 0")) return true;
        const int left = detail::ms_until(deadline);
        if (left == 0) return false;
        pollfd p{events.get(), POLLPRI, 0};
        if (::poll(&p, 1, left) < 0 && errno != EINTR) return false;
    }
}

// Kills every process in `cgroup` and below: cgroup.kill (5.14+) takes the
// whole subtree at once, forks in flight included; SIGKILL per pid otherwise.
inline void kill_cgroup_tree(const std::filesystem::path& cgroup) {
    if (std::ofstream kill(cgroup / "cgroup.kill"); kill && (kill << "1").flush()) return;
    std::error_code ec;
    std::vector<std::filesystem::path> dirs{cgroup};
    for (auto it = std::filesystem::recursive_directory_iterator(cgroup, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
        if (it->is_directory(ec)) dirs.push_back(it->path());
    for (const auto& dir : dirs) {
        std::ifstream procs(dir / "cgroup.procs");
        for (pid_t pid; procs >> pid;) ::kill(pid, SIGKILL);
    }
}

// Kills what is left in `cgroup`, then removes it and every cgroup beneath it.
// Returns an empty string, or what could not be done.
inline std::string remove_cgroup_tree(const std::filesystem::path& cgroup) {
    std::error_code ec;
    if (!std::filesystem::is_directory(cgroup, ec)) return {};
    kill_cgroup_tree(cgroup);
    if (!wait_until_unpopulated(cgroup, std::chrono::seconds(10)))
        return cgroup.string() + ": processes still inside 10 s after cgroup.kill";
    std::vector<std::filesystem::path> dirs;
    for (auto it = std::filesystem::recursive_directory_iterator(cgroup, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
        if (it->is_directory(ec)) dirs.push_back(it->path());
    // Deepest first: a cgroup with children cannot be removed.
    std::sort(dirs.begin(), dirs.end(), [](const auto& a, const auto& b) {
        return std::distance(a.begin(), a.end()) > std::distance(b.begin(), b.end());
    });
    dirs.push_back(cgroup);
    for (const auto& dir : dirs)
        if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) return dir.string() + ": rmdir: " + std::strerror(errno);
    return {};
}

}  // namespace fnw::test
