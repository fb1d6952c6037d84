// SPDX-License-Identifier: Apache-2.0
// Code integrity for exec.allow entries pinned to a sha256 and for a
// bundle's code pins: the kernel sends every exec of such a policy
// (FNW_POLICY_EXEC_HASHED), and every open or exec in a pinned code
// directory (FNW_OBJECT_CODE_PINNED), to userspace; this hashes the file the
// process actually executes or holds open and says whether it is the pinned
// one. Hashing reads the whole file, so digests are cached by the
// file's identity and version (dev, inode, size, mtime, ctime): a program is
// hashed once per change, not once per exec.
//
// What is under a pinned name is the function's choice: a FIFO, a directory,
// a symlink, a file of a TiB. None of them may stall the reader: files are
// opened non-blocking and without following a last symlink, checked to be
// the regular file the kernel executed before a byte is read, capped in
// size, and read against a deadline. The daemon runs all of it on
// HashWorker's threads, never on its event loop.
#pragma once

#include <sys/types.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <fnwarden/events.h>

#include "common/hex.hpp"

namespace fnw {

using Sha256 = std::array<uint8_t, 32>;

struct HashLimits {
    // Programs larger than this are not read. SHA-256 runs at ~150 MB/s on
    // this project's 2-core CI VM (no SHA extensions): 1 GiB is ~7 s, and
    // a sparse file of a TiB would hold a reader for two hours. Real
    // executables are far below it; over it the verdict is "cannot verify"
    // (FNW_SHA256_UNREADABLE), a violation, killed in enforce.
    static constexpr int64_t kDefaultMaxBytes = int64_t{1} << 30;
    // A hash not finished by then (queued included) is "cannot verify in
    // time": the same violation. Four times the worst case above.
    static constexpr std::chrono::milliseconds kDefaultDeadline{30'000};

    int64_t max_bytes = kDefaultMaxBytes;
    std::chrono::milliseconds deadline = kDefaultDeadline;
};

// Why a program could not be verified (logs, stats, tests).
enum class HashFailure : uint8_t {
    None = 0,
    NotFound,    // neither /proc/PID/exe nor the path could be opened
    NotRegular,  // a FIFO, a directory, a device, a symlink (not followed)
    OtherInode,  // a regular file, but not the one the kernel executed
    TooLarge,    // over HashLimits::max_bytes
    ReadError,
    Deadline,    // not finished in time
};
const char* to_string(HashFailure failure);

// SHA-256 of everything readable from `fd` (from its current offset).
std::optional<Sha256> sha256_of_fd(int fd);
// The same, but failing with TooLarge past `max_bytes` and Deadline past
// `deadline` (checked between 64 KiB reads).
std::optional<Sha256> sha256_of_fd(int fd, int64_t max_bytes, std::chrono::steady_clock::time_point deadline,
                                   HashFailure* failure);
// Inline, so an event's digest is written without linking OpenSSL
// (output/event_json.cpp in fnwarden-run).
inline std::string to_hex(const Sha256& digest) { return to_hex(std::span<const uint8_t>(digest)); }

// Thread-safe: HashWorker's threads share one (and its cache).
class ExecHasher {
public:
    explicit ExecHasher(HashLimits limits = {}) : limits_(limits) {}

    struct Verdict {
        uint8_t check = FNW_SHA256_NOT_CHECKED;  // enum fnw_sha256_check
        Sha256 digest{};                          // valid unless FNW_SHA256_UNREADABLE
        HashFailure failure = HashFailure::None;  // why FNW_SHA256_UNREADABLE
    };

