// SPDX-License-Identifier: Apache-2.0
// cgroup v2: finding the mount, and a cgroup directory owned by fnwarden.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <istream>
#include <optional>
#include <string>

#include "common/result.hpp"

namespace fnw {

// The first cgroup2 mount in a /proc/PID/mountinfo stream. Hybrid hosts have
// it at /sys/fs/cgroup/unified, pure v2 hosts at /sys/fs/cgroup: never assume.
std::optional<std::filesystem::path> find_cgroup2_mount(std::istream& mountinfo);
std::optional<std::filesystem::path> find_cgroup2_mount();

// cgroup v2 id of a cgroup directory: the kernel's cgroup id is the inode
// number of its kernfs directory (what bpf_get_current_cgroup_id() returns).
std::optional<uint64_t> cgroup_id_of(const std::filesystem::path& dir);

// A cgroup directory created by fnwarden and removed when this goes away:
// remaining processes are killed first (cgroup.kill), so nothing escapes the
// end of a run still inside an unguarded cgroup.
class CgroupDir {
public:
    static Result<CgroupDir> create(const std::filesystem::path& path);

    CgroupDir(CgroupDir&& other) noexcept;
    CgroupDir& operator=(CgroupDir&&) = delete;
    CgroupDir(const CgroupDir&) = delete;
    ~CgroupDir();

    const std::filesystem::path& path() const { return path_; }
    uint64_t id() const { return id_; }

    Status add_process(pid_t pid) const;
    // Kills every process in the cgroup and in the cgroups below it, and
    // waits (bounded) until the kernel says the subtree is empty.
    void kill_all() const;
    // No process left in the cgroup or below it.
    bool empty() const;

private:
    CgroupDir(std::filesystem::path path, uint64_t id) : path_(std::move(path)), id_(id) {}
    std::filesystem::path path_;
    uint64_t id_ = 0;
};

}  // namespace fnw
