// SPDX-License-Identifier: Apache-2.0
#include "probes/kernel_capabilities.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/landlock.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "common/unique_fd.hpp"

namespace fnw {
namespace {

std::string errno_text(int err) { return std::strerror(err < 0 ? -err : err); }

std::optional<std::vector<std::string>> read_active_lsms() {
    std::ifstream lsm("/sys/kernel/security/lsm");
    if (!lsm) return std::nullopt;
    std::string list;
    std::getline(lsm, list);
    std::stringstream names(list);
    std::vector<std::string> out;
    for (std::string name; std::getline(names, name, ',');)
        if (!name.empty()) out.push_back(name);
    return out;
}

Status mount_if_missing(const char* probe_path, const char* fs, const char* at, const char* why) {
    if (::access(probe_path, F_OK) == 0) return {};
    if (::mount(fs, at, fs, MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
        return fail(std::string(fs) + " is not mounted and mounting it at " + at + " failed: " + errno_text(errno));
    spdlog::info("mounted {} at {} ({})", fs, at, why);
    return {};
}

}  // namespace

bool KernelCapabilities::bpf_lsm_listed() const {
    return active_lsms && std::find(active_lsms->begin(), active_lsms->end(), "bpf") != active_lsms->end();
}

KernelCapabilities probe_kernel_capabilities() {
    KernelCapabilities k;
    utsname u{};
    if (uname(&u) == 0) k.release = u.release;
    std::ifstream actions("/proc/sys/kernel/seccomp/actions_avail");
    for (std::string a; actions >> a;) k.seccomp_user_notif = k.seccomp_user_notif || a == "user_notif";
    long abi = syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (abi > 0) k.landlock_abi = static_cast<int>(abi);
    k.active_lsms = read_active_lsms();
    return k;
}

Status mount_kernel_filesystems() {
    // No tracefs: no program attaches to a tracefs tracepoint (the syscall
    // handlers are tail-called from tp_btf/sys_enter and sys_exit).
    return mount_if_missing("/sys/kernel/security/lsm", "securityfs", "/sys/kernel/security",
                            "to see whether the bpf LSM is active");
}

std::string lsm_hook_unusable(const std::string& hook, const KernelCapabilities& kernel, const ::btf* vmlinux) {
    if (kernel.active_lsms && !kernel.active_lsms->empty() && !kernel.bpf_lsm_listed()) {
        std::string list;
        for (const auto& name : *kernel.active_lsms) list += (list.empty() ? "" : ",") + name;
        return "kernel lacks bpf in /sys/kernel/security/lsm (" + list + ")";
    }
    // What libbpf_find_vmlinux_btf_id(hook, BPF_LSM_MAC) looks up, without reading the BTF again.
    const int btf_id = vmlinux ? btf__find_by_name_kind(vmlinux, ("bpf_lsm_" + hook).c_str(), BTF_KIND_FUNC)
                               : libbpf_find_vmlinux_btf_id(hook.c_str(), BPF_LSM_MAC);
    if (btf_id < 0) return "this kernel has no LSM hook " + hook;
    const bpf_insn return_zero[] = {
        {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .src_reg = 0, .off = 0, .imm = 0},
        {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
    };
    LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_LSM_MAC,
                .attach_btf_id = static_cast<uint32_t>(btf_id));
    UniqueFd prog(bpf_prog_load(BPF_PROG_TYPE_LSM, "fnw_lsm_probe", "GPL", return_zero, 2, &opts));
    if (!prog.valid()) return "lsm programs refused at load: " + errno_text(errno);
    return "";
}

std::string lsm_hook_arity_mismatch(const std::string& hook, unsigned arity, const ::btf* given) {
    if (arity == 0) return "";
    std::unique_ptr<btf, decltype(&btf__free)> loaded(given ? nullptr : btf__load_vmlinux_btf(), btf__free);
    const btf* vmlinux = given ? given : loaded.get();
    if (!vmlinux) return "cannot read the kernel's BTF to check lsm/" + hook + "'s arguments";
    const int id = btf__find_by_name_kind(vmlinux, ("bpf_lsm_" + hook).c_str(), BTF_KIND_FUNC);
    const btf_type* func = id > 0 ? btf__type_by_id(vmlinux, id) : nullptr;
    const btf_type* proto = func ? btf__type_by_id(vmlinux, func->type) : nullptr;
    if (!proto || !btf_is_func_proto(proto)) return "the kernel's BTF has no prototype for bpf_lsm_" + hook;
    if (btf_vlen(proto) != arity)
        return "lsm/" + hook + " takes " + std::to_string(btf_vlen(proto)) + " arguments on this kernel, fnwarden's takes " +
               std::to_string(arity);
    return "";
}

EnforcementCapabilities enforcement_capabilities(const KernelCapabilities& kernel, std::string lsm_error,
                                                 std::map<std::string, std::string> lsm_hooks) {
    EnforcementCapabilities caps;
    caps.seccomp_user_notif = kernel.seccomp_user_notif;
    caps.landlock_abi = kernel.landlock_abi.value_or(0);
    caps.lsm_error = std::move(lsm_error);
    caps.lsm_hooks = std::move(lsm_hooks);
    return caps;
}

}  // namespace fnw
