// SPDX-License-Identifier: Apache-2.0
#include "core/policy_parser.hpp"

#include <sys/syscall.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "temp_dir.hpp"

namespace fnw {
namespace {

using ::testing::HasSubstr;

constexpr const char* kHeader =
    "apiVersion: fnwarden.io/v1\n"
    "kind: FunctionPolicy\n"
    "metadata:\n"
    "  name: p\n";

PolicyParseResult parse_spec(const std::string& spec) { return parse_policy(std::string(kHeader) + spec, "t.yaml"); }

// The single error of a result, or a failure.
PolicyError only_error(const PolicyParseResult& r) {
    EXPECT_FALSE(r.policy.has_value());
    if (r.errors.size() != 1) {
        ADD_FAILURE() << "expected exactly one error, got " << r.errors.size();
        for (const auto& e : r.errors) ADD_FAILURE() << e.to_string();
    }
    return r.errors.empty() ? PolicyError{} : r.errors.front();
}

TEST(PolicyParser, ParsesAFullPolicy) {
    auto r = parse_spec(
        "spec:\n"
        "  selector: {function: thumbnailer}\n"
        "  mode: enforce\n"
        "  syscalls:\n"
        "    allow: [read, write, openat, exit_group]\n"
        "    onViolation: kill\n");
    ASSERT_TRUE(r.ok()) << r.errors.front().to_string();
    const auto& p = *r.policy;
    EXPECT_EQ(p.name, "p");
    EXPECT_EQ(p.function, "thumbnailer");
    EXPECT_EQ(p.mode, Mode::Enforce);
    EXPECT_EQ(p.syscalls.on_violation, ViolationAction::Kill);
    EXPECT_EQ(p.syscalls.allow.count(), 4u);
    EXPECT_TRUE(p.syscalls.allow.test(SYS_read));
    EXPECT_TRUE(p.syscalls.allow.test(SYS_openat));
    EXPECT_TRUE(p.syscalls.allow.test(SYS_exit_group));
    EXPECT_FALSE(p.syscalls.allow.test(SYS_mkdir));
    EXPECT_EQ(p.source, "t.yaml");
}

// A policy is UTF-8 text. Other bytes are refused where they stand: kept,
// yaml-cpp would decode them differently when the policy is written back
// (the parser fuzzer's crash of session 18, an overlong C0 98 in a
// cgroupPath, is the fixture).
TEST(PolicyParser, BytesThatAreNotUtf8AreRefusedAtTheirPlace) {
    auto r = parse_spec("spec:\n  selector:\n    cgroupPath: 'pods/\xc0\x98x'\n");
    EXPECT_THAT(only_error(r).to_string(), HasSubstr("t.yaml:7:23: not UTF-8 text: byte 0xc0"));
    // In a comment too: the file is not text.
    r = parse_policy(std::string("# caf\xe9\n") + kHeader + "spec: {}\n", "t.yaml");
    EXPECT_THAT(only_error(r).to_string(), HasSubstr("t.yaml:1:6: not UTF-8 text: byte 0xe9"));
    // A surrogate (ED A0 80) and a truncated sequence at the end.
    EXPECT_FALSE(parse_spec("spec:\n  selector:\n    function: \xed\xa0\x80\n").ok());
    EXPECT_FALSE(parse_spec("spec:\n  selector:\n    function: a\n# \xe2\x82").ok());
    auto file = parse_policy_file(FNW_TEST_FIXTURES "/policies/bad-overlong-utf8.yaml");
    EXPECT_THAT(only_error(file).to_string(), HasSubstr("bad-overlong-utf8.yaml:11:24: not UTF-8 text: byte 0xff"));
}

TEST(PolicyParser, Utf8TextIsKept) {
    auto r = parse_spec("spec:\n  selector:\n    function: caf\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x90\x8d\n");
    ASSERT_TRUE(r.ok()) << r.errors[0].to_string();
    EXPECT_EQ(r.policy->function, "caf\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x90\x8d");
}

TEST(PolicyParser, DefaultsAreAuditAndReport) {
    auto r = parse_spec("spec:\n  selector: {function: f}\n  syscalls: {allow: [read]}\n");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.policy->mode, Mode::Audit);
    EXPECT_EQ(r.policy->syscalls.on_violation, ViolationAction::Report);
}

TEST(PolicyParser, NoSyscallsSectionMeansSyscallsAreNotRestricted) {
    auto r = parse_spec("spec:\n  selector: {function: f}\n");
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r.policy->syscalls.allow.all());
}

