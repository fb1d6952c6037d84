// SPDX-License-Identifier: Apache-2.0
// The loaded and attached BPF programs and their maps, as one RAII object.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <fnwarden/events.h>
#include <fnwarden/kernel_abi.h>
#include <fnwarden/limits.h>

#include "common/result.hpp"
#include "core/kernel_policy.hpp"
#include "core/policy.hpp"
#include "probes/kernel_capabilities.hpp"
#include "probes/kernel_maps.hpp"
#include "probes/pinned_set.hpp"
#include "probes/probe_counters.hpp"
#include "probes/root_opener.hpp"

struct fnwarden_bpf;  // generated skeleton
struct bpf_link;

namespace fnw {

// What a caller's policies need of the on-demand families (ProbeOptions::needs).
struct ProbeNeeds {
    bool files = true;     // FileSyscalls and their exit handler: a files section, or a trace
    bool network = true;   // NetSyscalls (accept exits, unix connects): a network section, or a trace
    bool process = true;   // ProcessSyscalls: a process section
    bool landlock = true;  // LandlockReporting: Landlock may refuse (files, exec, network sections)
};

struct ProbeOptions {
    // cgroup v2 mount: the network hooks attach here, covering every cgroup.
    std::filesystem::path cgroup2_root;
    // Power of two, multiple of the page size (kernel rule for ring buffers).
    uint32_t ringbuf_bytes = FNW_RINGBUF_DEFAULT_BYTES;
    uint64_t ringbuf_wakeup_bytes = FNW_RINGBUF_DEFAULT_WAKEUP_BYTES;
    // The alerts ring (violations, cgroup births): same rules. It is woken
    // at min(ringbuf_wakeup_bytes, a quarter of it).
    uint32_t alerts_ringbuf_bytes = FNW_ALERTS_RINGBUF_DEFAULT_BYTES;
    // What the caller probed (after mount_kernel_filesystems), so that
    // status and the load read one answer; probed here when absent.
    std::optional<KernelCapabilities> capabilities;
    // bpffs directory to pin the set under (pinned_set.hpp), so that its
    // programs stay attached after this process exits; a set found there
    // for the same build is adopted. Empty: nothing is pinned, and the
    // programs go with the process (`fnwarden run` alone, tests).
    std::filesystem::path pin_root;
    // The on-demand families a short-lived caller will ask for; the others
    // are not loaded at all (bpf_program__set_autoload(false)), which spares
    // their verification: fnw_file_exit alone took 0.2 s of `run`'s start
    // here. Unset: every program, as the daemon (any policy may come) needs.
    std::optional<ProbeNeeds> needs;
};

// How this probe set came to be, for status and for the daemon's start-up.
enum class PinnedOrigin {
    Unpinned,   // no pin root, or an unusable one (why_unpinned)
    Fresh,      // nothing was pinned: loaded, attached and pinned now
    Adopted,    // the same build's pinned set: its links and maps taken over
    Replacing,  // another build's set is pinned: ours runs beside it until
                // retire_replaced_sets() removes it
};
const char* to_string(PinnedOrigin origin);

struct PinnedState {
    PinnedOrigin origin = PinnedOrigin::Unpinned;
    std::filesystem::path dir;     // our set's directory
    std::string why_unpinned;      // a pin root was asked for but could not be used
    std::vector<std::filesystem::path> replaced;  // other sets, still attached
    size_t adopted_links = 0;
    std::vector<std::string> unpinned_links;  // attached but not pinned: "program: why"
    // Adopted: how long no daemon drained the rings before this one (from
    // the previous daemon's last heartbeat); unknown when it never wrote one.
    std::optional<std::chrono::nanoseconds> unread_gap;
};

// One loaded BPF program and what the kernel's bpf_stats say about it
// (run counts stay 0 unless stats are on: see enable_run_time_stats).
struct ProgramStats {
    std::string name;
    std::string section;  // e.g. "tp_btf/sys_enter": says where it hooks
    bool loaded = false;
    bool attached = false;  // sys_exit is attached only on demand
    uint64_t run_count = 0;
    uint64_t run_time_ns = 0;
};

class ProbeSet;
struct ProbeProgram;
struct ProgramPlace;
enum class ProbeFamily;

class ProbeSet : public KernelMaps {
public:
    // Opens, loads (verifier) and attaches every program.
    static Result<std::unique_ptr<ProbeSet>> load(const ProbeOptions& options);

