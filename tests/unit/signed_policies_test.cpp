// SPDX-License-Identifier: Apache-2.0
// Signed bundles in the daemon's reload path: a verified bundle is the set
// in force, a tampered or expired one is refused and the old set stays (the
// refusal reported with its reason), --require-signed refuses a plain
// directory and FunctionPolicy objects; the watcher sees the bundle file
// replaced; the config keys.
#include <fstream>
#include <memory>

#include <gtest/gtest.h>

#include "daemon/active_policies.hpp"
#include "daemon/bundle_policy_set.hpp"
#include "daemon/daemon_config.hpp"
#include "daemon/rules_watcher.hpp"
#include "fakes/fake_kernel_maps.hpp"
#include "temp_dir.hpp"

namespace fnw {
namespace {

namespace fs = std::filesystem;
using testing::FakeKernelMaps;

std::string policy_text(const std::string& function) {
    return "apiVersion: fnwarden.io/v1\nkind: FunctionPolicy\nmetadata:\n  name: " + function +
           "-policy\nspec:\n  selector:\n    function: " + function + "\n";
}

void write_file(const fs::path& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
}

class SignedPoliciesTest : public ::testing::Test {
protected:
    SignedPoliciesTest() {
        fs::create_directories(rules_);
        policies_.on_refusal([this](const BundleError& refusal) { refusals_.push_back(refusal.reason); });
    }
    void use_bundle(bool require_signed = false) {
        policies_.use_signed_source({bundle_, key_, require_signed});
    }
    std::string bundle_of(const std::vector<std::string>& functions, const Ed25519Key& key,
                          std::optional<int64_t> expires = std::nullopt) {
        BundleInput input;
        for (const auto& f : functions) input.files.push_back({f + ".yaml", policy_text(f)});
        input.created = std::time(nullptr);
        input.expires = expires;
        return *make_bundle(input, key);
    }
    bool reload() { return policies_.reload("test", [](ActivePolicies::Swapped&) {}); }
    bool has(const std::string& function) const {
        return policies_.set() && policies_.set()->find(function) != nullptr;
    }

