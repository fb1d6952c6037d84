#include "runtime/exec_hash.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <vector>

#include <openssl/evp.h>

#include "common/kernel_dev.hpp"
#include "common/unique_fd.hpp"

namespace fnw {

std::optional<Sha256> sha256_of_fd(int fd) {
    // OpenSSL's EVP interface: the maintained, hardware-accelerated SHA-256
    // that every Debian host already has (libcurl links it).
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) return std::nullopt;
    std::vector<unsigned char> buf(1 << 16);
    for (;;) {
        const ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return std::nullopt;
        }
        if (n == 0) break;
        if (EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(n)) != 1) return std::nullopt;
    }
    Sha256 out{};
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1 || len != out.size()) return std::nullopt;
    return out;
}

std::string to_hex(const Sha256& digest) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(digest.size() * 2);
    for (uint8_t byte : digest) {
        out.push_back(kDigits[byte >> 4]);
        out.push_back(kDigits[byte & 0xf]);
    }
    return out;
}

namespace {

constexpr long kOverlayfsMagic = 0x794c7630;  // OVERLAYFS_SUPER_MAGIC

bool on_overlayfs(int fd) {
    struct statfs fs {};
    return ::fstatfs(fd, &fs) == 0 && fs.f_type == kOverlayfsMagic;
}

// An open file that is the inode the kernel executed, or an invalid fd.
UniqueFd open_executed(pid_t pid, uint64_t dev, uint64_t ino, const std::string& path, struct stat& st) {
    const std::string exe = "/proc/" + std::to_string(pid) + "/exe";
    for (const std::string& candidate : {exe, path}) {
        if (candidate.empty()) continue;
        UniqueFd fd(::open(candidate.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
        if (!fd.valid() || ::fstat(fd.get(), &st) != 0) continue;
        // The pid may have been reused, the path replaced: only the inode counts.
        if (kernel_dev(st.st_dev) == dev && st.st_ino == ino) return fd;
        // Except on overlayfs (a container's root): the kernel executed the
        // layer's inode, which no stat shows. The name is all there is: the
        // process's exe still naming the executed path, or the path itself.
        // A file swapped between the exec and this read goes unseen there.
        if (!on_overlayfs(fd.get())) continue;
        std::error_code ec;
        if (candidate == path || std::filesystem::read_symlink(exe, ec) == path) return fd;
    }
    return UniqueFd();
}

}  // namespace

std::optional<Sha256> ExecHasher::digest_of(int fd, const Version& version) {
    if (auto hit = cache_.find(version); hit != cache_.end()) {
        ++stats_.cache_hits;
        return hit->second;
    }
    auto digest = sha256_of_fd(fd);
    if (!digest) return std::nullopt;
    ++stats_.hashed;
    if (cache_.size() >= kMaxCached) cache_.clear();  // bounded; a refill costs one hash per program
    cache_.emplace(version, *digest);
    return digest;
}

ExecHasher::Verdict ExecHasher::verify(pid_t pid, uint64_t dev, uint64_t ino, const std::string& path,
                                       const std::string& expected_hex) {
    Verdict verdict;
    struct stat st {};
    UniqueFd fd = open_executed(pid, dev, ino, path, st);
    std::optional<Sha256> digest;
    if (fd.valid())
        digest = digest_of(fd.get(), Version{dev, ino, st.st_size,
                                             int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec,
                                             int64_t{st.st_ctim.tv_sec} * 1'000'000'000 + st.st_ctim.tv_nsec});
    if (!digest) {
        ++stats_.unreadable;
        verdict.check = FNW_SHA256_UNREADABLE;
        return verdict;
    }
    verdict.digest = *digest;
    verdict.check = to_hex(*digest) == expected_hex ? FNW_SHA256_MATCH : FNW_SHA256_MISMATCH;
    return verdict;
}

}  // namespace fnw
