// SPDX-License-Identifier: Apache-2.0
#include "output/event_sinks.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <latch>
#include <sstream>

#include <gtest/gtest.h>

#include "temp_dir.hpp"
#include <httplib.h>
#include <nlohmann/json.hpp>

namespace fnw {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Polls instead of sleeping a guessed time: fast when things work, a clear
// failure (not a hang) when they do not.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit = 3s) {
    const auto deadline = Clock::now() + limit;
    while (!condition()) {
        if (Clock::now() >= deadline) return condition();
        std::this_thread::sleep_for(2ms);
    }
    return true;
}

std::vector<std::string> numbered_events(int first, int count) {
    std::vector<std::string> events;
    for (int i = first; i < first + count; ++i) events.push_back(nlohmann::json{{"seq", i}}.dump());
    return events;
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

using test::TempDir;

// --- JSON lines ----------------------------------------------------------------

TEST(JsonLinesSink, WritesOneLinePerEventToAPrivateFile) {
    TempDir dir;
    const auto path = dir.path() / "events.jsonl";
    auto opened = JsonLinesSink::open(path.string());
    ASSERT_TRUE(opened) << opened.error();
    auto sink = std::move(*opened);
    EXPECT_EQ(sink->name(), "file " + path.string());

    const std::vector<std::string> first{R"({"a":1})", R"({"a":2})"};
    const std::vector<std::string> second{R"({"a":3})"};
    sink->write_batch(first);
    sink->write_batch(second);
    sink->write_batch({});
    EXPECT_EQ(read_file(path), "") << "small batches are held back for one bigger write";
    sink->idle();  // the pipeline's queue is empty: everything is in the file when it returns
    EXPECT_EQ(read_file(path), "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n");

    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    EXPECT_EQ(sink->failed_batches(), 0u);
}

TEST(JsonLinesSink, AppendsToAnExistingFile) {
    TempDir dir;
    const auto path = dir.path() / "events.jsonl";
    std::ofstream(path) << "{\"old\":true}\n";
    auto opened = JsonLinesSink::open(path.string());
    ASSERT_TRUE(opened) << opened.error();
    auto sink = std::move(*opened);
    const std::vector<std::string> lines{R"({"new":true})"};
    sink->write_batch(lines);
    sink->idle();
    EXPECT_EQ(read_file(path), "{\"old\":true}\n{\"new\":true}\n");
}

TEST(JsonLinesSink, ReopenAfterRenameStartsANewFile) {
    TempDir dir;
    const auto path = dir.path() / "events.jsonl";
    const auto rotated = dir.path() / "events.jsonl.1";
    auto opened = JsonLinesSink::open(path.string());
    ASSERT_TRUE(opened) << opened.error();
    auto sink = std::move(*opened);

    sink->write_batch(std::vector<std::string>{R"({"n":1})"});
    std::filesystem::rename(path, rotated);
    // Until SIGHUP the old descriptor still points at the renamed file.
    sink->write_batch(std::vector<std::string>{R"({"n":2})"});
    sink->reopen();  // what was handed over before goes to the renamed file
    sink->write_batch(std::vector<std::string>{R"({"n":3})"});
    sink->idle();

    EXPECT_EQ(read_file(rotated), "{\"n\":1}\n{\"n\":2}\n");
    EXPECT_EQ(read_file(path), "{\"n\":3}\n");
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST(JsonLinesSink, ReportsAnUnopenableFile) {
    auto sink = JsonLinesSink::open("/nonexistent-fnw-dir/events.jsonl");
    ASSERT_FALSE(sink);
    EXPECT_NE(sink.error().find("/nonexistent-fnw-dir/events.jsonl"), std::string::npos) << sink.error();
}

TEST(JsonLinesSink, RefusesASymlinkPlantedAtThePath) {
    TempDir dir;
    const auto target = dir.path() / "victim";
    std::ofstream(target) << "precious\n";
    const auto path = dir.path() / "events.jsonl";
    std::filesystem::create_symlink(target, path);
    auto sink = JsonLinesSink::open(path.string());
    ASSERT_FALSE(sink);
    EXPECT_NE(sink.error().find(path.string()), std::string::npos) << sink.error();
    EXPECT_NE(sink.error().find("symbolic link"), std::string::npos) << sink.error();
    EXPECT_EQ(read_file(target), "precious\n");
}

TEST(JsonLinesSink, ReopenRefusesASymlinkAndKeepsTheOldFile) {
    TempDir dir;
    const auto path = dir.path() / "events.jsonl";
    const auto rotated = dir.path() / "events.jsonl.1";
    const auto target = dir.path() / "victim";
    std::ofstream(target) << "precious\n";
    auto opened = JsonLinesSink::open(path.string());
    ASSERT_TRUE(opened) << opened.error();
    auto sink = std::move(*opened);
    std::filesystem::rename(path, rotated);
    std::filesystem::create_symlink(target, path);  // planted between rotation and SIGHUP
    sink->reopen();
    sink->write_batch(std::vector<std::string>{R"({"n":1})"});
    sink->idle();
    EXPECT_EQ(read_file(target), "precious\n");
    EXPECT_EQ(read_file(rotated), "{\"n\":1}\n");
}

TEST(JsonLinesSink, CountsEachBatchTheDeviceRefused) {
    auto opened = JsonLinesSink::open("/dev/full");  // every write: ENOSPC
    ASSERT_TRUE(opened) << opened.error();
    auto sink = std::move(*opened);
    sink->write_batch(std::vector<std::string>{R"({"n":1})", R"({"n":2})"});
    sink->idle();
    EXPECT_EQ(sink->failed_batches(), 1u);
    sink->write_batch(std::vector<std::string>{R"({"n":3})"});
    sink->idle();
    EXPECT_EQ(sink->failed_batches(), 2u);
    sink->idle();  // nothing new lost
    EXPECT_EQ(sink->failed_batches(), 2u);
}

TEST(JsonLinesSink, StdoutSpellings) {
    for (const char* spelling : {"", "-", "stdout"}) {
        auto opened = JsonLinesSink::open(spelling);
        ASSERT_TRUE(opened) << spelling << ": " << opened.error();
        auto sink = std::move(*opened);
        EXPECT_EQ(sink->name(), "stdout");
        sink->reopen();  // nothing to reopen; must not close stdout
    }
}

// --- pipeline ------------------------------------------------------------------

// Records every call; optionally blocks its first write until released.
struct RecordingSinkState {
    std::mutex mutex;
    std::vector<std::string> lines;
    std::vector<std::string> calls;  // "write:N" / "reopen"
    std::vector<size_t> idle_after;  // at each idle(): how many lines were written by then
    std::latch first_write_entered{1};
    std::latch release_first_write{1};
    bool block_first_write = false;
    bool entered = false;

    size_t line_count() {
        std::lock_guard lock(mutex);
        return lines.size();
    }
};

class RecordingSink : public EventSink {
public:
    explicit RecordingSink(std::shared_ptr<RecordingSinkState> state) : state_(std::move(state)) {}
    void write_lines(std::span<const std::string_view> lines) override {
        bool block = false;
        {
            std::lock_guard lock(state_->mutex);
            block = state_->block_first_write && !state_->entered;
            state_->entered = true;
        }
        if (block) {
            state_->first_write_entered.count_down();
            state_->release_first_write.wait();
        }
        std::lock_guard lock(state_->mutex);
        state_->lines.insert(state_->lines.end(), lines.begin(), lines.end());
        state_->calls.push_back("write:" + std::to_string(lines.size()));
    }
    void reopen() override {
        std::lock_guard lock(state_->mutex);
        state_->calls.push_back("reopen");
    }
    void idle() override {
        std::lock_guard lock(state_->mutex);
        state_->idle_after.push_back(state_->lines.size());
    }
    std::string name() const override { return "recording"; }

private:
    std::shared_ptr<RecordingSinkState> state_;
};

std::vector<std::unique_ptr<EventSink>> sinks_of(std::unique_ptr<EventSink> sink) {
    std::vector<std::unique_ptr<EventSink>> sinks;
    sinks.push_back(std::move(sink));
    return sinks;
}

TEST(OutputPipeline, DropsWhatDoesNotFitWhileASinkIsStuckThenWritesTheRestInOrder) {
    auto state = std::make_shared<RecordingSinkState>();
    state->block_first_write = true;
    constexpr size_t kCapacity = 8;
    OutputPipeline pipeline(sinks_of(std::make_unique<RecordingSink>(state)),
                            OutputPipelineOptions{.queue_capacity_lines = kCapacity, .batch_max_lines = 4});

    // The worker takes line 0 and is stuck in the sink: the line still
    // counts against the bounds until it is written.
    ASSERT_TRUE(pipeline.push("line-0"));
    pipeline.hand_over();
    state->first_write_entered.wait();

    const auto started = Clock::now();
    for (size_t i = 1; i < kCapacity; ++i) EXPECT_TRUE(pipeline.push("line-" + std::to_string(i)));
    for (size_t i = 0; i < 5; ++i) EXPECT_FALSE(pipeline.push("overflow-" + std::to_string(i)));
    pipeline.hand_over();
    EXPECT_LT(Clock::now() - started, 500ms) << "push() or hand_over() waited for the stuck sink";

    auto stats = pipeline.stats();
    EXPECT_EQ(stats.dropped, 5u);
    EXPECT_EQ(stats.queued, kCapacity);
    EXPECT_EQ(stats.written, 0u);

    state->release_first_write.count_down();
    ASSERT_TRUE(eventually([&] { return state->line_count() == kCapacity; }));
    ASSERT_TRUE(eventually([&] { return pipeline.stats().written == kCapacity; }));
    std::vector<std::string> expected;
    for (size_t i = 0; i < kCapacity; ++i) expected.push_back("line-" + std::to_string(i));
    std::lock_guard lock(state->mutex);
    EXPECT_EQ(state->lines, expected);
    for (const auto& call : state->calls) EXPECT_NE(call, "write:0");
    stats = pipeline.stats();
    EXPECT_EQ(stats.dropped, 5u);
    EXPECT_EQ(stats.queued, 0u);
}

// A sink that holds lines back (JsonLinesSink) is told when the batch it
// was given emptied the queue, after writing it, and only then (at most
// once an interval: the next test).
TEST(OutputPipeline, IdleFollowsEachBatchThatEmptiesTheQueue) {
    auto state = std::make_shared<RecordingSinkState>();
    state->block_first_write = true;
    OutputPipeline pipeline(sinks_of(std::make_unique<RecordingSink>(state)),
                            OutputPipelineOptions{.queue_capacity_lines = 16, .batch_max_lines = 4});
    ASSERT_TRUE(pipeline.push("line-0"));  // taken alone: the queue is empty behind it
    pipeline.hand_over();
    state->first_write_entered.wait();
    for (int i = 1; i <= 8; ++i) ASSERT_TRUE(pipeline.push("line-" + std::to_string(i)));
    pipeline.hand_over();  // one block, written four lines at a time
    state->release_first_write.count_down();
    ASSERT_TRUE(eventually([&] {
        std::lock_guard lock(state->mutex);
        return state->idle_after.size() == 2;
    }));
    std::lock_guard lock(state->mutex);
    EXPECT_EQ(state->calls, (std::vector<std::string>{"write:1", "write:4", "write:4"}));
    EXPECT_EQ(state->idle_after, (std::vector<size_t>{1, 9}));
}

// Lines are counted in bytes too: a queue of long lines stays bounded in
// memory well before its line count.
TEST(OutputPipeline, BoundedInBytesAsWellAsInLines) {
    auto state = std::make_shared<RecordingSinkState>();
    state->block_first_write = true;
    const std::string long_line(1000, 'x');
    const size_t cost = long_line.size() + 1;  // and its newline
    OutputPipeline pipeline(sinks_of(std::make_unique<RecordingSink>(state)),
                            OutputPipelineOptions{.queue_capacity_lines = 1000, .batch_max_lines = 4,
                                                  .queue_capacity_bytes = 3 * cost + 6});
    ASSERT_TRUE(pipeline.push("first"));  // taken by the worker, stuck in the sink, its 6 bytes counted
    pipeline.hand_over();
    state->first_write_entered.wait();
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(pipeline.push(long_line));
    EXPECT_FALSE(pipeline.push(long_line));
    pipeline.hand_over();
    EXPECT_EQ(pipeline.stats().dropped, 1u);
    EXPECT_EQ(pipeline.stats().queued, 4u);
    state->release_first_write.count_down();
    ASSERT_TRUE(eventually([&] { return pipeline.stats().written == 4; }));
    // Written lines give their bytes back.
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(pipeline.push(long_line));
}

// In a flood the queue empties at every block: the sinks are told idle()
// (JsonLinesSink then waits for the disk) once, and again only an interval
// later or when the pipeline ends, so that the wait cannot let the queue
// overflow.
TEST(OutputPipeline, IdleIsToldAtMostOnceAnIntervalAndWhenThePipelineEnds) {
    auto state = std::make_shared<RecordingSinkState>();
    {
        OutputPipeline pipeline(sinks_of(std::make_unique<RecordingSink>(state)),
                                OutputPipelineOptions{.idle_interval = std::chrono::hours(1)});
        ASSERT_TRUE(pipeline.push("a"));
        pipeline.hand_over();
        ASSERT_TRUE(eventually([&] {
            std::lock_guard lock(state->mutex);
            return state->idle_after.size() == 1;  // the first time the queue emptied
        }));
        ASSERT_TRUE(pipeline.push("b"));
        pipeline.hand_over();
        ASSERT_TRUE(eventually([&] { return pipeline.stats().written == 2; }));
        std::lock_guard lock(state->mutex);
        EXPECT_EQ(state->idle_after, (std::vector<size_t>{1})) << "told again within the interval";
    }
    std::lock_guard lock(state->mutex);
    EXPECT_EQ(state->idle_after, (std::vector<size_t>{1, 2})) << "the owed idle() at the end";
}

// Lines wait in the block being filled until it is full or handed over: a
// flood is one lock and one wakeup per block, not per line.
TEST(OutputPipeline, ABlockGoesToTheWorkerWhenFullOrHandedOver) {
    auto state = std::make_shared<RecordingSinkState>();
    OutputPipeline pipeline(sinks_of(std::make_unique<RecordingSink>(state)),
                            OutputPipelineOptions{.block_bytes = 16});
    ASSERT_TRUE(pipeline.push("0123456789"));  // 11 bytes with its newline: the block is not full
    EXPECT_EQ(pipeline.stats().queued, 0u);    // nothing handed over: the worker cannot have it
    EXPECT_EQ(pipeline.stats().written, 0u);
    ASSERT_TRUE(pipeline.push("abcdefghij"));  // 22: full, handed over with both lines
    ASSERT_TRUE(eventually([&] { return pipeline.stats().written == 2; }));
    ASSERT_TRUE(pipeline.push("tail"));
    pipeline.hand_over();
    ASSERT_TRUE(eventually([&] { return pipeline.stats().written == 3; }));
    std::lock_guard lock(state->mutex);
    EXPECT_EQ(state->lines, (std::vector<std::string>{"0123456789", "abcdefghij", "tail"}));
    EXPECT_EQ(state->calls, (std::vector<std::string>{"write:2", "write:1"}));
}

TEST(OutputPipeline, ReopenHappensBeforeTheNextBatch) {
    auto state = std::make_shared<RecordingSinkState>();
    OutputPipeline pipeline(sinks_of(std::make_unique<RecordingSink>(state)));
    ASSERT_TRUE(pipeline.push("a"));
    pipeline.hand_over();
    ASSERT_TRUE(eventually([&] { return pipeline.stats().written == 1; }));
    pipeline.request_reopen();
    ASSERT_TRUE(eventually([&] {
        std::lock_guard lock(state->mutex);
        return state->calls.size() == 2;
    }));
    ASSERT_TRUE(pipeline.push("b"));
    pipeline.hand_over();
    ASSERT_TRUE(eventually([&] { return pipeline.stats().written == 2; }));
    std::lock_guard lock(state->mutex);
    EXPECT_EQ(state->calls, (std::vector<std::string>{"write:1", "reopen", "write:1"}));
}

TEST(OutputPipeline, DestructorDrainsTheQueue) {
    auto state = std::make_shared<RecordingSinkState>();
    constexpr int kLines = 5000;
    {
        OutputPipeline pipeline(sinks_of(std::make_unique<RecordingSink>(state)),
                                OutputPipelineOptions{.batch_max_lines = 64});
        for (int i = 0; i < kLines; ++i) ASSERT_TRUE(pipeline.push(std::to_string(i)));
    }
    std::lock_guard lock(state->mutex);
    ASSERT_EQ(state->lines.size(), size_t(kLines));
    for (int i = 0; i < kLines; ++i) ASSERT_EQ(state->lines[size_t(i)], std::to_string(i));
    for (const auto& call : state->calls) EXPECT_LE(std::stoi(call.substr(6)), 64);
}

TEST(OutputPipeline, DrainGivesUpAfterTheTimeout) {
    auto state = std::make_shared<RecordingSinkState>();
    state->block_first_write = true;
    std::thread releaser;
    {
        OutputPipeline pipeline(sinks_of(std::make_unique<RecordingSink>(state)),
                                OutputPipelineOptions{.batch_max_lines = 1, .drain_timeout = 50ms});
        ASSERT_TRUE(pipeline.push("first"));
        pipeline.hand_over();
        state->first_write_entered.wait();
        for (int i = 0; i < 10; ++i) ASSERT_TRUE(pipeline.push("later"));
        // Released only after the drain deadline has passed.
        releaser = std::thread([&] {
            std::this_thread::sleep_for(150ms);
            state->release_first_write.count_down();
        });
    }
    releaser.join();
    std::lock_guard lock(state->mutex);
    EXPECT_EQ(state->lines, std::vector<std::string>{"first"});
}

// --- webhook -------------------------------------------------------------------

// An HTTP receiver on 127.0.0.1, ephemeral port, in its own thread.
class TestReceiver {
public:
    // Returns the status for the request_index-th request (from 0).
    using Responder = std::function<int(TestReceiver& self, int request_index)>;

    explicit TestReceiver(Responder responder) : responder_(std::move(responder)) {
        // httplib writes responses without MSG_NOSIGNAL; a client that gave
        // up must not kill the test binary with SIGPIPE.
        std::signal(SIGPIPE, SIG_IGN);
        server_.set_keep_alive_timeout(1);
        server_.Post("/events", [this](const httplib::Request& req, httplib::Response& res) {
            int index = 0;
            {
                std::lock_guard lock(mutex_);
                index = static_cast<int>(requests_.size());
                requests_.push_back({req.body, req.get_header_value("Content-Type")});
            }
            cv_.notify_all();
            const int status = responder_(*this, index);
            res.status = status;
            res.set_content(status >= 400 ? "nope: bad batch" : "ok", "text/plain");
        });
        port_ = server_.bind_to_any_port("127.0.0.1");
        if (port_ <= 0) throw std::runtime_error("cannot bind the test receiver");
        thread_ = std::thread([this] { server_.listen_after_bind(); });
    }

    ~TestReceiver() {
        release_hanging();
        server_.stop();
        thread_.join();
    }

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/events"; }

    // For responders that hang: blocks until released (or a safety limit).
    void hang() {
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, 10s, [&] { return released_; });
    }
    void release_hanging() {
        {
            std::lock_guard lock(mutex_);
            released_ = true;
        }
        cv_.notify_all();
    }

    struct Received {
        std::string body;
        std::string content_type;
    };
    std::vector<Received> requests() {
        std::lock_guard lock(mutex_);
        return requests_;
    }
    size_t request_count() {
        std::lock_guard lock(mutex_);
        return requests_.size();
    }

private:
    Responder responder_;
    httplib::Server server_;
    int port_ = 0;
    std::thread thread_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<Received> requests_;
    bool released_ = false;
};

int hang_then_ok(TestReceiver& receiver, int) {
    receiver.hang();
    return 200;
}

// Options that keep the tests fast; each test changes what it is about.
WebhookOptions fast_options(const std::string& url) {
    WebhookOptions options;
    options.url = url;
    options.flush_interval = 20ms;
    options.request_timeout = 2s;
    options.connect_timeout = 1s;
    options.backoff_initial = 10ms;
    options.backoff_max = 40ms;
    options.shutdown_grace = 500ms;
    return options;
}

std::unique_ptr<WebhookSink> make_webhook(const WebhookOptions& options) {
    auto sink = WebhookSink::create(options);
    if (!sink) {
        ADD_FAILURE() << sink.error();
        return nullptr;
    }
    return std::move(*sink);
}

// Every "seq" of every JSON array body, in arrival order.
std::vector<int> sequence_numbers(const std::vector<TestReceiver::Received>& requests) {
    std::vector<int> seqs;
    for (const auto& request : requests) {
        const auto body = nlohmann::json::parse(request.body);
        for (const auto& event : body) seqs.push_back(event.at("seq").get<int>());
    }
    return seqs;
}

std::vector<int> iota_vector(int first, int count) {
    std::vector<int> v;
    for (int i = first; i < first + count; ++i) v.push_back(i);
    return v;
}

TEST(WebhookSink, RejectsUnusableUrls) {
    for (const char* url : {"", "not a url", "ftp://example.com/x", "file:///etc/passwd"}) {
        auto sink = WebhookSink::create(WebhookOptions{.url = url});
        ASSERT_FALSE(sink) << url;
        EXPECT_FALSE(sink.error().empty()) << url;
    }
}

TEST(WebhookSink, NameHidesCredentials) {
    auto options = fast_options("http://user:secret@127.0.0.1:9/events?token=abc");
    auto sink = make_webhook(options);
    ASSERT_TRUE(sink);
    EXPECT_EQ(sink->name(), "webhook http://127.0.0.1:9/events");
}

TEST(WebhookSink, DeliversEveryEventAsJsonArraysOfBoundedSize) {
    TestReceiver receiver([](TestReceiver&, int) { return 200; });
    auto options = fast_options(receiver.url());
    options.batch_max_events = 4;
    auto sink = make_webhook(options);
    ASSERT_TRUE(sink);

    sink->write_batch(numbered_events(0, 10));
    sink->write_batch(numbered_events(10, 3));
    ASSERT_TRUE(eventually([&] { return sink->stats().sent_events == 13; })) << sink->stats().sent_events;

    const auto requests = receiver.requests();
    for (const auto& request : requests) {
        EXPECT_EQ(request.content_type, "application/json");
        const auto body = nlohmann::json::parse(request.body);  // throws (fails) on invalid JSON
        ASSERT_TRUE(body.is_array());
        EXPECT_GE(body.size(), 1u);
        EXPECT_LE(body.size(), 4u);
        for (const auto& event : body) EXPECT_TRUE(event.is_object());
    }
    EXPECT_EQ(sequence_numbers(requests), iota_vector(0, 13));
    const auto stats = sink->stats();
    EXPECT_EQ(stats.sent_batches, requests.size());
    EXPECT_EQ(stats.failed_attempts, 0u);
    EXPECT_EQ(stats.dropped_events(), 0u);
}

// --output-format falco: falcosidekick decodes one object per POST.
TEST(WebhookSink, OneEventPerRequestPostsEachEventAsABareObject) {
    TestReceiver receiver([](TestReceiver&, int) { return 200; });
    auto options = fast_options(receiver.url());
    options.one_event_per_request = true;
    auto sink = make_webhook(options);
    ASSERT_TRUE(sink);

    sink->write_batch(numbered_events(0, 5));
    ASSERT_TRUE(eventually([&] { return sink->stats().sent_events == 5; })) << sink->stats().sent_events;

    const auto requests = receiver.requests();
    ASSERT_EQ(requests.size(), 5u);
    for (size_t i = 0; i < requests.size(); ++i) {
        const auto body = nlohmann::json::parse(requests[i].body);
        ASSERT_TRUE(body.is_object()) << requests[i].body;
        EXPECT_EQ(body.at("seq"), static_cast<int>(i));
    }
    EXPECT_EQ(sink->stats().sent_batches, 5u);
}

TEST(WebhookSink, RetriesUntilTheReceiverRecovers) {
    TestReceiver receiver([](TestReceiver&, int index) { return index < 2 ? 500 : 200; });
    auto sink = make_webhook(fast_options(receiver.url()));
    ASSERT_TRUE(sink);

    sink->write_batch(numbered_events(0, 3));
    ASSERT_TRUE(eventually([&] { return sink->stats().sent_events == 3; }));
    const auto stats = sink->stats();
    EXPECT_EQ(stats.failed_attempts, 2u);
    EXPECT_EQ(stats.sent_batches, 1u);
    EXPECT_EQ(stats.dropped_events(), 0u);
    const auto requests = receiver.requests();
    ASSERT_EQ(requests.size(), 3u);
    // The same batch each time, accepted once.
    EXPECT_EQ(requests[0].body, requests[2].body);
    EXPECT_EQ(sequence_numbers({requests[2]}), iota_vector(0, 3));
}

TEST(WebhookSink, RetriesThrottlingAndTimeoutStatuses) {
    TestReceiver receiver([](TestReceiver&, int index) { return index == 0 ? 429 : index == 1 ? 408 : 200; });
    auto sink = make_webhook(fast_options(receiver.url()));
    ASSERT_TRUE(sink);
    sink->write_batch(numbered_events(0, 1));
    ASSERT_TRUE(eventually([&] { return sink->stats().sent_events == 1; }));
    EXPECT_EQ(sink->stats().failed_attempts, 2u);
}

TEST(WebhookSink, DropsTheBatchWhenRetriesRunOut) {
    TestReceiver receiver([](TestReceiver&, int) { return 500; });
    auto options = fast_options(receiver.url());
    options.max_retries = 2;
    auto sink = make_webhook(options);
    ASSERT_TRUE(sink);

    sink->write_batch(numbered_events(0, 7));
    ASSERT_TRUE(eventually([&] { return sink->stats().dropped_after_retries == 7; }));
    const auto stats = sink->stats();
    EXPECT_EQ(stats.failed_attempts, 3u);  // the first attempt and two retries
    EXPECT_EQ(stats.sent_events, 0u);
    EXPECT_EQ(stats.dropped_events(), 7u);
    EXPECT_EQ(receiver.request_count(), 3u);
}

TEST(WebhookSink, ClientErrorsAreNotRetried) {
    TestReceiver receiver([](TestReceiver&, int) { return 400; });
    auto sink = make_webhook(fast_options(receiver.url()));
    ASSERT_TRUE(sink);

    sink->write_batch(numbered_events(0, 2));
    // The drop is counted after the last attempt: a retry would come first.
    ASSERT_TRUE(eventually([&] { return sink->stats().dropped_rejected == 2; }));
    const auto stats = sink->stats();
    EXPECT_EQ(stats.failed_attempts, 1u);
    EXPECT_EQ(stats.dropped_after_retries, 0u);
    EXPECT_EQ(receiver.request_count(), 1u);

    // And the sink keeps working for the next batch.
    sink->write_batch(numbered_events(2, 1));
    ASSERT_TRUE(eventually([&] { return sink->stats().dropped_rejected == 3; }));
    EXPECT_EQ(receiver.request_count(), 2u);
}

TEST(WebhookSink, UnreachableReceiverCountsTransportFailures) {
    // A port that was just free and is bound, not listening: connect() is
    // refused at once.
    UniqueFd holder(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(holder.valid());
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t addr_len = sizeof(addr);
    ASSERT_EQ(::bind(holder.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(::getsockname(holder.get(), reinterpret_cast<sockaddr*>(&addr), &addr_len), 0);
    const int dead_port = ntohs(addr.sin_port);
    auto options = fast_options("http://127.0.0.1:" + std::to_string(dead_port) + "/events");
    options.max_retries = 1;
    auto sink = make_webhook(options);
    ASSERT_TRUE(sink);
    sink->write_batch(numbered_events(0, 4));
    ASSERT_TRUE(eventually([&] { return sink->stats().dropped_after_retries == 4; }));
    EXPECT_EQ(sink->stats().failed_attempts, 2u);
}

TEST(WebhookSink, HangingReceiverTimesOut) {
    TestReceiver receiver(hang_then_ok);
    auto options = fast_options(receiver.url());
    options.request_timeout = 200ms;
    options.max_retries = 0;
    auto sink = make_webhook(options);
    ASSERT_TRUE(sink);

    const auto started = Clock::now();
    sink->write_batch(numbered_events(0, 3));
    ASSERT_TRUE(eventually([&] { return sink->stats().dropped_after_retries == 3; }));
    EXPECT_GE(Clock::now() - started, 200ms);
    const auto stats = sink->stats();
    EXPECT_EQ(stats.failed_attempts, 1u);
    EXPECT_EQ(stats.sent_events, 0u);
}

TEST(WebhookSink, DestructionIsPromptWhileARequestHangs) {
    TestReceiver receiver(hang_then_ok);
    auto options = fast_options(receiver.url());
    options.request_timeout = 30s;  // far beyond the test: only the shutdown can end the request
    options.shutdown_grace = 200ms;
    auto sink = make_webhook(options);
    ASSERT_TRUE(sink);

    sink->write_batch(numbered_events(0, 3));
    ASSERT_TRUE(eventually([&] { return receiver.request_count() == 1; }));
    sink->write_batch(numbered_events(3, 3));  // queued behind the hanging request

    const auto started = Clock::now();
    sink.reset();
    const auto took = Clock::now() - started;
    EXPECT_LT(took, 2s);
    EXPECT_GE(took, 150ms) << "the in-flight request should get the shutdown grace";
}

TEST(WebhookSink, DestructionSendsWhatIsQueued) {
    TestReceiver receiver([](TestReceiver&, int) { return 200; });
    auto options = fast_options(receiver.url());
    options.flush_interval = 60s;  // only the shutdown flush can send these
    auto sink = make_webhook(options);
    ASSERT_TRUE(sink);
    sink->write_batch(numbered_events(0, 5));
    sink.reset();
    EXPECT_EQ(sequence_numbers(receiver.requests()), iota_vector(0, 5));
}

TEST(WebhookSink, FullQueueDropsWithoutBlocking) {
    TestReceiver receiver(hang_then_ok);
    auto options = fast_options(receiver.url());
    options.queue_capacity_events = 5;
    options.request_timeout = 10s;
    auto sink = make_webhook(options);
    ASSERT_TRUE(sink);

    // The first event is taken off the queue and hangs in flight.
    sink->write_batch(numbered_events(0, 1));
    ASSERT_TRUE(eventually([&] { return receiver.request_count() == 1; }));

    const auto started = Clock::now();
    sink->write_batch(numbered_events(1, 4));
    sink->write_batch(numbered_events(5, 3));  // one fits, two do not
    sink->write_batch(numbered_events(8, 2));  // none fit
    EXPECT_LT(Clock::now() - started, 500ms) << "write_batch() waited for the receiver";

    auto stats = sink->stats();
    EXPECT_EQ(stats.dropped_queue_full, 4u);
    EXPECT_EQ(stats.queued, 5u);

    receiver.release_hanging();
    ASSERT_TRUE(eventually([&] { return sink->stats().sent_events == 6; }));
    EXPECT_EQ(sequence_numbers(receiver.requests()), iota_vector(0, 6));
    stats = sink->stats();
    EXPECT_EQ(stats.dropped_events(), 4u);
    EXPECT_EQ(stats.failed_attempts, 0u);
}

TEST(OutputPipeline, HangingWebhookDoesNotHoldBackTheFile) {
    TestReceiver receiver(hang_then_ok);
    TempDir dir;
    const auto path = dir.path() / "events.jsonl";

    auto options = fast_options(receiver.url());
    options.request_timeout = 30s;
    options.shutdown_grace = 100ms;
    std::vector<std::unique_ptr<EventSink>> sinks;
    sinks.push_back(make_webhook(options));
    ASSERT_TRUE(sinks.back());
    auto lines = JsonLinesSink::open(path.string());
    ASSERT_TRUE(lines) << lines.error();
    sinks.push_back(std::move(*lines));
    OutputPipeline pipeline(std::move(sinks), OutputPipelineOptions{.batch_max_lines = 8});

    constexpr int kEvents = 100;
    for (const auto& event : numbered_events(0, kEvents)) ASSERT_TRUE(pipeline.push(event));
    pipeline.hand_over();
    ASSERT_TRUE(eventually([&] { return receiver.request_count() >= 1; }));
    ASSERT_TRUE(eventually([&] { return pipeline.stats().written == kEvents; }));
    std::string expected;
    for (const auto& event : numbered_events(0, kEvents)) expected += event + "\n";
    // In the file once the sink's idle() has run, just after the count.
    EXPECT_TRUE(eventually([&] { return read_file(path) == expected; })) << read_file(path);
}

}  // namespace
}  // namespace fnw
