// SPDX-License-Identifier: Apache-2.0
// A stand-in for ProbeSet::object_identity without BPF: stat()'s device and
// inode, with a generation the filesystem "gave".
#pragma once

#include <sys/stat.h>

#include <optional>

#include <fnwarden/kernel_abi.h>

namespace fnw::test {

inline std::optional<fnw_object_identity> stat_identity(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return std::nullopt;
    fnw_object_identity id{};
    id.dev = st.st_dev;
    id.ino = st.st_ino;
    id.generation = 7;
    return id;
}

}  // namespace fnw::test
