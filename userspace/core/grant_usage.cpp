// SPDX-License-Identifier: Apache-2.0
#include "core/grant_usage.hpp"

#include <algorithm>
#include <cstring>
#include <functional>
#include <set>
#include <type_traits>
#include <utility>

#include "core/kernel_policy.hpp"
#include "core/syscall_table.hpp"

namespace fnw {
namespace {

bool bit_set(const __u64* words, size_t n_bits, uint32_t bit) {
    return bit < n_bits && (words[bit / 64] >> (bit % 64)) & 1;
}

GrantUse use_of_grant_bit(const fnw_rule_use& use, uint32_t bit) {
    if (bit == 0) return GrantUse::NotCounted;
    return bit_set(use.grants, FNW_RULE_USE_BITS, bit) ? GrantUse::Used : GrantUse::Unused;
}

// The file and exec lists of `policy` (const or not), with their right.
template <class Policy>
auto file_sections(Policy& policy) {
    using List = std::conditional_t<std::is_const_v<Policy>, const std::vector<std::string>, std::vector<std::string>>;
    struct Section {
        const char* name;
        List* patterns;
        uint32_t right;  // FNW_FILE_*
    };
    std::vector<Section> out;
    if (policy.files.restricted) {
        out.push_back({"files.read", &policy.files.read, FNW_FILE_READ});
        out.push_back({"files.write", &policy.files.write, FNW_FILE_WRITE});
        out.push_back({"files.create", &policy.files.create, FNW_FILE_CREATE});
        out.push_back({"files.delete", &policy.files.remove, FNW_FILE_DELETE});
    }
    if (policy.exec.restricted) out.push_back({"exec", &policy.exec.allow, FNW_FILE_EXEC});
    return out;
}

std::string syscall_item(int nr) {
    std::string_view name = SyscallTable::name(nr);
    return name.empty() ? "#" + std::to_string(nr) : std::string(name);
}

std::string protocol_text(uint8_t protocol) {
    return protocol == 6 ? "tcp" : protocol == 17 ? "udp" : "any";
}

std::string port_text(uint16_t port) { return port ? std::to_string(port) : "any"; }

std::string egress_item(const EgressRule& rule, uint16_t port) {
    return format_network(rule.network) + " " + protocol_text(rule.protocol) + " " + port_text(port);
}

std::string listen_item(const ListenRule& rule) { return protocol_text(rule.protocol) + " " + port_text(rule.port); }

// Calls `each(section, item, bit)` for every network grant, in the order
// compile_net_keys makes their keys; `bit` is the rule_use bit of the key.
void for_each_network_grant(const NetworkRules& net,
                            const std::function<void(const char*, const std::string&, uint32_t)>& each) {
    const std::vector<uint32_t> bits = net_key_use_bits(compile_net_keys(0, net));
    size_t key = 0;
    auto next_bit = [&] { return key < bits.size() ? bits[key++] : 0u; };
    for (const auto& rule : net.egress) {
        if (rule.ports.empty()) each("network.egress", egress_item(rule, 0), next_bit());
        for (uint16_t port : rule.ports) each("network.egress", egress_item(rule, port), next_bit());
    }
    for (const auto& rule : net.listen) each("network.listen", listen_item(rule), next_bit());
}

struct ProcessGrant {
    const char* name;
    bool ProcessRules::*allowed;
    uint32_t bit;
};

constexpr ProcessGrant kProcessGrants[] = {
    {"ptrace", &ProcessRules::ptrace, FNW_USE_PROCESS_PTRACE},
    {"bpf", &ProcessRules::bpf, FNW_USE_PROCESS_BPF},
    {"execMemory", &ProcessRules::exec_memory, FNW_USE_PROCESS_EXEC_MEMORY},
};

void add_file_grants(const FunctionPolicy& policy, const GrantUseBits& counted, GrantReport& report) {
    for (const auto& section : file_sections(policy)) {
        for (const std::string& pattern : *section.patterns) {
            Grant grant{section.name, pattern, GrantUse::NotCounted};
            if (auto slot = counted.file_slots.find(pattern); slot != counted.file_slots.end() && slot->second) {
                const uint32_t right_bit = static_cast<uint32_t>(__builtin_ctz(section.right));
                grant.use = bit_set(counted.bits.grants, FNW_RULE_USE_BITS, 8u * slot->second + right_bit)
                                ? GrantUse::Used
                                : GrantUse::Unused;
            }
            report.grants.push_back(std::move(grant));
        }
    }
}

}  // namespace

std::string_view to_string(GrantUse use) {
    switch (use) {
    case GrantUse::Used: return "used";
    case GrantUse::Unused: return "unused";
    case GrantUse::NotCounted: return "not counted";
    }
    return "?";
}

size_t GrantReport::count(GrantUse use) const {
    return static_cast<size_t>(std::count_if(grants.begin(), grants.end(), [&](const Grant& g) { return g.use == use; }));
}

std::vector<uint32_t> net_key_use_bits(const std::vector<fnw_net_key>& keys) {
    std::vector<uint32_t> bits(keys.size(), 0);
    for (size_t i = 0; i < keys.size(); ++i) {
        size_t last = i;
        for (size_t j = i + 1; j < keys.size(); ++j)
            if (std::memcmp(&keys[i], &keys[j], sizeof(fnw_net_key)) == 0) last = j;
        const size_t bit = FNW_USE_NET_BASE + last;
        bits[i] = bit < FNW_RULE_USE_BITS ? static_cast<uint32_t>(bit) : 0;
    }
    return bits;
}

GrantReport report_grant_use(const FunctionPolicy& policy, const GrantUseBits& counted, double observed_seconds) {
    GrantReport report;
    report.function = policy.function;
    report.policy = policy.name;
    report.observed_seconds = observed_seconds;
    report.syscalls_unrestricted = policy.syscalls.allow.all();
    if (!report.syscalls_unrestricted) {
        for (int nr = 0; nr < FNW_MAX_SYSCALLS; ++nr) {
            if (!policy.syscalls.allow.test(static_cast<size_t>(nr))) continue;
            report.grants.push_back({"syscalls", syscall_item(nr),
                                     bit_set(counted.bits.syscalls, FNW_MAX_SYSCALLS, static_cast<uint32_t>(nr))
                                         ? GrantUse::Used
                                         : GrantUse::Unused});
        }
    }
    add_file_grants(policy, counted, report);
    if (policy.network.restricted) {
        for_each_network_grant(policy.network, [&](const char* section, const std::string& item, uint32_t bit) {
            report.grants.push_back({section, item, use_of_grant_bit(counted.bits, bit)});
        });
        for (const auto& name : policy.network.unix_sockets)
            report.grants.push_back({"network.unix", name, GrantUse::NotCounted});
    }
    if (policy.process.restricted)
        for (const ProcessGrant& p : kProcessGrants)
            if (policy.process.*p.allowed) report.grants.push_back({"process", p.name, use_of_grant_bit(counted.bits, p.bit)});
    return report;
}

GrantReport report_loaded_grant_use(const FunctionPolicy& loaded, const Baseline* baseline,
                                    const GrantUseBits& counted, std::chrono::steady_clock::time_point now) {
    const double seconds = std::chrono::duration<double>(now - counted.since).count();
    if (!baseline || loaded.syscalls.allow != ~(baseline->deny | baseline->deny_unless_allowed))
        return report_grant_use(loaded, counted, seconds);
    FunctionPolicy as_written = loaded;
    as_written.syscalls.allow.set();
    return report_grant_use(as_written, counted, seconds);
}

FunctionPolicy tighten_policy(const FunctionPolicy& policy, const GrantReport& report) {
    std::set<std::pair<std::string, std::string>> unused;
    for (const Grant& g : report.grants)
        if (g.use == GrantUse::Unused) unused.emplace(g.section, g.item);
    auto is_unused = [&](const std::string& section, const std::string& item) {
        return unused.count({section, item}) > 0;
    };
    FunctionPolicy out = policy;
    // No list to tighten (a baseline may have cut the loaded one): keep none.
    if (report.syscalls_unrestricted) out.syscalls.allow.set();
    if (!report.syscalls_unrestricted)
        for (int nr = 0; nr < FNW_MAX_SYSCALLS; ++nr)
            if (is_unused("syscalls", syscall_item(nr))) out.syscalls.allow.reset(static_cast<size_t>(nr));
    for (const auto& section : file_sections(out))
        std::erase_if(*section.patterns, [&](const std::string& p) { return is_unused(section.name, p); });
    for (auto it = out.exec.sha256.begin(); it != out.exec.sha256.end();)
        it = std::find(out.exec.allow.begin(), out.exec.allow.end(), it->first) == out.exec.allow.end()
                 ? out.exec.sha256.erase(it)
                 : std::next(it);
    std::vector<EgressRule> egress;
    for (EgressRule rule : out.network.egress) {
        if (rule.ports.empty()) {
            if (!is_unused("network.egress", egress_item(rule, 0))) egress.push_back(rule);
            continue;
        }
        std::erase_if(rule.ports, [&](uint16_t port) { return is_unused("network.egress", egress_item(rule, port)); });
        if (!rule.ports.empty()) egress.push_back(rule);
    }
    out.network.egress = std::move(egress);
    std::erase_if(out.network.listen, [&](const ListenRule& r) { return is_unused("network.listen", listen_item(r)); });
    for (const ProcessGrant& p : kProcessGrants)
        if (is_unused("process", p.name)) out.process.*p.allowed = false;
    return out;
}

}  // namespace fnw
