// SPDX-License-Identifier: Apache-2.0
// compile_file_rules without BPF: the object identities come from a stand-in
// for ProbeSet::object_identity that reads stat().
#include <fstream>
#include <optional>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fnwarden/kernel_abi.h>

#include "core/file_rules.hpp"
#include "stat_identity.hpp"
#include "temp_dir.hpp"

namespace fnw {
namespace {

using test::stat_identity;  // what identity.bpf.c would read

const fnw_file_rule* rule_for(const KernelFileRules& rules, const std::filesystem::path& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return nullptr;
    for (const auto& [key, rule] : rules.rules)
        if (key.ino == st.st_ino && key.dev == st.st_dev) return &rule;
    return nullptr;
}

TEST(FileRules, ExactSubtreeAndGlobPatterns) {
    test::TempDir dir;
    std::filesystem::create_directories(dir.path() / "data");
    std::ofstream(dir.path() / "config.json") << "{}";
    FileRules files;
    files.restricted = true;
    files.read = {(dir.path() / "config.json").string(), (dir.path() / "data/**").string(),
                  (dir.path() / "*.log").string()};
    const KernelFileRules rules = compile_file_rules(3, files, ExecRules{}, stat_identity);
    for (const auto& [key, rule] : rules.rules) EXPECT_EQ(key.policy_id, 3u);

    const fnw_file_rule* config = rule_for(rules, dir.path() / "config.json");
    ASSERT_NE(config, nullptr);
    EXPECT_EQ(config->exact, static_cast<uint32_t>(FNW_FILE_READ));
    const fnw_file_rule* data = rule_for(rules, dir.path() / "data");
    ASSERT_NE(data, nullptr);
    EXPECT_EQ(data->subtree, static_cast<uint32_t>(FNW_FILE_READ));
    const fnw_file_rule* parent = rule_for(rules, dir.path());
    ASSERT_NE(parent, nullptr);
    EXPECT_EQ(parent->named_entries, static_cast<uint32_t>(FNW_FILE_READ)) << "the way up from both rules";
    // A replaced config.json is found by its name; its siblings are not named.
    bool file_named = false, sibling_named = false;
    for (const auto& [key, rights] : rules.names) {
        const std::string name(key.name);
        file_named |= name == "config.json" && rights == FNW_FILE_READ;
        sibling_named |= name == "other.json";
    }
    EXPECT_TRUE(file_named) << "a single-file rule names its file in its directory";
    EXPECT_FALSE(sibling_named);
    EXPECT_FALSE(rules.names.empty());

    ASSERT_EQ(rules.userspace_only.size(), 1u);
    EXPECT_NE(rules.userspace_only[0].find("a glob only userspace can match"), std::string::npos);
    EXPECT_EQ(rules.complete_rights & FNW_FILE_READ, 0u) << "the glob leaves read to userspace";
    EXPECT_EQ(rules.complete_rights & FNW_FILE_WRITE, static_cast<uint32_t>(FNW_FILE_WRITE)) << "no write patterns";
}

TEST(FileRules, UnreadableIdentityLeavesTheRightToUserspace) {
    test::TempDir dir;
    FileRules files;
    files.restricted = true;
    files.write = {(dir.path() / "**").string(), (dir.path() / "missing").string()};
    const KernelFileRules rules =
        compile_file_rules(1, files, ExecRules{}, [](int) { return std::optional<fnw_object_identity>(); });
    EXPECT_TRUE(rules.rules.empty());
    ASSERT_EQ(rules.userspace_only.size(), 2u);
    EXPECT_NE(rules.userspace_only[0].find("cannot be read here"), std::string::npos);
    EXPECT_NE(rules.userspace_only[1].find("does not exist now"), std::string::npos);
    EXPECT_EQ(rules.complete_rights & FNW_FILE_WRITE, 0u);
}

TEST(FileRules, ExecAllowlistMarksNoWayUp) {
    test::TempDir dir;
    std::ofstream(dir.path() / "tool") << "#!/bin/sh\n";
    ExecRules exec;
    exec.restricted = true;
    exec.allow = {(dir.path() / "tool").string()};
    const KernelFileRules rules = compile_file_rules(2, FileRules{}, exec, stat_identity);
    ASSERT_EQ(rules.rules.size(), 1u) << "the program only: deciding an exec by name would let the image run";
    EXPECT_EQ(rules.rules[0].second.exact, static_cast<uint32_t>(FNW_FILE_EXEC));
    EXPECT_TRUE(rules.names.empty());
    EXPECT_EQ(rules.complete_rights, static_cast<uint32_t>(FNW_FILE_READ | FNW_FILE_WRITE | FNW_FILE_CREATE |
                                                           FNW_FILE_DELETE | FNW_FILE_EXEC));
}

}  // namespace
}  // namespace fnw

