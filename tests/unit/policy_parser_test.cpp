#include "core/policy_parser.hpp"

#include <sys/syscall.h>

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

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
    auto path = std::filesystem::temp_directory_path() / "fnw-oversized-policy.yaml";
    {
        std::ofstream out(path);
        out << std::string(kMaxPolicyFileBytes + 10, '#');
    }
    auto r = parse_policy_file(path);
    std::filesystem::remove(path);
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

TEST(PolicyParser, AuditModeNeverKills) {
    auto r = parse_spec("spec:\n  selector: {function: f}\n  syscalls: {allow: [read], onViolation: kill}\n");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(effective_syscall_action(*r.policy, Mode::Audit), ViolationAction::Report);
    EXPECT_EQ(effective_syscall_action(*r.policy, Mode::Enforce), ViolationAction::Kill);
}

}  // namespace
}  // namespace fnw
