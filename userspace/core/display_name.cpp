// SPDX-License-Identifier: Apache-2.0
#include "core/display_name.hpp"

#include <algorithm>
#include <cstdint>

#include "common/utf8.hpp"

namespace fnw {
namespace {

void append_escaped_bytes(std::string& out, std::string_view bytes) {
    static constexpr char kHex[] = "0123456789abcdef";
    for (unsigned char c : bytes) {
        out += "\\x";
        out += kHex[c >> 4];
        out += kHex[c & 0xf];
    }
}

bool unsafe_code_point(uint32_t cp) {
    return cp < 0x20 || cp == 0x7f ||              // C0 controls, DEL
           (cp >= 0x80 && cp <= 0x9f) ||           // C1 controls (U+009B is CSI)
           cp == 0x200e || cp == 0x200f ||         // LRM, RLM
           cp == 0x2028 || cp == 0x2029 ||         // line and paragraph separators
           (cp >= 0x202a && cp <= 0x202e) ||       // bidi embeddings and overrides
           (cp >= 0x2066 && cp <= 0x2069) ||       // bidi isolates
           cp == 0xfeff;                           // zero-width no-break space
}

bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
}

}  // namespace

std::string display_name(std::string_view text, size_t max_bytes) {
    std::string out;
    out.reserve(std::min(text.size(), max_bytes) + 3);
    std::string piece;
    for (size_t i = 0; i < text.size();) {
        piece.clear();
        uint32_t cp = 0;
        size_t length = decode_utf8(text.substr(i), &cp);
        if (length == 0) {
            append_escaped_bytes(piece, text.substr(i, 1));
            length = 1;
        } else if (cp == '\\') {
            piece = "\\\\";
        } else if (unsafe_code_point(cp)) {
            append_escaped_bytes(piece, text.substr(i, length));
        } else {
            piece.assign(text.substr(i, length));
        }
        if (out.size() + piece.size() > max_bytes) {
            out += "...";
            break;
        }
        out += piece;
        i += length;
    }
    return out;
}

std::string function_name_problem(std::string_view name) {
    const std::string shown = "\"" + display_name(name, 80) + "\"";
    const std::string rule = ": a function name is 1 to " + std::to_string(kMaxFunctionNameLength) +
                             " characters of A-Z a-z 0-9 . _ -, starting with a letter or digit "
                             "(it becomes a cgroup directory name)";
    if (name.empty()) return "invalid function name \"\"" + rule;
    if (name.size() > kMaxFunctionNameLength)
        return "invalid function name " + shown + " (" + std::to_string(name.size()) + " characters)" + rule;
    if (name == "." || name == "..") return "invalid function name " + shown + rule;
    const char first = name.front();
    if (!is_name_char(first) || first == '.' || first == '_' || first == '-')
        return "invalid function name " + shown + rule;
    for (char c : name)
        if (!is_name_char(c)) return "invalid function name " + shown + rule;
    return "";
}

namespace {

struct UrlParts {
    std::string_view scheme;     // without "://"; empty when there is none
    std::string_view user_info;  // without '@'; empty when there is none
    bool has_user_info = false;
    std::string_view host_port;
    std::string_view path;
    std::string_view query;  // without '?'
    bool has_query = false;
    bool has_fragment = false;
};

UrlParts split_url(std::string_view url) {
    UrlParts parts;
    std::string_view rest = url;
    if (size_t scheme_end = rest.find("://"); scheme_end != std::string_view::npos &&
                                              rest.substr(0, scheme_end).find_first_of("/?#@") == std::string_view::npos) {
        parts.scheme = rest.substr(0, scheme_end);
        rest.remove_prefix(scheme_end + 3);
    }
    if (size_t fragment = rest.find('#'); fragment != std::string_view::npos) {
        parts.has_fragment = true;
        rest = rest.substr(0, fragment);
    }
    if (size_t query = rest.find('?'); query != std::string_view::npos) {
        parts.has_query = true;
        parts.query = rest.substr(query + 1);
        rest = rest.substr(0, query);
    }
    size_t authority_end = rest.find('/');
    std::string_view authority = rest.substr(0, authority_end);
    parts.path = authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
    // The last '@': a password may contain '@' unencoded, a host cannot.
    if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
        parts.has_user_info = true;
        parts.user_info = authority.substr(0, at);
        authority.remove_prefix(at + 1);
    }
    parts.host_port = authority;
    return parts;
}

}  // namespace

std::string redact_url(std::string_view url) {
    const UrlParts parts = split_url(url);
    std::string shown;
    if (!parts.scheme.empty()) shown += std::string(parts.scheme) + "://";
    if (parts.has_user_info) shown += "***@";
    shown += parts.host_port;
    shown += parts.path;
    if (parts.has_query) {
        shown += '?';
        std::string_view query = parts.query;
        bool first = true;
        while (true) {
            const size_t end = query.find_first_of("&;");
            std::string_view item = query.substr(0, end);
            if (!first) shown += '&';
            first = false;
            const size_t equals = item.find('=');
            // A bare item ("?abcdef") may be the token itself.
            shown += equals == std::string_view::npos ? std::string(item.empty() ? "" : "***")
                                                      : std::string(item.substr(0, equals)) + "=***";
            if (end == std::string_view::npos) break;
            query.remove_prefix(end + 1);
        }
    }
    if (parts.has_fragment) shown += "#***";
    return display_name(shown, 512);
}

bool url_host_is_loopback(std::string_view url) {
    std::string_view host = split_url(url).host_port;
    if (host.starts_with('[')) {
        const size_t close = host.find(']');
        host = host.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1);
        return host == "::1" || host == "0:0:0:0:0:0:0:1";
    }
    if (size_t colon = host.rfind(':'); colon != std::string_view::npos) host = host.substr(0, colon);
    std::string lower;
    for (char c : host) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    if (lower == "localhost" || lower == "localhost." || lower.ends_with(".localhost")) return true;
    // 127.0.0.0/8 as a dotted quad of decimal numbers.
    if (!lower.starts_with("127.")) return false;
    int dots = 0;
    for (char c : lower) {
        if (c == '.') ++dots;
        else if (c < '0' || c > '9') return false;
    }
    return dots == 3;
}

}  // namespace fnw
