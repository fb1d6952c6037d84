// SPDX-License-Identifier: Apache-2.0
#include "output/function_tally.hpp"
#include "output/metrics.hpp"
#include "output/metrics_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <limits>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include "common/httplib.hpp"

#include <gtest/gtest.h>

namespace fnw {
namespace {

using namespace std::chrono_literals;

// Every registry exposes its own overflow counter; the goldens end with it.
std::string overflow_family(uint64_t value) {
    return "# HELP fnwarden_metrics_series_overflow_total Lookups of a new label set refused because its metric had "
           "reached its series cap; their updates went to the series labelled \"_overflow\".\n"
           "# TYPE fnwarden_metrics_series_overflow_total counter\n"
           "fnwarden_metrics_series_overflow_total " +
           std::to_string(value) + "\n";
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

// ---- rendering ----

TEST(MetricsRender, CounterWithLabels) {
    MetricsRegistry registry;
    auto& events = registry.counter("fnwarden_events_total", "Events decoded from the ring buffer.",
                                    {"function", "verdict"});
    events.with({"resize", "violation"}).inc();
    events.with({"checkout", "allowed"}).inc(41);
    events.with({"checkout", "allowed"}).inc();
    events.with({"checkout", "violation"}).inc(3);

    EXPECT_EQ(registry.render(),
              "# HELP fnwarden_events_total Events decoded from the ring buffer.\n"
              "# TYPE fnwarden_events_total counter\n"
              "fnwarden_events_total{function=\"checkout\",verdict=\"allowed\"} 42\n"
              "fnwarden_events_total{function=\"checkout\",verdict=\"violation\"} 3\n"
              "fnwarden_events_total{function=\"resize\",verdict=\"violation\"} 1\n" +
                  overflow_family(0));
    EXPECT_EQ(events.with({"checkout", "allowed"}).value(), 42u);
}

TEST(MetricsRender, LabelLessSeriesExistBeforeTheFirstUpdate) {
    MetricsRegistry registry;
    registry.counter("fnwarden_dropped_total", "Records lost.");
    EXPECT_EQ(registry.render(),
              "# HELP fnwarden_dropped_total Records lost.\n"
              "# TYPE fnwarden_dropped_total counter\n"
              "fnwarden_dropped_total 0\n" +
                  overflow_family(0));
}

TEST(MetricsRender, CounterPrintsLargeIntegersExactly) {
    MetricsRegistry registry;
    auto& c = registry.counter("big_total", "Big.").with();
    c.inc(std::numeric_limits<uint64_t>::max() - 1);
    c.inc();
    EXPECT_TRUE(contains(registry.render(), "\nbig_total 18446744073709551615\n")) << registry.render();
}

TEST(MetricsRender, GaugeValuesAsPrometheusParsesThem) {
    MetricsRegistry registry;
    auto& memory = registry.gauge("fnwarden_value", "Assorted values.", {"case"});
    memory.with({"a_fraction"}).set(1.5);
    memory.with({"b_negative"}).set(-2);
    memory.with({"c_nan"}).set(std::nan(""));
    memory.with({"d_inf"}).set(std::numeric_limits<double>::infinity());
    memory.with({"e_minus_inf"}).set(-std::numeric_limits<double>::infinity());
    memory.with({"f_huge"}).set(1e20);
    memory.with({"g_tenth"}).set(0.1);
    memory.with({"h_integer"}).set(123456789);
    memory.with({"h_round_million"}).set(3e6);  // "3000000", not the shorter "3e+06"
    auto& moved = memory.with({"i_moved"});
    moved.inc(5);
    moved.dec(2);
    moved.inc();
    registry.gauge("fnwarden_up", "1 while the daemon runs.").with().set(1);

    EXPECT_EQ(registry.render(),
              "# HELP fnwarden_metrics_series_overflow_total Lookups of a new label set refused because its metric "
              "had reached its series cap; their updates went to the series labelled \"_overflow\".\n"
              "# TYPE fnwarden_metrics_series_overflow_total counter\n"
              "fnwarden_metrics_series_overflow_total 0\n"
              "# HELP fnwarden_up 1 while the daemon runs.\n"
              "# TYPE fnwarden_up gauge\n"
              "fnwarden_up 1\n"
              "# HELP fnwarden_value Assorted values.\n"
              "# TYPE fnwarden_value gauge\n"
              "fnwarden_value{case=\"a_fraction\"} 1.5\n"
              "fnwarden_value{case=\"b_negative\"} -2\n"
              "fnwarden_value{case=\"c_nan\"} NaN\n"
              "fnwarden_value{case=\"d_inf\"} +Inf\n"
              "fnwarden_value{case=\"e_minus_inf\"} -Inf\n"
              "fnwarden_value{case=\"f_huge\"} 1e+20\n"
              "fnwarden_value{case=\"g_tenth\"} 0.1\n"
              "fnwarden_value{case=\"h_integer\"} 123456789\n"
              "fnwarden_value{case=\"h_round_million\"} 3000000\n"
              "fnwarden_value{case=\"i_moved\"} 4\n");
}

TEST(MetricsRender, HistogramBucketsAreCumulativeWithInfSumAndCount) {
    MetricsRegistry registry;
    auto& decode = registry.histogram("fnwarden_decode_seconds", "Time to decode a record.", {"kind"}, {0.5, 1, 10});
    auto& exec = decode.with({"exec"});
    for (double v : {0.25, 0.5, 0.75, 5.0, 100.0}) exec.observe(v);  // 0.5 is in le="0.5": le is inclusive
    decode.with({"open"}).observe(2);
    registry.histogram("fnwarden_batch_records", "Records per batch.", {}, {1, 8});

    EXPECT_EQ(registry.render(),
              "# HELP fnwarden_batch_records Records per batch.\n"
              "# TYPE fnwarden_batch_records histogram\n"
              "fnwarden_batch_records_bucket{le=\"1\"} 0\n"
              "fnwarden_batch_records_bucket{le=\"8\"} 0\n"
              "fnwarden_batch_records_bucket{le=\"+Inf\"} 0\n"
              "fnwarden_batch_records_sum 0\n"
              "fnwarden_batch_records_count 0\n"
              "# HELP fnwarden_decode_seconds Time to decode a record.\n"
              "# TYPE fnwarden_decode_seconds histogram\n"
              "fnwarden_decode_seconds_bucket{kind=\"exec\",le=\"0.5\"} 2\n"
              "fnwarden_decode_seconds_bucket{kind=\"exec\",le=\"1\"} 3\n"
              "fnwarden_decode_seconds_bucket{kind=\"exec\",le=\"10\"} 4\n"
              "fnwarden_decode_seconds_bucket{kind=\"exec\",le=\"+Inf\"} 5\n"
              "fnwarden_decode_seconds_sum{kind=\"exec\"} 106.5\n"
              "fnwarden_decode_seconds_count{kind=\"exec\"} 5\n"
              "fnwarden_decode_seconds_bucket{kind=\"open\",le=\"0.5\"} 0\n"
              "fnwarden_decode_seconds_bucket{kind=\"open\",le=\"1\"} 0\n"
              "fnwarden_decode_seconds_bucket{kind=\"open\",le=\"10\"} 1\n"
              "fnwarden_decode_seconds_bucket{kind=\"open\",le=\"+Inf\"} 1\n"
              "fnwarden_decode_seconds_sum{kind=\"open\"} 2\n"
              "fnwarden_decode_seconds_count{kind=\"open\"} 1\n" +
                  overflow_family(0));
}

TEST(MetricsRender, HistogramNanGoesToInfOnlyAndTrailingInfBoundIsImplicit) {
    MetricsRegistry registry;
    auto& h = registry.histogram("h", "H.", {}, {1, std::numeric_limits<double>::infinity()}).with();
    h.observe(std::nan(""));
    h.observe(-std::numeric_limits<double>::infinity());
    Histogram::Snapshot snap = h.snapshot();
    ASSERT_EQ(snap.cumulative.size(), 2u);  // le="1" and +Inf: the given +Inf was not doubled
    EXPECT_EQ(snap.cumulative[0], 1u);      // -Inf
    EXPECT_EQ(snap.cumulative[1], 2u);
    EXPECT_EQ(snap.count, 2u);
    EXPECT_TRUE(std::isnan(snap.sum));
}

TEST(MetricsRender, EscapesLabelValuesAndHelp) {
    MetricsRegistry registry;
    registry
        .counter("escapes_total", "Line one\nback\\slash \"quotes\" stay", {"path"})
        .with({"C:\\dir \"quoted\"\nnext"})
        .inc();
    EXPECT_EQ(registry.render(),
              "# HELP escapes_total Line one\\nback\\\\slash \"quotes\" stay\n"
              "# TYPE escapes_total counter\n"
              "escapes_total{path=\"C:\\\\dir \\\"quoted\\\"\\nnext\"} 1\n" +
                  overflow_family(0));
}

TEST(MetricsRender, InvalidUtf8InLabelValuesIsReplaced) {
    MetricsRegistry registry;
    auto& fam = registry.counter("names_total", "Names.", {"function"});
    fam.with({"bad\xff"}).inc();
    fam.with({"bad\xfe"}).inc();  // the same series once repaired
    fam.with({"caf\xc3\xa9"}).inc();  // valid: untouched
    fam.with({"\xed\xa0\x80"}).inc();  // a UTF-16 surrogate is not UTF-8
    std::string text = registry.render();
    EXPECT_TRUE(contains(text, "names_total{function=\"bad\xEF\xBF\xBD\"} 2\n")) << text;
    EXPECT_TRUE(contains(text, "names_total{function=\"caf\xc3\xa9\"} 1\n")) << text;
    EXPECT_TRUE(contains(text, "names_total{function=\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"} 1\n")) << text;
    EXPECT_FALSE(contains(text, "\xff"));
}

TEST(MetricsRender, OrderIsDeterministicWhateverTheOrderOfDeclarationAndUpdates) {
    auto build = [](bool reversed) {
        auto registry = std::make_unique<MetricsRegistry>();
        std::vector<std::string> names = {"b_total", "a_total", "c_total"};
        std::vector<std::string> functions = {"zeta", "alpha", "mid", "Alpha", "alpha2"};
        if (reversed) {
            std::reverse(names.begin(), names.end());
            std::reverse(functions.begin(), functions.end());
        }
        for (const auto& name : names) {
            auto& family = registry->counter(name, "Help.", {"function"});
            for (const auto& function : functions) family.with({function}).inc();
        }
        return registry;
    };
    auto forward = build(false);
    auto backward = build(true);
    std::string text = forward->render();
    EXPECT_EQ(text, backward->render());
    EXPECT_EQ(text, forward->render());
    EXPECT_LT(text.find("# HELP a_total"), text.find("# HELP b_total"));
    EXPECT_LT(text.find("# HELP b_total"), text.find("# HELP c_total"));
    EXPECT_LT(text.find("# HELP c_total"), text.find("# HELP fnwarden_metrics_series_overflow_total"));
    // Byte order: uppercase first, then a prefix before its extensions.
    EXPECT_LT(text.find("a_total{function=\"Alpha\"}"), text.find("a_total{function=\"alpha\"}"));
    EXPECT_LT(text.find("a_total{function=\"alpha\"}"), text.find("a_total{function=\"alpha2\"}"));
    EXPECT_LT(text.find("a_total{function=\"alpha2\"}"), text.find("a_total{function=\"mid\"}"));
    EXPECT_LT(text.find("a_total{function=\"mid\"}"), text.find("a_total{function=\"zeta\"}"));
}

// ---- declaration errors ----

TEST(MetricsDeclare, RejectsWhatPrometheusWouldReject) {
    MetricsRegistry registry;
    EXPECT_THROW(registry.counter("", "h"), std::invalid_argument);
    EXPECT_THROW(registry.counter("1st_total", "h"), std::invalid_argument);
    EXPECT_THROW(registry.counter("has-dash", "h"), std::invalid_argument);
    EXPECT_THROW(registry.counter("has space", "h"), std::invalid_argument);
    EXPECT_THROW(registry.counter("ok_total", "h", {"bad-label"}), std::invalid_argument);
    EXPECT_THROW(registry.counter("ok_total", "h", {"0label"}), std::invalid_argument);
    EXPECT_THROW(registry.counter("ok_total", "h", {"__reserved"}), std::invalid_argument);
    EXPECT_THROW(registry.counter("ok_total", "h", {"a:b"}), std::invalid_argument);  // colons: metric names only
    EXPECT_THROW(registry.counter("ok_total", "h", {"twice", "twice"}), std::invalid_argument);
    EXPECT_THROW(registry.counter("ok_total", "bad \xff help"), std::invalid_argument);
    EXPECT_THROW(registry.histogram("h_seconds", "h", {"le"}, {1}), std::invalid_argument);
    EXPECT_THROW(registry.histogram("h_seconds", "h", {}, {2, 1}), std::invalid_argument);
    EXPECT_THROW(registry.histogram("h_seconds", "h", {}, {1, 1}), std::invalid_argument);
    EXPECT_THROW(registry.histogram("h_seconds", "h", {}, {std::nan("")}), std::invalid_argument);
    EXPECT_THROW(registry.histogram("h_seconds", "h", {}, {-std::numeric_limits<double>::infinity(), 1}),
                 std::invalid_argument);
    EXPECT_THROW(registry.gauge_callback("cb", "h", nullptr), std::invalid_argument);

    // None of the failed declarations took its name.
    EXPECT_NO_THROW(registry.counter("ok_total", "h", {"function", "_private", "a1"}));
    EXPECT_NO_THROW(registry.gauge("namespace:recorded_rule", "h"));
    EXPECT_NO_THROW(registry.histogram("h_seconds", "h", {}, {}));
}

TEST(MetricsDeclare, RejectsNamesAlreadyWritten) {
    MetricsRegistry registry;
    registry.counter("requests_total", "h");
    EXPECT_THROW(registry.counter("requests_total", "h"), std::invalid_argument);
    EXPECT_THROW(registry.gauge("requests_total", "h"), std::invalid_argument);
    EXPECT_THROW(registry.gauge_callback("requests_total", "h", [] { return 1.0; }), std::invalid_argument);
    EXPECT_THROW(registry.counter(std::string(MetricsRegistry::kSeriesOverflowMetric), "h"), std::invalid_argument);

    registry.histogram("latency", "h", {}, {1});
    EXPECT_THROW(registry.counter("latency_count", "h"), std::invalid_argument);
    EXPECT_THROW(registry.gauge("latency_sum", "h"), std::invalid_argument);
    EXPECT_THROW(registry.gauge("latency_bucket", "h"), std::invalid_argument);
    registry.gauge("size_count", "h");
    EXPECT_THROW(registry.histogram("size", "h", {}, {1}), std::invalid_argument);
}

TEST(MetricsDeclare, WrongNumberOfLabelValuesThrows) {
    MetricsRegistry registry;
    auto& fam = registry.counter("x_total", "h", {"a", "b"});
    EXPECT_THROW(fam.with({"only one"}), std::invalid_argument);
    EXPECT_THROW(fam.with({"1", "2", "3"}), std::invalid_argument);
    EXPECT_THROW(fam.with(), std::invalid_argument);
    EXPECT_EQ(fam.series_count(), 0u);
    EXPECT_THROW(MetricsRegistry{0}, std::invalid_argument);
}

// ---- series cap ----

TEST(MetricsCap, UpdatesBeyondTheCapGoToTheOverflowSeriesAndAreCounted) {
    MetricsRegistry registry(2);
    auto& per_function = registry.counter("fnwarden_events_total", "Events.", {"function", "verdict"});
    per_function.with({"a", "allowed"}).inc();
    per_function.with({"b", "allowed"}).inc();
    per_function.with({"c", "allowed"}).inc();
    per_function.with({"d", "violation"}).inc(5);
    per_function.with({"a", "allowed"}).inc();  // existing series keep working past the cap

    EXPECT_EQ(per_function.series_count(), 3u);  // a, b and the overflow series
    EXPECT_EQ(registry.series_overflows(), 2u);
    EXPECT_EQ(per_function.with({"_overflow", "_overflow"}).value(), 6u);
    EXPECT_EQ(registry.render(),
              "# HELP fnwarden_events_total Events.\n"
              "# TYPE fnwarden_events_total counter\n"
              "fnwarden_events_total{function=\"_overflow\",verdict=\"_overflow\"} 6\n"
              "fnwarden_events_total{function=\"a\",verdict=\"allowed\"} 2\n"
              "fnwarden_events_total{function=\"b\",verdict=\"allowed\"} 1\n" +
                  overflow_family(2));
}

TEST(MetricsCap, EachFamilyHasItsOwnCapAndOverflowSeries) {
    MetricsRegistry registry(1);
    auto& gauges = registry.gauge("g", "h", {"function"});
    auto& histograms = registry.histogram("h_seconds", "h", {"function"}, {1});
    gauges.with({"a"}).set(1);
    gauges.with({"b"}).set(7);
    histograms.with({"a"}).observe(0.5);
    histograms.with({"b"}).observe(3);
    histograms.with({"c"}).observe(4);

    EXPECT_EQ(gauges.with({"_overflow"}).value(), 7);
    EXPECT_EQ(histograms.with({"_overflow"}).snapshot().count, 2u);
    EXPECT_EQ(gauges.series_count(), 2u);
    EXPECT_EQ(histograms.series_count(), 2u);
    EXPECT_EQ(registry.series_overflows(), 3u);
    std::string text = registry.render();
    EXPECT_TRUE(contains(text, "h_seconds_bucket{function=\"_overflow\",le=\"+Inf\"} 2\n")) << text;
    EXPECT_FALSE(contains(text, "function=\"b\"")) << text;
    EXPECT_FALSE(contains(text, "function=\"c\"")) << text;
}

TEST(MetricsCap, AFloodOfNamesStaysBounded) {
    MetricsRegistry registry(100);
    auto& fam = registry.counter("flood_total", "h", {"function"});
    for (int i = 0; i < 20000; ++i) fam.with({"fn-" + std::to_string(i)}).inc();
    EXPECT_EQ(fam.series_count(), 101u);
    EXPECT_EQ(registry.series_overflows(), 19900u);
    EXPECT_EQ(fam.with({"_overflow"}).value(), 19900u);
}

// ---- concurrency ----

// The per-function table behind `status` and `top`: a flood of made-up
// function names (cgroups named by their creator) stays bounded.
TEST(FunctionTally, ManyFunctionsStayBoundedAndTheRestIsCounted) {
    FunctionTally tally;
    EXPECT_EQ(tally.max_functions(), 1024u);
    for (int i = 0; i < 100000; ++i) tally.count("fn-" + std::to_string(i), i % 2 == 0);
    EXPECT_EQ(tally.size(), 1024u);
    EXPECT_EQ(tally.overflow().events, 100000u - 1024u);
    EXPECT_EQ(tally.overflow().violations, (100000u - 1024u) / 2);
    // Functions already in the table keep being counted.
    tally.count("fn-0", true);
    EXPECT_EQ(tally.get("fn-0").events, 2u);
    EXPECT_EQ(tally.get("fn-0").violations, 2u);
    EXPECT_EQ(tally.get("fn-99999").events, 0u);
    EXPECT_EQ(tally.size(), 1024u);
}

TEST(MetricsConcurrency, IncrementsFromManyThreadsAddUpExactly) {
    MetricsRegistry registry(1000);
    auto& shared = registry.counter("shared_total", "h").with();
    auto& per_function = registry.counter("per_function_total", "h", {"function"});
    auto& level = registry.gauge("level", "h").with();
    auto& sizes = registry.histogram("sizes", "h", {"function"}, {10, 100});

    constexpr int kThreads = 8;
    constexpr int kIterations = 20000;
    std::atomic<bool> done{false};
    std::thread scraper([&] {
        // Rendering while series are created and updated must be safe.
        while (!done) EXPECT_FALSE(registry.render().empty());
    });
    std::vector<std::thread> workers;
    for (int t = 0; t < kThreads; ++t) {
        workers.emplace_back([&, t] {
            std::string function = "fn" + std::to_string(t % 4);
            for (int i = 0; i < kIterations; ++i) {
                shared.inc();
                per_function.with({function}).inc();  // lookups race with creation
                level.inc(1);
                sizes.with({function}).observe(i % 200);
            }
        });
    }
    for (auto& w : workers) w.join();
    done = true;
    scraper.join();

    EXPECT_EQ(shared.value(), uint64_t(kThreads) * kIterations);
    uint64_t across_functions = 0;
    for (int f = 0; f < 4; ++f) {
        uint64_t per = per_function.with({"fn" + std::to_string(f)}).value();
        EXPECT_EQ(per, 2u * kIterations);
        across_functions += per;
    }
    EXPECT_EQ(across_functions, uint64_t(kThreads) * kIterations);
    EXPECT_EQ(level.value(), double(kThreads) * kIterations);  // integers: exact in a double
    Histogram::Snapshot snap = sizes.with({"fn0"}).snapshot();
    EXPECT_EQ(snap.count, 2u * kIterations);
    EXPECT_EQ(snap.cumulative[0], 2u * (kIterations / 200) * 11);   // 0..10 of every 200
    EXPECT_EQ(snap.cumulative[1], 2u * (kIterations / 200) * 101);  // 0..100 of every 200
    EXPECT_EQ(snap.sum, 2.0 * (kIterations / 200) * (199 * 200 / 2));
    EXPECT_EQ(per_function.series_count(), 4u);
    EXPECT_EQ(registry.series_overflows(), 0u);
}

// ---- callbacks ----

TEST(MetricsCallbacks, AreReadAtRenderTime) {
    MetricsRegistry registry;
    std::atomic<int> cgroups{3};
    registry.gauge_callback("fnwarden_monitored_cgroups", "Cgroups watched.", [&] { return double(cgroups.load()); });
    registry.counter_callback("fnwarden_ringbuf_drops_total", "Records the kernel could not queue.",
                              [] { return 12.0; });
    registry.gauge_callback("fnwarden_broken", "A source that fails.",
                            []() -> double { throw std::runtime_error("map gone"); });

    std::string expected_tail =
        "# HELP fnwarden_monitored_cgroups Cgroups watched.\n"
        "# TYPE fnwarden_monitored_cgroups gauge\n"
        "fnwarden_monitored_cgroups 3\n"
        "# HELP fnwarden_ringbuf_drops_total Records the kernel could not queue.\n"
        "# TYPE fnwarden_ringbuf_drops_total counter\n"
        "fnwarden_ringbuf_drops_total 12\n";
    EXPECT_EQ(registry.render(),
              "# HELP fnwarden_broken A source that fails.\n"
              "# TYPE fnwarden_broken gauge\n" +
                  overflow_family(0) + expected_tail);
    cgroups = 5;
    EXPECT_TRUE(contains(registry.render(), "\nfnwarden_monitored_cgroups 5\n"));
}

// ---- listen addresses ----

TEST(MetricsServerAddress, Parses) {
    auto parse = [](std::string_view text) { return MetricsServer::parse_address(text); };
    auto ok = [&](std::string_view text, const std::string& host, uint16_t port) {
        auto parsed = parse(text);
        ASSERT_TRUE(parsed.ok())
            << text << ": " << parsed.error();
        EXPECT_EQ(parsed.value().host, host) << text;
        EXPECT_EQ(parsed.value().port, port) << text;
    };
    ok("127.0.0.1:9464", "127.0.0.1", 9464);
    ok("[::1]:9464", "::1", 9464);
    ok("localhost:0", "localhost", 0);
    ok("0.0.0.0:65535", "0.0.0.0", 65535);
    for (std::string_view bad : {"", "127.0.0.1", "127.0.0.1:", ":9464", "::1:9464", "[::1]", "[::1]9464", "[::1:9464",
                                 "[]:9464", "host:65536", "host:-1", "host:94a", "host:+1", "host: 1"}) {
        auto parsed = parse(bad);
        EXPECT_TRUE(!parsed.ok()) << "accepted \"" << bad << "\"";
    }
}

// ---- the server ----

std::unique_ptr<MetricsServer> start_or_fail(const std::string& address, MetricsRegistry& registry,
                                             HealthCheck health = {}, const MetricsServerOptions& options = {}) {
    auto started = MetricsServer::start(address, registry, std::move(health), options);
    if (!started) {
        ADD_FAILURE() << "start(" << address << "): " << started.error();
        return nullptr;
    }
    return std::move(started.value());
}

std::string start_error(const std::string& address, MetricsRegistry& registry,
                        const MetricsServerOptions& options = {}) {
    auto started = MetricsServer::start(address, registry, {}, options);
    if (!started) return started.error();
    return {};
}

httplib::Client client_for(const MetricsServer& server) {
    httplib::Client client("127.0.0.1", server.port());
    client.set_connection_timeout(2s);
    client.set_read_timeout(5s);
    return client;
}

class Socket {
public:
    Socket() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {}
    ~Socket() {
        if (fd_ >= 0) ::close(fd_);
    }
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    int fd() const { return fd_; }

    bool connect_loopback(uint16_t port) const {
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    }
    // A listener on 127.0.0.1, any port: someone else holding "our" port.
    uint16_t listen_loopback() const {
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd_, 1) != 0) return 0;
        socklen_t length = sizeof(addr);
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &length);
        return ntohs(addr.sin_port);
    }
    bool send_all(std::string_view data) const {
        return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
    }
    // Everything until the peer closes, or nullopt-like "<timeout>".
    std::string read_until_closed(std::chrono::milliseconds timeout) const {
        timeval tv{};
        tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
        tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        std::string received;
        char buf[4096];
        for (;;) {
            ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
            if (n == 0) return received;
            if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? "<timeout>" : received;
            received.append(buf, static_cast<size_t>(n));
        }
    }

private:
    int fd_;
};

TEST(MetricsServer, ServesMetricsOnAnEphemeralLoopbackPort) {
    MetricsRegistry registry;
    registry.counter("fnwarden_events_total", "Events.", {"function"}).with({"checkout"}).inc(3);
    auto server = start_or_fail("127.0.0.1:0", registry);
    ASSERT_TRUE(server);
    EXPECT_NE(server->port(), 0);
    EXPECT_EQ(server->address(), "127.0.0.1:" + std::to_string(server->port()));

    auto client = client_for(*server);
    auto res = client.Get("/metrics");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    EXPECT_TRUE(contains(res->body, "\nfnwarden_events_total{function=\"checkout\"} 3\n")) << res->body;
    EXPECT_EQ(res->body, registry.render());

    // The next scrape sees the update.
    registry.counter("fnwarden_late_total", "Declared after start.").with().inc(7);
    res = client.Get("/metrics");
    ASSERT_TRUE(res);
    EXPECT_TRUE(contains(res->body, "\nfnwarden_late_total 7\n")) << res->body;
}

TEST(MetricsServer, HealthzFollowsTheHealthCheck) {
    MetricsRegistry registry;
    std::mutex mutex;
    std::string problem;
    auto server = start_or_fail("127.0.0.1:0", registry, [&] {
        std::lock_guard lock(mutex);
        return problem;
    });
    ASSERT_TRUE(server);
    auto client = client_for(*server);

    auto res = client.Get("/healthz");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->body, "ok\n");

