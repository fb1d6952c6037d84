// SPDX-License-Identifier: Apache-2.0
// Prometheus metrics of the daemon: counters, gauges and histograms with
// labels, kept lock-free on the update path and rendered in the text
// exposition format 0.0.4 for the HTTP endpoint (output/metrics_server.hpp).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fnw {

struct ProbeCounters;  // probes/probe_counters.hpp

enum class MetricType { Counter, Gauge, Histogram };

// Integer on purpose: everything the daemon counts is a number of events, and
// an integer renders exactly (no exponent) however large it grows.
class Counter {
public:
    void inc(uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
    uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<uint64_t> value_{0};
};

class Gauge {
public:
    void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
    void inc(double delta = 1) noexcept { value_.fetch_add(delta, std::memory_order_relaxed); }
    void dec(double delta = 1) noexcept { value_.fetch_sub(delta, std::memory_order_relaxed); }
    double value() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<double> value_{0};
};

class Histogram {
public:
    // upper_bounds belongs to the family and outlives the series.
    explicit Histogram(std::span<const double> upper_bounds);

    // Buckets are "less or equal" (Prometheus' le). NaN lands in +Inf only.
    void observe(double v) noexcept;

    struct Snapshot {
        std::vector<uint64_t> cumulative;  // one per upper bound, then +Inf
        double sum = 0;
        uint64_t count = 0;  // == cumulative.back(): derived from the buckets
                             // so a scrape racing observe() stays consistent
    };
    Snapshot snapshot() const;

private:
    std::span<const double> upper_bounds_;
    std::unique_ptr<std::atomic<uint64_t>[]> bucket_hits_;  // not cumulative; last is +Inf
    std::atomic<double> sum_{0};
};

class MetricsRegistry;

namespace detail {

// What the registry renders; one per metric name.
class MetricFamilyBase {
public:
    MetricFamilyBase(std::string name, std::string help, MetricType type, std::vector<std::string> label_names);
    MetricFamilyBase(const MetricFamilyBase&) = delete;
    MetricFamilyBase& operator=(const MetricFamilyBase&) = delete;
    virtual ~MetricFamilyBase() = default;

    const std::string& name() const { return name_; }
    const std::string& help() const { return help_; }
    const std::vector<std::string>& label_names() const { return label_names_; }
    MetricType type() const { return type_; }

    // Appends # HELP, # TYPE and the samples. Called on the HTTP thread.
    virtual void render(std::string& out) const = 0;

protected:
    void render_header(std::string& out) const;

private:
    std::string name_;
    std::string help_;
    MetricType type_;
    std::vector<std::string> label_names_;
};

}  // namespace detail

// A metric and its series, one per set of label values. Made by
// MetricsRegistry, which owns it: references stay valid as long as the
// registry lives.
template <class Series>
class MetricFamily final : public detail::MetricFamilyBase {
public:
    // The series for these label values, in the order the label names were
    // declared. Creating a series takes a mutex: on hot paths look it up once
    // and keep the reference (it stays valid, series are never removed).
    // Past the family's series cap, every new label set shares one overflow
    // series whose labels are all "_overflow", and the registry counts the
    // redirection in fnwarden_metrics_series_overflow_total: memory stays
    // bounded whatever function names the cluster throws at the daemon.
    // Invalid UTF-8 in a value is replaced (U+FFFD): Prometheus rejects the
    // whole scrape otherwise. Throws std::invalid_argument when the number of
    // values is not the number of labels.
    Series& with(const std::vector<std::string>& label_values = {});

    size_t series_count() const;

    void render(std::string& out) const override;

private:
    friend class MetricsRegistry;
    // overflows is null only for the registry's own overflow counter, which
    // has no labels and so never overflows.
    MetricFamily(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
                 size_t max_series, Counter* overflows, std::vector<double> upper_bounds);

    Series& emplace_locked(const std::vector<std::string>& label_values);

