// SPDX-License-Identifier: Apache-2.0
#include "core/display_name.hpp"

#include <filesystem>
#include <variant>

#include "runtime/cgroup.hpp"
#include "temp_dir.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fnw {
namespace {

bool has_terminal_controls(const std::string& text) {
    for (unsigned char c : text)
        if (c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f)) return true;
    return text.find("\xc2\x9b") != std::string::npos;
}

TEST(DisplayNameTest, TerminalEscapesAreShownEscaped) {
    const std::string hostile = "fn\x1b[2J\rforged\x9b" "31m";
    const std::string shown = display_name(hostile);
    EXPECT_EQ(shown, "fn\\x1b[2J\\x0dforged\\x9b31m");
    EXPECT_FALSE(has_terminal_controls(shown));
}

TEST(DisplayNameTest, C1ControlsEncodedAsUtf8AreEscapedToo) {
    EXPECT_EQ(display_name("a\xc2\x9b" "b"), "a\\xc2\\x9bb");
    EXPECT_EQ(display_name("x\x07y\x7f\n"), "x\\x07y\\x7f\\x0a");
    // Bidi override (U+202E): would reorder what the reader sees.
    EXPECT_EQ(display_name("a\xe2\x80\xae" "b"), "a\\xe2\\x80\\xaeb");
}

TEST(DisplayNameTest, PrintableUtf8AndPlainNamesAreKept) {
    EXPECT_EQ(display_name("hello-fn"), "hello-fn");
    EXPECT_EQ(display_name("caf\xc3\xa9 \xe6\x97\xa5"), "caf\xc3\xa9 \xe6\x97\xa5");
    EXPECT_EQ(display_name("a\\x1b"), "a\\\\x1b");  // a literal backslash cannot fake an escape
    EXPECT_EQ(display_name("\xff\xc3"), "\\xff\\xc3");  // not UTF-8
}

TEST(DisplayNameTest, LongNamesAreCutAtAPieceBoundary) {
    const std::string shown = display_name(std::string(1000, 'a'), 64);
    EXPECT_EQ(shown, std::string(64, 'a') + "...");
    const std::string escapes = display_name(std::string(100, '\x1b'), 10);
    EXPECT_EQ(escapes, "\\x1b\\x1b...");  // never half an escape
}

TEST(FunctionNameTest, NamesThatWouldLeaveTheCgroupParentAreRefused) {
    for (const std::string& bad : std::vector<std::string>{"../x", "a/b", ".", "..", "", std::string(300, 'a'), "-x", ".hidden",
                                  std::string("a\0b", 3), "a b", "x\x1b[2J"}) {
        const std::string problem = function_name_problem(bad);
        EXPECT_NE(problem, "") << bad;
        EXPECT_NE(problem.find("invalid function name"), std::string::npos) << problem;
        EXPECT_FALSE(has_terminal_controls(problem)) << problem;
    }
    EXPECT_NE(function_name_problem(std::string(300, 'a')).find("300 characters"), std::string::npos);
}

TEST(FunctionNameTest, OrdinaryNamesPass) {
    for (const std::string& good : std::vector<std::string>{"demo", "hello-fn", "fn_1.v2", "A", std::string(63, 'z')})
        EXPECT_EQ(function_name_problem(good), "") << good;
}

// The last line of defence under the CLI's check: a cgroup path that
// climbs out of its parent is never created.
TEST(FunctionNameTest, CgroupDirRefusesPathsThatClimbOut) {
    test::TempDir dir;
    std::filesystem::create_directory(dir.path() / "fnwarden");
    for (const std::string leaf : std::vector<std::string>{"../x-1-0", "./x-1-0", "a/../../x-1-0"}) {
        auto created = CgroupDir::create(dir.path() / "fnwarden" / leaf);
        ASSERT_FALSE(created.ok()) << leaf;
        EXPECT_NE(created.error().find("\".\" or \"..\""), std::string::npos)
            << created.error();
    }
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "x-1-0"));
}

TEST(RedactUrlTest, CredentialsAndQueryValuesAreHidden) {
    EXPECT_EQ(redact_url("https://user:secret@hooks.example.com:8443/path/x?token=abc&x=1#frag"),
              "https://***@hooks.example.com:8443/path/x?token=***&x=***#***");
    EXPECT_EQ(redact_url("http://h/p?sekrit"), "http://h/p?***");
    EXPECT_EQ(redact_url("http://a:p@ss@h/"), "http://***@h/");
    EXPECT_EQ(redact_url("https://host/hook"), "https://host/hook");
    EXPECT_EQ(redact_url("ftp://u:pw@h/?k=v"), "ftp://***@h/?k=***");
    EXPECT_EQ(redact_url("user:pw@host"), "***@host");
}

TEST(RedactUrlTest, LoopbackHosts) {
    EXPECT_TRUE(url_host_is_loopback("http://127.0.0.1:8080/x"));
    EXPECT_TRUE(url_host_is_loopback("http://localhost/x"));
    EXPECT_TRUE(url_host_is_loopback("http://u:p@[::1]:80/x"));
    EXPECT_FALSE(url_host_is_loopback("http://127.0.0.1.evil.com/x"));
    EXPECT_FALSE(url_host_is_loopback("http://10.0.0.1/"));
    EXPECT_FALSE(url_host_is_loopback("http://hooks.example.com/"));
}

}  // namespace
}  // namespace fnw
