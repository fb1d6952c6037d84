// SPDX-License-Identifier: Apache-2.0
#include <arpa/inet.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fnwarden/kernel_abi.h>

#include "core/policy_parser.hpp"
#include "probes/probe_set.hpp"
#include "../helpers/compile_policy.hpp"

namespace fnw {
namespace {

using ::testing::HasSubstr;

PolicyParseResult parse_network(const std::string& network_yaml) {
    return parse_policy(
        "apiVersion: fnwarden.io/v1\nkind: FunctionPolicy\nmetadata: {name: p}\n"
        "spec:\n  selector: {function: f}\n  network:\n" +
            network_yaml,
        "t.yaml");
}

TEST(IpNetwork, ParsesV4AsMappedAndV6AsIs) {
    auto v4 = parse_ip_network("10.0.0.0/8");
    ASSERT_TRUE(v4);
    EXPECT_EQ(v4->prefix, 96u + 8u);
    EXPECT_EQ(v4->address[10], 0xff);
    EXPECT_EQ(v4->address[11], 0xff);
    EXPECT_EQ(v4->address[12], 10);
    EXPECT_EQ(format_ip(v4->address), "10.0.0.0");

    auto host = parse_ip_network("127.0.0.1");
    ASSERT_TRUE(host);
    EXPECT_EQ(host->prefix, 128u);

    auto v6 = parse_ip_network("2001:db8::/32");
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->prefix, 32u);
    EXPECT_EQ(format_ip(v6->address), "2001:db8::");
    EXPECT_EQ(format_network(*v4), "10.0.0.0/8");
    EXPECT_EQ(format_network(*v6), "2001:db8::/32");
    EXPECT_EQ(parse_ip_network("::/0")->prefix, 0u);
    EXPECT_EQ(parse_ip_network("0.0.0.0/0")->prefix, 96u);
}

TEST(IpNetwork, RejectsBadInput) {
    auto host_bits = parse_ip_network("10.0.0.1/8");
    ASSERT_FALSE(host_bits);
    EXPECT_THAT(host_bits.error(), HasSubstr("beyond the prefix"));
    EXPECT_FALSE(parse_ip_network("10.0.0.0/33"));
    EXPECT_FALSE(parse_ip_network("::/129"));
    EXPECT_FALSE(parse_ip_network("10.0.0.0/"));
    EXPECT_FALSE(parse_ip_network("10.0.0.0/-1"));
    EXPECT_FALSE(parse_ip_network("example.com"));
    EXPECT_FALSE(parse_ip_network(""));
    EXPECT_FALSE(parse_ip_network("1.2.3.4/99999999999999999999"));
}

TEST(NetworkPolicy, ParsesEgressListenAndAction) {
    auto r = parse_network(
        "    egress:\n"
        "      - {cidr: 10.0.0.0/8, ports: [443, 8443], protocol: tcp}\n"
        "      - {cidr: \"::1/128\"}\n"
        "    listen:\n"
        "      - {port: 8080}\n"
        "    onViolation: deny\n");
    ASSERT_TRUE(r.ok()) << r.errors.front().to_string();
    const auto& net = r.policy->network;
    EXPECT_TRUE(net.restricted);
    ASSERT_EQ(net.egress.size(), 2u);
    EXPECT_EQ(net.egress[0].ports, (std::vector<uint16_t>{443, 8443}));
    EXPECT_EQ(net.egress[0].protocol, 6);
    EXPECT_TRUE(net.egress[1].ports.empty());
    EXPECT_EQ(net.egress[1].protocol, 0);
    ASSERT_EQ(net.listen.size(), 1u);
    EXPECT_EQ(net.listen[0].port, 8080);
    EXPECT_EQ(net.on_violation, ViolationAction::Deny);
    EXPECT_TRUE(r.policy->syscalls.allow.all()) << "no syscalls section: unrestricted";
}

TEST(NetworkPolicy, EmptySectionDeniesEverythingAbsentSectionNothing) {
    auto empty = parse_network("    onViolation: report\n");
    ASSERT_TRUE(empty.ok());
    EXPECT_TRUE(empty.policy->network.restricted);
    EXPECT_TRUE(empty.policy->network.egress.empty());
    auto none = parse_policy("apiVersion: fnwarden.io/v1\nkind: FunctionPolicy\nmetadata: {name: p}\n"
                             "spec: {selector: {function: f}}\n",
                             "t.yaml");
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none.policy->network.restricted);
}

TEST(NetworkPolicy, ErrorsPointAtTheBadValue) {
    auto bad_cidr = parse_network("    egress:\n      - {cidr: 10.0.0.1/8}\n");
    ASSERT_EQ(bad_cidr.errors.size(), 1u);
    EXPECT_EQ(bad_cidr.errors[0].line, 8);
    EXPECT_THAT(bad_cidr.errors[0].message, HasSubstr("bad cidr \"10.0.0.1/8\""));
    EXPECT_THAT(parse_network("    egress:\n      - {cidr: 10.0.0.0/8, ports: [0]}\n").errors.at(0).message,
                HasSubstr("port number 1-65535"));
    EXPECT_THAT(parse_network("    egress:\n      - {cidr: 10.0.0.0/8, ports: [70000]}\n").errors.at(0).message,
                HasSubstr("port number 1-65535"));
    EXPECT_THAT(parse_network("    egress:\n      - {cidr: 10.0.0.0/8, protocol: icmp}\n").errors.at(0).message,
                HasSubstr("\"tcp\", \"udp\" or \"any\""));
    EXPECT_THAT(parse_network("    egress:\n      - {ports: [80]}\n").errors.at(0).message, HasSubstr("needs a \"cidr\""));
    EXPECT_THAT(parse_network("    listen:\n      - {port: http}\n").errors.at(0).message, HasSubstr("port number"));
    EXPECT_THAT(parse_network("    ingress: []\n").errors.at(0).message, HasSubstr("unknown key \"ingress\""));
    EXPECT_THAT(parse_network("    onViolation: block\n").errors.at(0).message, HasSubstr("\"report\", \"deny\" or \"kill\""));
}

