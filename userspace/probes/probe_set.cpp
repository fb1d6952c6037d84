#include "probes/probe_set.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <fstream>
#include <map>
#include <optional>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "common/kernel_dev.hpp"
#include "common/unique_fd.hpp"
#include "core/display_name.hpp"
#include "core/path_glob.hpp"
#include "core/syscall_table.hpp"

#include "fnwarden_bpf.skel.h"

namespace fnw {
namespace {

std::string errno_text(int err) { return std::strerror(err < 0 ? -err : err); }

// libbpf's own messages go through our logger: warnings stay visible, its
// chatty info lines (e.g. the skipped BTF-anchor section) only at debug.
// One libbpf message, formatted and without its trailing newlines; nullopt
// if it cannot be formatted. Sized to the message: a verifier log is one
// call and can be megabytes; cutting it would hide the line that says why a
// program was rejected.
std::optional<std::string> format_libbpf_message(const char* format, va_list args) {
    va_list probe;
    va_copy(probe, args);
    const int n = vsnprintf(nullptr, 0, format, probe);
    va_end(probe);
    if (n < 0) return std::nullopt;
    std::string text(static_cast<size_t>(n) + 1, '\0');
    vsnprintf(text.data(), text.size(), format, args);
    text.resize(static_cast<size_t>(n));
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
}

int forward_libbpf_log(enum libbpf_print_level level, const char* format, va_list args) {
    const auto message = format_libbpf_message(format, args);
    if (!message) return -1;
    const std::string& text = *message;
    switch (level) {
    case LIBBPF_WARN: spdlog::warn("libbpf: {}", text); break;
    case LIBBPF_INFO: spdlog::debug("libbpf: {}", text); break;
    case LIBBPF_DEBUG: spdlog::trace("libbpf: {}", text); break;
    }
    return static_cast<int>(text.size());
}

// Keeps the tail of libbpf's messages while a load is tried quietly (the
// optional LSM programs), so that a refusal can say which program and why
// instead of only "Invalid argument". libbpf's print callback takes no
// context pointer: the buffer is reachable only while this object lives.
class LibbpfLogCapture {
public:
    LibbpfLogCapture() {
        sink() = this;
        libbpf_set_print(capture);
    }
    ~LibbpfLogCapture() {
        libbpf_set_print(forward_libbpf_log);
        sink() = nullptr;
    }
    LibbpfLogCapture(const LibbpfLogCapture&) = delete;
    LibbpfLogCapture& operator=(const LibbpfLogCapture&) = delete;

    // "prog 'NAME': <the verifier's last words>", else what libbpf first
    // complained about.
    std::string refusal() const {
        if (failed_prog_.empty()) return first_warning_;
        std::string last;
        for (size_t i = 1; i < lines_.size(); ++i) {
            // The last line of the verifier's log, or the one before
            // "processed N insns" when it got that far.
            if (lines_[i].find("END PROG LOAD LOG") == std::string::npos) continue;
            last = lines_[i - 1];
            if (last.rfind("processed ", 0) == 0 && i > 1) last = lines_[i - 2];
        }
        return failed_prog_ + (last.empty() ? "" : ": " + last);
    }

private:
    static LibbpfLogCapture*& sink() {
        static LibbpfLogCapture* current = nullptr;
        return current;
    }
    static int capture(enum libbpf_print_level level, const char* format, va_list args) {
        auto message = format_libbpf_message(format, args);
        if (!message) return -1;
        const std::string text = std::move(*message);
        const int n = static_cast<int>(text.size());
        LibbpfLogCapture* self = sink();
        if (!self) return n;
        if (level == LIBBPF_WARN && self->first_warning_.empty()) self->first_warning_ = text;
        if (auto at = text.find("prog '"); self->failed_prog_.empty() && at != std::string::npos &&
                                           text.find("load failed") != std::string::npos)
            self->failed_prog_ = text.substr(at, text.find('\'', at + 6) + 1 - at);
        for (size_t start = 0; start < text.size();) {
            size_t end = text.find('\n', start);
            if (end == std::string::npos) end = text.size();
            if (end > start) self->lines_.push_back(text.substr(start, end - start));
            if (self->lines_.size() > 64) self->lines_.pop_front();  // a verifier log can be megabytes
            start = end + 1;
        }
        return n;
    }