TEST(PolicyParser, UnknownSyscallPointsAtItsLineAndSuggests) {
    auto e = only_error(parse_spec(
        "spec:\n"
        "  selector: {function: f}\n"
        "  syscalls:\n"
        "    allow:\n"
        "      - read\n"
        "      - opne\n"));
    EXPECT_EQ(e.file, "t.yaml");
    EXPECT_EQ(e.line, 10);
    EXPECT_EQ(e.column, 9);
    EXPECT_THAT(e.message, HasSubstr("unknown syscall \"opne\""));
    EXPECT_THAT(e.message, HasSubstr("did you mean \"open\"?"));
    EXPECT_EQ(e.to_string().rfind("t.yaml:10:9: ", 0), 0u) << e.to_string();
}

TEST(PolicyParser, UnknownKeyIsAnError) {
    auto e = only_error(parse_spec("spec:\n  selector: {function: f}\n  sycalls: {allow: [read]}\n"));
    EXPECT_EQ(e.line, 7);
    EXPECT_EQ(e.column, 3);
    EXPECT_THAT(e.message, HasSubstr("unknown key \"sycalls\" in spec"));
}

TEST(PolicyParser, ProcessSectionRefusesEverythingItDoesNotAllow) {
    auto r = parse_spec("spec:\n  selector: {function: f}\n  process: {execMemory: true, onViolation: deny}\n");
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r.policy->process.restricted);
    EXPECT_TRUE(r.policy->process.exec_memory);
    EXPECT_FALSE(r.policy->process.ptrace);
    EXPECT_FALSE(r.policy->process.bpf);
    EXPECT_EQ(r.policy->process.on_violation, ViolationAction::Deny);

    auto absent = parse_spec("spec:\n  selector: {function: f}\n");
    ASSERT_TRUE(absent.ok());
    EXPECT_FALSE(absent.policy->process.restricted);
}

TEST(PolicyParser, ProcessSectionTakesOnlyTrueOrFalse) {
    // yaml-cpp would read "yes" and "on" as true: a permission is spelt out.
    auto e = only_error(parse_spec("spec:\n  selector: {function: f}\n  process:\n    bpf: yes\n"));
    EXPECT_EQ(e.line, 8);
    EXPECT_THAT(e.message, HasSubstr("spec.process.bpf must be true or false, not \"yes\""));
    EXPECT_THAT(only_error(parse_spec("spec:\n  selector: {function: f}\n  process: {jit: true}\n")).message,
                HasSubstr("unknown key \"jit\" in spec.process"));
    EXPECT_THAT(only_error(parse_spec("spec:\n  selector: {function: f}\n  process: {ptrace: [true]}\n")).message,
                HasSubstr("spec.process.ptrace must be a string"));
}

TEST(PolicyParser, UnknownTopLevelKeyIsAnError) {
    auto e = only_error(parse_policy(std::string(kHeader) + "spec: {selector: {function: f}}\nextra: 1\n", "t.yaml"));
    EXPECT_EQ(e.line, 6);
    EXPECT_THAT(e.message, HasSubstr("unknown key \"extra\""));
}

TEST(PolicyParser, WrongTypesAreErrors) {
    EXPECT_THAT(only_error(parse_spec("spec:\n  selector: {function: f}\n  syscalls: {allow: read}\n")).message,
                HasSubstr("must be a list"));
    EXPECT_THAT(only_error(parse_spec("spec:\n  selector: {function: f}\n  syscalls: {allow: [[read]]}\n")).message,
                HasSubstr("a syscall name must be a string"));
    EXPECT_THAT(only_error(parse_spec("spec:\n  selector: [f]\n")).message,
                HasSubstr("spec.selector must be a mapping"));
    EXPECT_THAT(only_error(parse_spec("spec: 3\n")).message, HasSubstr("spec must be a mapping"));
}

TEST(PolicyParser, BadEnumValuesAreErrors) {
    EXPECT_THAT(only_error(parse_spec("spec:\n  selector: {function: f}\n  mode: block\n")).message,
                HasSubstr("spec.mode must be \"audit\" or \"enforce\""));
    EXPECT_THAT(only_error(parse_spec("spec:\n  selector: {function: f}\n  syscalls: {allow: [read], onViolation: block}\n"))
                    .message,
                HasSubstr("onViolation must be \"report\", \"deny\" or \"kill\""));
    auto deny = parse_spec("spec:\n  selector: {function: f}\n  syscalls: {allow: [read], onViolation: deny}\n");
    ASSERT_TRUE(deny.ok());
    EXPECT_EQ(deny.policy->syscalls.on_violation, ViolationAction::Deny);
}

