// SPDX-License-Identifier: Apache-2.0
#include "probes/probe_set.hpp"

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "common/kernel_dev.hpp"
#include "common/unique_fd.hpp"
#include "core/display_name.hpp"
#include "core/kernel_policy.hpp"
#include "core/syscall_table.hpp"
#include "probes/libbpf_log.hpp"
#include "probes/map_keys.hpp"
#include "probes/probe_families.hpp"

#include "fnwarden_bpf.skel.h"

namespace fnw {
namespace {

std::string errno_text(int err) { return std::strerror(err < 0 ? -err : err); }

// Where each syscall Landlock can refuse keeps its path or sockaddr
// (compile_path_args), for landlock.bpf.c to read at sys_exit.
std::string fill_path_args(fnwarden_bpf* skel) {
    for (const auto& [nr, value] : compile_path_args())
        if (int err = bpf_map__update_elem(skel->maps.path_args, &nr, sizeof(nr), &value, sizeof(value), BPF_ANY))
            return std::string("path_args map update: ") + errno_text(err);
    return "";
}

// Attaches every program of `family` that `wanted` picks, all or none;
// `pin` pins each new link (a no-op for an unpinned set).
template <typename Wanted, typename Pin>
Status attach_family(fnwarden_bpf* skel, ProbeFamily family, Wanted wanted, std::vector<bpf_link*>& out, Pin pin) {
    if (!out.empty()) return {};  // attached before, or adopted pinned
    std::vector<bpf_link*> links;
    for (const ProbeProgram& program : probe_family(family).programs) {
        if (!wanted(program)) continue;
        bpf_program* prog = program_of(skel, program);
        if (bpf_program__fd(prog) < 0) {  // left out at load (ProbeOptions::needs)
            for (bpf_link* l : links) bpf_link__destroy(l);
            errno = ENOENT;
            return fail(std::string("cannot attach ") + bpf_program__name(prog) +
                        ": not loaded (this probe set was loaded for a policy that does not need it)");
        }
        bpf_link* link = bpf_program__attach(prog);
        if (!link) {
            const int err = errno;
            for (bpf_link* l : links) bpf_link__destroy(l);
            errno = err;  // for callers that word the failure themselves
            return fail(std::string("cannot attach ") + bpf_program__name(prog) + ": " + errno_text(err));
        }
        links.push_back(link);
    }
    out = std::move(links);
    size_t i = 0;
    for (const ProbeProgram& program : probe_family(family).programs)
        if (wanted(program)) pin(out[i++], program);
    return {};
}

// A pinned set: every map is pinned under maps/ (libbpf reuses a pin it
// finds there), and a program whose link is pinned is not loaded again:
// its link is adopted (probe_set_pins.cpp). Maps not pinned yet are pinned
// after a successful load (pin_maps): a failed attempt (the one with the
// LSM programs) must leave no pins behind.
void configure_pins(fnwarden_bpf* skel, const PinnedSetPaths& pins) {
    std::error_code ec;
    bpf_map* map = nullptr;
    bpf_object__for_each_map(map, skel->obj) {
        const auto path = pins.maps() / pin_name(bpf_map__name(map));
        if (std::filesystem::exists(path, ec)) bpf_map__set_pin_path(map, path.c_str());
    }
    for (const ProbeFamilyEntry& family : probe_families()) {
        if (family.attach == AttachPolicy::Never || family.attach == AttachPolicy::Dispatched) continue;
        for (const ProbeProgram& program : family.programs) {
            bpf_program* prog = program_of(skel, program);
            if (std::filesystem::exists(pins.links() / bpf_program__name(prog), ec))
                bpf_program__set_autoload(prog, false);
        }
    }
}

// Whether `needs` (unset: everything) asks for the programs of `family`.
bool family_needed(ProbeFamily family, const std::optional<ProbeNeeds>& needs) {
    if (!needs) return true;
    switch (family) {
    case ProbeFamily::SyscallExitDispatch: return needs->files || needs->network || needs->landlock;
    case ProbeFamily::FileSyscalls: return needs->files;
    case ProbeFamily::NetSyscalls: return needs->network;
    case ProbeFamily::ProcessSyscalls: return needs->process;
    case ProbeFamily::LandlockReporting: return needs->landlock;
    default: return true;
    }
}

// Sizes, tunables and which programs load and attach with the skeleton.
Status configure(fnwarden_bpf* skel, const ProbeOptions& options, const LsmProgramChecks* lsm,
                 const std::optional<PinnedSetPaths>& pins) {
    if (int err = bpf_map__set_max_entries(skel->maps.events, options.ringbuf_bytes))
        return fail("ring buffer size " + std::to_string(options.ringbuf_bytes) + ": " + errno_text(err));
    if (int err = bpf_map__set_max_entries(skel->maps.alerts, options.alerts_ringbuf_bytes))
        return fail("alerts ring buffer size " + std::to_string(options.alerts_ringbuf_bytes) + ": " + errno_text(err));
    skel->rodata->ringbuf_wakeup_bytes = options.ringbuf_wakeup_bytes;
    skel->rodata->alerts_wakeup_bytes = std::min<uint64_t>(options.ringbuf_wakeup_bytes, options.alerts_ringbuf_bytes / 4);
    // file_rules are inodes found through this process's paths: the kernel
    // decides a miss only for tasks with the same root (path.bpf.h).
    struct stat mnt_ns {}, root {};
    if (::stat("/proc/self/ns/mnt", &mnt_ns) == 0 && ::stat("/", &root) == 0) {
        skel->rodata->rules_mnt_ns = static_cast<uint32_t>(mnt_ns.st_ino);
        skel->rodata->rules_root_dev = kernel_dev(root.st_dev);
        skel->rodata->rules_root_ino = root.st_ino;
    }
    for (const ProbeFamilyEntry& family : probe_families()) {
        for (const ProbeProgram& program : family.programs) {
            bpf_program* prog = program_of(skel, program);
            if (family.attach != AttachPolicy::WithSkeleton) bpf_program__set_autoattach(prog, false);
            if (program.lsm_hook) bpf_program__set_autoload(prog, lsm && lsm->programs.at(&program).empty());
            if (!family_needed(family.family, options.needs)) bpf_program__set_autoload(prog, false);
        }
    }

    if (pins) configure_pins(skel, *pins);
    return {};
}

// A configured skeleton, owned by the ProbeSet that `make` wraps it in.
template <typename Make>
Result<std::unique_ptr<ProbeSet>> open_configured(const ProbeOptions& options, const LsmProgramChecks* lsm,
                                                  const std::optional<PinnedSetPaths>& pins, Make make) {
    fnwarden_bpf* skel = fnwarden_bpf__open();
    if (!skel) return fail("cannot open BPF object: " + errno_text(errno));
    std::unique_ptr<ProbeSet> probes = make(skel);
    if (Status configured = configure(skel, options, lsm, pins); !configured.ok()) return Error{configured.error()};
    return probes;
}

// The numbers of the syscalls a Dispatched program goes at; "*" is
// `enter_nrs`, those of its family's enter handlers.
std::vector<uint32_t> handler_numbers(const ProbeProgram& program, const std::vector<uint32_t>& enter_nrs) {
    if (!program.syscalls) return {};
    if (std::string_view(program.syscalls) == "*") return enter_nrs;
    std::vector<uint32_t> nrs;
    std::string_view names = program.syscalls;
    while (!names.empty()) {
        const size_t space = names.find(' ');
        const std::optional<int> nr = SyscallTable::number(names.substr(0, space));
        if (nr && *nr >= 0 && *nr < FNW_MAX_SYSCALLS) nrs.push_back(static_cast<uint32_t>(*nr));
        names = space == std::string_view::npos ? std::string_view{} : names.substr(space + 1);
    }
    return nrs;
}

bool is_exit_handler(const bpf_program* prog) {
    return std::string_view(bpf_program__section_name(prog)) == "tp_btf/sys_exit";
}

}  // namespace

Status ProbeSet::attach_exit_dispatch() {
    return attach_family(skel_, ProbeFamily::SyscallExitDispatch, [](const ProbeProgram&) { return true; },
                         demand_links_[ProbeFamily::SyscallExitDispatch], pin_new());
}

Status ProbeSet::install_handlers(ProbeFamily family, const std::function<bool(const ProbeProgram&)>& wanted) {
    if (installed_.count(family)) return {};
    struct Slot {
        bpf_map* map;
        uint32_t nr;
        int fd;
    };
    std::vector<Slot> exits, enters;
    std::vector<uint32_t> enter_nrs;
    // Enter handlers first: an exit handler's "*" is their numbers.
    for (const bool exit_side : {false, true}) {
        for (const ProbeProgram& program : probe_family(family).programs) {
            if (!wanted(program)) continue;
            bpf_program* prog = program_of(skel_, program);
            if (is_exit_handler(prog) != exit_side) continue;
            const int fd = bpf_program__fd(prog);
            if (fd < 0) {  // left out at load (ProbeOptions::needs)
                errno = ENOENT;
                return fail(std::string("cannot attach ") + bpf_program__name(prog) +
                            ": not loaded (this probe set was loaded for a policy that does not need it)");
            }
            for (uint32_t nr : handler_numbers(program, enter_nrs)) {
                if (exit_side) {
                    exits.push_back({skel_->maps.sys_exit_handlers, nr, fd});
                } else {
                    enters.push_back({skel_->maps.sys_enter_handlers, nr, fd});
                    enter_nrs.push_back(nr);
                }
            }
        }
    }
    // The exit side first: an enter handler whose exit handler is not
    // called yet would leave its pending entry behind. Each dispatcher
    // looks a syscall up only where its bit in exit_handled or
    // enter_handled is set, so the bits go in before the handlers (never
    // cleared: a bit without a handler costs a lookup, nothing else).
    auto mark_handled = [](__u64* handled, const std::vector<Slot>& slots) {
        for (const Slot& slot : slots)
            __atomic_fetch_or(&handled[slot.nr / 64], uint64_t{1} << (slot.nr % 64), __ATOMIC_SEQ_CST);
    };
    mark_handled(skel_->bss->exit_handled, exits);
    if (!exits.empty())
        if (Status attached = attach_exit_dispatch(); !attached) return attached;
    mark_handled(skel_->bss->enter_handled, enters);
    std::vector<Slot> done;
    for (const std::vector<Slot>* side : {&exits, &enters}) {
        for (const Slot& slot : *side) {
            if (int err = bpf_map__update_elem(slot.map, &slot.nr, sizeof(slot.nr), &slot.fd, sizeof(slot.fd), BPF_ANY)) {
                for (const Slot& undo : done) (void)bpf_map__delete_elem(undo.map, &undo.nr, sizeof(undo.nr), 0);
                errno = err < 0 ? -err : err;
                return fail("cannot install the " + std::string(probe_family(family).name) + " handler of syscall " +
                            std::to_string(slot.nr) + ": " + errno_text(err));
            }
            done.push_back(slot);
        }
    }
    installed_.insert(family);
    return {};
}

Status ProbeSet::attach_file_probes() {
    return install_handlers(ProbeFamily::FileSyscalls, [](const ProbeProgram&) { return true; });
}

Status ProbeSet::attach_net_probes() {
    return install_handlers(ProbeFamily::NetSyscalls, [](const ProbeProgram&) { return true; });
}

Status ProbeSet::attach_process_probes() {
    return install_handlers(ProbeFamily::ProcessSyscalls, [this](const ProbeProgram& p) { return stands_in(p); });
}

Status ProbeSet::attach_landlock_reporting() {
    if (installed_.count(ProbeFamily::LandlockReporting)) return {};
    if (!attach_exit_dispatch().ok()) return fail("cannot attach the sys_exit probe: " + errno_text(errno));
    const int fd = bpf_program__fd(skel_->progs.fnw_landlock_exit);
    const uint32_t zero = 0;
    if (fd < 0) {
        errno = ENOENT;
        return fail("cannot attach fnw_landlock_exit: not loaded (this probe set was loaded for a policy that does not need it)");
    }
    if (int err = bpf_map__update_elem(skel_->maps.landlock_exit_handler, &zero, sizeof(zero), &fd, sizeof(fd), BPF_ANY))
        return fail("landlock_exit_handler map update: " + errno_text(err));
    installed_.insert(ProbeFamily::LandlockReporting);
    return {};
}

bool ProbeSet::file_probes_attached() const { return installed_.count(ProbeFamily::FileSyscalls) > 0; }

bool ProbeSet::stands_in(const ProbeProgram& program) const {
    return !program.stands_in_for || !lsm_hook_loaded(program.stands_in_for);
}

// BPF-LSM is optional: each hook is checked first, then the object is
// loaded with the usable ones, quietly (where the kernel refuses LSM
// programs the log would only alarm); if that still fails, without any.
Result<std::unique_ptr<ProbeSet>> ProbeSet::load(const ProbeOptions& options) {
    const auto started = std::chrono::steady_clock::now();
    const auto ms_since = [](std::chrono::steady_clock::time_point t) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t).count();
    };
    libbpf_set_print(forward_libbpf_log);
    const KernelCapabilities kernel = options.capabilities ? *options.capabilities : probe_kernel_capabilities();
    LsmProgramChecks lsm = check_lsm_programs(kernel);
    spdlog::debug("start-up: BPF-LSM hooks checked in {} ms", ms_since(started));
    auto make = [](fnwarden_bpf* skel) { return std::unique_ptr<ProbeSet>(new ProbeSet(skel)); };
    PinnedState pinned;
    UniqueFd pin_lock;
    auto planned = plan_pins(options, pinned, pin_lock);
    if (!planned) return Error{planned.error()};
    const std::optional<PinnedSetPaths> pins = *planned;
    std::unique_ptr<ProbeSet> probes;
    {
        auto attempt = open_configured(options, &lsm, pins, make);
        if (!attempt.ok()) return fail(attempt.error());
        spdlog::debug("start-up: BPF object opened at {} ms", ms_since(started));
        LibbpfLogCapture quiet;
        if (int err = fnwarden_bpf__load((*attempt)->skel_); err == 0) {
            probes = std::move(*attempt);
        } else {
            spdlog::debug("start-up: a load with the BPF-LSM programs refused after {} ms", ms_since(started));
            const std::string detail = quiet.refusal();
            for (auto& [hook, why] : lsm.hooks)
                if (why.empty())
                    why = "lsm programs refused at load: " + errno_text(err) + (detail.empty() ? "" : " (" + detail + ")");
        }
    }
    const std::string lsm_error = summarize_lsm(lsm.hooks);
    if (!probes) {
        auto attempt = open_configured(options, nullptr, pins, make);
        if (!attempt.ok()) return fail(attempt.error());
        probes = std::move(*attempt);
        if (int err = fnwarden_bpf__load(probes->skel_)) {
            std::string hint = (err == -EPERM || err == -EACCES) ? " (needs root or CAP_BPF+CAP_PERFMON+CAP_NET_ADMIN)" : "";
            // Maps this attempt pinned in a set of its own would be orphans.
            if (pins && pinned.origin != PinnedOrigin::Adopted) (void)remove_pinned_set(pins->dir);
            if (pins && pinned.origin == PinnedOrigin::Adopted) hint += " (the pinned set " + pins->dir.string() +
                                                                       " may be damaged: `fnwarden unload` removes it)";
            return fail("cannot load BPF programs: " + errno_text(err) + hint);
        }
        spdlog::debug("BPF-LSM unavailable: {}", lsm_error);
    }
    // Mostly the kernel's verifier (docs/performance.md, "Start-up").
    spdlog::debug("start-up: BPF object opened and loaded in {} ms", ms_since(started));
    const auto attaching = std::chrono::steady_clock::now();
    probes->pins_ = pins;
    probes->pin_lock_ = std::move(pin_lock);
    probes->pinned_ = std::move(pinned);
    probes->lsm_error_ = lsm_error;
    probes->lsm_hooks_ = lsm.hooks;
    probes->cgroup2_root_ = options.cgroup2_root;
    for (const auto& [hook, why] : lsm.hooks)
        if (!why.empty() && lsm_error.empty()) spdlog::info("BPF-LSM hook {} not used: {}", hook, why);
    if (Status attached = probes->attach_at_load(options.cgroup2_root); !attached.ok())
        return fail(attached.error());
    spdlog::debug("start-up: programs attached in {} ms", ms_since(attaching));
    return probes;
}

