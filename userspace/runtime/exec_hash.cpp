// SPDX-License-Identifier: Apache-2.0
#include "runtime/exec_hash.hpp"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <memory>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include <openssl/evp.h>

#include "common/hex.hpp"
#include "common/kernel_dev.hpp"
#include "common/unique_fd.hpp"

namespace fnw {

std::optional<Sha256> sha256_of_fd(int fd) {
    return sha256_of_fd(fd, INT64_MAX, std::chrono::steady_clock::time_point::max(), nullptr);
}

std::optional<Sha256> sha256_of_fd(int fd, int64_t max_bytes, std::chrono::steady_clock::time_point deadline,
                                   HashFailure* failure) {
    auto fail = [failure](HashFailure why) -> std::optional<Sha256> {
        if (failure) *failure = why;
        return std::nullopt;
    };
    // OpenSSL's EVP interface: the maintained, hardware-accelerated SHA-256
    // that every Debian host already has (libcurl links it).
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) return fail(HashFailure::ReadError);
    std::vector<unsigned char> buf(1 << 16);
    int64_t total = 0;
    for (;;) {
        // Between reads: a file that grew past the cap, or a slow one.
        if (std::chrono::steady_clock::now() > deadline) return fail(HashFailure::Deadline);
        const ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail(HashFailure::ReadError);
        }
        if (n == 0) break;
        total += n;
        if (total > max_bytes) return fail(HashFailure::TooLarge);
        if (EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(n)) != 1) return fail(HashFailure::ReadError);
    }
    Sha256 out{};
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1 || len != out.size()) return fail(HashFailure::ReadError);
    return out;
}

const char* to_string(HashFailure failure) {
    switch (failure) {
    case HashFailure::None: return "none";
    case HashFailure::NotFound: return "not found";
    case HashFailure::NotRegular: return "not a regular file";
    case HashFailure::OtherInode: return "not the executed inode";
    case HashFailure::TooLarge: return "over the size cap";
    case HashFailure::ReadError: return "read error";
    case HashFailure::Deadline: return "not verified in time";
    }
    return "?";
}

namespace {

constexpr long kOverlayfsMagic = 0x794c7630;  // OVERLAYFS_SUPER_MAGIC

bool on_overlayfs(int fd) {
    struct statfs fs {};
    return ::fstatfs(fd, &fs) == 0 && fs.f_type == kOverlayfsMagic;
}

// An open file that is the inode the kernel executed (or the process
// opened), or an invalid fd and why not. Never blocks: O_NONBLOCK makes
// opening a FIFO return at once (without it, open() waits for a writer that
// never comes), and nothing is read before fstat() says it is a regular
// file, the one the kernel saw.
UniqueFd open_checked(const std::string& exe, uint64_t dev, uint64_t ino, const std::string& path, struct stat& st,
                      HashFailure* failure) {
    constexpr int kFlags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
    *failure = HashFailure::NotFound;
    // /proc/PID/exe (or /proc/PID/fd/N) is a magic link to the very file the
    // process maps (or holds open), not a name anyone can redirect: it must
    // be followed. The path is a name: a
    // symlink there now is not what the kernel resolved (it reports the
    // resolved path), so it is not followed.
    for (const auto& [candidate, flags] : {std::pair{exe, kFlags}, std::pair{path, kFlags | O_NOFOLLOW}}) {
        if (candidate.empty()) continue;
        UniqueFd fd(::open(candidate.c_str(), flags));
        if (!fd.valid()) {
            if (errno == ELOOP && *failure == HashFailure::NotFound) *failure = HashFailure::NotRegular;
            continue;
        }
        if (::fstat(fd.get(), &st) != 0) continue;
        if (!S_ISREG(st.st_mode)) {
            *failure = HashFailure::NotRegular;
            continue;
        }
        // The pid may have been reused, the path replaced: only the inode counts.
        if (kernel_dev(st.st_dev) == dev && st.st_ino == ino) return fd;
        // Except on overlayfs (a container's root): the kernel executed the
        // layer's inode, which no stat shows. The name is all there is: the
        // process's exe still naming the executed path, or the path itself.
        // A file swapped between the exec and this read goes unseen there.
        if (*failure != HashFailure::NotRegular) *failure = HashFailure::OtherInode;
        if (!on_overlayfs(fd.get())) continue;
        std::error_code ec;
        if (candidate == path || std::filesystem::read_symlink(exe, ec) == path) return fd;
    }
    return UniqueFd();
}

}  // namespace