TEST(PolicyParser, MissingRequiredFieldsAreErrors) {
    EXPECT_THAT(only_error(parse_spec("spec:\n  mode: audit\n")).message, HasSubstr("needs a \"selector\""));
    EXPECT_THAT(only_error(parse_spec("spec:\n  selector: {function: \"\"}\n")).message, HasSubstr("must not be empty"));
    auto r = parse_policy("kind: FunctionPolicy\nmetadata: {name: x}\nspec: {selector: {function: f}}\n", "t.yaml");
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_THAT(r.errors[0].message, HasSubstr("missing \"apiVersion\""));
}

TEST(PolicyParser, WrongApiVersionOrKindIsAnError) {
    auto r = parse_policy("apiVersion: v2\nkind: Other\nmetadata: {name: x}\nspec: {selector: {function: f}}\n", "t.yaml");
    ASSERT_EQ(r.errors.size(), 2u);
    EXPECT_EQ(r.errors[0].line, 1);
    EXPECT_EQ(r.errors[1].line, 2);
}

TEST(PolicyParser, ReportsEveryErrorOfAFileAtOnce) {
    auto r = parse_spec("spec:\n  selector: {function: f}\n  mode: x\n  syscalls: {allow: [bogus1, read, bogus2]}\n");
    EXPECT_EQ(r.errors.size(), 3u);
}

TEST(PolicyParser, MalformedYamlGivesPosition) {
    auto r = parse_policy("apiVersion: fnwarden.io/v1\nkind: [unclosed\n", "t.yaml");
    ASSERT_FALSE(r.ok());
    EXPECT_GT(r.errors[0].line, 0);
    EXPECT_THAT(r.errors[0].message, HasSubstr("invalid YAML"));
}

TEST(PolicyParser, EmptyAndScalarDocumentsAreErrors) {
    EXPECT_FALSE(parse_policy("", "t.yaml").ok());
    EXPECT_FALSE(parse_policy("just a string", "t.yaml").ok());
    EXPECT_FALSE(parse_policy("- a\n- b\n", "t.yaml").ok());
}

TEST(PolicyParser, HostileInputIsAnErrorNotACrash) {
    // yaml-cpp recurses per nesting level: deep nesting must hit its depth
    // guard, not the stack.
    EXPECT_FALSE(parse_policy(std::string(100000, '[') + std::string(100000, ']'), "t.yaml").ok());
    EXPECT_FALSE(parse_policy(std::string(100000, '{'), "t.yaml").ok());
    std::string many_dashes;
    for (int i = 0; i < 50000; ++i) many_dashes += "- ";
    EXPECT_FALSE(parse_policy(many_dashes + "x", "t.yaml").ok());
    // A huge syscall list of unknown names: errors, bounded by the input.
    std::string spec = "spec:\n  selector: {function: f}\n  syscalls:\n    allow:\n";
    for (int i = 0; i < 5000; ++i) spec += "      - nosuchcall" + std::to_string(i) + "\n";
    EXPECT_EQ(parse_spec(spec).errors.size(), 5000u);
    EXPECT_FALSE(parse_policy(std::string("\0\xff\xfe", 3), "t.yaml").ok());
}

TEST(PolicyParser, OversizedFileIsRefusedBeforeParsing) {
    test::TempDir dir;
    const auto path = dir.path() / "oversized-policy.yaml";
    {
        std::ofstream out(path);
        out << std::string(kMaxPolicyFileBytes + 10, '#');
    }
    auto r = parse_policy_file(path);
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_THAT(r.errors[0].message, HasSubstr("larger than"));
}

TEST(PolicyParser, FileErrorsNameTheFile) {
    auto r = parse_policy_file(FNW_TEST_FIXTURES "/policies/bad-unknown-syscall.yaml");
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_THAT(r.errors[0].to_string(), HasSubstr("bad-unknown-syscall.yaml:11:9: unknown syscall \"opne\""));
    auto missing = parse_policy_file("/nonexistent/policy.yaml");
    ASSERT_EQ(missing.errors.size(), 1u);
    EXPECT_THAT(missing.errors[0].to_string(), HasSubstr("/nonexistent/policy.yaml: cannot read file"));
}

