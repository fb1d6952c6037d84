// SPDX-License-Identifier: Apache-2.0
// fnwarden policy bundle / policy verify: signed policy bundles
// (docs/policy.md, "Signed bundles").
#include <fcntl.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bundle/bundle_file.hpp"
#include "bundle/pin_paths.hpp"
#include "bundle/policy_bundle.hpp"
#include "cli/options.hpp"
#include "common/unique_fd.hpp"
#include "core/elf_interpreter.hpp"
#include "daemon/policy_set.hpp"
#include "runtime/exec_hash.hpp"

namespace fnw::cli {
namespace {

namespace fs = std::filesystem;

// Refusals of `policy verify` (bundle not usable) exit 1; usage errors 2.
constexpr int kExitRefused = 1;

constexpr const char* kBundleUsage =
    "usage: fnwarden policy bundle --key KEY.pem -o BUNDLE RULES_DIR [--pin PATH[=DEPLOYED]]... [--expires DURATION|TIME]\n"
    "Validates every policy of RULES_DIR (as the daemon loads it) and packs the files, a manifest with each\n"
    "file's sha256 and the code pins (sha256 of each FILE, every regular file under DIR) into BUNDLE, signed\n"
    "with the Ed25519 KEY (openssl genpkey -algorithm ed25519 -out KEY.pem). A pin is recorded under its\n"
    "absolute path, or with PATH=DEPLOYED under DEPLOYED (build/fn=/var/task/fn: hashed in build/fn, pinned\n"
    "as /var/task/fn/...). --expires: 90m, 12h, 30d, or 2026-12-31T00:00:00Z.\n"
    "Exit status: 0 written, 2 an invalid policy or bad arguments (nothing written).\n";
constexpr const char* kVerifyUsage =
    "usage: fnwarden policy verify --trusted-key PUB.pem BUNDLE\n"
    "Checks BUNDLE as the daemon does: signature by the key PUB.pem (openssl pkey -in KEY.pem -pubout),\n"
    "each file's digest, the expiry, and every policy in it. Exit status: 0 usable (a summary follows),\n"
    "1 refused (the reason follows), 2 bad arguments.\n";

struct BundleArgs {
    std::string key, output, rules_dir, expires;
    std::vector<std::string> pins;
};

// Flags with one value each; --pin may repeat and takes every following
// argument up to the next flag.
std::optional<BundleArgs> parse_bundle_args(const std::vector<std::string>& args) {
    BundleArgs out;
    for (size_t i = 1; i < args.size(); ++i) {
        const std::string& arg = args[i];
        const bool has_value = i + 1 < args.size();
        if ((arg == "--key" || arg == "-o" || arg == "--output" || arg == "--expires") && !has_value) return std::nullopt;
        if (arg == "--key") out.key = args[++i];
        else if (arg == "-o" || arg == "--output") out.output = args[++i];
        else if (arg == "--expires") out.expires = args[++i];
        else if (arg == "--pin") {
            while (i + 1 < args.size() && !args[i + 1].starts_with("-")) out.pins.push_back(args[++i]);
        } else if (arg.starts_with("-") || !out.rules_dir.empty()) return std::nullopt;
        else out.rules_dir = arg;
    }
    if (out.key.empty() || out.output.empty() || out.rules_dir.empty()) return std::nullopt;
    return out;
}

Result<CodePin> pin_file(const fs::path& path, const PinSource& source) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    if (!fd.valid()) return fail(path.string() + ": cannot open (a symlink is not followed: pin its target)");
    auto digest = sha256_of_fd(fd.get());
    if (!digest) return fail(path.string() + ": cannot read");
    return CodePin{deployed_pin_path(source, path), to_hex(*digest)};
}

// Each FILE, and every regular file under each DIR (symlinks refused: a
// pin names what the function runs, not where a link pointed today), each
// recorded under its deployed path (PATH=DEPLOYED) or its own.
Result<std::vector<CodePin>> collect_pins(const std::vector<std::string>& arguments) {
    std::vector<CodePin> pins;
    for (const std::string& argument : arguments) {
        auto source = parse_pin_argument(argument, fs::current_path());
        if (!source) return fail(source.error());
        const fs::path& given = source->local;
        std::error_code ec;
        if (!fs::is_directory(fs::symlink_status(given, ec))) {
            auto pin = pin_file(given, *source);
            if (!pin) return fail(pin.error());
            pins.push_back(std::move(*pin));
            continue;
        }
        for (fs::recursive_directory_iterator it(given, ec), end; !ec && it != end; it.increment(ec)) {
            if (it->is_directory(ec) && !it->is_symlink(ec)) continue;
            if (!it->is_regular_file(ec) || it->is_symlink(ec))
                return fail(it->path().string() + ": not a regular file; a code directory holds regular files only");
            auto pin = pin_file(it->path(), *source);
            if (!pin) return fail(pin.error());
            pins.push_back(std::move(*pin));
            if (pins.size() > kMaxCodePins) return fail("more than " + std::to_string(kMaxCodePins) + " pinned files");
        }
        if (ec) return fail(given.string() + ": " + ec.message());
    }
    return pins;
}

// Written next to the target and renamed over it: a daemon watching the
// file never reads half a bundle.
Status write_atomically(const fs::path& target, const std::string& bytes) {
    const fs::path temp = target.string() + ".tmp" + std::to_string(::getpid());
    UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd.valid()) return fail(temp.string() + ": cannot create");
    for (size_t done = 0; done < bytes.size();) {
        const ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
        if (n <= 0) {
            ::unlink(temp.c_str());
            return fail(temp.string() + ": write failed");
        }
        done += static_cast<size_t>(n);
    }
    if (::fsync(fd.get()) != 0 || ::rename(temp.c_str(), target.c_str()) != 0) {
        ::unlink(temp.c_str());
        return fail(target.string() + ": cannot write");
    }
    return {};
}

