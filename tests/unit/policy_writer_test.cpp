#include "core/policy_writer.hpp"

#include <sys/syscall.h>

#include <gtest/gtest.h>

#include "core/policy_parser.hpp"

namespace fnw {
namespace {

TEST(PolicyWriter, RoundTripsThroughTheParser) {
    FunctionPolicy p;
    p.name = "learned: \"odd\" name";  // must be quoted, not break the YAML
    p.function = "fn";
    p.mode = Mode::Enforce;
    p.syscalls.on_violation = ViolationAction::Deny;
    for (int nr : {SYS_read, SYS_write, SYS_openat, SYS_exit_group}) p.syscalls.allow.set(static_cast<size_t>(nr));

    const std::string yaml = render_policy_yaml(p, "line one\nline two");
    EXPECT_EQ(yaml.rfind("# line one\n# line two\n", 0), 0u) << yaml;
    auto back = parse_policy(yaml, "rendered.yaml");
    ASSERT_TRUE(back.ok()) << back.errors.front().to_string() << "\n" << yaml;
    EXPECT_EQ(back.policy->name, p.name);
    EXPECT_EQ(back.policy->function, p.function);
    EXPECT_EQ(back.policy->mode, Mode::Enforce);
    EXPECT_EQ(back.policy->syscalls.on_violation, ViolationAction::Deny);
    EXPECT_EQ(back.policy->syscalls.allow, p.syscalls.allow);
}

TEST(PolicyWriter, UnrestrictedSyscallsHaveNoSection) {
    FunctionPolicy p;
    p.name = "n";
    p.function = "f";
    p.syscalls.allow.set();
    const std::string yaml = render_policy_yaml(p);
    EXPECT_EQ(yaml.find("syscalls"), std::string::npos);
    auto back = parse_policy(yaml, "rendered.yaml");
    ASSERT_TRUE(back.ok());
    EXPECT_TRUE(back.policy->syscalls.allow.all());
}

TEST(PolicyWriter, SelectorsRoundTrip) {
    FunctionPolicy p;
    p.name = "checkout";
    p.selector.function = "checkout";
    p.function = p.selector.function;
    // Backslashes, braces, quotes and a leading '(' must come back verbatim.
    p.selector.cgroup_path = R"((?:kubepods\.slice/.*-pod[0-9a-f_]{36}\.slice/)cri-containerd-([0-9a-f]{64})\.scope|it's)";
    p.selector.pod = PodSelector{"shop", {{"app.kubernetes.io/name", "checkout"}, {"canary", "true"}, {"tier", "1"},
                                          {"empty", ""}}};
    p.syscalls.allow.set();

    const std::string yaml = render_policy_yaml(p);
    auto back = parse_policy(yaml, "rendered.yaml");
    ASSERT_TRUE(back.ok()) << back.errors.front().to_string() << "\n" << yaml;
    EXPECT_EQ(back.policy->selector, p.selector) << yaml;
    EXPECT_EQ(back.policy->function, "checkout");
}

TEST(PolicyWriter, SelectorWithoutFunctionStaysWithoutOne) {
    FunctionPolicy p;
    p.name = "faas-functions";
    p.function = p.name;  // as the parser sets it
    p.selector.cgroup_path = "faas/([a-z0-9-]+)-[0-9a-f]+";
    p.syscalls.allow.set();
    const std::string yaml = render_policy_yaml(p);
    EXPECT_EQ(yaml.find("function:"), std::string::npos) << yaml;
    auto back = parse_policy(yaml, "rendered.yaml");
    ASSERT_TRUE(back.ok()) << back.errors.front().to_string() << "\n" << yaml;
    EXPECT_EQ(back.policy->selector, p.selector);
    EXPECT_EQ(back.policy->function, "faas-functions");

    // A namespace-only pod selector.
    FunctionPolicy q;
    q.name = "batch";
    q.function = q.name;
    q.selector.pod = PodSelector{"batch", {}};
    q.syscalls.allow.set();
    auto q_back = parse_policy(render_policy_yaml(q), "rendered.yaml");
    ASSERT_TRUE(q_back.ok()) << q_back.errors.front().to_string();
    EXPECT_EQ(q_back.policy->selector, q.selector);
}

TEST(PolicyWriter, APolicyBuiltWithOnlyAFunctionGetsAFunctionSelector) {
    // What `fnwarden learn` builds: FunctionPolicy::function, no Selector.
    FunctionPolicy p;
    p.name = "learned";
    p.function = "hello";
    p.syscalls.allow.set();
    auto back = parse_policy(render_policy_yaml(p), "rendered.yaml");
    ASSERT_TRUE(back.ok()) << back.errors.front().to_string();
    EXPECT_EQ(back.policy->function, "hello");
    EXPECT_EQ(back.policy->selector.function, "hello");
}

}  // namespace
}  // namespace fnw