    {
        std::lock_guard lock(mutex);
        problem = "ring buffer reader stalled";
    }
    res = client.Get("/healthz");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 503);
    EXPECT_EQ(res->body, "ring buffer reader stalled\n");
}

TEST(MetricsServer, HealthCheckThatThrowsIsUnhealthyNotACrash) {
    MetricsRegistry registry;
    auto server = start_or_fail("127.0.0.1:0", registry, []() -> std::string { throw std::runtime_error("no map"); });
    ASSERT_TRUE(server);
    auto client = client_for(*server);
    auto res = client.Get("/healthz");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 503);
    EXPECT_EQ(res->body, "health check failed: no map\n");
}

TEST(MetricsServer, NoHealthCheckMeansHealthy) {
    MetricsRegistry registry;
    auto server = start_or_fail("127.0.0.1:0", registry);
    ASSERT_TRUE(server);
    auto client = client_for(*server);
    auto res = client.Get("/healthz");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
}

TEST(MetricsServer, OnlyGetMetricsAndHealthzAreServed) {
    MetricsRegistry registry;
    auto server = start_or_fail("127.0.0.1:0", registry);
    ASSERT_TRUE(server);
    auto client = client_for(*server);

    for (const char* path : {"/", "/metrics/", "/metricsx", "/healthz/x", "/../etc/passwd", "/debug/pprof"}) {
        auto res = client.Get(path);
        ASSERT_TRUE(res) << path;
        EXPECT_EQ(res->status, 404) << path;
    }
    auto post = client.Post("/metrics", "x=1", "application/x-www-form-urlencoded");
    ASSERT_TRUE(post);
    EXPECT_EQ(post->status, 404);
    EXPECT_FALSE(contains(post->body, "# TYPE"));
    auto put = client.Put("/healthz", "", "text/plain");
    ASSERT_TRUE(put);
    EXPECT_EQ(put->status, 404);
    auto del = client.Delete("/metrics");
    ASSERT_TRUE(del);
    EXPECT_EQ(del->status, 404);

    Socket raw;
    ASSERT_TRUE(raw.connect_loopback(server->port()));
    ASSERT_TRUE(raw.send_all("BREW /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
    std::string reply = raw.read_until_closed(3s);
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 4")) << reply;
    EXPECT_FALSE(contains(reply, "# TYPE")) << reply;
}

TEST(MetricsServer, RefusesNonLoopbackUnlessAllowed) {
    MetricsRegistry registry;
    for (const char* address : {"0.0.0.0:0", "[::]:0", "192.0.2.1:9464"}) {
        std::string error = start_error(address, registry);
        EXPECT_TRUE(contains(error, "refusing")) << address << ": " << error;
        EXPECT_TRUE(contains(error, "allow_non_loopback")) << address << ": " << error;
    }

    MetricsServerOptions allowed;
    allowed.allow_non_loopback = true;
    auto server = start_or_fail("0.0.0.0:0", registry, {}, allowed);
    ASSERT_TRUE(server);
    auto client = client_for(*server);
    auto res = client.Get("/healthz");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
}

TEST(MetricsServer, AcceptsEveryLoopbackSpelling) {
    MetricsRegistry registry;
    for (const char* address : {"localhost:0", "127.0.0.2:0"}) {
        auto server = start_or_fail(address, registry);
        EXPECT_TRUE(server) << address;
    }
    auto started = MetricsServer::start("[::1]:0", registry, {});
    if (!started) {
        EXPECT_FALSE(contains(started.error(), "refusing")) << started.error();  // no IPv6 here: bind fails, but not the check
    } else {
        auto& server = started.value();
        EXPECT_EQ(server->address(), "[::1]:" + std::to_string(server->port()));
        httplib::Client client("::1", server->port());
        client.set_connection_timeout(2s);
        auto res = client.Get("/healthz");
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 200);
    }
}

TEST(MetricsServer, MalformedAddressIsAnError) {
    MetricsRegistry registry;
    EXPECT_TRUE(contains(start_error("::1:9464", registry), "brackets"));
    EXPECT_TRUE(contains(start_error("127.0.0.1", registry), "host:port"));
    EXPECT_FALSE(start_error("no-such-host.invalid:0", registry).empty());
}

TEST(MetricsServer, PortInUseIsAnErrorMessage) {
    MetricsRegistry registry;
    Socket squatter;
    uint16_t port = squatter.listen_loopback();
    ASSERT_NE(port, 0);
    std::string error = start_error("127.0.0.1:" + std::to_string(port), registry);
    EXPECT_TRUE(contains(error, "in use")) << error;
    EXPECT_TRUE(contains(error, "127.0.0.1:" + std::to_string(port))) << error;

    // Two daemons on one port: the second is told, it does not share the port.
    auto first = start_or_fail("127.0.0.1:0", registry);
    ASSERT_TRUE(first);
    error = start_error("127.0.0.1:" + std::to_string(first->port()), registry);
    EXPECT_TRUE(contains(error, "in use")) << error;
}

TEST(MetricsServer, DestructorReturnsPromptlyEvenWithStalledClients) {
    MetricsRegistry registry;
    MetricsServerOptions options;
    options.request_timeout = 30s;  // a stalled client would hold a worker that long
    auto server = start_or_fail("127.0.0.1:0", registry, {}, options);
    ASSERT_TRUE(server);
    {
        auto client = client_for(*server);
        auto res = client.Get("/metrics");
        ASSERT_TRUE(res);
    }
    Socket half_request, silent, queued1, queued2;
    ASSERT_TRUE(half_request.connect_loopback(server->port()));
    ASSERT_TRUE(half_request.send_all("GET /metrics HTTP/1.1\r\nHost: x\r\n"));
    ASSERT_TRUE(silent.connect_loopback(server->port()));
    ASSERT_TRUE(queued1.connect_loopback(server->port()));
    ASSERT_TRUE(queued2.connect_loopback(server->port()));
    std::this_thread::sleep_for(100ms);  // accepted and handed to the workers

    auto before = std::chrono::steady_clock::now();
    server.reset();
    auto took = std::chrono::steady_clock::now() - before;
    EXPECT_LT(took, 1s) << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
    EXPECT_NE(half_request.read_until_closed(2s), "<timeout>");  // its connection was closed, not leaked
}

TEST(MetricsServer, SlowClientIsCutOffAndDoesNotBlockScrapes) {
    MetricsRegistry registry;
    registry.counter("alive_total", "h").with().inc();
    MetricsServerOptions options;
    options.request_timeout = 300ms;
    options.worker_threads = 1;  // the slow client holds the only worker
    options.max_pending_connections = 1;
    auto server = start_or_fail("127.0.0.1:0", registry, {}, options);
    ASSERT_TRUE(server);

    Socket slow;
    ASSERT_TRUE(slow.connect_loopback(server->port()));
    ASSERT_TRUE(slow.send_all("GET /metrics HTTP/1.1\r\n"));
    std::this_thread::sleep_for(50ms);

    auto client = client_for(*server);
    auto before = std::chrono::steady_clock::now();
    auto res = client.Get("/metrics");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200);
    EXPECT_TRUE(contains(res->body, "alive_total 1"));
    EXPECT_LT(std::chrono::steady_clock::now() - before, 3s);

    // Keeping on trickling does not buy the slow client more time.
    std::string reply = slow.read_until_closed(3s);
    EXPECT_NE(reply, "<timeout>");
    EXPECT_FALSE(contains(reply, "alive_total")) << reply;
}