void print_summary(const std::string& name, const BundleManifest& manifest, const std::string& digest) {
    std::cout << name << ": " << manifest.files.size() << " policy file(s), " << manifest.pins.size()
              << " code pin(s); signer " << manifest.signer << "; created " << format_utc_time(manifest.created)
              << "; expires " << (manifest.expires ? format_utc_time(*manifest.expires) : "never") << "; sha256 "
              << digest << "\n";
}

bool asks_for_help(const std::vector<std::string>& args) {
    for (const std::string& arg : args)
        if (arg == "--help" || arg == "-h") return true;
    return false;
}

}  // namespace

int cmd_policy_bundle(const std::vector<std::string>& args) {
    if (asks_for_help(args)) {
        std::cout << kBundleUsage;
        return 0;
    }
    auto parsed = parse_bundle_args(args);
    if (!parsed) {
        std::cerr << kBundleUsage;
        return kExitUsage;
    }
    auto key = Ed25519Key::load_private(parsed->key);
    if (!key) {
        std::cerr << "fnwarden policy bundle: " << key.error() << "\n";
        return kExitUsage;
    }
    std::vector<PolicyDocument> documents;
    const PolicySetLoad load = load_policy_set(parsed->rules_dir, documents);
    for (const auto& w : load.warnings) std::cerr << "warning: " << w << "\n";
    if (!load.ok()) {
        for (const auto& e : load.errors) std::cerr << e.to_string() << "\n";
        std::cerr << "fnwarden policy bundle: invalid policies, no bundle written\n";
        return kExitUsage;
    }
    BundleInput input;
    input.created = std::time(nullptr);
    for (PolicyDocument& document : documents) input.files.push_back({document.name, std::move(document.text)});
    if (!parsed->expires.empty()) {
        auto expires = parse_expiry(parsed->expires, input.created);
        if (!expires) {
            std::cerr << "fnwarden policy bundle: " << expires.error() << "\n";
            return kExitUsage;
        }
        if (*expires <= input.created) std::cerr << "warning: the bundle is expired already\n";
        input.expires = *expires;
    }
    auto pins = collect_pins(parsed->pins);
    if (!pins) {
        std::cerr << "fnwarden policy bundle: pin: " << pins.error() << "\n";
        return kExitUsage;
    }
    input.pins = std::move(*pins);
    auto bytes = make_bundle(input, *key);
    if (!bytes) {
        std::cerr << "fnwarden policy bundle: " << bytes.error() << "\n";
        return kExitUsage;
    }
    if (Status written = write_atomically(parsed->output, *bytes); !written) {
        std::cerr << "fnwarden policy bundle: " << written.error() << "\n";
        return kExitInternal;
    }
    auto manifest = parse_manifest(decode_bundle(*bytes)->manifest);
    print_summary(parsed->output, *manifest, sha256_hex(*bytes));
    return 0;
}

int cmd_policy_verify(const std::vector<std::string>& args) {
    if (asks_for_help(args)) {
        std::cout << kVerifyUsage;
        return 0;
    }
    std::string key_file, bundle;
    for (size_t i = 1; i < args.size(); ++i) {
        if (args[i] == "--trusted-key" && i + 1 < args.size()) key_file = args[++i];
        else if (!args[i].starts_with("-") && bundle.empty()) bundle = args[i];
        else key_file.clear(), bundle.clear(), i = args.size();
    }
    if (key_file.empty() || bundle.empty()) {
        std::cerr << kVerifyUsage;
        return kExitUsage;
    }
    auto key = Ed25519Key::load_public(key_file);
    if (!key) {
        std::cerr << "fnwarden policy verify: " << key.error() << "\n";
        return kExitUsage;
    }
    auto refused = [&](const BundleError& why) {
        std::cerr << bundle << ": refused (" << to_string(why.reason) << "): " << why.message << "\n";
        return kExitRefused;
    };
    auto bytes = read_bundle(bundle);
    if (!bytes) return refused(bytes.failure());
    auto verified = verify_bundle(*bytes, *key, std::time(nullptr));
    if (!verified) return refused(verified.failure());
    std::vector<PolicyDocument> documents;
    for (const BundleFile& file : verified->files) documents.push_back({file.name, file.data});
    const PolicySetLoad load = load_policy_set(bundle, documents, {});
    if (!load.ok()) {
        for (const auto& e : load.errors) std::cerr << e.to_string() << "\n";
        return refused(bundle_error(BundleRefusal::InvalidPolicy, "a policy in it does not load"));
    }
    print_summary(bundle, verified->manifest, verified->digest);
    for (const ManifestFile& file : verified->manifest.files)
        std::cout << "  file " << file.name << " sha256 " << file.sha256 << "\n";
    for (const CodePin& pin : verified->manifest.pins) std::cout << "  pin " << pin.path << " sha256 " << pin.sha256 << "\n";
    std::cout << "  " << load.set->policies.size() << " policies, set version " << load.set->version << "\n";
    return 0;
}

}  // namespace fnw::cli
