// SPDX-License-Identifier: Apache-2.0
#include "daemon/bundle_policy_set.hpp"

namespace fnw {

BundleLoad load_policy_bundle(const std::filesystem::path& bundle, const Ed25519Key& trusted, int64_t now,
                              const std::vector<PolicyObject>& objects, std::optional<int64_t> in_force_created) {
    BundleLoad out;
    auto refused = [&](BundleError why) {
        out.load.errors.push_back({bundle.string(), 0, 0, "bundle refused (" + std::string(to_string(why.reason)) + "): " + why.message});
        out.refusal = std::move(why);
        return out;
    };
    auto bytes = read_bundle(bundle);
    if (!bytes) return refused(bytes.failure());
    auto verified = verify_bundle(*bytes, trusted, now);
    if (!verified) return refused(verified.failure());
    if (in_force_created && verified->manifest.created < *in_force_created)
        return refused(bundle_error(BundleRefusal::Rollback,
                                    "created " + format_utc_time(verified->manifest.created) +
                                        ", before the bundle in force (created " + format_utc_time(*in_force_created) +
                                        "): an older signed set is not loaded again; sign a new bundle"));

    out.bundle = BundleSummary{bundle.string(),      verified->digest,
                               verified->manifest.signer, verified->manifest.created,
                               verified->manifest.expires, verified->files.size(),
                               verified->manifest.pins.size()};
    std::vector<PolicyDocument> documents;
    for (BundleFile& file : verified->files) documents.push_back({file.name, std::move(file.data)});
    out.load = load_policy_set(bundle.string(), documents, objects);
    if (out.load.set) attach_code_pins(*out.load.set, verified->manifest.pins);
    for (PolicyDocument& document : documents)
        out.documents.emplace(bundle.string() + ":" + document.name, std::move(document.text));
    if (!out.load.ok())
        out.refusal = bundle_error(BundleRefusal::InvalidPolicy,
                                   "verified, but a policy in it does not load: " + out.load.errors.front().to_string());
    return out;
}

}  // namespace fnw
