// Code integrity for exec.allow entries pinned to a sha256: the kernel sends
// every exec of such a policy to userspace (FNW_POLICY_EXEC_HASHED); this
// hashes the file the process actually executes and says whether it is the
// pinned one. Hashing reads the whole file, so digests are cached by the
// file's identity and version (dev, inode, size, mtime, ctime): a program is
// hashed once per change, not once per exec.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>

#include <fnwarden/events.h>

namespace fnw {

using Sha256 = std::array<uint8_t, 32>;

// SHA-256 of everything readable from `fd` (from its current offset).
std::optional<Sha256> sha256_of_fd(int fd);
std::string to_hex(const Sha256& digest);

class ExecHasher {
public:
    struct Verdict {
        uint8_t check = FNW_SHA256_NOT_CHECKED;  // enum fnw_sha256_check
        Sha256 digest{};                          // valid unless FNW_SHA256_UNREADABLE
    };

    // The file process `pid` executes, which the kernel saw as (dev, ino;
    // dev in the kernel's encoding) under `path`: /proc/PID/exe while the
    // process lives (the very file it maps, even if replaced or deleted
    // since), else `path` if it is still that inode. Anything else is
    // FNW_SHA256_UNREADABLE: an unverifiable program is not a verified one.
    Verdict verify(pid_t pid, uint64_t dev, uint64_t ino, const std::string& path,
                   const std::string& expected_hex);

    struct Stats {
        uint64_t hashed = 0;      // files read and hashed
        uint64_t cache_hits = 0;  // answered from the cache
        uint64_t unreadable = 0;
    };
    const Stats& stats() const { return stats_; }

private:
    // dev, ino, size, mtime ns, ctime ns: a write or a chmod changes it.
    using Version = std::tuple<uint64_t, uint64_t, int64_t, int64_t, int64_t>;
    static constexpr size_t kMaxCached = 4096;

    std::optional<Sha256> digest_of(int fd, const Version& version);

    std::map<Version, Sha256> cache_;
    Stats stats_;
};

}  // namespace fnw
