// SPDX-License-Identifier: Apache-2.0
#include "runtime/cgroup_tree.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <system_error>
#include <vector>

#include "common/unique_fd.hpp"

namespace fnw {
namespace {

// As deep and as many as the daemon's scan goes: a tree beyond that is not
// one fnwarden made, and the walk must stay bounded.
constexpr int kMaxDepth = 32;
constexpr size_t kMaxCgroups = 10000;

// Every cgroup directory of the subtree, parents before children.
std::vector<std::filesystem::path> subtree(const std::filesystem::path& cgroup) {
    std::vector<std::filesystem::path> dirs{cgroup};
    std::error_code ec;
    auto it = std::filesystem::recursive_directory_iterator(cgroup, ec);
    for (; !ec && it != std::filesystem::recursive_directory_iterator() && dirs.size() < kMaxCgroups;
         it.increment(ec)) {
        if (it->is_symlink(ec) || !it->is_directory(ec)) continue;
        if (it.depth() >= kMaxDepth) {
            it.disable_recursion_pending();
            continue;
        }
        dirs.push_back(it->path());
    }
    return dirs;
}

std::optional<std::string> read_small(const std::filesystem::path& file) {
    UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return std::nullopt;
    char buf[512];
    ssize_t n;
    do {
        n = ::pread(fd.get(), buf, sizeof(buf), 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return std::nullopt;
    return std::string(buf, static_cast<size_t>(n));
}

}  // namespace

std::optional<bool> parse_populated(std::string_view text) {
    while (!text.empty()) {
        const size_t end = std::min(text.find('\n'), text.size());
        std::string_view line = text.substr(0, end);
        text.remove_prefix(std::min(end + 1, text.size()));
        constexpr std::string_view key = "populated ";
        if (line.substr(0, key.size()) != key) continue;
        line.remove_prefix(key.size());
        if (line == "0") return false;
        if (line == "1") return true;
        return std::nullopt;
    }
    return std::nullopt;
}

Populated cgroup_populated(const std::filesystem::path& cgroup) {
    auto text = read_small(cgroup / "cgroup.events");
    if (!text) return errno == ENOENT ? Populated::Gone : Populated::Yes;
    auto populated = parse_populated(*text);
    return populated && !*populated ? Populated::No : Populated::Yes;
}

bool wait_until_unpopulated(const std::filesystem::path& cgroup, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    UniqueFd events(::open((cgroup / "cgroup.events").c_str(), O_RDONLY | O_CLOEXEC));
    if (!events.valid()) return errno == ENOENT;
    for (;;) {
        char buf[512];
        const ssize_t n = ::pread(events.get(), buf, sizeof(buf), 0);
        if (n >= 0) {
            auto populated = parse_populated(std::string_view(buf, static_cast<size_t>(n)));
            if (populated && !*populated) return true;
        } else if (errno != EINTR) {
            return false;
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd p{events.get(), POLLPRI, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) < 0 && errno != EINTR) return false;
    }
}

KillMethod kill_cgroup_tree(const std::filesystem::path& cgroup, size_t* signalled) {
    if (signalled) *signalled = 0;
    {
        UniqueFd kill(::open((cgroup / "cgroup.kill").c_str(), O_WRONLY | O_CLOEXEC));
        if (kill.valid() && ::write(kill.get(), "1", 1) == 1) return KillMethod::CgroupKill;
    }
    std::error_code ec;
    if (!std::filesystem::is_directory(cgroup, ec)) return KillMethod::Gone;
    // Before 5.14: every pid of every cgroup below, one by one.
    for (const auto& dir : subtree(cgroup)) {
        auto text = read_small(dir / "cgroup.procs");
        if (!text) continue;
        std::string_view rest = *text;
        while (!rest.empty()) {
            const size_t end = std::min(rest.find('\n'), rest.size());
            pid_t pid = 0;
            auto [ptr, err] = std::from_chars(rest.data(), rest.data() + end, pid);
            if (err == std::errc() && ptr == rest.data() + end && pid > 0 && ::kill(pid, SIGKILL) == 0 && signalled)
                ++*signalled;
            rest.remove_prefix(std::min(end + 1, rest.size()));
        }
    }
    return KillMethod::SignalWalk;
}

Status remove_cgroup_tree(const std::filesystem::path& cgroup) {
    auto dirs = subtree(cgroup);
    std::string error;  // the last directory that stayed: the shallowest
    for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) {
        if (::rmdir(it->c_str()) == 0 || errno == ENOENT) continue;
        error = it->string() + ": " + std::strerror(errno);
    }
    if (!error.empty()) return fail(error);
    return {};
}

}  // namespace fnw
