// SPDX-License-Identifier: Apache-2.0
// An append-only event file written by a thread of its own, with O_DIRECT
// where the file takes it.
//
// Why a thread: the thread that fills it also drains the BPF rings, and a
// write that waits for the disk is time in which the ring fills.
//
// Why O_DIRECT: a trace of 1.5M events a second is about 800 MB/s of JSON
// lines. Through the page cache each 4 KiB of it pays a page allocation,
// buffer heads and a delayed-allocation reservation. On this project's VM
// that was 0.3 to 2.1 ns a byte from run to run (fresh pages are a host
// fault away), i.e. 150 to 1,000 ns a line where 1.5M/s leaves 667 for
// everything. Written directly it is about 0.15 ns a byte, every time, and
// the node's page cache is not filled with lines nobody reads again
// (docs/performance.md, "The event file written directly").
//
// The file keeps append semantics for every writer: it is opened O_APPEND,
// and O_DIRECT only ever appends whole blocks at a block-aligned end of
// file. A partial block (the last lines of a batch that must be visible
// now) is appended through the page cache; the next batch first fills that
// block through the page cache too, then goes on directly. So another
// process appending to the same file, or logrotate's copytruncate, never
// has its bytes overwritten and never leaves a hole: a direct append that
// finds the end unaligned fails with EINVAL, the end is looked up, and the
// block is filled again. Files that offer no direct I/O (tmpfs, pipes, a
// terminal) are written through the page cache, still from the thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/result.hpp"
#include "common/unique_fd.hpp"

namespace fnw {

struct FileAppenderOptions {
    // A batch is handed to the writer once it holds this much.
    size_t batch_bytes = 1u << 20;
    // Batches the writer may hold. A filler that finds them all taken waits
    // (and counts it): its ring buffer then fills and the kernel counts the
    // drops, where an unbounded queue would only move the loss into memory.
    size_t batches_in_flight = 8;
    // A partial batch is handed over at the first idle() this long after the
    // last hand-over: the bound on how late a line shows in the file while
    // the filler is busy.
    std::chrono::milliseconds latency{20};
    // Off: always through the page cache (tests, and a file that must be
    // written that way).
    bool allow_direct = true;
    // A symlink at the path is refused unless this is set: a long-lived
    // writer's path can have one planted (between a rotation and the
    // reopen), and root would append to whatever it names. `fnwarden run`
    // sets it: its user names the path for that run (/dev/stdout is one).
    bool follow_symlinks = false;
};

class FileAppender {
public:
    struct Stats {
        uint64_t bytes_written = 0;  // by this appender, each byte once
        uint64_t bytes_lost = 0;     // handed over but not written: disk full, I/O error
        uint64_t filler_waits = 0;   // hand-overs that waited for a batch to be written
        bool direct = false;         // whole blocks are being written with O_DIRECT
    };

    // Opens (creates 0600) `path` for appending.
    static Result<std::unique_ptr<FileAppender>> open(const std::string& path, FileAppenderOptions options = {});
    // Writes to `fd` (standard error, say), which stays the caller's.
    static std::unique_ptr<FileAppender> borrow(int fd, FileAppenderOptions options = {});

    ~FileAppender();  // flush(), then the thread ends
    FileAppender(const FileAppender&) = delete;
    FileAppender& operator=(const FileAppender&) = delete;

    // The batch being filled: whole lines are appended here by one thread,
    // the filler, which is also the only caller of the members below.
    std::string& batch() { return batch_; }
    // After appending: hands a full batch over.
    void hand_over_if_full() {
        if (batch_.size() >= options_.batch_bytes) hand_over(/*visible=*/false);
    }
    // When the filler has nothing more for now: hands a partial batch over
    // if the last hand-over is older than the latency.
    void idle();
    // Hands everything over and waits until it is in the file.
    void flush();

    Stats stats() const;
    // The file's descriptor, to fstat it. Writes are the writer thread's.
    int fd() const { return fd_; }

private:
    FileAppender(UniqueFd owned, int fd, FileAppenderOptions options);

    // `visible`: the writer also appends the last, partial block, so that
    // everything handed over so far can be read from the file.
    void hand_over(bool visible);
    void run();

    struct Batch {
        std::string bytes;
        bool visible = false;
    };
    void write_batch(const Batch& batch);
    // Appends staging_'s whole blocks directly (first filling the end of
    // file's partial block through the page cache); `visible`: the partial
    // block left over too, through the page cache.
    void write_staged(bool visible);
    void consume(size_t n);  // drops staging_'s first n bytes
    size_t append_buffered(std::string_view bytes);  // what was written
    bool set_direct_flag(bool on);
    void give_up_direct(const char* why);
    void note_lost(size_t bytes, int error);

    const FileAppenderOptions options_;
    UniqueFd owned_;
    const int fd_;

    // The filler's side.
    std::string batch_;
    std::chrono::steady_clock::time_point last_hand_over_;
    bool unseen_ = false;  // the last hand-over left its partial block to the writer

    // The writer's side. Direct I/O state: staging_ is aligned for the
    // device, holds carry_ bytes not written yet at its start, and
    // eof_misalign_ is where this writer believes the file's end is within
    // a block.
    size_t block_ = 0;  // 0: no direct I/O
    struct FreeDeleter {
        void operator()(void* p) const;
    };
    std::unique_ptr<char, FreeDeleter> staging_;
    size_t staging_capacity_ = 0;
    size_t carry_ = 0;
    size_t eof_misalign_ = 0;
    bool direct_flag_on_ = false;

    mutable std::mutex mutex_;
    std::condition_variable batch_ready_;   // to the writer
    std::condition_variable batch_written_; // to the filler (room, or a flush done)
    std::deque<Batch> queue_;
    std::vector<std::string> spare_;  // written batches' strings, their capacity kept
    bool writing_ = false;            // the writer holds a batch taken off queue_
    bool stopping_ = false;

    std::atomic<uint64_t> bytes_written_{0};
    std::atomic<uint64_t> bytes_lost_{0};
    std::atomic<uint64_t> filler_waits_{0};
    std::atomic<bool> direct_{false};
    uint64_t failures_ = 0;  // the writer's; the first few are logged

    std::thread writer_;  // started at the first hand-over (hand_over says why)
};

}  // namespace fnw
