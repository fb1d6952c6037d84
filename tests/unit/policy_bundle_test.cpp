// SPDX-License-Identifier: Apache-2.0
// The signed bundle: the container reader refuses malformed, truncated,
// oversized, traversing and duplicate input; verification refuses a
// changed byte anywhere, another key, no signature and an expired bundle.
#include "bundle/policy_bundle.hpp"

#include <gtest/gtest.h>

namespace fnw {
namespace {

const std::string kPolicy =
    "apiVersion: fnwarden.io/v1\nkind: FunctionPolicy\nmetadata:\n  name: alpha\nspec:\n  selector:\n"
    "    function: alpha\n";
constexpr int64_t kNow = 1796472000;  // 2026-12-05T12:00:00Z

const Ed25519Key& signing_key() {
    static const Ed25519Key key = Ed25519Key::generate().value();
    return key;
}

BundleInput sample_input() {
    BundleInput input;
    input.files = {{"alpha.yaml", kPolicy}, {"team/beta.yml", kPolicy + "# beta\n"}};
    input.pins = {{"/var/task/fn/handler.py", std::string(64, 'a')}};
    input.created = kNow - 60;
    input.expires = kNow + 3600;
    return input;
}

std::string sample_bundle() { return *make_bundle(sample_input(), signing_key()); }

void put(std::string& out, uint64_t value, size_t width) {
    for (size_t i = width; i-- > 0;) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

// A container written by hand, so that names the writer refuses can be tried.
std::string raw_container(const std::vector<std::pair<std::string, std::string>>& files,
                          const std::string& manifest = "{}", const std::string& signature = "") {
    std::string out(kBundleMagic);
    put(out, manifest.size(), 4);
    out += manifest;
    put(out, signature.size(), 4);
    out += signature;
    put(out, files.size(), 4);
    for (const auto& [name, data] : files) {
        put(out, name.size(), 2);
        out += name;
        put(out, data.size(), 4);
        out += data;
    }
    return out;
}

BundleRefusal decode_refusal(const std::string& bytes) {
    auto decoded = decode_bundle(bytes);
    EXPECT_FALSE(decoded.ok());
    return decoded ? BundleRefusal::Unreadable : decoded.failure().reason;
}

BundleRefusal verify_refusal(const std::string& bytes, const Ed25519Key& key = signing_key(), int64_t now = kNow) {
    auto verified = verify_bundle(bytes, key, now);
    EXPECT_FALSE(verified.ok());
    if (verified) return BundleRefusal::Unreadable;
    EXPECT_FALSE(verified.error().empty());
    return verified.failure().reason;
}

TEST(BundleFormat, RoundTripsFilesPinsAndTimes) {
    auto verified = verify_bundle(sample_bundle(), signing_key(), kNow);
    ASSERT_TRUE(verified.ok()) << verified.error();
    ASSERT_EQ(verified->files.size(), 2u);
    EXPECT_EQ(verified->files[1].name, "team/beta.yml");
    EXPECT_EQ(verified->files[1].data, kPolicy + "# beta\n");
    ASSERT_EQ(verified->manifest.pins.size(), 1u);
    EXPECT_EQ(verified->manifest.pins[0].path, "/var/task/fn/handler.py");
    EXPECT_EQ(verified->manifest.created, kNow - 60);
    EXPECT_EQ(verified->manifest.expires, kNow + 3600);
    EXPECT_EQ(verified->manifest.signer, signing_key().fingerprint());
    EXPECT_EQ(verified->digest, sha256_hex(sample_bundle()));
}

TEST(BundleFormat, EveryTruncationIsRefused) {
    const std::string bundle = sample_bundle();
    for (size_t size = 0; size < bundle.size(); ++size)
        EXPECT_EQ(decode_refusal(bundle.substr(0, size)), BundleRefusal::Malformed) << "cut at " << size;
}

TEST(BundleFormat, TrailingBytesAndBadMagicAreRefused) {
    EXPECT_EQ(decode_refusal(sample_bundle() + "x"), BundleRefusal::Malformed);
    std::string other = sample_bundle();
    other[0] = 'X';
    EXPECT_EQ(decode_refusal(other), BundleRefusal::Malformed);
    EXPECT_EQ(decode_refusal("hello"), BundleRefusal::Malformed);
}

TEST(BundleFormat, OversizedLengthsAndCountsAreRefusedBeforeReading) {
    std::string huge_manifest(kBundleMagic);
    put(huge_manifest, kMaxManifestBytes + 1, 4);
    EXPECT_EQ(decode_refusal(huge_manifest), BundleRefusal::TooLarge);

    std::string many_files = raw_container({});
    many_files.resize(many_files.size() - 4);
    put(many_files, kMaxBundleFiles + 1, 4);
    EXPECT_EQ(decode_refusal(many_files), BundleRefusal::TooLarge);

    std::string big_file = raw_container({});
    big_file.resize(big_file.size() - 4);
    put(big_file, 1, 4);
    put(big_file, 6, 2);
    big_file += "a.yaml";
    put(big_file, kMaxBundleFileBytes + 1, 4);
    EXPECT_EQ(decode_refusal(big_file), BundleRefusal::TooLarge);

    std::string long_signature(kBundleMagic);
    put(long_signature, 2, 4);
    long_signature += "{}";
    put(long_signature, 65, 4);
    EXPECT_EQ(decode_refusal(long_signature), BundleRefusal::TooLarge);

    EXPECT_EQ(decode_refusal(std::string(kMaxBundleBytes + 1, 'x')), BundleRefusal::TooLarge);
}

TEST(BundleFormat, NamesThatLeaveTheDirectoryOrHideAreRefused) {
    for (const std::string& name : std::vector<std::string>{"../x.yaml", "/etc/x.yaml", "a/../x.yaml", "./x.yaml", "a//x.yaml", ".x.yaml",
                                   "a/.hidden/x.yaml", "x.txt", "a\\x.yaml", std::string("a\nb.yaml"), std::string(),
                                   "x.yaml/", std::string(300, 'a') + ".yaml"}) {
        EXPECT_FALSE(bundle_name_problem(name).empty()) << name;
        EXPECT_NE(decode_bundle(raw_container({{name, kPolicy}})).ok(), true) << name;
    }
    EXPECT_EQ(bundle_name_problem("team/alpha.yaml"), "");
    EXPECT_FALSE(encode_bundle({"{}", "", {{"../x.yaml", kPolicy}}}).ok());
}

TEST(BundleFormat, DuplicateNamesAreRefused) {
    EXPECT_EQ(decode_refusal(raw_container({{"a.yaml", kPolicy}, {"a.yaml", kPolicy}})), BundleRefusal::Malformed);
    EXPECT_TRUE(decode_bundle(raw_container({{"a.yaml", kPolicy}, {"b.yaml", kPolicy}})).ok());
}

TEST(BundleVerify, AFlippedByteInAFileIsADigestMismatch) {
    std::string bundle = sample_bundle();
    const size_t at = bundle.rfind("function: alpha");
    ASSERT_NE(at, std::string::npos);
    bundle[at + 10] ^= 0x01;
    EXPECT_EQ(verify_refusal(bundle), BundleRefusal::DigestMismatch);
}

TEST(BundleVerify, AFlippedByteInTheManifestOrSignatureFailsTheSignature) {
    std::string manifest_changed = sample_bundle();
    const size_t at = manifest_changed.find("fnwarden-bundle/1");
    ASSERT_NE(at, std::string::npos);
    manifest_changed[at + 2] ^= 0x01;
    EXPECT_EQ(verify_refusal(manifest_changed), BundleRefusal::BadSignature);

    std::string signature_changed = sample_bundle();
    const auto container = *decode_bundle(signature_changed);
    signature_changed[kBundleMagic.size() + 4 + container.manifest.size() + 4 + 10] ^= 0x01;
    EXPECT_EQ(verify_refusal(signature_changed), BundleRefusal::BadSignature);
}

TEST(BundleVerify, AnyFlippedByteAnywhereIsRefused) {
    const std::string bundle = sample_bundle();
    for (size_t i = 0; i < bundle.size(); i += 7) {
        std::string changed = bundle;
        changed[i] ^= 0x20;
        EXPECT_FALSE(verify_bundle(changed, signing_key(), kNow).ok()) << "byte " << i;
    }
}

TEST(BundleVerify, AnotherKeyIsAWrongKey) {
    const Ed25519Key other = Ed25519Key::generate().value();
    EXPECT_EQ(verify_refusal(sample_bundle(), other), BundleRefusal::WrongKey);
    // The other key's own bundle, checked against ours.
    EXPECT_EQ(verify_refusal(*make_bundle(sample_input(), other)), BundleRefusal::WrongKey);
}

TEST(BundleVerify, UnsignedIsRefused) {
    auto container = *decode_bundle(sample_bundle());
    container.signature.clear();
    EXPECT_EQ(verify_refusal(*encode_bundle(container)), BundleRefusal::Unsigned);
}

TEST(BundleVerify, ExpiredAtItsExpiry) {
    EXPECT_TRUE(verify_bundle(sample_bundle(), signing_key(), kNow + 3599).ok());
    EXPECT_EQ(verify_refusal(sample_bundle(), signing_key(), kNow + 3600), BundleRefusal::Expired);
}

TEST(BundleVerify, FilesMustBeExactlyTheManifestsFiles) {
    // A signed manifest that lists one file, in a container holding two.
    BundleInput one = sample_input();
    one.files.pop_back();
    auto container = *decode_bundle(*make_bundle(one, signing_key()));
    container.files.push_back({"extra.yaml", kPolicy});
    EXPECT_EQ(verify_refusal(*encode_bundle(container)), BundleRefusal::Malformed);
    container.files.clear();
    EXPECT_EQ(verify_refusal(*encode_bundle(container)), BundleRefusal::Malformed);
}

TEST(BundleManifest, MalformedManifestsAreRefusedWithAReason) {
    for (const std::string& text :
         std::vector<std::string>{"", "[]", "{", "{\"format\":\"other\"}", std::string(100, '[') + std::string(100, ']'),
          R"({"format":"fnwarden-bundle/1","created":"yesterday","signer":"x","files":[]})",
          R"({"format":"fnwarden-bundle/1","created":"2026-12-05T12:00:00Z","signer":")" + std::string(64, 'a') +
              R"(","files":[{"name":"a.yaml","size":-1,"sha256":"x"}]})",
          R"({"format":"fnwarden-bundle/1","created":"2026-12-05T12:00:00Z","signer":")" + std::string(64, 'a') +
              R"(","files":[],"pins":[{"path":"relative","sha256":")" + std::string(64, 'a') + R"("}]})"}) {
        auto parsed = parse_manifest(text);
        EXPECT_FALSE(parsed.ok()) << text;
        if (!parsed) {
            EXPECT_EQ(parsed.failure().reason, BundleRefusal::Malformed) << text;
        }
    }
}