Status ProbeSet::attach_at_load(const std::filesystem::path& cgroup2_root) {
    // Pinned links first: the skeleton's attach skips a program whose link
    // is there, and an adopted program was not loaded again.
    if (pins_) {
        if (Status pinned = pin_maps(); !pinned) return pinned;
        if (Status adopted = adopt_pinned_links(); !adopted) return adopted;
    }
    if (std::string err = fill_path_args(skel_); !err.empty()) return fail(err);
    if (int err = fnwarden_bpf__attach(skel_)) return fail("cannot attach BPF programs: " + errno_text(err));
    for (int i = 0; pins_ && i < skel_->skeleton->prog_cnt; ++i) {
        const ProgramPlace place = find_program(skel_, *skel_->skeleton->progs[i].prog);
        bpf_link* link = *skel_->skeleton->progs[i].link;
        if (link && place.program && !adopted(*place.program)) pin_link(link, *place.program);
    }
    // cgroup programs have no automatic attach point: they go on the root.
    if (cgroup2_root.empty()) return fail("no cgroup2 root to attach the network hooks to");
    UniqueFd root(::open(cgroup2_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root.valid()) return fail("cannot open " + cgroup2_root.string() + ": " + errno_text(errno));
    for (const ProbeFamilyEntry& family : probe_families()) {
        if (family.attach != AttachPolicy::CgroupRoot) continue;
        for (const ProbeProgram& program : family.programs) {
            if (adopted(program)) continue;
            bpf_program* prog = program_of(skel_, program);
            bpf_link* link = bpf_program__attach_cgroup(prog, root.get());
            if (!link)
                return fail(std::string("cannot attach ") + bpf_program__name(prog) + " to " + cgroup2_root.string() +
                            ": " + errno_text(errno));
            cgroup_links_.push_back(link);
            if (pins_) pin_link(link, program);
        }
    }
    return {};
}

ProbeSet::~ProbeSet() {
    // Detaching a tracepoint program waits for an RCU grace period (~70 ms
    // measured here, seconds under emulation): one after the other, the
    // file probes' 48 tracepoints once made `fnwarden run` take 3.4 s to
    // exit. Closed concurrently, the grace periods overlap.
    std::vector<bpf_link*> links(cgroup_links_.begin(), cgroup_links_.end());
    for (const auto& [family, attached] : demand_links_) links.insert(links.end(), attached.begin(), attached.end());
    for (int i = 0; i < skel_->skeleton->prog_cnt; ++i) {
        bpf_link** link = skel_->skeleton->progs[i].link;
        links.push_back(*link);
        *link = nullptr;  // destroyed below; the skeleton must not again
    }
    std::vector<std::thread> closers;
    for (bpf_link* link : links)
        if (link) closers.emplace_back([link] { bpf_link__destroy(link); });
    for (auto& t : closers) t.join();
    fnwarden_bpf__destroy(skel_);
}

Status ProbeSet::set_policy(uint32_t policy_id, const fnw_policy& policy) {
    if (policy_id >= FNW_MAX_POLICIES) return fail("policy id out of range");
    if (int err = bpf_map__update_elem(skel_->maps.policies, &policy_id, sizeof(policy_id), &policy, sizeof(policy),
                                       BPF_ANY))
        return fail("policies map update: " + errno_text(err));
    return {};
}

Status ProbeSet::set_policy(uint32_t policy_id, const FunctionPolicy& policy, Mode mode) {
    // What the loaded programs can do decides the kernel's half of the plan
    // (the exec allowlist goes to bprm_check_security only where it loaded).
    EnforcementCapabilities loaded;
    loaded.lsm_error = lsm_error_;
    loaded.lsm_hooks = lsm_hooks_;
    const EnforcementPlan plan = plan_enforcement(policy, mode, loaded, /*launched=*/false);
    // Rules first, then the policy that turns them on: a cgroup pointing at
    // this slot never sees a restricted policy with half its rules. Roots
    // compiled for what the slot held before are not this policy's.
    forget_rules_roots(policy_id);
    if (Status s = replace_net_rules(policy_id, policy.network); !s) return s;
    const KernelFileRules files =
        compile_file_rules(policy_id, policy.files, policy.exec, identity_fn(), policy.code_pins);
    if (lsm_hook_loaded("bprm_check_security"))
        if (Status s = replace_exec_rules(policy_id, policy.exec, files.use_slots); !s) return s;
    if (policy.files.restricted || !policy.code_pins.empty())
        if (Status s = attach_file_probes(); !s) return s;
    if (policy.network.restricted)
        if (Status s = attach_net_probes(); !s) return s;
    if (policy.process.restricted)
        if (Status s = attach_process_probes(); !s) return s;
    if (Status s = replace_file_rules(policy_id, files); !s) return s;
    file_sections_[policy_id] = {policy.files, policy.exec, policy.code_pins, {}};
    // A new policy in the slot: what the old one used is not its use.
    const fnw_rule_use unused{};
    if (int err = bpf_map__update_elem(skel_->maps.rule_use, &policy_id, sizeof(policy_id), &unused, sizeof(unused),
                                       BPF_ANY))
        return fail("rule_use map update: " + errno_text(err));
    use_layouts_[policy_id] = {files.use_slots, std::chrono::steady_clock::now()};
    code_dirs_[policy_id] = {files.code_dirs, files.code_dirs_unkeyed};
    // Why the kernel leaves a right to fnwarden's matcher (slower, and its
    // kills are asynchronous): said once per load, per pattern.
    for (const auto& why : files.userspace_only)
        spdlog::debug("{}: matched in userspace: {}", display_name(policy.name), why);
    // A pin whose directory the kernel cannot key is not checked at all.
    for (const auto& why : files.code_dirs_unkeyed)
        spdlog::warn("{}: code pins in {} are not checked", display_name(policy.name), why);
    fnw_policy compiled = compile_kernel_policy(policy, plan);
    compiled.file_kernel_rights = files.complete_rights;
    return set_policy(policy_id, compiled);
}

Status ProbeSet::replace_exec_rules(uint32_t policy_id, const ExecRules& rules,
                                    const std::map<std::string, uint16_t>& use_slots) {
    std::vector<fnw_exec_key> keys;
    std::vector<uint32_t> use_bits;  // the value: where the entry's use is marked (its file rule slot's exec bit)
    for (auto& [key, pattern] : compile_exec_entries(policy_id, rules)) {
        keys.push_back(key);
        auto slot = use_slots.find(pattern);
        use_bits.push_back(slot == use_slots.end() ? 0u : 8u * slot->second + __builtin_ctz(FNW_FILE_EXEC));
    }
    return replace_policy_keys(
        skel_->maps.exec_allowed, keys, [&](size_t i) { return use_bits[i]; },
        [&](const fnw_exec_key& k) { return k.policy_id == policy_id; });
}

Status ProbeSet::replace_file_rules(uint32_t policy_id, const KernelFileRules& rules) {
    // Verdicts remembered under whatever this slot held before are void.
    forget_file_verdicts(policy_id);
    std::vector<fnw_file_rule_key> keys;
    keys.reserve(rules.rules.size());
    for (const auto& [key, rule] : rules.rules) keys.push_back(key);
    std::vector<fnw_file_rule_name_key> names;
    names.reserve(rules.names.size());
    for (const auto& [key, rights] : rules.names) names.push_back(key);
    // Names first: a marked directory whose names are not in yet would
    // only leave a replaced object's access to the kernel's inode rules.
    if (Status s = replace_policy_keys(
            skel_->maps.file_rule_names, names, [&](size_t i) { return rules.names[i].second; },
            [&](const fnw_file_rule_name_key& k) { return k.policy_id == policy_id; });
        !s)
        return s;
    if (Status s = replace_policy_keys(
            skel_->maps.file_rules, keys, [&](size_t i) { return rules.rules[i].second; },
            [&](const fnw_file_rule_key& k) { return k.policy_id == policy_id; });
        !s)
        return s;
    // And again: an open checked between the purge above and here was
    // allowed by the old rules, and its verdict must not outlive them.
    forget_file_verdicts(policy_id);
    return {};
}

Status ProbeSet::refresh_file_rules(uint32_t policy_id) {
    auto it = file_sections_.find(policy_id);
    if (it == file_sections_.end()) return {};  // no files section was written to this slot
    const auto now = std::chrono::steady_clock::now();
    if (it->second.last_refresh && now - *it->second.last_refresh < kFileRulesRefreshInterval) return {};
    it->second.last_refresh = now;
    fnw_policy policy{};
    if (bpf_map__lookup_elem(skel_->maps.policies, &policy_id, sizeof(policy_id), &policy, sizeof(policy), 0))
        return {};  // the slot is gone
    if (Status s = recompile_file_rules(policy_id, policy); !s) return s;
    ++file_rule_refreshes_;
    return {};
}

Status ProbeSet::replace_net_rules(uint32_t policy_id, const NetworkRules& rules) {
    // The value is the key's bit in rule_use (grant_usage.hpp).
    const std::vector<fnw_net_key> net_keys = compile_net_keys(policy_id, rules);
    const std::vector<uint32_t> use_bits = net_key_use_bits(net_keys);
    if (Status s = replace_policy_keys(
            skel_->maps.net_rules, net_keys, [&](size_t i) { return use_bits[i]; },
            [&](const fnw_net_key& k) { return ntohl(k.policy_id) == policy_id; });
        !s)
        return s;
    return replace_policy_keys(
        skel_->maps.unix_allowed, compile_unix_keys(policy_id, rules), [](size_t) { return uint8_t{1}; },
        [&](const fnw_unix_key& k) { return k.policy_id == policy_id; });
}

Status ProbeSet::monitor_cgroup(uint64_t cgroup_id, const fnw_cgroup_entry& entry) {
    // A traced function's file accesses are traced too.
    if (entry.flags & FNW_CGROUP_TRACE) {
        Status attached = attach_file_probes();
        if (attached) attached = attach_net_probes();
        if (!attached) return attached;
    }
    int err = bpf_map__update_elem(skel_->maps.monitored_cgroups, &cgroup_id, sizeof(cgroup_id),
                                   &entry, sizeof(entry), BPF_ANY);
    if (err) return fail("monitored_cgroups map update: " + errno_text(err));
    // The entry exists before the bit that sends probes looking for it. The
    // .bss is mmapped: an atomic OR is visible to the next probe run.
    const uint32_t bit = static_cast<uint32_t>(cgroup_id & (FNW_CGROUP_FILTER_BITS - 1));
    __atomic_fetch_or(&skel_->bss->monitored_filter[bit / 64], 1ull << (bit % 64), __ATOMIC_SEQ_CST);
    monitored_cgroups_changed();
    return {};
}

// After every write to monitored_cgroups, two epochs move:
// - cgroups_epoch: the dispatchers keep a copy of the entry they last
//   found on each CPU (bpf/policy.bpf.h, fnw_task_cgroup_dispatch), good
//   while it stays where it was before their lookup;
// - lineage_epoch: a cgroup that joins, leaves or changes policy may hold
//   some running function's ancestor, and the kernel keeps each task's
//   lineage until it moves (fnw_lineage_walk).
void ProbeSet::monitored_cgroups_changed() {
    __atomic_fetch_add(&skel_->bss->cgroups_epoch, 1, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&skel_->bss->lineage_epoch, 1, __ATOMIC_SEQ_CST);
}

bool ProbeSet::unmonitor_cgroup(uint64_t cgroup_id) {
    const bool removed =
        bpf_map__delete_elem(skel_->maps.monitored_cgroups, &cgroup_id, sizeof(cgroup_id), 0) == 0;
    // After the entry: a registration made anew starts with no arming
    // cleared. Absent for most cgroups (ENOENT).
    (void)bpf_map__delete_elem(skel_->maps.disarmed_cgroups, &cgroup_id, sizeof(cgroup_id), 0);
    if (removed) monitored_cgroups_changed();
    return removed;
}

// The kernel clears a cgroup's arming flags in disarmed_cgroups as well as
// in the entry (maps.bpf.h); an entry that still shows one was read, or
// rewritten, before the clear. What callers get, and write back, is the
// arming still in force.
fnw_cgroup_entry ProbeSet::without_cleared_arming(uint64_t cgroup_id, fnw_cgroup_entry entry) const {
    if (!(entry.flags & FNW_CGROUP_ARMING_FLAGS)) return entry;
    uint32_t cleared = 0;
    if (bpf_map__lookup_elem(skel_->maps.disarmed_cgroups, &cgroup_id, sizeof(cgroup_id), &cleared,
                             sizeof(cleared), 0) == 0)
        entry.flags &= ~(cleared & FNW_CGROUP_ARMING_FLAGS);
    return entry;
}

std::optional<fnw_cgroup_entry> ProbeSet::monitored_cgroup(uint64_t cgroup_id) const {
    fnw_cgroup_entry entry{};
    if (bpf_map__lookup_elem(skel_->maps.monitored_cgroups, &cgroup_id, sizeof(cgroup_id), &entry,
                             sizeof(entry), 0) != 0)
        return std::nullopt;
    return without_cleared_arming(cgroup_id, entry);
}

std::vector<std::pair<uint64_t, fnw_cgroup_entry>> ProbeSet::monitored_cgroups() const {
    auto entries = map_entries<uint64_t, fnw_cgroup_entry>(skel_->maps.monitored_cgroups);
    for (auto& [cgroup_id, entry] : entries) entry = without_cleared_arming(cgroup_id, entry);
    return entries;
}

size_t ProbeSet::retarget_cgroups(uint32_t from, uint32_t to) {
    size_t changed = 0;
    for (auto [cgroup_id, entry] : monitored_cgroups()) {
        if (entry.policy_id != from) continue;
        entry.policy_id = to;
        // BPF_EXIST: a cgroup removed meanwhile is not brought back.
        if (bpf_map__update_elem(skel_->maps.monitored_cgroups, &cgroup_id, sizeof(cgroup_id), &entry,
                                 sizeof(entry), BPF_EXIST) == 0)
            ++changed;
    }
    if (changed) monitored_cgroups_changed();
    return changed;
}

bool ProbeSet::attached(const ProgramPlace& place) const {
    if (place.family && place.family->attach == AttachPolicy::Dispatched)
        return installed_.count(place.family->family) > 0 && stands_in(*place.program);
    if (!place.family || place.family->attach != AttachPolicy::OnDemand) return true;
    auto links = demand_links_.find(place.family->family);
    return links != demand_links_.end() && !links->second.empty() && stands_in(*place.program);
}

std::vector<ProgramStats> ProbeSet::program_stats() const {
    std::vector<ProgramStats> out;
    bpf_program* prog = nullptr;
    bpf_object__for_each_program(prog, skel_->obj) {
        ProgramStats stats;
        stats.name = bpf_program__name(prog);
        stats.section = bpf_program__section_name(prog);
        const ProgramPlace place = find_program(skel_, prog);
        // An adopted program was loaded by an earlier daemon: its pinned
        // link leads to it.
        auto adopted_link = place.program ? adopted_links_.find(place.program) : adopted_links_.end();
        UniqueFd adopted_fd(adopted_link == adopted_links_.end() ? -1 : program_fd_of(adopted_link->second));
        const int fd = adopted_fd.valid() ? adopted_fd.get() : bpf_program__fd(prog);
        stats.loaded = fd >= 0;
        stats.attached = stats.loaded && attached(place);
        if (stats.loaded) {
            bpf_prog_info info{};
            uint32_t len = sizeof(info);
            if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) {
                stats.run_count = info.run_cnt;
                stats.run_time_ns = info.run_time_ns;
            }
        }
        out.push_back(std::move(stats));
    }
    return out;
}

