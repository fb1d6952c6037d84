// SPDX-License-Identifier: Apache-2.0
#include "output/file_appender.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include <spdlog/spdlog.h>

#ifndef STATX_DIOALIGN
#define STATX_DIOALIGN 0x00002000U  // Linux 6.1; older headers lack the name, not the kernel the call
#endif

namespace fnw {

namespace {

using Clock = std::chrono::steady_clock;

// The largest block we align to: a device or file system that asks for
// more is written through the page cache.
constexpr size_t kMaxDirectBlock = 64u << 10;
// The first failures are logged; after that, only the count grows (stats()).
constexpr uint64_t kLoggedFailures = 3;

// The block O_DIRECT appends to `fd` must come in (alignment of the file
// offset, of the length, and of the memory), or 0 where the file takes no
// direct I/O: not a regular file, or a file system that reports no
// STATX_DIOALIGN (tmpfs, most FUSE). At least st_blksize: ext4 takes
// 512-byte direct writes into a 4 KiB block too, but as "unaligned I/O",
// serialized and with the rest of the block zeroed.
size_t direct_block(int fd, const struct stat& st) {
    if (!S_ISREG(st.st_mode)) return 0;
    struct statx stx {};
    if (::statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) != 0) return 0;
    if (!(stx.stx_mask & STATX_DIOALIGN) || stx.stx_dio_offset_align == 0) return 0;
    const size_t block = std::max<size_t>(
        {stx.stx_dio_offset_align, stx.stx_dio_mem_align, static_cast<size_t>(std::max<blksize_t>(st.st_blksize, 0))});
    return std::has_single_bit(block) && block <= kMaxDirectBlock ? block : 0;
}

size_t round_up(size_t n, size_t block) { return (n + block - 1) / block * block; }

}  // namespace

void FileAppender::FreeDeleter::operator()(void* p) const { std::free(p); }

Result<std::unique_ptr<FileAppender>> FileAppender::open(const std::string& path, FileAppenderOptions options) {
    const int nofollow = options.follow_symlinks ? 0 : O_NOFOLLOW;
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | nofollow, 0600));
    if (!fd.valid())
        return fail(errno == ELOOP ? path + ": is a symbolic link; refusing to follow it (name the file itself)"
                                   : path + ": " + std::strerror(errno));
    const int raw = fd.get();
    return std::unique_ptr<FileAppender>(new FileAppender(std::move(fd), raw, options));
}

std::unique_ptr<FileAppender> FileAppender::borrow(int fd, FileAppenderOptions options) {
    // Its file description is shared with whoever gave it to us: its flags
    // (O_DIRECT) are not ours to change.
    options.allow_direct = false;
    return std::unique_ptr<FileAppender>(new FileAppender(UniqueFd(), fd, options));
}

FileAppender::FileAppender(UniqueFd owned, int fd, FileAppenderOptions options)
    : options_([&] {
          options.batch_bytes = std::max<size_t>(options.batch_bytes, 1);
          options.batches_in_flight = std::max<size_t>(options.batches_in_flight, 1);
          return options;
      }()),
      owned_(std::move(owned)), fd_(fd), last_hand_over_(Clock::now()) {
    struct stat st {};
    if (options_.allow_direct && ::fstat(fd_, &st) == 0) {
        if (const size_t block = direct_block(fd_, st)) {
            staging_capacity_ = round_up(options_.batch_bytes, block) + block;
            staging_.reset(static_cast<char*>(std::aligned_alloc(block, staging_capacity_)));
            if (staging_) {
                block_ = block;
                eof_misalign_ = static_cast<size_t>(st.st_size) % block;
                if (!set_direct_flag(true)) block_ = 0;
            }
        }
    }
    direct_ = block_ != 0;
}

FileAppender::~FileAppender() {
    flush();
    if (!writer_.joinable()) return;
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    batch_ready_.notify_one();
    writer_.join();
}

void FileAppender::hand_over(bool visible) {
    if (batch_.empty() && !visible) return;
    // The thread starts with the first bytes, not with the appender: until
    // then the process may still be single-threaded, which `run` needs to
    // start its function inside its cgroup (clone3 CLONE_INTO_CGROUP skips
    // glibc's fork handlers, so it is only taken while no other thread
    // exists: function_runner.cpp, fork_into_cgroup).
    if (!writer_.joinable()) {
        if (batch_.empty()) return;  // nothing was ever handed over
        writer_ = std::thread([this] { run(); });
    }
    last_hand_over_ = Clock::now();
    unseen_ = !visible;
    std::unique_lock lock(mutex_);
    if (queue_.size() >= options_.batches_in_flight) {
        filler_waits_.fetch_add(1, std::memory_order_relaxed);
        batch_written_.wait(lock, [&] { return queue_.size() < options_.batches_in_flight; });
    }
    std::string next;
    if (!spare_.empty()) {
        next = std::move(spare_.back());
        spare_.pop_back();
    }
    queue_.push_back(Batch{std::move(batch_), visible});
    batch_ = std::move(next);
    lock.unlock();
    batch_ready_.notify_one();
}

void FileAppender::idle() {
    if ((batch_.empty() && !unseen_) || Clock::now() - last_hand_over_ < options_.latency) return;
    hand_over(/*visible=*/true);
}

void FileAppender::flush() {
    hand_over(/*visible=*/true);
    if (!writer_.joinable()) return;
    std::unique_lock lock(mutex_);
    batch_written_.wait(lock, [&] { return queue_.empty() && !writing_; });
}

