// SPDX-License-Identifier: Apache-2.0
// Who may register which cgroup with the daemon (`register` on the control
// socket). Members of the socket group are not fully trusted (threat-model.md,
// "A hostile control-socket client"): a registration re-arms a cgroup under a
// policy the caller names, and the caller's hang-up removes it, so a caller
// must only ever reach a cgroup that is its own and that nothing guards yet.
//
// authorize_register() is the whole decision, kernel-free: the daemon reads
// the facts (inspect_cgroup(), its own maps) and passes them in.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace fnw {

// Registrations one connection may hold at once. A launcher holds one; the
// bound keeps a member from filling the kernel's cgroup map (65,536 entries:
// past that, new cgroups of monitored functions cannot inherit their entry).
// With at most 64 connections that is 4,096 entries at most.
inline constexpr size_t kMaxRegistrationsPerClient = 64;

enum class RegisterRefusal {
    none,
    limit,      // the connection holds kMaxRegistrationsPerClient already
    path,       // missing, not a child of the launcher's parent, "..", symlink, not a cgroup
    cgroup_id,  // the directory's id is not the one sent
    monitored,  // already guarded: registered, found by a selector or pod, or inherited
    owner,      // the directory is not the caller's (and the caller is not root)
    resume,     // a resumed registration, but no adopted entry of that function to resume
};
// The label of fnwarden_control_refused_total{reason} (and status).
const char* to_string(RegisterRefusal refusal);

// What the daemon read from the opened directory (inspect_cgroup()).
struct CgroupFacts {
    bool directory = false;
    bool cgroupfs = false;  // on a cgroup2 mount
    uid_t owner = 0;
    uint64_t id = 0;  // the inode number: a cgroup's id on cgroup2
};

// Whether anything guards the cgroup already, and what.
enum class Monitoring {
    none,
    registered,  // by a launcher (any connection, this one included)
    identified,  // by the daemon's selectors (rules) or pod watcher
    in_kernel,   // an entry in the kernel map: inherited from a monitored parent
    // An entry an earlier daemon left in the pinned maps for the function
    // named in the request, which nothing of this daemon guards: a launcher
    // whose daemon restarted may resume it (RegisterRequest::resume).
    adopted,
};

struct RegisterRequestFacts {
    uid_t peer_uid = 0;
    bool peer_privileged = false;  // root, or the daemon's own user
    std::string path;              // cgroup_path as sent ("" when absent)
    std::filesystem::path parent;  // the launcher's parent: <cgroup2 mount>/<cgroupParent>
    std::optional<uint64_t> requested_id;
    // Read only when the path passed register_path_leaf(): absent when it
    // did not, or when it could not be opened (open_error says why).
    std::optional<CgroupFacts> cgroup;
    std::string open_error;
    Monitoring monitoring = Monitoring::none;
    size_t client_registrations = 0;  // held by this connection now
    bool resume = false;              // RegisterRequest::resume
};

struct RegisterDecision {
    RegisterRefusal refusal = RegisterRefusal::none;
    std::string message;  // for the client's error reply and the log
    bool allowed() const { return refusal == RegisterRefusal::none; }
};

// The leaf name if `path` is, as text, a direct child of `parent`: absolute,
// no "." or ".." anywhere, no empty components, no trailing slash. Checked on
// the text, before anything is opened, so a path cannot walk out of the
// parent whatever the file system holds. Otherwise a failure saying why.
Result<std::string> register_path_leaf(std::string_view path, const std::filesystem::path& parent);

// Opens parent/leaf without following a symlink at the leaf (the parent is
// the daemon's own configuration, never the caller's) and reads the facts
// from the open directory, so they all describe one object.
Result<CgroupFacts> inspect_cgroup(const std::filesystem::path& parent, const std::string& leaf);

RegisterDecision authorize_register(const RegisterRequestFacts& facts);

}  // namespace fnw
