// SPDX-License-Identifier: Apache-2.0
// spec.network of a FunctionPolicy: egress (cidr, ports, protocol), listen
// (port, protocol) and unix socket rules.
#include <cstdint>
#include <optional>
#include <string>

#include "core/policy_checker.hpp"

namespace fnw::policy_yaml {

namespace {

std::optional<uint16_t> parse_port(Checker& check, const YAML::Node& node, std::string_view what) {
    auto text = check.scalar(node, what);
    if (!text) return std::nullopt;
    if (text->empty() || text->size() > 5 || text->find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(*text) < 1 || std::stoul(*text) > 65535) {
        check.error(node, std::string(what) + " must be a port number 1-65535, not \"" + *text + "\"");
        return std::nullopt;
    }
    return static_cast<uint16_t>(std::stoul(*text));
}

std::optional<uint8_t> parse_protocol(Checker& check, const YAML::Node& node, std::string_view what) {
    auto text = check.scalar(node, what);
    if (!text) return std::nullopt;
    if (*text == "tcp") return uint8_t{6};
    if (*text == "udp") return uint8_t{17};
    if (*text == "any") return uint8_t{0};
    check.error(node, std::string(what) + " must be \"tcp\", \"udp\" or \"any\", not \"" + *text + "\"");
    return std::nullopt;
}

// One {cidr, ports, protocol}; nullopt when any part is wrong (reported).
std::optional<EgressRule> parse_egress_rule(Checker& check, const YAML::Node& item) {
    if (!check.expect_map(item, "an egress rule", {"cidr", "ports", "protocol"})) return std::nullopt;
    EgressRule rule;
    bool ok = true;
    if (const YAML::Node cidr = item["cidr"]) {
        if (auto text = check.scalar(cidr, "cidr"); !text) {
            ok = false;
        } else if (auto net = parse_ip_network(*text); !net) {
            check.error(cidr, "bad cidr \"" + *text + "\": " + net.error());
            ok = false;
        } else {
            rule.network = *net;
        }
    } else {
        check.error(item, "an egress rule needs a \"cidr\" (0.0.0.0/0 or ::/0 for any address)");
        ok = false;
    }
    if (const YAML::Node ports = item["ports"]) {
        if (!ports.IsSequence()) {
            check.error(ports, "ports must be a list of port numbers");
            ok = false;
        } else {
            for (const auto& p : ports) {
                auto port = parse_port(check, p, "a port");
                if (port) rule.ports.push_back(*port);
                ok = ok && port.has_value();
            }
        }
    }
    if (const YAML::Node proto = item["protocol"]) {
        auto parsed = parse_protocol(check, proto, "protocol");
        if (parsed) rule.protocol = *parsed;
        ok = ok && parsed.has_value();
    }
    if (!ok) return std::nullopt;
    return rule;
}

// One {port, protocol}; nullopt when any part is wrong (reported).
std::optional<ListenRule> parse_listen_rule(Checker& check, const YAML::Node& item) {
    if (!check.expect_map(item, "a listen rule", {"port", "protocol"})) return std::nullopt;
    ListenRule rule;
    if (const YAML::Node port = item["port"]) {
        auto parsed = parse_port(check, port, "port");
        if (!parsed) return std::nullopt;
        rule.port = *parsed;
    } else {
        check.error(item, "a listen rule needs a \"port\"");
        return std::nullopt;
    }
    if (const YAML::Node proto = item["protocol"]) {
        auto parsed = parse_protocol(check, proto, "protocol");
        if (!parsed) return std::nullopt;
        rule.protocol = *parsed;
    }
    return rule;
}

void parse_unix_sockets(Checker& check, const YAML::Node& sockets, std::vector<std::string>& out) {
    if (!sockets.IsSequence()) {
        check.error(sockets, "spec.network.unix must be a list of socket paths (\"@name\" for abstract ones)");
        return;
    }
    for (const auto& item : sockets) {
        auto text = check.scalar(item, "a unix socket name");
        if (!text) continue;
        if (std::string why = validate_unix_socket_name(*text); !why.empty()) {
            check.error(item, "unix socket \"" + *text + "\" " + why);
            continue;
        }
        out.push_back(*text);
    }
}

}  // namespace

void parse_network(Checker& check, const YAML::Node& node, NetworkRules& rules) {
    rules.restricted = true;  // a network section is an allowlist, even if empty
    if (!check.expect_map(node, "spec.network", {"egress", "listen", "unix", "onViolation"})) return;

    if (const YAML::Node egress = node["egress"]) {
        if (!egress.IsSequence()) {
            check.error(egress, "spec.network.egress must be a list of {cidr, ports, protocol}");
        } else {
            for (const auto& item : egress)
                if (auto rule = parse_egress_rule(check, item)) rules.egress.push_back(std::move(*rule));
        }
    }
    if (const YAML::Node listen = node["listen"]) {
        if (!listen.IsSequence()) {
            check.error(listen, "spec.network.listen must be a list of {port, protocol}");
        } else {
            for (const auto& item : listen)
                if (auto rule = parse_listen_rule(check, item)) rules.listen.push_back(*rule);
        }
    }
    if (const YAML::Node sockets = node["unix"]) parse_unix_sockets(check, sockets, rules.unix_sockets);

    parse_violation_action_key(check, node, "spec.network", rules.on_violation);
}

}  // namespace fnw::policy_yaml
