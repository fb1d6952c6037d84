// SPDX-License-Identifier: Apache-2.0
// Bytes as lowercase hex digits (digests in names, pins and events).
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace fnw {

inline std::string to_hex(std::span<const uint8_t> bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (uint8_t byte : bytes) {
        out.push_back(kDigits[byte >> 4]);
        out.push_back(kDigits[byte & 0xf]);
    }
    return out;
}

}  // namespace fnw