std::optional<Sha256> ExecHasher::digest_of(int fd, const Version& version,
                                            std::chrono::steady_clock::time_point deadline, HashFailure* failure) {
    {
        std::lock_guard lock(cache_mutex_);
        if (auto hit = cache_.find(version); hit != cache_.end()) {
            ++cache_hits_;
            return hit->second;
        }
    }
    // Read outside the lock: another thread's lookups must not wait for it.
    auto digest = sha256_of_fd(fd, limits_.max_bytes, deadline, failure);
    if (!digest) return std::nullopt;
    ++hashed_;
    std::lock_guard lock(cache_mutex_);
    if (cache_.size() >= kMaxCached) cache_.clear();  // bounded; a refill costs one hash per program
    cache_.emplace(version, *digest);
    return digest;
}

ExecHasher::Verdict ExecHasher::verify(pid_t pid, uint64_t dev, uint64_t ino, const std::string& path,
                                       const std::string& expected_hex,
                                       std::optional<std::chrono::steady_clock::time_point> deadline) {
    return verify_at("/proc/" + std::to_string(pid) + "/exe", dev, ino, path, expected_hex, deadline);
}

ExecHasher::Verdict ExecHasher::verify_open(pid_t pid, int fd, uint64_t dev, uint64_t ino, const std::string& path,
                                            const std::string& expected_hex,
                                            std::optional<std::chrono::steady_clock::time_point> deadline) {
    return verify_at("/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd), dev, ino, path, expected_hex,
                     deadline);
}

