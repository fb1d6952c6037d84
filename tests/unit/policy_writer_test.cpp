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

}  // namespace
}  // namespace fnw
