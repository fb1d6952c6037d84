// SPDX-License-Identifier: Apache-2.0
#include "output/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "common/utf8.hpp"
#include "probes/probe_counters.hpp"

namespace fnw {

namespace {

bool is_ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool is_metric_name(std::string_view name) {
    if (name.empty() || is_ascii_digit(name[0])) return false;
    return std::all_of(name.begin(), name.end(),
                       [](char c) { return is_ascii_letter(c) || is_ascii_digit(c) || c == '_' || c == ':'; });
}

// [a-zA-Z_][a-zA-Z0-9_]*, and not __*: Prometheus keeps those for itself.
bool is_label_name(std::string_view name) {
    if (name.empty() || is_ascii_digit(name[0]) || name.starts_with("__")) return false;
    return std::all_of(name.begin(), name.end(),
                       [](char c) { return is_ascii_letter(c) || is_ascii_digit(c) || c == '_'; });
}

std::string with_invalid_utf8_replaced(std::string_view s) {
    constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        size_t n = utf8_sequence_length(s.substr(i));
        if (n == 0) {
            out += kReplacementCharacter;
            i += 1;
        } else {
            out.append(s, i, n);
            i += n;
        }
    }
    return out;
}

void append_escaped_label_value(std::string& out, std::string_view value) {
    for (char c : value) {
        switch (c) {
        case '\\': out += "\\\\"; break;
        case '"': out += "\\\""; break;
        case '\n': out += "\\n"; break;
        default: out += c;
        }
    }
}

void append_escaped_help(std::string& out, std::string_view help) {
    for (char c : help) {
        switch (c) {
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        default: out += c;
        }
    }
}

void append_uint(std::string& out, uint64_t v) {
    char buf[24];
    auto result = std::to_chars(buf, buf + sizeof(buf), v);
    out.append(buf, result.ptr);
}

// What Go's strconv.ParseFloat (the Prometheus parser) reads back exactly.
void append_value(std::string& out, double v) {
    if (std::isnan(v)) {
        out += "NaN";
        return;
    }
    if (std::isinf(v)) {
        out += v > 0 ? "+Inf" : "-Inf";
        return;
    }
    char buf[32];
    // Whole numbers as plain integers ("3", not "3e+00"), up to 2^53 where a
    // double still holds every integer exactly; beyond, the shortest
    // round-trip form (with an exponent) is both exact and accepted.
    constexpr double kLargestExactInteger = 9007199254740992.0;
    if (std::trunc(v) == v && std::fabs(v) <= kLargestExactInteger) {
        auto result = std::to_chars(buf, buf + sizeof(buf), static_cast<int64_t>(v));
        out.append(buf, result.ptr);
        return;
    }
    auto result = std::to_chars(buf, buf + sizeof(buf), v);
    out.append(buf, result.ptr);
}

// {a="x",b="y"} (nothing without labels); extra_name="le" for buckets.
void append_labels(std::string& out, const std::vector<std::string>& names, const std::vector<std::string>& values,
                   std::string_view extra_name = {}, std::string_view extra_value = {}) {
    if (names.empty() && extra_name.empty()) return;
    out += '{';
    bool first = true;
    auto append_pair = [&](std::string_view name, std::string_view value) {
        if (!first) out += ',';
        first = false;
        out += name;
        out += "=\"";
        append_escaped_label_value(out, value);
        out += '"';
    };
    for (size_t i = 0; i < names.size(); ++i) append_pair(names[i], values[i]);
    if (!extra_name.empty()) append_pair(extra_name, extra_value);
    out += '}';
}

std::string_view type_name(MetricType type) {
    switch (type) {
    case MetricType::Counter: return "counter";
    case MetricType::Gauge: return "gauge";
    case MetricType::Histogram: return "histogram";
    }
    return "untyped";
}

// A label-less metric whose value is read when scraped.
class CallbackFamily final : public detail::MetricFamilyBase {
public:
    CallbackFamily(std::string name, std::string help, MetricType type, std::function<double()> read)
        : MetricFamilyBase(std::move(name), std::move(help), type, {}), read_(std::move(read)) {}

