// SPDX-License-Identifier: Apache-2.0
#include "core/path_glob.hpp"

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace fnw {

// gtest output for a mismatch.
void PrintTo(const KernelPathRule& rule, std::ostream* out) {
    *out << "{" << (rule.kind == KernelPathRule::Kind::Exact ? "Exact" : "Subtree") << " \"" << rule.path << "\"}";
}

namespace {

using ::testing::HasSubstr;
using Kind = KernelPathRule::Kind;

// Whether `pattern`, alone in a set, matches `path`; a failure when the
// pattern does not compile.
::testing::AssertionResult Matches(const std::string& pattern, const std::string& path) {
    auto set = PathGlobSet::compile({pattern});
    if (!set) return ::testing::AssertionFailure() << "\"" << pattern << "\" does not compile: " << set.error();
    if (auto index = set->match(path)) {
        if (*index != 0) return ::testing::AssertionFailure() << "index " << *index << " from a one-pattern set";
        return ::testing::AssertionSuccess() << "\"" << pattern << "\" matches \"" << path << "\"";
    }
    return ::testing::AssertionFailure() << "\"" << pattern << "\" does not match \"" << path << "\"";
}

TEST(PathGlobRegex, TranslatesSegmentsAndQuotesLiterals) {
    EXPECT_EQ(glob_to_regex("/etc/passwd"), "/etc/passwd");
    EXPECT_EQ(glob_to_regex("/a/*.py"), "/a/[^/]*\\.py");
    EXPECT_EQ(glob_to_regex("/a/*"), "/a/[^/]+");
    EXPECT_EQ(glob_to_regex("/a/**"), "/a(?:/[^/]+)*");
    EXPECT_EQ(glob_to_regex("/a/**/b"), "/a(?:/[^/]+)*/b");
    EXPECT_EQ(glob_to_regex("/a/**/**/b"), "/a(?:/[^/]+)*/b");
    EXPECT_EQ(glob_to_regex("/**"), "/(?:[^/]+(?:/[^/]+)*)?");
    EXPECT_EQ(glob_to_regex("/"), "/");
    EXPECT_EQ(glob_to_regex("/a/(x)+"), "/a/\\(x\\)\\+");
}

TEST(PathGlobMatch, LiteralIsExact) {
    EXPECT_TRUE(Matches("/etc/passwd", "/etc/passwd"));
    EXPECT_FALSE(Matches("/etc/passwd", "/etc/passwd2"));
    EXPECT_FALSE(Matches("/etc/passwd", "/etc/passw"));
    EXPECT_FALSE(Matches("/etc/passwd", "/etc"));
    EXPECT_FALSE(Matches("/etc/passwd", "/etc/passwd/x"));
    EXPECT_FALSE(Matches("/etc/passwd", "/x/etc/passwd"));
    EXPECT_TRUE(Matches("/", "/"));
    EXPECT_FALSE(Matches("/", "/a"));
}

TEST(PathGlobMatch, TrailingSlashNamesTheSamePath) {
    EXPECT_TRUE(Matches("/a/", "/a"));
    EXPECT_FALSE(Matches("/a/", "/a/x"));
    EXPECT_FALSE(Matches("/a/", "/ab"));
}

TEST(PathGlobMatch, TrailingGlobstarIsDirectoryAndEverythingBeneath) {
    EXPECT_TRUE(Matches("/a/**", "/a"));
    EXPECT_TRUE(Matches("/a/**", "/a/x"));
    EXPECT_TRUE(Matches("/a/**", "/a/x/y"));
    EXPECT_TRUE(Matches("/a/**", "/a/.git/config"));
    EXPECT_FALSE(Matches("/a/**", "/ab"));
    EXPECT_FALSE(Matches("/a/**", "/ab/x"));
    EXPECT_FALSE(Matches("/a/**", "/"));
    EXPECT_FALSE(Matches("/a/**", "/b/a"));
    EXPECT_TRUE(Matches("/var/task/**", "/var/task/lib/python3.11/site-packages/x.py"));
    EXPECT_FALSE(Matches("/var/task/**", "/var/tasks/x"));
}

TEST(PathGlobMatch, InnerGlobstarIsZeroOrMoreWholeSegments) {
    EXPECT_TRUE(Matches("/a/**/b", "/a/b"));
    EXPECT_TRUE(Matches("/a/**/b", "/a/x/b"));
    EXPECT_TRUE(Matches("/a/**/b", "/a/x/y/b"));
    EXPECT_FALSE(Matches("/a/**/b", "/a/xb"));
    EXPECT_FALSE(Matches("/a/**/b", "/a/x/yb"));
    EXPECT_FALSE(Matches("/a/**/b", "/a/b/c"));
    EXPECT_FALSE(Matches("/a/**/b", "/a"));
    EXPECT_FALSE(Matches("/a/**/b", "/ab"));
    EXPECT_FALSE(Matches("/a/**/b", "/xa/b"));
    // Two in a row mean one.
    EXPECT_TRUE(Matches("/a/**/**/b", "/a/b"));
    EXPECT_TRUE(Matches("/a/**/**/b", "/a/x/y/b"));
    EXPECT_FALSE(Matches("/a/**/**/b", "/a/xb"));
}

TEST(PathGlobMatch, LeadingGlobstar) {
    EXPECT_TRUE(Matches("/**/b", "/b"));
    EXPECT_TRUE(Matches("/**/b", "/x/y/b"));
    EXPECT_FALSE(Matches("/**/b", "/xb"));
    EXPECT_FALSE(Matches("/**/b", "/b/x"));
    EXPECT_FALSE(Matches("/**/b", "/"));
}

TEST(PathGlobMatch, RootGlobstarMatchesEveryAbsolutePath) {
    for (const char* path : {"/", "/a", "/a/b", "/.hidden", "/a/b/c/d/e/f"}) EXPECT_TRUE(Matches("/**", path));
    EXPECT_TRUE(Matches("/**/**", "/"));
    EXPECT_TRUE(Matches("/**/**", "/a/b"));
    EXPECT_FALSE(Matches("/**", ""));
    EXPECT_FALSE(Matches("/**", "relative/path"));
}

TEST(PathGlobMatch, StarStaysWithinOneSegment) {
    EXPECT_TRUE(Matches("/a/*", "/a/x"));
    EXPECT_TRUE(Matches("/a/*", "/a/.hidden"));
    EXPECT_FALSE(Matches("/a/*", "/a"));
    EXPECT_FALSE(Matches("/a/*", "/a/x/y"));
    EXPECT_FALSE(Matches("/a/*", "/ab"));
    EXPECT_TRUE(Matches("/a/*.py", "/a/m.py"));
    EXPECT_TRUE(Matches("/a/*.py", "/a/.py"));
    EXPECT_FALSE(Matches("/a/*.py", "/a/sub/m.py"));
    EXPECT_FALSE(Matches("/a/*.py", "/a/m.pyc"));
    EXPECT_FALSE(Matches("/a/*.py", "/a/mxpy"));
    EXPECT_TRUE(Matches("/a/x*y", "/a/xy"));
    EXPECT_TRUE(Matches("/a/x*y", "/a/x-zz-y"));
    EXPECT_FALSE(Matches("/a/x*y", "/a/x/y"));
    EXPECT_TRUE(Matches("/*/b", "/a/b"));
    EXPECT_FALSE(Matches("/*/b", "/a/c/b"));
    EXPECT_FALSE(Matches("/*/b", "/b"));
}

TEST(PathGlobMatch, LoneStarSegmentIsNeverEmpty) {
    EXPECT_TRUE(Matches("/*", "/x"));
    EXPECT_FALSE(Matches("/*", "/"));
    EXPECT_FALSE(Matches("/a/*", "/a/"));
}

TEST(PathGlobMatch, RegexMetacharactersAreLiteral) {
    EXPECT_TRUE(Matches("/a/b.c", "/a/b.c"));
    EXPECT_FALSE(Matches("/a/b.c", "/a/bxc"));
    EXPECT_TRUE(Matches("/a/(x)+", "/a/(x)+"));
    EXPECT_FALSE(Matches("/a/(x)+", "/a/x"));
    EXPECT_FALSE(Matches("/a/(x)+", "/a/xx"));
    EXPECT_TRUE(Matches("/a/x|y", "/a/x|y"));
    EXPECT_FALSE(Matches("/a/x|y", "/a/x"));
    EXPECT_FALSE(Matches("/a/x|y", "y"));
    EXPECT_TRUE(Matches("/a/$x^", "/a/$x^"));
    EXPECT_TRUE(Matches("/a/back\\slash", "/a/back\\slash"));
    EXPECT_FALSE(Matches("/a/back\\slash", "/a/backslash"));
    EXPECT_TRUE(Matches("/a/c++*", "/a/c++11"));
    EXPECT_FALSE(Matches("/a/c++*", "/a/cc"));
    EXPECT_TRUE(Matches("/usr/lib/libz.so.*", "/usr/lib/libz.so.1.3"));
    EXPECT_FALSE(Matches("/usr/lib/libz.so.*", "/usr/lib/libzXsoX1"));
}

TEST(PathGlobMatch, PathsAreBytes) {
    EXPECT_TRUE(Matches("/tmp/*", "/tmp/\xff\xfe"));
    EXPECT_TRUE(Matches("/tmp/**", "/tmp/\x80/\xc3"));
    EXPECT_TRUE(Matches("/tmp/*", "/tmp/line\nbreak"));
    EXPECT_FALSE(Matches("/tmp/*", "/tmp/\xff/\xfe"));
    // A literal byte matches only itself, UTF-8 or not.
    EXPECT_TRUE(Matches("/tmp/\xff", "/tmp/\xff"));
    EXPECT_FALSE(Matches("/tmp/\xff", "/tmp/\xfe"));
    EXPECT_TRUE(Matches("/tmp/caf\xc3\xa9*", "/tmp/caf\xc3\xa9.txt"));
    EXPECT_FALSE(Matches("/tmp/caf\xc3\xa9*", "/tmp/cafe.txt"));
    // "*" takes a multi-byte UTF-8 character like any other bytes.
    EXPECT_TRUE(Matches("/tmp/a*b", "/tmp/a\xe2\x82\xac" "b"));
}

TEST(PathGlobSet, ReturnsLowestMatchingIndex) {
    auto set = PathGlobSet::compile({"/a/x", "/a/*", "/**", "/a/x"});
    ASSERT_TRUE(set);
    EXPECT_EQ(set->match("/a/x"), 0u);
    EXPECT_EQ(set->match("/a/y"), 1u);
    EXPECT_EQ(set->match("/b"), 2u);
    EXPECT_EQ(set->match("/"), 2u);

    auto reversed = PathGlobSet::compile({"/b/**", "/**", "/a/*", "/a/x"});
    ASSERT_TRUE(reversed);
    EXPECT_EQ(reversed->match("/a/x"), 1u);
    EXPECT_EQ(reversed->match("/b/c"), 0u);
}

TEST(PathGlobSet, NoMatchIsNullopt) {
    auto set = PathGlobSet::compile({"/var/task/**", "/etc/*.conf"});
    ASSERT_TRUE(set);
    EXPECT_EQ(set->match("/etc/resolv.conf"), 1u);
    EXPECT_EQ(set->match("/etc/shadow"), std::nullopt);
    EXPECT_EQ(set->match("/var/tasks"), std::nullopt);
    EXPECT_EQ(set->match(""), std::nullopt);
}

TEST(PathGlobSet, KeepsPatternsInOrder) {
    auto set = PathGlobSet::compile({"/a/**", "/b/*"});
    ASSERT_TRUE(set);
    EXPECT_FALSE(set->empty());
    EXPECT_EQ(set->size(), 2u);
    EXPECT_EQ(set->pattern(0), "/a/**");
    EXPECT_EQ(set->pattern(1), "/b/*");
    EXPECT_EQ(set->pattern(*set->match("/b/c")), "/b/*");
}

TEST(PathGlobSet, EmptySetMatchesNothing) {
    const PathGlobSet empty;
    EXPECT_TRUE(empty.empty());
    EXPECT_EQ(empty.size(), 0u);
    EXPECT_EQ(empty.match("/"), std::nullopt);
    EXPECT_EQ(empty.match("/a"), std::nullopt);

    auto compiled = PathGlobSet::compile({});
    ASSERT_TRUE(compiled);
    EXPECT_TRUE(compiled->empty());
    EXPECT_EQ(compiled->match("/"), std::nullopt);
    EXPECT_EQ(compiled->match("/a/b"), std::nullopt);
}

TEST(PathGlobSet, CopiesAndMovesKeepMatching) {
    auto set = PathGlobSet::compile({"/a/*"});
    ASSERT_TRUE(set);
    const PathGlobSet copy = *set;
    const PathGlobSet moved = std::move(*set);
    EXPECT_EQ(copy.match("/a/x"), 0u);
    EXPECT_EQ(moved.match("/a/x"), 0u);
    EXPECT_EQ(moved.match("/b/x"), std::nullopt);
}

TEST(PathGlobSet, RefusesInvalidPatternsNamingThem) {
    for (const std::string bad : {"relative/x", "", "/a/../b", "/a/./b", "/a//b", "/a/x**", "/a/?", "/a/[ab]"}) {
        auto set = PathGlobSet::compile({"/ok/**", bad});
        ASSERT_FALSE(set) << bad;
        EXPECT_THAT(set.error(), HasSubstr("\"" + bad + "\"")) << bad;
    }
    EXPECT_FALSE(PathGlobSet::compile({"x"}));
}

TEST(PathGlobSet, RefusesSetsOverTheMemoryBudget) {
    // One long literal pattern fits ...
    const std::string long_name(4000, 'x');
    auto one = PathGlobSet::compile({"/" + long_name});
    ASSERT_TRUE(one) << one.error();
    EXPECT_EQ(one->match("/" + long_name), 0u);

    // ... two hundred of them (about 800k regex instructions) do not.
    std::vector<std::string> many;
    for (int i = 0; i < 200; ++i) many.push_back("/" + std::to_string(i) + long_name);
    auto too_many = PathGlobSet::compile(many);
    ASSERT_FALSE(too_many);
    EXPECT_THAT(too_many.error(), HasSubstr("memory budget"));
    EXPECT_THAT(too_many.error(), HasSubstr("200 path patterns"));
}

TEST(PathGlobSet, HoldsThousandsOfOrdinaryPatterns) {
    std::vector<std::string> patterns;
    for (int i = 0; i < 2000; ++i) patterns.push_back("/srv/app" + std::to_string(i) + "/lib/**/*.py");
    auto set = PathGlobSet::compile(patterns);
    ASSERT_TRUE(set) << set.error();
    EXPECT_EQ(set->match("/srv/app1234/lib/pkg/mod.py"), 1234u);
    EXPECT_EQ(set->match("/srv/app1999/lib/m.py"), 1999u);
    EXPECT_EQ(set->match("/srv/app2000/lib/m.py"), std::nullopt);
}

TEST(PathGlobKernelRule, LiteralIsExact) {
    EXPECT_EQ(kernel_path_rule("/etc/passwd"), (KernelPathRule{Kind::Exact, "/etc/passwd"}));
    EXPECT_EQ(kernel_path_rule("/"), (KernelPathRule{Kind::Exact, "/"}));
    EXPECT_EQ(kernel_path_rule("/a/"), (KernelPathRule{Kind::Exact, "/a"}));
    EXPECT_EQ(kernel_path_rule("/a/b.c(1)+"), (KernelPathRule{Kind::Exact, "/a/b.c(1)+"}));
}

TEST(PathGlobKernelRule, FinalGlobstarIsSubtree) {
    EXPECT_EQ(kernel_path_rule("/var/task/**"), (KernelPathRule{Kind::Subtree, "/var/task"}));
    EXPECT_EQ(kernel_path_rule("/a/**/**"), (KernelPathRule{Kind::Subtree, "/a"}));
    EXPECT_EQ(kernel_path_rule("/**"), (KernelPathRule{Kind::Subtree, "/"}));
    EXPECT_EQ(kernel_path_rule("/**/**"), (KernelPathRule{Kind::Subtree, "/"}));
}

TEST(PathGlobKernelRule, OtherWildcardsNeedARegex) {
    for (const char* pattern :
         {"/a/*", "/a/*.py", "/*", "/a/*/b", "/a/x*/**", "/a/**/b", "/**/b", "/**/*", "/a/**/b/**"})
        EXPECT_EQ(kernel_path_rule(pattern), std::nullopt) << pattern;
    // Invalid patterns are nothing at all.
    for (const char* pattern : {"relative", "", "/a/../b", "/a/x**"})
        EXPECT_EQ(kernel_path_rule(pattern), std::nullopt) << pattern;
}

}  // namespace
}  // namespace fnw