    std::deque<std::string> lines_;  // the tail: a verifier log can be megabytes
    std::string first_warning_;
    std::string failed_prog_;  // "prog 'NAME'" of the first program refused
};

// Where each syscall Landlock can refuse keeps its path or sockaddr, by name
// from the generated table (landlock.bpf.c reads it at sys_exit).
std::string fill_path_args(fnwarden_bpf* skel) {
    struct PathArg {
        const char* name;
        uint8_t index;
        bool has_dfd;
    };
    static constexpr PathArg kPathArgs[] = {
        {"open", 0, false},     {"creat", 0, false},    {"openat", 1, true},    {"openat2", 1, true},
        {"mkdir", 0, false},    {"mkdirat", 1, true},   {"mknod", 0, false},    {"mknodat", 1, true},
        {"unlink", 0, false},   {"unlinkat", 1, true},  {"rmdir", 0, false},    {"rename", 0, false},
        {"renameat", 1, true},  {"renameat2", 1, true}, {"link", 1, false},     {"linkat", 3, true},
        {"symlink", 1, false},  {"symlinkat", 2, true}, {"truncate", 0, false}, {"execve", 0, false},
        {"execveat", 1, true},
    };
    for (const auto& arg : kPathArgs) {
        auto nr = SyscallTable::number(arg.name);
        if (!nr) continue;  // e.g. openat2 on headers older than 5.6
        uint32_t key = static_cast<uint32_t>(*nr);
        const bool exec = std::string_view(arg.name).rfind("execve", 0) == 0;
        uint8_t value = static_cast<uint8_t>((arg.index + 1) | (arg.has_dfd ? FNW_PATH_ARG_HAS_DFD : 0) |
                                             (exec ? FNW_PATH_ARG_EXEC : 0));
        if (int err = bpf_map__update_elem(skel->maps.path_args, &key, sizeof(key), &value, sizeof(value), BPF_ANY))
            return std::string("path_args map update: ") + errno_text(err);
    }
    // Landlock's TCP rights (ABI 4): connect(fd, addr, len), bind(fd, addr, len).
    for (auto [name, flags] : {std::pair{"connect", FNW_PATH_ARG_SOCKADDR}, {"bind", FNW_PATH_ARG_SOCKADDR | FNW_PATH_ARG_BIND}}) {
        auto nr = SyscallTable::number(name);
        if (!nr) continue;
        uint32_t key = static_cast<uint32_t>(*nr);
        uint8_t value = static_cast<uint8_t>((1 + 1) | flags);
        if (int err = bpf_map__update_elem(skel->maps.path_args, &key, sizeof(key), &value, sizeof(value), BPF_ANY))
            return std::string("path_args map update: ") + errno_text(err);
    }
    return "";
}

// Deletes every key of `map` that `owned` picks. Keys are collected first:
// deleting while walking with get_next_key would restart the walk.
template <typename Key, typename Owned>
void delete_keys_where(bpf_map* map, Owned owned) {
    std::vector<Key> stale;
    Key key{}, next{};
    const void* prev = nullptr;
    while (bpf_map__get_next_key(map, prev, &next, sizeof(next)) == 0) {
        if (owned(next)) stale.push_back(next);
        key = next;
        prev = &key;
    }
    for (const auto& k : stale) bpf_map__delete_elem(map, &k, sizeof(k), 0);
}

// Replaces a policy slot's keys in a map keyed per policy: first deletes
// every key `owned` says belongs to the slot (left by an earlier policy in
// it), then writes `keys`, the i-th with value_for(i).
template <typename Key, typename ValueFor, typename Owned>
bool replace_policy_keys(bpf_map* map, const std::vector<Key>& keys, ValueFor value_for, Owned owned,
                         std::string* error) {
    delete_keys_where<Key>(map, owned);
    for (size_t i = 0; i < keys.size(); ++i) {
        const auto value = value_for(i);
        if (int err = bpf_map__update_elem(map, &keys[i], sizeof(keys[i]), &value, sizeof(value), BPF_ANY)) {
            if (error) *error = std::string(bpf_map__name(map)) + " map update: " + errno_text(err);
            return false;
        }
    }
    return true;
}

// The file probes attach to syscalls/* tracepoints, which libbpf finds in
// tracefs. A fresh machine may not have it mounted (systemd normally does):
// mount it rather than run without file monitoring.
std::string ensure_tracefs() {
    if (::access("/sys/kernel/tracing/events", F_OK) == 0 || ::access("/sys/kernel/debug/tracing/events", F_OK) == 0)
        return "";
    if (::mount("nodev", "/sys/kernel/tracing", "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
        return "tracefs is not mounted and mounting it at /sys/kernel/tracing failed: " + errno_text(errno);
    spdlog::info("mounted tracefs at /sys/kernel/tracing (the file probes attach to syscall tracepoints)");
    return "";
}

// The active LSMs, as /sys/kernel/security/lsm lists them ("" if unknown).
// securityfs is mounted if it is not: whether "bpf" is active decides
// whether lsm/ programs would ever be called.
std::string active_lsm_list() {
    auto read = [] {
        std::ifstream in("/sys/kernel/security/lsm");
        std::string list;
        std::getline(in, list);
        return list;
    };
    if (std::string list = read(); !list.empty()) return list;
    if (::mount("securityfs", "/sys/kernel/security", "securityfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) == 0)
        spdlog::info("mounted securityfs at /sys/kernel/security (to see whether the bpf LSM is active)");
    return read();
}

// Why this kernel would not run a BPF-LSM program on `hook`, or "" if it
// would. Checked per hook before the real load, so one missing hook costs
// only itself: the bpf LSM must be active (without it lsm/ programs load
// and attach and are never called: a silent hole), the hook must exist in
// this kernel, and the verifier must take an LSM program there (a
// two-instruction probe, loaded and closed).
// Programs on hooks whose argument list changed across kernels, and how
// many arguments each is written for: an LSM program reads its arguments by
// position, so on a kernel with another count it would take the wrong one
// for `ret` (or not load, taking every other hook with it). Where both
// prototypes are in use, the hook has one program for each.
std::string lsm_program_arity_mismatch(const std::string& program, const std::string& hook) {
    static const std::map<std::string, unsigned> kArity = {
        {"fnw_lsm_path_rename", 5},  // `flags` since 5.19
        {"fnw_lsm_bpf", 3},          // up to 6.15
        {"fnw_lsm_bpf_kernel", 4},   // `kernel` since 6.16
    };
    auto wanted = kArity.find(program);
    if (wanted == kArity.end()) return "";
    std::unique_ptr<btf, decltype(&btf__free)> vmlinux(btf__load_vmlinux_btf(), btf__free);
    if (!vmlinux) return "cannot read the kernel's BTF to check lsm/" + hook + "'s arguments";
    const int id = btf__find_by_name_kind(vmlinux.get(), ("bpf_lsm_" + hook).c_str(), BTF_KIND_FUNC);
    const btf_type* func = id > 0 ? btf__type_by_id(vmlinux.get(), id) : nullptr;
    const btf_type* proto = func ? btf__type_by_id(vmlinux.get(), func->type) : nullptr;
    if (!proto || !btf_is_func_proto(proto)) return "the kernel's BTF has no prototype for bpf_lsm_" + hook;
    if (btf_vlen(proto) != wanted->second)
        return "lsm/" + hook + " takes " + std::to_string(btf_vlen(proto)) + " arguments on this kernel, fnwarden's takes " +
               std::to_string(wanted->second);
    return "";
}

std::string lsm_hook_unusable(const std::string& hook, const std::string& active_lsms) {
    if (!active_lsms.empty() && ("," + active_lsms + ",").find(",bpf,") == std::string::npos)
        return "kernel lacks bpf in /sys/kernel/security/lsm (" + active_lsms + ")";
    const int btf_id = libbpf_find_vmlinux_btf_id(hook.c_str(), BPF_LSM_MAC);
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

// The file probes: every program on a syscalls/* tracepoint.
bool is_syscall_tracepoint(const bpf_program* prog) {
    return std::string_view(bpf_program__section_name(prog)).rfind("tracepoint/syscalls/", 0) == 0;
}

// net.bpf.c's syscall tracepoints (accept, unix connect): fnw_net_*.
bool is_net_probe(const bpf_program* prog) {
    return is_syscall_tracepoint(prog) && std::string_view(bpf_program__name(prog)).rfind("fnw_net_", 0) == 0;
}

// process.bpf.c's stand-ins for its LSM hooks: fnw_proc_*.
bool is_process_probe(const bpf_program* prog) {
    return is_syscall_tracepoint(prog) && std::string_view(bpf_program__name(prog)).rfind("fnw_proc_", 0) == 0;
}

bool is_file_probe(const bpf_program* prog) {
    return is_syscall_tracepoint(prog) && !is_net_probe(prog) && !is_process_probe(prog);
}

// The LSM hook each process stand-in replaces: attached only where that
// hook did not load, so one operation is reported once. A stand-in missing
// here has no hook ("") and is always attached.
std::string process_probe_hook(std::string_view program) {
    static const std::map<std::string_view, std::string> kHookOf = {
        {"fnw_proc_enter_ptrace", "ptrace_access_check"},
        {"fnw_proc_enter_process_vm_readv", "ptrace_access_check"},
        {"fnw_proc_enter_process_vm_writev", "ptrace_access_check"},
        {"fnw_proc_enter_bpf", "bpf"},
        {"fnw_proc_enter_mprotect", "file_mprotect"},
        {"fnw_proc_enter_pkey_mprotect", "file_mprotect"},
        {"fnw_proc_enter_mmap", "mmap_file"},
    };
    auto it = kHookOf.find(program);
    return it == kHookOf.end() ? "" : it->second;
}

// Attaches every program `wanted` picks, all or none.
bool attach_programs(bpf_object* obj, const std::function<bool(const bpf_program*)>& wanted,
                     std::vector<bpf_link*>& out, std::string* error) {
    if (!out.empty()) return true;
    if (std::string err = ensure_tracefs(); !err.empty()) {
        if (error) *error = err;
        return false;
    }
    std::vector<bpf_link*> links;
    bpf_program* prog = nullptr;
    bpf_object__for_each_program(prog, obj) {
        if (!wanted(prog)) continue;
        bpf_link* link = bpf_program__attach(prog);
        if (!link) {
            const int err = errno;
            for (bpf_link* l : links) bpf_link__destroy(l);
            if (error) *error = std::string("cannot attach ") + bpf_program__name(prog) + ": " + errno_text(err);
            return false;
        }
        links.push_back(link);
    }
    out = std::move(links);
    return true;
}

// The optional BPF-LSM programs (exec, files): loaded only where the kernel runs them.
bool is_lsm_probe(const bpf_program* prog) {
    return std::string_view(bpf_program__section_name(prog)).rfind("lsm/", 0) == 0;
}

}  // namespace

bool ProbeSet::attach_file_probes(std::string* error) {
    return attach_programs(skel_->obj, is_file_probe, file_links_, error);
}

bool ProbeSet::attach_net_probes(std::string* error) {
    return attach_programs(skel_->obj, is_net_probe, net_links_, error);
}

bool ProbeSet::attach_process_probes(std::string* error) {
    return attach_programs(
        skel_->obj,
        [this](const bpf_program* prog) {
            return is_process_probe(prog) && !lsm_hook_loaded(process_probe_hook(bpf_program__name(prog)));
        },
        process_links_, error);
}

bool ProbeSet::attach_landlock_reporting(std::string* error) {
    if (exit_link_) return true;
    exit_link_ = bpf_program__attach(skel_->progs.fnw_sys_exit);
    if (!exit_link_) {
        if (error) *error = "cannot attach the sys_exit probe: " + errno_text(errno);
        return false;
    }
    return true;
}

std::variant<std::unique_ptr<ProbeSet>, ProbeError> ProbeSet::load(const ProbeOptions& options) {
    libbpf_set_print(forward_libbpf_log);
    // Opens and configures the skeleton; `with_lsm` decides whether the
    // optional BPF-LSM programs are loaded too.
    // hook -> why it is not used ("" = loaded); filled by the first open.
    std::map<std::string, std::string> lsm_hooks;
    std::map<std::string, std::string> lsm_programs;  // program -> why it is not loaded ("" = it is)
    std::map<std::string, std::string> hook_checks;   // hook -> lsm_hook_unusable()
    const std::string active_lsms = active_lsm_list();
    auto open_skeleton = [&](bool with_lsm) -> std::variant<std::unique_ptr<ProbeSet>, ProbeError> {
        fnwarden_bpf* skel = fnwarden_bpf__open();
        if (!skel) return ProbeError{"cannot open BPF object: " + errno_text(errno)};
        // From here on the skeleton belongs to `probes`; its destructor frees it.
        std::unique_ptr<ProbeSet> probes(new ProbeSet(skel));
        if (int err = bpf_map__set_max_entries(skel->maps.events, options.ringbuf_bytes))
            return ProbeError{"ring buffer size " + std::to_string(options.ringbuf_bytes) + ": " + errno_text(err)};
        if (int err = bpf_map__set_max_entries(skel->maps.alerts, options.alerts_ringbuf_bytes))
            return ProbeError{"alerts ring buffer size " + std::to_string(options.alerts_ringbuf_bytes) + ": " +
                              errno_text(err)};
        skel->rodata->ringbuf_wakeup_bytes = options.ringbuf_wakeup_bytes;
        skel->rodata->alerts_wakeup_bytes =
            std::min<uint64_t>(options.ringbuf_wakeup_bytes, options.alerts_ringbuf_bytes / 4);
        // file_rules are inodes found through this process's paths: the
        // kernel decides a miss only for tasks with the same root (path.bpf.h).
        struct stat mnt_ns {}, root {};
        if (::stat("/proc/self/ns/mnt", &mnt_ns) == 0 && ::stat("/", &root) == 0) {
            skel->rodata->rules_mnt_ns = static_cast<uint32_t>(mnt_ns.st_ino);
            skel->rodata->rules_root_dev = kernel_dev(root.st_dev);
            skel->rodata->rules_root_ino = root.st_ino;
        }
        // sys_exit costs every syscall on the host: attached only when needed
        // (attach_landlock_reporting).
        bpf_program__set_autoattach(skel->progs.fnw_sys_exit, false);
        // An iterator runs only when read (object_identity).
        bpf_program__set_autoattach(skel->progs.fnw_object_identity, false);
        bpf_program* prog = nullptr;
        bpf_object__for_each_program(prog, skel->obj) {
            if (is_syscall_tracepoint(prog)) bpf_program__set_autoattach(prog, false);  // attach_*_probes
            if (!is_lsm_probe(prog)) continue;
            const std::string hook = bpf_program__section_name(prog) + 4;  // after "lsm/"
            const std::string name = bpf_program__name(prog);
            if (!lsm_programs.count(name)) {
                if (!hook_checks.count(hook)) hook_checks[hook] = lsm_hook_unusable(hook, active_lsms);
                std::string why = hook_checks[hook];
                if (why.empty()) why = lsm_program_arity_mismatch(name, hook);
                lsm_programs[name] = why;
                // A hook is in use when one of its programs is.
                if (auto it = lsm_hooks.find(hook); it == lsm_hooks.end() || !it->second.empty()) lsm_hooks[hook] = why;
            }
            bpf_program__set_autoload(prog, with_lsm && lsm_programs[name].empty());
        }
        return probes;
    };

    // BPF-LSM is optional: each hook is probed first, then the object is
    // loaded with the usable ones, quietly (where the kernel refuses LSM
    // programs the log would only alarm); if that still fails, without any.
    std::unique_ptr<ProbeSet> probes;
    {
        auto attempt = open_skeleton(true);
        if (auto* err = std::get_if<ProbeError>(&attempt)) return *err;
        LibbpfLogCapture quiet;
        int err = fnwarden_bpf__load(std::get<std::unique_ptr<ProbeSet>>(attempt)->skel_);
        if (err == 0) {
            probes = std::move(std::get<std::unique_ptr<ProbeSet>>(attempt));
        } else {
            const std::string detail = quiet.refusal();
            for (auto& [hook, why] : lsm_hooks)
                if (why.empty())
                    why = "lsm programs refused at load: " + errno_text(err) + (detail.empty() ? "" : " (" + detail + ")");
        }
    }
    std::string lsm_error;
    for (const auto& [hook, why] : lsm_hooks) {
        if (why.empty()) {
            lsm_error.clear();  // at least one hook is in: BPF-LSM is available
            break;
        }
        if (lsm_error.find(why) == std::string::npos) lsm_error += (lsm_error.empty() ? "" : "; ") + why;
    }
    if (!probes) {
        auto attempt = open_skeleton(false);
        if (auto* err = std::get_if<ProbeError>(&attempt)) return *err;
        probes = std::move(std::get<std::unique_ptr<ProbeSet>>(attempt));
        if (int err = fnwarden_bpf__load(probes->skel_)) {
            std::string hint = (err == -EPERM || err == -EACCES)
                                   ? " (needs root or CAP_BPF+CAP_PERFMON+CAP_NET_ADMIN)"
                                   : "";
            return ProbeError{"cannot load BPF programs: " + errno_text(err) + hint};
        }
        spdlog::debug("BPF-LSM unavailable: {}", lsm_error);
    }
    probes->lsm_error_ = lsm_error;
    probes->lsm_hooks_ = lsm_hooks;
    for (const auto& [hook, why] : lsm_hooks)
        if (!why.empty() && lsm_error.empty()) spdlog::info("BPF-LSM hook {} not used: {}", hook, why);
    fnwarden_bpf* skel = probes->skel_;

    if (std::string err = fill_path_args(skel); !err.empty()) return ProbeError{err};
    if (int err = fnwarden_bpf__attach(skel))
        return ProbeError{"cannot attach BPF programs: " + errno_text(err)};

    // cgroup programs have no automatic attach point: they go on the root.
    if (options.cgroup2_root.empty()) return ProbeError{"no cgroup2 root to attach the network hooks to"};
    UniqueFd root(::open(options.cgroup2_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root.valid()) return ProbeError{"cannot open " + options.cgroup2_root.string() + ": " + errno_text(errno)};
    for (bpf_program* prog : {skel->progs.fnw_connect4, skel->progs.fnw_connect6, skel->progs.fnw_sendmsg4,
                              skel->progs.fnw_sendmsg6, skel->progs.fnw_bind4, skel->progs.fnw_bind6}) {
        bpf_link* link = bpf_program__attach_cgroup(prog, root.get());
        if (!link)
            return ProbeError{std::string("cannot attach ") + bpf_program__name(prog) + " to " +
                              options.cgroup2_root.string() + ": " + errno_text(errno)};
        probes->cgroup_links_.push_back(link);
    }
    return probes;
}

ProbeSet::~ProbeSet() {
    // Detaching a tracepoint program waits for an RCU grace period (~70 ms
    // measured here, seconds under emulation), and the file probes hold 48
    // of them: one after the other, `fnwarden run` took 3.4 s to exit.
    // Closed concurrently, the grace periods overlap.
    std::vector<bpf_link*> links(cgroup_links_.begin(), cgroup_links_.end());
    links.insert(links.end(), file_links_.begin(), file_links_.end());
    links.insert(links.end(), net_links_.begin(), net_links_.end());
    links.insert(links.end(), process_links_.begin(), process_links_.end());
    links.push_back(exit_link_);
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

bool ProbeSet::set_policy(uint32_t policy_id, const fnw_policy& policy, std::string* error) {
    if (policy_id >= FNW_MAX_POLICIES) {
        if (error) *error = "policy id out of range";
        return false;
    }
    int err = bpf_map__update_elem(skel_->maps.policies, &policy_id, sizeof(policy_id), &policy,
                                   sizeof(policy), BPF_ANY);
    if (err && error) *error = "policies map update: " + errno_text(err);
    return err == 0;
}

bool ProbeSet::set_policy(uint32_t policy_id, const FunctionPolicy& policy, Mode mode, std::string* error) {
    // Rules first, then the policy that turns them on: a cgroup pointing at
    // this slot never sees a restricted policy with half its rules.
    if (!replace_net_rules(policy_id, policy.network, error)) return false;
    if (lsm_hook_loaded("bprm_check_security") && !replace_exec_rules(policy_id, policy.exec, error)) return false;
    if (policy.files.restricted && !attach_file_probes(error)) return false;
    if (policy.network.restricted && !attach_net_probes(error)) return false;
    if (policy.process.restricted && !attach_process_probes(error)) return false;
    const KernelFileRules files = compile_file_rules(policy_id, policy.files, policy.exec, identity_fn());
    if (!replace_file_rules(policy_id, files, error)) return false;
    file_sections_[policy_id] = {policy.files, policy.exec, {}};
    // Why the kernel leaves a right to fnwarden's matcher (slower, and its
    // kills are asynchronous): said once per load, per pattern.
    for (const auto& why : files.userspace_only)
        spdlog::debug("{}: matched in userspace: {}", display_name(policy.name), why);
    fnw_policy compiled = compile_kernel_policy(policy, mode);
    compiled.file_kernel_rights = files.complete_rights;
    if (!lsm_hook_loaded("bprm_check_security")) compiled.flags &= ~uint32_t{FNW_POLICY_EXEC_LSM};
    return set_policy(policy_id, compiled, error);
}

bool ProbeSet::replace_exec_rules(uint32_t policy_id, const ExecRules& rules, std::string* error) {
    return replace_policy_keys(
        skel_->maps.exec_allowed, compile_exec_keys(policy_id, rules), [](size_t) { return uint8_t{1}; },
        [&](const fnw_exec_key& k) { return k.policy_id == policy_id; }, error);
}

bool ProbeSet::replace_file_rules(uint32_t policy_id, const KernelFileRules& rules, std::string* error) {
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
    return replace_policy_keys(
               skel_->maps.file_rule_names, names, [&](size_t i) { return rules.names[i].second; },
               [&](const fnw_file_rule_name_key& k) { return k.policy_id == policy_id; }, error) &&
           replace_policy_keys(
               skel_->maps.file_rules, keys, [&](size_t i) { return rules.rules[i].second; },
               [&](const fnw_file_rule_key& k) { return k.policy_id == policy_id; }, error);
}

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

std::vector<fnw_violation_summary_event> ProbeSet::take_violation_summaries() {
    std::vector<fnw_violation_summary_event> out;
    const int fd = bpf_map__fd(skel_->maps.violation_tally);
    std::map<ViolationKey, ReportedRepeats> still_there;
    fnw_violation_key key{}, next{};
    for (const fnw_violation_key* prev = nullptr; bpf_map_get_next_key(fd, prev, &next) == 0; prev = &key) {
        key = next;
        fnw_violation_tally tally{};
        if (bpf_map_lookup_elem(fd, &key, &tally) != 0) continue;  // evicted meanwhile
        const ViolationKey id{key.cgroup_id, key.type, key.what, key.detail};
        ReportedRepeats seen = reported_repeats_.count(id) ? reported_repeats_.at(id) : ReportedRepeats{};
        if (tally.repeats > seen.repeats) {
            fnw_violation_summary_event ev{};
            ev.hdr.type = FNW_EVENT_VIOLATION_SUMMARY;
            ev.hdr.size = sizeof(ev);
            ev.hdr.boot_ns = tally.last_ns;
            ev.hdr.cgroup_id = key.cgroup_id;
            ev.hdr.policy_id = tally.policy_id;
            ev.kind = key.type;
            ev.what = key.what;
            ev.detail = key.detail;
            // The window's first repeat; if the kernel opened a new window
            // since (first_ns reset), the earliest time these can be from:
            // just after the last summary, or this window's record.
            ev.first_ns = tally.first_ns && tally.first_ns > seen.last_ns ? tally.first_ns
                          : seen.last_ns                                  ? seen.last_ns + 1
                                                                          : std::min(tally.window_start_ns, tally.last_ns);
            ev.last_ns = tally.last_ns;
            ev.repeats = tally.repeats - seen.repeats;
            out.push_back(ev);
            repeats_reported_total_ += ev.repeats;
            seen = {tally.repeats, tally.last_ns};
        }
        still_there[id] = seen;
    }
    // Keys the LRU let go of are forgotten with it (their repeats were
    // reported before, or are counted as unreported: violations_aggregated).
    reported_repeats_ = std::move(still_there);
    return out;
}

ObjectIdentityFn ProbeSet::identity_fn() const {
    return [this](int fd) { return object_identity(fd); };
}

bool ProbeSet::refresh_file_rules(uint32_t policy_id, std::string* error) {
    auto it = file_sections_.find(policy_id);
    if (it == file_sections_.end()) return true;  // no files section was written to this slot
    const auto now = std::chrono::steady_clock::now();
    if (it->second.last_refresh && now - *it->second.last_refresh < kFileRulesRefreshInterval) return true;
    it->second.last_refresh = now;
    fnw_policy policy{};
    if (bpf_map__lookup_elem(skel_->maps.policies, &policy_id, sizeof(policy_id), &policy, sizeof(policy), 0))
        return true;  // the slot is gone
    const KernelFileRules files = compile_file_rules(policy_id, it->second.files, it->second.exec, identity_fn());
    // Rights that stop being complete stop being the kernel's to refuse
    // before their rules change; rights that become complete, after.
    fnw_policy narrowed = policy;
    narrowed.file_kernel_rights &= files.complete_rights;
    if (!set_policy(policy_id, narrowed, error) || !replace_file_rules(policy_id, files, error)) return false;
    ++file_rule_refreshes_;
    policy.file_kernel_rights = files.complete_rights;
    return set_policy(policy_id, policy, error);
}

void ProbeSet::forget_file_verdicts(uint32_t policy_id) {
    delete_keys_where<fnw_file_verdict_key>(
        skel_->maps.file_verdicts, [&](const fnw_file_verdict_key& k) { return k.policy_id == policy_id; });
}

bool ProbeSet::remember_allowed_file(const fnw_file_verdict_key& key) {
    const uint8_t yes = 1;
    return bpf_map__update_elem(skel_->maps.file_verdicts, &key, sizeof(key), &yes, sizeof(yes), BPF_ANY) == 0;
}

bool exec_rules_fit_lsm(const ExecRules& rules) {
    for (const auto& pattern : rules.allow)
        if (pattern.find('*') != std::string::npos || pattern.size() >= FNW_EXEC_PATH_MAX) return false;
    return true;
}

std::vector<fnw_exec_key> compile_exec_keys(uint32_t policy_id, const ExecRules& rules) {
    std::vector<fnw_exec_key> keys;
    for (const auto& pattern : rules.allow) {
        // bpf_d_path gives the path the kernel resolved: symlinks followed.
        std::error_code ec;
        auto canonical = std::filesystem::canonical(pattern, ec);
        const std::string path = ec ? pattern : canonical.string();
        if (path.size() >= FNW_EXEC_PATH_MAX || path.find('*') != std::string::npos) continue;
        fnw_exec_key k{};
        k.policy_id = policy_id;
        std::memcpy(k.path, path.data(), path.size());
        keys.push_back(k);
    }
    return keys;
}

bool ProbeSet::replace_net_rules(uint32_t policy_id, const NetworkRules& rules, std::string* error) {
    // The value is the rule's index, for the event.
    if (!replace_policy_keys(
            skel_->maps.net_rules, compile_net_keys(policy_id, rules),
            [](size_t i) { return static_cast<uint32_t>(i); },
            [&](const fnw_net_key& k) { return ntohl(k.policy_id) == policy_id; }, error))
        return false;
    return replace_policy_keys(
        skel_->maps.unix_allowed, compile_unix_keys(policy_id, rules), [](size_t) { return uint8_t{1}; },
        [&](const fnw_unix_key& k) { return k.policy_id == policy_id; }, error);
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
        k.policy_id = htonl(policy_id);
        k.direction = direction;
        k.protocol = protocol;
        k.port = htons(port);
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

bool ProbeSet::monitor_cgroup(uint64_t cgroup_id, const fnw_cgroup_entry& entry, std::string* error) {
    // A traced function's file accesses are traced too.
    if ((entry.flags & FNW_CGROUP_TRACE) && !(attach_file_probes(error) && attach_net_probes(error))) return false;
    int err = bpf_map__update_elem(skel_->maps.monitored_cgroups, &cgroup_id, sizeof(cgroup_id),
                                   &entry, sizeof(entry), BPF_ANY);
    if (err) {
        if (error) *error = "monitored_cgroups map update: " + errno_text(err);
        return false;
    }
    // The entry exists before the bit that sends probes looking for it. The
    // .bss is mmapped: an atomic OR is visible to the next probe run.
    const uint32_t bit = static_cast<uint32_t>(cgroup_id & (FNW_CGROUP_FILTER_BITS - 1));
    __atomic_fetch_or(&skel_->bss->monitored_filter[bit / 64], 1ull << (bit % 64), __ATOMIC_SEQ_CST);
    return true;
}

bool ProbeSet::unmonitor_cgroup(uint64_t cgroup_id) {
    return bpf_map__delete_elem(skel_->maps.monitored_cgroups, &cgroup_id, sizeof(cgroup_id), 0) == 0;
}

std::optional<fnw_cgroup_entry> ProbeSet::monitored_cgroup(uint64_t cgroup_id) const {
    fnw_cgroup_entry entry{};
    if (bpf_map__lookup_elem(skel_->maps.monitored_cgroups, &cgroup_id, sizeof(cgroup_id), &entry,
                             sizeof(entry), 0) != 0)
        return std::nullopt;
    return entry;
}

std::vector<std::pair<uint64_t, fnw_cgroup_entry>> ProbeSet::monitored_cgroups() const {
    std::vector<std::pair<uint64_t, fnw_cgroup_entry>> out;
    uint64_t key = 0, next = 0;
    const void* prev = nullptr;
    while (bpf_map__get_next_key(skel_->maps.monitored_cgroups, prev, &next, sizeof(next)) == 0) {
        fnw_cgroup_entry entry{};
        // A key deleted between the two calls is simply skipped.
        if (bpf_map__lookup_elem(skel_->maps.monitored_cgroups, &next, sizeof(next), &entry, sizeof(entry), 0) == 0)
            out.emplace_back(next, entry);
        key = next;
        prev = &key;
    }
    return out;
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
    return changed;
}

std::vector<ProgramStats> ProbeSet::program_stats() const {
    std::vector<ProgramStats> out;
    bpf_program* prog = nullptr;
    bpf_object__for_each_program(prog, skel_->obj) {
        ProgramStats stats;
        stats.name = bpf_program__name(prog);
        stats.section = bpf_program__section_name(prog);
        const int fd = bpf_program__fd(prog);
        stats.loaded = fd >= 0;
        stats.attached = stats.loaded && (prog == skel_->progs.fnw_sys_exit ? exit_link_ != nullptr
                                          : is_file_probe(prog)             ? !file_links_.empty()
                                          : is_net_probe(prog)              ? !net_links_.empty()
                                          : is_process_probe(prog)
                                              ? !process_links_.empty() &&
                                                    !lsm_hook_loaded(process_probe_hook(bpf_program__name(prog)))
                                                                            : true);
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

fnw_policy compile_kernel_policy(const FunctionPolicy& policy, Mode mode) {
    fnw_policy out{};
    for (size_t nr = 0; nr < policy.syscalls.allow.size(); ++nr)
        if (policy.syscalls.allow.test(nr)) out.syscall_allow[nr / 64] |= 1ull << (nr % 64);
    // The probe cannot make a syscall fail: "deny" falls back to kill there.
    // Launched functions get deny from seccomp, which runs before the probe.
    out.syscall_action = effective_syscall_action(policy, mode) == ViolationAction::Report
                             ? FNW_KACTION_REPORT
                             : FNW_KACTION_KILL;
    const ViolationAction exec_action = effective_action(policy.exec.on_violation, mode);
    if (policy.exec.restricted) {
        // Checked at sched_process_exec everywhere (kill: deny falls back to
        // it there), and before the exec by BPF-LSM where it runs.
        out.flags |= FNW_POLICY_EXEC_RESTRICTED;
        out.exec_action = exec_action == ViolationAction::Report ? FNW_KACTION_REPORT
                          : exec_action == ViolationAction::Kill ? FNW_KACTION_KILL
                                                                 : FNW_KACTION_DENY;
        // Globs cannot be matched by the LSM hook's exact-path lookup: such
        // policies are checked after the exec only.
        if (exec_rules_fit_lsm(policy.exec)) out.flags |= FNW_POLICY_EXEC_LSM;
        if (!policy.exec.sha256.empty()) out.flags |= FNW_POLICY_EXEC_HASHED;
    }
    if (policy.files.restricted) {
        out.flags |= FNW_POLICY_FILES_RESTRICTED;
        // The file probes cannot make an operation fail: they treat deny as
        // kill. Launched functions get deny from Landlock first, and kill
        // after it (files.bpf.c).
        const ViolationAction files_action = effective_action(policy.files.on_violation, mode);
        out.file_action = files_action == ViolationAction::Report ? FNW_KACTION_REPORT
                          : files_action == ViolationAction::Kill ? FNW_KACTION_KILL
                                                                  : FNW_KACTION_DENY;
    }
    if (policy.process.restricted) {
        if (!policy.process.ptrace) out.flags |= FNW_POLICY_DENY_PTRACE;
        if (!policy.process.bpf) out.flags |= FNW_POLICY_DENY_BPF;
        if (!policy.process.exec_memory) out.flags |= FNW_POLICY_DENY_EXEC_MEMORY;
        // The LSM hooks refuse for deny and kill; the tracepoints that
        // stand in for them without BPF-LSM kill for both.
        const ViolationAction process_action = effective_action(policy.process.on_violation, mode);
        out.process_action = process_action == ViolationAction::Report ? FNW_KACTION_REPORT
                             : process_action == ViolationAction::Kill ? FNW_KACTION_KILL
                                                                       : FNW_KACTION_DENY;
    }
    if (policy.network.restricted) {
        out.flags |= FNW_POLICY_NET_RESTRICTED;
        // The hook can refuse: deny and kill both refuse there (kill adds a
        // SIGKILL from userspace on the event).
        out.net_action = effective_network_action(policy, mode) == ViolationAction::Report ? FNW_KACTION_REPORT
                                                                                          : FNW_KACTION_DENY;
    }
    return out;
}

}  // namespace fnw
