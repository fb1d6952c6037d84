// SPDX-License-Identifier: Apache-2.0
// FileAppender: every byte handed over reaches the file once and in order,
// through direct and page-cache writes alike, without ever writing over
// another writer's bytes or leaving a hole after a truncation.
#include "output/file_appender.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "temp_dir.hpp"

namespace fnw {
namespace {

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file(const std::filesystem::path& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
}

// Lines of 1 to 9,000 bytes (some longer than a block, most not a whole
// number of them), each naming its number, so that a byte out of place
// shows where.
std::string line(uint32_t n) {
    const size_t length = 1 + (n * 2654435761u) % 9000;
    std::string text = "{\"n\":" + std::to_string(n) + ",\"pad\":\"";
    text.append(length, static_cast<char>('a' + n % 26));
    return text + "\"}\n";
}

// Every other parameterized test runs once with direct writes allowed and
// once through the page cache only.
class FileAppenderTest : public ::testing::TestWithParam<bool> {
protected:
    FileAppenderOptions options(size_t batch_bytes = 3 * 4096 + 100) const {
        FileAppenderOptions o;
        o.batch_bytes = batch_bytes;
        o.batches_in_flight = 3;
        o.latency = std::chrono::milliseconds(0);  // every idle() makes the file whole
        o.allow_direct = GetParam();
        return o;
    }
    // The direct variant means nothing where the temporary directory's file
    // system takes no direct I/O (tmpfs): say so instead of passing.
    void skip_unless_direct_as_asked(const FileAppender& appender) {
        if (GetParam() && !appender.stats().direct)
            GTEST_SKIP() << dir_.path() << " takes no direct I/O here: nothing of the direct path to test";
    }
    // A direct appender that met an unaligned end of file must have filled
    // the block and gone on directly, not given up.
    void expect_still_as_asked(const FileAppender& appender) {
        EXPECT_EQ(appender.stats().direct, GetParam()) << "direct writes given up (or taken up) on the way";
    }
    test::TempDir dir_;
    std::filesystem::path file_ = dir_.path() / "events.jsonl";
};

TEST_P(FileAppenderTest, EveryByteOnceAndInOrder) {
    auto appender = FileAppender::open(file_, options());
    ASSERT_TRUE(appender) << appender.error();
    skip_unless_direct_as_asked(**appender);
    std::string expected;
    for (uint32_t n = 0; n < 1500; ++n) {
        const std::string text = line(n);
        (*appender)->batch() += text;
        expected += text;
        (*appender)->hand_over_if_full();
        // Now and then the filler runs dry: what it handed over becomes
        // readable, partial block included, and the next batch goes on
        // from an end of file inside a block.
        if (n % 37 == 0) (*appender)->idle();
        if (n % 501 == 0) {
            (*appender)->flush();
            ASSERT_EQ(read_file(file_), expected) << "after line " << n;
        }
    }
    (*appender)->flush();
    EXPECT_EQ(read_file(file_), expected);
    const FileAppender::Stats stats = (*appender)->stats();
    EXPECT_EQ(stats.bytes_written, expected.size());
    EXPECT_EQ(stats.bytes_lost, 0u);
    expect_still_as_asked(**appender);
}

TEST_P(FileAppenderTest, KeepsWhatTheFileHeldAndItsMode) {
    const std::string before = "{\"from\":\"an earlier run\"}\n";  // ends inside a block
    write_file(file_, before);
    ::chmod(file_.c_str(), 0640);
    std::string expected = before;
    {
        auto appender = FileAppender::open(file_, options());
        ASSERT_TRUE(appender) << appender.error();
        skip_unless_direct_as_asked(**appender);
        for (uint32_t n = 0; n < 200; ++n) {
            (*appender)->batch() += line(n);
            expected += line(n);
            (*appender)->hand_over_if_full();
        }
        (*appender)->flush();
        expect_still_as_asked(**appender);
    }  // the destructor flushes too
    EXPECT_EQ(read_file(file_), expected);
    struct stat st {};
    ASSERT_EQ(::stat(file_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST_P(FileAppenderTest, AnotherWriterBetweenBatchesKeepsItsBytes) {
    auto appender = FileAppender::open(file_, options());
    ASSERT_TRUE(appender) << appender.error();
    skip_unless_direct_as_asked(**appender);
    std::string expected;
    for (uint32_t n = 0; n < 10; ++n) {
        (*appender)->batch() += line(n);
        expected += line(n);
    }
    (*appender)->flush();
    // A second process appending to the same file: its bytes move the end
    // of file by an amount that is no whole number of blocks.
    const std::string foreign = "{\"from\":\"someone else\"}\n";
    {
        std::ofstream other(file_, std::ios::binary | std::ios::app);
        other << foreign;
    }
    expected += foreign;
    for (uint32_t n = 10; n < 400; ++n) {
        (*appender)->batch() += line(n);
        expected += line(n);
        (*appender)->hand_over_if_full();
    }
    (*appender)->flush();
    EXPECT_EQ(read_file(file_), expected);
    EXPECT_EQ((*appender)->stats().bytes_lost, 0u);
    expect_still_as_asked(**appender);
}

TEST_P(FileAppenderTest, ATruncationUnderneathLeavesNoHole) {
    auto appender = FileAppender::open(file_, options());
    ASSERT_TRUE(appender) << appender.error();
    skip_unless_direct_as_asked(**appender);
    for (uint32_t n = 0; n < 100; ++n) {
        (*appender)->batch() += line(n);
        (*appender)->hand_over_if_full();
    }
    (*appender)->flush();
    // logrotate's copytruncate: the file is copied away and cut to zero
    // while we still hold it open.
    std::filesystem::resize_file(file_, 0);
    std::string expected;
    for (uint32_t n = 100; n < 300; ++n) {
        (*appender)->batch() += line(n);
        expected += line(n);
        (*appender)->hand_over_if_full();
    }
    (*appender)->flush();
    EXPECT_EQ(read_file(file_), expected);  // from offset 0: no zeros where the old lines were
    expect_still_as_asked(**appender);
}

INSTANTIATE_TEST_SUITE_P(DirectOrPageCache, FileAppenderTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Direct" : "PageCache"; });

TEST(FileAppender, CountsWhatTheDeviceRefused) {
    auto appender = FileAppender::open("/dev/full");  // every write: ENOSPC
    ASSERT_TRUE(appender) << appender.error();
    EXPECT_FALSE((*appender)->stats().direct);  // not a regular file
    size_t handed = 0;
    for (uint32_t n = 0; n < 50; ++n) {
        (*appender)->batch() += line(n);
        handed += line(n).size();
        (*appender)->hand_over_if_full();
    }
    (*appender)->flush();
    EXPECT_EQ((*appender)->stats().bytes_written, 0u);
    EXPECT_EQ((*appender)->stats().bytes_lost, handed);
}

TEST(FileAppender, RefusesASymlinkPlantedAtThePath) {
    test::TempDir dir;
    const auto target = dir.path() / "target";
    write_file(target, "");
    const auto link = dir.path() / "events.jsonl";
    std::filesystem::create_symlink(target, link);
    auto appender = FileAppender::open(link);
    ASSERT_FALSE(appender);
    EXPECT_NE(appender.error().find("symbolic link"), std::string::npos) << appender.error();
}

TEST(FileAppender, CreatesTheFileForRootOnly) {
    test::TempDir dir;
    const auto path = dir.path() / "events.jsonl";
    { ASSERT_TRUE(FileAppender::open(path)); }
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
}

// `run` starts its function inside its cgroup only while the process is
// single-threaded (fork_into_cgroup): an appender that nothing was handed
// to yet must not have started its thread. A forked child of this test
// binary is not reported single-threaded by glibc, so a fresh process
// (tests/helpers/appender_thread_probe.cpp) looks.
TEST(FileAppender, StartsNoThreadBeforeItsFirstBytes) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::execl(FNW_APPENDER_THREAD_PROBE, FNW_APPENDER_THREAD_PROBE, nullptr);
        ::_exit(127);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    switch (WEXITSTATUS(status)) {
    case 0: break;
    case 1: ADD_FAILURE() << "the appender started its thread with nothing to write"; break;
    case 2: GTEST_SKIP() << "the probe was not single-threaded at its start (a sanitizer's thread?)";
    case 4: ADD_FAILURE() << "the first bytes were written without the thread"; break;
    default: ADD_FAILURE() << "the probe failed: exit " << WEXITSTATUS(status);
    }
}

// A writer that cannot keep up makes the filler wait (and count it) once
// every batch in flight is taken; nothing is dropped on the filler's side.
TEST(FileAppender, TheFillerWaitsForASlowWriterAndLosesNothing) {
    int ends[2];
    ASSERT_EQ(::pipe2(ends, O_CLOEXEC), 0);
    UniqueFd read_end(ends[0]), write_end(ends[1]);
    FileAppenderOptions options;
    options.batch_bytes = 256u << 10;  // more than the pipe holds: the writer blocks in write()
    options.batches_in_flight = 1;
    std::string expected;
    for (uint32_t n = 0; expected.size() < 4 * options.batch_bytes; ++n) expected += line(n);

    auto appender = FileAppender::borrow(write_end.get(), options);
    std::thread filler([&] {
        for (size_t at = 0; at < expected.size(); at += 4096) {
            appender->batch() += expected.substr(at, 4096);
            appender->hand_over_if_full();
        }
        appender->flush();
    });
    // Nobody reads until the filler has had to wait: with one batch in
    // flight and the writer stuck on a full pipe, it must. (A deadline, not
    // a measurement: a filler that never waits fails here.)
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (appender->stats().filler_waits == 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    EXPECT_GE(appender->stats().filler_waits, 1u);
    std::string got;
    std::thread reader([&] {
        char buffer[65536];
        for (ssize_t n; (n = ::read(read_end.get(), buffer, sizeof(buffer))) != 0;) {
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) break;
            got.append(buffer, static_cast<size_t>(n));
        }
    });
    filler.join();
    EXPECT_EQ(appender->stats().bytes_written, expected.size());
    EXPECT_EQ(appender->stats().bytes_lost, 0u);
    appender.reset();  // the descriptor stays ours
    write_end.reset();
    reader.join();
    EXPECT_EQ(got, expected);
}

}  // namespace
}  // namespace fnw
