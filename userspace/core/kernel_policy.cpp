// SPDX-License-Identifier: Apache-2.0
#include "core/kernel_policy.hpp"

#include <array>
#include <bit>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/elf_interpreter.hpp"
#include "core/syscall_table.hpp"

namespace fnw {
namespace {

// The network maps' keys are big-endian (an LPM trie compares bytes).
uint32_t big_endian(uint32_t value) {
    return std::endian::native == std::endian::little ? __builtin_bswap32(value) : value;
}
uint16_t big_endian(uint16_t value) {
    return std::endian::native == std::endian::little ? __builtin_bswap16(value) : value;
}

}  // namespace

fnw_policy compile_kernel_policy(const FunctionPolicy& policy, const EnforcementPlan& plan) {
    fnw_policy out{};
    for (size_t nr = 0; nr < policy.syscalls.allow.size(); ++nr)
        if (policy.syscalls.allow.test(nr)) out.syscall_allow[nr / 64] |= 1ull << (nr % 64);
    out.syscall_allow[kKernelRestartSyscall / 64] |= 1ull << (kKernelRestartSyscall % 64);
    // Launched functions get deny from seccomp, which runs before the probe.
    out.syscall_action = plan.syscalls.kernel_action;
    if (policy.exec.restricted) {
        // Checked at sched_process_exec everywhere, and before the exec by
        // BPF-LSM where the plan puts the allowlist there.
        out.flags |= FNW_POLICY_EXEC_RESTRICTED;
        out.exec_action = plan.exec.kernel_action;
        if (plan.exec_allowlist_in_lsm) out.flags |= FNW_POLICY_EXEC_LSM;
        if (!policy.exec.sha256.empty()) out.flags |= FNW_POLICY_EXEC_HASHED;
        if (interpreter_may_be_refused(policy)) out.flags |= FNW_POLICY_EXEC_INTERP;
    }
    if (policy.files.restricted) {
        // The file probes treat deny as kill; launched functions get deny
        // from Landlock first, and kill after it (files.bpf.c).
        out.flags |= FNW_POLICY_FILES_RESTRICTED;
        out.file_action = plan.files.kernel_action;
    }
    if (policy.process.restricted) {
        if (!policy.process.ptrace) out.flags |= FNW_POLICY_DENY_PTRACE;
        if (!policy.process.bpf) out.flags |= FNW_POLICY_DENY_BPF;
        if (!policy.process.exec_memory) out.flags |= FNW_POLICY_DENY_EXEC_MEMORY;
        out.process_action = plan.process.kernel_action;
    }
    if (policy.network.restricted) {
        out.flags |= FNW_POLICY_NET_RESTRICTED;
        out.net_action = plan.network.kernel_action;
    }
    if (!policy.code_pins.empty()) {
        // Not a section with an onViolation: code that is not the pinned
        // code is never only reported where the policy enforces.
        out.flags |= FNW_POLICY_CODE_PINNED;
        out.code_action = plan.mode == Mode::Enforce ? FNW_KACTION_KILL : FNW_KACTION_REPORT;
    }
    return out;
}

std::vector<fnw_exec_key> compile_exec_keys(uint32_t policy_id, const ExecRules& rules) {
    std::vector<fnw_exec_key> keys;
    for (auto& [key, pattern] : compile_exec_entries(policy_id, rules)) keys.push_back(key);
    return keys;
}

std::vector<std::pair<fnw_exec_key, std::string>> compile_exec_entries(uint32_t policy_id, const ExecRules& rules) {
    std::vector<std::pair<fnw_exec_key, std::string>> keys;
    for (const auto& pattern : rules.allow) {
        // bpf_d_path gives the path the kernel resolved: symlinks followed.
        std::error_code ec;
        auto canonical = std::filesystem::canonical(pattern, ec);
        const std::string path = ec ? pattern : canonical.string();
        if (path.size() >= FNW_EXEC_PATH_MAX || path.find('*') != std::string::npos) continue;
        fnw_exec_key k{};
        k.policy_id = policy_id;
        std::memcpy(k.path, path.data(), path.size());
        keys.emplace_back(k, pattern);
    }
    return keys;
}

std::vector<fnw_unix_key> compile_unix_keys(uint32_t policy_id, const NetworkRules& rules) {
    std::vector<fnw_unix_key> keys;
    for (const std::string& name : rules.unix_sockets) {
        if (!validate_unix_socket_name(name).empty()) continue;  // the parser refused it already
        fnw_unix_key k{};
        k.policy_id = policy_id;
        // What connect() passes: a path's bytes, or NUL + an abstract name's.
        const bool abstract = name.front() == '@';
        const std::string bytes = abstract ? std::string(1, '\0') + name.substr(1) : name;
        std::memcpy(k.path, bytes.data(), bytes.size());
        k.len = static_cast<uint8_t>(bytes.size());
        keys.push_back(k);
    }
    return keys;
}

std::vector<fnw_net_key> compile_net_keys(uint32_t policy_id, const NetworkRules& rules) {
    std::vector<fnw_net_key> keys;
    auto add = [&](uint8_t direction, uint8_t protocol, uint16_t port, const std::array<uint8_t, 16>& addr,
                   unsigned prefix) {
        fnw_net_key k{};
        k.prefixlen = FNW_NET_KEY_FIXED_BITS + prefix;
        k.policy_id = big_endian(policy_id);
        k.direction = direction;
        k.protocol = protocol;
        k.port = big_endian(port);
        std::memcpy(k.addr, addr.data(), 16);
        keys.push_back(k);
    };
    for (const auto& rule : rules.egress) {
        if (rule.ports.empty())
            add(FNW_NET_EGRESS, rule.protocol, 0, rule.network.address, rule.network.prefix);
        for (uint16_t port : rule.ports) add(FNW_NET_EGRESS, rule.protocol, port, rule.network.address, rule.network.prefix);
    }
    for (const auto& rule : rules.listen) add(FNW_NET_LISTEN, rule.protocol, rule.port, {}, 0);
    return keys;
}

std::vector<std::pair<uint32_t, fnw_path_arg>> compile_path_args() {
    struct PathArg {
        const char* name;
        uint8_t index;
        bool has_dfd;
        fnw_path_op op;
        int8_t path2 = -1;  // index of the second name
        int8_t dfd2 = -1;   // index of its directory fd
    };
    // The same rights per syscall as files.bpf.c's FILE_ENTER table: link
    // and symlink create their new name (`index`); path2 is what it points at.
    static constexpr PathArg kPathArgs[] = {
        {"open", 0, false, FNW_PATH_OP_OPEN},
        {"creat", 0, false, FNW_PATH_OP_CREAT},
        {"openat", 1, true, FNW_PATH_OP_OPEN},
        {"openat2", 1, true, FNW_PATH_OP_OPENAT2},
        {"mkdir", 0, false, FNW_PATH_OP_CREATE},
        {"mkdirat", 1, true, FNW_PATH_OP_CREATE},
        {"mknod", 0, false, FNW_PATH_OP_CREATE},
        {"mknodat", 1, true, FNW_PATH_OP_CREATE},
        {"unlink", 0, false, FNW_PATH_OP_DELETE},
        {"unlinkat", 1, true, FNW_PATH_OP_DELETE},
        {"rmdir", 0, false, FNW_PATH_OP_DELETE},
        {"rename", 0, false, FNW_PATH_OP_RENAME, 1},
        {"renameat", 1, true, FNW_PATH_OP_RENAME, 3, 2},
        {"renameat2", 1, true, FNW_PATH_OP_RENAME, 3, 2},
        {"link", 1, false, FNW_PATH_OP_CREATE, 0},
        {"linkat", 3, true, FNW_PATH_OP_CREATE, 1, 0},
        {"symlink", 1, false, FNW_PATH_OP_CREATE, 0},
        {"symlinkat", 2, true, FNW_PATH_OP_CREATE, 0},
        {"truncate", 0, false, FNW_PATH_OP_WRITE},
        {"execve", 0, false, FNW_PATH_OP_EXEC},
        {"execveat", 1, true, FNW_PATH_OP_EXEC},
    };
    std::vector<std::pair<uint32_t, fnw_path_arg>> out;
    for (const auto& arg : kPathArgs) {
        auto nr = SyscallTable::number(arg.name);
        if (!nr) continue;  // e.g. openat2 on headers older than 5.6
        fnw_path_arg value{};
        value.where = static_cast<uint8_t>((arg.index + 1) | (arg.has_dfd ? FNW_PATH_ARG_HAS_DFD : 0) |
                                           (arg.op == FNW_PATH_OP_EXEC ? FNW_PATH_ARG_EXEC : 0));
        value.op = static_cast<uint8_t>(arg.op);
        value.path2_arg = static_cast<uint8_t>(arg.path2 + 1);
        value.dfd2_arg = static_cast<uint8_t>(arg.dfd2 + 1);
        out.emplace_back(static_cast<uint32_t>(*nr), value);
    }
    // Landlock's TCP rights (ABI 4): connect(fd, addr, len), bind(fd, addr, len).
    for (auto [name, flags] : {std::pair{"connect", FNW_PATH_ARG_SOCKADDR}, {"bind", FNW_PATH_ARG_SOCKADDR | FNW_PATH_ARG_BIND}}) {
        fnw_path_arg value{};
        value.where = static_cast<uint8_t>((1 + 1) | flags);
        if (auto nr = SyscallTable::number(name)) out.emplace_back(static_cast<uint32_t>(*nr), value);
    }
    return out;
}

}  // namespace fnw
