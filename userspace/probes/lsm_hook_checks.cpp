// SPDX-License-Identifier: Apache-2.0
// Whether the kernel takes fnwarden's LSM programs (kernel_capabilities.hpp):
// the checks that need libbpf, in a file of their own, so that what only
// reads the kernel's capabilities (the launcher, fnwarden-run) links
// without libbpf, libelf and libz (about 1.2 ms of its start-up).
#include "probes/kernel_capabilities.hpp"

#include <cerrno>
#include <cstring>
#include <memory>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "common/unique_fd.hpp"

namespace fnw {

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
    if (!prog.valid()) return "lsm programs refused at load: " + std::string(std::strerror(errno));
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

}  // namespace fnw
