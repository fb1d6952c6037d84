// SPDX-License-Identifier: Apache-2.0
// ProbeSet's per-file state in the kernel: the identity of an object as the
// kernel keys it (identity.bpf.c), the verdicts userspace remembers for the
// kernel (file_verdicts), and the threads the probes hold until a verdict
// (holds: fnw_hold_current in emit.bpf.h).
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include "common/unique_fd.hpp"
#include "probes/map_keys.hpp"
#include "probes/probe_set.hpp"

#include "fnwarden_bpf.skel.h"

namespace fnw {

std::optional<fnw_object_identity> ProbeSet::object_identity(int fd) const {
    const uint32_t self = static_cast<uint32_t>(::getpid());
    skel_->bss->identity_tgid = self;
    skel_->bss->identity_fd = static_cast<uint32_t>(fd);
    // 6.1 and later iterate only this process's files; older kernels
    // refuse the filter and the program skips everyone else's.
    union bpf_iter_link_info info {};
    info.task.pid = self;
    LIBBPF_OPTS(bpf_iter_attach_opts, opts, .link_info = &info, .link_info_len = sizeof(info));
    bpf_link* link = bpf_program__attach_iter(skel_->progs.fnw_object_identity, &opts);
    if (!link) link = bpf_program__attach_iter(skel_->progs.fnw_object_identity, nullptr);
    if (!link) return std::nullopt;
    std::optional<fnw_object_identity> found;
    UniqueFd iter(bpf_iter_create(bpf_link__fd(link)));
    if (iter.valid()) {
        fnw_object_identity id{};
        size_t got = 0;
        for (ssize_t n; got < sizeof(id) && (n = ::read(iter.get(), reinterpret_cast<char*>(&id) + got,
                                                       sizeof(id) - got)) > 0;)
            got += static_cast<size_t>(n);
        if (got == sizeof(id)) found = id;
    }
    bpf_link__destroy(link);
    return found;
}

ObjectIdentityFn ProbeSet::identity_fn() const {
    return [this](int fd) { return object_identity(fd); };
}

void ProbeSet::forget_file_verdicts(uint32_t policy_id) {
    delete_keys_where<fnw_file_verdict_key>(
        skel_->maps.file_verdicts, [&](const fnw_file_verdict_key& k) { return k.policy_id == policy_id; });
    // After the purge: a thread's copy of a verdict (files.bpf.c,
    // file_verdict_memo) read the epoch before its lookup, so one made
    // from a purged entry carries an older epoch and is not used again.
    __atomic_fetch_add(&skel_->bss->file_verdicts_epoch, 1, __ATOMIC_SEQ_CST);
}

bool ProbeSet::remember_allowed_file(const fnw_file_verdict_key& key) {
    const uint8_t yes = 1;
    return bpf_map__update_elem(skel_->maps.file_verdicts, &key, sizeof(key), &yes, sizeof(yes), BPF_ANY) == 0;
}

std::vector<std::pair<uint32_t, fnw_hold>> ProbeSet::holds() const {
    return map_entries<uint32_t, fnw_hold>(skel_->maps.holds);
}

bool ProbeSet::end_hold(uint32_t tid, uint32_t tgid) {
    bpf_map__delete_elem(skel_->maps.holds, &tid, sizeof(tid), 0);
    // At most FNW_MAX_HOLDS entries, and only held records get here.
    for (const auto& [other, hold] : holds())
        if (hold.tgid == tgid) return true;
    return false;
}

}  // namespace fnw
