// SPDX-License-Identifier: Apache-2.0
#include "core/file_access.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fnwarden/events.h>
#include <fnwarden/kernel_abi.h>

#include "temp_dir.hpp"

namespace fnw {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr int32_t kAtFdcwd = -100;
// Above the largest pid_max Linux allows (2^22): no such process.
constexpr uint32_t kNoSuchPid = 999'999'999;

// fnw_file_event is 12 KiB: on the heap, zeroed.
std::unique_ptr<fnw_file_event> file_event(const char* raw, uint8_t kind = FNW_RESOLVED_NONE,
                                           const char* resolved = "") {
    auto ev = std::make_unique<fnw_file_event>();
    ev->hdr.type = FNW_EVENT_FILE;
    ev->hdr.size = sizeof(*ev);
    ev->hdr.pid = kNoSuchPid;
    ev->dfd = kAtFdcwd;
    ev->resolved_kind = kind;
    std::strncpy(ev->path, raw, sizeof(ev->path) - 1);
    std::strncpy(ev->resolved, resolved, sizeof(ev->resolved) - 1);
    return ev;
}

// ---- file_access_names ----------------------------------------------------

TEST(FileAccessNames, OneNamePerRightInPolicyOrder) {
    EXPECT_THAT(file_access_names(0), IsEmpty());
    EXPECT_THAT(file_access_names(FNW_FILE_READ), ElementsAre("read"));
    EXPECT_THAT(file_access_names(FNW_FILE_WRITE), ElementsAre("write"));
    EXPECT_THAT(file_access_names(FNW_FILE_CREATE), ElementsAre("create"));
    EXPECT_THAT(file_access_names(FNW_FILE_DELETE), ElementsAre("delete"));
    EXPECT_THAT(file_access_names(FNW_FILE_EXEC), ElementsAre("exec"));
    // Always read, write, create, delete, whatever order the bits were set in.
    EXPECT_THAT(file_access_names(FNW_FILE_DELETE | FNW_FILE_READ), ElementsAre("read", "delete"));
    EXPECT_THAT(file_access_names(FNW_FILE_DELETE | FNW_FILE_CREATE | FNW_FILE_WRITE | FNW_FILE_READ),
                ElementsAre("read", "write", "create", "delete"));
    EXPECT_THAT(file_access_names(FNW_FILE_EXEC | FNW_FILE_DELETE | FNW_FILE_CREATE | FNW_FILE_WRITE | FNW_FILE_READ),
                ElementsAre("read", "write", "create", "delete", "exec"));
    // Bits that are not rights name nothing.
    EXPECT_THAT(file_access_names(1u << 7), IsEmpty());
    EXPECT_THAT(file_access_names((1u << 7) | FNW_FILE_WRITE), ElementsAre("write"));
}

// ---- join_path ------------------------------------------------------------

TEST(FileAccessJoinPath, RelativeNameJoinsTheBase) {
    EXPECT_EQ(join_path("/home/app", "data/x.txt"), "/home/app/data/x.txt");
    EXPECT_EQ(join_path("/", "etc/passwd"), "/etc/passwd");
    EXPECT_EQ(join_path("/home/app/", "x"), "/home/app/x");
}

TEST(FileAccessJoinPath, AbsoluteNameIgnoresTheBase) {
    EXPECT_EQ(join_path("/home/app", "/etc/passwd"), "/etc/passwd");
    EXPECT_EQ(join_path("/home/app", "/"), "/");
}

TEST(FileAccessJoinPath, FoldsDotAndDotDot) {
    EXPECT_EQ(join_path("/home/app", "./x"), "/home/app/x");
    EXPECT_EQ(join_path("/home/app", "../other/x"), "/home/other/x");
    EXPECT_EQ(join_path("/home/app", "a/./b/../c"), "/home/app/a/c");
    EXPECT_EQ(join_path("/home/./app/..", "x"), "/home/x");
    EXPECT_EQ(join_path("/home/app", "."), "/home/app");
    EXPECT_EQ(join_path("/home/app", ".."), "/home");
    // Names that only start with dots are names.
    EXPECT_EQ(join_path("/home", "...//.hidden/..x"), "/home/.../.hidden/..x");
}

TEST(FileAccessJoinPath, DotDotNeverClimbsAboveTheRoot) {
    EXPECT_EQ(join_path("/", ".."), "/");
    EXPECT_EQ(join_path("/a", "../../.."), "/");
    EXPECT_EQ(join_path("/a", "../../../etc/shadow"), "/etc/shadow");
    EXPECT_EQ(join_path("/whatever", "/../../etc"), "/etc");
}

TEST(FileAccessJoinPath, RepeatedSlashesCollapse) {
    EXPECT_EQ(join_path("//home///app//", "a//b///c"), "/home/app/a/b/c");
    EXPECT_EQ(join_path("/x", "//etc//passwd"), "/etc/passwd");
    EXPECT_EQ(join_path("/x", "dir/"), "/x/dir");
}

TEST(FileAccessJoinPath, EmptyNameIsTheBase) {
    EXPECT_EQ(join_path("/home/app", ""), "/home/app");
    EXPECT_EQ(join_path("/home/app/../x/.", ""), "/home/x");
    EXPECT_EQ(join_path("/", ""), "/");
}

// ---- event_path -----------------------------------------------------------

TEST(FileAccessEventPath, ObjectUsesTheKernelPathVerbatim) {
    // The raw name is relative and says something else entirely: the
    // kernel's walk of the opened object wins, untouched.
    auto ev = file_event("../etc/shadow", FNW_RESOLVED_OBJECT, "/etc/shadow");
    EventPath p = event_path(*ev);
    EXPECT_EQ(p.path, "/etc/shadow");
    EXPECT_EQ(p.source, PathSource::Kernel);
    EXPECT_FALSE(p.truncated);

    // Verbatim: no folding of what the kernel wrote.
    ev = file_event("/x/../y", FNW_RESOLVED_OBJECT, "/a/b");
    p = event_path(*ev);
    EXPECT_EQ(p.path, "/a/b");
    EXPECT_EQ(p.source, PathSource::Kernel);
}

TEST(FileAccessEventPath, ObjectTruncationIsTheWalksOnly) {
    auto ev = file_event("x", FNW_RESOLVED_OBJECT, "/deep/tail");
    ev->resolved_truncated = 1;
    EXPECT_TRUE(event_path(*ev).truncated);

    // The raw string was cut, but the path comes from the object: whole.
    ev = file_event("x", FNW_RESOLVED_OBJECT, "/etc/hosts");
    ev->path_truncated = 1;
    EventPath p = event_path(*ev);
    EXPECT_FALSE(p.truncated);
    EXPECT_EQ(p.path, "/etc/hosts");
}

TEST(FileAccessEventPath, AbsoluteRawIsFoldedLexically) {
    auto ev = file_event("/srv//app/./data/../../../etc/passwd");
    EventPath p = event_path(*ev);
    EXPECT_EQ(p.path, "/etc/passwd");
    EXPECT_EQ(p.source, PathSource::Lexical);
    EXPECT_FALSE(p.truncated);

    ev = file_event("/../..");
    EXPECT_EQ(event_path(*ev).path, "/");
}

TEST(FileAccessEventPath, AbsoluteRawCutByTheKernelIsTruncated) {
    auto ev = file_event("/srv/app/long");
    ev->path_truncated = 1;
    EventPath p = event_path(*ev);
    EXPECT_EQ(p.path, "/srv/app/long");
    EXPECT_EQ(p.source, PathSource::Lexical);
    EXPECT_TRUE(p.truncated);
}

TEST(FileAccessEventPath, BaseJoinsTheResolvedDirectoryAndTheRawName) {
    auto ev = file_event("sub/../data.txt", FNW_RESOLVED_BASE, "/srv/app");
    EventPath p = event_path(*ev);
    EXPECT_EQ(p.path, "/srv/app/data.txt");
    EXPECT_EQ(p.source, PathSource::Base);
    EXPECT_FALSE(p.truncated);

    ev = file_event("../../../etc/shadow", FNW_RESOLVED_BASE, "/srv/app");
    EXPECT_EQ(event_path(*ev).path, "/etc/shadow");

    // An absolute raw name needs no base, even if one came along.
    ev = file_event("/etc/hosts", FNW_RESOLVED_BASE, "/srv/app");
    p = event_path(*ev);
    EXPECT_EQ(p.path, "/etc/hosts");
    EXPECT_EQ(p.source, PathSource::Lexical);
}

TEST(FileAccessEventPath, BaseTruncationEitherWay) {
    auto ev = file_event("x", FNW_RESOLVED_BASE, "/tail/of/base");
    ev->resolved_truncated = 1;
    EXPECT_TRUE(event_path(*ev).truncated);

    ev = file_event("x", FNW_RESOLVED_BASE, "/srv/app");
    ev->path_truncated = 1;
    EXPECT_TRUE(event_path(*ev).truncated);
}

// The base of a relative name is the kernel's to read, or the resolver's
// (runtime/path_resolver.hpp, from /proc while the process lives): the
// event path itself reads nothing. Without either, the name stays as it
// came, which is not a path and matches nothing, and says why; the name
// itself was not cut, so it is not "truncated".
TEST(FileAccessEventPath, NoBaseLeavesTheRawNameAndSaysWhy) {
    auto ev = file_event("data/file.txt");
    ev->hdr.pid = static_cast<uint32_t>(::getpid());  // alive: still not looked up here
    EventPath p = event_path(*ev);
    EXPECT_EQ(p.path, "data/file.txt");
    EXPECT_EQ(p.source, PathSource::Lexical);
    EXPECT_EQ(p.reason, "base unreadable");
    EXPECT_FALSE(p.truncated);
}

// What the resolver found after the fact is in the record: both names of a
// rename, NUL-separated in `resolved`.
TEST(FileAccessEventPath, ResolvedAfterTheFactIsReadFromTheRecord) {
    auto ev = file_event("link", FNW_RESOLVED_USER);
    const char both[] = "/work/main/README.md\0/srv/new-name";
    std::memcpy(ev->resolved, both, sizeof(both));
    std::strcpy(ev->path2, "new-name");
    EventPath p = event_path(*ev);
    EXPECT_EQ(p.path, "/work/main/README.md");
    EXPECT_EQ(p.source, PathSource::Resolved);
    EXPECT_TRUE(p.reason.empty());
    EventPath second = event_path2(*ev);
    EXPECT_EQ(second.path, "/srv/new-name");
    EXPECT_EQ(second.source, PathSource::Resolved);
}

TEST(FileAccessEventPath, SecondNameSharesTheKernelBaseOnlyFromTheSameDirectory) {
    auto ev = file_event("old", FNW_RESOLVED_BASE, "/srv/app");
    std::strcpy(ev->path2, "sub/../new");
    ev->dfd2 = ev->dfd;
    EventPath second = event_path2(*ev);
    EXPECT_EQ(second.path, "/srv/app/new");
    EXPECT_EQ(second.source, PathSource::Base);
    ev->dfd2 = 7;  // another directory: its base is unknown here
    second = event_path2(*ev);
    EXPECT_EQ(second.path, "sub/../new");
    EXPECT_EQ(second.reason, "base unreadable");
}

TEST(FileAccessEventPath, AResolveNoteIsTheReason) {
    auto ev = file_event("link/x", FNW_RESOLVED_BASE, "/srv/app");
    ev->resolve_note = FNW_RESOLVE_NOTE_PROCESS_GONE;
    EventPath p = event_path(*ev);
    EXPECT_EQ(p.path, "/srv/app/link/x");
    EXPECT_EQ(p.source, PathSource::Base);
    EXPECT_EQ(p.reason, "process exited");
    ev->resolve_note = FNW_RESOLVE_NOTE_TOO_MANY_LINKS;
    EXPECT_EQ(event_path(*ev).reason, "too many links");
}

TEST(FileAccessEventPath, RawStringWithoutNulIsBounded) {
    auto ev = std::make_unique<fnw_file_event>();
    ev->resolved_kind = FNW_RESOLVED_NONE;
    ev->path[0] = '/';
    std::memset(ev->path + 1, 'a', sizeof(ev->path) - 1);  // no NUL anywhere
    ev->path_truncated = 1;
    EventPath p = event_path(*ev);
    EXPECT_EQ(p.path.size(), sizeof(ev->path));
    EXPECT_TRUE(p.truncated);
}

TEST(FileAccessPathSource, Names) {
    EXPECT_EQ(to_string(PathSource::Kernel), "kernel");
    EXPECT_EQ(to_string(PathSource::Base), "kernel-base");
    EXPECT_EQ(to_string(PathSource::Lexical), "lexical");
    EXPECT_EQ(to_string(PathSource::Resolved), "resolved");
}

// ---- FileMatcher ----------------------------------------------------------

FileMatcher compile_or_die(const FileRules& rules) {
    auto m = FileMatcher::compile(rules, {});
    EXPECT_TRUE(m) << m.error();
    return m ? *m : FileMatcher{};
}

FileRules sample_rules() {
    FileRules rules;
    rules.restricted = true;
    rules.read = {"/etc/hosts", "/srv/app/**"};
    rules.write = {"/srv/app/data/**", "/tmp/*.log"};
    rules.create = {"/srv/app/data/**"};
    rules.remove = {"/srv/app/data/tmp/*"};
    return rules;
}

constexpr uint32_t kAll = FNW_FILE_READ | FNW_FILE_WRITE | FNW_FILE_CREATE | FNW_FILE_DELETE;

TEST(FileAccessMatcher, EachRightIsCheckedAgainstItsOwnSection) {
    const FileMatcher m = compile_or_die(sample_rules());
    // read
    EXPECT_EQ(m.missing("/etc/hosts", FNW_FILE_READ), 0u);
    EXPECT_EQ(m.missing("/srv/app/main.py", FNW_FILE_READ), 0u);
    EXPECT_EQ(m.missing("/etc/shadow", FNW_FILE_READ), FNW_FILE_READ);
    // write: read patterns do not grant it
    EXPECT_EQ(m.missing("/srv/app/data/db", FNW_FILE_WRITE), 0u);
    EXPECT_EQ(m.missing("/tmp/a.log", FNW_FILE_WRITE), 0u);
    EXPECT_EQ(m.missing("/etc/hosts", FNW_FILE_WRITE), FNW_FILE_WRITE);
    EXPECT_EQ(m.missing("/tmp/sub/a.log", FNW_FILE_WRITE), FNW_FILE_WRITE);
    // create
    EXPECT_EQ(m.missing("/srv/app/data/new", FNW_FILE_CREATE), 0u);
    EXPECT_EQ(m.missing("/tmp/a.log", FNW_FILE_CREATE), FNW_FILE_CREATE);
    // delete ("remove" in the rules)
    EXPECT_EQ(m.missing("/srv/app/data/tmp/x", FNW_FILE_DELETE), 0u);
    EXPECT_EQ(m.missing("/srv/app/data/db", FNW_FILE_DELETE), FNW_FILE_DELETE);
}

TEST(FileAccessMatcher, CombinedRightsReportOnlyWhatIsMissing) {
    const FileMatcher m = compile_or_die(sample_rules());
    EXPECT_EQ(m.missing("/srv/app/data/db", FNW_FILE_READ | FNW_FILE_WRITE), 0u);
    EXPECT_EQ(m.missing("/srv/app/main.py", FNW_FILE_READ | FNW_FILE_WRITE), FNW_FILE_WRITE);
    EXPECT_EQ(m.missing("/srv/app/data/db", FNW_FILE_READ | FNW_FILE_WRITE | FNW_FILE_CREATE | FNW_FILE_DELETE),
              FNW_FILE_DELETE);
    EXPECT_EQ(m.missing("/srv/app/data/tmp/x", kAll), 0u);
    EXPECT_EQ(m.missing("/etc/hosts", kAll), FNW_FILE_WRITE | FNW_FILE_CREATE | FNW_FILE_DELETE);
    EXPECT_EQ(m.missing("/nowhere", kAll), kAll);
    // Nothing asked, nothing missing.
    EXPECT_EQ(m.missing("/nowhere", 0), 0u);
}

TEST(FileAccessMatcher, PathsThatAreNotAbsoluteGetNothing) {
    FileRules rules;
    rules.restricted = true;
    rules.read = {"/**"};
    rules.write = {"/**"};
    rules.create = {"/**"};
    rules.remove = {"/**"};
    const FileMatcher m = compile_or_die(rules);
    EXPECT_EQ(m.missing("/anything/at/all", kAll), 0u);  // the control
    EXPECT_EQ(m.missing("anything/at/all", kAll), kAll);
    EXPECT_EQ(m.missing("etc/hosts", FNW_FILE_READ), FNW_FILE_READ);
    EXPECT_EQ(m.missing("", FNW_FILE_WRITE | FNW_FILE_DELETE), FNW_FILE_WRITE | FNW_FILE_DELETE);
}

TEST(FileAccessMatcher, EmptySectionsGrantNothing) {
    FileRules rules;
    rules.restricted = true;
    const FileMatcher m = compile_or_die(rules);
    EXPECT_EQ(m.missing("/", kAll), kAll);
    EXPECT_EQ(m.missing("/etc/hosts", FNW_FILE_READ), FNW_FILE_READ);
    const FileMatcher defaulted;
    EXPECT_EQ(defaulted.missing("/etc/hosts", kAll), kAll);

    // One section filled leaves the others empty.
    rules.read = {"/**"};
    const FileMatcher read_only = compile_or_die(rules);
    EXPECT_EQ(read_only.missing("/etc/hosts", kAll), FNW_FILE_WRITE | FNW_FILE_CREATE | FNW_FILE_DELETE);
}

TEST(FileAccessMatcher, ExecRightAnswersToTheExecSection) {
    FileRules rules = sample_rules();
    ExecRules exec;
    exec.restricted = true;
    exec.allow = {"/usr/bin/python3", "/srv/app/bin/*"};
    auto m = FileMatcher::compile(rules, exec);
    ASSERT_TRUE(m) << m.error();
    EXPECT_EQ(m->missing("/usr/bin/python3", FNW_FILE_EXEC), 0u);
    EXPECT_EQ(m->missing("/srv/app/bin/tool", FNW_FILE_EXEC), 0u);
    // Readable is not executable.
    EXPECT_EQ(m->missing("/srv/app/main.py", FNW_FILE_EXEC | FNW_FILE_READ), uint32_t{FNW_FILE_EXEC});
    // Without an exec section nothing may be executed through the matcher.
    EXPECT_EQ(compile_or_die(rules).missing("/usr/bin/python3", FNW_FILE_EXEC), uint32_t{FNW_FILE_EXEC});
}

TEST(FileAccessMatcher, InvalidPatternDoesNotCompile) {
    FileRules rules = sample_rules();
    rules.remove = {"relative/pattern"};
    auto m = FileMatcher::compile(rules, {});
    ASSERT_FALSE(m);
    EXPECT_FALSE(m.error().empty());
}

}  // namespace
}  // namespace fnw
