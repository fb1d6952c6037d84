// SPDX-License-Identifier: Apache-2.0
// authorize_register(): who may register which cgroup (threat-model.md,
// "A hostile control-socket client"). Every refusal the daemon can give is
// decided here from plain facts; inspect_cgroup() is checked on a plain
// directory and a symlink (cgroupfs itself needs root: the adversarial test).
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "temp_dir.hpp"

#include "control/register_policy.hpp"

namespace fnw {
namespace {

constexpr uid_t kMember = 1000;
constexpr uid_t kOther = 1001;
const std::filesystem::path kParent = "/sys/fs/cgroup/fnwarden";

// A member registering its own, unguarded, delegated cgroup: allowed.
RegisterRequestFacts own_cgroup() {
    RegisterRequestFacts f;
    f.peer_uid = kMember;
    f.path = "/sys/fs/cgroup/fnwarden/fn-42-0";
    f.parent = kParent;
    f.requested_id = 77;
    f.cgroup = CgroupFacts{/*directory=*/true, /*cgroupfs=*/true, /*owner=*/kMember, /*id=*/77};
    return f;
}

TEST(RegisterPolicy, OwnUnguardedCgroupIsAllowed) {
    EXPECT_TRUE(authorize_register(own_cgroup()).allowed());
}

TEST(RegisterPolicy, AnotherUsersCgroupIsRefused) {
    auto f = own_cgroup();
    f.cgroup->owner = kOther;
    auto d = authorize_register(f);
    EXPECT_EQ(d.refusal, RegisterRefusal::owner);
    EXPECT_NE(d.message.find("uid 1001"), std::string::npos) << d.message;
    f.cgroup->owner = 0;  // root's, as every cgroup the launcher makes under sudo
    EXPECT_EQ(authorize_register(f).refusal, RegisterRefusal::owner);
}

TEST(RegisterPolicy, RootMayRegisterAnyUnguardedCgroup) {
    auto f = own_cgroup();
    f.peer_uid = 0;
    f.peer_privileged = true;
    f.cgroup->owner = kOther;
    EXPECT_TRUE(authorize_register(f).allowed());
}

TEST(RegisterPolicy, GuardedCgroupIsRefusedEvenToRoot) {
    for (Monitoring m : {Monitoring::registered, Monitoring::identified, Monitoring::in_kernel}) {
        auto f = own_cgroup();
        f.monitoring = m;
        EXPECT_EQ(authorize_register(f).refusal, RegisterRefusal::monitored) << static_cast<int>(m);
        f.peer_uid = 0;
        f.peer_privileged = true;
        EXPECT_EQ(authorize_register(f).refusal, RegisterRefusal::monitored) << static_cast<int>(m);
    }
}

// A launcher whose pinned daemon restarted registers its running function's
// cgroup again: only an entry adopted for that function may be resumed, and
// only by a request that says it resumes.
TEST(RegisterPolicy, AnAdoptedEntryIsResumedOnlyByAResume) {
    auto f = own_cgroup();
    f.monitoring = Monitoring::adopted;
    EXPECT_EQ(authorize_register(f).refusal, RegisterRefusal::monitored);
    f.resume = true;
    EXPECT_TRUE(authorize_register(f).allowed());
}

TEST(RegisterPolicy, AResumeOfAnythingButAnAdoptedEntryIsRefused) {
    for (Monitoring m : {Monitoring::registered, Monitoring::identified, Monitoring::in_kernel}) {
        auto f = own_cgroup();
        f.monitoring = m;
        f.resume = true;
        f.peer_uid = 0;
        f.peer_privileged = true;
        EXPECT_EQ(authorize_register(f).refusal, RegisterRefusal::monitored) << static_cast<int>(m);
    }
    // Nothing left in the kernel: the function ran unguarded (the pins were
    // removed), so there is nothing to resume; the launcher falls back.
    auto f = own_cgroup();
    f.resume = true;
    const RegisterDecision d = authorize_register(f);
    EXPECT_EQ(d.refusal, RegisterRefusal::resume);
    EXPECT_EQ(std::string(to_string(d.refusal)), "resume");
}

TEST(RegisterPolicy, AResumeStillPassesEveryOtherCheck) {
    auto f = own_cgroup();
    f.monitoring = Monitoring::adopted;
    f.resume = true;
    f.cgroup->owner = kOther;
    EXPECT_EQ(authorize_register(f).refusal, RegisterRefusal::owner);
    f = own_cgroup();
    f.monitoring = Monitoring::adopted;
    f.resume = true;
    f.requested_id = 78;
    EXPECT_EQ(authorize_register(f).refusal, RegisterRefusal::cgroup_id);
    f = own_cgroup();
    f.monitoring = Monitoring::adopted;
    f.resume = true;
    f.path = "/sys/fs/cgroup/fnwarden/fn-42-0/deeper";
    EXPECT_EQ(authorize_register(f).refusal, RegisterRefusal::path);
    f = own_cgroup();
    f.monitoring = Monitoring::adopted;
    f.resume = true;
    f.client_registrations = kMaxRegistrationsPerClient;
    EXPECT_EQ(authorize_register(f).refusal, RegisterRefusal::limit);
}

TEST(RegisterPolicy, EmptyPathIsRefused) {
    // The old daemon skipped every check when cgroup_path was empty.
    auto f = own_cgroup();
    f.path = "";
    f.cgroup.reset();
    auto d = authorize_register(f);
    EXPECT_EQ(d.refusal, RegisterRefusal::path);
    EXPECT_NE(d.message.find("required"), std::string::npos) << d.message;
    f.peer_uid = 0;
    f.peer_privileged = true;
    EXPECT_EQ(authorize_register(f).refusal, RegisterRefusal::path);
}

TEST(RegisterPolicy, PathsOutsideTheParentAreRefusedAsText) {
    for (const char* path : {"/sys/fs/cgroup/other/fn-1-0", "/sys/fs/cgroup/fnwarden", "/sys/fs/cgroup/fnwarden/",
                             "/sys/fs/cgroup/fnwarden/..", "/sys/fs/cgroup/fnwarden/.",
                             "/sys/fs/cgroup/fnwarden/../fnwarden/fn-1-0", "/sys/fs/cgroup/fnwarden/fn/child",
                             "/sys/fs/cgroup/fnwardenx/fn-1-0", "sys/fs/cgroup/fnwarden/fn-1-0",
                             "/sys/fs/cgroup/fnwarden//fn-1-0", "/sys/fs/cgroup/fnwarden/fn-1-0/"}) {
        auto leaf = register_path_leaf(path, kParent);
        ASSERT_FALSE(leaf) << path;
        EXPECT_FALSE(leaf.error().empty()) << path;
        auto f = own_cgroup();
        f.path = path;
        f.peer_uid = 0;
        f.peer_privileged = true;
        EXPECT_EQ(authorize_register(f).refusal, RegisterRefusal::path) << path;
    }
    auto leaf = register_path_leaf("/sys/fs/cgroup/fnwarden/fn-1-0", kParent);
    ASSERT_TRUE(leaf) << leaf.error();
    EXPECT_EQ(*leaf, "fn-1-0");
}

TEST(RegisterPolicy, WhatIsOpenedMustBeACgroupDirectory) {
    auto f = own_cgroup();
    f.cgroup.reset();
    f.open_error = "cannot open x: No such file or directory";
    EXPECT_EQ(authorize_register(f).refusal, RegisterRefusal::path);
    EXPECT_EQ(authorize_register(f).message, f.open_error);
    f = own_cgroup();
    f.cgroup->directory = false;  // a symlink, opened as itself
    EXPECT_EQ(authorize_register(f).refusal, RegisterRefusal::path);
    f = own_cgroup();
    f.cgroup->cgroupfs = false;  // a bind mount of something else, say
    EXPECT_EQ(authorize_register(f).refusal, RegisterRefusal::path);
}

TEST(RegisterPolicy, IdMustMatchWhenSent) {
    auto f = own_cgroup();
    f.requested_id = 78;
    EXPECT_EQ(authorize_register(f).refusal, RegisterRefusal::cgroup_id);
    f.requested_id.reset();
    EXPECT_TRUE(authorize_register(f).allowed());
}

TEST(RegisterPolicy, PerClientCap) {
    auto f = own_cgroup();
    f.client_registrations = kMaxRegistrationsPerClient - 1;
    EXPECT_TRUE(authorize_register(f).allowed());
    f.client_registrations = kMaxRegistrationsPerClient;
    EXPECT_EQ(authorize_register(f).refusal, RegisterRefusal::limit);
    f.peer_uid = 0;
    f.peer_privileged = true;  // root's connections too: the map is shared
    EXPECT_EQ(authorize_register(f).refusal, RegisterRefusal::limit);
}

TEST(RegisterPolicy, RefusalLabels) {
    EXPECT_STREQ(to_string(RegisterRefusal::owner), "owner");
    EXPECT_STREQ(to_string(RegisterRefusal::monitored), "monitored");
    EXPECT_STREQ(to_string(RegisterRefusal::path), "path");
    EXPECT_STREQ(to_string(RegisterRefusal::limit), "limit");
    EXPECT_STREQ(to_string(RegisterRefusal::cgroup_id), "cgroup_id");
}

TEST(InspectCgroup, ReadsTheOpenedDirectoryAndDoesNotFollowSymlinks) {
    test::TempDir dir;
    std::filesystem::create_directory(dir.path() / "fn-1-0");
    std::filesystem::create_directory(dir.path() / "elsewhere");
    std::filesystem::create_directory_symlink(dir.path() / "elsewhere", dir.path() / "link");
    struct stat st {};
    ASSERT_EQ(::stat((dir.path() / "fn-1-0").c_str(), &st), 0);

    auto real = inspect_cgroup(dir.path(), "fn-1-0");
    ASSERT_TRUE(real) << real.error();
    const auto& facts = *real;
    EXPECT_TRUE(facts.directory);
    EXPECT_FALSE(facts.cgroupfs);  // a temp directory
    EXPECT_EQ(facts.owner, st.st_uid);
    EXPECT_EQ(facts.id, static_cast<uint64_t>(st.st_ino));

    auto link = inspect_cgroup(dir.path(), "link");
    ASSERT_TRUE(link);
    EXPECT_FALSE(link->directory);

    EXPECT_FALSE(inspect_cgroup(dir.path(), "missing"));
}

}  // namespace
}  // namespace fnw
