// SPDX-License-Identifier: Apache-2.0
// Names that come from outside fnwarden's trust (cgroup paths, pod names and
// labels, function names a client sends, URLs from the config), made safe to
// print, and checked before they become paths.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace fnw {

// What a terminal or a log viewer may be shown: C0 controls (ESC, CR, LF,
// BEL...), DEL, C1 controls (raw byte 0x9b is CSI to an 8-bit terminal; so
// is U+009B), bidirectional overrides and bytes that are not UTF-8 become
// \xNN (a backslash becomes \\), so a name can neither move the cursor,
// clear the screen, forge a log line nor hide what it is. Valid printable
// UTF-8 is kept. Longer results are cut at a character boundary (never in
// the middle of an escape) to about max_bytes, with "..." appended.
std::string display_name(std::string_view text, size_t max_bytes = 256);

// Function names become cgroup directory names (`fnwarden run`): one path
// component, no "." / "..", no "/", no control characters.
inline constexpr size_t kMaxFunctionNameLength = 63;
// "" when `name` is a valid function name ([A-Za-z0-9][A-Za-z0-9._-]{0,62});
// otherwise why not, with the (escaped) name.
std::string function_name_problem(std::string_view name);

// A URL for messages and logs: user info ("user:secret@") replaced by "***@",
// every query value and any fragment by "***"; scheme, host, port, path and
// query keys stay, so the URL is still recognisable. Escaped like
// display_name(). Text that is not a URL still has an "...@" prefix of its
// first component hidden.
std::string redact_url(std::string_view url);

// For a plain http:// URL: whether its host is loopback (localhost,
// 127.0.0.0/8, ::1), where no one can read the traffic on the wire.
bool url_host_is_loopback(std::string_view url);

}  // namespace fnw