ExecHasher::Verdict ExecHasher::verify_at(const std::string& magic_link, uint64_t dev, uint64_t ino,
                                          const std::string& path, const std::string& expected_hex,
                                          std::optional<std::chrono::steady_clock::time_point> deadline) {
    const auto until = deadline.value_or(std::chrono::steady_clock::now() + limits_.deadline);
    Verdict verdict;
    struct stat st {};
    HashFailure failure = HashFailure::None;
    UniqueFd fd = open_checked(magic_link, dev, ino, path, st, &failure);
    std::optional<Sha256> digest;
    if (fd.valid()) {
        failure = HashFailure::None;
        if (st.st_size > limits_.max_bytes)
            failure = HashFailure::TooLarge;  // refused unread: a sparse TiB costs nothing
        else
            digest = digest_of(fd.get(),
                               Version{dev, ino, st.st_size,
                                       int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec,
                                       int64_t{st.st_ctim.tv_sec} * 1'000'000'000 + st.st_ctim.tv_nsec},
                               until, &failure);
    }
    if (!digest) {
        ++unreadable_;
        if (failure == HashFailure::NotRegular) ++not_regular_;
        if (failure == HashFailure::TooLarge) ++too_large_;
        if (failure == HashFailure::Deadline) ++deadline_;
        verdict.check = FNW_SHA256_UNREADABLE;
        verdict.failure = failure == HashFailure::None ? HashFailure::ReadError : failure;
        return verdict;
    }
    verdict.digest = *digest;
    verdict.check = to_hex(*digest) == expected_hex ? FNW_SHA256_MATCH : FNW_SHA256_MISMATCH;
    return verdict;
}

ExecHasher::Stats ExecHasher::stats() const {
    Stats s;
    s.hashed = hashed_;
    s.cache_hits = cache_hits_;
    s.unreadable = unreadable_;
    s.not_regular = not_regular_;
    s.too_large = too_large_;
    s.deadline = deadline_;
    return s;
}

// ---- HashWorker -------------------------------------------------------------

struct HashWorker::State {
    std::shared_ptr<ExecHasher> hasher;
    UniqueFd wake;
    unsigned threads = kThreads;

    mutable std::mutex mu;
    std::condition_variable cv;
    struct Queued {
        uint64_t id;
        Job job;
        std::chrono::steady_clock::time_point deadline;
    };
    struct Running {
        uint64_t token;  // the thread
        std::chrono::steady_clock::time_point deadline;
        bool written_off = false;
    };
    // Guarded by mu:
    std::deque<Queued> queue;
    std::map<uint64_t, std::chrono::steady_clock::time_point> open;  // not answered yet -> deadline
    std::map<uint64_t, Running> running;                            // job id -> its thread
    std::vector<Done> done;
    bool stop = false;
    uint64_t next_id = 1, next_token = 1;
    unsigned stuck_now = 0;
    Stats counters;
    // The owner's thread only:
    std::map<uint64_t, std::thread> workers;
};

namespace {

void worker_main(std::shared_ptr<HashWorker::State> s, uint64_t token);

}  // namespace

HashWorker::HashWorker(std::shared_ptr<ExecHasher> hasher, unsigned threads) : state_(std::make_shared<State>()) {
    state_->hasher = std::move(hasher);
    state_->threads = threads == 0 ? 1 : threads;
    state_->wake.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    std::lock_guard lock(state_->mu);
    for (unsigned i = 0; i < state_->threads; ++i) spawn();
}

// Called with state_->mu held.
void HashWorker::spawn() {
    const uint64_t token = state_->next_token++;
    state_->workers.emplace(token, std::thread(worker_main, state_, token));
}

HashWorker::~HashWorker() {
    std::vector<std::thread> join;
    {
        std::lock_guard lock(state_->mu);
        state_->stop = true;
        std::set<uint64_t> busy;
        for (const auto& [id, r] : state_->running) busy.insert(r.token);
        for (auto& [token, thread] : state_->workers) {
            // One inside a read may never return (a hung filesystem): it
            // holds the state alive and ends on its own, or with the process.
            if (busy.count(token))
                thread.detach();
            else
                join.push_back(std::move(thread));
        }
        state_->workers.clear();
    }
    state_->cv.notify_all();
    for (auto& t : join) t.join();
}

int HashWorker::wakeup_fd() const { return state_->wake.get(); }

uint64_t HashWorker::submit(Job job) {
    const auto deadline = std::chrono::steady_clock::now() + state_->hasher->limits().deadline;
    uint64_t id;
    {
        std::lock_guard lock(state_->mu);
        id = state_->next_id++;
        state_->open.emplace(id, deadline);
        state_->queue.push_back({id, std::move(job), deadline});
        ++state_->counters.submitted;
    }
    state_->cv.notify_one();
    return id;
}

std::vector<HashWorker::Done> HashWorker::take(std::chrono::steady_clock::time_point now) {
    uint64_t ignored;
    while (::read(state_->wake.get(), &ignored, sizeof(ignored)) == sizeof(ignored)) {
    }
    std::lock_guard lock(state_->mu);
    std::vector<Done> out = std::move(state_->done);
    state_->done.clear();
    for (auto it = state_->open.begin(); it != state_->open.end();) {
        if (it->second > now) {
            ++it;
            continue;
        }
        Done late;
        late.id = it->first;
        late.verdict.check = FNW_SHA256_UNREADABLE;
        late.verdict.failure = HashFailure::Deadline;
        out.push_back(late);
        ++state_->counters.late;
        it = state_->open.erase(it);
    }
    for (auto& [id, r] : state_->running) {
        if (r.written_off || now < r.deadline + kStuckGrace || state_->stuck_now >= kMaxStuck) continue;
        // Still inside a read well past its deadline: blocked in the kernel.
        // Its answer is already given; give its place to a fresh thread.
        r.written_off = true;
        ++state_->stuck_now;
        ++state_->counters.stuck_threads;
        if (auto t = state_->workers.find(r.token); t != state_->workers.end()) {
            t->second.detach();
            state_->workers.erase(t);
        }
        spawn();
    }
    return out;
}

std::optional<std::chrono::steady_clock::time_point> HashWorker::next_deadline() const {
    std::lock_guard lock(state_->mu);
    std::optional<std::chrono::steady_clock::time_point> first;
    for (const auto& [id, deadline] : state_->open)
        if (!first || deadline < *first) first = deadline;
    return first;
}

HashWorker::Stats HashWorker::stats() const {
    std::lock_guard lock(state_->mu);
    Stats s = state_->counters;
    s.pending = state_->open.size();
    return s;
}

namespace {

void worker_main(std::shared_ptr<HashWorker::State> s, uint64_t token) {
    std::unique_lock lock(s->mu);
    for (;;) {
        s->cv.wait(lock, [&] { return s->stop || !s->queue.empty(); });
        if (s->stop) return;
        HashWorker::State::Queued job = std::move(s->queue.front());
        s->queue.pop_front();
        if (!s->open.count(job.id)) continue;  // answered late while it waited
        s->running[job.id] = {token, job.deadline};
        lock.unlock();
        auto verdict = job.job.fd >= 0 ? s->hasher->verify_open(job.job.pid, job.job.fd, job.job.dev, job.job.ino,
                                                                 job.job.path, job.job.expected_hex, job.deadline)
                                        : s->hasher->verify(job.job.pid, job.job.dev, job.job.ino, job.job.path,
                                                            job.job.expected_hex, job.deadline);
        lock.lock();
        const bool written_off = s->running[job.id].written_off;
        s->running.erase(job.id);
        if (s->open.erase(job.id)) {
            s->done.push_back({job.id, std::move(verdict)});
            const uint64_t one = 1;
            [[maybe_unused]] auto n = ::write(s->wake.get(), &one, sizeof(one));
        }
        if (written_off) {
            --s->stuck_now;  // replaced already, and detached by the owner
            return;
        }
    }
}

}  // namespace

}  // namespace fnw