    test::TempDir temp_;
    fs::path rules_ = temp_.path() / "rules";
    fs::path bundle_ = temp_.path() / "policies.fnwb";
    std::shared_ptr<const Ed25519Key> key_ = std::make_shared<const Ed25519Key>(Ed25519Key::generate().value());
    FakeKernelMaps maps_;
    ActivePolicies policies_{bundle_, maps_, Mode::Enforce, {}};
    std::vector<BundleRefusal> refusals_;
};

TEST_F(SignedPoliciesTest, NoBundleAtStartMeansNoSetAndAReason) {
    use_bundle();
    EXPECT_FALSE(reload());
    EXPECT_EQ(policies_.set(), nullptr);
    EXPECT_EQ(refusals_, std::vector{BundleRefusal::Unreadable});
    const RulesInfo rules = policies_.rules_status();
    ASSERT_TRUE(rules.bundle);
    EXPECT_EQ(rules.bundle->last_refusal_reason, "unreadable");
    EXPECT_EQ(rules.bundle->digest, "");
}

TEST_F(SignedPoliciesTest, AVerifiedBundleLoadsAndATamperedOneKeepsTheOldSet) {
    use_bundle();
    const std::string good = bundle_of({"alpha"}, *key_);
    write_file(bundle_, good);
    ASSERT_TRUE(reload()) << (policies_.last_errors().empty() ? "" : policies_.last_errors()[0]);
    EXPECT_TRUE(has("alpha"));
    EXPECT_EQ(policies_.rules_status().bundle->digest, sha256_hex(good));
    EXPECT_EQ(policies_.rules_status().bundle->signer, key_->fingerprint());

    std::string tampered = bundle_of({"alpha", "beta"}, *key_);
    tampered[tampered.rfind("function: beta") + 10] ^= 1;
    write_file(bundle_, tampered);
    EXPECT_FALSE(reload());
    EXPECT_TRUE(has("alpha"));
    EXPECT_FALSE(has("beta"));
    EXPECT_EQ(refusals_, std::vector{BundleRefusal::DigestMismatch});
    const BundleInfo info = *policies_.rules_status().bundle;
    EXPECT_EQ(info.digest, sha256_hex(good)) << "the bundle in force is still the good one";
    EXPECT_EQ(info.last_refusal_reason, "digest_mismatch");

    write_file(bundle_, bundle_of({"beta"}, *Ed25519Key::generate()));
    EXPECT_FALSE(reload());
    write_file(bundle_, bundle_of({"beta"}, *key_, std::time(nullptr) - 10));
    EXPECT_FALSE(reload());
    EXPECT_EQ(refusals_.back(), BundleRefusal::Expired);
    EXPECT_EQ(refusals_[1], BundleRefusal::WrongKey);
    EXPECT_TRUE(has("alpha"));
}

TEST_F(SignedPoliciesTest, ASignedButInvalidPolicyIsRefused) {
    use_bundle();
    BundleInput input;
    input.files = {{"bad.yaml", policy_text("bad") + "  syscalls:\n    allow: [opne]\n"}};
    input.created = std::time(nullptr);
    write_file(bundle_, *make_bundle(input, *key_));
    EXPECT_FALSE(reload());
    EXPECT_EQ(refusals_, std::vector{BundleRefusal::InvalidPolicy});
}

// Rollback: an attacker who can write the bundle file holds every bundle
// ever signed; an older one verifies, and must still not come back.
TEST_F(SignedPoliciesTest, AnOlderSignedBundleIsRefusedAsARollback) {
    use_bundle();
    const int64_t now = std::time(nullptr);
    auto signed_at = [&](const std::string& function, int64_t created) {
        BundleInput input;
        input.files.push_back({function + ".yaml", policy_text(function)});
        input.created = created;
        return *make_bundle(input, *key_);
    };
    const std::string current = signed_at("current", now - 60);
    write_file(bundle_, current);
    ASSERT_TRUE(reload());

    write_file(bundle_, signed_at("older", now - 61));
    EXPECT_FALSE(reload());
    EXPECT_EQ(refusals_, std::vector{BundleRefusal::Rollback});
    EXPECT_TRUE(has("current"));
    EXPECT_FALSE(has("older"));
    const BundleInfo info = *policies_.rules_status().bundle;
    EXPECT_EQ(info.last_refusal_reason, "rollback");
    EXPECT_NE(info.last_refusal.find("before the bundle in force"), std::string::npos) << info.last_refusal;
    EXPECT_EQ(info.digest, sha256_hex(current));

    write_file(bundle_, current);
    EXPECT_TRUE(reload()) << "the bundle in force reloads (SIGHUP)";
    write_file(bundle_, signed_at("same-second", now - 60));
    EXPECT_TRUE(reload()) << "signed in the same second as the one in force";
    write_file(bundle_, signed_at("newer", now));
    ASSERT_TRUE(reload());
    EXPECT_TRUE(has("newer"));
    write_file(bundle_, current);
    EXPECT_FALSE(reload()) << "once a newer one is in force, the one before it is a rollback too";
    EXPECT_EQ(refusals_, (std::vector{BundleRefusal::Rollback, BundleRefusal::Rollback}));
    EXPECT_TRUE(has("newer"));
}

TEST(SignedPolicies, LoadingABundleChecksItsAgeOnlyOnceItVerified) {
    test::TempDir temp;
    const fs::path file = temp.path() / "b.fnwb";
    const Ed25519Key key = Ed25519Key::generate().value();
    BundleInput input;
    input.files.push_back({"fn.yaml", policy_text("fn")});
    input.created = 1000;
    write_file(file, *make_bundle(input, key));
    EXPECT_FALSE(load_policy_bundle(file, key, 2000, {}, std::nullopt).refusal);
    EXPECT_FALSE(load_policy_bundle(file, key, 2000, {}, 1000).refusal);
    const BundleLoad older = load_policy_bundle(file, key, 2000, {}, 1001);
    ASSERT_TRUE(older.refusal);
    EXPECT_EQ(older.refusal->reason, BundleRefusal::Rollback);
    EXPECT_FALSE(older.load.ok());
    EXPECT_FALSE(older.bundle) << "a refused bundle is not summarised as verified";
    // A forged "older" bundle is refused for its signature, not its age.
    const BundleLoad other_key = load_policy_bundle(file, *Ed25519Key::generate(), 2000, {}, 1001);
    ASSERT_TRUE(other_key.refusal);
    EXPECT_EQ(other_key.refusal->reason, BundleRefusal::WrongKey);
}

TEST(SignedPolicies, RequireSignedRefusesAPlainDirectoryAndObjects) {
    test::TempDir temp;
    FakeKernelMaps maps;
    write_file(temp.path() / "alpha.yaml", policy_text("alpha"));
    ActivePolicies policies{temp.path(), maps, Mode::Enforce, {}};
    std::vector<BundleRefusal> refusals;
    policies.on_refusal([&](const BundleError& refusal) { refusals.push_back(refusal.reason); });
    policies.read_objects_from([] { return std::vector<PolicyObject>{{"shop", "hello", policy_text("hello")}}; });
    policies.use_signed_source({{}, nullptr, true});
    EXPECT_FALSE(policies.reload("test", [](ActivePolicies::Swapped&) {}));
    EXPECT_EQ(policies.set(), nullptr);
    ASSERT_EQ(refusals.size(), 2u);
    EXPECT_EQ(refusals[0], BundleRefusal::UnsignedSource);
    EXPECT_EQ(refusals[1], BundleRefusal::UnsignedSource);
    // The object is told why in its status.
    bool object_told = false;
    for (const std::string& e : policies.object_verdict_errors())
        object_told |= e.starts_with("functionpolicies/shop/hello: not loaded: requireSigned");
    EXPECT_TRUE(object_told);
    EXPECT_TRUE(policies.rules_status().bundle->require_signed);

    // Without requireSigned the same directory loads.
    policies.use_signed_source({});
    policies.read_objects_from([] { return std::vector<PolicyObject>{}; });
    EXPECT_TRUE(policies.reload("test", [](ActivePolicies::Swapped&) {}));
}

TEST(SignedPolicies, TheWatcherSeesTheBundleReplacedAndNothingElse) {
    test::TempDir temp;
    const fs::path bundle = temp.path() / "policies.fnwb";
    write_file(bundle, "old");
    auto watcher = RulesWatcher::watch_file(bundle);
    ASSERT_TRUE(watcher.ok()) << watcher.error();
    write_file(temp.path() / "other.yaml", "x");
    EXPECT_FALSE(watcher->consume());
    write_file(temp.path() / "policies.fnwb.tmp1", "new");
    fs::rename(temp.path() / "policies.fnwb.tmp1", bundle);
    EXPECT_TRUE(watcher->consume());
}

TEST(SignedPolicies, ConfigKeysAndTheirChecks) {
    auto load = parse_daemon_config("bundle: /etc/fnwarden/policies.fnwb\ntrustedKey: /etc/fnwarden/pub.pem\n"
                                    "requireSigned: true\n",
                                    "test.yaml");
    ASSERT_TRUE(load.ok());
    EXPECT_EQ(load.config->bundle, "/etc/fnwarden/policies.fnwb");
    EXPECT_EQ(load.config->trusted_key, "/etc/fnwarden/pub.pem");
    EXPECT_TRUE(load.config->require_signed);
    EXPECT_TRUE(validate_daemon_config(*load.config).empty());

    DaemonConfig no_key;
    no_key.bundle = "/b.fnwb";
    ASSERT_EQ(validate_daemon_config(no_key).size(), 1u);
    EXPECT_NE(validate_daemon_config(no_key)[0].find("trustedKey"), std::string::npos);
    DaemonConfig no_bundle;
    no_bundle.trusted_key = "/pub.pem";
    EXPECT_EQ(validate_daemon_config(no_bundle).size(), 1u);
}

TEST(SignedPolicies, PolicySetDocumentsAreWhatWasRead) {
    test::TempDir temp;
    fs::create_directories(temp.path() / "team");
    write_file(temp.path() / "alpha.yaml", policy_text("alpha"));
    write_file(temp.path() / "team" / "beta.yml", policy_text("beta"));
    write_file(temp.path() / ".hidden.yaml", "not: read");
    std::vector<PolicyDocument> documents;
    const PolicySetLoad load = load_policy_set(temp.path(), documents);
    ASSERT_TRUE(load.ok());
    ASSERT_EQ(documents.size(), 2u);
    EXPECT_EQ(documents[0].name, "alpha.yaml");
    EXPECT_EQ(documents[1].name, "team/beta.yml");
    EXPECT_EQ(documents[1].text, policy_text("beta"));
    // Loaded from memory, the same bytes give the same version.
    const PolicySetLoad again = load_policy_set("bundle", documents, {});
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again.set->version, load.set->version);
}

}  // namespace
}  // namespace fnw
