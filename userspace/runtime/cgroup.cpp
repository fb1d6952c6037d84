// SPDX-License-Identifier: Apache-2.0
#include "runtime/cgroup.hpp"

#include "core/display_name.hpp"
#include "runtime/cgroup_tree.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

namespace fnw {
namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_mount_field(const std::string& field) {
    std::string out;
    for (size_t i = 0; i < field.size(); ++i) {
        if (field[i] == '\\' && i + 3 < field.size()) {
            const char* p = field.c_str() + i + 1;
            if (p[0] >= '0' && p[0] <= '3' && p[1] >= '0' && p[1] <= '7' && p[2] >= '0' && p[2] <= '7') {
                out.push_back(static_cast<char>((p[0] - '0') * 64 + (p[1] - '0') * 8 + (p[2] - '0')));
                i += 3;
                continue;
            }
        }
        out.push_back(field[i]);
    }
    return out;
}

Status write_file(const std::filesystem::path& file, const std::string& text) {
    int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return fail(file.string() + ": " + std::strerror(errno));
    ssize_t n = ::write(fd, text.data(), text.size());
    int saved = errno;
    ::close(fd);
    if (n != static_cast<ssize_t>(text.size())) return fail(file.string() + ": " + std::strerror(saved));
    return {};
}

}  // namespace

std::optional<std::filesystem::path> find_cgroup2_mount(std::istream& mountinfo) {
    std::string line;
    while (std::getline(mountinfo, line)) {
        // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS
        std::istringstream fields(line);
        std::vector<std::string> f;
        for (std::string w; fields >> w;) f.push_back(w);
        if (f.size() < 7) continue;
        size_t sep = 6;
        while (sep < f.size() && f[sep] != "-") ++sep;
        if (sep + 1 >= f.size()) continue;
        if (f[sep + 1] == "cgroup2") return std::filesystem::path(unescape_mount_field(f[4]));
    }
    return std::nullopt;
}

std::optional<std::filesystem::path> find_cgroup2_mount() {
    std::ifstream in("/proc/self/mountinfo");
    if (!in) return std::nullopt;
    return find_cgroup2_mount(in);
}

std::optional<uint64_t> cgroup_id_of(const std::filesystem::path& dir) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return std::nullopt;
    return static_cast<uint64_t>(st.st_ino);
}

Result<CgroupDir> CgroupDir::create(const std::filesystem::path& path) {
    // The leaf comes from a function name: a ".." in it would put the
    // cgroup (and the function) somewhere else in the hierarchy, under
    // another parent's limits and policy. Callers check names first
    // (function_name_problem()); this is the last line.
    for (const auto& part : path) {
        if (part == "." || part == "..")
            return fail("refusing to create cgroup " + display_name(path.string()) +
                        ": it has \".\" or \"..\" components (an invalid function name?)");
    }
    if (path.filename().empty()) return fail("refusing to create cgroup " + display_name(path.string()) + ": no name");
    if (::mkdir(path.c_str(), 0755) != 0)
        return fail("cannot create cgroup " + path.string() + ": " + std::strerror(errno));
    auto id = cgroup_id_of(path);
    if (!id) {
        ::rmdir(path.c_str());
        return fail("cannot stat cgroup " + path.string());
    }
    return CgroupDir(path, *id);
}

CgroupDir::CgroupDir(CgroupDir&& other) noexcept
    : path_(std::move(other.path_)), id_(other.id_) {
    other.path_.clear();
}

CgroupDir::~CgroupDir() {
    if (path_.empty()) return;
    kill_all();
    // Exited tasks leave the cgroup asynchronously: rmdir may see EBUSY for a
    // moment after the last one is gone. Child cgroups the function made go
    // first (rmdir of a parent with children fails).
    Status removed;
    for (int attempt = 0; attempt < 200; ++attempt) {
        if ((removed = remove_cgroup_tree(path_))) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    spdlog::warn("could not remove cgroup {}", removed.error());
}

Status CgroupDir::add_process(pid_t pid) const {
    return write_file(path_ / "cgroup.procs", std::to_string(pid));
}

// The whole subtree ("populated" in cgroup.events): the top cgroup.procs is
// empty when everything left runs in a child cgroup the function made.
bool CgroupDir::empty() const { return cgroup_populated(path_) != Populated::Yes; }

void CgroupDir::kill_all() const {
    // cgroup.kill (5.14+) kills the subtree atomically, including processes
    // forking right now; the per-pid fallback may miss a fork in flight, so
    // it is repeated until the kernel says the subtree is empty (1 s bound).
    for (int attempt = 0; attempt < 20 && !empty(); ++attempt) {
        if (kill_cgroup_tree(path_) == KillMethod::Gone) return;
        if (wait_until_unpopulated(path_, std::chrono::milliseconds(50))) return;
    }
}

}  // namespace fnw
