// SPDX-License-Identifier: Apache-2.0
// `policy validate`'s account of a policy: one line per right, and the
// warnings for policies that cannot work.
#include "core/policy_summary.hpp"

#include <algorithm>

#include <gtest/gtest.h>

#include "core/syscall_table.hpp"

namespace fnw {
namespace {

bool has(const std::vector<std::string>& lines, const std::string& text) {
    return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) { return l.find(text) != std::string::npos; });
}

TEST(PolicySummary, OneLinePerRight) {
    FunctionPolicy p;
    p.files.restricted = true;
    p.files.read = {"/var/task/**", "/usr/lib/**"};
    p.files.write = {"/tmp/**"};
    p.files.on_violation = ViolationAction::Kill;
    p.exec.restricted = true;
    p.exec.allow = {"/usr/bin/python3"};
    p.network.restricted = true;
    p.network.egress.push_back({*parse_ip_network("10.0.0.0/8"), {443}, 6});
    p.network.listen.push_back({8080, 6});
    p.process.restricted = true;
    p.process.exec_memory = true;
    p.syscalls.allow.reset();
    p.syscalls.allow.set(static_cast<size_t>(*SyscallTable::number("read")));
    const auto lines = summarize_policy(p);
    EXPECT_TRUE(has(lines, "files.read: /var/task/**, /usr/lib/** (onViolation kill)"));
    EXPECT_TRUE(has(lines, "files.write: /tmp/**"));
    EXPECT_TRUE(has(lines, "files.create: nothing"));
    EXPECT_TRUE(has(lines, "files.delete: nothing"));
    EXPECT_TRUE(has(lines, "exec: /usr/bin/python3 (onViolation report)"));
    EXPECT_TRUE(has(lines, "network.egress: 10.0.0.0/8 tcp port 443"));
    EXPECT_TRUE(has(lines, "network.listen: tcp 8080"));
    EXPECT_TRUE(has(lines, "network.unix: nothing"));
    EXPECT_TRUE(has(lines, "process: allows execMemory"));
    EXPECT_TRUE(has(lines, "syscalls: 1 allowed: read"));
    EXPECT_TRUE(summarize_policy(FunctionPolicy{}).size() == 5u) << "one 'unrestricted' line per section";
}

TEST(PolicySummary, ShowsTheImpliedInterpreter) {
    FunctionPolicy p;
    p.exec.restricted = true;
    p.exec.allow = {"/usr/bin/python3"};
    p.exec.interpreters = {{"/usr/bin/python3", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", ""}};
    EXPECT_TRUE(has(summarize_policy(p),
                    "implied by /usr/bin/python3: /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 (PT_INTERP)"));
}

TEST(PolicySummary, WarnsWhenFilesGrantNoRead) {
    FunctionPolicy p;
    p.files.restricted = true;
    p.files.write = {"/tmp/**"};
    EXPECT_TRUE(has(policy_warnings(p), "files grants no read"));
    p.files.read = {"/**"};
    EXPECT_TRUE(policy_warnings(p).empty());
}

TEST(PolicySummary, WarnsWhenTheInterpreterCannotBeRead) {
    FunctionPolicy p;
    p.files.restricted = true;
    p.files.read = {"/usr/bin/**"};
    p.exec.restricted = true;
    p.exec.allow = {"/usr/bin/python3"};
    p.exec.interpreters = {{"/usr/bin/python3", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", ""}};
    EXPECT_TRUE(has(policy_warnings(p), "files.read does not cover /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"));
    p.files.read.push_back("/lib/**");
    EXPECT_TRUE(policy_warnings(p).empty());
    p.files.read = {"/lib/**"};
    EXPECT_TRUE(has(policy_warnings(p), "files.read does not cover /usr/bin/python3"));
}

TEST(PolicySummary, WarnsWhenTheInterpreterIsUnknown) {
    FunctionPolicy p;
    p.exec.restricted = true;
    p.exec.allow = {"/opt/app/bin"};
    p.exec.interpreters = {{"/opt/app/bin", "", "No such file or directory"}};
    EXPECT_TRUE(has(policy_warnings(p), "the ELF interpreter of /opt/app/bin could not be determined"));
    EXPECT_TRUE(has(summarize_policy(p), "interpreter of /opt/app/bin could not be determined"));
    p.exec.allow.clear();
    p.exec.interpreters.clear();
    EXPECT_TRUE(has(policy_warnings(p), "exec.allow is empty"));
}

}  // namespace
}  // namespace fnw
