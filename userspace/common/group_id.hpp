// SPDX-License-Identifier: Apache-2.0
// A group given by its id: the daemon's config and its socket both read
// `socketGroup: 9464` this way (in a container, the group the node's users
// are in has an id and no name in the image).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace fnw {

// `text` as a group id: decimal digits only, below (gid_t)-1 (which means
// "unchanged" to chown(2), never a group); else none.
inline std::optional<gid_t> numeric_group_id(const std::string& text) {
    if (text.empty() || text.size() > 10 || text.find_first_not_of("0123456789") != std::string::npos)
        return std::nullopt;
    const unsigned long long value = std::stoull(text);
    if (value >= static_cast<gid_t>(-1)) return std::nullopt;
    return static_cast<gid_t>(value);
}

}  // namespace fnw