TEST(PolicyParser, GoodFixtureAndBundledExamplesParse) {
    auto r = parse_policy_file(FNW_TEST_FIXTURES "/policies/good-minimal.yaml");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.policy->function, "hello");
    auto demo = parse_policy_file(FNW_TEST_FIXTURES "/../../rules/examples/demo.yaml");
    ASSERT_TRUE(demo.ok()) << demo.errors.front().to_string();
    // The demo exists to show a violation: it must not allow mkdir.
    EXPECT_FALSE(demo.policy->syscalls.allow.test(SYS_mkdir));
    EXPECT_FALSE(demo.policy->syscalls.allow.test(SYS_mkdirat));
}

TEST(PolicyParser, SelectorByFunctionKeepsFunctionAndSelectorInStep) {
    auto r = parse_spec("spec:\n  selector: {function: thumbnailer}\n");
    ASSERT_TRUE(r.ok()) << r.errors.front().to_string();
    EXPECT_EQ(r.policy->function, "thumbnailer");
    EXPECT_EQ(r.policy->selector.function, "thumbnailer");
    EXPECT_EQ(r.policy->selector.cgroup_path, "");
    EXPECT_FALSE(r.policy->selector.pod.has_value());
}

TEST(PolicyParser, SelectorByCgroupPathAloneIsKnownByTheMetadataName) {
    auto r = parse_spec(
        "spec:\n"
        "  selector:\n"
        "    cgroupPath: 'faas/([a-z0-9-]+)-[0-9a-f]+'\n");
    ASSERT_TRUE(r.ok()) << r.errors.front().to_string();
    EXPECT_EQ(r.policy->function, "p");  // metadata.name
    EXPECT_EQ(r.policy->selector.function, "");
    EXPECT_EQ(r.policy->selector.cgroup_path, "faas/([a-z0-9-]+)-[0-9a-f]+");
}

TEST(PolicyParser, SelectorByPod) {
    auto r = parse_spec(
        "spec:\n"
        "  selector:\n"
        "    pod:\n"
        "      namespace: shop\n"
        "      labels:\n"
        "        app.kubernetes.io/name: checkout\n"
        "        tier: \"1\"\n"
        "        canary: \"\"\n");
    ASSERT_TRUE(r.ok()) << r.errors.front().to_string();
    EXPECT_EQ(r.policy->function, "p");
    ASSERT_TRUE(r.policy->selector.pod.has_value());
    const PodSelector& pod = *r.policy->selector.pod;
    EXPECT_EQ(pod.namespace_, "shop");
    EXPECT_EQ(pod.labels, (std::map<std::string, std::string>{
                              {"app.kubernetes.io/name", "checkout"}, {"tier", "1"}, {"canary", ""}}));
    // A namespace alone, or labels alone, select too.
    EXPECT_TRUE(parse_spec("spec:\n  selector: {pod: {namespace: shop}}\n").ok());
    EXPECT_TRUE(parse_spec("spec:\n  selector: {pod: {labels: {app: web}}}\n").ok());
}

TEST(PolicyParser, SelectorWithAllThree) {
    auto r = parse_spec(
        "spec:\n"
        "  selector:\n"
        "    function: checkout\n"
        "    cgroupPath: 'kubepods\\.slice/.*-pod[0-9a-f_]{36}\\.slice/cri-containerd-[0-9a-f]{64}\\.scope'\n"
        "    pod: {namespace: shop, labels: {app: checkout}}\n");
    ASSERT_TRUE(r.ok()) << r.errors.front().to_string();
    EXPECT_EQ(r.policy->function, "checkout");
    EXPECT_EQ(r.policy->selector.function, "checkout");
    EXPECT_EQ(r.policy->selector.cgroup_path,
              R"(kubepods\.slice/.*-pod[0-9a-f_]{36}\.slice/cri-containerd-[0-9a-f]{64}\.scope)");
    EXPECT_EQ(r.policy->selector.pod, (PodSelector{"shop", {{"app", "checkout"}}}));
}

TEST(PolicyParser, BadCgroupPathRegexPointsAtItWithRe2sReason) {
    auto e = only_error(parse_spec(
        "spec:\n"
        "  selector:\n"
        "    cgroupPath: \"faas/([a-z]+\"\n"));
    EXPECT_EQ(e.to_string().rfind("t.yaml:7:17: spec.selector.cgroupPath is not a valid RE2 regular expression: ", 0),
              0u)
        << e.to_string();
    EXPECT_THAT(e.message, HasSubstr("missing )"));
}

