// SPDX-License-Identifier: Apache-2.0
// The report logic of `fnwarden policy report` (core/grant_usage.hpp):
// which grants the kernel's bits say were used, which were not, which it
// cannot count, and the tightened policy. No kernel: the bits are set here
// the way the BPF programs set them (bpf/rule_use.bpf.h).
#include "core/grant_usage.hpp"

#include <sys/syscall.h>

#include <set>
#include <sstream>
#include <utility>

#include <gtest/gtest.h>

#include "cli/grant_report_view.hpp"
#include "core/kernel_policy.hpp"
#include "core/policy_parser.hpp"
#include "core/policy_writer.hpp"
#include "output/grant_report_json.hpp"

namespace fnw {
namespace {

constexpr const char* kPolicy = R"(apiVersion: fnwarden.io/v1
kind: FunctionPolicy
metadata: {name: wide}
spec:
  selector: {function: wide-fn}
  syscalls: {allow: [read, write, openat, sethostname]}
  network:
    egress:
      - {cidr: 10.0.0.0/8, ports: [80, 443], protocol: tcp}
      - {cidr: 127.0.0.1}
    listen: [{port: 8080, protocol: tcp}]
    unix: [/run/app.sock]
  files:
    read: [/etc/hosts, "/etc/*.conf"]
    write: [/tmp/out]
  exec:
    allow: [/bin/true, /bin/false]
  process: {ptrace: true, execMemory: true}
)";

FunctionPolicy wide_policy() {
    auto parsed = parse_policy(kPolicy, "wide.yaml");
    EXPECT_TRUE(parsed.ok()) << (parsed.errors.empty() ? "" : parsed.errors[0].to_string());
    return *parsed.policy;
}

void set_bit(__u64* words, uint32_t bit) { words[bit / 64] |= 1ull << (bit % 64); }

// What the kernel would have counted for a function that read, wrote, read
// /etc/hosts, ran /bin/true, connected to 10.x:443 and mapped JIT memory.
GrantUseBits counted_for_wide_policy() {
    GrantUseBits c;
    // Slots as compile_file_rules numbers them: patterns in section order,
    // the glob included (it keeps its number, the kernel never marks it).
    c.file_slots = {{"/etc/hosts", 1}, {"/tmp/out", 3}, {"/bin/true", 4}, {"/bin/false", 5}};
    set_bit(c.bits.syscalls, SYS_read);
    set_bit(c.bits.syscalls, SYS_write);
    set_bit(c.bits.grants, 8 * 1 + 0);  // /etc/hosts, FNW_FILE_READ
    set_bit(c.bits.grants, 8 * 4 + 4);  // /bin/true, FNW_FILE_EXEC
    set_bit(c.bits.grants, 8 * 3 + 0);  // /tmp/out's slot, but READ: it grants only write
    set_bit(c.bits.grants, FNW_USE_NET_BASE + 1);  // egress 10.0.0.0/8 port 443 (key 1)
    set_bit(c.bits.grants, FNW_USE_PROCESS_EXEC_MEMORY);
    return c;
}

std::set<std::pair<std::string, std::string>> grants_with(const GrantReport& r, GrantUse use) {
    std::set<std::pair<std::string, std::string>> out;
    for (const Grant& g : r.grants)
        if (g.use == use) out.emplace(g.section, g.item);
    return out;
}

TEST(GrantUsage, ListsExactlyTheGrantsTheKernelNeverMarked) {
    const GrantReport r = report_grant_use(wide_policy(), counted_for_wide_policy(), 42.5);
    EXPECT_EQ(r.function, "wide-fn");
    EXPECT_EQ(r.observed_seconds, 42.5);
    EXPECT_FALSE(r.syscalls_unrestricted);
    const std::set<std::pair<std::string, std::string>> unused = {
        {"syscalls", "openat"},
        {"syscalls", "sethostname"},
        {"files.write", "/tmp/out"},
        {"exec", "/bin/false"},
        {"network.egress", "10.0.0.0/8 tcp 80"},
        {"network.egress", "127.0.0.1/32 any any"},
        {"network.listen", "tcp 8080"},
        {"process", "ptrace"},
    };
    EXPECT_EQ(grants_with(r, GrantUse::Unused), unused);
    const std::set<std::pair<std::string, std::string>> used = {
        {"syscalls", "read"},     {"syscalls", "write"}, {"files.read", "/etc/hosts"}, {"exec", "/bin/true"},
        {"network.egress", "10.0.0.0/8 tcp 443"}, {"process", "execMemory"},
    };
    EXPECT_EQ(grants_with(r, GrantUse::Used), used);
    const std::set<std::pair<std::string, std::string>> not_counted = {{"files.read", "/etc/*.conf"},
                                                                       {"network.unix", "/run/app.sock"}};
    EXPECT_EQ(grants_with(r, GrantUse::NotCounted), not_counted);
    EXPECT_EQ(r.count(GrantUse::Unused), 8u);
}

TEST(GrantUsage, TightenedPolicyDropsOnlyUnusedGrantsAndParsesBack) {
    const FunctionPolicy policy = wide_policy();
    const GrantReport r = report_grant_use(policy, counted_for_wide_policy(), 1);
    const std::string yaml = render_policy_yaml(tighten_policy(policy, r));
    auto back = parse_policy(yaml, "tight.yaml");
    ASSERT_TRUE(back.ok()) << back.errors.front().to_string() << "\n" << yaml;
    const FunctionPolicy& t = *back.policy;
    SyscallBitmap expected_syscalls;
    expected_syscalls.set(SYS_read).set(SYS_write);
    EXPECT_EQ(t.syscalls.allow, expected_syscalls);
    EXPECT_EQ(t.files.read, (std::vector<std::string>{"/etc/hosts", "/etc/*.conf"}));  // the glob stays
    EXPECT_TRUE(t.files.restricted);
    EXPECT_TRUE(t.files.write.empty());  // still a files section: writes stay denied
    EXPECT_EQ(t.exec.allow, std::vector<std::string>{"/bin/true"});
    ASSERT_EQ(t.network.egress.size(), 1u);
    EXPECT_EQ(t.network.egress[0].ports, std::vector<uint16_t>{443});
    EXPECT_TRUE(t.network.listen.empty());
    EXPECT_EQ(t.network.unix_sockets, std::vector<std::string>{"/run/app.sock"});
    EXPECT_FALSE(t.process.ptrace);
    EXPECT_TRUE(t.process.exec_memory);
    // A report with nothing unused changes nothing.
    GrantReport all_used = r;
    for (Grant& g : all_used.grants)
        if (g.use == GrantUse::Unused) g.use = GrantUse::Used;
    EXPECT_EQ(render_policy_yaml(tighten_policy(policy, all_used)), render_policy_yaml(policy));
}

TEST(GrantUsage, RepeatedNetKeysShareTheBitTheMapKeeps) {
    NetworkRules net;
    net.restricted = true;
    auto lo = parse_ip_network("127.0.0.1");
    ASSERT_TRUE(lo.ok());
    net.egress = {EgressRule{*lo, {80}, 6}, EgressRule{*lo, {80, 81}, 6}};
    const auto bits = net_key_use_bits(compile_net_keys(3, net));
    ASSERT_EQ(bits.size(), 3u);
    EXPECT_EQ(bits[0], bits[1]);  // the same key twice: the later value wins in the map
    EXPECT_EQ(bits[1], FNW_USE_NET_BASE + 1u);
    EXPECT_EQ(bits[2], FNW_USE_NET_BASE + 2u);
}

TEST(GrantUsage, NoSyscallListUnderABaselineIsUnrestrictedNotHundredsOfGrants) {
    auto parsed = parse_policy(R"(apiVersion: fnwarden.io/v1
kind: FunctionPolicy
metadata: {name: open}
spec:
  selector: {function: open-fn}
)",
                               "open.yaml");
    ASSERT_TRUE(parsed.ok());
    FunctionPolicy loaded = *parsed.policy;
    Baseline baseline;
    baseline.deny.set(SYS_kexec_load);
    apply_baseline(loaded, baseline);
    GrantUseBits counted;
    const auto since = std::chrono::steady_clock::now();
    counted.since = since;
    const GrantReport r = report_loaded_grant_use(loaded, &baseline, counted, since + std::chrono::seconds(5));
    EXPECT_TRUE(r.syscalls_unrestricted);
    EXPECT_TRUE(r.grants.empty());
    EXPECT_DOUBLE_EQ(r.observed_seconds, 5.0);
    // ... and the suggestion does not turn "no list" into a list.
    auto back = parse_policy(render_policy_yaml(tighten_policy(loaded, r)), "s.yaml");
    ASSERT_TRUE(back.ok());
    EXPECT_TRUE(back.policy->syscalls.allow.all());
}

