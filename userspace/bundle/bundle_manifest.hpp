// SPDX-License-Identifier: Apache-2.0
// A bundle's manifest: what the signature covers. It names each policy
// file with its size and sha256, the code pins (files of the function with
// their digests, carried for code-integrity checks), when the bundle was
// made and until when it may be used, and which key signed it:
//
//   {"format": "fnwarden-bundle/1",
//    "created": "2026-12-05T12:00:00Z", "expires": "2026-12-12T12:00:00Z",
//    "signer": "<sha256 of the raw Ed25519 public key, hex>",
//    "files": [{"name": "fn/a.yaml", "size": 312, "sha256": "<hex>"}],
//    "pins": [{"path": "/var/task/fn/handler.py", "sha256": "<hex>"}]}
//
// "format" is inside the signed bytes, so a signature made for another
// kind of document with the same key can never pass for a bundle's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bundle/bundle_format.hpp"
#include "common/result.hpp"
#include "core/policy.hpp"  // CodePin

namespace fnw {

inline constexpr std::string_view kBundleFormat = "fnwarden-bundle/1";
inline constexpr size_t kMaxCodePins = 65536;

struct ManifestFile {
    std::string name;
    uint64_t size = 0;
    std::string sha256;  // 64 lowercase hex digits
};

struct BundleManifest {
    int64_t created = 0;                // seconds since the epoch, UTC
    std::optional<int64_t> expires;     // none: no expiry
    std::string signer;                 // key fingerprint
    std::vector<ManifestFile> files;    // in the container's order
    std::vector<CodePin> pins;
};

// The manifest as JSON text (what gets signed).
std::string manifest_json(const BundleManifest& manifest);
// Signed or not, any text: a manifest, or Malformed / TooLarge and why.
Result<BundleManifest, BundleError> parse_manifest(std::string_view text);
// The "signer" of a manifest that may not parse as a whole; "" if none.
// Only to tell a wrong key from a broken signature in a refusal message.
std::string manifest_signer_hint(std::string_view text);

// "2026-12-05T12:00:00Z" and back; only that form (UTC, seconds).
std::string format_utc_time(int64_t seconds);
std::optional<int64_t> parse_utc_time(std::string_view text);
// --expires: a duration after `created` ("90m", "12h", "30d", "3600s") or a
// time as above.
Result<int64_t> parse_expiry(std::string_view text, int64_t created);

bool is_sha256_hex(std::string_view text);

}  // namespace fnw
