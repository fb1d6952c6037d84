// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: a signed policy bundle is read by the daemon from a file
// anyone with write access to its directory (or the ConfigMap) can replace,
// before anything about it is trusted. The reader must turn any bytes into
// a container or a reason, never a crash, a hang or an escaping exception.
// What it accepts re-encodes to the same bytes; signed here with the
// harness's own key, verification goes past the signature into the
// manifest and the file digests, which an attacker's bytes never reach.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "bundle/policy_bundle.hpp"

namespace {

constexpr size_t kMaxInputBytes = 1 << 20;
constexpr int64_t kNow = 1796472000;  // 2026-12-05T12:00:00Z

const fnw::Ed25519Key& harness_key() {
    static const fnw::Ed25519Key key = fnw::Ed25519Key::generate().value();
    return key;
}

void check_signed_copy(fnw::BundleContainer container) {
    container.signature = *harness_key().sign(container.manifest);
    auto bytes = fnw::encode_bundle(container);
    if (!bytes) __builtin_trap();  // decode accepted it, so it encodes
    auto verified = fnw::verify_bundle(*bytes, harness_key(), kNow);
    if (!verified) {
        if (verified.error().empty()) __builtin_trap();  // a refusal always says why
        return;
    }
    // Verified: every file is the manifest's, byte for byte.
    if (verified->files.size() != verified->manifest.files.size()) __builtin_trap();
    for (size_t i = 0; i < verified->files.size(); ++i)
        if (fnw::sha256_hex(verified->files[i].data) != verified->manifest.files[i].sha256) __builtin_trap();
}

void check_manifest(std::string_view text) {
    auto manifest = fnw::parse_manifest(text);
    if (!manifest) {
        if (manifest.error().empty()) __builtin_trap();
        return;
    }
    // What parses, written again, parses to the same thing.
    auto again = fnw::parse_manifest(fnw::manifest_json(*manifest));
    if (!again || again->created != manifest->created || again->expires != manifest->expires ||
        again->files.size() != manifest->files.size() || again->pins.size() != manifest->pins.size())
        __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > kMaxInputBytes) return 0;
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);

    auto decoded = fnw::decode_bundle(bytes);
    if (!decoded) {
        if (decoded.error().empty()) __builtin_trap();
    } else {
        auto again = fnw::encode_bundle(*decoded);
        if (!again || *again != bytes) __builtin_trap();
        check_manifest(decoded->manifest);
        check_signed_copy(*decoded);
    }
    // The input as it is, against the harness's fresh key: no input can
    // carry a signature by a key made after it.
    if (fnw::verify_bundle(bytes, harness_key(), kNow).ok()) __builtin_trap();
    check_manifest(bytes);
    return 0;
}
