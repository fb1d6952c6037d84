// SPDX-License-Identifier: Apache-2.0
#include "runtime/proc_info.hpp"

#include "runtime/cgroup.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace fnw {

std::optional<ProcStatus> read_proc_status(pid_t tid) {
    std::ifstream status("/proc/" + std::to_string(tid) + "/status");
    if (!status) return std::nullopt;
    ProcStatus out;
    bool tgid = false, ppid = false;
    for (std::string line; std::getline(status, line) && !(tgid && ppid);) {
        if (line.rfind("Tgid:", 0) == 0) {
            out.tgid = static_cast<uint32_t>(std::strtoul(line.c_str() + 5, nullptr, 10));
            tgid = true;
        } else if (line.rfind("PPid:", 0) == 0) {
            out.ppid = static_cast<uint32_t>(std::strtoul(line.c_str() + 5, nullptr, 10));
            ppid = true;
        }
    }
    if (!tgid || !ppid) return std::nullopt;
    return out;
}

namespace {

// The "0::" line of /proc/PID/cgroup without its prefix ("/a/b"), or
// nullopt when the task is gone or has no cgroup v2 line.
std::optional<std::string> read_v2_line(const std::string& proc_file) {
    std::ifstream cgroups(proc_file);
    if (!cgroups) return std::nullopt;
    for (std::string line; std::getline(cgroups, line);)
        if (line.rfind("0::/", 0) == 0) return line.substr(3);
    return std::nullopt;
}

bool procs_lists(const std::filesystem::path& cgroup_dir, pid_t pid) {
    const auto pids = cgroup_procs(cgroup_dir);
    return pids && std::find(pids->begin(), pids->end(), pid) != pids->end();
}

// A node has a few thousand cgroups at most; the walk stops well beyond.
constexpr size_t kMaxCgroupsWalked = 100000;

// The cgroup listing `pid`, relative to `root`, by a breadth-first walk.
std::optional<std::filesystem::path> find_cgroup_listing(const std::filesystem::path& root, pid_t pid) {
    namespace fs = std::filesystem;
    std::vector<fs::path> level{fs::path()};
    size_t walked = 0;
    while (!level.empty() && walked < kMaxCgroupsWalked) {
        std::vector<fs::path> next;
        for (const auto& relative : level) {
            if (++walked > kMaxCgroupsWalked) break;
            if (procs_lists(root / relative, pid)) return relative;
            std::error_code ec;
            for (fs::directory_iterator it(root / relative, ec), end; !ec && it != end; it.increment(ec))
                if (it->is_directory(ec) && !it->is_symlink(ec)) next.push_back(relative / it->path().filename());
        }
        level = std::move(next);
    }
    return std::nullopt;
}

// This process's namespace root in `cgroup2_root`, found once per root:
// it does not change while the process lives (a namespace root is fixed
// at unshare; the daemon does not move itself).
std::optional<std::filesystem::path> own_namespace_root(const std::filesystem::path& cgroup2_root) {
    static std::mutex lock;
    static std::map<std::filesystem::path, std::optional<std::filesystem::path>> found;
    const std::lock_guard<std::mutex> guard(lock);
    if (auto it = found.find(cgroup2_root); it != found.end()) return it->second;
    std::optional<std::filesystem::path> root;
    if (const auto own = read_v2_line("/proc/self/cgroup"))
        root = cgroup_namespace_root(cgroup2_root, std::filesystem::path(*own).relative_path(), getpid());
    found.emplace(cgroup2_root, root);
    return root;
}

}  // namespace

std::optional<std::vector<pid_t>> cgroup_procs(const std::filesystem::path& cgroup_dir) {
    std::ifstream procs(cgroup_dir / "cgroup.procs");
    if (!procs) return std::nullopt;
    std::vector<pid_t> pids;
    for (pid_t pid = 0; procs >> pid;) pids.push_back(pid);
    return pids;
}

namespace {

// Whether `pid` has left /proc: reaped since a list named it.
bool process_gone(pid_t pid) {
    struct stat st{};
    return ::stat(("/proc/" + std::to_string(pid)).c_str(), &st) != 0 && errno == ENOENT;
}

}  // namespace

bool holds_only_runtime_init(const std::filesystem::path& cgroup_dir) {
    const auto pids = cgroup_procs(cgroup_dir);
    // A process reaped between the list and the look runs nothing more,
    // whatever it was: runc:[1:CHILD] is reaped as INIT starts, and
    // counting it against the start left the cgroup unarmed (runc's INIT
    // then held and killed; a pod e2e flake).
    return pids && std::all_of(pids->begin(), pids->end(),
                               [](pid_t pid) { return is_container_runtime_init(pid) || process_gone(pid); });
}

