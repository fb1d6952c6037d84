// SPDX-License-Identifier: Apache-2.0
#include "daemon/rules_watcher.hpp"

#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "daemon/policy_set.hpp"

namespace fnw {
namespace {

// IN_CLOSE_WRITE, not IN_MODIFY: one event per saved file instead of one per
// write(). IN_CREATE covers new symlinks (no write follows them), IN_ATTRIB
// permission changes that decide whether the loader can read a file.
// IN_ONLYDIR: if a directory was swapped for a file under us, fail rather
// than watch the file.
constexpr uint32_t kWatchMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB |
                                IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

// Kubernetes' AtomicWriter points this link at a new timestamped directory
// with one rename(); the user-visible files are links through it.
constexpr std::string_view kConfigMapDataLink = "..data";

std::string watch_failure(const std::filesystem::path& dir, int err) {
    std::string why;
    switch (err) {
    case ENOENT: why = "no such directory"; break;
    case ENOTDIR: why = "not a directory"; break;
    case ENOSPC: why = "inotify watch limit reached (raise sysctl fs.inotify.max_user_watches)"; break;
    default: why = std::strerror(err); break;
    }
    return dir.string() + ": cannot watch: " + why;
}

}  // namespace

Result<RulesWatcher> RulesWatcher::watch(const std::filesystem::path& dir) {
    UniqueFd inotify(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!inotify.valid()) {
        const int err = errno;
        return fail(std::string("inotify_init1: ") + std::strerror(err) +
                    (err == EMFILE ? " (raise sysctl fs.inotify.max_user_instances)" : ""));
    }
    RulesWatcher watcher(dir, std::move(inotify));
    if (std::string problem = watcher.rescan(); !problem.empty()) return fail(std::move(problem));
    return watcher;
}

Result<RulesWatcher> RulesWatcher::watch_file(const std::filesystem::path& file) {
    UniqueFd inotify(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!inotify.valid()) return fail(std::string("inotify_init1: ") + std::strerror(errno));
    std::filesystem::path dir = file.parent_path();
    RulesWatcher watcher(dir.empty() ? "." : dir, std::move(inotify));
    watcher.file_name_ = file.filename().string();
    if (std::string problem = watcher.rescan(); !problem.empty()) return fail(std::move(problem));
    return watcher;
}

std::string RulesWatcher::rescan() {
    std::unordered_map<int, std::filesystem::path> seen;
    std::string problem = watch_tree(root_, seen);
    root_wd_ = -1;
    for (const auto& [wd, path] : seen)
        if (path == root_) root_wd_ = wd;
    // Directories moved out of the tree are still watched at their new place;
    // their events are not about the rules any more.
    for (const auto& [wd, path] : watched_)
        if (!seen.contains(wd)) ::inotify_rm_watch(inotify_.get(), wd);
    watched_ = std::move(seen);
    return problem;
}

std::string RulesWatcher::watch_tree(const std::filesystem::path& dir,
                                     std::unordered_map<int, std::filesystem::path>& seen) {
    // Follows symlinks (no IN_DONT_FOLLOW): the kernel watches the target
    // directory, which is what a ConfigMap's nested keys are.
    const int wd = ::inotify_add_watch(inotify_.get(), dir.c_str(), kWatchMask);
    if (wd < 0) {
        // Below the root, a directory gone before we got to it was reported
        // by its parent's watch already.
        if (errno == ENOENT && dir != root_) return "";
        return watch_failure(dir, errno);
    }
    // The same directory again (a symlink loop): its wd is already ours.
    if (!seen.emplace(wd, dir).second) return "";
    if (!file_name_.empty()) return "";  // one file: nothing below its directory

    std::string problem;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (is_ignored_rules_entry(name)) continue;
        struct stat target {};
        if (::stat(it->path().c_str(), &target) != 0 || !S_ISDIR(target.st_mode)) continue;
        std::string below = watch_tree(it->path(), seen);
        if (problem.empty()) problem = std::move(below);
    }
    if (ec && ec != std::errc::no_such_file_or_directory && problem.empty())
        problem = dir.string() + ": cannot list directory: " + ec.message();
    return problem;
}

void RulesWatcher::handle(const inotify_event& event, bool& reload, bool& rescan_needed) {
    if (event.mask & IN_Q_OVERFLOW) {
        // Events were dropped: anything may have changed, new directories
        // included. A full reload is always correct.
        reload = rescan_needed = true;
        return;
    }
    if (event.mask & IN_IGNORED) {
        // The kernel dropped a watch (directory deleted, or we removed it).
        watched_.erase(event.wd);
        if (event.wd == root_wd_) {
            root_wd_ = -1;
            reload = true;
        }
        return;
    }
    if (event.mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
        // Usually the parent reports it too, but not for a directory reached
        // through a symlink from elsewhere, nor for the root.
        reload = rescan_needed = true;
        return;
    }
    if (event.len == 0) {
        // The watched directory's own attributes: its permissions decide
        // whether the loader can list it.
        if (event.mask & IN_ATTRIB) reload = true;
        return;
    }

    const std::string_view name(event.name);  // NUL-padded to event.len
    if (!file_name_.empty()) {
        if (name == file_name_ || name == kConfigMapDataLink) reload = true;
        return;
    }
    if (name == kConfigMapDataLink) {
        // A ConfigMap update: every file, and every linked directory, now
        // resolves into the new timestamped directory.
        reload = rescan_needed = true;
        return;
    }
    if (is_ignored_rules_entry(name)) return;
    if (event.mask & IN_ISDIR) {
        reload = true;
        if (event.mask & (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE)) rescan_needed = true;
        return;
    }
    if (is_policy_file_name(name)) {
        reload = true;
        return;
    }

    // Any other name matters only as a symlink to a directory of policies
    // (ConfigMap keys with a '/' become "sub -> ..data/sub").
    const auto dir = watched_.find(event.wd);
    if (dir == watched_.end()) return;
    const std::filesystem::path path = dir->second / name;
    if (event.mask & (IN_CREATE | IN_MOVED_TO)) {
        struct stat target {};
        if (::stat(path.c_str(), &target) == 0 && S_ISDIR(target.st_mode)) reload = rescan_needed = true;
    } else if (event.mask & (IN_DELETE | IN_MOVED_FROM)) {
        const bool was_watched = std::any_of(watched_.begin(), watched_.end(),
                                             [&](const auto& entry) { return entry.second == path; });
        if (was_watched) reload = rescan_needed = true;
    }
}

bool RulesWatcher::consume() {
    bool reload = false;
    bool rescan_needed = false;
    // Room for hundreds of events per read(); the kernel never splits one.
    alignas(inotify_event) std::array<char, 64 * 1024> buffer;
    for (;;) {
        const ssize_t n = ::read(inotify_.get(), buffer.data(), buffer.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN) {
                spdlog::warn("reading inotify events for {}: {}; reloading", root_.string(), std::strerror(errno));
                reload = true;
            }
            break;
        }
        if (n == 0) break;
        for (size_t offset = 0; offset < static_cast<size_t>(n);) {
            const auto* event = reinterpret_cast<const inotify_event*>(buffer.data() + offset);
            handle(*event, reload, rescan_needed);
            offset += sizeof(inotify_event) + event->len;
        }
    }
    if (rescan_needed) {
        // A directory that cannot be watched leaves its later edits unseen;
        // say so loudly, but the reload this triggers still reads it.
        if (std::string problem = rescan(); !problem.empty()) spdlog::warn("{}", problem);
    }
    return reload;
}

}  // namespace fnw