    ~ProbeSet() override;
    ProbeSet(const ProbeSet&) = delete;
    ProbeSet& operator=(const ProbeSet&) = delete;

    const PinnedState& pinned() const { return pinned_; }
    // Unpins and so detaches the other builds' sets (PinnedOrigin::Replacing),
    // once this set guards every cgroup they did.
    Status retire_replaced_sets();
    // Removes this set's pins: the kernel detaches the programs when this
    // probe set is destroyed (`daemon --unload-on-exit`).
    Status unpin();
    // The daemon drained the rings at `boot_ns` (CLOCK_BOOTTIME): kept in
    // the pinned .bss, for the next daemon's unread_gap.
    void mark_drained(uint64_t boot_ns);
    Status set_slot_owner(uint32_t slot, const SlotOwner& owner) override;
    std::map<uint32_t, SlotOwner> slot_owners() const override;

    // Writes a compiled policy into slot `policy_id`, with its network rules
    // (replacing any the slot had before).
    Status set_policy(uint32_t policy_id, const fnw_policy& policy);
    Status set_policy(uint32_t policy_id, const FunctionPolicy& policy, Mode mode) override;
    Status monitor_cgroup(uint64_t cgroup_id, const fnw_cgroup_entry& entry) override;
    bool unmonitor_cgroup(uint64_t cgroup_id) override;
    std::optional<fnw_cgroup_entry> monitored_cgroup(uint64_t cgroup_id) const override;
    // Every monitored cgroup, inherited children included (a snapshot).
    std::vector<std::pair<uint64_t, fnw_cgroup_entry>> monitored_cgroups() const override;
    // Points every entry that uses policy slot `from` at slot `to`, flags
    // kept. Returns how many entries changed. Children created by
    // cgroup_mkdir while this runs may still copy `from`: callers keep the
    // old slot valid and sweep again (see daemon/policy_slots.hpp).
    size_t retarget_cgroups(uint32_t from, uint32_t to) override;

    // fnwarden learn: the syscalls seen for `policy_id` since the last reset.
    std::optional<SyscallBitmap> learned_syscalls(uint32_t policy_id) const;
    bool reset_learned_syscalls(uint32_t policy_id);

    // Grants of slot `policy_id` used since set_policy wrote it (rule_use,
    // with the file patterns' slots): for `fnwarden policy report`.
    std::optional<GrantUseBits> grant_use(uint32_t policy_id) const override;
    std::optional<CodeDirs> code_dirs(uint32_t policy_id) const override;

    // Installs the file syscall handlers (files.bpf.c: the enter handlers
    // of 24 syscalls and their exit handler) in the raw sys_enter/sys_exit
    // dispatch, attaching the sys_exit dispatcher first. Done on demand, by
    // set_policy for a policy with a files section and by monitor_cgroup
    // for a traced cgroup: the raw sys_exit costs every syscall on the host
    // its fast path, which a probe set that never needs it should not pay.
    // Idempotent; they stay installed for the life of the probe set.
    Status attach_file_probes();
    bool file_probes_attached() const;
    // Likewise net.bpf.c's syscall handlers (accept/accept4 exits, unix
    // connects), for a policy with a network section or a traced cgroup.
    Status attach_net_probes();
    // process.bpf.c's syscall handlers, for the process rules whose LSM
    // hook this kernel does not run; installed on demand like the others.
    Status attach_process_probes();

    // Installs the sys_exit handler that reports Landlock denials
    // (landlock.bpf.c), with the sys_exit dispatcher. Idempotent; it stays
    // for the life of the probe set.
    Status attach_landlock_reporting();

    // Remembers an open userspace found allowed, so the kernel answers the
    // same access itself from now on (file_verdicts).
    bool remember_allowed_file(const fnw_file_verdict_key& key);

    // The threads the probes stopped until userspace's verdict (holds map,
    // fnw_hold): a snapshot, and the end of one thread's hold. end_hold()
    // says whether another thread of the same process is still held (the
    // process may only go on when none is).
    std::vector<std::pair<uint32_t, fnw_hold>> holds() const;
    bool end_hold(uint32_t tid, uint32_t tgid);

    // The kernel's (dev, inode, generation) of this process's open `fd`
    // (identity.bpf.c): what file_rules are keyed on. nullopt when the
    // iterator cannot run. One thread at a time (it sets .bss globals).
    std::optional<fnw_object_identity> object_identity(int fd) const;
    ObjectIdentityFn identity_fn() const;