namespace {

std::optional<std::string> read_comm(pid_t pid) {
    std::string comm;
    if (!std::getline(std::ifstream("/proc/" + std::to_string(pid) + "/comm"), comm)) return std::nullopt;
    return comm;
}

bool names_runc(const std::string& comm) { return comm == "runc" || comm.rfind("runc:", 0) == 0; }

// The names nsexec gives its stages: "runc:[0:PARENT]", "[1:CHILD]", "[2:INIT]".
bool names_runc_stage(const std::string& comm) { return comm.rfind("runc:[", 0) == 0; }

// The parent of `pid` when it is named runc.
std::optional<pid_t> runc_parent(pid_t pid) {
    const auto status = read_proc_status(pid);
    if (!status || status->ppid == 0) return std::nullopt;
    const auto parent = static_cast<pid_t>(status->ppid);
    const auto comm = read_comm(parent);
    if (!comm || !names_runc(*comm)) return std::nullopt;
    return parent;
}

// Whether two processes run the same file.
bool same_image(pid_t a, pid_t b) {
    struct stat first{}, second{};
    return ::stat(("/proc/" + std::to_string(a) + "/exe").c_str(), &first) == 0 &&
           ::stat(("/proc/" + std::to_string(b) + "/exe").c_str(), &second) == 0 &&
           first.st_dev == second.st_dev && first.st_ino == second.st_ino;
}

// The count of live threads of `pid`'s process ("Threads:" of its status).
std::optional<unsigned long> thread_count(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("Threads:", 0) == 0) return std::strtoul(line.c_str() + 8, nullptr, 10);
    return std::nullopt;
}

}  // namespace

std::optional<std::string> read_proc_exe(pid_t pid) {
    std::error_code ec;
    std::string exe = std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec).string();
    if (ec) return std::nullopt;
    return exe;
}

bool is_container_runtime_init(pid_t pid) {
    const auto comm = read_comm(pid);
    if (!comm) return false;
    std::error_code ec;
    const std::string exe = std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec).string();
    // runc:[0:PARENT] and [1:CHILD] exit once INIT runs, and an exiting
    // process loses its memory (and with it /proc/PID/exe) before it leaves
    // cgroup.procs. One seen in that moment is still runc's, as long as
    // nothing of it can run on: a leader that exits while its other threads
    // run keeps its place in cgroup.procs, and those threads must not pass
    // for runc's.
    if (ec == std::errc::no_such_file_or_directory)
        return names_runc_stage(*comm) && thread_count(pid) == 1ul && runc_parent(pid).has_value();
    // runc's sealed copy of itself (exe "/" once it has pivoted).
    const bool sealed_copy = !ec && (exe == "/" || exe.rfind("/memfd:runc_cloned:", 0) == 0);
    if (sealed_copy && names_runc_stage(*comm)) return true;
    // Before nsexec names it "runc:[0:PARENT]" (a moment after the copy's
    // exec, the name is the exec's: the memfd's, or its fd number on older
    // kernels), only the parent says the copy is runc's. Before the copy's
    // exec, runc's child runs runc's own binary, forked or exec'd as
    // `runc init`: the file its parent runs, as exec.bpf.c's
    // is_runtime_self_exec sees it.
    const auto parent = runc_parent(pid);
    return parent && (sealed_copy || same_image(pid, *parent));
}

std::optional<std::filesystem::path> cgroup_namespace_root(const std::filesystem::path& cgroup2_root,
                                                           const std::filesystem::path& own, pid_t self) {
    for (const auto& part : own)
        if (part == "..") return std::nullopt;
    if (procs_lists(cgroup2_root / own, self)) return std::filesystem::path();
    const auto listing = find_cgroup_listing(cgroup2_root, self);
    if (!listing) return std::nullopt;
    // listing = namespace root / own: strip own's components from its end.
    std::vector<std::filesystem::path> parts(listing->begin(), listing->end());
    std::vector<std::filesystem::path> suffix(own.begin(), own.end());
    if (!suffix.empty() && suffix.back().empty()) suffix.pop_back();  // "a/" from a trailing slash
    if (suffix.size() > parts.size() || !std::equal(suffix.rbegin(), suffix.rend(), parts.rbegin())) return std::nullopt;
    std::filesystem::path root;
    for (size_t i = 0; i < parts.size() - suffix.size(); ++i) root /= parts[i];
    return root;
}

std::optional<std::filesystem::path> cgroup_path_in_hierarchy(const std::filesystem::path& namespace_root,
                                                              const std::string& relative) {
    std::vector<std::string> parts;
    for (const auto& part : namespace_root)
        if (!part.empty() && part != "/" && part != ".") parts.push_back(part.string());
    for (const auto& part : std::filesystem::path(relative)) {
        if (part.empty() || part == "/" || part == ".") continue;
        if (part == "..") {
            if (parts.empty()) return std::nullopt;
            parts.pop_back();
        } else {
            parts.push_back(part.string());
        }
    }
    std::filesystem::path out;
    for (const auto& part : parts) out /= part;
    return out;
}

std::optional<uint64_t> read_proc_cgroup_id(pid_t tid, const std::filesystem::path& cgroup2_root) {
    const auto relative = read_v2_line("/proc/" + std::to_string(tid) + "/cgroup");
    if (!relative) return std::nullopt;
    // Not found (no cgroup lists this process): a path that stays inside
    // the namespace is still taken as the hierarchy's, as before; one that
    // climbs out of it cannot be placed.
    auto namespace_root = own_namespace_root(cgroup2_root);
    if (!namespace_root && relative->find("..") != std::string::npos) return std::nullopt;
    const auto path = cgroup_path_in_hierarchy(namespace_root.value_or(std::filesystem::path()), *relative);
    if (!path) return std::nullopt;
    return cgroup_id_of(path->empty() ? cgroup2_root : cgroup2_root / *path);
}

}  // namespace fnw
