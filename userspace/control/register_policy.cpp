// SPDX-License-Identifier: Apache-2.0
#include "control/register_policy.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <cerrno>
#include <cstring>

#include "common/unique_fd.hpp"
#include "core/display_name.hpp"

namespace fnw {

const char* to_string(RegisterRefusal refusal) {
    switch (refusal) {
    case RegisterRefusal::none: return "none";
    case RegisterRefusal::limit: return "limit";
    case RegisterRefusal::path: return "path";
    case RegisterRefusal::cgroup_id: return "cgroup_id";
    case RegisterRefusal::monitored: return "monitored";
    case RegisterRefusal::owner: return "owner";
    case RegisterRefusal::resume: return "resume";
    }
    return "unknown";
}

Result<std::string> register_path_leaf(std::string_view path, const std::filesystem::path& parent) {
    if (path.empty()) return fail("cgroup_path is required");
    const std::string prefix = parent.string() + "/";
    if (path.substr(0, prefix.size()) != prefix)
        return fail("cgroup " + display_name(std::string(path)) + " is not under " + parent.string());
    const std::string_view leaf = path.substr(prefix.size());
    // One component: the launcher creates <parent>/<function>-<pid>-<n>, and
    // a deeper path would be a cgroup some function created for itself.
    if (leaf.empty() || leaf == "." || leaf == ".." || leaf.find('/') != std::string_view::npos ||
        leaf.find('\0') != std::string_view::npos)
        return fail("cgroup " + display_name(std::string(path)) + " is not a direct child of " + parent.string());
    return std::string(leaf);
}

Result<CgroupFacts> inspect_cgroup(const std::filesystem::path& parent, const std::string& leaf) {
    UniqueFd dir(::open(parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dir.valid()) return fail("cannot open " + parent.string() + ": " + std::strerror(errno));
    // O_NOFOLLOW with O_PATH opens a symlink as itself: fstat then says it is
    // not a directory, instead of following it somewhere else.
    UniqueFd cgroup(::openat(dir.get(), leaf.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!cgroup.valid())
        return fail("cannot open " + (parent / leaf).string() + ": " + std::strerror(errno));
    struct stat st {};
    struct statfs fs {};
    if (::fstat(cgroup.get(), &st) != 0 || ::fstatfs(cgroup.get(), &fs) != 0)
        return fail("cannot stat " + (parent / leaf).string() + ": " + std::strerror(errno));
    CgroupFacts facts;
    facts.directory = S_ISDIR(st.st_mode);
    facts.cgroupfs = fs.f_type == CGROUP2_SUPER_MAGIC;
    facts.owner = st.st_uid;
    facts.id = static_cast<uint64_t>(st.st_ino);
    return facts;
}

RegisterDecision authorize_register(const RegisterRequestFacts& f) {
    auto refuse = [](RegisterRefusal why, std::string message) { return RegisterDecision{why, std::move(message)}; };
    // First: it costs nothing and says nothing about any cgroup.
    if (f.client_registrations >= kMaxRegistrationsPerClient)
        return refuse(RegisterRefusal::limit, "this connection holds " + std::to_string(f.client_registrations) +
                                                  " registrations already (limit " +
                                                  std::to_string(kMaxRegistrationsPerClient) + ")");
    if (auto leaf = register_path_leaf(f.path, f.parent); !leaf) return refuse(RegisterRefusal::path, leaf.error());
    const std::string shown = display_name(f.path);
    if (!f.cgroup)
        return refuse(RegisterRefusal::path, f.open_error.empty() ? "cannot open cgroup " + shown : f.open_error);
    if (!f.cgroup->directory) return refuse(RegisterRefusal::path, shown + " is not a directory (or is a symlink)");
    if (!f.cgroup->cgroupfs) return refuse(RegisterRefusal::path, shown + " is not on a cgroup2 file system");
    if (f.requested_id && *f.requested_id != f.cgroup->id)
        return refuse(RegisterRefusal::cgroup_id,
                      "cgroup " + shown + " does not have id " + std::to_string(*f.requested_id));
    // Before the owner: registering over a guarded cgroup is refused to root
    // too, whose launcher would otherwise re-arm (and on exit remove) an
    // entry it did not create. Whether a cgroup is guarded is no secret from
    // a member: `status` lists every monitored cgroup. The one exception is
    // a launcher resuming its own function's entry after a restart of the
    // daemon: that entry is the same function's, so the registration
    // changes no policy, and it is not rewritten (the function keeps its
    // armed guard).
    switch (f.monitoring) {
    case Monitoring::none:
        if (f.resume)
            return refuse(RegisterRefusal::resume,
                          "cgroup " + shown + " holds no guard an earlier daemon left for this function to resume");
        break;
    case Monitoring::adopted:
        if (!f.resume)
            return refuse(RegisterRefusal::monitored, "cgroup " + shown + " is already guarded (by an earlier daemon)");
        break;
    case Monitoring::registered:
        return refuse(RegisterRefusal::monitored, "cgroup " + shown + " is already registered");
    case Monitoring::identified:
        return refuse(RegisterRefusal::monitored, "cgroup " + shown + " is already guarded by the daemon's rules");
    case Monitoring::in_kernel:
        return refuse(RegisterRefusal::monitored,
                      "cgroup " + shown + " is already guarded (inherited from a monitored parent)");
    }
    if (!f.peer_privileged && f.cgroup->owner != f.peer_uid)
        return refuse(RegisterRefusal::owner, "cgroup " + shown + " belongs to uid " + std::to_string(f.cgroup->owner) +
                                                  ", not to the caller (uid " + std::to_string(f.peer_uid) + ")");
    return {};
}

}  // namespace fnw
