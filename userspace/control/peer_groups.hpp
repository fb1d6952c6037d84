// SPDX-License-Identifier: Apache-2.0
// A connected peer's supplementary groups, for the control socket's group
// checks: from the kernel when it can say, from /proc otherwise.
#pragma once

#include <sys/types.h>

#include <optional>
#include <vector>

namespace fnw {

std::optional<std::vector<gid_t>> peer_groups_from_socket(int connection);
std::optional<std::vector<gid_t>> peer_groups_from_proc(pid_t pid, uid_t uid);

}  // namespace fnw
