// SPDX-License-Identifier: Apache-2.0
// Where decoded events go (a JSON-lines file or stdout, an HTTP webhook) and
// the pipeline that hands them over off the event-loop thread: a slow disk or
// a slow receiver costs events (counted), never ring-buffer reads.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/result.hpp"
#include "output/file_appender.hpp"

namespace fnw {

// Sinks are called from one pipeline worker thread only, so they need no
// locking of their own against each other's calls.
class EventSink {
public:
    virtual ~EventSink() = default;
    // Each line is one serialized JSON object, without a trailing newline.
    // Views into the pipeline's block of lines, valid for the call only.
    virtual void write_lines(std::span<const std::string_view> lines) = 0;
    // The same for lines held as strings (a sink's own conversions, tests).
    void write_batch(std::span<const std::string> lines);
    // SIGHUP: logrotate has moved the files away.
    virtual void reopen() {}
    // The pipeline has handed over everything queued for now: what a sink
    // holds back to write in bigger pieces must reach its destination.
    virtual void idle() {}
    virtual std::string name() const = 0;
};

// Warnings about a failure that repeats for every batch would flood the
// journal; one line every few seconds, with a count, says the same.
class WarningThrottle {
public:
    explicit WarningThrottle(std::chrono::milliseconds interval = std::chrono::seconds(5)) : interval_(interval) {}
    // True when a warning may be logged now; *suppressed_since_last (when
    // given) is set to the number swallowed since the last one logged.
    bool allow(uint64_t* suppressed_since_last = nullptr);

private:
    std::chrono::milliseconds interval_;
    std::chrono::steady_clock::time_point last_{};
    bool logged_once_ = false;
    uint64_t suppressed_ = 0;
};

// One JSON object per line, to stdout or to a file only root can read:
// events name processes, paths and arguments.
class JsonLinesSink final : public EventSink {
public:
    // path "", "-" or "stdout" is standard output. Fails when the file
    // cannot be opened.
    static Result<std::unique_ptr<JsonLinesSink>> open(const std::string& path);

    // Lines are written in bigger pieces than the pipeline's batches, from
    // the appender's thread; idle() waits until they are in the file.
    void write_lines(std::span<const std::string_view> lines) override;
    void idle() override;
    // Opens the path again: after logrotate renamed the file, a new one is
    // created. If that fails the old descriptor is kept (better a renamed
    // file than lost events).
    void reopen() override;
    std::string name() const override;

    // Times bytes were found not written (disk full, I/O error) at an
    // idle() or a reopen.
    uint64_t failed_batches() const { return failed_batches_.load(std::memory_order_relaxed); }

private:
    JsonLinesSink(std::string path, std::unique_ptr<FileAppender> appender)
        : path_(std::move(path)), appender_(std::move(appender)) {}
    bool to_stdout() const { return path_.empty(); }
    void flush_and_count_losses();

    std::string path_;  // empty: stdout, which is not ours to close
    // Whole blocks with O_DIRECT where the file takes them: a storm's lines
    // neither cost the page cache's per-page work nor fill the node's
    // memory with pages nobody reads again (file_appender.hpp).
    std::unique_ptr<FileAppender> appender_;
    bool line_broken_ = false;
    uint64_t lost_seen_ = 0;  // the appender's bytes_lost at the last look
    std::atomic<uint64_t> failed_batches_{0};
    WarningThrottle write_warnings_;
};

struct WebhookOptions {
    std::string url;  // http:// or https://; redirects are not followed
    size_t batch_max_events = 256;
    // How long a partial batch may wait for more events.
    std::chrono::milliseconds flush_interval{1000};
    std::chrono::milliseconds request_timeout{5000};
    std::chrono::milliseconds connect_timeout{5000};
    unsigned max_retries = 5;  // attempts after the first one
    std::chrono::milliseconds backoff_initial{200};
    std::chrono::milliseconds backoff_max{10000};
    size_t queue_capacity_events = 10000;
    // At destruction, how long queued events may still be sent. The last
    // events of a run are often the interesting ones; a hanging receiver
    // must still not hold up the exit for longer than this.
    std::chrono::milliseconds shutdown_grace{1000};
    // Each POST's body is one event, not an array: what falcosidekick (and
    // Falco's http_output) expects. Batches are then of one event.
    bool one_event_per_request = false;
};

struct WebhookStats {
    uint64_t sent_events = 0;
    uint64_t sent_batches = 0;
    uint64_t failed_attempts = 0;        // HTTP status >= 300 or transport error
    uint64_t dropped_queue_full = 0;     // write_batch() found no room
    uint64_t dropped_after_retries = 0;  // every attempt failed
    uint64_t dropped_rejected = 0;       // 3xx or 4xx other than 408/429: retrying cannot help
    uint64_t dropped_at_shutdown = 0;    // still queued or in flight when the grace ran out
    uint64_t queued = 0;

