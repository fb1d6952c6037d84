// SPDX-License-Identifier: Apache-2.0
// Ed25519 keys, signatures and SHA-256 through OpenSSL's EVP API (RAII for
// every OpenSSL object). Keys are PEM files as `openssl genpkey -algorithm
// ed25519` makes them (private) and `openssl pkey -pubout` (public).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.hpp"

typedef struct evp_pkey_st EVP_PKEY;

namespace fnw {

// 64 lowercase hex digits.
std::string sha256_hex(std::string_view bytes);

class Ed25519Key {
public:
    // A private key (PEM, unencrypted): it signs, and verifies too.
    static Result<Ed25519Key> load_private(const std::filesystem::path& pem_file) { return load_pem_file(pem_file, true); }
    // A public key (PEM, SubjectPublicKeyInfo): it only verifies.
    static Result<Ed25519Key> load_public(const std::filesystem::path& pem_file) { return load_pem_file(pem_file, false); }
    static Result<Ed25519Key> from_pem(std::string_view pem, bool is_private);
    // A fresh key pair (tests, and nothing else: keys are made by openssl).
    static Result<Ed25519Key> generate();

    // sha256 of the raw 32-byte public key, hex: how a key is named in
    // manifests, `policy verify` and `status`.
    const std::string& fingerprint() const { return fingerprint_; }
    bool can_sign() const { return is_private_; }

    // The 64-byte signature of `message`; fails for a public key.
    Result<std::string> sign(std::string_view message) const;
    bool verify(std::string_view message, std::string_view signature) const;
    // The public half as PEM (for tests that write a trusted key).
    Result<std::string> public_pem() const;
    Result<std::string> private_pem() const;

private:
    static Result<Ed25519Key> load_pem_file(const std::filesystem::path& pem_file, bool is_private);
    struct Free {
        void operator()(EVP_PKEY* key) const;
    };
    Ed25519Key(std::unique_ptr<EVP_PKEY, Free> key, bool is_private);
    std::unique_ptr<EVP_PKEY, Free> key_;
    bool is_private_ = false;
    std::string fingerprint_;
};

}  // namespace fnw
