// SPDX-License-Identifier: Apache-2.0
// The whole exposition, read back the way Prometheus' text parser and
// `promtool check metrics` read it: one HELP and one TYPE per family before
// its samples, families in one block each, label values escaped, no series
// twice, and the naming scheme (counters end in _total, nothing else does,
// base units). tests/e2e/daemon_test.sh runs promtool itself on a live
// daemon; this one needs no promtool and covers the corner cases.
#include <cctype>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "output/metrics.hpp"
#include "output/metrics_process.hpp"

#include <gtest/gtest.h>

namespace fnw {
namespace {

struct Family {
    std::string type;
    bool help = false;
    bool has_samples = false;
};

bool is_label_name(const std::string& name) {
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
    for (char c : name)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
    return true;
}

// Reads `{a="x",b="y"}` at text[at] (at is on '{'); returns the labels
// sorted by name, or why not.
bool read_labels(const std::string& line, size_t& at, std::map<std::string, std::string>& labels,
                 std::string& problem) {
    ++at;  // '{'
    while (at < line.size() && line[at] != '}') {
        size_t eq = line.find("=\"", at);
        if (eq == std::string::npos) return problem = "label without =\"", false;
        std::string name = line.substr(at, eq - at);
        if (!is_label_name(name)) return problem = "label name \"" + name + "\"", false;
        std::string value;
        for (at = eq + 2; at < line.size() && line[at] != '"'; ++at) {
            if (line[at] != '\\') {
                value += line[at];
                continue;
            }
            char escaped = ++at < line.size() ? line[at] : '\0';
            if (escaped != '\\' && escaped != '"' && escaped != 'n') return problem = "bad escape", false;
            value += escaped == 'n' ? '\n' : escaped;
        }
        if (at >= line.size()) return problem = "unterminated label value", false;
        if (!labels.emplace(name, value).second) return problem = "label " + name + " twice", false;
        ++at;  // closing '"'
        if (at < line.size() && line[at] == ',') ++at;
        else if (at < line.size() && line[at] != '}') return problem = "no , or } after a label value", false;
    }
    if (at >= line.size()) return problem = "unterminated label set", false;
    ++at;  // '}'
    return true;
}

bool is_value(const std::string& text) {
    if (text == "NaN" || text == "+Inf" || text == "-Inf") return true;
    char* end = nullptr;
    std::strtod(text.c_str(), &end);
    return !text.empty() && *end == '\0';
}

// The family a sample belongs to: its own name, or a histogram's.
std::string family_of(const std::string& sample, const std::map<std::string, Family>& families) {
    if (families.contains(sample)) return sample;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        std::string_view s(suffix);
        if (sample.ends_with(s)) {
            std::string base = sample.substr(0, sample.size() - s.size());
            if (auto it = families.find(base); it != families.end() && it->second.type == "histogram") return base;
        }
    }
    return "";
}

void check_comment(const std::string& line, std::map<std::string, Family>& families, std::set<std::string>& closed,
                   std::string& current, std::vector<std::string>& problems) {
    std::istringstream words(line);
    std::string hash, keyword, name, rest;
    words >> hash >> keyword >> name;
    std::getline(words, rest);
    if (keyword != "HELP" && keyword != "TYPE") return;
    if (name != current && (closed.contains(name))) problems.push_back(name + ": family split in two blocks");
    if (name != current && !current.empty()) closed.insert(current);
    current = name;
    Family& family = families[name];
    if (family.has_samples) problems.push_back(name + ": " + keyword + " after its samples");
    if (keyword == "HELP") {
        if (family.help) problems.push_back(name + ": HELP twice");
        family.help = true;
        if (rest.size() < 2) problems.push_back(name + ": empty HELP");
    } else {
        if (!family.type.empty()) problems.push_back(name + ": TYPE twice");
        family.type = rest.empty() ? "" : rest.substr(1);
        if (family.type != "counter" && family.type != "gauge" && family.type != "histogram")
            problems.push_back(name + ": type \"" + family.type + "\"");
    }
}

// Everything wrong with an exposition; empty when Prometheus takes it.
std::vector<std::string> exposition_problems(const std::string& text) {
    std::vector<std::string> problems;
    std::map<std::string, Family> families;
    std::set<std::string> closed, series;
    std::string current, line;
    std::istringstream lines(text);
    while (std::getline(lines, line)) {
        if (line.starts_with("#")) {
            check_comment(line, families, closed, current, problems);
            continue;
        }
        size_t at = line.find_first_of("{ ");
        std::string name = line.substr(0, at);
        std::map<std::string, std::string> labels;
        std::string problem;
        if (at != std::string::npos && line[at] == '{' && !read_labels(line, at, labels, problem)) {
            problems.push_back(line + ": " + problem);
            continue;
        }
        if (at >= line.size() || line[at] != ' ' || !is_value(line.substr(at + 1))) {
            problems.push_back(line + ": no value");
            continue;
        }
        std::string family = family_of(name, families);
        if (family.empty() || families[family].type.empty() || !families[family].help) {
            problems.push_back(name + ": sample without HELP and TYPE before it");
            continue;
        }
        if (family != current) problems.push_back(name + ": sample outside its family's block");
        families[family].has_samples = true;
        std::string key = name;
        for (const auto& [label, value] : labels) key += "\x1f" + label + "=" + value;
        if (!series.insert(key).second) problems.push_back(line + ": series twice");
    }
    for (const auto& [name, family] : families) {
        bool total = name.ends_with("_total");
        if (family.type == "counter" && !total) problems.push_back(name + ": counter without _total");
        if (family.type != "counter" && total) problems.push_back(name + ": _total on a " + family.type);
        for (const char* unit : {"milliseconds", "microseconds", "nanoseconds", "kilobytes", "megabytes", "percent"})
            if (name.find(unit) != std::string::npos) problems.push_back(name + ": not a base unit");
    }
    return problems;
}

std::string joined(const std::vector<std::string>& problems) {
    std::string out;
    for (const auto& p : problems) out += p + "\n";
    return out;
}

// A registry with every kind of family the daemon declares, the process
// metrics and build info, and label values that need escaping or repair.
TEST(MetricsExposition, EveryKindOfFamilyReadsBackCleanly) {
    MetricsRegistry registry(3);
    declare_process_metrics(registry);
    declare_build_info(registry, "0.1.0", "unknown");
    auto& violations = registry.counter("fnwarden_violations_total", "Violations.", {"function", "type"});
    for (const char* function : {"a\"quoted\"", "back\\slash", "two\nlines", "bad\xff", "bad\xfe", "x", "y"})
        violations.with({function, "exec"}).inc();
    violations.with({"_overflow", "_overflow"}).inc();  // the same series the cap sends the rest to
    auto& latency = registry.histogram("fnwarden_event_latency_seconds", "Latency.", {"type"}, {0.001, 0.5});
    latency.with({"exec"}).observe(0.2);
    latency.with({"exec\n"}).observe(2);
    registry.gauge("fnwarden_rules_valid", "Valid.").with().set(1);
    registry.gauge_callback("fnwarden_monitored_cgroups", "Cgroups.", [] { return 3.0; });
    registry.counter_callback("fnwarden_output_dropped_total", "Dropped.", [] { return 0.0; });
    registry.counter_callback("fnwarden_unreadable_total", "Throws.", []() -> double { throw 1; });

    std::string text = registry.render();
    EXPECT_EQ(joined(exposition_problems(text)), "") << text;
    EXPECT_EQ(registry.series_overflows(), 4u);
}

// The checker above must be able to fail, or the test proves nothing.
TEST(MetricsExposition, TheCheckerCatchesWhatPrometheusRefuses) {
    const std::string good = "# HELP a_total A.\n# TYPE a_total counter\na_total{f=\"x\"} 1\n";
    EXPECT_EQ(joined(exposition_problems(good)), "");
    const std::vector<std::pair<std::string, std::string>> bad = {
        {"duplicate series", good + "a_total{f=\"x\"} 2\n"},
        {"no HELP", "# TYPE b_total counter\nb_total 1\n"},
        {"no TYPE", "# HELP b_total B.\nb_total 1\n"},
        {"HELP twice", good + "# HELP a_total A.\n"},
        {"unescaped quote", "# HELP a_total A.\n# TYPE a_total counter\na_total{f=\"x\"y\"} 1\n"},
        {"unescaped quote, then more labels",
         "# HELP a_total A.\n# TYPE a_total counter\na_total{f=\"a\"q\"\",g=\"y\"} 1\n"},
        {"bad escape", "# HELP a_total A.\n# TYPE a_total counter\na_total{f=\"x\\t\"} 1\n"},
        {"no value", "# HELP a_total A.\n# TYPE a_total counter\na_total{f=\"x\"}\n"},
        {"counter without _total", "# HELP a A.\n# TYPE a counter\na 1\n"},
        {"gauge with _total", "# HELP a_total A.\n# TYPE a_total gauge\na_total 1\n"},
        {"not a base unit", "# HELP a_milliseconds A.\n# TYPE a_milliseconds gauge\na_milliseconds 1\n"},
        {"split family", good + "# HELP b B.\n# TYPE b gauge\nb 1\na_total{f=\"y\"} 1\n"},
        {"label twice", "# HELP a_total A.\n# TYPE a_total counter\na_total{f=\"x\",f=\"y\"} 1\n"},
    };
    for (const auto& [what, text] : bad) EXPECT_NE(joined(exposition_problems(text)), "") << what << ":\n" << text;
}

}  // namespace
}  // namespace fnw
