// SPDX-License-Identifier: Apache-2.0
// Per-policy keys in BPF maps: delete a slot's old keys, write its new ones.
#pragma once

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <bpf/libbpf.h>

#include "common/result.hpp"

namespace fnw {

// Deletes every key of `map` that `owned` picks. Keys are collected first:
// deleting while walking with get_next_key would restart the walk.
template <typename Key, typename Owned>
void delete_keys_where(bpf_map* map, Owned owned) {
    std::vector<Key> stale;
    Key key{}, next{};
    const void* prev = nullptr;
    while (bpf_map__get_next_key(map, prev, &next, sizeof(next)) == 0) {
        if (owned(next)) stale.push_back(next);
        key = next;
        prev = &key;
    }
    for (const auto& k : stale) bpf_map__delete_elem(map, &k, sizeof(k), 0);
}

// Every (key, value) of `map`, a snapshot: a key deleted between the walk
// and its lookup is skipped.
template <typename Key, typename Value>
std::vector<std::pair<Key, Value>> map_entries(const bpf_map* map) {
    std::vector<std::pair<Key, Value>> out;
    Key key{}, next{};
    const void* prev = nullptr;
    while (bpf_map__get_next_key(map, prev, &next, sizeof(next)) == 0) {
        Value value{};
        if (bpf_map__lookup_elem(map, &next, sizeof(next), &value, sizeof(value), 0) == 0)
            out.emplace_back(next, value);
        key = next;
        prev = &key;
    }
    return out;
}

// Replaces a policy slot's keys in a map keyed per policy: first deletes
// every key `owned` says belongs to the slot (left by an earlier policy in
// it), then writes `keys`, the i-th with value_for(i).
template <typename Key, typename ValueFor, typename Owned>
Status replace_policy_keys(bpf_map* map, const std::vector<Key>& keys, ValueFor value_for, Owned owned) {
    delete_keys_where<Key>(map, owned);
    for (size_t i = 0; i < keys.size(); ++i) {
        const auto value = value_for(i);
        if (int err = bpf_map__update_elem(map, &keys[i], sizeof(keys[i]), &value, sizeof(value), BPF_ANY))
            return fail(std::string(bpf_map__name(map)) + " map update: " + std::strerror(err < 0 ? -err : err));
    }
    return {};
}

}  // namespace fnw