void ProbeSet::report_cgroup_births(bool on) {
    // .bss is mmapped: the next cgroup_mkdir run sees the store.
    __atomic_store_n(&skel_->bss->report_cgroup_births, on ? 1u : 0u, __ATOMIC_SEQ_CST);
}

int enable_run_time_stats() {
    int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
    return fd >= 0 ? fd : -errno;
}

std::optional<SyscallBitmap> ProbeSet::learned_syscalls(uint32_t policy_id) const {
    fnw_syscall_set set{};
    if (bpf_map__lookup_elem(skel_->maps.learned_syscalls, &policy_id, sizeof(policy_id), &set, sizeof(set), 0) != 0)
        return std::nullopt;
    SyscallBitmap bits;
    for (size_t nr = 0; nr < bits.size(); ++nr)
        if (set.bits[nr / 64] & (1ull << (nr % 64))) bits.set(nr);
    return bits;
}

bool ProbeSet::reset_learned_syscalls(uint32_t policy_id) {
    fnw_syscall_set empty{};
    return bpf_map__update_elem(skel_->maps.learned_syscalls, &policy_id, sizeof(policy_id), &empty, sizeof(empty),
                                BPF_ANY) == 0;
}

std::optional<CodeDirs> ProbeSet::code_dirs(uint32_t policy_id) const {
    auto it = code_dirs_.find(policy_id);
    if (it == code_dirs_.end()) return std::nullopt;
    return it->second;
}