    // What violation_tally (kernel_abi.h) counted since the last call:
    // repeats of one violation the kernel acted on instead of reporting
    // each, one FNW_EVENT_VIOLATION_SUMMARY per key that grew. Call about
    // once a second (and once more at the end). Reads only: the kernel's
    // counts only grow, and this remembers how far it reported them.
    std::vector<fnw_violation_summary_event> take_violation_summaries();
    // Repeats reported so far (all keys), for status.
    uint64_t violation_repeats_reported() const { return repeats_reported_total_; }

    // Re-reads the identities of slot `policy_id`'s file rules, after the
    // kernel found a rule's object deleted and made again
    // (FNW_OBJECT_RULE_REPLACED): the new object gets the grant in the
    // kernel again. At most once per kFileRulesRefreshInterval per slot;
    // in between, userspace's name match decides.
    static constexpr std::chrono::milliseconds kFileRulesRefreshInterval{500};
    Status refresh_file_rules(uint32_t policy_id);

    // Slot `policy_id`'s file and exec rules compiled in the root of process
    // `pid` too (a container's, a chroot's: probes/root_opener.hpp), so that
    // a miss by a task in that root is the kernel's to decide (rules_roots).
    // False when that root is fnwarden's own or has its rules already. Its
    // roots are compiled again with every refresh; a root whose process is
    // gone is dropped then (probe_set_roots.cpp).
    Result<bool> add_rules_root(uint32_t policy_id, pid_t pid) override;
    // Recompiles each slot with a root whose process is gone, without it:
    // its objects' keys go too (an overlay's device number is reused by
    // the next mount). Once a second, from the daemon's loop.
    Status sweep_rules_roots();
    // The roots slot `policy_id` has rules for besides fnwarden's.
    size_t rules_root_count(uint32_t policy_id) const;
    std::vector<CompiledRoot> rules_roots(uint32_t policy_id) const override;
    uint64_t file_rule_refreshes() const { return file_rule_refreshes_; }

    ProbeCounters counters() const;
    std::vector<ProgramStats> program_stats() const;

    // Report every cgroup created on the default hierarchy as an
    // FNW_EVENT_CGROUP record (for selectors that find functions by path).
    void report_cgroup_births(bool on) override;
    // The ring buffers to read, alerts (violations, births) first: a
    // consumer must read all of them (RingBufferConsumer::create).
    std::vector<int> ringbuf_fds() const;

    // coverage_gaps per policy slot, as the kernel counts them (never
    // reset: readers keep their own baseline). Zeros left out.
    std::map<uint32_t, uint64_t> coverage_gaps() const;

    // Whether any BPF-LSM program loaded; if none did, why (for --explain).
    bool lsm_available() const { return lsm_error_.empty(); }
    const std::string& lsm_error() const { return lsm_error_; }
    // Per LSM hook of the object (file_open, bprm_check_security, ...): ""
    // when its program is loaded, else why not.
    const std::map<std::string, std::string>& lsm_hooks() const { return lsm_hooks_; }
    bool lsm_hook_loaded(const std::string& hook) const {
        auto it = lsm_hooks_.find(hook);
        return it != lsm_hooks_.end() && it->second.empty();
    }

private:
    explicit ProbeSet(fnwarden_bpf* skel) : skel_(skel) {}
    // fill_path_args, the skeleton's attach, the cgroup hooks on the root.
    Status attach_at_load(const std::filesystem::path& cgroup2_root);
    // `entry` less the arming flags the kernel has cleared for the cgroup.
    fnw_cgroup_entry without_cleared_arming(uint64_t cgroup_id, fnw_cgroup_entry entry) const;
    // After every write to monitored_cgroups: moves the epochs of the
    // kernel's copies (the dispatchers' last entry, every task's lineage).
    void monitored_cgroups_changed();
    // Pinning (probe_set_pins.cpp): links found pinned are taken over
    // before anything attaches; links made here are pinned after.
    static Result<std::optional<PinnedSetPaths>> plan_pins(const ProbeOptions& options, PinnedState& state,
                                                          UniqueFd& lock);
    Status pin_maps();
    Status adopt_pinned_links();
    void read_heartbeat();
    // Pins a link this process made; a failure is logged and listed in
    // status (that program would go with this process).
    void pin_link(bpf_link* link, const ProbeProgram& program);
    std::function<void(bpf_link*, const ProbeProgram&)> pin_new() {
        return [this](bpf_link* link, const ProbeProgram& program) { pin_link(link, program); };
    }
    bool adopted(const ProbeProgram& program) const { return adopted_links_.count(&program) > 0; }
    // A stand-in for an LSM hook runs only where that hook did not load.
    bool stands_in(const ProbeProgram& program) const;
    bool attached(const ProgramPlace& place) const;
    // The Dispatched programs of `family` that `wanted` picks, put at their
    // syscalls' numbers (ProbeProgram::syscalls), all or none.
    Status install_handlers(ProbeFamily family, const std::function<bool(const ProbeProgram&)>& wanted);
    Status attach_exit_dispatch();
    Status replace_net_rules(uint32_t policy_id, const NetworkRules& rules);
    Status replace_exec_rules(uint32_t policy_id, const ExecRules& rules,
                              const std::map<std::string, uint16_t>& use_slots);
    Status replace_file_rules(uint32_t policy_id, const KernelFileRules& rules);
    void forget_file_verdicts(uint32_t policy_id);
    // Compiles the slot's rules in fnwarden's root and in each of its
    // rules_roots_, and writes them with `policy` (the slot's, from the
    // kernel): rights that stop being complete stop before the rules change.
    Status recompile_file_rules(uint32_t policy_id, const fnw_policy& policy);
    // Whether `root` is still lived in: its process, or another process of
    // the cgroup it was in that has the same root (which then replaces it).
    bool keep_root(RootOpener& root) const;
    void forget_rules_roots(uint32_t policy_id);