TEST(GrantUsage, JsonRoundTripsAndMarkdownListsTheUnused) {
    const FunctionPolicy policy = wide_policy();
    const GrantReportDocument doc =
        make_grant_report_document(policy, report_grant_use(policy, counted_for_wide_policy(), 3));
    const nlohmann::json j = grant_report_json(doc);
    EXPECT_EQ(j["counts"]["unused"], 8);
    EXPECT_EQ(j["counts"]["not_counted"], 2);
    auto back = grant_report_from_json(j);
    ASSERT_TRUE(back.ok()) << back.error();
    EXPECT_EQ(grants_with(back->report, GrantUse::Unused), grants_with(doc.report, GrantUse::Unused));
    EXPECT_EQ(back->suggested_policy, doc.suggested_policy);
    EXPECT_TRUE(parse_policy(back->suggested_policy, "s.yaml").ok());

    std::ostringstream md;
    cli::print_grant_report_markdown(*back, md);
    const std::string text = md.str();
    EXPECT_NE(text.find("| exec | `/bin/false` |"), std::string::npos) << text;
    EXPECT_EQ(text.find("| exec | `/bin/true` |"), std::string::npos) << text;  // used: not listed
    EXPECT_NE(text.find("8 of 16 grants unused"), std::string::npos) << text;
    EXPECT_NE(text.find("```yaml\n"), std::string::npos);

    nlohmann::json bad = j;
    bad["grants"][0]["use"] = "sometimes";
    EXPECT_FALSE(grant_report_from_json(bad).ok());
}

}  // namespace
}  // namespace fnw