FileAppender::Stats FileAppender::stats() const {
    return Stats{bytes_written_.load(std::memory_order_relaxed), bytes_lost_.load(std::memory_order_relaxed),
                 filler_waits_.load(std::memory_order_relaxed), direct_.load(std::memory_order_relaxed)};
}

void FileAppender::run() {
    // One burst must not pin megabytes for the rest of the run.
    const size_t kept_capacity = options_.batch_bytes * 2;
    std::unique_lock lock(mutex_);
    for (;;) {
        batch_ready_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        Batch batch = std::move(queue_.front());
        queue_.pop_front();
        writing_ = true;
        lock.unlock();
        write_batch(batch);
        batch.bytes.clear();
        if (batch.bytes.capacity() > kept_capacity) std::string().swap(batch.bytes);
        lock.lock();
        spare_.push_back(std::move(batch.bytes));
        writing_ = false;
        batch_written_.notify_all();
    }
}

// --- the writer's side ------------------------------------------------------

void FileAppender::write_batch(const Batch& batch) {
    std::string_view rest = batch.bytes;
    if (!block_) {
        append_buffered(rest);
        return;
    }
    do {
        const size_t n = std::min(rest.size(), staging_capacity_ - carry_);
        std::memcpy(staging_.get() + carry_, rest.data(), n);
        carry_ += n;
        rest.remove_prefix(n);
        write_staged(/*visible=*/batch.visible && rest.empty());
    } while (!rest.empty() && block_);
    if (!rest.empty()) append_buffered(rest);  // direct I/O given up half-way
}

void FileAppender::write_staged(bool visible) {
    int moved_ends = 0;  // EINVALs answered by a fresh look at the end of file
    while (block_) {
        if (eof_misalign_) {
            // The end of file is inside a block: fill it through the page
            // cache, then append whole blocks directly.
            const size_t fill = std::min(block_ - eof_misalign_, carry_);
            eof_misalign_ = (eof_misalign_ + append_buffered({staging_.get(), fill})) % block_;
            consume(fill);
            if (eof_misalign_) break;  // not enough staged to fill it
        }
        const size_t whole = carry_ / block_ * block_;
        if (!whole) break;
        if (!set_direct_flag(true)) {
            give_up_direct(std::strerror(errno));
            break;
        }
        const ssize_t n = ::write(fd_, staging_.get(), whole);
        if (n > 0) {
            bytes_written_.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
            eof_misalign_ = static_cast<size_t>(n) % block_;
            consume(static_cast<size_t>(n));
            moved_ends = 0;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EINVAL && moved_ends++ < 2) {
            // Another writer appended, or the file was truncated: the end
            // is not where we left it. Never write over it: look it up.
            struct stat st {};
            if (::fstat(fd_, &st) == 0 && static_cast<size_t>(st.st_size) % block_ != 0) {
                eof_misalign_ = static_cast<size_t>(st.st_size) % block_;
                continue;
            }
        }
        if (n < 0 && errno == EINVAL) {
            // Aligned, and still refused: this file takes no direct I/O
            // after all (a file system that reported STATX_DIOALIGN for
            // something else). The page cache it is, for good.
            give_up_direct(std::strerror(errno));
            break;
        }
        note_lost(whole, n < 0 ? errno : EIO);
        consume(whole);
    }
    if (!block_) {
        append_buffered({staging_.get(), carry_});
        consume(carry_);
        return;
    }
    if (visible && carry_) {
        eof_misalign_ = (eof_misalign_ + append_buffered({staging_.get(), carry_})) % block_;
        consume(carry_);
    }
}

void FileAppender::consume(size_t n) {
    std::memmove(staging_.get(), staging_.get() + n, carry_ - n);
    carry_ -= n;
}

size_t FileAppender::append_buffered(std::string_view bytes) {
    if (!set_direct_flag(false)) {
        note_lost(bytes.size(), errno);
        return 0;
    }
    size_t written = 0;
    while (written < bytes.size()) {
        const ssize_t n = ::write(fd_, bytes.data() + written, bytes.size() - written);
        if (n > 0) {
            written += static_cast<size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            // A borrowed descriptor left non-blocking by whoever started
            // us: wait like a blocking one would rather than lose the batch.
            pollfd pfd{fd_, POLLOUT, 0};
            if (::poll(&pfd, 1, -1) >= 0 || errno == EINTR) continue;
        }
        note_lost(bytes.size() - written, n < 0 ? errno : EIO);  // write() == 0 makes no progress
        break;
    }
    bytes_written_.fetch_add(written, std::memory_order_relaxed);
    return written;
}

void FileAppender::give_up_direct(const char* why) {
    spdlog::info("event file: direct writes refused ({}); writing through the page cache", why);
    (void)set_direct_flag(false);
    block_ = 0;
    direct_ = false;
}

bool FileAppender::set_direct_flag(bool on) {
    if (direct_flag_on_ == on) return true;
    const int flags = ::fcntl(fd_, F_GETFL);
    if (flags < 0 || ::fcntl(fd_, F_SETFL, on ? flags | O_DIRECT : flags & ~O_DIRECT) != 0) return false;
    direct_flag_on_ = on;
    return true;
}

void FileAppender::note_lost(size_t bytes, int error) {
    const uint64_t lost = bytes_lost_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
    if (++failures_ <= kLoggedFailures)
        spdlog::warn("event file: {} bytes not written: {} ({} bytes lost so far)", bytes, std::strerror(error),
                     lost);
}

}  // namespace fnw
