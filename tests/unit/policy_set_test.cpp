// SPDX-License-Identifier: Apache-2.0
#include "daemon/policy_set.hpp"

#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "temp_dir.hpp"

namespace fnw {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// The repository root: FNW_SOURCE_DIR when the build passes it, otherwise
// derived from the fixtures directory that tests/CMakeLists.txt defines.
#ifdef FNW_SOURCE_DIR
const fs::path kSourceDir = FNW_SOURCE_DIR;
#else
const fs::path kSourceDir = fs::path(FNW_TEST_FIXTURES) / ".." / "..";
#endif

using test::TempDir;

void write_file(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    ASSERT_TRUE(out.good()) << path;
}

std::string policy_yaml(const std::string& name, const std::string& function, const std::string& spec_tail = "") {
    return "apiVersion: fnwarden.io/v1\n"
           "kind: FunctionPolicy\n"
           "metadata:\n"
           "  name: " + name + "\n"
           "spec:\n"
           "  selector:\n"
           "    function: " + function + "\n" + spec_tail;
}

const std::string kBaselineYaml =
    "apiVersion: fnwarden.io/v1\n"
    "kind: Baseline\n"
    "metadata: {name: base}\n"
    "spec:\n"
    "  syscalls:\n"
    "    deny: [ptrace, bpf]\n";

std::string all_errors(const PolicySetLoad& load) {
    std::string out;
    for (const auto& e : load.errors) out += e.to_string() + "\n";
    return out;
}

std::vector<std::string> functions_of(const PolicySet& set) {
    std::vector<std::string> out;
    for (const auto& p : set.policies) out.push_back(p.function);
    return out;
}

TEST(PolicySet, LoadsTheRepositoryRules) {
    const PolicySetLoad load = load_policy_set(kSourceDir / "rules");
    ASSERT_TRUE(load.ok()) << all_errors(load);
    ASSERT_TRUE(load.set.has_value());
    const PolicySet& set = *load.set;
    EXPECT_THAT(functions_of(set), ElementsAre("demo", "hello-fn", "sandboxed"));
    ASSERT_TRUE(set.baseline.has_value());
    EXPECT_EQ(set.baseline->name, "baseline");
    EXPECT_EQ(set.version.size(), 16u);
    EXPECT_EQ(set.version.find_first_not_of("0123456789abcdef"), std::string::npos) << set.version;

    const FunctionPolicy* demo = set.find("demo");
    ASSERT_NE(demo, nullptr);
    EXPECT_THAT(demo->source, HasSubstr("rules/examples/demo.yaml"));
    EXPECT_TRUE(demo->syscalls.allow.test(SYS_execve));

    // sandboxed has no syscalls section: the baseline turns "everything"
    // into "everything but the baseline".
    const FunctionPolicy* sandboxed = set.find("sandboxed");
    ASSERT_NE(sandboxed, nullptr);
    EXPECT_TRUE(sandboxed->syscalls.allow.test(SYS_read));
    EXPECT_FALSE(sandboxed->syscalls.allow.test(SYS_bpf));
    EXPECT_FALSE(sandboxed->syscalls.allow.test(SYS_io_uring_setup));
    const FunctionPolicy* hello = set.find("hello-fn");
    ASSERT_NE(hello, nullptr);
    EXPECT_TRUE(hello->files.restricted);
    EXPECT_TRUE(hello->exec.restricted);
    EXPECT_EQ(set.find("nobody"), nullptr);
    EXPECT_EQ(set.fingerprints.size(), 3u);
}

TEST(PolicySet, OneBadFileAmongGoodOnesMeansNoSet) {
    TempDir dir;
    write_file(dir.path() / "a.yaml", policy_yaml("a", "alpha"));
    write_file(dir.path() / "b.yaml", policy_yaml("b", "beta"));
    write_file(dir.path() / "c.yaml", policy_yaml("c", "gamma",
                                                  "  syscalls:\n"
                                                  "    allow:\n"
                                                  "      - read\n"
                                                  "      - opne\n"));
    const PolicySetLoad load = load_policy_set(dir.path());
    EXPECT_FALSE(load.ok());
    EXPECT_FALSE(load.set.has_value()) << "a set with an error must never be applied";
    ASSERT_EQ(load.errors.size(), 1u) << all_errors(load);
    const PolicyError& e = load.errors.front();
    EXPECT_EQ(e.file, (dir.path() / "c.yaml").string());
    EXPECT_EQ(e.line, 11);
    EXPECT_EQ(e.column, 9);
    EXPECT_THAT(e.message, HasSubstr("\"opne\""));
}

TEST(PolicySet, ReportsTheErrorsOfEveryFile) {
    TempDir dir;
    write_file(dir.path() / "good.yaml", policy_yaml("good", "good"));
    write_file(dir.path() / "broken-yaml.yaml", "apiVersion: [unclosed\n");
    write_file(dir.path() / "sub" / "unknown-key.yml", policy_yaml("u", "u", "  colour: blue\n"));
    const PolicySetLoad load = load_policy_set(dir.path());
    EXPECT_FALSE(load.set.has_value());
    ASSERT_EQ(load.errors.size(), 2u) << all_errors(load);
    EXPECT_EQ(load.errors[0].file, (dir.path() / "broken-yaml.yaml").string());
    EXPECT_THAT(load.errors[0].message, HasSubstr("invalid YAML"));
    EXPECT_GT(load.errors[0].line, 0);
    EXPECT_EQ(load.errors[1].file, (dir.path() / "sub" / "unknown-key.yml").string());
    EXPECT_EQ(load.errors[1].line, 8);
    EXPECT_THAT(load.errors[1].message, HasSubstr("unknown key \"colour\""));
}

TEST(PolicySet, TwoPoliciesForOneFunctionNameBothFiles) {
    TempDir dir;
    write_file(dir.path() / "a.yaml", policy_yaml("first", "hello"));
    write_file(dir.path() / "team" / "b.yaml", policy_yaml("second", "hello"));
    const PolicySetLoad load = load_policy_set(dir.path());
    EXPECT_FALSE(load.set.has_value());
    ASSERT_EQ(load.errors.size(), 1u) << all_errors(load);
    const PolicyError& e = load.errors.front();
    EXPECT_EQ(e.line, 0);
    const std::string text = e.to_string();
    EXPECT_THAT(text, HasSubstr((dir.path() / "a.yaml").string()));
    EXPECT_THAT(text, HasSubstr((dir.path() / "team" / "b.yaml").string()));
    EXPECT_THAT(text, HasSubstr("\"hello\""));
}

TEST(PolicySet, TwoBaselinesAreAnError) {
    TempDir dir;
    write_file(dir.path() / "baseline.yaml", kBaselineYaml);
    write_file(dir.path() / "more" / "baseline.yaml", kBaselineYaml);
    write_file(dir.path() / "a.yaml", policy_yaml("a", "alpha"));
    const PolicySetLoad load = load_policy_set(dir.path());
    EXPECT_FALSE(load.set.has_value());
    ASSERT_EQ(load.errors.size(), 1u) << all_errors(load);
    const std::string text = load.errors.front().to_string();
    EXPECT_THAT(text, HasSubstr((dir.path() / "baseline.yaml").string()));
    EXPECT_THAT(text, HasSubstr((dir.path() / "more" / "baseline.yaml").string()));
}

TEST(PolicySet, BaselineIsAppliedAndItsOverridesAreWarnings) {
    TempDir dir;
    write_file(dir.path() / "baseline.yaml", kBaselineYaml);
    write_file(dir.path() / "a.yaml", policy_yaml("tracer", "alpha", "  syscalls:\n    allow: [read, ptrace]\n"));
    const PolicySetLoad load = load_policy_set(dir.path());
    ASSERT_TRUE(load.ok()) << all_errors(load);
    const FunctionPolicy* alpha = load.set->find("alpha");
    ASSERT_NE(alpha, nullptr);
    EXPECT_TRUE(alpha->syscalls.allow.test(SYS_read));
    EXPECT_FALSE(alpha->syscalls.allow.test(SYS_ptrace));
    ASSERT_EQ(load.warnings.size(), 1u);
    EXPECT_THAT(load.warnings.front(), HasSubstr("ptrace"));
    EXPECT_THAT(load.warnings.front(), HasSubstr("tracer"));
}

TEST(PolicySet, PoliciesAreSortedByFunction) {
    TempDir dir;
    write_file(dir.path() / "1.yaml", policy_yaml("p1", "zulu"));
    write_file(dir.path() / "2.yaml", policy_yaml("p2", "alpha"));
    write_file(dir.path() / "x" / "3.yaml", policy_yaml("p3", "mike"));
    const PolicySetLoad load = load_policy_set(dir.path());
    ASSERT_TRUE(load.ok()) << all_errors(load);
    EXPECT_THAT(functions_of(*load.set), ElementsAre("alpha", "mike", "zulu"));
    ASSERT_NE(load.set->find("mike"), nullptr);
    EXPECT_EQ(load.set->find("mike")->name, "p3");
}

// What kubelet's AtomicWriter leaves in a ConfigMap volume.
void make_configmap_volume(const fs::path& dir, const std::string& timestamp_dir) {
    const fs::path data = dir / timestamp_dir;
    write_file(data / "a.yaml", policy_yaml("a", "alpha"));
    write_file(data / "b.yaml", policy_yaml("b", "beta"));
    write_file(data / "baseline.yaml", kBaselineYaml);
    write_file(data / "nested" / "c.yaml", policy_yaml("c", "gamma"));  // key with an items[].path "nested/c.yaml"
    fs::create_directory_symlink(timestamp_dir, dir / "..data");
    for (const char* name : {"a.yaml", "b.yaml", "baseline.yaml"})
        fs::create_symlink(fs::path("..data") / name, dir / name);
    fs::create_directory_symlink("..data/nested", dir / "nested");
}

TEST(PolicySet, ConfigMapVolumeLoadsEachPolicyOnce) {
    TempDir dir;
    make_configmap_volume(dir.path(), "..2024_01_01_00_00_00.000000001");
    const PolicySetLoad load = load_policy_set(dir.path());
    ASSERT_TRUE(load.ok()) << all_errors(load);
    EXPECT_THAT(functions_of(*load.set), ElementsAre("alpha", "beta", "gamma"));
    ASSERT_TRUE(load.set->baseline.has_value());
    // Messages name the paths an operator sees, not the timestamped copies.
    EXPECT_EQ(load.set->find("alpha")->source, (dir.path() / "a.yaml").string());
    EXPECT_EQ(load.set->find("gamma")->source, (dir.path() / "nested" / "c.yaml").string());
}

TEST(PolicySet, DanglingSymlinkIsSkippedWithAWarning) {
    TempDir dir;
    write_file(dir.path() / "a.yaml", policy_yaml("a", "alpha"));
    fs::create_symlink("..data/removed.yaml", dir.path() / "removed.yaml");
    const PolicySetLoad load = load_policy_set(dir.path());
    ASSERT_TRUE(load.ok()) << all_errors(load);
    EXPECT_EQ(load.set->policies.size(), 1u);
    bool warned = false;
    for (const auto& w : load.warnings) warned = warned || w.find("removed.yaml") != std::string::npos;
    EXPECT_TRUE(warned);
}

TEST(PolicySet, SymlinkLoopIsReadOnce) {
    TempDir dir;
    write_file(dir.path() / "sub" / "a.yaml", policy_yaml("a", "alpha"));
    fs::create_directory_symlink("..", dir.path() / "sub" / "up");
    fs::create_directory_symlink("sub", dir.path() / "again");
    const PolicySetLoad load = load_policy_set(dir.path());
    ASSERT_TRUE(load.ok()) << all_errors(load);
    EXPECT_EQ(load.set->policies.size(), 1u);
}

TEST(PolicySet, EditorLeftoversAndHiddenFilesAreIgnored) {
    TempDir dir;
    write_file(dir.path() / "a.yaml", policy_yaml("a", "alpha"));
    // Each would be an error (or a duplicate of "alpha") if it were read.
    const std::string garbage = "{{{ not yaml";
    for (const char* name : {".a.yaml.swp", "a.yaml~", ".#a.yaml", "#a.yaml#", "a.yaml.swp", ".hidden.yaml",
                             "notes.txt", "README.md"})
        write_file(dir.path() / name, garbage);
    write_file(dir.path() / ".git" / "x.yaml", garbage);
    write_file(dir.path() / "..2024_01_01" / "dup.yaml", policy_yaml("dup", "alpha"));
    const PolicySetLoad load = load_policy_set(dir.path());
    ASSERT_TRUE(load.ok()) << all_errors(load);
    EXPECT_THAT(functions_of(*load.set), ElementsAre("alpha"));

    EXPECT_TRUE(is_policy_file_name("x.yaml"));
    EXPECT_TRUE(is_policy_file_name("x.yml"));
    EXPECT_FALSE(is_policy_file_name("x.yaml~"));
    EXPECT_FALSE(is_policy_file_name(".x.yaml"));
    EXPECT_FALSE(is_policy_file_name("x.json"));
    EXPECT_TRUE(is_ignored_rules_entry("..data"));
}

TEST(PolicySet, OversizeFileIsRejected) {
    TempDir dir;
    write_file(dir.path() / "a.yaml", policy_yaml("a", "alpha"));
    std::string big = policy_yaml("big", "big");
    big += "#" + std::string(kMaxPolicyFileBytes, 'x') + "\n";
    write_file(dir.path() / "big.yaml", big);
    // A file that cannot be read does not stop the others being checked.
    write_file(dir.path() / "c.yaml", policy_yaml("c", "gamma", "  colour: blue\n"));
    const PolicySetLoad load = load_policy_set(dir.path());
    EXPECT_FALSE(load.set.has_value());
    ASSERT_EQ(load.errors.size(), 2u) << all_errors(load);
    EXPECT_EQ(load.errors[0].file, (dir.path() / "big.yaml").string());
    EXPECT_EQ(load.errors[0].line, 0);
    EXPECT_THAT(load.errors[0].message, HasSubstr("larger than"));
    EXPECT_EQ(load.errors[1].file, (dir.path() / "c.yaml").string());
}

TEST(PolicySet, FifoIsAnErrorNotAHang) {
    TempDir dir;
    write_file(dir.path() / "a.yaml", policy_yaml("a", "alpha"));
    ASSERT_EQ(::mkfifo((dir.path() / "pipe.yaml").c_str(), 0600), 0);
    const PolicySetLoad load = load_policy_set(dir.path());
    ASSERT_EQ(load.errors.size(), 1u) << all_errors(load);
    EXPECT_THAT(load.errors.front().to_string(), HasSubstr("pipe.yaml: not a regular file"));
}

TEST(PolicySet, MissingDirectoryIsAnError) {
    TempDir dir;
    const PolicySetLoad load = load_policy_set(dir.path() / "nope");
    EXPECT_FALSE(load.set.has_value());
    ASSERT_EQ(load.errors.size(), 1u);
    EXPECT_EQ(load.errors.front().file, (dir.path() / "nope").string());
    EXPECT_THAT(load.errors.front().message, HasSubstr("does not exist"));

    write_file(dir.path() / "file", "x");
    EXPECT_THAT(load_policy_set(dir.path() / "file").errors.at(0).message, HasSubstr("not a directory"));
}

TEST(PolicySet, EmptyDirectoryIsAnEmptySet) {
    TempDir dir;
    const PolicySetLoad load = load_policy_set(dir.path());
    ASSERT_TRUE(load.ok()) << all_errors(load);
    EXPECT_THAT(load.set->policies, IsEmpty());
    EXPECT_FALSE(load.warnings.empty());
}

TEST(PolicySet, AtMostHalfThePolicySlots) {
    TempDir dir;
    for (size_t i = 0; i < kMaxPoliciesPerSet; ++i)
        write_file(dir.path() / ("p" + std::to_string(i) + ".yaml"), policy_yaml("p", "f" + std::to_string(i)));
    {
        const PolicySetLoad load = load_policy_set(dir.path());
        ASSERT_TRUE(load.ok()) << all_errors(load);
        EXPECT_EQ(load.set->policies.size(), kMaxPoliciesPerSet);
    }
    write_file(dir.path() / "one-more.yaml", policy_yaml("p", "one-more"));
    const PolicySetLoad load = load_policy_set(dir.path());
    EXPECT_FALSE(load.set.has_value());
    ASSERT_EQ(load.errors.size(), 1u) << all_errors(load);
    EXPECT_EQ(load.errors.front().file, dir.path().string());
    EXPECT_THAT(load.errors.front().message, HasSubstr(std::to_string(kMaxPoliciesPerSet)));
}

TEST(PolicySet, VersionFollowsTheBytesAndNothingElse) {
    TempDir dir;
    write_file(dir.path() / "a.yaml", policy_yaml("a", "alpha"));
    write_file(dir.path() / "b.yaml", policy_yaml("b", "beta"));
    const std::string v1 = load_policy_set(dir.path()).set.value().version;
    EXPECT_EQ(load_policy_set(dir.path()).set.value().version, v1) << "same bytes, same version";

    // The same files elsewhere: versions compare across hosts and mounts.
    TempDir other;
    fs::copy(dir.path(), other.path(), fs::copy_options::recursive | fs::copy_options::overwrite_existing);
    EXPECT_EQ(load_policy_set(other.path()).set.value().version, v1);

    // A comment changes the bytes: a new version, but no policy changed.
    write_file(dir.path() / "a.yaml", "# reviewed\n" + policy_yaml("a", "alpha"));
    const PolicySetLoad commented = load_policy_set(dir.path());
    ASSERT_TRUE(commented.ok());
    EXPECT_NE(commented.set->version, v1);
    const PolicySet before = load_policy_set(other.path()).set.value();
    EXPECT_TRUE(diff_functions(before, *commented.set).empty());

    // A renamed file is a different set of files (same bytes, same order).
    fs::rename(dir.path() / "a.yaml", dir.path() / "a2.yaml");
    EXPECT_NE(load_policy_set(dir.path()).set.value().version, commented.set->version);

    write_file(dir.path() / "a.yaml", policy_yaml("a", "alpha"));
    fs::remove(dir.path() / "a2.yaml");
    EXPECT_EQ(load_policy_set(dir.path()).set.value().version, v1) << "back to the same bytes";
}

TEST(PolicySet, DiffNamesAddedChangedAndRemovedFunctions) {
    TempDir dir;
    write_file(dir.path() / "a.yaml", policy_yaml("a", "alpha"));
    write_file(dir.path() / "b.yaml", policy_yaml("b", "beta"));
    write_file(dir.path() / "c.yaml", policy_yaml("c", "gamma"));
    const PolicySet before = load_policy_set(dir.path()).set.value();

    write_file(dir.path() / "b.yaml", policy_yaml("b", "beta", "  mode: enforce\n"));
    fs::remove(dir.path() / "c.yaml");
    write_file(dir.path() / "d.yaml", policy_yaml("d", "delta"));
    // Moving a policy to another file changes nothing the kernel sees.
    fs::rename(dir.path() / "a.yaml", dir.path() / "moved.yaml");
    const PolicySet after = load_policy_set(dir.path()).set.value();

    const PolicySetDiff diff = diff_functions(before, after);
    EXPECT_THAT(diff.added, ElementsAre("delta"));
    EXPECT_THAT(diff.changed, ElementsAre("beta"));
    EXPECT_THAT(diff.removed, ElementsAre("gamma"));
    EXPECT_FALSE(diff.empty());
    EXPECT_TRUE(diff_functions(after, after).empty());

    const PolicySetDiff back = diff_functions(after, before);
    EXPECT_THAT(back.added, ElementsAre("gamma"));
    EXPECT_THAT(back.removed, ElementsAre("delta"));
}

TEST(PolicySet, EveryRuleSectionReachesTheFingerprint) {
    const std::vector<std::string> variants = {
        "",
        "  mode: enforce\n",
        "  syscalls: {allow: [read]}\n",
        "  syscalls: {allow: [read], onViolation: kill}\n",
        "  network: {egress: []}\n",
        "  network: {egress: [{cidr: 10.0.0.0/8}]}\n",
        "  network: {egress: [{cidr: 192.168.0.0/16}]}\n",
        "  network: {egress: [{cidr: 10.0.0.0/8, ports: [443]}]}\n",
        "  network: {egress: [{cidr: 10.0.0.0/8, ports: [8443]}]}\n",
        "  network: {egress: [{cidr: 10.0.0.0/8, protocol: udp}]}\n",
        "  network: {egress: [], onViolation: deny}\n",
        "  network: {listen: [{port: 8080}]}\n",
        "  network: {listen: [{port: 8081}]}\n",
        "  network: {listen: [{port: 8080, protocol: tcp}]}\n",
        "  files: {}\n",
        "  files: {read: [/a/**]}\n",
        "  files: {read: [/b/**]}\n",
        "  files: {write: [/a/**]}\n",
        "  files: {create: [/a/**]}\n",
        "  files: {delete: [/a/**]}\n",
        "  files: {read: [/a/**], onViolation: deny}\n",
        "  exec: {}\n",
        "  exec: {allow: [/bin/sh]}\n",
        "  exec: {allow: [/bin/sh, /bin/ls]}\n",
        "  exec: {allow: [/bin/sh], onViolation: deny}\n",
    };
    std::map<uint64_t, std::string> seen;
    for (const std::string& spec : variants) {
        TempDir dir;
        write_file(dir.path() / "p.yaml", policy_yaml("p", "f", spec));
        const PolicySetLoad load = load_policy_set(dir.path());
        ASSERT_TRUE(load.ok()) << spec << all_errors(load);
        const uint64_t fingerprint = load.set->fingerprints.at("f");
        auto [it, fresh] = seen.emplace(fingerprint, spec);
        EXPECT_TRUE(fresh) << "\"" << spec << "\" and \"" << it->second << "\" have the same fingerprint";
    }
}

TEST(PolicySet, CodePinsAndExecDigestsReachTheFingerprint) {
    TempDir dir;
    write_file(dir.path() / "p.yaml", policy_yaml("p", "f", "  exec: {allow: [{path: /bin/sh, sha256: " +
                                                                  std::string(64, 'a') + "}]}\n"));
    PolicySet set = load_policy_set(dir.path()).set.value();
    const uint64_t plain = set.fingerprints.at("f");
    write_file(dir.path() / "p.yaml", policy_yaml("p", "f", "  exec: {allow: [{path: /bin/sh, sha256: " +
                                                                  std::string(64, 'b') + "}]}\n"));
    EXPECT_NE(load_policy_set(dir.path()).set.value().fingerprints.at("f"), plain) << "another exec digest";
    attach_code_pins(set, {{"/var/task/fn/handler.py", std::string(64, 'c')}});
    EXPECT_EQ(set.policies.front().code_pins.size(), 1u);
    const uint64_t pinned = set.fingerprints.at("f");
    EXPECT_NE(pinned, plain);
    attach_code_pins(set, {{"/var/task/fn/handler.py", std::string(64, 'd')}});
    EXPECT_NE(set.fingerprints.at("f"), pinned) << "another code digest";
}

TEST(PolicySet, ABaselineChangeChangesThePoliciesItApplies) {
    TempDir dir;
    write_file(dir.path() / "baseline.yaml", kBaselineYaml);
    write_file(dir.path() / "a.yaml", policy_yaml("a", "alpha"));  // no syscalls: takes the baseline
    write_file(dir.path() / "b.yaml", policy_yaml("b", "beta", "  syscalls: {allow: [read]}\n"));
    const PolicySet before = load_policy_set(dir.path()).set.value();
    std::string stricter = kBaselineYaml;
    stricter.replace(stricter.find("[ptrace, bpf]"), 13, "[ptrace, bpf, mount]");
    write_file(dir.path() / "baseline.yaml", stricter);
    const PolicySet after = load_policy_set(dir.path()).set.value();
    const PolicySetDiff diff = diff_functions(before, after);
    EXPECT_THAT(diff.changed, ElementsAre("alpha"));
    EXPECT_THAT(diff.added, IsEmpty());
    EXPECT_THAT(diff.removed, IsEmpty());
}

}  // namespace
}  // namespace fnw