TEST(PolicyParser, TwoCaptureGroupsAreAnError) {
    auto e = only_error(parse_spec(
        "spec:\n"
        "  selector:\n"
        "    function: f\n"
        "    cgroupPath: 'faas/(\\w+)-(\\d+)'\n"));
    EXPECT_EQ(e.line, 8);
    EXPECT_EQ(e.column, 17);
    EXPECT_THAT(e.message, HasSubstr("spec.selector.cgroupPath has 2 capture groups; at most one is allowed"));
    EXPECT_THAT(e.message, HasSubstr("(?:...)"));
}

TEST(PolicyParser, CgroupPathIsRelative) {
    auto e = only_error(parse_spec("spec:\n  selector: {cgroupPath: /faas/.*}\n"));
    EXPECT_EQ(e.line, 6);
    EXPECT_EQ(e.column, 26);
    EXPECT_THAT(e.message, HasSubstr("must not start with \"/\""));
}

TEST(PolicyParser, BadLabelKeyPointsAtTheKey) {
    auto e = only_error(parse_spec(
        "spec:\n"
        "  selector:\n"
        "    pod:\n"
        "      namespace: shop\n"
        "      labels:\n"
        "        app: web\n"
        "        Example.com/name: x\n"));
    EXPECT_EQ(e.to_string().rfind("t.yaml:11:9: spec.selector.pod.labels: label key \"Example.com/name\": the prefix", 0),
              0u)
        << e.to_string();
}

TEST(PolicyParser, BadLabelValueAndNamespaceAreErrors) {
    auto value = only_error(parse_spec("spec:\n  selector: {pod: {labels: {app: -web}}}\n"));
    EXPECT_EQ(value.column, 34);
    EXPECT_THAT(value.message, HasSubstr("label value \"-web\""));
    auto too_long = only_error(parse_spec("spec:\n  selector: {pod: {labels: {app: " + std::string(64, 'v') + "}}}\n"));
    EXPECT_THAT(too_long.message, HasSubstr("1-63 characters"));
    auto ns = only_error(parse_spec("spec:\n  selector: {pod: {namespace: Shop}}\n"));
    EXPECT_EQ(ns.line, 6);
    EXPECT_EQ(ns.column, 31);
    EXPECT_THAT(ns.message, HasSubstr("spec.selector.pod.namespace \"Shop\" must be a DNS label"));
    EXPECT_THAT(only_error(parse_spec("spec:\n  selector: {pod: {labels: [app]}}\n")).message,
                HasSubstr("labels must be a mapping"));
}

TEST(PolicyParser, UnknownSelectorKeySuggestsTheRightOne) {
    auto e = only_error(parse_spec(
        "spec:\n"
        "  selector:\n"
        "    cgroup_path: 'faas/.*'\n"));
    EXPECT_EQ(e.to_string(), "t.yaml:7:5: unknown key \"cgroup_path\" in spec.selector (did you mean \"cgroupPath\"?)");
    EXPECT_THAT(only_error(parse_spec("spec:\n  selector: {functoin: f}\n")).message,
                HasSubstr("(did you mean \"function\"?)"));
    EXPECT_THAT(only_error(parse_spec("spec:\n  selector: {pod: {namespaces: shop}}\n")).message,
                HasSubstr("unknown key \"namespaces\" in spec.selector.pod (did you mean \"namespace\"?)"));
    // Nothing close: the list of what is allowed.
    EXPECT_THAT(only_error(parse_spec("spec:\n  selector: {function: f, image: x}\n")).message,
                HasSubstr("(expected one of: function cgroupPath pod)"));
}

TEST(PolicyParser, ASelectorNeedsSomethingToSelectBy) {
    EXPECT_THAT(only_error(parse_spec("spec:\n  selector: {}\n")).message,
                HasSubstr("spec.selector needs \"function\", \"cgroupPath\" or \"pod\""));
    EXPECT_THAT(only_error(parse_spec("spec:\n  selector: {pod: {}}\n")).message, HasSubstr("every pod"));
    EXPECT_THAT(only_error(parse_spec("spec:\n  selector: {cgroupPath: ''}\n")).message, HasSubstr("must not be empty"));
    // No function and no name: nothing would name the function.
    auto nameless = parse_policy(
        "apiVersion: fnwarden.io/v1\nkind: FunctionPolicy\nmetadata: {name: ''}\n"
        "spec: {selector: {cgroupPath: 'faas/.*'}}\n",
        "t.yaml");
    ASSERT_EQ(nameless.errors.size(), 1u);
    EXPECT_THAT(nameless.errors[0].message, HasSubstr("metadata.name names the function"));
}

