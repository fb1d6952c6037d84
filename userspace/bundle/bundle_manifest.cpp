// SPDX-License-Identifier: Apache-2.0
#include "bundle/bundle_manifest.hpp"

#include <ctime>
#include <limits>

#include <nlohmann/json.hpp>

#include "common/json_nesting.hpp"

namespace fnw {
namespace {

using nlohmann::json;

// A manifest has three levels (common/json_nesting.hpp says why a limit).
constexpr size_t kMaxManifestDepth = 8;

BundleError malformed(std::string message) { return bundle_error(BundleRefusal::Malformed, "manifest: " + message); }

// A string member, present and a string.
const json* string_member(const json& object, const char* key) {
    auto it = object.find(key);
    return it != object.end() && it->is_string() ? &*it : nullptr;
}

Result<std::vector<ManifestFile>, BundleError> read_files(const json& list) {
    if (!list.is_array()) return malformed("\"files\" must be a list");
    if (list.size() > kMaxBundleFiles) return bundle_error(BundleRefusal::TooLarge, "manifest: too many files");
    std::vector<ManifestFile> files;
    for (const json& entry : list) {
        const json* name = entry.is_object() ? string_member(entry, "name") : nullptr;
        const json* digest = entry.is_object() ? string_member(entry, "sha256") : nullptr;
        auto size = entry.is_object() ? entry.find("size") : entry.end();
        if (!name || !digest || size == entry.end() || !size->is_number_unsigned())
            return malformed("each file needs a string \"name\", a whole \"size\" and a \"sha256\"");
        if (!is_sha256_hex(digest->get<std::string>()))
            return malformed("file \"" + name->get<std::string>() + "\": sha256 is not 64 lowercase hex digits");
        files.push_back({name->get<std::string>(), size->get<uint64_t>(), digest->get<std::string>()});
    }
    return files;
}

Result<std::vector<CodePin>, BundleError> read_pins(const json& list) {
    if (!list.is_array()) return malformed("\"pins\" must be a list");
    if (list.size() > kMaxCodePins) return bundle_error(BundleRefusal::TooLarge, "manifest: too many pins");
    std::vector<CodePin> pins;
    for (const json& entry : list) {
        const json* path = entry.is_object() ? string_member(entry, "path") : nullptr;
        const json* digest = entry.is_object() ? string_member(entry, "sha256") : nullptr;
        if (!path || !digest || !is_sha256_hex(digest->get<std::string>()) ||
            !path->get<std::string>().starts_with('/'))
            return malformed("each pin needs an absolute \"path\" and a 64-digit hex \"sha256\"");
        pins.push_back({path->get<std::string>(), digest->get<std::string>()});
    }
    return pins;
}

Result<int64_t, BundleError> read_time(const json& root, const char* key) {
    const json* text = string_member(root, key);
    if (!text) return malformed(std::string("\"") + key + "\" must be a time like 2026-12-05T12:00:00Z");
    auto seconds = parse_utc_time(text->get<std::string>());
    if (!seconds) return malformed(std::string("\"") + key + "\" is not a time like 2026-12-05T12:00:00Z");
    return *seconds;
}

}  // namespace

bool is_sha256_hex(std::string_view text) {
    if (text.size() != 64) return false;
    for (char c : text)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

std::string format_utc_time(int64_t seconds) {
    const std::time_t t = static_cast<std::time_t>(seconds);
    std::tm utc{};
    ::gmtime_r(&t, &utc);
    char text[32] = {};
    std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &utc);
    return text;
}

std::optional<int64_t> parse_utc_time(std::string_view text) {
    if (text.size() != 20) return std::nullopt;
    std::tm utc{};
    const std::string copy(text);
    const char* end = ::strptime(copy.c_str(), "%Y-%m-%dT%H:%M:%SZ", &utc);
    if (!end || *end != '\0') return std::nullopt;
    const int64_t seconds = ::timegm(&utc);
    // strptime takes "2026-02-31": the round trip refuses what no clock shows.
    if (format_utc_time(seconds) != copy) return std::nullopt;
    return seconds;
}

Result<int64_t> parse_expiry(std::string_view text, int64_t created) {
    if (auto at = parse_utc_time(text)) return *at;
    if (text.size() >= 2 && text.size() <= 10) {
        int64_t unit = 0;
        switch (text.back()) {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        default: break;
        }
        int64_t count = 0;
        bool digits = unit != 0;
        for (char c : text.substr(0, text.size() - 1)) {
            if (c < '0' || c > '9') digits = false;
            else count = count * 10 + (c - '0');
        }
        if (digits && count > 0) return created + count * unit;
    }
    return fail("expiry \"" + std::string(text) +
                "\": give a duration (90m, 12h, 30d, 3600s) or a time like 2026-12-05T12:00:00Z");
}

std::string manifest_json(const BundleManifest& manifest) {
    json root = json::object();
    root["format"] = kBundleFormat;
    root["created"] = format_utc_time(manifest.created);
    if (manifest.expires) root["expires"] = format_utc_time(*manifest.expires);
    root["signer"] = manifest.signer;
    root["files"] = json::array();
    for (const ManifestFile& f : manifest.files)
        root["files"].push_back({{"name", f.name}, {"size", f.size}, {"sha256", f.sha256}});
    root["pins"] = json::array();
    for (const CodePin& p : manifest.pins) root["pins"].push_back({{"path", p.path}, {"sha256", p.sha256}});
    return root.dump(1) + "\n";
}

Result<BundleManifest, BundleError> parse_manifest(std::string_view text) {
    if (text.size() > kMaxManifestBytes) return bundle_error(BundleRefusal::TooLarge, "manifest too large");
    if (json_nesting_exceeds(text, kMaxManifestDepth)) return malformed("nested deeper than a manifest is");
    const json root = json::parse(text, nullptr, false);
    if (root.is_discarded() || !root.is_object()) return malformed("not a JSON object");
    const json* format = string_member(root, "format");
    if (!format || format->get<std::string>() != kBundleFormat)
        return malformed("\"format\" is not \"" + std::string(kBundleFormat) + "\"");
    BundleManifest manifest;
    auto created = read_time(root, "created");
    if (!created) return created.failure();
    manifest.created = *created;
    if (root.contains("expires")) {
        auto expires = read_time(root, "expires");
        if (!expires) return expires.failure();
        manifest.expires = *expires;
    }
    const json* signer = string_member(root, "signer");
    if (!signer || !is_sha256_hex(signer->get<std::string>())) return malformed("\"signer\" is not a key fingerprint");
    manifest.signer = signer->get<std::string>();
    if (!root.contains("files")) return malformed("no \"files\"");
    auto files = read_files(root["files"]);
    if (!files) return files.failure();
    manifest.files = std::move(*files);
    if (root.contains("pins")) {
        auto pins = read_pins(root["pins"]);
        if (!pins) return pins.failure();
        manifest.pins = std::move(*pins);
    }
    return manifest;
}

std::string manifest_signer_hint(std::string_view text) {
    if (text.size() > kMaxManifestBytes || json_nesting_exceeds(text, kMaxManifestDepth)) return "";
    const json root = json::parse(text, nullptr, false);
    if (root.is_discarded() || !root.is_object()) return "";
    const json* signer = string_member(root, "signer");
    return signer && is_sha256_hex(signer->get<std::string>()) ? signer->get<std::string>() : "";
}

}  // namespace fnw
