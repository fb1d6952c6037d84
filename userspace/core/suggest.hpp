// SPDX-License-Identifier: Apache-2.0
// "Did you mean ...?": one edit distance and one key matcher for every
// message that names a misspelt syscall, policy key or config key.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace fnw {

// Levenshtein distance (insert, delete, substitute: 1 each).
size_t edit_distance(std::string_view a, std::string_view b);

// The known key `key` was most likely meant as, or "". Case, '_' and '-' are
// ignored first ("cgroup_path" is cgroupPath: people write keys the way
// their other configs spell them); else the nearest key within two edits.
std::string_view closest_key(std::string_view key, std::span<const std::string_view> known);

}  // namespace fnw
