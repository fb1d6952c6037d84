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
#include <cstring>
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

void JsonLinesSink::write_batch(std::span<const std::string> lines) {
    std::string& out = appender_->batch();
    if (line_broken_ && !lines.empty()) {
        out += '\n';
        line_broken_ = false;
    }
    for (const std::string& line : lines) {
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
    return options;
}

// A queued line's memory: its text and the string that holds it.
size_t queued_cost(const std::string& line) { return line.size() + sizeof(std::string); }

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
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        drain_deadline_ = Clock::now() + options_.drain_timeout;
    }
    wake_worker_.notify_one();
    worker_.join();
}

bool OutputPipeline::push(std::string line) {
    bool was_empty = false;
    {
        std::lock_guard lock(mutex_);
        if (queue_.size() >= options_.queue_capacity_lines ||
            queued_bytes_ + queued_cost(line) > options_.queue_capacity_bytes) {
            const uint64_t dropped = dropped_.fetch_add(1, std::memory_order_relaxed) + 1;
            if (drop_warnings_.allow())
                spdlog::warn("output queue full: {} events dropped so far (outputs slower than events)", dropped);
            return false;
        }
        was_empty = queue_.empty();
        queued_bytes_ += queued_cost(line);
        queue_.push_back(std::move(line));
    }
    // The worker only sleeps on an empty queue: saves a futex call per event.
    if (was_empty) wake_worker_.notify_one();
    return true;
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
    {
        std::lock_guard lock(mutex_);
        s.queued = queue_.size();
    }
    s.written = written_.load(std::memory_order_relaxed);
    s.dropped = dropped_.load(std::memory_order_relaxed);
    return s;
}

void OutputPipeline::run() {
    std::vector<std::string> batch;
    batch.reserve(std::min<size_t>(options_.batch_max_lines, 4096));
    for (;;) {
        bool reopen = false;
        bool last_round = false;
        bool idle = false;  // this batch empties the queue
        batch.clear();
        {
            std::unique_lock lock(mutex_);
            wake_worker_.wait(lock, [&] { return stopping_ || reopen_requested_ || !queue_.empty(); });
            reopen = std::exchange(reopen_requested_, false);
            if (stopping_ && !queue_.empty() && Clock::now() >= drain_deadline_) {
                const size_t abandoned = queue_.size();
                dropped_.fetch_add(abandoned, std::memory_order_relaxed);
                queue_.clear();
                queued_bytes_ = 0;
                spdlog::warn("output: {} queued events not written: the outputs did not drain in time", abandoned);
            }
            const size_t count = std::min(queue_.size(), options_.batch_max_lines);
            batch.assign(std::make_move_iterator(queue_.begin()),
                         std::make_move_iterator(queue_.begin() + static_cast<ptrdiff_t>(count)));
            for (const std::string& line : batch) queued_bytes_ -= queued_cost(line);
            queue_.erase(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(count));
            last_round = stopping_ && queue_.empty();
            idle = queue_.empty();
        }
        if (reopen)
            for (auto& sink : sinks_) guarded(*sink, "reopen", [&] { sink->reopen(); });
        if (!batch.empty()) {
            for (auto& sink : sinks_) guarded(*sink, "write", [&] { sink->write_batch(batch); });
            written_.fetch_add(batch.size(), std::memory_order_relaxed);
            if (idle)
                for (auto& sink : sinks_) guarded(*sink, "flush", [&] { sink->idle(); });
        }
        if (last_round) return;
    }
}

}  // namespace fnw
