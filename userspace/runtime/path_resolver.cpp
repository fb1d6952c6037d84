// SPDX-License-Identifier: Apache-2.0
#include "runtime/path_resolver.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <vector>

#include <fnwarden/kernel_abi.h>

#include "core/event_kind.hpp"
#include "core/syscall_table.hpp"
#include "probes/record.hpp"
#include "runtime/process_handle.hpp"

namespace fnw {

namespace {

void split_into(std::string_view text, std::deque<std::string>& out, bool front) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (start <= text.size()) {
        size_t end = text.find('/', start);
        if (end == std::string_view::npos) end = text.size();
        if (end > start) parts.emplace_back(text.substr(start, end - start));
        start = end + 1;
    }
    if (front)
        out.insert(out.begin(), parts.begin(), parts.end());
    else
        out.insert(out.end(), parts.begin(), parts.end());
}

std::string joined(const std::vector<std::string>& parts) {
    std::string out;
    for (const auto& part : parts) out += "/" + part;
    return out.empty() ? "/" : out;
}

std::optional<std::string> read_link(const std::string& at) {
    std::string target(4096, '\0');
    const ssize_t n = ::readlink(at.c_str(), target.data(), target.size());
    if (n < 0 || static_cast<size_t>(n) >= target.size()) return std::nullopt;
    target.resize(static_cast<size_t>(n));
    return target;
}

}  // namespace

Resolution resolve_in_root(const std::filesystem::path& root, std::string_view base, std::string_view name,
                           bool follow_last, int max_links) {
    std::deque<std::string> pending;
    if (name.empty() || name.front() != '/') split_into(base, pending, false);
    split_into(name, pending, false);
    std::vector<std::string> done;
    Resolution out;
    bool lexical = false;  // a component was missing or unreadable: fold the rest
    int links = 0;
    out.exists = true;
    const std::string prefix = root.string() == "/" ? std::string() : root.string();
    while (!pending.empty()) {
        std::string part = std::move(pending.front());
        pending.pop_front();
        if (part == ".") continue;
        if (part == "..") {
            if (!done.empty()) done.pop_back();
            continue;
        }
        done.push_back(std::move(part));
        if (lexical) continue;
        const std::string at = prefix + joined(done);
        struct stat st {};
        if (::lstat(at.c_str(), &st) != 0) {
            out.exists = false;
            lexical = true;
            if (errno != ENOENT && errno != ENOTDIR) out.note = FNW_RESOLVE_NOTE_LOOKUP_FAILED;
            continue;
        }
        if (!S_ISLNK(st.st_mode) || (pending.empty() && !follow_last)) continue;
        auto target = ++links > max_links ? std::nullopt : read_link(at);
        if (!target) {
            out.note = links > max_links ? FNW_RESOLVE_NOTE_TOO_MANY_LINKS : FNW_RESOLVE_NOTE_LOOKUP_FAILED;
            lexical = true;
            continue;
        }
        done.pop_back();  // the link is replaced by what it names
        if (!target->empty() && target->front() == '/') done.clear();
        split_into(*target, pending, true);
    }
    // Anything cut short leaves the last component unproven.
    if (lexical) out.exists = false;
    out.path = joined(done);
    return out;
}

namespace {

class ProcView final : public ProcessView {
public:
    ProcView(ProcessHandle handle, pid_t pid) : handle_(std::move(handle)), proc_("/proc/" + std::to_string(pid)) {}

    std::optional<std::filesystem::path> root() const override {
        struct stat st {};
        if (!handle_.valid() || ::stat((proc_ + "/root").c_str(), &st) != 0) return std::nullopt;
        return std::filesystem::path(proc_ + "/root");
    }

    // /proc/PID/cwd reads as this process sees it: a function in a chroot
    // or another mount namespace has its root's own name in front.
    std::optional<std::string> base(int32_t dfd) const override {
        if (!handle_.valid()) return std::nullopt;
        constexpr int32_t kAtFdcwd = -100;
        const std::string link = proc_ + (dfd == kAtFdcwd ? "/cwd" : "/fd/" + std::to_string(dfd));
        auto dir = read_link(link);
        if (!dir || dir->empty() || dir->front() != '/') return std::nullopt;
        const auto root = read_link(proc_ + "/root");
        if (root && *root != "/") {
            if (dir->rfind(*root + "/", 0) == 0) return dir->substr(root->size());
            if (*dir == *root) return std::string("/");
            return std::nullopt;  // outside its root: not a name it could use
        }
        return dir;
    }

