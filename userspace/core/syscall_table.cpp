// SPDX-License-Identifier: Apache-2.0
#include "core/syscall_table.hpp"

#include "core/suggest.hpp"

#include <algorithm>
#include <array>
#include <unordered_map>


#include <fnwarden/limits.h>

namespace fnw {
namespace {

struct SyscallEntry {
    std::string_view name;
    int nr;
};

constexpr SyscallEntry kSyscalls[] = {
#include "syscall_table_x86_64.inc"
};

struct Index {
    std::unordered_map<std::string_view, int> by_name;
    std::array<std::string_view, FNW_MAX_SYSCALLS> by_number{};

    Index() {
        for (const auto& e : kSyscalls) {
            by_name.emplace(e.name, e.nr);
            if (e.nr >= 0 && e.nr < FNW_MAX_SYSCALLS)
                by_number[static_cast<size_t>(e.nr)] = e.name;
        }
    }
};

const Index& index() {
    static const Index idx;  // immutable after first use
    return idx;
}

}  // namespace

std::optional<int> SyscallTable::number(std::string_view name) {
    const auto& idx = index();
    auto it = idx.by_name.find(name);
    if (it == idx.by_name.end()) return std::nullopt;
    return it->second;
}

std::string_view SyscallTable::name(int nr) {
    if (nr < 0 || nr >= FNW_MAX_SYSCALLS) return {};
    return index().by_number[static_cast<size_t>(nr)];
}

std::vector<std::string_view> SyscallTable::suggestions(std::string_view name) {
    std::vector<std::pair<size_t, std::string_view>> scored;
    for (const auto& e : kSyscalls) {
        size_t d = edit_distance(name, e.name);
        if (d <= 2) scored.emplace_back(d, e.name);
    }
    std::sort(scored.begin(), scored.end());
    std::vector<std::string_view> out;
    for (size_t i = 0; i < scored.size() && i < 3; ++i) out.push_back(scored[i].second);
    return out;
}

size_t SyscallTable::size() { return std::size(kSyscalls); }

}  // namespace fnw