    uint64_t dropped_events() const {
        return dropped_queue_full + dropped_after_retries + dropped_rejected + dropped_at_shutdown;
    }
};

// POSTs batches as a JSON array. It has its own queue and thread: the
// pipeline worker only enqueues, so a receiver that hangs delays nothing
// but itself.
class WebhookSink final : public EventSink {
public:
    // Fails for an unusable URL or a libcurl failure.
    static Result<std::unique_ptr<WebhookSink>> create(WebhookOptions options);
    ~WebhookSink() override;
    WebhookSink(const WebhookSink&) = delete;
    WebhookSink& operator=(const WebhookSink&) = delete;

    // Never blocks: what does not fit in the queue is dropped and counted.
    void write_lines(std::span<const std::string_view> lines) override;
    std::string name() const override;
    // Readable from any thread.
    WebhookStats stats() const;

private:
    struct Impl;  // keeps libcurl out of this header
    explicit WebhookSink(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

struct OutputPipelineOptions {
    size_t queue_capacity_lines = 65536;
    size_t batch_max_lines = 1024;
    // At destruction, how long the worker may keep writing what is queued.
    std::chrono::milliseconds drain_timeout{2000};
    // The queue's memory, lines and their bookkeeping: 65,536 lines of a
    // file event's 4 KiB path would be 256 MiB. A storm that the daemon now
    // reads in full filled the line count (docs/performance.md, "Start-up").
    size_t queue_capacity_bytes = 16u << 20;
    // Lines are pushed into a block, handed to the worker once it holds
    // this much (or at hand_over()).
    size_t block_bytes = 256u << 10;
    // The sinks' idle() (JsonLinesSink's waits until its lines are in the
    // file) at most this often: once the queue empties, and again this
    // long after, if it emptied again meanwhile. Blocks come a turn of the
    // event loop at a time, so the queue empties every few milliseconds in
    // a flood; a wait for the disk each time let the queue overflow.
    std::chrono::milliseconds idle_interval{20};
};

// The event loop pushes serialized events; one worker thread writes them to
// every sink in order.
//
// Lines travel in blocks: the event loop appends each to the block it
// fills, and hands the block over once it is full and once a turn of its
// loop. A std::string, a mutex and a deque node per line were a quarter
// of the daemon's CPU in a traced flood (malloc and free, the lock, the
// worker's moves: docs/performance.md, "A faster host"); a block is one of
// each for thousands of lines, and its memory is used again.
class OutputPipeline {
public:
    struct Stats {
        uint64_t queued = 0;   // handed over, not yet written (the block being filled is not counted)
        uint64_t written = 0;  // lines handed to the sinks (each line counted once)
        uint64_t dropped = 0;  // push() refused, or left over when the drain timed out
    };

    explicit OutputPipeline(std::vector<std::unique_ptr<EventSink>> sinks, OutputPipelineOptions options = {});
    // Hands over what was pushed, then lets the worker drain it (at most
    // drain_timeout). From the thread that pushes.
    ~OutputPipeline();
    OutputPipeline(const OutputPipeline&) = delete;
    OutputPipeline& operator=(const OutputPipeline&) = delete;

    // push() and hand_over() are the filler's: one thread (the daemon's
    // event loop) calls them. Never waits for a sink: false (and a drop
    // counted) when the line does not fit, in lines or in bytes, beside
    // what is queued and the block being filled.
    bool push(std::string_view line);
    // The lines pushed so far go to the worker now. The event loop calls
    // it once a turn: a line waits at most a turn of the loop.
    void hand_over();
    // From the event loop when it reads SIGHUP (signalfd), not from a signal
    // handler: it takes a mutex. Sinks reopen before the next batch.
    void request_reopen();
    // From any thread (the metrics server's too).
    Stats stats() const;

private:
    // Lines, each followed by '\n', and where each ends.
    struct Block {
        std::string bytes;
        std::vector<uint32_t> ends;  // offset of each line's '\n'
        void clear() {
            bytes.clear();
            ends.clear();
        }
    };
    void run();
    void write_block(const Block& block, std::vector<std::string_view>& lines);

    const OutputPipelineOptions options_;
    std::vector<std::unique_ptr<EventSink>> sinks_;

    // The filler's.
    Block filling_;
    WarningThrottle drop_warnings_;

    mutable std::mutex mutex_;
    std::condition_variable wake_worker_;
    std::deque<Block> queue_;
    std::vector<Block> spares_;  // written blocks, their memory kept
    // What queue_ and the block being written hold. Changed under mutex_;
    // the filler reads them without it: they only shrink behind its back,
    // so its check never lets the queue past its bounds.
    std::atomic<size_t> queued_bytes_{0}, queued_lines_{0};
    bool stopping_ = false;
    bool reopen_requested_ = false;
    std::chrono::steady_clock::time_point drain_deadline_{};

    std::atomic<uint64_t> written_{0};
    std::atomic<uint64_t> dropped_{0};

    std::thread worker_;  // last: started once everything above exists
};

}  // namespace fnw
