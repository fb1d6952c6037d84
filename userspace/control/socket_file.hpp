// SPDX-License-Identifier: Apache-2.0
// The control socket's file system side: the directory, a stale socket left
// by a daemon that died, and a fresh socket file owned root:<group> 0660
// (or root:root 0600) from its first instant, without ever following a
// path an unprivileged user could swap.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "common/group_id.hpp"
#include "common/result.hpp"
#include "common/unique_fd.hpp"

namespace fnw {

struct SocketFile {
    UniqueFd listener;  // bound, not yet listening
    // The group that may connect: none when it does not exist or could not
    // be given the socket.
    std::optional<gid_t> group_gid;
    dev_t dev = 0;  // the socket file bind() made, to remove only that one
    ino_t ino = 0;
};

// Binds a unix stream socket at `path`. Refuses anything at the path that
// is not a socket nobody answers on. Changes the process umask for the
// duration of bind(). `after_bind_for_test` runs where a race with whoever
// can write the directory would be.
Result<SocketFile> create_socket_file(const std::filesystem::path& path, const std::string& group,
                                      const std::function<void()>& after_bind_for_test);

// Removes `path` only if it is still the socket (dev, ino).
void unlink_if_same(const std::filesystem::path& path, dev_t dev, ino_t ino);

// The gid of a group, or none (no such group, or the lookup failed). A
// name of decimal digits is taken as the gid itself, without a lookup.
std::optional<gid_t> lookup_group(const std::string& name);

}  // namespace fnw
