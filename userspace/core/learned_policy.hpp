// SPDX-License-Identifier: Apache-2.0
// What `fnwarden learn` saw a function do, and the policy that allows
// exactly that. Pure: no kernel, no files (the caller reads events and ELF
// headers and fills LearnedAccesses).
//
// Paths are turned into patterns one way, documented in docs/policy.md
// ("What `fnwarden learn` writes"):
//   - exact paths, except in a directory the function owns:
//       * one it created or deleted an entry in: every path beneath it, in
//         every right, becomes `dir/**` (Landlock grants creating and
//         deleting on the directory, and a name made at run time is another
//         name next run);
//       * one it wrote an existing entry in, or one beneath a temp root
//         (/tmp, /var/tmp, /dev/shm): `dir/**` once it used at least
//         kManyEntries distinct entries of it (files or subdirectories
//         directly in it; those already under a created-in one not counted);
//     never a system directory it only read (/usr, /etc, /lib, ...);
//   - /proc/<pid>/... becomes /proc/*/... (the pid differs every run).
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/policy.hpp"

namespace fnw {

// Distinct entries of an owned (written, or temp) directory from which
// learn writes `dir/**` instead of the exact names.
inline constexpr size_t kManyEntries = 8;

struct LearnedPeer {
    std::array<uint8_t, 16> address{};  // v4-mapped for IPv4, as in events
    uint16_t port = 0;
    uint8_t protocol = 0;  // IPPROTO_TCP/UDP
    auto operator<=>(const LearnedPeer&) const = default;
};

struct LearnedAccesses {
    // Canonical paths (what the kernel touched), per right.
    std::set<std::string> read, write, create, remove, exec;
    std::set<LearnedPeer> egress;
    std::set<std::pair<uint16_t, uint8_t>> listen;  // port, protocol
    std::set<std::string> unix_sockets;             // "@name" for abstract ones
    ProcessRules process;                           // what it used (restricted ignored)
    SyscallBitmap syscalls;

    // FNW_FILE_* rights of one access to `path` (exec adds read too: the
    // kernel opens a program for reading to load it). Not absolute: ignored.
    void add_file(std::string_view path, uint32_t access);
};

// The sections that allow exactly `seen` (patterns as above), each with
// onViolation: deny; name, selector and mode come from `identity`.
FunctionPolicy policy_from_learned(const LearnedAccesses& seen, const FunctionPolicy& identity);

// `base` grown by `learned`, section by section: lists are united, syscalls
// and process permissions OR-ed. A section `base` leaves unrestricted stays
// unrestricted; everything else of `base` (name, mode, actions, pins) stays.
FunctionPolicy merge_policies(const FunctionPolicy& base, const FunctionPolicy& learned);

// One line per section of `policy` saying what it allows ("files.read: 12
// entries, 2 as dir/**: /tmp/work/**, ..."), for learn's stderr summary.
std::vector<std::string> learned_summary(const FunctionPolicy& policy);

// The pattern learn writes for one canonical path before generalising:
// /proc/<digits>/... -> /proc/*/... . Exposed for tests.
std::string stable_path(std::string_view path);

}  // namespace fnw