namespace fnw {
namespace {

// Where the kernel marks each pattern's use (fnw_file_rule.use_*): one slot
// per pattern, numbered in section order, globs included so that no slot
// moves when another pattern's object comes or goes; patterns on the same
// object share the first one's slot, and only keyed patterns are counted.
TEST(FileRules, UseSlotsNumberPatternsAndShareAnObject) {
    test::TempDir dir;
    std::filesystem::create_directories(dir.path() / "data");
    std::ofstream(dir.path() / "config.json") << "{}";
    const std::string config = (dir.path() / "config.json").string();
    const std::string glob = (dir.path() / "*.log").string();
    const std::string data = (dir.path() / "data/**").string();
    std::filesystem::create_symlink(dir.path() / "config.json", dir.path() / "link.json");
    const std::string alias = (dir.path() / "link.json").string();
    FileRules files;
    files.restricted = true;
    files.read = {glob, config, data};
    files.write = {alias, config};
    const KernelFileRules rules = compile_file_rules(3, files, ExecRules{}, stat_identity);

    EXPECT_EQ(rules.use_slots.count(glob), 0u) << "a glob is not counted in the kernel";
    EXPECT_EQ(rules.use_slots.at(config), 2);
    EXPECT_EQ(rules.use_slots.at(data), 3);
    EXPECT_EQ(rules.use_slots.at(alias), 2) << "the same object: the slot of its first pattern";
    const fnw_file_rule* config_rule = rule_for(rules, config);
    ASSERT_NE(config_rule, nullptr);
    EXPECT_EQ(config_rule->use_exact, 2);
    EXPECT_EQ(config_rule->use_subtree, 0);
    const fnw_file_rule* data_rule = rule_for(rules, dir.path() / "data");
    ASSERT_NE(data_rule, nullptr);
    EXPECT_EQ(data_rule->use_subtree, 3);
}

TEST(FileRules, ACodePinMarksItsDirectoryAndNothingElse) {
    test::TempDir dir;
    std::filesystem::create_directories(dir.path() / "fn");
    std::ofstream(dir.path() / "fn/handler.py") << "print()";
    std::ofstream(dir.path() / "fn/greet.py") << "X = 1";
    const std::vector<CodePin> pins = {{(dir.path() / "fn/handler.py").string(), std::string(64, 'a')},
                                       {(dir.path() / "fn/greet.py").string(), std::string(64, 'b')}};
    const KernelFileRules rules = compile_file_rules(2, FileRules{}, ExecRules{}, stat_identity, pins);
    const fnw_file_rule* fn = rule_for(rules, dir.path() / "fn");
    ASSERT_NE(fn, nullptr);
    EXPECT_EQ(fn->flags, static_cast<uint32_t>(FNW_RULE_CODE_DIR));
    EXPECT_EQ(fn->exact | fn->subtree | fn->named_entries, 0u) << "a code directory grants nothing";
    EXPECT_EQ(rules.rules.size(), 1u) << "one entry for the directory, none per file";
    EXPECT_EQ(rules.code_dirs.size(), 1u);
    EXPECT_TRUE(rules.code_dirs_unkeyed.empty());
    // Named in its parent: a directory made again in its place is found.
    ASSERT_EQ(rules.names.size(), 1u);
    EXPECT_STREQ(rules.names[0].first.name, "fn");
    EXPECT_EQ(rules.names[0].second, FNW_NAME_CODE_DIR);

    const KernelFileRules unknown = compile_file_rules(2, FileRules{}, ExecRules{},
                                                       [](int) { return std::optional<fnw_object_identity>(); }, pins);
    EXPECT_TRUE(unknown.rules.empty());
    ASSERT_EQ(unknown.code_dirs_unkeyed.size(), 1u) << "said, not silently unchecked";
}

}  // namespace
}  // namespace fnw