    void render(std::string& out) const override {
        render_header(out);
        double value = 0;
        try {
            value = read_();
        } catch (...) {
            // One unreadable source must not cost the whole scrape; its
            // sample goes missing, which absent() alerts can catch.
            return;
        }
        out += name();
        out += ' ';
        append_value(out, value);
        out += '\n';
    }

private:
    std::function<double()> read_;
};

}  // namespace

// ---- Histogram ----

Histogram::Histogram(std::span<const double> upper_bounds)
    : upper_bounds_(upper_bounds), bucket_hits_(std::make_unique<std::atomic<uint64_t>[]>(upper_bounds.size() + 1)) {}

void Histogram::observe(double v) noexcept {
    // lower_bound: the first bound >= v, since le is inclusive. NaN compares
    // false with everything and would land in the first bucket.
    size_t bucket = upper_bounds_.size();
    if (!std::isnan(v))
        bucket = static_cast<size_t>(std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), v) -
                                     upper_bounds_.begin());
    bucket_hits_[bucket].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
    Snapshot snap;
    snap.cumulative.reserve(upper_bounds_.size() + 1);
    uint64_t running = 0;
    for (size_t i = 0; i <= upper_bounds_.size(); ++i) {
        running += bucket_hits_[i].load(std::memory_order_relaxed);
        snap.cumulative.push_back(running);
    }
    snap.count = running;
    snap.sum = sum_.load(std::memory_order_relaxed);
    return snap;
}

// ---- families ----

namespace detail {

MetricFamilyBase::MetricFamilyBase(std::string name, std::string help, MetricType type,
                                   std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), type_(type), label_names_(std::move(label_names)) {}

void MetricFamilyBase::render_header(std::string& out) const {
    out += "# HELP ";
    out += name_;
    out += ' ';
    append_escaped_help(out, help_);
    out += "\n# TYPE ";
    out += name_;
    out += ' ';
    out += type_name(type_);
    out += '\n';
}

}  // namespace detail

template <class Series>
MetricFamily<Series>::MetricFamily(std::string name, std::string help, MetricType type,
                                   std::vector<std::string> label_names, size_t max_series, Counter* overflows,
                                   std::vector<double> upper_bounds)
    : MetricFamilyBase(std::move(name), std::move(help), type, std::move(label_names)),
      max_series_(max_series),
      overflows_(overflows),
      upper_bounds_(std::move(upper_bounds)) {}

template <class Series>
Series& MetricFamily<Series>::with(const std::vector<std::string>& label_values) {
    if (label_values.size() != label_names().size())
        throw std::invalid_argument(name() + ": " + std::to_string(label_values.size()) + " label values for " +
                                    std::to_string(label_names().size()) + " labels");
    if (!std::all_of(label_values.begin(), label_values.end(), is_valid_utf8)) {
        std::vector<std::string> repaired;
        repaired.reserve(label_values.size());
        for (const auto& value : label_values) repaired.push_back(with_invalid_utf8_replaced(value));
        return with(repaired);
    }

    std::lock_guard lock(mutex_);
    if (auto it = series_.find(label_values); it != series_.end()) return it->second;
    if (series_.size() < max_series_) return emplace_locked(label_values);
    if (overflows_ != nullptr) overflows_->inc();
    std::vector<std::string> overflow_label_values(label_values.size(),
                                                   std::string(MetricsRegistry::kOverflowLabelValue));
    return emplace_locked(overflow_label_values);
}

template <class Series>
Series& MetricFamily<Series>::emplace_locked(const std::vector<std::string>& label_values) {
    if constexpr (std::is_same_v<Series, Histogram>) {
        return series_.try_emplace(label_values, std::span<const double>(upper_bounds_)).first->second;
    } else {
        return series_.try_emplace(label_values).first->second;
    }
}

