// SPDX-License-Identifier: Apache-2.0
// A policy set from a signed bundle: verified first (bundle/policy_bundle.hpp),
// then its files loaded exactly as a rules directory's (policy_set.hpp), so
// what a reload checks and keeps is the same for both sources.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bundle/policy_bundle.hpp"
#include "daemon/policy_set.hpp"

namespace fnw {

// What `status` shows of a verified bundle.
struct BundleSummary {
    std::string file;
    std::string digest;  // sha256 of the bundle file
    std::string signer;  // key fingerprint
    int64_t created = 0;
    std::optional<int64_t> expires;
    size_t files = 0, pins = 0;
};

struct BundleLoad {
    PolicySetLoad load;                   // a set only when verified and valid
    std::optional<BundleError> refusal;   // why not (also set for an invalid policy)
    std::optional<BundleSummary> bundle;  // when it verified
    // The verified texts by the name policies and errors show
    // ("BUNDLE:NAME"): a launcher gets its policy from these, never from a
    // file it would read unverified.
    std::map<std::string, std::string, std::less<>> documents;
};

// Reads, verifies against `trusted` at `now` (seconds since the epoch),
// and loads the bundle's policies with `objects` as one set. A verified
// bundle made before `in_force_created` (the "created" of the bundle in
// force, none at start) is refused as a rollback: whoever can write the
// bundle file must not bring back an older signed set (one that granted
// more, or pinned code since fixed). The same "created" loads again: a
// reload of the bundle in force, or one signed within the same second.
BundleLoad load_policy_bundle(const std::filesystem::path& bundle, const Ed25519Key& trusted, int64_t now,
                              const std::vector<PolicyObject>& objects,
                              std::optional<int64_t> in_force_created = std::nullopt);

}  // namespace fnw
