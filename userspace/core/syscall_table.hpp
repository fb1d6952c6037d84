// SPDX-License-Identifier: Apache-2.0
// The x86_64 syscall names fnwarden knows, generated at build time from the
// kernel's uapi header (cmake/gen_syscall_table.cmake).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fnw {

class SyscallTable {
public:
    // Number for a name, or nullopt for a name this architecture lacks.
    static std::optional<int> number(std::string_view name);
    // Name for a number, or "" for an unassigned number.
    static std::string_view name(int nr);
    // Known names closest to `name` (edit distance <= 2), best first.
    static std::vector<std::string_view> suggestions(std::string_view name);
    static size_t size();
};

}  // namespace fnw
