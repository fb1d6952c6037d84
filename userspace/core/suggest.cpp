// SPDX-License-Identifier: Apache-2.0
#include "core/suggest.hpp"

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

namespace fnw {
namespace {

std::string folded(std::string_view key) {
    std::string out;
    for (char c : key)
        if (c != '_' && c != '-') out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    return out;
}

}  // namespace

size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t subst = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, subst});
        }
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

std::string_view closest_key(std::string_view key, std::span<const std::string_view> known) {
    const std::string wanted = folded(key);
    for (std::string_view k : known)
        if (folded(k) == wanted) return k;
    std::string_view best;
    size_t best_distance = 3;  // as for syscall names: at most two edits
    for (std::string_view k : known) {
        size_t d = edit_distance(key, k);
        if (d < best_distance) {
            best = k;
            best_distance = d;
        }
    }
    return best;
}

}  // namespace fnw
