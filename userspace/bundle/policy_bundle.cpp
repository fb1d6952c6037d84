// SPDX-License-Identifier: Apache-2.0
#include "bundle/policy_bundle.hpp"

#include "bundle/bundle_file.hpp"

namespace fnw {
namespace {

std::string short_key(const std::string& fingerprint) { return fingerprint.substr(0, 16); }

Status check_signature(const BundleContainer& container, const Ed25519Key& trusted, BundleError& why) {
    if (container.signature.empty()) {
        why = bundle_error(BundleRefusal::Unsigned, "the bundle is not signed");
        return fail("");
    }
    if (trusted.verify(container.manifest, container.signature)) return {};
    // Not verified, so the manifest may say anything; it only picks the
    // clearer message of two refusals.
    const std::string claimed = manifest_signer_hint(container.manifest);
    if (!claimed.empty() && claimed != trusted.fingerprint())
        why = bundle_error(BundleRefusal::WrongKey, "signed by key " + short_key(claimed) +
                                                        ", not by the trusted key " + short_key(trusted.fingerprint()));
    else
        why = bundle_error(BundleRefusal::BadSignature,
                           "the signature does not verify with the trusted key " + short_key(trusted.fingerprint()) +
                               ": the manifest or the signature was changed after signing");
    return fail("");
}

Status check_files(const BundleManifest& manifest, const std::vector<BundleFile>& files, BundleError& why) {
    for (size_t i = 0; i < std::max(manifest.files.size(), files.size()); ++i) {
        if (i >= manifest.files.size() || i >= files.size() || manifest.files[i].name != files[i].name) {
            const std::string name = i < files.size() ? files[i].name : manifest.files[i].name;
            why = bundle_error(BundleRefusal::Malformed,
                               "file \"" + name + "\" is not where the manifest lists it (or not listed at all)");
            return fail("");
        }
        const ManifestFile& listed = manifest.files[i];
        if (listed.size != files[i].data.size() || sha256_hex(files[i].data) != listed.sha256) {
            why = bundle_error(BundleRefusal::DigestMismatch,
                               "file \"" + listed.name + "\": its bytes do not match the manifest's sha256 " +
                                   listed.sha256.substr(0, 16) + "... (changed after signing)");
            return fail("");
        }
    }
    return {};
}

}  // namespace

Result<std::string> make_bundle(const BundleInput& input, const Ed25519Key& key) {
    BundleManifest manifest;
    manifest.created = input.created;
    manifest.expires = input.expires;
    manifest.signer = key.fingerprint();
    manifest.pins = input.pins;
    for (const BundleFile& file : input.files)
        manifest.files.push_back({file.name, file.data.size(), sha256_hex(file.data)});
    BundleContainer container;
    container.manifest = manifest_json(manifest);
    auto signature = key.sign(container.manifest);
    if (!signature) return fail(signature.error());
    container.signature = std::move(*signature);
    container.files = input.files;
    return encode_bundle(container);
}

Result<VerifiedBundle, BundleError> verify_bundle(std::string_view bytes, const Ed25519Key& trusted, int64_t now) {
    auto container = decode_bundle(bytes);
    if (!container) return container.failure();
    BundleError why;
    if (!check_signature(*container, trusted, why)) return why;
    auto manifest = parse_manifest(container->manifest);
    if (!manifest) return manifest.failure();
    if (manifest->signer != trusted.fingerprint())
        return bundle_error(BundleRefusal::Malformed, "manifest: \"signer\" is not the key that signed it");
    if (!check_files(*manifest, container->files, why)) return why;
    if (manifest->expires && now >= *manifest->expires)
        return bundle_error(BundleRefusal::Expired, "expired at " + format_utc_time(*manifest->expires) + " (now " +
                                                        format_utc_time(now) + "): sign a new bundle");
    VerifiedBundle verified;
    verified.manifest = std::move(*manifest);
    verified.files = std::move(container->files);
    verified.digest = sha256_hex(bytes);
    return verified;
}

Result<std::string, BundleError> read_bundle(const std::filesystem::path& path) {
    auto bytes = read_bounded_file(path, kMaxBundleBytes);
    if (bytes) return std::move(*bytes);
    const BundleRefusal reason =
        bytes.error().starts_with("file larger than") ? BundleRefusal::TooLarge : BundleRefusal::Unreadable;
    return bundle_error(reason, path.string() + ": " + bytes.error());
}

}  // namespace fnw
