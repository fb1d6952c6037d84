// SPDX-License-Identifier: Apache-2.0
// Signed policy bundles: made by `fnwarden policy bundle`, checked by
// `fnwarden policy verify` and by the daemon before any policy in one is
// used (docs/policy.md, "Signed bundles"). The container is
// bundle_format.hpp, the signed manifest bundle_manifest.hpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bundle/bundle_format.hpp"
#include "bundle/bundle_manifest.hpp"
#include "bundle/ed25519_key.hpp"
#include "common/result.hpp"

namespace fnw {

struct BundleInput {
    std::vector<BundleFile> files;  // policy files, names relative to the rules directory
    std::vector<CodePin> pins;
    int64_t created = 0;
    std::optional<int64_t> expires;
};

// The bundle's bytes: manifest of `input`, signed with `key`.
Result<std::string> make_bundle(const BundleInput& input, const Ed25519Key& key);

// A bundle whose signature, digests and expiry were checked.
struct VerifiedBundle {
    BundleManifest manifest;
    std::vector<BundleFile> files;
    std::string digest;  // sha256 of the whole bundle file
};

// Checks, in order: the container (malformed, too large), the signature
// (unsigned, wrong key, bad signature), the manifest, each file against
// the manifest (names, sizes, digests), then the expiry against `now`.
// The first failure is the refusal.
Result<VerifiedBundle, BundleError> verify_bundle(std::string_view bytes, const Ed25519Key& trusted, int64_t now);

// The bytes of a bundle file (Unreadable, or TooLarge past kMaxBundleBytes).
Result<std::string, BundleError> read_bundle(const std::filesystem::path& path);

}  // namespace fnw
