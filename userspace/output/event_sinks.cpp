// SPDX-License-Identifier: Apache-2.0
// The JSON-lines sink, the warning throttle and the output pipeline; the
// webhook sink is in webhook_sink.cpp.
#include "output/event_sinks.hpp"

#include "common/result.hpp"

#include <fcntl.h>
#include <poll.h>
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

Result<UniqueFd> open_for_append(const std::string& path) {
    // O_APPEND: a second writer (or the previous daemon instance) never has
    // its lines overwritten. 0600: events name processes and arguments.
    // O_NOFOLLOW: a symlink planted at the path (at start or between a
    // rotation and SIGHUP) would have root append to whatever it names.
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd.valid())
        return fail(errno == ELOOP ? path + ": is a symbolic link; refusing to follow it (name the file itself)"
                                   : path + ": " + std::strerror(errno));
    // O_CREAT's mode only applies to a new file; an existing one keeps what
    // the administrator chose, but a world-readable event log is worth a word.
    struct stat st {};
    if (::fstat(fd.get(), &st) == 0 && (st.st_mode & S_IROTH))
        spdlog::warn("{}: the event log is readable by every user (chmod o-r)", path);
    return fd;
}

struct WriteResult {
    size_t written = 0;
    int error = 0;  // errno, 0 when everything was written
};

WriteResult write_all(int fd, std::string_view data) {
    WriteResult result;
    while (result.written < data.size()) {
        const ssize_t n = ::write(fd, data.data() + result.written, data.size() - result.written);
        if (n > 0) {
            result.written += static_cast<size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            // stdout inherited non-blocking from whoever started us: wait
            // like a blocking descriptor would rather than lose the batch.
            pollfd pfd{fd, POLLOUT, 0};
            if (::poll(&pfd, 1, -1) >= 0 || errno == EINTR) continue;
        }
        result.error = n < 0 ? errno : EIO;  // write() == 0 makes no progress: never spin on it
        break;
    }
    return result;
}

}  // namespace

Result<std::unique_ptr<JsonLinesSink>> JsonLinesSink::open(const std::string& path) {
    if (names_stdout(path)) return std::unique_ptr<JsonLinesSink>(new JsonLinesSink("", UniqueFd()));
    Result<UniqueFd> file = open_for_append(path);
    if (!file) return fail(file.error());
    return std::unique_ptr<JsonLinesSink>(new JsonLinesSink(path, std::move(*file)));
}

int JsonLinesSink::target_fd() const { return to_stdout() ? STDOUT_FILENO : file_.get(); }

std::string JsonLinesSink::name() const { return to_stdout() ? "stdout" : "file " + path_; }

void JsonLinesSink::write_batch(std::span<const std::string> lines) {
    if (lines.empty()) return;
    buffer_.clear();
    if (line_broken_) buffer_ += '\n';
    for (const std::string& line : lines) {
        buffer_ += line;
        buffer_ += '\n';
    }
    const WriteResult result = write_all(target_fd(), buffer_);
    if (result.error == 0) {
        line_broken_ = false;
    } else {
        line_broken_ = line_broken_ || result.written > 0;
        const uint64_t failed = failed_batches_.fetch_add(1, std::memory_order_relaxed) + 1;
        if (write_warnings_.allow())
            spdlog::warn("{}: write failed: {} ({} batches lost so far)", name(), std::strerror(result.error),
                         failed);
    }
    // One burst must not pin megabytes for the rest of the run.
    constexpr size_t kKeptBufferBytes = 1 << 20;
    if (buffer_.capacity() > kKeptBufferBytes) std::string().swap(buffer_);
}

void JsonLinesSink::reopen() {
    if (to_stdout()) return;
    Result<UniqueFd> file = open_for_append(path_);
    if (!file) {
        spdlog::warn("reopening the event log failed, still writing to the old file: {}", file.error());
        return;
    }
    file_ = std::move(*file);
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
        }
        if (reopen)
            for (auto& sink : sinks_) guarded(*sink, "reopen", [&] { sink->reopen(); });
        if (!batch.empty()) {
            for (auto& sink : sinks_) guarded(*sink, "write", [&] { sink->write_batch(batch); });
            written_.fetch_add(batch.size(), std::memory_order_relaxed);
        }
        if (last_round) return;
    }
}

}  // namespace fnw