TEST(NetworkPolicy, CompilesToOneKeyPerPortWithExactPartsFirst) {
    NetworkRules rules;
    rules.restricted = true;
    EgressRule web;
    web.network = *parse_ip_network("10.0.0.0/8");
    web.ports = {443, 80};
    web.protocol = 6;
    EgressRule any;
    any.network = *parse_ip_network("::/0");
    rules.egress = {web, any};
    rules.listen = {ListenRule{8080, 0}};
    auto keys = compile_net_keys(7, rules);
    ASSERT_EQ(keys.size(), 4u);
    EXPECT_EQ(keys[0].prefixlen, FNW_NET_KEY_FIXED_BITS + 104u);
    EXPECT_EQ(ntohl(keys[0].policy_id), 7u);
    EXPECT_EQ(keys[0].direction, FNW_NET_EGRESS);
    EXPECT_EQ(keys[0].protocol, 6);
    EXPECT_EQ(ntohs(keys[0].port), 443);
    EXPECT_EQ(ntohs(keys[1].port), 80);
    EXPECT_EQ(keys[2].prefixlen, FNW_NET_KEY_FIXED_BITS + 0u);
    EXPECT_EQ(keys[2].port, 0) << "no ports: the any-port key";
    EXPECT_EQ(keys[3].direction, FNW_NET_LISTEN);
    EXPECT_EQ(ntohs(keys[3].port), 8080);
    EXPECT_EQ(keys[3].prefixlen, FNW_NET_KEY_FIXED_BITS + 0u) << "listen rules match any local address";
}

TEST(NetworkPolicy, UnixSocketsAreExactPathsOrAbstractNames) {
    auto ok = parse_network("    unix: [/run/app.sock, \"@jvm-attach\"]\n");
    ASSERT_TRUE(ok.policy) << (ok.errors.empty() ? "" : ok.errors[0].to_string());
    EXPECT_EQ(ok.policy->network.unix_sockets, (std::vector<std::string>{"/run/app.sock", "@jvm-attach"}));

    auto relative = parse_network("    unix:\n      - run/app.sock\n");
    ASSERT_EQ(relative.errors.size(), 1u);
    EXPECT_EQ(relative.errors[0].line, 8);
    EXPECT_THAT(relative.errors[0].message, HasSubstr("must be an absolute path, or \"@name\""));
    EXPECT_THAT(parse_network("    unix: [/run/*.sock]\n").errors.at(0).message, HasSubstr("not an exact name"));
    EXPECT_THAT(parse_network("    unix: [\"@\"]\n").errors.at(0).message, HasSubstr("names no abstract socket"));
    EXPECT_THAT(parse_network("    unix: [/" + std::string(107, 'a') + "]\n").errors.at(0).message,
                HasSubstr("longer than a unix socket path"));
    EXPECT_TRUE(parse_network("    unix: [/" + std::string(106, 'a') + "]\n").policy) << "107 bytes fit";
    EXPECT_THAT(parse_network("    unix: /run/app.sock\n").errors.at(0).message, HasSubstr("must be a list"));
}

TEST(NetworkPolicy, UnixNamesCompileToTheBytesConnectPasses) {
    NetworkRules rules;
    rules.unix_sockets = {"/run/app.sock", "@jvm"};
    auto keys = compile_unix_keys(3, rules);
    ASSERT_EQ(keys.size(), 2u);
    EXPECT_EQ(keys[0].policy_id, 3u);
    EXPECT_EQ(keys[0].len, 13u);
    EXPECT_EQ(std::string(keys[0].path, keys[0].len), "/run/app.sock");
    EXPECT_EQ(keys[0].path[13], '\0') << "zero-padded: equal names make equal keys";
    EXPECT_EQ(keys[1].len, 4u);
    EXPECT_EQ(std::string(keys[1].path, keys[1].len), std::string("\0jvm", 4)) << "abstract: a leading NUL";
}

TEST(NetworkPolicy, KernelActionFollowsModeAndSection) {
    FunctionPolicy p;
    p.syscalls.allow.set();
    p.network.restricted = true;
    p.network.on_violation = ViolationAction::Kill;
    auto enforce = compile_kernel_policy(p, Mode::Enforce);
    EXPECT_TRUE(enforce.flags & FNW_POLICY_NET_RESTRICTED);
    EXPECT_EQ(enforce.net_action, static_cast<uint32_t>(FNW_KACTION_DENY));
    auto audit = compile_kernel_policy(p, Mode::Audit);
    EXPECT_EQ(audit.net_action, static_cast<uint32_t>(FNW_KACTION_REPORT));
    p.network.restricted = false;
    EXPECT_FALSE(compile_kernel_policy(p, Mode::Enforce).flags & FNW_POLICY_NET_RESTRICTED);
}

}  // namespace
}  // namespace fnw
