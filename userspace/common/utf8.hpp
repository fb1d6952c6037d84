// SPDX-License-Identifier: Apache-2.0
// Well-formed UTF-8 (RFC 3629): no overlong forms, no UTF-16 surrogates,
// nothing past U+10FFFF. One decoder for every place that must tell text
// from bytes: metric labels, names shown on a terminal, policy files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace fnw {

// Length of the well-formed sequence at the start of `text` and its code
// point, or 0 when there is none (an empty `text` included).
inline size_t decode_utf8(std::string_view text, uint32_t* code_point) {
    if (text.empty()) return 0;
    const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
    const unsigned char lead = byte(0);
    size_t length;
    uint32_t cp;
    if (lead < 0x80) {
        *code_point = lead;
        return 1;
    } else if (lead >= 0xc2 && lead <= 0xdf) {
        length = 2;
        cp = lead & 0x1f;
    } else if (lead >= 0xe0 && lead <= 0xef) {
        length = 3;
        cp = lead & 0x0f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
        length = 4;
        cp = lead & 0x07;
    } else {
        return 0;  // a continuation byte, 0xc0/0xc1 (always overlong), 0xf5..
    }
    if (text.size() < length) return 0;
    for (size_t i = 1; i < length; ++i) {
        if ((byte(i) & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (byte(i) & 0x3f);
    }
    if ((length == 3 && cp < 0x800) || (length == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    *code_point = cp;
    return length;
}

inline size_t utf8_sequence_length(std::string_view text) {
    uint32_t ignored;
    return decode_utf8(text, &ignored);
}

// Offset of the first byte that does not start a well-formed sequence, or
// nullopt when all of `text` is UTF-8.
inline std::optional<size_t> first_invalid_utf8(std::string_view text) {
    for (size_t i = 0; i < text.size();) {
        const size_t n = utf8_sequence_length(text.substr(i));
        if (n == 0) return i;
        i += n;
    }
    return std::nullopt;
}

inline bool is_valid_utf8(std::string_view text) { return !first_invalid_utf8(text).has_value(); }

}  // namespace fnw