TEST(PolicyParser, SelectorFixtureParses) {
    auto r = parse_policy_file(FNW_TEST_FIXTURES "/policies/selectors.yaml");
    ASSERT_TRUE(r.ok()) << r.errors.front().to_string();
    EXPECT_FALSE(r.policy->selector.cgroup_path.empty());
    EXPECT_TRUE(r.policy->selector.pod.has_value());
}

TEST(PolicyParser, ExecAllowPinsAProgramToItsSha256) {
    const std::string digest(64, 'a');
    auto r = parse_spec("spec:\n  selector: {function: f}\n  exec:\n    allow:\n      - /usr/bin/*\n"
                        "      - {path: /usr/bin/node, sha256: " + std::string(64, 'A') + "}\n");
    ASSERT_TRUE(r.policy) << (r.errors.empty() ? "" : r.errors[0].to_string());
    EXPECT_EQ(r.policy->exec.allow, (std::vector<std::string>{"/usr/bin/*", "/usr/bin/node"}));
    ASSERT_EQ(r.policy->exec.sha256.size(), 1u);
    EXPECT_EQ(r.policy->exec.sha256.at("/usr/bin/node"), digest) << "stored lowercase, as sha256sum prints it";

    auto short_hash = only_error(parse_spec("spec:\n  selector: {function: f}\n  exec:\n    allow:\n"
                                            "      - {path: /usr/bin/node, sha256: abc}\n"));
    EXPECT_EQ(short_hash.line, 9);
    EXPECT_THAT(short_hash.message, HasSubstr("64 hex digits"));
    EXPECT_THAT(only_error(parse_spec("spec:\n  selector: {function: f}\n  exec:\n    allow:\n"
                                      "      - {path: /usr/bin/*, sha256: " + digest + "}\n")).message,
                HasSubstr("exact path, not a glob"));
    EXPECT_THAT(only_error(parse_spec("spec:\n  selector: {function: f}\n  exec:\n    allow:\n"
                                      "      - {path: /usr/bin/node}\n")).message,
                HasSubstr("needs both"));
    auto typo = parse_spec("spec:\n  selector: {function: f}\n  exec:\n    allow:\n"
                           "      - {path: /usr/bin/node, sha: " + digest + "}\n");
    ASSERT_FALSE(typo.errors.empty());
    EXPECT_THAT(typo.errors[0].message, HasSubstr("unknown key \"sha\""));
}

TEST(PolicyParser, AuditModeNeverKills) {
    auto r = parse_spec("spec:\n  selector: {function: f}\n  syscalls: {allow: [read], onViolation: kill}\n");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(effective_syscall_action(*r.policy, Mode::Audit), ViolationAction::Report);
    EXPECT_EQ(effective_syscall_action(*r.policy, Mode::Enforce), ViolationAction::Kill);
}

// The daemon's --mode is a ceiling over every policy it loads: only an
// enforcing daemon with an enforcing policy acts.
TEST(PolicyParser, DaemonModeIsACeilingOverThePolicyMode) {
    EXPECT_EQ(effective_mode(Mode::Audit, Mode::Audit), Mode::Audit);
    EXPECT_EQ(effective_mode(Mode::Audit, Mode::Enforce), Mode::Audit);
    EXPECT_EQ(effective_mode(Mode::Enforce, Mode::Audit), Mode::Audit);
    EXPECT_EQ(effective_mode(Mode::Enforce, Mode::Enforce), Mode::Enforce);
}

TEST(PolicyParser, AnAuditingDaemonKillsNothingWhateverThePolicySays) {
    auto r = parse_spec("spec:\n  selector: {function: f}\n  mode: enforce\n"
                        "  syscalls: {allow: [read], onViolation: kill}\n"
                        "  network: {egress: [{cidr: 10.0.0.0/8}], onViolation: kill}\n");
    ASSERT_TRUE(r.ok());
    const Mode under_audit_daemon = effective_mode(Mode::Audit, r.policy->mode);
    EXPECT_EQ(effective_syscall_action(*r.policy, under_audit_daemon), ViolationAction::Report);
    EXPECT_EQ(effective_network_action(*r.policy, under_audit_daemon), ViolationAction::Report);
    const Mode under_enforce_daemon = effective_mode(Mode::Enforce, r.policy->mode);
    EXPECT_EQ(effective_syscall_action(*r.policy, under_enforce_daemon), ViolationAction::Kill);
    EXPECT_EQ(effective_network_action(*r.policy, under_enforce_daemon), ViolationAction::Kill);
}

}  // namespace
}  // namespace fnw