template <class Series>
size_t MetricFamily<Series>::series_count() const {
    std::lock_guard lock(mutex_);
    return series_.size();
}

template <class Series>
void MetricFamily<Series>::render(std::string& out) const {
    // Series are never erased and map nodes never move: formatting happens
    // outside the lock, so a scrape of 10000 series does not stall with()
    // on the event loop.
    std::vector<std::pair<const std::vector<std::string>*, const Series*>> snapshot;
    {
        std::lock_guard lock(mutex_);
        snapshot.reserve(series_.size());
        for (const auto& [values, series] : series_) snapshot.emplace_back(&values, &series);
    }

    render_header(out);
    for (const auto& [values, series] : snapshot) {
        if constexpr (std::is_same_v<Series, Histogram>) {
            Histogram::Snapshot snap = series->snapshot();
            std::string le;
            for (size_t i = 0; i <= upper_bounds_.size(); ++i) {
                le.clear();
                if (i < upper_bounds_.size())
                    append_value(le, upper_bounds_[i]);
                else
                    le = "+Inf";
                out += name();
                out += "_bucket";
                append_labels(out, label_names(), *values, "le", le);
                out += ' ';
                append_uint(out, snap.cumulative[i]);
                out += '\n';
            }
            out += name();
            out += "_sum";
            append_labels(out, label_names(), *values);
            out += ' ';
            append_value(out, snap.sum);
            out += '\n';
            out += name();
            out += "_count";
            append_labels(out, label_names(), *values);
            out += ' ';
            append_uint(out, snap.count);
            out += '\n';
        } else {
            out += name();
            append_labels(out, label_names(), *values);
            out += ' ';
            if constexpr (std::is_same_v<Series, Counter>)
                append_uint(out, series->value());
            else
                append_value(out, series->value());
            out += '\n';
        }
    }
}

template class MetricFamily<Counter>;
template class MetricFamily<Gauge>;
template class MetricFamily<Histogram>;

// ---- registry ----

MetricsRegistry::MetricsRegistry(size_t max_series_per_family) : max_series_per_family_(max_series_per_family) {
    if (max_series_per_family == 0) throw std::invalid_argument("metrics: the series cap must be at least 1");
    series_overflows_ = &counter(std::string(kSeriesOverflowMetric),
                                 "Lookups of a new label set refused because its metric had reached its series "
                                 "cap; their updates went to the series labelled \"_overflow\".")
                             .with();
}

MetricsRegistry::~MetricsRegistry() = default;

CounterFamily& MetricsRegistry::counter(const std::string& name, const std::string& help,
                                        std::vector<std::string> label_names) {
    return declare<Counter>(name, help, MetricType::Counter, std::move(label_names), {});
}

GaugeFamily& MetricsRegistry::gauge(const std::string& name, const std::string& help,
                                    std::vector<std::string> label_names) {
    return declare<Gauge>(name, help, MetricType::Gauge, std::move(label_names), {});
}

HistogramFamily& MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                            std::vector<std::string> label_names,
                                            std::vector<double> bucket_upper_bounds) {
    if (!bucket_upper_bounds.empty() && std::isinf(bucket_upper_bounds.back()) && bucket_upper_bounds.back() > 0)
        bucket_upper_bounds.pop_back();
    for (size_t i = 0; i < bucket_upper_bounds.size(); ++i) {
        if (!std::isfinite(bucket_upper_bounds[i]))
            throw std::invalid_argument(name + ": bucket bounds must be finite (+Inf is implicit)");
        if (i > 0 && !(bucket_upper_bounds[i - 1] < bucket_upper_bounds[i]))
            throw std::invalid_argument(name + ": bucket bounds must be strictly increasing");
    }
    if (std::find(label_names.begin(), label_names.end(), "le") != label_names.end())
        throw std::invalid_argument(name + ": \"le\" is the bucket label of a histogram");
    return declare<Histogram>(name, help, MetricType::Histogram, std::move(label_names),
                              std::move(bucket_upper_bounds));
}

