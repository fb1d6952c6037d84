// SPDX-License-Identifier: Apache-2.0
// Waiting for another process without sleeping: the tests block on the event
// they wait for (a file appearing, a process dying, a cgroup emptying), each
// with a generous bound so a broken run fails instead of hanging.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <string>

#include "common/unique_fd.hpp"

namespace fnw::test {

namespace detail {

// Milliseconds left until `deadline`, for poll(); 0 once it has passed.
inline int ms_until(std::chrono::steady_clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

}  // namespace detail

// Waits until `path` exists: created there, or renamed into place (how the
// workload publishes a file whole). The watch is set before the first look,
// so an appearance between the two is not missed. `cancel_fd`, when >= 0, ends
// the wait early once it is readable (an eventfd the owner writes to).
// Returns true when the file exists.
inline bool wait_for_file(const std::filesystem::path& path, std::chrono::milliseconds timeout, int cancel_fd = -1) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    UniqueFd watch(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    if (!watch.valid()) return false;
    const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
    if (::inotify_add_watch(watch.get(), dir.c_str(), IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) < 0) return false;
    for (;;) {
        if (::access(path.c_str(), F_OK) == 0) return true;
        const int left = detail::ms_until(deadline);
        if (left == 0) return false;
        pollfd fds[2] = {{watch.get(), POLLIN, 0}, {cancel_fd, POLLIN, 0}};
        const int n = ::poll(fds, cancel_fd >= 0 ? 2 : 1, left);
        if (n < 0 && errno != EINTR) return false;
        if (cancel_fd >= 0 && (fds[1].revents & POLLIN)) return ::access(path.c_str(), F_OK) == 0;
        alignas(inotify_event) char buf[4096];
        while (::read(watch.get(), buf, sizeof(buf)) > 0) {
        }
    }
}

// A pidfd for `pid` (kernel 5.3+): readable once the process has exited,
// whoever its parent is.
inline UniqueFd open_pidfd(pid_t pid) { return UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))); }

// Waits until the process behind `pidfd` has exited. True when it has.
inline bool wait_for_exit(int pidfd, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        pollfd p{pidfd, POLLIN, 0};
        const int n = ::poll(&p, 1, detail::ms_until(deadline));
        if (n > 0) return true;
        if (n == 0 || errno != EINTR) return false;
    }
}

}  // namespace fnw::test
