// SPDX-License-Identifier: Apache-2.0
#include <sys/syscall.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/policy_parser.hpp"

namespace fnw {
namespace {

using ::testing::HasSubstr;

Baseline small_baseline() {
    auto r = parse_baseline(
        "apiVersion: fnwarden.io/v1\nkind: Baseline\nmetadata: {name: b}\n"
        "spec:\n  syscalls:\n    deny: [bpf, ptrace]\n    denyUnlessAllowed: [io_uring_setup]\n",
        "b.yaml");
    EXPECT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].to_string());
    return r.baseline.value_or(Baseline{});
}

TEST(Baseline, ParsesDenyLists) {
    Baseline b = small_baseline();
    EXPECT_EQ(b.name, "b");
    EXPECT_TRUE(b.deny.test(SYS_bpf));
    EXPECT_TRUE(b.deny.test(SYS_ptrace));
    EXPECT_EQ(b.deny.count(), 2u);
    EXPECT_TRUE(b.deny_unless_allowed.test(SYS_io_uring_setup));
}

TEST(Baseline, BundledBaselineParsesAndCoversTheIssueList) {
    auto r = parse_baseline_file(FNW_TEST_FIXTURES "/../../rules/baseline.yaml");
    ASSERT_TRUE(r.ok()) << r.errors.front().to_string();
    for (int nr : {SYS_bpf, SYS_ptrace, SYS_perf_event_open, SYS_init_module, SYS_finit_module, SYS_kexec_load,
                   SYS_mount})
        EXPECT_TRUE(r.baseline->deny.test(static_cast<size_t>(nr))) << nr;
    EXPECT_TRUE(r.baseline->deny_unless_allowed.test(SYS_io_uring_setup));
    EXPECT_EQ(document_kind_of_file(FNW_TEST_FIXTURES "/../../rules/baseline.yaml"), "Baseline");
    EXPECT_EQ(document_kind_of_file(FNW_TEST_FIXTURES "/../../rules/examples/demo.yaml"), "FunctionPolicy");
}

TEST(Baseline, UnrestrictedPolicyBecomesEverythingButTheBaseline) {
    FunctionPolicy p;
    p.syscalls.allow.set();
    EXPECT_TRUE(apply_baseline(p, small_baseline()).empty());
    EXPECT_EQ(p.syscalls.allow.count(), static_cast<size_t>(FNW_MAX_SYSCALLS - 3));
    EXPECT_FALSE(p.syscalls.allow.test(SYS_bpf));
    EXPECT_FALSE(p.syscalls.allow.test(SYS_io_uring_setup));
    EXPECT_TRUE(p.syscalls.allow.test(SYS_read));
}

TEST(Baseline, DenyWinsOverTheAllowlistDenyUnlessAllowedDoesNot) {
    FunctionPolicy p;
    for (int nr : {SYS_read, SYS_ptrace, SYS_io_uring_setup}) p.syscalls.allow.set(static_cast<size_t>(nr));
    auto overridden = apply_baseline(p, small_baseline());
    EXPECT_EQ(overridden, (std::vector<std::string>{"ptrace"}));
    EXPECT_FALSE(p.syscalls.allow.test(SYS_ptrace));
    EXPECT_TRUE(p.syscalls.allow.test(SYS_io_uring_setup)) << "listed explicitly: allowed";
    EXPECT_TRUE(p.syscalls.allow.test(SYS_read));
}

TEST(Baseline, ErrorsHavePositions) {
    auto r = parse_baseline("apiVersion: fnwarden.io/v1\nkind: Baseline\nmetadata: {name: b}\n"
                            "spec:\n  syscalls:\n    deny: [bpff]\n",
                            "b.yaml");
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0].line, 6);
    EXPECT_THAT(r.errors[0].message, HasSubstr("did you mean \"bpf\""));
    EXPECT_FALSE(parse_baseline("apiVersion: fnwarden.io/v1\nkind: FunctionPolicy\nspec: {}\n", "b.yaml").ok());
    EXPECT_FALSE(parse_baseline("spec: {syscalls: {allow: [read]}}\n", "b.yaml").ok());
    EXPECT_FALSE(parse_baseline("[", "b.yaml").ok());
}

}  // namespace
}  // namespace fnw