    bool still_there() const override {
        if (!handle_.valid()) return false;
        struct stat st {};
        return ::syscall(SYS_pidfd_send_signal, handle_.fd(), 0, nullptr, 0) == 0 &&
               ::stat((proc_ + "/root").c_str(), &st) == 0;
    }

private:
    ProcessHandle handle_;
    std::string proc_;
};

// Whether the operation acts on what a symlink at the end names (open,
// exec, truncate, chmod) or on the entry itself (unlink, rename, mkdir,
// link, symlink: their names are never followed).
bool follows_last(const fnw_file_event& ev) {
    if (is_exec_event(ev)) return true;
    const std::string_view name = SyscallTable::name(static_cast<int>(ev.nr));
    if (name == "open" || name == "openat" || name == "openat2" || name == "creat") {
        constexpr uint32_t kExclusive = O_CREAT | O_EXCL;
        return !(ev.open_flags & O_NOFOLLOW) && (ev.open_flags & kExclusive) != kExclusive;
    }
    return name == "truncate" || name == "chmod" || name == "chown" || name == "fchmodat" || name == "fchownat";
}

// The second name is a name to resolve (rename's new one, link's old one),
// not a symlink's content or an exec's argv.
bool second_is_a_name(const fnw_file_event& ev) {
    if (ev.nr == FNW_NR_EXEC || ev.path2[0] == '\0') return false;
    const std::string_view name = SyscallTable::name(static_cast<int>(ev.nr));
    return name.rfind("rename", 0) == 0 || name == "link" || name == "linkat";
}

// The directory a relative name starts from: what the kernel resolved, or
// the process's own now. nullopt: not known.
std::optional<std::string> base_of(const fnw_file_event& ev, std::string_view name, int32_t dfd, bool kernel_base,
                                   const ProcessView& view) {
    if (!name.empty() && name.front() == '/') return std::string("/");
    if (kernel_base && !ev.resolved_truncated) return std::string(bounded(ev.resolved));
    return view.base(dfd);
}

class OwnRootView final : public ProcessView {
public:
    std::optional<std::filesystem::path> root() const override { return std::filesystem::path("/"); }
    std::optional<std::string> base(int32_t) const override { return std::nullopt; }
    bool still_there() const override { return true; }
};

}  // namespace

std::unique_ptr<ProcessView> own_root_view() { return std::make_unique<OwnRootView>(); }

void resolve_file_event(fnw_file_event& ev, const ProcessView& process, const ProcessView& own_root) {
    resolve_file_event(ev, process);
    if (ev.resolve_note == FNW_RESOLVE_NOTE_PROCESS_GONE && (ev.object_flags & FNW_OBJECT_ROOT_IS_OURS))
        resolve_file_event(ev, own_root);
}

std::unique_ptr<ProcessView> proc_view_for_event(const fnw_event_header& hdr,
                                                 const std::filesystem::path& cgroup2_root) {
    return std::make_unique<ProcView>(ProcessHandle::for_event(hdr, cgroup2_root), static_cast<pid_t>(hdr.pid));
}

bool needs_resolving(const fnw_file_event& ev) {
    return ev.verdict != FNW_VERDICT_ALLOWED && ev.path[0] != '\0' &&
           (ev.resolved_kind == FNW_RESOLVED_NONE || ev.resolved_kind == FNW_RESOLVED_BASE);
}

void resolve_file_event(fnw_file_event& ev, const ProcessView& view) {
    if (ev.path_truncated) {
        ev.resolve_note = FNW_RESOLVE_NOTE_NAME_TRUNCATED;
        return;
    }
    const auto root = view.root();
    if (!root) {
        ev.resolve_note = FNW_RESOLVE_NOTE_PROCESS_GONE;
        return;
    }
    const std::string_view name = bounded(ev.path);
    const bool kernel_base = ev.resolved_kind == FNW_RESOLVED_BASE;
    const auto base = base_of(ev, name, ev.dfd, kernel_base, view);
    if (!base) {
        ev.resolve_note = FNW_RESOLVE_NOTE_BASE_UNREADABLE;
        return;
    }
    const Resolution first = resolve_in_root(*root, *base, name, follows_last(ev));
    std::optional<Resolution> second;
    if (second_is_a_name(ev) && !ev.path2_truncated) {
        const std::string_view name2 = bounded(ev.path2);
        // The kernel's base is the first name's: it serves the second only
        // when both start from the same directory.
        const auto base2 = base_of(ev, name2, ev.dfd2, kernel_base && ev.dfd2 == ev.dfd, view);
        if (base2) second = resolve_in_root(*root, *base2, name2, false);
    }
    if (!view.still_there()) {
        ev.resolve_note = FNW_RESOLVE_NOTE_PROCESS_GONE;
        return;
    }
    if (first.note != FNW_RESOLVE_NOTE_NONE) {
        ev.resolve_note = first.note;
        return;
    }
    const size_t need = first.path.size() + 1 + (second ? second->path.size() + 1 : 0);
    if (need > sizeof(ev.resolved)) {
        ev.resolve_note = FNW_RESOLVE_NOTE_TOO_LONG;
        return;
    }
    std::memset(ev.resolved, 0, sizeof(ev.resolved));
    std::memcpy(ev.resolved, first.path.data(), first.path.size());
    if (second && second->note == FNW_RESOLVE_NOTE_NONE)
        std::memcpy(ev.resolved + first.path.size() + 1, second->path.data(), second->path.size());
    ev.resolved_kind = FNW_RESOLVED_USER;
    ev.resolved_truncated = 0;
    ev.resolve_note = FNW_RESOLVE_NOTE_NONE;
    // O_CREAT of a file that is there opened it: no create, as the probes count it.
    if ((ev.open_flags & O_CREAT) && first.exists && !is_exec_event(ev)) {
        ev.access &= ~uint32_t{FNW_FILE_CREATE};
        ev.missing &= ~uint32_t{FNW_FILE_CREATE};
    }
}

}  // namespace fnw
