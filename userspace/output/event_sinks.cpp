// SPDX-License-Identifier: Apache-2.0
// The JSON-lines sink, the warning throttle and the output pipeline; the
// webhook sink is in webhook_sink.cpp.
#include "output/event_sinks.hpp"

#include "common/result.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>

#include <spdlog/spdlog.h>

namespace fnw {

using Clock = std::chrono::steady_clock;

bool WarningThrottle::allow(uint64_t* suppressed_since_last) {
    const auto now = Clock::now();
    if (logged_once_ && now - last_ < interval_) {
        ++suppressed_;
        return false;
    }
    logged_once_ = true;
    last_ = now;
    const uint64_t suppressed = std::exchange(suppressed_, 0);
    if (suppressed_since_last) *suppressed_since_last = suppressed;
    return true;
}

// --- JSON lines --------------------------------------------------------------

namespace {

bool names_stdout(const std::string& path) { return path.empty() || path == "-" || path == "stdout"; }

// O_APPEND (FileAppender keeps it): a second writer (or the previous
// daemon instance) never has its lines overwritten. 0600: events name
// processes and arguments. No symlink is followed: one planted at the path
// (at start or between a rotation and SIGHUP) would have root append to
// whatever it names.
Result<std::unique_ptr<FileAppender>> open_for_append(const std::string& path) {
    auto appender = FileAppender::open(path);
    if (!appender) return fail(appender.error());
    // O_CREAT's mode only applies to a new file; an existing one keeps what
    // the administrator chose, but a world-readable event log is worth a word.
    struct stat st {};
    if (::fstat((*appender)->fd(), &st) == 0 && (st.st_mode & S_IROTH))
        spdlog::warn("{}: the event log is readable by every user (chmod o-r)", path);
    return appender;
}

}  // namespace

Result<std::unique_ptr<JsonLinesSink>> JsonLinesSink::open(const std::string& path) {
    if (names_stdout(path)) return std::unique_ptr<JsonLinesSink>(new JsonLinesSink("", FileAppender::borrow(STDOUT_FILENO)));
    auto file = open_for_append(path);
    if (!file) return fail(file.error());
    return std::unique_ptr<JsonLinesSink>(new JsonLinesSink(path, std::move(*file)));
}

std::string JsonLinesSink::name() const { return to_stdout() ? "stdout" : "file " + path_; }

void EventSink::write_batch(std::span<const std::string> lines) {
    const std::vector<std::string_view> views(lines.begin(), lines.end());
    write_lines(views);
}

void JsonLinesSink::write_lines(std::span<const std::string_view> lines) {
    std::string& out = appender_->batch();
    if (line_broken_ && !lines.empty()) {
        out += '\n';
        line_broken_ = false;
    }
    for (const std::string_view line : lines) {
        out += line;
        out += '\n';
        appender_->hand_over_if_full();
    }
}

void JsonLinesSink::idle() { flush_and_count_losses(); }

void JsonLinesSink::flush_and_count_losses() {
    appender_->flush();
    const uint64_t lost = appender_->stats().bytes_lost;
    if (lost == lost_seen_) return;
    const uint64_t now_lost = lost - std::exchange(lost_seen_, lost);
    // A failed write may have left half a line: the next batch starts on
    // a new line, so that only the broken events are unreadable.
    line_broken_ = true;
    const uint64_t failed = failed_batches_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (write_warnings_.allow())
        spdlog::warn("{}: {} bytes of events not written ({} times so far)", name(), now_lost, failed);
}

void JsonLinesSink::reopen() {
    if (to_stdout()) return;
    auto file = open_for_append(path_);
    if (!file) {
        spdlog::warn("reopening the event log failed, still writing to the old file: {}", file.error());
        return;
    }
    flush_and_count_losses();  // what was handed over goes to the old file
    appender_ = std::move(*file);
    lost_seen_ = 0;
    line_broken_ = false;
}

// --- pipeline ----------------------------------------------------------------

namespace {

OutputPipelineOptions usable(OutputPipelineOptions options) {
    options.queue_capacity_lines = std::max<size_t>(options.queue_capacity_lines, 1);
    options.batch_max_lines = std::max<size_t>(options.batch_max_lines, 1);
    options.block_bytes = std::max<size_t>(options.block_bytes, 1);
    // A block's line ends are 32-bit offsets, and a block never holds more
    // than the byte bound: bounding the bound keeps every offset in range.
    options.queue_capacity_bytes = std::min<size_t>(options.queue_capacity_bytes, UINT32_MAX);
    return options;
}

// Written blocks kept for their memory: a few, since blocks are handed over
// a turn at a time and the worker takes them as they come.
constexpr size_t kSpareBlocks = 4;

// One misbehaving sink must not take the others (or the process) down.
template <typename Call>
void guarded(EventSink& sink, const char* what, Call&& call) {
    try {
        call();
    } catch (const std::exception& e) {
        spdlog::error("{}: {} failed: {}", sink.name(), what, e.what());
    }
}

}  // namespace

OutputPipeline::OutputPipeline(std::vector<std::unique_ptr<EventSink>> sinks, OutputPipelineOptions options)
    : options_(usable(options)), sinks_(std::move(sinks)), worker_([this] { run(); }) {}

OutputPipeline::~OutputPipeline() {
    hand_over();
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        drain_deadline_ = Clock::now() + options_.drain_timeout;
    }
    wake_worker_.notify_one();
    worker_.join();
}

