// SPDX-License-Identifier: Apache-2.0
// policy diff: the grants a policy change adds and removes, by meaning,
// not by text (core/policy_diff.hpp).
#include <gtest/gtest.h>

#include "core/policy_diff.hpp"
#include "core/policy_parser.hpp"

namespace fnw {
namespace {

FunctionPolicy parsed(const std::string& spec, const std::string& name = "hello") {
    const std::string text = "apiVersion: fnwarden.io/v1\nkind: FunctionPolicy\nmetadata:\n  name: " + name +
                             "\nspec:\n  selector:\n    function: hello\n" + spec;
    PolicyParseResult result = parse_policy(text, "test.yaml");
    EXPECT_TRUE(result.ok()) << (result.errors.empty() ? "" : result.errors[0].to_string());
    return result.ok() ? *result.policy : FunctionPolicy{};
}

PolicyDiff diff_of(const std::string& before_spec, const std::string& after_spec) {
    return diff_policies(parsed(before_spec), parsed(after_spec));
}

const SectionDiff* section(const PolicyDiff& diff, const std::string& name) {
    for (const SectionDiff& s : diff.sections)
        if (s.section == name) return &s;
    return nullptr;
}

using Items = std::vector<std::string>;

constexpr const char* kBase =
    "  mode: audit\n"
    "  syscalls:\n    onViolation: deny\n    allow: [read, write, openat, exit_group]\n"
    "  files:\n    onViolation: deny\n    read: [/etc/hosts, /srv/fn/**]\n    write: [/tmp/out/**]\n"
    "  exec:\n    allow: [/usr/bin/python3]\n"
    "  network:\n    egress: [{cidr: 10.0.0.0/8, ports: [443], protocol: tcp}]\n";

TEST(PolicyDiff, OrderDuplicatesAndFormattingAreNotChanges) {
    const PolicyDiff diff = diff_of(
        kBase,
        "  mode: audit\n"
        "  files:\n    onViolation: deny\n    write: [/tmp/out/**]\n    read: [/srv/fn/**, /etc/hosts, /etc/hosts]\n"
        "  syscalls: {onViolation: deny, allow: [exit_group, openat, write, read]}\n"
        "  network:\n    egress:\n      - {cidr: 10.0.0.0/8, ports: [443], protocol: tcp}   # the API\n"
        "  exec: {allow: [/usr/bin/python3]}\n");
    EXPECT_TRUE(diff.equal()) << (diff.sections.empty() ? "" : diff.sections[0].section);
    EXPECT_EQ(diff.added(), 0u);
    EXPECT_EQ(diff.removed(), 0u);
}

TEST(PolicyDiff, EachSectionSaysWhatWasAddedAndRemoved) {
    const PolicyDiff diff = diff_of(
        kBase,
        "  mode: enforce\n"
        "  syscalls:\n    onViolation: deny\n    allow: [read, write, openat, exit_group, socket, connect]\n"
        "  files:\n    onViolation: kill\n    read: [/srv/fn/**]\n    write: [/tmp/out/**]\n    delete: [/tmp/out/**]\n"
        "  exec:\n    allow: [/usr/bin/python3, /bin/sh]\n"
        "  network:\n    egress: [{cidr: 10.0.0.0/8, ports: [443, 80], protocol: tcp}]\n    listen: [{port: 8080}]\n"
        "  process: {ptrace: true}\n");
    ASSERT_FALSE(diff.equal());
    ASSERT_TRUE(section(diff, "mode"));
    EXPECT_EQ(section(diff, "mode")->removed, (Items{"mode: audit", "files.onViolation: deny"}));
    EXPECT_EQ(section(diff, "mode")->added,
              (Items{"mode: enforce", "files.onViolation: kill", "process.onViolation: report"}))
        << "a new section acts too";
    ASSERT_TRUE(section(diff, "syscalls"));
    EXPECT_EQ(section(diff, "syscalls")->added, (Items{"socket", "connect"}));
    EXPECT_TRUE(section(diff, "syscalls")->removed.empty());
    ASSERT_TRUE(section(diff, "files.read"));
    EXPECT_EQ(section(diff, "files.read")->removed, Items{"/etc/hosts"});
    EXPECT_EQ(section(diff, "files.delete")->added, Items{"/tmp/out/**"});
    EXPECT_FALSE(section(diff, "files.write")) << "unchanged sections are left out";
    EXPECT_EQ(section(diff, "exec")->added, Items{"/bin/sh"});
    EXPECT_EQ(section(diff, "network.egress")->added, Items{"10.0.0.0/8 tcp 80"});
    EXPECT_EQ(section(diff, "network.listen")->added, Items{"any 8080"});
    ASSERT_TRUE(section(diff, "process"));
    EXPECT_EQ(section(diff, "process")->removed, Items{kUnrestrictedGrant});
    EXPECT_EQ(section(diff, "process")->added, Items{"ptrace"});
    EXPECT_EQ(diff.added(), 3u + 2u + 1u + 1u + 1u + 1u + 1u);
    EXPECT_EQ(diff.removed(), 2u + 1u + 1u);
    // The fixed order: who, how, then the grants as a policy lists them.
    std::vector<std::string> order;
    for (const SectionDiff& s : diff.sections) order.push_back(s.section);
    EXPECT_EQ(order, (Items{"mode", "syscalls", "files.read", "files.delete", "exec", "network.egress",
                            "network.listen", "process"}));
}

TEST(PolicyDiff, DroppingASectionGrantsEverythingInIt) {
    const PolicyDiff diff =
        diff_of(kBase, "  mode: audit\n  syscalls:\n    onViolation: deny\n    allow: [read, write, openat, exit_group]\n");
    ASSERT_TRUE(section(diff, "files"));
    EXPECT_EQ(section(diff, "files")->added, Items{kUnrestrictedGrant});
    EXPECT_EQ(section(diff, "files.read")->removed, (Items{"/etc/hosts", "/srv/fn/**"}));
    EXPECT_EQ(section(diff, "network")->added, Items{kUnrestrictedGrant});
    EXPECT_EQ(section(diff, "exec")->added, Items{kUnrestrictedGrant});
    EXPECT_EQ(section(diff, "exec")->removed, Items{"/usr/bin/python3"});
}

TEST(PolicyDiff, ASelectorOrPinChangeIsAChange) {
    const std::string pinned = "  exec:\n    allow: [{path: /srv/fn/tool, sha256: " + std::string(64, 'a') + "}]\n";
    const std::string repinned = "  exec:\n    allow: [{path: /srv/fn/tool, sha256: " + std::string(64, 'b') + "}]\n";
    const PolicyDiff diff = diff_policies(parsed(pinned), parsed(repinned, "hello-v2"));
    ASSERT_TRUE(section(diff, "exec.sha256"));
    EXPECT_EQ(section(diff, "exec.sha256")->removed, Items{"/srv/fn/tool " + std::string(64, 'a')});
    EXPECT_EQ(section(diff, "exec.sha256")->added, Items{"/srv/fn/tool " + std::string(64, 'b')});
    EXPECT_FALSE(section(diff, "exec")) << "the program itself is still allowed";
    ASSERT_TRUE(section(diff, "selector"));
    EXPECT_EQ(section(diff, "selector")->added, Items{"metadata.name: hello-v2"});
    EXPECT_TRUE(diff_policies(parsed(pinned), parsed(pinned)).equal());
}

}  // namespace
}  // namespace fnw