    // The file process `pid` executes, which the kernel saw as (dev, ino;
    // dev in the kernel's encoding) under `path`: /proc/PID/exe while the
    // process lives (the very file it maps, even if replaced or deleted
    // since), else `path` if it is still that inode. Anything else is
    // FNW_SHA256_UNREADABLE: an unverifiable program is not a verified one.
    // Without a deadline, limits().deadline from now.
    Verdict verify(pid_t pid, uint64_t dev, uint64_t ino, const std::string& path, const std::string& expected_hex,
                   std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt);
    // The same for a file process `pid` holds open as `fd` (a code pin's
    // open, the process held until the verdict): /proc/PID/fd/FD first.
    Verdict verify_open(pid_t pid, int fd, uint64_t dev, uint64_t ino, const std::string& path,
                        const std::string& expected_hex,
                        std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt);

    struct Stats {
        uint64_t hashed = 0;      // files read and hashed
        uint64_t cache_hits = 0;  // answered from the cache
        uint64_t unreadable = 0;  // every failure below included
        uint64_t not_regular = 0;
        uint64_t too_large = 0;
        uint64_t deadline = 0;  // given up mid-read
    };
    Stats stats() const;
    const HashLimits& limits() const { return limits_; }

private:
    // dev, ino, size, mtime ns, ctime ns: a write or a chmod changes it.
    using Version = std::tuple<uint64_t, uint64_t, int64_t, int64_t, int64_t>;
    static constexpr size_t kMaxCached = 4096;

    std::optional<Sha256> digest_of(int fd, const Version& version, std::chrono::steady_clock::time_point deadline,
                                    HashFailure* failure);
    Verdict verify_at(const std::string& magic_link, uint64_t dev, uint64_t ino, const std::string& path,
                      const std::string& expected_hex, std::optional<std::chrono::steady_clock::time_point> deadline);

    const HashLimits limits_;
    mutable std::mutex cache_mutex_;
    std::map<Version, Sha256> cache_;  // guarded by cache_mutex_
    std::atomic<uint64_t> hashed_{0}, cache_hits_{0}, unreadable_{0}, not_regular_{0}, too_large_{0}, deadline_{0};
};

// Hashing off the caller's thread: jobs go to a small pool (2 threads), each
// with a deadline counted from submission; results come back through take(),
// and wakeup_fd() (an eventfd) turns readable when one is ready. A job past
// its deadline is answered FNW_SHA256_UNREADABLE/Deadline by take() whether
// or not its thread ever returns; a thread still inside a read a second past
// the deadline (a hung filesystem) is written off and replaced, at most
// kMaxStuck times at once, so the pool never blocks for good and never grows
// without bound. Owned and driven by one thread.
class HashWorker {
public:
    struct Job {
        pid_t pid = 0;
        uint64_t dev = 0, ino = 0;
        std::string path;
        std::string expected_hex;
        int fd = -1;  // >= 0: the file the process holds open as fd (verify_open), not its program
    };
    struct Done {
        uint64_t id = 0;
        ExecHasher::Verdict verdict;
    };
    static constexpr unsigned kThreads = 2;
    static constexpr unsigned kMaxStuck = 4;
    static constexpr std::chrono::milliseconds kStuckGrace{1000};

    HashWorker(std::shared_ptr<ExecHasher> hasher, unsigned threads = kThreads);
    ~HashWorker();
    HashWorker(const HashWorker&) = delete;
    HashWorker& operator=(const HashWorker&) = delete;

    int wakeup_fd() const;
    // An id for take(); the deadline is hasher.limits().deadline from now.
    uint64_t submit(Job job);
    // Finished jobs, and jobs past their deadline (answered Deadline), each
    // id once.
    std::vector<Done> take(std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());
    // The earliest deadline of a job not answered yet: when take() must run.
    std::optional<std::chrono::steady_clock::time_point> next_deadline() const;

    struct Stats {
        uint64_t submitted = 0;
        uint64_t late = 0;           // answered Deadline by take()
        uint64_t stuck_threads = 0;  // written off since the start
        size_t pending = 0;
    };
    Stats stats() const;

    struct State;  // shared with the threads (which may outlive this)

private:
    void spawn();

    std::shared_ptr<State> state_;
};

}  // namespace fnw
