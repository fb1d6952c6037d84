// SPDX-License-Identifier: Apache-2.0
#include "output/metrics_process.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>

#include "output/metrics.hpp"

#include <gtest/gtest.h>

namespace fnw {
namespace {

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

// The value of a label-less sample NAME in TEXT; NaN when absent.
double sample_value(const std::string& text, const std::string& name) {
    size_t at = text.find("\n" + name + " ");
    if (at == std::string::npos) return std::nan("");
    return std::strtod(text.c_str() + at + name.size() + 2, nullptr);
}

// A /proc/<pid>/stat line whose command name has what trips a naive parser:
// spaces and a ')'.
constexpr const char* kStatLine =
    "4242 (fn (x) y) S 1 4242 4242 0 -1 4194560 2000 0 0 0 "
    "250 150 0 0 20 0 3 0 777000 123456789 2500 18446744073709551615 1 1 0 0 0 0 0 4096 17922 0 0 0 17 1 0 0 0 0 0\n";

TEST(ProcStat, FieldsAreCountedFromTheLastParenthesis) {
    auto stat = parse_proc_stat(kStatLine);
    ASSERT_TRUE(stat) << stat.error();
    EXPECT_EQ(stat->user_ticks, 250u);
    EXPECT_EQ(stat->system_ticks, 150u);
    EXPECT_EQ(stat->start_ticks, 777000u);
    EXPECT_EQ(stat->virtual_bytes, 123456789u);
    EXPECT_EQ(stat->resident_pages, 2500u);
}

TEST(ProcStat, MalformedTextIsAnError) {
    EXPECT_FALSE(parse_proc_stat(""));
    EXPECT_FALSE(parse_proc_stat("4242 (fn) S 1 2 3"));
    EXPECT_FALSE(parse_proc_stat("4242 fn S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22"));
    std::string not_a_number = kStatLine;
    not_a_number.replace(not_a_number.find(" 250 "), 5, " 2x0 ");
    auto stat = parse_proc_stat(not_a_number);
    ASSERT_FALSE(stat);
    EXPECT_TRUE(contains(stat.error(), "utime")) << stat.error();
}

TEST(ProcStat, BootTimeFromTheBtimeLine) {
    auto boot = parse_boot_time("cpu  1 2 3\nintr 5 6\nbtime 1764900000\nprocesses 9\n");
    ASSERT_TRUE(boot) << boot.error();
    EXPECT_EQ(*boot, 1764900000u);
    EXPECT_FALSE(parse_boot_time("cpu  1 2 3\n"));
    EXPECT_FALSE(parse_boot_time("btime soon\n"));
}

class FakeProcSelf : public ::testing::Test {
protected:
    void SetUp() override {
        char pattern[] = "/tmp/fnw-proc-self-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        dir_ = pattern;
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    std::filesystem::path dir_;
};

TEST_F(FakeProcSelf, ValuesComeFromTheGivenProcDirectory) {
    std::ofstream(dir_ / "stat") << kStatLine;
    std::filesystem::create_directory(dir_ / "fd");
    for (const char* fd : {"0", "1", "2", "7"}) std::ofstream(dir_ / "fd" / fd) << "";
    MetricsRegistry registry;
    declare_process_metrics(registry, dir_.string());
    std::string text = registry.render();

    const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
    EXPECT_DOUBLE_EQ(sample_value(text, "process_cpu_seconds_total"), 400 / ticks) << text;
    EXPECT_DOUBLE_EQ(sample_value(text, "process_resident_memory_bytes"), 2500 * page) << text;
    EXPECT_DOUBLE_EQ(sample_value(text, "process_virtual_memory_bytes"), 123456789) << text;
    EXPECT_DOUBLE_EQ(sample_value(text, "process_open_fds"), 4) << text;
    EXPECT_TRUE(contains(text, "# TYPE process_cpu_seconds_total counter\n")) << text;
    for (const char* gauge : {"process_resident_memory_bytes", "process_virtual_memory_bytes",
                              "process_start_time_seconds", "process_open_fds", "process_max_fds"})
        EXPECT_TRUE(contains(text, std::string("# TYPE ") + gauge + " gauge\n")) << gauge << "\n" << text;
}

TEST_F(FakeProcSelf, AnUnreadableSourceLeavesItsSampleOutNotTheScrape) {
    MetricsRegistry registry;  // dir_ has no stat and no fd/
    declare_process_metrics(registry, dir_.string());
    registry.counter("still_here_total", "Still rendered.");
    std::string text = registry.render();
    EXPECT_TRUE(std::isnan(sample_value(text, "process_cpu_seconds_total"))) << text;
    EXPECT_TRUE(std::isnan(sample_value(text, "process_open_fds"))) << text;
    EXPECT_TRUE(contains(text, "# HELP process_cpu_seconds_total ")) << text;
    EXPECT_EQ(sample_value(text, "still_here_total"), 0) << text;
    EXPECT_FALSE(std::isnan(sample_value(text, "process_max_fds"))) << text;  // getrlimit, not /proc
}

TEST(ProcessMetrics, OfThisProcessArePlausible) {
    MetricsRegistry registry;
    declare_process_metrics(registry);
    std::string text = registry.render();
    EXPECT_GE(sample_value(text, "process_open_fds"), 3) << text;  // stdin, stdout, stderr
    EXPECT_GE(sample_value(text, "process_max_fds"), sample_value(text, "process_open_fds")) << text;
    EXPECT_GT(sample_value(text, "process_resident_memory_bytes"), 0) << text;
    EXPECT_GE(sample_value(text, "process_virtual_memory_bytes"),
              sample_value(text, "process_resident_memory_bytes"))
        << text;
    EXPECT_GE(sample_value(text, "process_cpu_seconds_total"), 0) << text;
    // Started after 2020 and not after now (a clock step aside, whole seconds).
    double started = sample_value(text, "process_start_time_seconds");
    EXPECT_GT(started, 1577836800) << text;
    EXPECT_LE(started, static_cast<double>(std::time(nullptr)) + 1) << text;
}

TEST(BuildInfo, IsAConstantOneWithVersionAndCommit) {
    MetricsRegistry registry;
    declare_build_info(registry, "0.1.0", "4f2c\"x");
    std::string text = registry.render();
    EXPECT_TRUE(contains(text, "# TYPE fnwarden_build_info gauge\n")) << text;
    EXPECT_TRUE(contains(text, "fnwarden_build_info{version=\"0.1.0\",commit=\"4f2c\\\"x\"} 1\n")) << text;
}

}  // namespace
}  // namespace fnw
