// SPDX-License-Identifier: Apache-2.0
#include "core/policy.hpp"

#include <fnwarden/limits.h>

#include <arpa/inet.h>

#include <cstring>

#include "core/syscall_table.hpp"

namespace fnw {

Mode effective_mode(Mode daemon_ceiling, Mode policy_mode) {
    return daemon_ceiling == Mode::Enforce && policy_mode == Mode::Enforce ? Mode::Enforce : Mode::Audit;
}

ViolationAction effective_action(ViolationAction section_action, Mode mode) {
    // Audit mode never acts, whatever the rule says: it is how a policy is tried out.
    return mode == Mode::Audit ? ViolationAction::Report : section_action;
}

ViolationAction effective_syscall_action(const FunctionPolicy& policy, Mode mode) {
    return effective_action(policy.syscalls.on_violation, mode);
}

ViolationAction effective_network_action(const FunctionPolicy& policy, Mode mode) {
    return effective_action(policy.network.on_violation, mode);
}

Result<IpNetwork> parse_ip_network(std::string_view text) {
    std::string addr(text.substr(0, text.find('/')));
    std::optional<unsigned> prefix;
    if (auto slash = text.find('/'); slash != std::string_view::npos) {
        std::string_view digits = text.substr(slash + 1);
        if (digits.empty() || digits.size() > 3 || digits.find_first_not_of("0123456789") != std::string_view::npos)
            return fail("bad prefix length");
        prefix = static_cast<unsigned>(std::stoul(std::string(digits)));
    }
    IpNetwork net;
    in_addr v4{};
    in6_addr v6{};
    if (inet_pton(AF_INET, addr.c_str(), &v4) == 1) {
        unsigned p = prefix.value_or(32);
        if (p > 32) return fail("IPv4 prefix longer than 32");
        net.address[10] = net.address[11] = 0xff;
        std::memcpy(net.address.data() + 12, &v4, 4);
        net.prefix = 96 + p;
    } else if (inet_pton(AF_INET6, addr.c_str(), &v6) == 1) {
        unsigned p = prefix.value_or(128);
        if (p > 128) return fail("IPv6 prefix longer than 128");
        std::memcpy(net.address.data(), &v6, 16);
        net.prefix = p;
    } else {
        return fail("not an IPv4 or IPv6 address");
    }
    // Host bits must be zero: "10.0.0.1/8" is almost always a typo.
    for (unsigned bit = net.prefix; bit < 128; ++bit)
        if (net.address[bit / 8] & (0x80 >> (bit % 8))) return fail("address has bits set beyond the prefix");
    return net;
}

std::string format_ip(const std::array<uint8_t, 16>& address) {
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    char buf[INET6_ADDRSTRLEN] = {};
    if (std::memcmp(address.data(), kMapped, 12) == 0)
        inet_ntop(AF_INET, address.data() + 12, buf, sizeof(buf));
    else
        inet_ntop(AF_INET6, address.data(), buf, sizeof(buf));
    return buf;
}

std::string format_network(const IpNetwork& network) {
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    const bool v4 = network.prefix >= 96 && std::memcmp(network.address.data(), kMapped, 12) == 0;
    return format_ip(network.address) + "/" + std::to_string(v4 ? network.prefix - 96 : network.prefix);
}

std::string validate_path_pattern(std::string_view pattern) {
    if (pattern.empty() || pattern.front() != '/') return "must be an absolute path";
    if (pattern.size() > 4095) return "longer than PATH_MAX";
    if (pattern.find('\0') != std::string_view::npos) return "contains a NUL byte";
    size_t start = 1;
    while (start <= pattern.size()) {
        size_t end = pattern.find('/', start);
        if (end == std::string_view::npos) end = pattern.size();
        std::string_view segment = pattern.substr(start, end - start);
        if (segment.empty() && end != pattern.size()) return "has an empty segment (\"//\")";
        if (segment == "." || segment == "..") return "has a \".\" or \"..\" segment";
        if (segment.find("**") != std::string_view::npos && segment != "**")
            return "\"**\" must be a whole segment (\"/a/**/b\", not \"/a/x**\")";
        if (segment.find_first_of("?[]{}") != std::string_view::npos)
            return "only \"*\" and \"**\" are wildcards; ?, [ ] and { } are not supported";
        start = end + 1;
    }
    return "";
}

std::string validate_unix_socket_name(std::string_view name) {
    if (name.find('\0') != std::string_view::npos) return "contains a NUL byte";
    if (!name.empty() && name.front() == '@') {
        // The abstract name's bytes follow a leading NUL in sun_path.
        if (name.size() < 2) return "names no abstract socket (\"@\" alone)";
        if (name.size() > FNW_UNIX_PATH_MAX) return "is longer than an abstract socket name can be (107 bytes)";
        return "";
    }
    if (name.empty() || name.front() != '/')
        return "must be an absolute path, or \"@name\" for an abstract socket";
    if (name.size() > FNW_UNIX_PATH_MAX - 1) return "is longer than a unix socket path can be (107 bytes)";
    if (name.find_first_of("*?[]{}") != std::string_view::npos)
        return "is not an exact name: the kernel compares unix socket names byte for byte";
    return "";
}

std::vector<std::string> apply_baseline(FunctionPolicy& policy, const Baseline& baseline) {
    std::vector<std::string> overridden;
    if (policy.syscalls.allow.all()) {
        policy.syscalls.allow &= ~(baseline.deny | baseline.deny_unless_allowed);
        return overridden;
    }
    const SyscallBitmap forbidden = policy.syscalls.allow & baseline.deny;
    for (size_t nr = 0; nr < forbidden.size(); ++nr)
        if (forbidden.test(nr)) overridden.push_back(std::string(SyscallTable::name(static_cast<int>(nr))));
    policy.syscalls.allow &= ~baseline.deny;
    return overridden;
}

std::string_view to_string(Mode mode) { return mode == Mode::Audit ? "audit" : "enforce"; }

std::string_view to_string(ViolationAction action) {
    switch (action) {
    case ViolationAction::Report: return "report";
    case ViolationAction::Deny: return "deny";
    case ViolationAction::Kill: return "kill";
    }
    return "report";
}

std::optional<ViolationAction> parse_violation_action(std::string_view text) {
    if (text == "report") return ViolationAction::Report;
    if (text == "deny") return ViolationAction::Deny;
    if (text == "kill") return ViolationAction::Kill;
    return std::nullopt;
}

std::optional<Mode> parse_mode(std::string_view text) {
    if (text == "audit") return Mode::Audit;
    if (text == "enforce") return Mode::Enforce;
    return std::nullopt;
}

}  // namespace fnw