bool OutputPipeline::push(std::string_view line) {
    const size_t lines = queued_lines_.load(std::memory_order_relaxed) + filling_.ends.size() + 1;
    const size_t bytes = queued_bytes_.load(std::memory_order_relaxed) + filling_.bytes.size() + line.size() + 1;
    if (lines > options_.queue_capacity_lines || bytes > options_.queue_capacity_bytes) {
        const uint64_t dropped = dropped_.fetch_add(1, std::memory_order_relaxed) + 1;
        if (drop_warnings_.allow())
            spdlog::warn("output queue full: {} events dropped so far (outputs slower than events)", dropped);
        return false;
    }
    filling_.bytes.append(line);
    filling_.bytes.push_back('\n');
    filling_.ends.push_back(static_cast<uint32_t>(filling_.bytes.size() - 1));
    if (filling_.bytes.size() >= options_.block_bytes) hand_over();
    return true;
}

void OutputPipeline::hand_over() {
    if (filling_.ends.empty()) return;
    bool was_empty = false;
    {
        std::lock_guard lock(mutex_);
        was_empty = queue_.empty();
        queued_bytes_.fetch_add(filling_.bytes.size(), std::memory_order_relaxed);
        queued_lines_.fetch_add(filling_.ends.size(), std::memory_order_relaxed);
        queue_.push_back(std::move(filling_));
        filling_ = Block{};
        if (!spares_.empty()) {
            filling_ = std::move(spares_.back());
            spares_.pop_back();
        }
    }
    // The worker only sleeps on an empty queue: a futex call per block at most.
    if (was_empty) wake_worker_.notify_one();
}

void OutputPipeline::request_reopen() {
    {
        std::lock_guard lock(mutex_);
        reopen_requested_ = true;
    }
    wake_worker_.notify_one();
}

OutputPipeline::Stats OutputPipeline::stats() const {
    Stats s;
    s.queued = queued_lines_.load(std::memory_order_relaxed);
    s.written = written_.load(std::memory_order_relaxed);
    s.dropped = dropped_.load(std::memory_order_relaxed);
    return s;
}

// To every sink, batch_max_lines at a time.
void OutputPipeline::write_block(const Block& block, std::vector<std::string_view>& lines) {
    lines.clear();
    size_t begin = 0;
    for (const uint32_t end : block.ends) {
        lines.emplace_back(block.bytes.data() + begin, end - begin);
        begin = end + 1;
    }
    const std::span<const std::string_view> all(lines);
    for (size_t at = 0; at < all.size(); at += options_.batch_max_lines) {
        const auto batch = all.subspan(at, std::min(options_.batch_max_lines, all.size() - at));
        for (auto& sink : sinks_) guarded(*sink, "write", [&] { sink->write_lines(batch); });
    }
}

void OutputPipeline::run() {
    std::vector<std::string_view> lines;
    // The first time the queue empties, the sinks are told at once.
    Clock::time_point last_idle = Clock::now() - options_.idle_interval;
    bool idle_owed = false;  // the queue emptied since the sinks' last idle()
    const auto tell_idle = [&] {
        for (auto& sink : sinks_) guarded(*sink, "flush", [&] { sink->idle(); });
        last_idle = Clock::now();
        idle_owed = false;
    };
    for (;;) {
        bool reopen = false;
        bool last_round = false;
        bool idle = false;  // this block empties the queue
        std::optional<Block> block;
        {
            std::unique_lock lock(mutex_);
            const auto ready = [&] { return stopping_ || reopen_requested_ || !queue_.empty(); };
            if (!idle_owed) {
                wake_worker_.wait(lock, ready);
            } else if (!wake_worker_.wait_until(lock, last_idle + options_.idle_interval, ready)) {
                lock.unlock();
                tell_idle();  // nothing came for an interval: what the sinks hold goes out
                continue;
            }
            reopen = std::exchange(reopen_requested_, false);
            if (stopping_ && !queue_.empty() && Clock::now() >= drain_deadline_) {
                const size_t abandoned = queued_lines_.exchange(0, std::memory_order_relaxed);
                dropped_.fetch_add(abandoned, std::memory_order_relaxed);
                queue_.clear();
                queued_bytes_.store(0, std::memory_order_relaxed);
                spdlog::warn("output: {} queued events not written: the outputs did not drain in time", abandoned);
            }
            if (!queue_.empty()) {
                block = std::move(queue_.front());
                queue_.pop_front();
            }
            last_round = stopping_ && queue_.empty();
            idle = queue_.empty();
        }
        if (reopen)
            for (auto& sink : sinks_) guarded(*sink, "reopen", [&] { sink->reopen(); });
        if (block) {
            write_block(*block, lines);
            written_.fetch_add(block->ends.size(), std::memory_order_relaxed);
            if (idle && (last_round || Clock::now() - last_idle >= options_.idle_interval)) {
                tell_idle();
            } else if (idle) {
                idle_owed = true;
            }
            std::lock_guard lock(mutex_);
            // Counted as queued until written: the bounds cover the block in
            // the sinks' hands too.
            queued_bytes_.fetch_sub(block->bytes.size(), std::memory_order_relaxed);
            queued_lines_.fetch_sub(block->ends.size(), std::memory_order_relaxed);
            if (spares_.size() < kSpareBlocks) {
                block->clear();
                spares_.push_back(std::move(*block));
            }
        }
        if (last_round) {
            if (idle_owed) tell_idle();  // the pipeline ends on a wake without a block
            return;
        }
    }
}

}  // namespace fnw
