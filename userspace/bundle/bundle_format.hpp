// SPDX-License-Identifier: Apache-2.0
// The signed policy bundle's container: one file holding a manifest, its
// signature and the policy files, each length-prefixed (docs/policy.md,
// "Signed bundles"). Pure: no I/O, no crypto; the reader is bounded in
// every dimension, so any byte string becomes a BundleContainer or a reason.
//
// Why not tar: a tar reader has to refuse most of tar (links, devices,
// modes, owners, pax and GNU long-name headers, octal fields with their
// variants) to be safe, and each refusal is a place to get wrong. This
// container has nothing to refuse but lengths and names.
//
//   magic       8 bytes   "FNWBND01"
//   manifest    u32 size, then that many bytes (JSON, bundle_manifest.hpp)
//   signature   u32 size (0: unsigned, else 64), then the Ed25519 signature
//               over the manifest's bytes exactly as stored
//   files       u32 count, then per file: u16 name size, name (relative,
//               '/'-separated, *.yaml or *.yml), u32 data size, data
//   end of file: nothing may follow
//
// Sizes are big-endian.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "core/policy_parser.hpp"

namespace fnw {

inline constexpr std::string_view kBundleMagic = "FNWBND01";
// A whole bundle: 1024 files of 1 MiB would not fit, and need not.
inline constexpr size_t kMaxBundleBytes = 32u << 20;
// Room for tens of thousands of code pins (a pinned node_modules tree).
inline constexpr size_t kMaxManifestBytes = 8u << 20;
inline constexpr size_t kMaxBundleFiles = 1024;
inline constexpr size_t kMaxBundleNameBytes = 255;
inline constexpr size_t kMaxBundleFileBytes = kMaxPolicyFileBytes;
inline constexpr size_t kEd25519SignatureBytes = 64;

// Why a bundle is not used. Each is one value of the metric's `reason`
// label (fnwarden_policy_refused_total), so the list is closed.
enum class BundleRefusal {
    Unreadable,      // the file cannot be opened or read
    TooLarge,        // over a size or count limit
    Malformed,       // not a bundle: magic, lengths, names, manifest
    Unsigned,        // no signature
    BadSignature,    // the signature does not verify with the trusted key
    WrongKey,        // signed by another key than the trusted one
    DigestMismatch,  // a file's bytes differ from the manifest's digest
    Expired,         // past the manifest's expiry
    InvalidPolicy,   // verified, but a policy in it does not load
    UnsignedSource,  // requireSigned: a plain directory or an object
    Rollback,        // verified, but made before the bundle in force
};
std::string_view to_string(BundleRefusal reason);
// Every reason, for declaring the metric's series up front.
std::vector<BundleRefusal> all_bundle_refusals();

struct BundleError {
    BundleRefusal reason = BundleRefusal::Malformed;
    std::string message;
};
inline BundleError bundle_error(BundleRefusal reason, std::string message) { return {reason, std::move(message)}; }

struct BundleFile {
    std::string name;  // relative, '/'-separated
    std::string data;
};

struct BundleContainer {
    std::string manifest;   // the exact bytes the signature covers
    std::string signature;  // empty: unsigned
    std::vector<BundleFile> files;
};

// "" or why `name` may not name a file of a bundle: empty or too long, an
// absolute path, an empty, ".", ".." or hidden component, a backslash or a
// control character, or not *.yaml / *.yml.
std::string bundle_name_problem(std::string_view name);

// The container as bytes. Fails for a name or size the reader would refuse.
Result<std::string> encode_bundle(const BundleContainer& container);
// Any bytes: a container, or Malformed / TooLarge with where and why.
// Duplicate names are refused here already.
Result<BundleContainer, BundleError> decode_bundle(std::string_view bytes);

}  // namespace fnw