    const size_t max_series_;
    Counter* const overflows_;
    const std::vector<double> upper_bounds_;  // histograms only

    mutable std::mutex mutex_;  // guards the map, not the series' values
    std::map<std::vector<std::string>, Series> series_;
};

using CounterFamily = MetricFamily<Counter>;
using GaugeFamily = MetricFamily<Gauge>;
using HistogramFamily = MetricFamily<Histogram>;

extern template class MetricFamily<Counter>;
extern template class MetricFamily<Gauge>;
extern template class MetricFamily<Histogram>;

// All metrics of the daemon. Declared up front (typically at startup),
// updated from the event loop, rendered from the HTTP thread(s): every member
// function is thread-safe.
//
// Names are checked against Prometheus' rules when declared; a bad name, a
// name declared twice or clashing with a histogram's _bucket/_sum/_count
// throws std::invalid_argument, since that is a bug, not a runtime condition.
class MetricsRegistry {
public:
    static constexpr size_t kDefaultMaxSeriesPerFamily = 10000;
    static constexpr std::string_view kOverflowLabelValue = "_overflow";
    static constexpr std::string_view kSeriesOverflowMetric = "fnwarden_metrics_series_overflow_total";

    // max_series_per_family counts label sets; the overflow series comes on
    // top. Must be at least 1.
    explicit MetricsRegistry(size_t max_series_per_family = kDefaultMaxSeriesPerFamily);
    MetricsRegistry(const MetricsRegistry&) = delete;
    MetricsRegistry& operator=(const MetricsRegistry&) = delete;
    ~MetricsRegistry();

    CounterFamily& counter(const std::string& name, const std::string& help,
                           std::vector<std::string> label_names = {});
    GaugeFamily& gauge(const std::string& name, const std::string& help, std::vector<std::string> label_names = {});
    // bucket_upper_bounds: strictly increasing, finite; +Inf is implicit (a
    // trailing +Inf is accepted and dropped).
    HistogramFamily& histogram(const std::string& name, const std::string& help, std::vector<std::string> label_names,
                               std::vector<double> bucket_upper_bounds);

    // Values read when scraped (e.g. fnwarden_monitored_cgroups, counters kept
    // in BPF maps). `read` runs on the HTTP server's threads, possibly on two
    // at once, never on the thread that registered it: it must be thread-safe
    // and must not declare metrics. It should be quick: it delays the scrape.
    // When it throws, the sample is left out of that scrape.
    void gauge_callback(const std::string& name, const std::string& help, std::function<double()> read);
    void counter_callback(const std::string& name, const std::string& help, std::function<double()> read);

    // The text exposition format 0.0.4: families sorted by name, series by
    // label values, so two scrapes of the same state are byte-identical.
    std::string render() const;

    // with() calls sent to an overflow series so far, all families together
    // (what fnwarden_metrics_series_overflow_total shows).
    uint64_t series_overflows() const { return series_overflows_->value(); }

private:
    void add_family(std::unique_ptr<detail::MetricFamilyBase> family);
    template <class Series>
    MetricFamily<Series>& declare(const std::string& name, const std::string& help, MetricType type,
                                  std::vector<std::string> label_names, std::vector<double> upper_bounds);

    const size_t max_series_per_family_;
    Counter* series_overflows_ = nullptr;  // a series of families_, set by the constructor

    mutable std::mutex mutex_;
    std::map<std::string, std::unique_ptr<detail::MetricFamilyBase>> families_;
    std::set<std::string> sample_names_;  // every name a family writes, histograms' suffixes included
};

// One counter_callback per kernel counter that has a metric in
// FNW_KERNEL_COUNTERS (<fnwarden/counters.h>), each reading `read()` at
// scrape time: the same thread-safety rules as counter_callback apply.
void declare_kernel_counter_metrics(MetricsRegistry& registry, std::function<ProbeCounters()> read);

}  // namespace fnw
