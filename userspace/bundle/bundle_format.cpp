// SPDX-License-Identifier: Apache-2.0
#include "bundle/bundle_format.hpp"

#include <set>

namespace fnw {
namespace {

// Reads the container front to back; every read checks what is left first,
// so no length in the input can make it read past the end.
class Reader {
public:
    explicit Reader(std::string_view bytes) : bytes_(bytes) {}

    bool take(size_t n, std::string_view& out) {
        if (bytes_.size() - offset_ < n) return false;
        out = bytes_.substr(offset_, n);
        offset_ += n;
        return true;
    }
    bool number(size_t width, uint64_t& out) {
        std::string_view raw;
        if (!take(width, raw)) return false;
        out = 0;
        for (unsigned char c : raw) out = (out << 8) | c;
        return true;
    }
    size_t offset() const { return offset_; }
    bool at_end() const { return offset_ == bytes_.size(); }

private:
    std::string_view bytes_;
    size_t offset_ = 0;
};

void put_number(std::string& out, uint64_t value, size_t width) {
    for (size_t i = width; i-- > 0;) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

bool ends_with(std::string_view text, std::string_view suffix) {
    return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

std::string at(size_t offset) { return "at byte " + std::to_string(offset) + ": "; }

// A length-prefixed field: its size read, checked against `limit`, then
// its bytes.
Result<std::string_view, BundleError> sized_field(Reader& in, size_t width, size_t limit, const std::string& what) {
    const size_t start = in.offset();
    uint64_t size = 0;
    if (!in.number(width, size)) return bundle_error(BundleRefusal::Malformed, at(start) + "truncated before the size of " + what);
    if (size > limit)
        return bundle_error(BundleRefusal::TooLarge, at(start) + what + " of " + std::to_string(size) +
                                                    " bytes, more than the " + std::to_string(limit) + " allowed");
    std::string_view bytes;
    if (!in.take(size, bytes))
        return bundle_error(BundleRefusal::Malformed, at(in.offset()) + "truncated inside " + what);
    return bytes;
}

Result<BundleFile, BundleError> read_file_entry(Reader& in, size_t index) {
    const std::string which = "file " + std::to_string(index + 1);
    auto name = sized_field(in, 2, kMaxBundleNameBytes, "the name of " + which);
    if (!name) return name.failure();
    if (std::string problem = bundle_name_problem(*name); !problem.empty())
        return bundle_error(BundleRefusal::Malformed, which + ": " + problem);
    auto data = sized_field(in, 4, kMaxBundleFileBytes, std::string(*name));
    if (!data) return data.failure();
    return BundleFile{std::string(*name), std::string(*data)};
}

}  // namespace

std::string_view to_string(BundleRefusal reason) {
    switch (reason) {
    case BundleRefusal::Unreadable: return "unreadable";
    case BundleRefusal::TooLarge: return "too_large";
    case BundleRefusal::Malformed: return "malformed";
    case BundleRefusal::Unsigned: return "unsigned";
    case BundleRefusal::BadSignature: return "bad_signature";
    case BundleRefusal::WrongKey: return "wrong_key";
    case BundleRefusal::DigestMismatch: return "digest_mismatch";
    case BundleRefusal::Expired: return "expired";
    case BundleRefusal::InvalidPolicy: return "invalid_policy";
    case BundleRefusal::UnsignedSource: return "unsigned_source";
    case BundleRefusal::Rollback: return "rollback";
    }
    return "unknown";
}

std::vector<BundleRefusal> all_bundle_refusals() {
    return {BundleRefusal::Unreadable,     BundleRefusal::TooLarge,      BundleRefusal::Malformed,
            BundleRefusal::Unsigned,       BundleRefusal::BadSignature,  BundleRefusal::WrongKey,
            BundleRefusal::DigestMismatch, BundleRefusal::Expired,       BundleRefusal::InvalidPolicy,
            BundleRefusal::UnsignedSource, BundleRefusal::Rollback};
}

std::string bundle_name_problem(std::string_view name) {
    if (name.empty()) return "empty name";
    if (name.size() > kMaxBundleNameBytes) return "name longer than " + std::to_string(kMaxBundleNameBytes) + " bytes";
    const std::string quoted = "name \"" + std::string(name) + "\"";
    if (name.front() == '/') return quoted + " is absolute";
    for (unsigned char c : name)
        if (c < 0x20 || c == 0x7f || c == '\\') return "name with a control character or backslash";
    size_t begin = 0;
    while (begin <= name.size()) {
        const size_t end = std::min(name.find('/', begin), name.size());
        const std::string_view part = name.substr(begin, end - begin);
        if (part.empty()) return quoted + " has an empty component";
        if (part == "." || part == "..") return quoted + " has a \"" + std::string(part) + "\" component";
        if (part.front() == '.') return quoted + " has a hidden component (a rules directory skips those)";
        begin = end + 1;
    }
    if (!ends_with(name, ".yaml") && !ends_with(name, ".yml")) return quoted + " is not *.yaml or *.yml";
    return "";
}

Result<std::string> encode_bundle(const BundleContainer& container) {
    if (container.manifest.size() > kMaxManifestBytes) return fail("manifest too large");
    if (container.files.size() > kMaxBundleFiles)
        return fail(std::to_string(container.files.size()) + " files, more than the " +
                    std::to_string(kMaxBundleFiles) + " a bundle may hold");
    std::string out(kBundleMagic);
    put_number(out, container.manifest.size(), 4);
    out += container.manifest;
    put_number(out, container.signature.size(), 4);
    out += container.signature;
    put_number(out, container.files.size(), 4);
    for (const BundleFile& file : container.files) {
        if (std::string problem = bundle_name_problem(file.name); !problem.empty()) return fail(problem);
        if (file.data.size() > kMaxBundleFileBytes)
            return fail(file.name + ": larger than " + std::to_string(kMaxBundleFileBytes) + " bytes");
        put_number(out, file.name.size(), 2);
        out += file.name;
        put_number(out, file.data.size(), 4);
        out += file.data;
    }
    if (out.size() > kMaxBundleBytes) return fail("bundle larger than " + std::to_string(kMaxBundleBytes) + " bytes");
    return out;
}

Result<BundleContainer, BundleError> decode_bundle(std::string_view bytes) {
    if (bytes.size() > kMaxBundleBytes)
        return bundle_error(BundleRefusal::TooLarge,
                            "bundle of " + std::to_string(bytes.size()) + " bytes, more than the " +
                                std::to_string(kMaxBundleBytes) + " allowed");
    Reader in(bytes);
    std::string_view magic;
    if (!in.take(kBundleMagic.size(), magic) || magic != kBundleMagic)
        return bundle_error(BundleRefusal::Malformed, "not a fnwarden bundle (no \"FNWBND01\" at the start)");
    BundleContainer container;
    auto manifest = sized_field(in, 4, kMaxManifestBytes, "the manifest");
    if (!manifest) return manifest.failure();
    container.manifest = std::string(*manifest);
    auto signature = sized_field(in, 4, kEd25519SignatureBytes, "the signature");
    if (!signature) return signature.failure();
    if (!signature->empty() && signature->size() != kEd25519SignatureBytes)
        return bundle_error(BundleRefusal::Malformed, "a signature of " + std::to_string(signature->size()) +
                                                          " bytes; Ed25519 signatures have 64");
    container.signature = std::string(*signature);

    const size_t count_at = in.offset();
    uint64_t count = 0;
    if (!in.number(4, count)) return bundle_error(BundleRefusal::Malformed, at(count_at) + "truncated before the file count");
    if (count > kMaxBundleFiles)
        return bundle_error(BundleRefusal::TooLarge, std::to_string(count) + " files, more than the " +
                                                         std::to_string(kMaxBundleFiles) + " allowed");
    std::set<std::string, std::less<>> names;
    for (size_t i = 0; i < count; ++i) {
        auto file = read_file_entry(in, i);
        if (!file) return file.failure();
        if (!names.insert(file->name).second)
            return bundle_error(BundleRefusal::Malformed, "file \"" + file->name + "\" appears twice");
        container.files.push_back(std::move(*file));
    }
    if (!in.at_end())
        return bundle_error(BundleRefusal::Malformed,
                            at(in.offset()) + std::to_string(bytes.size() - in.offset()) + " bytes after the last file");
    return container;
}

}  // namespace fnw