TEST(BundleManifest, TimesAndExpiries) {
    EXPECT_EQ(parse_utc_time("2026-12-05T12:00:00Z"), kNow);
    EXPECT_EQ(format_utc_time(kNow), "2026-12-05T12:00:00Z");
    EXPECT_FALSE(parse_utc_time("2026-02-31T00:00:00Z"));
    EXPECT_FALSE(parse_utc_time("2026-12-05 12:00:00"));
    EXPECT_EQ(*parse_expiry("90m", kNow), kNow + 5400);
    EXPECT_EQ(*parse_expiry("30d", kNow), kNow + 30 * 86400);
    EXPECT_EQ(*parse_expiry("2027-01-01T00:00:00Z", kNow), *parse_utc_time("2027-01-01T00:00:00Z"));
    EXPECT_FALSE(parse_expiry("soon", kNow).ok());
    EXPECT_FALSE(parse_expiry("0h", kNow).ok());
    EXPECT_FALSE(parse_expiry("-5m", kNow).ok());
}

TEST(Ed25519KeyTest, PemRoundTripsAndAPublicKeyCannotSign) {
    const Ed25519Key& key = signing_key();
    auto pub = Ed25519Key::from_pem(*key.public_pem(), false);
    ASSERT_TRUE(pub.ok()) << pub.error();
    EXPECT_EQ(pub->fingerprint(), key.fingerprint());
    EXPECT_FALSE(pub->sign("x").ok());
    const std::string signature = *key.sign("message");
    EXPECT_TRUE(pub->verify("message", signature));
    EXPECT_FALSE(pub->verify("messagE", signature));
    EXPECT_FALSE(Ed25519Key::from_pem("not a key", false).ok());
    // A private key where a public one is expected is refused, not used.
    EXPECT_FALSE(Ed25519Key::from_pem(*key.private_pem(), false).ok());
}

}  // namespace
}  // namespace fnw
