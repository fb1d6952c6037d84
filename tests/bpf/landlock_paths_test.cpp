// SPDX-License-Identifier: Apache-2.0
// A Landlock refusal names what the function reached for, as audit mode
// names it (issue 18): the canonical target, the rule of the right it
// lacked, and how the path was resolved. Each case runs in enforce (the
// launcher's Landlock refuses, landlock.bpf.c reports from sys_exit) and in
// audit (the file and exec probes see it happen), and both must give the
// same (rule, path).
//
// The refused process waits (await-file) until fnwarden has handled its
// event, so the after-the-fact resolution in its root always finds it.
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "output/event_json.hpp"
#include "probe_fixture.hpp"
#include "runtime/landlock_sandbox.hpp"

namespace fnw {
namespace {

namespace fs = std::filesystem;

struct Named {
    std::string rule, path, path_source, path2;
};

class LandlockPathsTest : public test::ProbeTest {
protected:
    // One probe set for the suite, as FileProbeTest: loading is what costs.
    static std::unique_ptr<ProbeSet>& shared() {
        static std::unique_ptr<ProbeSet> probes;
        return probes;
    }
    static void TearDownTestSuite() { shared().reset(); }

    void SetUp() override {
        if (shared()) {
            probes_ = std::move(shared());
            cgroup_parent_ = test::test_cgroup_parent(*find_cgroup2_mount());  // as load() sets it
        } else {
            test::ProbeTest::SetUp();
        }
        if (IsSkipped() || HasFatalFailure()) return;
        if (landlock_abi() == 0) {
            if (test::bpf_required()) FAIL() << "this kernel has no Landlock";
            GTEST_SKIP() << "no Landlock";
        }
        char pattern[] = "/tmp/fnw-llpaths-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        scratch_ = fs::canonical(pattern);
    }
    void TearDown() override {
        if (!scratch_.empty()) fs::remove_all(scratch_);
        if (probes_) shared() = std::move(probes_);
        test::ProbeTest::TearDown();
    }

    // work/ (the cwd: read, write, create, delete) and secret/ (nothing).
    void make_tree() {
        fs::remove_all(scratch_ / "work");
        fs::remove_all(scratch_ / "secret");
        fs::create_directories(scratch_ / "work");
        fs::create_directories(scratch_ / "secret");
        std::ofstream(scratch_ / "secret" / "data.txt") << "secret";
        std::ofstream(scratch_ / "work" / "mine.txt") << "mine";
        fs::create_symlink(scratch_ / "secret" / "data.txt", scratch_ / "work" / "link");
        fs::create_hard_link(scratch_ / "work" / "mine.txt", scratch_ / "secret" / "hard");
        fs::copy_file("/bin/true", scratch_ / "work" / "prog");
        fs::permissions(scratch_ / "work" / "prog", fs::perms::owner_all);
    }

    FunctionPolicy policy() const {
        const std::string bin_dir = fs::path(FNW_TEST_WORKLOAD).parent_path().string();
        const std::string work = (scratch_ / "work").string() + "/**";
        FunctionPolicy p;
        p.name = "landlock-paths";
        p.function = "test";
        p.syscalls.allow.set();
        p.files.restricted = true;
        p.files.read = {"/usr/**", "/lib/**", "/lib64/**", "/etc/**", "/proc/**", bin_dir + "/**", work};
        p.files.write = {work, "/dev/null"};
        p.files.create = {work};
        p.files.remove = {work};
        p.files.on_violation = ViolationAction::Deny;
        p.exec.restricted = true;
        p.exec.allow = {FNW_TEST_WORKLOAD, "/lib64/ld-linux-x86-64.so.2"};
        p.exec.on_violation = ViolationAction::Deny;
        return p;
    }

