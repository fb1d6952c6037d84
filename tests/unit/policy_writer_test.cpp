// SPDX-License-Identifier: Apache-2.0
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

// `fnwarden learn --merge` writes back whatever policy it started from:
// no section may be lost or changed on the way.
TEST(PolicyWriter, EverySectionRoundTrips) {
    const std::string source = R"(apiVersion: fnwarden.io/v1
kind: FunctionPolicy
metadata: {name: full}
spec:
  selector: {function: full}
  mode: enforce
  syscalls: {allow: [read, write, exit_group], onViolation: kill}
  network:
    egress:
      - {cidr: 10.0.0.0/8, ports: [443, 8443], protocol: tcp}
      - {cidr: "::1/128"}
      - {cidr: 192.168.1.7, protocol: udp}
    listen: [{port: 8080, protocol: tcp}, {port: 9090}]
    unix: [/run/app.sock, "@abstract"]
    onViolation: deny
  files:
    read: ["/usr/**", /etc/ld.so.cache]
    write: ["/tmp/*.log"]
    delete: ["/tmp/**"]
    onViolation: kill
  exec:
    allow:
      - /usr/bin/dash
      - {path: /usr/bin/node, sha256: 3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855a}
    onViolation: deny
  process: {execMemory: true, onViolation: kill}
)";
    auto first = parse_policy(source, "full.yaml");
    ASSERT_TRUE(first.ok()) << first.errors.front().to_string();
    const std::string yaml = render_policy_yaml(*first.policy);
    auto back = parse_policy(yaml, "rendered.yaml");
    ASSERT_TRUE(back.ok()) << back.errors.front().to_string() << "\n" << yaml;
    const FunctionPolicy &a = *first.policy, &b = *back.policy;

    EXPECT_EQ(b.syscalls.allow, a.syscalls.allow);
    EXPECT_EQ(b.syscalls.on_violation, ViolationAction::Kill);

    ASSERT_TRUE(b.network.restricted);
    ASSERT_EQ(b.network.egress.size(), 3u) << yaml;
    for (size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(format_network(b.network.egress[i].network), format_network(a.network.egress[i].network));
        EXPECT_EQ(b.network.egress[i].ports, a.network.egress[i].ports);
        EXPECT_EQ(b.network.egress[i].protocol, a.network.egress[i].protocol);
    }
    ASSERT_EQ(b.network.listen.size(), 2u);
    EXPECT_EQ(b.network.listen[0].port, 8080);
    EXPECT_EQ(b.network.listen[0].protocol, a.network.listen[0].protocol);
    EXPECT_EQ(b.network.listen[1].protocol, 0);
    EXPECT_EQ(b.network.unix_sockets, a.network.unix_sockets);
    EXPECT_EQ(b.network.on_violation, ViolationAction::Deny);

    ASSERT_TRUE(b.files.restricted);
    EXPECT_EQ(b.files.read, a.files.read);
    EXPECT_EQ(b.files.write, a.files.write);
    EXPECT_TRUE(b.files.create.empty());
    EXPECT_EQ(b.files.remove, a.files.remove);
    EXPECT_EQ(b.files.on_violation, ViolationAction::Kill);

    ASSERT_TRUE(b.exec.restricted);
    EXPECT_EQ(b.exec.allow, a.exec.allow);
    EXPECT_EQ(b.exec.sha256, a.exec.sha256);
    EXPECT_EQ(b.exec.on_violation, ViolationAction::Deny);

    ASSERT_TRUE(b.process.restricted);
    EXPECT_TRUE(b.process.exec_memory);
    EXPECT_FALSE(b.process.ptrace);
    EXPECT_FALSE(b.process.bpf);
    EXPECT_EQ(b.process.on_violation, ViolationAction::Kill);

    // Absent sections stay absent.
    FunctionPolicy bare;
    bare.name = bare.function = "bare";
    bare.syscalls.allow.set();
    auto bare_back = parse_policy(render_policy_yaml(bare), "bare.yaml");
    ASSERT_TRUE(bare_back.ok());
    EXPECT_FALSE(bare_back.policy->network.restricted || bare_back.policy->files.restricted ||
                 bare_back.policy->exec.restricted || bare_back.policy->process.restricted);
}

// Found by the parser fuzzer's round-trip check: single quotes cannot hold
// a control character, and the pattern came back changed.
TEST(PolicyWriter, ACgroupPathWithAControlCharacterRoundTrips) {
    FunctionPolicy p;
    p.name = "ctl";
    p.selector.cgroup_path = std::string("kube\\.slice/a") + '\0' + "b\x01(c)";
    p.function = "ctl";
    p.syscalls.allow.set();
    const std::string yaml = render_policy_yaml(p);
    auto back = parse_policy(yaml, "rendered.yaml");
    ASSERT_TRUE(back.ok()) << yaml;
    EXPECT_EQ(back.policy->selector.cgroup_path, p.selector.cgroup_path) << yaml;
}

// Multi-byte UTF-8 in a pattern, a name and a path comes back as it went
// out, in either quoting.
TEST(PolicyWriter, Utf8TextRoundTrips) {
    FunctionPolicy p;
    p.name = "caf\xc3\xa9";
    p.function = "caf\xc3\xa9";
    p.selector.cgroup_path = "pods/\xe2\x82\xac(\\d+)";
    p.syscalls.allow.set();
    p.files.restricted = true;
    p.files.read = {"/srv/\xf0\x9f\x90\x8d/**"};
    const std::string yaml = render_policy_yaml(p);
    auto back = parse_policy(yaml, "rendered.yaml");
    ASSERT_TRUE(back.ok()) << yaml;
    EXPECT_EQ(back.policy->selector.cgroup_path, p.selector.cgroup_path) << yaml;
    EXPECT_EQ(back.policy->function, p.function);
    EXPECT_EQ(back.policy->files.read, p.files.read);
    EXPECT_EQ(render_policy_yaml(*back.policy), yaml);
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

// learn writes hundreds of paths: one a line (reviewable, diffable); a
// short list stays on one line.
TEST(PolicyWriter, LongPathListsAreOneEntryALine) {
    FunctionPolicy p;
    p.name = p.function = "fn";
    p.syscalls.allow.set();
    p.files.restricted = true;
    for (int i = 0; i < 5; ++i) p.files.read.push_back("/srv/f" + std::to_string(i));
    p.files.write = {"/tmp/w/**"};
    const std::string yaml = render_policy_yaml(p);
    EXPECT_NE(yaml.find("\n      - /srv/f0\n      - /srv/f1\n"), std::string::npos) << yaml;
    EXPECT_NE(yaml.find("write: [/tmp/w/**]"), std::string::npos) << yaml;
    auto back = parse_policy(yaml, "rendered.yaml");
    ASSERT_TRUE(back.ok()) << yaml;
    EXPECT_EQ(back.policy->files.read, p.files.read);
    EXPECT_EQ(back.policy->files.write, p.files.write);
}

}  // namespace
}  // namespace fnw
