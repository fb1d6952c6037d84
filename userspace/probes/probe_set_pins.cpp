// SPDX-License-Identifier: Apache-2.0
// ProbeSet's pinned state (pinned_set.hpp): planning where the set lives,
// adopting what an earlier daemon left attached, pinning what this one
// attaches, and removing pins.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "common/boot_clock.hpp"
#include "probes/probe_families.hpp"
#include "probes/probe_set.hpp"

#include "fnwarden_bpf.skel.h"

namespace fnw {
namespace {

std::string errno_text(int err) { return std::strerror(err < 0 ? -err : err); }

// Where the skeleton keeps `prog`'s link (fnwarden_bpf__attach fills it).
bpf_link** skeleton_link_slot(fnwarden_bpf* skel, const bpf_program* prog) {
    for (int i = 0; i < skel->skeleton->prog_cnt; ++i)
        if (*skel->skeleton->progs[i].prog == prog) return skel->skeleton->progs[i].link;
    return nullptr;
}

}  // namespace

const char* to_string(PinnedOrigin origin) {
    switch (origin) {
    case PinnedOrigin::Unpinned: return "unpinned";
    case PinnedOrigin::Fresh: return "fresh";
    case PinnedOrigin::Adopted: return "adopted";
    case PinnedOrigin::Replacing: return "replacing";
    }
    return "?";
}

Result<std::optional<PinnedSetPaths>> ProbeSet::plan_pins(const ProbeOptions& options, PinnedState& state,
                                                           UniqueFd& lock) {
    if (options.pin_root.empty()) return std::optional<PinnedSetPaths>();
    if (Status ready = prepare_pin_root(options.pin_root); !ready) {
        state.why_unpinned = ready.error();
        spdlog::warn("probes not pinned, enforcement ends with this process: {}", ready.error());
        return std::optional<PinnedSetPaths>();
    }
    // Not a fallback to unpinned: a second daemon on the same set would
    // take the first one's slots for its own.
    auto locked = lock_pin_root(options.pin_root);
    if (!locked) return Error{locked.error()};
    lock = std::move(*locked);
    size_t size = 0;
    const void* object = fnwarden_bpf__elf_bytes(&size);
    PinnedSetPaths paths{options.pin_root / pinned_set_name({static_cast<const std::byte*>(object), size},
                                                            options.ringbuf_bytes, options.alerts_ringbuf_bytes)};
    for (const auto& set : pinned_sets(options.pin_root))
        if (set != paths.dir) state.replaced.push_back(set);
    std::error_code ec;
    const bool ours = std::filesystem::exists(paths.maps(), ec);
    state.origin = ours ? PinnedOrigin::Adopted : state.replaced.empty() ? PinnedOrigin::Fresh : PinnedOrigin::Replacing;
    state.dir = paths.dir;
    std::filesystem::create_directories(paths.links(), ec);
    std::filesystem::create_directories(paths.maps(), ec);
    if (ec) {
        state = PinnedState{};
        state.why_unpinned = "cannot make " + paths.dir.string() + ": " + ec.message();
        spdlog::warn("probes not pinned, enforcement ends with this process: {}", state.why_unpinned);
        return std::optional<PinnedSetPaths>();
    }
    return std::optional<PinnedSetPaths>(paths);
}

// The maps this load made (an adopted map is pinned already).
Status ProbeSet::pin_maps() {
    bpf_map* map = nullptr;
    bpf_object__for_each_map(map, skel_->obj) {
        if (bpf_map__is_pinned(map)) continue;
        const auto path = pins_->maps() / pin_name(bpf_map__name(map));
        if (int err = bpf_map__pin(map, path.c_str()))
            return fail("cannot pin map " + path.string() + ": " + errno_text(err));
    }
    return {};
}

// Every link an earlier daemon pinned, put where this set keeps its own
// links, so that status, the destructor and the on-demand attaches see it.
Status ProbeSet::adopt_pinned_links() {
    std::error_code ec;
    for (const ProbeFamilyEntry& family : probe_families()) {
        // Dispatched programs have no link: the pinned prog arrays keep them.
        if (family.attach == AttachPolicy::Never || family.attach == AttachPolicy::Dispatched) continue;
        for (const ProbeProgram& program : family.programs) {
            bpf_program* prog = program_of(skel_, program);
            const auto path = pins_->links() / bpf_program__name(prog);
            if (!std::filesystem::exists(path, ec)) continue;
            bpf_link* link = bpf_link__open(path.c_str());
            if (!link) return fail("cannot adopt pinned link " + path.string() + ": " + errno_text(errno));
            adopted_links_[&program] = link;
            if (family.attach == AttachPolicy::WithSkeleton) {
                if (bpf_link** slot = skeleton_link_slot(skel_, prog)) *slot = link;
            } else if (family.attach == AttachPolicy::CgroupRoot) {
                cgroup_links_.push_back(link);
            } else {
                demand_links_[family.family].push_back(link);
            }
        }
    }
    pinned_.adopted_links = adopted_links_.size();
    if (pinned_.origin == PinnedOrigin::Adopted) read_heartbeat();
    return {};
}

void ProbeSet::read_heartbeat() {
    const uint64_t last = __atomic_load_n(&skel_->bss->reader_heartbeat_ns, __ATOMIC_SEQ_CST);
    const uint64_t now = boot_now_ns();
    if (last && last <= now) pinned_.unread_gap = std::chrono::nanoseconds(now - last);
}

void ProbeSet::pin_link(bpf_link* link, const ProbeProgram& program) {
    if (!pins_) return;
    const char* name = bpf_program__name(program_of(skel_, program));
    const auto path = pins_->links() / name;
    if (int err = bpf_link__pin(link, path.c_str())) {
        pinned_.unpinned_links.push_back(std::string(name) + ": " + errno_text(err));
        spdlog::warn("{} not pinned ({}): it stops with this process", name, errno_text(err));
    }
}

Status ProbeSet::retire_replaced_sets() {
    for (auto it = pinned_.replaced.begin(); it != pinned_.replaced.end();) {
        if (Status removed = remove_pinned_set(*it); !removed) return removed;
        spdlog::info("pinned set {} replaced: unpinned", it->string());
        it = pinned_.replaced.erase(it);
    }
    return {};
}

Status ProbeSet::unpin() {
    if (!pins_) return {};
    if (Status removed = remove_pinned_set(pins_->dir); !removed) return removed;
    pins_.reset();
    return {};
}

void ProbeSet::mark_drained(uint64_t boot_ns) {
    __atomic_store_n(&skel_->bss->reader_heartbeat_ns, boot_ns, __ATOMIC_SEQ_CST);
}

Status ProbeSet::set_slot_owner(uint32_t slot, const SlotOwner& owner) {
    fnw_slot_owner value{};
    // Truncated names stay NUL-terminated: the array is one longer than copied.
    owner.function.copy(value.function, sizeof(value.function) - 1);
    owner.policy.copy(value.policy, sizeof(value.policy) - 1);
    value.mode = owner.mode == Mode::Enforce ? 1 : 0;
    if (int err = bpf_map__update_elem(skel_->maps.slot_owners, &slot, sizeof(slot), &value, sizeof(value), BPF_ANY))
        return fail("slot_owners map update: " + errno_text(err));
    return {};
}

std::map<uint32_t, SlotOwner> ProbeSet::slot_owners() const {
    std::map<uint32_t, SlotOwner> owners;
    for (uint32_t slot = 0; slot < FNW_MAX_POLICIES; ++slot) {
        fnw_slot_owner value{};
        if (bpf_map__lookup_elem(skel_->maps.slot_owners, &slot, sizeof(slot), &value, sizeof(value), 0) != 0) continue;
        value.function[sizeof(value.function) - 1] = '\0';
        value.policy[sizeof(value.policy) - 1] = '\0';
        if (value.function[0])
            owners[slot] = SlotOwner{value.function, value.policy, value.mode == 1 ? Mode::Enforce : Mode::Audit};
    }
    return owners;
}

int program_fd_of(bpf_link* link) {
    bpf_link_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(bpf_link__fd(link), &info, &len) != 0) return -1;
    return bpf_prog_get_fd_by_id(info.prog_id);
}

}  // namespace fnw