    // The file violations of one run of `steps` in work/, as JSON: the
    // workload waits after them until fnwarden has handled the first.
    std::vector<Named> named(Mode mode, const std::vector<std::string>& steps) {
        make_tree();
        const fs::path go = scratch_ / "work" / "go";
        on_record_ = [&go](std::span<const std::byte> bytes) {
            fnw_event_header hdr{};
            std::memcpy(&hdr, bytes.data(), sizeof(hdr));
            if (hdr.type == FNW_EVENT_FILE) std::ofstream(go) << "";
        };
        std::vector<std::string> all{"chdir:" + (scratch_ / "work").string()};
        all.insert(all.end(), steps.begin(), steps.end());
        all.push_back("await-file:" + go.string());
        all.push_back("exit:0");
        Run r = run_workload(policy(), mode, all);
        on_record_ = nullptr;
        std::vector<Named> out;
        for (const fnw_file_event& ev : r.file_events) {
            if (ev.verdict != FNW_VERDICT_VIOLATION) continue;
            auto bytes = std::as_bytes(std::span(&ev, 1));
            auto j = event_to_json(bytes, EventContext{"test", "landlock-paths", mode}, WallClock::now());
            if (!j) {
                ADD_FAILURE() << "no JSON";
                continue;
            }
            const auto& file = (*j)["file"];
            out.push_back(Named{j->value("rule", ""), file.value("path", ""), file.value("path_source", ""),
                                file.value("path2", "")});
            if (mode == Mode::Enforce) EXPECT_EQ(ev.mechanism, FNW_MECH_LANDLOCK) << j->dump();
        }
        return out;
    }

    // Enforce names `path` under `rule`, resolved as `source`; audit the same.
    void expect_named(const std::vector<std::string>& steps, const std::string& rule, const fs::path& path,
                      const std::string& source = "resolved") {
        const auto enforce = named(Mode::Enforce, steps);
        ASSERT_EQ(enforce.size(), 1u) << "enforce";
        EXPECT_EQ(enforce[0].rule, rule);
        EXPECT_EQ(enforce[0].path, path.string());
        EXPECT_EQ(enforce[0].path_source, source);
        const auto audit = named(Mode::Audit, steps);
        ASSERT_EQ(audit.size(), 1u) << "audit";
        EXPECT_EQ(audit[0].rule, enforce[0].rule) << "audit predicts enforce";
        EXPECT_EQ(audit[0].path, enforce[0].path) << "audit predicts enforce";
    }

    fs::path scratch_;
};

// Each case is its own pair of runs; they share one test because loading
// the probes is what costs (one load per test).
TEST_F(LandlockPathsTest, RefusedReadsNameTheFileAuditNames) {
    const fs::path data = scratch_ / "secret" / "data.txt";
    {
        SCOPED_TRACE("a relative name with '..'");
        expect_named({"read:../work/../secret/./data.txt"}, "files.read", data);
    }
    {
        SCOPED_TRACE("a read through a symlink names the target");
        expect_named({"read:link"}, "files.read", data);
    }
    {
        SCOPED_TRACE("a dirfd-relative openat starts at that directory");
        expect_named({"read-at:" + (scratch_ / "secret").string() + ":data.txt"}, "files.read", data);
    }
    {
        SCOPED_TRACE("a hard link has no target: the name it was opened by is the path");
        expect_named({"read:../secret/hard"}, "files.read", scratch_ / "secret" / "hard");
    }
}

TEST_F(LandlockPathsTest, ARenameNamesBothNamesAndAnExecItsProgram) {
    const std::vector<std::string> steps{"rename:mine.txt:../secret/moved.txt"};
    const auto enforce = named(Mode::Enforce, steps);
    ASSERT_EQ(enforce.size(), 1u);
    EXPECT_EQ(enforce[0].rule, "files.create") << "deleting in work/ is allowed; creating in secret/ is not";
    EXPECT_EQ(enforce[0].path, (scratch_ / "work" / "mine.txt").string());
    EXPECT_EQ(enforce[0].path_source, "resolved");
    EXPECT_EQ(enforce[0].path2, (scratch_ / "secret" / "moved.txt").string());
    const auto audit = named(Mode::Audit, steps);
    ASSERT_EQ(audit.size(), 1u);
    EXPECT_EQ(audit[0].rule, enforce[0].rule);
    EXPECT_EQ(audit[0].path, enforce[0].path);
    EXPECT_EQ(audit[0].path2, enforce[0].path2);

    SCOPED_TRACE("a refused exec by a relative path names the program");
    expect_named({"exec:./prog"}, "exec.allow", scratch_ / "work" / "prog");
}


}  // namespace
}  // namespace fnw