void MetricsRegistry::gauge_callback(const std::string& name, const std::string& help, std::function<double()> read) {
    if (!read) throw std::invalid_argument(name + ": empty callback");
    add_family(std::make_unique<CallbackFamily>(name, help, MetricType::Gauge, std::move(read)));
}

void MetricsRegistry::counter_callback(const std::string& name, const std::string& help,
                                       std::function<double()> read) {
    if (!read) throw std::invalid_argument(name + ": empty callback");
    add_family(std::make_unique<CallbackFamily>(name, help, MetricType::Counter, std::move(read)));
}

template <class Series>
MetricFamily<Series>& MetricsRegistry::declare(const std::string& name, const std::string& help, MetricType type,
                                               std::vector<std::string> label_names,
                                               std::vector<double> upper_bounds) {
    // new: the constructor is private to keep families owned by a registry.
    std::unique_ptr<MetricFamily<Series>> family(new MetricFamily<Series>(
        name, help, type, std::move(label_names), max_series_per_family_, series_overflows_, std::move(upper_bounds)));
    MetricFamily<Series>& declared = *family;
    add_family(std::move(family));
    // A label-less metric shows 0 from the first scrape, not only after its
    // first event: rate() and absent() need the series to exist.
    if (declared.label_names().empty()) declared.with();
    return declared;
}

void MetricsRegistry::add_family(std::unique_ptr<detail::MetricFamilyBase> family) {
    const std::string& name = family->name();
    if (!is_metric_name(name)) throw std::invalid_argument("invalid metric name \"" + name + "\"");
    if (!is_valid_utf8(family->help())) throw std::invalid_argument(name + ": help is not UTF-8");
    const auto& labels = family->label_names();
    for (size_t i = 0; i < labels.size(); ++i) {
        if (!is_label_name(labels[i]))
            throw std::invalid_argument(name + ": invalid label name \"" + labels[i] + "\"");
        if (std::find(labels.begin(), labels.begin() + static_cast<std::ptrdiff_t>(i), labels[i]) !=
            labels.begin() + static_cast<std::ptrdiff_t>(i))
            throw std::invalid_argument(name + ": label \"" + labels[i] + "\" declared twice");
    }

    // Names this family puts in the exposition. A histogram x writes x_bucket,
    // x_sum and x_count, which must not be anyone else's metric either.
    std::vector<std::string> written = {name};
    if (family->type() == MetricType::Histogram)
        for (const char* suffix : {"_bucket", "_sum", "_count"}) written.push_back(name + suffix);

    std::lock_guard lock(mutex_);
    for (const auto& taken : written)
        if (sample_names_.contains(taken))
            throw std::invalid_argument(name + ": \"" + taken + "\" is already used by another metric");
    sample_names_.insert(written.begin(), written.end());
    families_.emplace(name, std::move(family));
}

std::string MetricsRegistry::render() const {
    // Families are never removed: pointers taken under the lock stay valid,
    // and callbacks run without it (they may take their own locks).
    std::vector<const detail::MetricFamilyBase*> families;
    {
        std::lock_guard lock(mutex_);
        families.reserve(families_.size());
        for (const auto& [name, family] : families_) families.push_back(family.get());
    }
    std::string out;
    for (const auto* family : families) family->render(out);
    return out;
}

void declare_kernel_counter_metrics(MetricsRegistry& registry, std::function<ProbeCounters()> read) {
    for (const KernelCounter& counter : kKernelCounters) {
        if (*counter.metric == '\0') continue;
        registry.counter_callback(counter.metric, counter.help,
                                  [read, field = counter.field] { return static_cast<double>(read().*field); });
    }
}

}  // namespace fnw
