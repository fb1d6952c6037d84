// SPDX-License-Identifier: Apache-2.0
// ProbeSet's file rules for functions in a root of their own (a container,
// a chroot): the slot's patterns compiled in each root its function runs
// in, and rules_roots telling the kernel which roots those are and what is
// complete there (path.bpf.h, rules_root_rights).
#include <bpf/libbpf.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include <spdlog/spdlog.h>

#include "common/kernel_dev.hpp"
#include "core/file_rules.hpp"
#include "probes/map_keys.hpp"
#include "probes/probe_set.hpp"

#include "fnwarden_bpf.skel.h"

namespace fnw {
namespace {

fnw_rules_root_key root_key(uint32_t policy_id, const RootIdentity& root) {
    fnw_rules_root_key key{};
    key.policy_id = policy_id;
    key.mnt_ns = root.mnt_ns;
    key.root_dev = root.dev;
    key.root_ino = root.ino;
    return key;
}

}  // namespace

void ProbeSet::forget_rules_roots(uint32_t policy_id) {
    delete_keys_where<fnw_rules_root_key>(skel_->maps.rules_roots,
                                          [&](const fnw_rules_root_key& k) { return k.policy_id == policy_id; });
    rules_roots_.erase(policy_id);
}

size_t ProbeSet::rules_root_count(uint32_t policy_id) const {
    auto it = rules_roots_.find(policy_id);
    return it == rules_roots_.end() ? 0 : it->second.size();
}

std::vector<CompiledRoot> ProbeSet::rules_roots(uint32_t policy_id) const {
    std::vector<CompiledRoot> out;
    auto it = rules_roots_.find(policy_id);
    if (it == rules_roots_.end()) return out;
    for (const auto& [id, opener] : it->second) {
        const fnw_rules_root_key key = root_key(policy_id, id);
        uint32_t rights = 0;
        // No entry yet (being compiled): nothing is the kernel's there.
        if (bpf_map__lookup_elem(skel_->maps.rules_roots, &key, sizeof(key), &rights, sizeof(rights), 0)) rights = 0;
        out.push_back(CompiledRoot{id.mnt_ns, id.dev, id.ino, opener.pid(), rights});
    }
    return out;
}

Result<bool> ProbeSet::add_rules_root(uint32_t policy_id, pid_t pid) {
    auto sections = file_sections_.find(policy_id);
    if (sections == file_sections_.end() || !(sections->second.files.restricted || sections->second.exec.restricted))
        return false;  // nothing to compile
    Result<RootOpener> opened = RootOpener::of_process(pid);
    if (!opened) return fail(opened.error());
    // fnwarden's own root, as load() read it (stat), or one known already:
    // before any iterator runs.
    const auto [stat_dev, stat_ino] = opened->stat_root();
    if (opened->mnt_ns() == skel_->rodata->rules_mnt_ns && kernel_dev(stat_dev) == skel_->rodata->rules_root_dev &&
        stat_ino == skel_->rodata->rules_root_ino)
        return false;
    auto& roots = rules_roots_[policy_id];
    for (auto& [known_id, known] : roots) {
        if (known.mnt_ns() != opened->mnt_ns() || known.stat_root() != opened->stat_root()) continue;
        // The process it was found through may be gone, and its /proc
        // directory with it: keep a live one.
        if (!known.alive()) known = std::move(*opened);
        return false;
    }
    // The key as the kernel reads the task's root (an overlay root's
    // inode number may not be what stat() says).
    const auto root_id = object_identity(opened->root_fd());
    if (!root_id) return fail("the identity of pid " + std::to_string(pid) + "'s root cannot be read");
    const RootIdentity root{opened->mnt_ns(), root_id->dev, root_id->ino};
    if (roots.count(root)) return false;
    if (roots.size() >= FNW_MAX_RULES_ROOTS / 8) return fail("too many roots for one policy slot");
    fnw_policy policy{};
    if (bpf_map__lookup_elem(skel_->maps.policies, &policy_id, sizeof(policy_id), &policy, sizeof(policy), 0))
        return fail("policy slot " + std::to_string(policy_id) + " is not written");
    roots.emplace(root, std::move(*opened));
    if (Status s = recompile_file_rules(policy_id, policy); !s) return fail(s.error());
    return true;
}

bool ProbeSet::keep_root(RootOpener& root) const {
    if (root.alive()) return true;
    if (root.cgroup().empty() || cgroup2_root_.empty()) return false;
    std::ifstream procs(cgroup2_root_ / std::filesystem::path(root.cgroup()).relative_path() / "cgroup.procs");
    for (pid_t pid = 0; procs >> pid;) {
        Result<RootOpener> other = RootOpener::of_process(pid);
        if (!other || !other->same_root(root)) continue;
        root = std::move(*other);
        return true;
    }
    return false;
}

Status ProbeSet::sweep_rules_roots() {
    std::vector<uint32_t> stale;
    for (auto& [slot, roots] : rules_roots_)
        if (std::any_of(roots.begin(), roots.end(), [this](auto& root) { return !keep_root(root.second); }))
            stale.push_back(slot);
    for (uint32_t slot : stale) {
        fnw_policy policy{};
        if (bpf_map__lookup_elem(skel_->maps.policies, &slot, sizeof(slot), &policy, sizeof(policy), 0)) continue;
        if (Status s = recompile_file_rules(slot, policy); !s) return s;
    }
    return {};
}

Status ProbeSet::recompile_file_rules(uint32_t policy_id, const fnw_policy& policy) {
    const FileSections& sections = file_sections_.at(policy_id);
    auto& roots = rules_roots_[policy_id];
    // A root whose process is gone goes first: its rules are not compiled
    // again, so the kernel must stop deciding for it before they go.
    for (auto it = roots.begin(); it != roots.end();) {
        if (keep_root(it->second)) {
            ++it;
            continue;
        }
        const fnw_rules_root_key key = root_key(policy_id, it->first);
        bpf_map__delete_elem(skel_->maps.rules_roots, &key, sizeof(key), 0);
        spdlog::info("policy slot {}: file rules {} dropped: its processes are gone", policy_id,
                     it->second.foreign_root());
        it = roots.erase(it);
    }
    const OwnRootOpener own;
    std::vector<const PathOpener*> openers{&own};
    for (const auto& [id, opener] : roots) openers.push_back(&opener);
    const RootedFileRules compiled =
        compile_file_rules_in_roots(policy_id, sections.files, sections.exec, identity_fn(), openers,
                                    sections.code_pins);
    code_dirs_[policy_id] = {compiled.rules.code_dirs, compiled.rules.code_dirs_unkeyed};
    // Rights that stop being complete stop being the kernel's to refuse
    // before their rules change; rights that become complete, after. A new
    // root has no entry yet: it starts with none.
    fnw_policy narrowed = policy;
    narrowed.file_kernel_rights &= compiled.complete_rights[0];
    if (Status s = set_policy(policy_id, narrowed); !s) return s;
    size_t i = 1;
    for (const auto& [id, opener] : roots) {
        const fnw_rules_root_key key = root_key(policy_id, id);
        uint32_t rights = 0;
        if (bpf_map__lookup_elem(skel_->maps.rules_roots, &key, sizeof(key), &rights, sizeof(rights), 0) == 0) {
            rights &= compiled.complete_rights[i];
            bpf_map__update_elem(skel_->maps.rules_roots, &key, sizeof(key), &rights, sizeof(rights), BPF_EXIST);
        }
        ++i;
    }
    if (Status s = replace_file_rules(policy_id, compiled.rules); !s) return s;
    if (auto layout = use_layouts_.find(policy_id); layout != use_layouts_.end())
        layout->second.file_slots = compiled.rules.use_slots;
    i = 1;
    for (const auto& [id, opener] : roots) {
        const fnw_rules_root_key key = root_key(policy_id, id);
        const uint32_t rights = compiled.complete_rights[i++];
        if (int err = bpf_map__update_elem(skel_->maps.rules_roots, &key, sizeof(key), &rights, sizeof(rights), BPF_ANY))
            return fail("rules_roots map update: " + std::string(std::strerror(-err)));
        spdlog::debug("policy slot {}: file rules compiled {} (complete rights {:#x})", policy_id,
                      opener.foreign_root(), rights);
    }
    fnw_policy widened = policy;
    widened.file_kernel_rights = compiled.complete_rights[0];
    return set_policy(policy_id, widened);
}

}  // namespace fnw
