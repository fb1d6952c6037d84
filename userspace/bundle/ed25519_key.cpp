// SPDX-License-Identifier: Apache-2.0
#include "bundle/ed25519_key.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <array>
#include <span>

#include "bundle/bundle_file.hpp"
#include "common/hex.hpp"

namespace fnw {
namespace {

struct FreeBio {
    void operator()(BIO* bio) const { BIO_free(bio); }
};
struct FreeMdCtx {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
struct FreePkeyCtx {
    void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};
using Bio = std::unique_ptr<BIO, FreeBio>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, FreeMdCtx>;

// A PEM file is a few hundred bytes; this is far past any key.
constexpr size_t kMaxPemBytes = 64 << 10;

// OpenSSL's reason for the last failure, and an empty error queue after.
std::string openssl_error() {
    const unsigned long code = ERR_get_error();
    ERR_clear_error();
    if (code == 0) return "unknown OpenSSL error";
    std::array<char, 256> text{};
    ERR_error_string_n(code, text.data(), text.size());
    return text.data();
}

// Never prompt on a terminal for a passphrase: an encrypted key is refused.
int no_passphrase(char*, int, int, void*) { return -1; }

Result<std::string> pem_of(EVP_PKEY* key, bool private_half) {
    Bio out(BIO_new(BIO_s_mem()));
    if (!out) return fail(openssl_error());
    const int ok = private_half ? PEM_write_bio_PrivateKey(out.get(), key, nullptr, nullptr, 0, nullptr, nullptr)
                                : PEM_write_bio_PUBKEY(out.get(), key);
    if (ok != 1) return fail(openssl_error());
    char* data = nullptr;
    const long size = BIO_get_mem_data(out.get(), &data);
    return std::string(data, static_cast<size_t>(size));
}

}  // namespace

void Ed25519Key::Free::operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }

std::string sha256_hex(std::string_view bytes) {
    std::array<uint8_t, 32> digest{};
    unsigned int size = 0;
    if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1 || size != 32) {
        ERR_clear_error();
        return "";  // never a valid digest: compares unequal to every other
    }
    return to_hex(digest);
}

Ed25519Key::Ed25519Key(std::unique_ptr<EVP_PKEY, Free> key, bool is_private)
    : key_(std::move(key)), is_private_(is_private) {
    std::array<uint8_t, 32> raw{};
    size_t size = raw.size();
    if (EVP_PKEY_get_raw_public_key(key_.get(), raw.data(), &size) == 1 && size == raw.size())
        fingerprint_ = sha256_hex(std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size()));
    ERR_clear_error();
}

Result<Ed25519Key> Ed25519Key::from_pem(std::string_view pem, bool is_private) {
    Bio in(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!in) return fail(openssl_error());
    std::unique_ptr<EVP_PKEY, Free> key(is_private ? PEM_read_bio_PrivateKey(in.get(), nullptr, no_passphrase, nullptr)
                                                   : PEM_read_bio_PUBKEY(in.get(), nullptr, no_passphrase, nullptr));
    if (!key)
        return fail(std::string(is_private ? "not an unencrypted PEM private key"
                                           : "not a PEM public key (make one with: openssl pkey -in KEY.pem -pubout)") +
                    " (" + openssl_error() + ")");
    if (EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519)
        return fail("not an Ed25519 key (make one with: openssl genpkey -algorithm ed25519)");
    Ed25519Key made(std::move(key), is_private);
    if (made.fingerprint_.empty()) return fail("cannot read the public key: " + openssl_error());
    return made;
}

Result<Ed25519Key> Ed25519Key::load_pem_file(const std::filesystem::path& pem_file, bool is_private) {
    auto text = read_bounded_file(pem_file, kMaxPemBytes);
    if (!text) return fail(pem_file.string() + ": " + text.error());
    auto key = from_pem(*text, is_private);
    if (!key) return key.wrap(pem_file.string());
    return key;
}

Result<Ed25519Key> Ed25519Key::generate() {
    std::unique_ptr<EVP_PKEY_CTX, FreePkeyCtx> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr));
    EVP_PKEY* raw = nullptr;
    if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_keygen(ctx.get(), &raw) != 1)
        return fail(openssl_error());
    return Ed25519Key(std::unique_ptr<EVP_PKEY, Free>(raw), true);
}

Result<std::string> Ed25519Key::sign(std::string_view message) const {
    if (!is_private_) return fail("a public key cannot sign");
    MdCtx ctx(EVP_MD_CTX_new());
    std::string signature(64, '\0');
    size_t size = signature.size();
    // Ed25519 hashes internally: the digest is NULL, and it is one-shot.
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1 ||
        EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                       reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1)
        return fail("signing: " + openssl_error());
    signature.resize(size);
    return signature;
}

bool Ed25519Key::verify(std::string_view message, std::string_view signature) const {
    MdCtx ctx(EVP_MD_CTX_new());
    const bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) == 1 &&
                    EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                                     signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                                     message.size()) == 1;
    ERR_clear_error();  // a failed verification leaves its reason queued
    return ok;
}

Result<std::string> Ed25519Key::public_pem() const { return pem_of(key_.get(), false); }

Result<std::string> Ed25519Key::private_pem() const {
    if (!is_private_) return fail("a public key has no private half");
    return pem_of(key_.get(), true);
}

}  // namespace fnw
