// SPDX-License-Identifier: Apache-2.0
// A function's own root (a container's pivot_root, a chroot), for compiling
// its file rules there: paths are opened through /proc/PID/root with
// openat2(RESOLVE_IN_ROOT), so "/app/handler.py" is the file the function
// itself reaches by that name, in its own mount namespace, and symlinks
// (absolute ones too) resolve inside that root as they do for it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/result.hpp"
#include "common/unique_fd.hpp"
#include "core/path_opener.hpp"

namespace fnw {

// What the kernel compares a task with (path.bpf.h, rules_root_rights):
// its mount namespace and the inode of its root directory.
struct RootIdentity {
    uint32_t mnt_ns = 0;
    uint64_t dev = 0;  // kernel encoding (inode->i_sb->s_dev)
    uint64_t ino = 0;
    auto operator<=>(const RootIdentity&) const = default;
};

class RootOpener final : public PathOpener {
public:
    // The root and mount namespace of process `pid`, both read through one
    // /proc/PID directory: a pid reused in between cannot mix two processes.
    static Result<RootOpener> of_process(pid_t pid);

    UniqueFd open(const std::string& path) const override;
    std::optional<std::filesystem::path> canonical(const std::string& path) const override;
    std::string foreign_root() const override { return "in the root of pid " + std::to_string(pid_); }
    bool overlay_identity_is_stable(const std::filesystem::path& canonical_path, uint64_t dev,
                                    uint64_t ino) const override;

    // The process it was opened through still runs (a /proc directory
    // outlives its process but not its namespaces' links).
    bool alive() const;
    int root_fd() const { return root_.get(); }
    // The root as stat() sees it (st_dev, st_ino): a cheap first comparison.
    std::pair<dev_t, ino_t> stat_root() const { return stat_root_; }
    bool same_root(const RootOpener& other) const {
        return mnt_ns_ == other.mnt_ns_ && stat_root_ == other.stat_root_;
    }
    // The process's cgroup v2 path ("0::" in /proc/PID/cgroup) when it was
    // opened: where other processes of the same root are found.
    const std::string& cgroup() const { return cgroup_; }
    uint32_t mnt_ns() const { return mnt_ns_; }
    pid_t pid() const { return pid_; }

private:
    RootOpener(pid_t pid, UniqueFd proc_dir, UniqueFd root, uint32_t mnt_ns, std::pair<dev_t, ino_t> stat_root,
               std::string cgroup)
        : pid_(pid),
          proc_dir_(std::move(proc_dir)),
          root_(std::move(root)),
          mnt_ns_(mnt_ns),
          stat_root_(stat_root),
          cgroup_(std::move(cgroup)) {}

    pid_t pid_;
    UniqueFd proc_dir_;
    UniqueFd root_;
    uint32_t mnt_ns_;
    std::pair<dev_t, ino_t> stat_root_;
    std::string cgroup_;
};

// The mount of `canonical_path` in a mountinfo text (as /proc/PID/mountinfo
// lists it for the process whose root the path is in), when it is an
// overlay: which layers it has. Pure: unit-tested on fixtures.
struct OverlayMount {
    uint64_t dev = 0;                    // kernel encoding of major:minor
    std::filesystem::path fs_path;       // canonical_path inside the overlay's own tree
    std::vector<std::filesystem::path> lower_dirs;
    std::optional<std::filesystem::path> upper_dir;
};
std::optional<OverlayMount> overlay_mount_of(const std::string& mountinfo, const std::filesystem::path& canonical_path);

}  // namespace fnw
