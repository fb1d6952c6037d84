// SPDX-License-Identifier: Apache-2.0
// How deep JSON text nests, counted before a parser sees it: nlohmann's
// parser and destructor recurse per level, so input from outside (a control
// request, a bundle's manifest) is refused past a small depth first.
#pragma once

#include <cstddef>
#include <string_view>

namespace fnw {

// Whether `text` opens more than `limit` arrays/objects inside each other,
// brackets in strings not counted.
inline bool json_nesting_exceeds(std::string_view text, size_t limit) {
    size_t depth = 0;
    bool in_string = false, escaped = false;
    for (char c : text) {
        if (in_string) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > limit) return true;
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return false;
}

}  // namespace fnw