    fnwarden_bpf* skel_;
    std::vector<bpf_link*> cgroup_links_;  // the sock_addr hooks at the cgroup2 root
    // The AttachPolicy::OnDemand families attached so far (probe_families.hpp).
    std::map<ProbeFamily, std::vector<bpf_link*>> demand_links_;
    // The AttachPolicy::Dispatched families installed so far.
    std::set<ProbeFamily> installed_;
    // Each slot's files and exec sections, for refresh_file_rules.
    struct FileSections {
        FileRules files;
        ExecRules exec;
        std::vector<CodePin> code_pins;
        std::optional<std::chrono::steady_clock::time_point> last_refresh;
    };
    // Per slot: where its file patterns are counted, and since when.
    struct UseLayout {
        std::map<std::string, uint16_t> file_slots;
        std::chrono::steady_clock::time_point since;
    };
    std::map<uint32_t, UseLayout> use_layouts_;
    std::map<uint32_t, CodeDirs> code_dirs_;  // per slot, as last compiled
    std::map<uint32_t, FileSections> file_sections_;
    std::filesystem::path cgroup2_root_;  // where a root's other processes are looked for
    // Per slot: the roots besides fnwarden's its rules are compiled in.
    std::map<uint32_t, std::map<RootIdentity, RootOpener>> rules_roots_;
    // violation_tally keys -> how many repeats were reported, and the last one's time.
    using ViolationKey = std::tuple<uint64_t, uint32_t, uint32_t, uint64_t>;
    struct ReportedRepeats {
        uint64_t repeats = 0;
        uint64_t last_ns = 0;
    };
    std::map<ViolationKey, ReportedRepeats> reported_repeats_;
    bool reported_loaded_ = false;
    void load_reported_repeats();
    void store_reported_repeats(const std::map<ViolationKey, ReportedRepeats>& now);
    uint64_t repeats_reported_total_ = 0;
    uint64_t file_rule_refreshes_ = 0;
    std::optional<PinnedSetPaths> pins_;
    UniqueFd pin_lock_;  // held for the life of the set (lock_pin_root)
    PinnedState pinned_;
    // Programs this process did not load: their pinned link was adopted.
    std::map<const ProbeProgram*, bpf_link*> adopted_links_;
    std::string lsm_error_;                // empty when some lsm program loaded
    std::map<std::string, std::string> lsm_hooks_;  // hook -> "" (loaded) or why not
};

// Turns on the kernel's per-program run count/time accounting for as long
// as the returned fd is open (BPF_ENABLE_STATS); -errno when refused. It
// costs two clock reads per program run, so only the daemon asks for it.
int enable_run_time_stats();

// The program `link` runs, as a new fd the caller closes; -1 when the
// kernel will not say (an adopted link's program was loaded by another
// process, so libbpf has no bpf_program for it).
int program_fd_of(bpf_link* link);

}  // namespace fnw