std::optional<GrantUseBits> ProbeSet::grant_use(uint32_t policy_id) const {
    auto layout = use_layouts_.find(policy_id);
    if (layout == use_layouts_.end()) return std::nullopt;  // not written by this process
    GrantUseBits out;
    if (bpf_map__lookup_elem(skel_->maps.rule_use, &policy_id, sizeof(policy_id), &out.bits, sizeof(out.bits), 0) != 0)
        return std::nullopt;
    out.file_slots = layout->second.file_slots;
    out.since = layout->second.since;
    return out;
}

ProbeCounters ProbeSet::counters() const {
    ProbeCounters total;
    int ncpus = libbpf_num_possible_cpus();
    if (ncpus <= 0) return total;
    std::vector<fnw_counters> per_cpu(static_cast<size_t>(ncpus));
    uint32_t zero = 0;
    if (bpf_map__lookup_elem(skel_->maps.counters, &zero, sizeof(zero), per_cpu.data(),
                             per_cpu.size() * sizeof(fnw_counters), 0) != 0)
        return total;
    return sum_per_cpu(per_cpu);
}

std::vector<int> ProbeSet::ringbuf_fds() const {
    return {bpf_map__fd(skel_->maps.alerts), bpf_map__fd(skel_->maps.events)};
}

std::map<uint32_t, uint64_t> ProbeSet::coverage_gaps() const {
    std::map<uint32_t, uint64_t> out;
    const int fd = bpf_map__fd(skel_->maps.coverage_gaps);
    // One batch read of the whole array where the kernel has it (5.6+).
    std::vector<uint32_t> keys(FNW_MAX_POLICIES);
    std::vector<uint64_t> values(FNW_MAX_POLICIES);
    uint32_t count = FNW_MAX_POLICIES, out_batch = 0;
    int err = bpf_map_lookup_batch(fd, nullptr, &out_batch, keys.data(), values.data(), &count, nullptr);
    if (err == 0 || (err < 0 && errno == ENOENT)) {
        for (uint32_t i = 0; i < count; ++i)
            if (values[i]) out[keys[i]] = values[i];
        return out;
    }
    for (uint32_t slot = 0; slot < FNW_MAX_POLICIES; ++slot) {
        uint64_t value = 0;
        if (bpf_map_lookup_elem(fd, &slot, &value) == 0 && value) out[slot] = value;
    }
    return out;
}

}  // namespace fnw