// Connections that say nothing (a port scanner, a stuck scraper, someone
// hoarding connections) must not keep /healthz from answering: the kubelet
// or systemd watchdog asking it would restart a healthy daemon.
TEST(MetricsServer, IdleConnectionsDoNotStarveHealthz) {
    MetricsRegistry registry;
    auto server = start_or_fail("127.0.0.1:0", registry, {}, MetricsServerOptions{});  // the daemon's defaults
    ASSERT_TRUE(server);
    for (int round = 0; round < 2; ++round) {
        // More idle connections than workers, queue and parking together.
        std::vector<std::unique_ptr<Socket>> idle;
        for (int i = 0; i < 100; ++i) {
            idle.push_back(std::make_unique<Socket>());
            ASSERT_TRUE(idle.back()->connect_loopback(server->port())) << i;
        }
        httplib::Client client("127.0.0.1", server->port());
        client.set_connection_timeout(1s);
        client.set_read_timeout(1s);
        client.set_write_timeout(1s);
        const auto before = std::chrono::steady_clock::now();
        auto res = client.Get("/healthz");
        ASSERT_TRUE(res) << "round " << round << ": " << httplib::to_string(res.error());
        EXPECT_EQ(res->status, 200);
        EXPECT_EQ(res->body, "ok\n");
        EXPECT_LT(std::chrono::steady_clock::now() - before, 1s);
    }
}

