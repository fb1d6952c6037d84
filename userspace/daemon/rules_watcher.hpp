// SPDX-License-Identifier: Apache-2.0
// Tells the daemon's epoll loop when a rules directory changed, via inotify.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <unordered_map>
#include <utility>

#include "common/result.hpp"
#include "common/unique_fd.hpp"

struct inotify_event;

namespace fnw {

// How long the caller waits after the last change before reloading. A save
// is several events (vim: rename to x~, create, write, close, chmod; other
// editors write a temp file and rename it), and a ConfigMap update creates a
// directory, renames "..data", then adds and removes links one by one.
// Reloading on the first event would load a half-updated directory (and
// log errors for it) only to reload again milliseconds later.
inline constexpr std::chrono::milliseconds kReloadDebounce{200};

// Watches a rules directory and every subdirectory below it, the way
// load_policy_set() reads it: hidden entries are skipped, except that a swap
// of ConfigMap's "..data" link counts as a change; symlinked directories
// are watched at their targets.
//
// Usage: add fd() to epoll for EPOLLIN; when it is readable call consume();
// when that returns true, (re)arm a kReloadDebounce timer and reload when
// it fires. A false positive costs one reload that finds the same version;
// a missed change would leave a stale policy in force, so when unsure
// (queue overflow, a watched directory vanished) consume() says true.
class RulesWatcher {
public:
    static Result<RulesWatcher> watch(const std::filesystem::path& dir);
    // A single file (a signed bundle): its directory, not below it; a
    // change of that name, or a ConfigMap "..data" swap, means reload.
    static Result<RulesWatcher> watch_file(const std::filesystem::path& file);

    RulesWatcher(RulesWatcher&&) noexcept = default;
    RulesWatcher& operator=(RulesWatcher&&) noexcept = default;
    RulesWatcher(const RulesWatcher&) = delete;
    RulesWatcher& operator=(const RulesWatcher&) = delete;
    ~RulesWatcher() = default;

    // The inotify descriptor: non-blocking, close-on-exec.
    int fd() const { return inotify_.get(); }

    // Reads every pending event; true when one may change what
    // load_policy_set() returns. Also starts watching new subdirectories.
    // Never blocks.
    bool consume();

    // False once the rules directory itself was deleted or moved away:
    // inotify cannot follow a path, only an inode, so no further change will
    // be seen. The caller then makes a new watcher (watch() fails until the
    // directory exists again).
    bool root_watched() const { return root_wd_ >= 0; }

    const std::filesystem::path& dir() const { return root_; }

private:
    RulesWatcher(std::filesystem::path root, UniqueFd inotify) : root_(std::move(root)), inotify_(std::move(inotify)) {}

    // Watches `root_` and the directories below it that the loader reads, and
    // drops watches on directories no longer there. "" or why a directory
    // could not be watched.
    std::string rescan();
    // Records what one event means in `reload` / `rescan_needed`.
    void handle(const inotify_event& event, bool& reload, bool& rescan_needed);
    std::string watch_tree(const std::filesystem::path& dir, std::unordered_map<int, std::filesystem::path>& seen);

    std::filesystem::path root_;
    UniqueFd inotify_;
    int root_wd_ = -1;
    std::string file_name_;  // watch_file(): the one name that matters
    std::unordered_map<int, std::filesystem::path> watched_;  // watch descriptor -> directory
};

}  // namespace fnw
