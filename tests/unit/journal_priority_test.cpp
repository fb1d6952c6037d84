// SPDX-License-Identifier: Apache-2.0
// Log priorities for systemd's journal: which level gets which "<N>", and
// when the prefix is used at all ($JOURNAL_STREAM naming stderr). No
// systemd needed: the stream check only compares device and inode numbers.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/ostream_sink.h>

#include "common/unique_fd.hpp"
#include "daemon/journal_priority.hpp"

namespace fnw {
namespace {

// "DEVICE:INODE" of an open descriptor, as systemd writes $JOURNAL_STREAM.
std::string stream_id(int fd) {
    struct stat st {};
    EXPECT_EQ(::fstat(fd, &st), 0);
    return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
}

TEST(JournalPriority, LevelsMapToTheirSyslogPriorities) {
    EXPECT_EQ(journal_priority(spdlog::level::critical), 2);
    EXPECT_EQ(journal_priority(spdlog::level::err), 3);
    EXPECT_EQ(journal_priority(spdlog::level::warn), 4);
    EXPECT_EQ(journal_priority(spdlog::level::info), 6);
    EXPECT_EQ(journal_priority(spdlog::level::debug), 7);
    EXPECT_EQ(journal_priority(spdlog::level::trace), 7);
}

TEST(JournalPriority, StreamMatchesOnlyTheDeviceAndInodeItNames) {
    UniqueFd file(::open(std::filesystem::temp_directory_path().c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    ASSERT_TRUE(file.valid());
    int pipe_ends[2];
    ASSERT_EQ(::pipe2(pipe_ends, O_CLOEXEC), 0);
    UniqueFd read_end(pipe_ends[0]), write_end(pipe_ends[1]);

    EXPECT_TRUE(is_journal_stream(file.get(), stream_id(file.get())));
    EXPECT_TRUE(is_journal_stream(write_end.get(), stream_id(write_end.get())));
    // Redirected elsewhere (the variable inherited, the stream not).
    EXPECT_FALSE(is_journal_stream(write_end.get(), stream_id(file.get())));
    EXPECT_FALSE(is_journal_stream(file.get(), stream_id(write_end.get())));

    struct stat st {};
    ASSERT_EQ(::fstat(file.get(), &st), 0);
    const std::string dev = std::to_string(st.st_dev), ino = std::to_string(st.st_ino);
    EXPECT_FALSE(is_journal_stream(file.get(), dev + ":" + std::to_string(st.st_ino + 1)));
    EXPECT_FALSE(is_journal_stream(file.get(), std::to_string(st.st_dev + 1) + ":" + ino));
    // Anything but two whole decimal numbers is no match.
    for (const std::string& malformed : {std::string(), std::string(":"), dev, ":" + ino, dev + ":", dev + ":" + ino + "\n",
                                         " " + dev + ":" + ino, dev + ":" + ino + ":0", dev + ":-" + ino, "x:" + ino})
        EXPECT_FALSE(is_journal_stream(file.get(), malformed)) << "\"" << malformed << "\"";
    EXPECT_FALSE(is_journal_stream(-1, stream_id(file.get())));
}

TEST(JournalPriority, StderrIsTheJournalOnlyWhenJournalStreamNamesIt) {
    ::unsetenv("JOURNAL_STREAM");
    EXPECT_FALSE(stderr_is_journal());
    ::setenv("JOURNAL_STREAM", stream_id(STDERR_FILENO).c_str(), 1);
    EXPECT_TRUE(stderr_is_journal());
    UniqueFd other(::open(std::filesystem::temp_directory_path().c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    ASSERT_TRUE(other.valid());
    ::setenv("JOURNAL_STREAM", stream_id(other.get()).c_str(), 1);
    EXPECT_FALSE(stderr_is_journal());
    ::unsetenv("JOURNAL_STREAM");
}

// A logger as the CLI makes it, writing into a string.
class LoggedLines {
public:
    LoggedLines() : sink_(std::make_shared<spdlog::sinks::ostream_sink_st>(out_)), logger_("test", sink_) {
        logger_.set_formatter(std::make_unique<JournalPriorityFormatter>(
            std::make_unique<spdlog::pattern_formatter>("fnwarden: %^%l%$: %v", spdlog::pattern_time_type::local, "\n")));
        logger_.set_level(spdlog::level::trace);
    }
    spdlog::logger& logger() { return logger_; }
    std::string take() {
        std::string text = out_.str();
        out_.str("");
        return text;
    }

private:
    std::ostringstream out_;
    std::shared_ptr<spdlog::sinks::ostream_sink_st> sink_;
    spdlog::logger logger_;
};

TEST(JournalPriority, FormatterPrefixesEveryLineWithItsLevelsPriority) {
    LoggedLines log;
    log.logger().error("invalid rules");
    EXPECT_EQ(log.take(), "<3>fnwarden: error: invalid rules\n");
    log.logger().warn("ring buffer full");
    EXPECT_EQ(log.take(), "<4>fnwarden: warning: ring buffer full\n");
    log.logger().info("running");
    EXPECT_EQ(log.take(), "<6>fnwarden: info: running\n");
    log.logger().debug("d");
    EXPECT_EQ(log.take(), "<7>fnwarden: debug: d\n");
    log.logger().critical("c");
    EXPECT_EQ(log.take(), "<2>fnwarden: critical: c\n");
    // Each line is an entry of its own in the journal: each needs the prefix.
    log.logger().error("invalid rules in /etc/fnwarden/rules:\n  a.yaml:3:1: bad\n\n  b.yaml: worse");
    EXPECT_EQ(log.take(),
              "<3>fnwarden: error: invalid rules in /etc/fnwarden/rules:\n<3>  a.yaml:3:1: bad\n<3>\n<3>  b.yaml: worse\n");
}

TEST(JournalPriority, ClonedFormatterKeepsThePrefix) {
    JournalPriorityFormatter formatter(std::make_unique<spdlog::pattern_formatter>("%v", spdlog::pattern_time_type::local, "\n"));
    auto copy = formatter.clone();
    spdlog::details::log_msg msg("test", spdlog::level::warn, "w");
    spdlog::memory_buf_t out;
    copy->format(msg, out);
    EXPECT_EQ(std::string(out.data(), out.size()), "<4>w\n");
}

}  // namespace
}  // namespace fnw
