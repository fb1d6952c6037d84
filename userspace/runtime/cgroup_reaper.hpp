#pragma once
// SPDX-License-Identifier: Apache-2.0
#include <sys/types.h>

#include <filesystem>
#include <string>

#include "common/result.hpp"

namespace fnw {

// A small process, forked by the launcher and left outside the function's
// cgroup, that empties and removes that cgroup when the launcher dies for
// any reason, SIGKILL included. PR_SET_PDEATHSIG only reaches the
// launcher's direct child; a double-forked grandchild would otherwise run on
// unwatched once a standalone launcher (and its probes) is gone.
//
// The reaper ignores every signal but SIGKILL and the launcher's death
// signal, so a Ctrl-C to the terminal's process group does not take it
// down with the launcher. When the launcher exits normally it has already
// emptied and removed the cgroup; the reaper then finds nothing to do.
class CgroupReaper {
public:
    CgroupReaper() = default;
    ~CgroupReaper();
    CgroupReaper(CgroupReaper&& other) noexcept : pid_(other.pid_) { other.pid_ = -1; }
    CgroupReaper& operator=(CgroupReaper&&) = delete;
    CgroupReaper(const CgroupReaper&) = delete;
    CgroupReaper& operator=(const CgroupReaper&) = delete;

    // Forks the reaper for `cgroup`. Call it from the thread that lives as
    // long as the launcher (the death signal follows the forking thread).
    static Result<CgroupReaper> start(const std::filesystem::path& cgroup);

    pid_t pid() const { return pid_; }

private:
    explicit CgroupReaper(pid_t pid) : pid_(pid) {}
    pid_t pid_ = -1;
};

}  // namespace fnw