TEST(MetricsServer, OversizedRequestsAreRefused) {
    MetricsRegistry registry;
    MetricsServerOptions options;
    options.max_request_bytes = 1024;
    auto server = start_or_fail("127.0.0.1:0", registry, {}, options);
    ASSERT_TRUE(server);
    Socket raw;
    ASSERT_TRUE(raw.connect_loopback(server->port()));
    std::string request = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
    for (int i = 0; i < 100; ++i) request += "X-Padding-" + std::to_string(i) + ": " + std::string(40, 'p') + "\r\n";
    request += "\r\n";
    raw.send_all(request);
    std::string reply = raw.read_until_closed(3s);
    EXPECT_NE(reply, "<timeout>");
    EXPECT_FALSE(contains(reply, "200 OK")) << reply;
}

TEST(MetricsServer, LeavesSigpipeAsItFoundIt) {
    struct sigaction before {};
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ASSERT_EQ(::sigaction(SIGPIPE, &dfl, &before), 0);

    MetricsRegistry registry;
    auto server = start_or_fail("127.0.0.1:0", registry);
    ASSERT_TRUE(server);
    struct sigaction now {};
    ASSERT_EQ(::sigaction(SIGPIPE, nullptr, &now), 0);
    EXPECT_EQ(now.sa_handler, SIG_DFL) << "a function launched now would inherit SIGPIPE ignored";

    ::sigaction(SIGPIPE, &before, nullptr);
}

TEST(MetricsServer, ConcurrentScrapesWhileTheEventLoopUpdates) {
    MetricsRegistry registry(50);
    auto& events = registry.counter("events_total", "h", {"function"});
    auto server = start_or_fail("127.0.0.1:0", registry);
    ASSERT_TRUE(server);

    std::atomic<bool> done{false};
    std::thread event_loop([&] {
        // At least every name once, however quick the scrapers are.
        for (int i = 0; !done || i < 160; ++i) events.with({"fn" + std::to_string(i % 80)}).inc();
    });
    std::vector<std::thread> scrapers;
    std::atomic<int> ok{0};
    for (int s = 0; s < 3; ++s) {
        scrapers.emplace_back([&] {
            auto client = client_for(*server);
            for (int i = 0; i < 10; ++i) {
                auto res = client.Get("/metrics");
                if (res && res->status == 200 && contains(res->body, "# TYPE events_total counter")) ++ok;
            }
        });
    }
    for (auto& s : scrapers) s.join();
    done = true;
    event_loop.join();
    EXPECT_EQ(ok, 30);
    EXPECT_EQ(events.series_count(), 51u);
}

}  // namespace
}  // namespace fnw
