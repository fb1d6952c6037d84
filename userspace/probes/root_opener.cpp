// SPDX-License-Identifier: Apache-2.0
#include "probes/root_opener.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <cstdio>
#include <sstream>
#include <vector>

#include "common/kernel_dev.hpp"

namespace fnw {
namespace {

std::optional<std::string> link_target(const std::string& link) {
    std::string out(4096, '\0');
    const ssize_t n = ::readlink(link.c_str(), out.data(), out.size());
    if (n <= 0 || static_cast<size_t>(n) >= out.size()) return std::nullopt;
    out.resize(static_cast<size_t>(n));
    return out;
}

std::optional<std::string> fd_path(int fd) { return link_target("/proc/self/fd/" + std::to_string(fd)); }

// mountinfo's octal escapes (\040 for a space, \134 for a backslash);
// nullopt for anything else after a backslash.
std::optional<std::string> unescape(const std::string& text) {
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '\\') {
            out += text[i];
            continue;
        }
        if (i + 3 >= text.size() || text.find_first_not_of("01234567", i + 1) < i + 4) return std::nullopt;
        out += static_cast<char>(std::stoi(text.substr(i + 1, 3), nullptr, 8));
        i += 3;
    }
    return out;
}

// `path` below `prefix`, component by component: the rest, or nullopt.
std::optional<std::filesystem::path> below(const std::filesystem::path& path, const std::filesystem::path& prefix) {
    auto p = path.begin();
    for (auto q = prefix.begin(); q != prefix.end(); ++q, ++p) {
        if (q->empty()) continue;  // a trailing separator
        if (p == path.end() || *p != *q) return std::nullopt;
    }
    std::filesystem::path rest;
    for (; p != path.end(); ++p) rest /= *p;
    return rest;
}

// The layers an overlay's super options name. A layer path that still has a
// backslash after unescaping (an escaped ':' in a name) is not guessed at.
bool read_layers(const std::string& options, OverlayMount& out) {
    std::stringstream opts(options);
    for (std::string opt; std::getline(opts, opt, ',');) {
        const auto eq = opt.find('=');
        const std::string key = opt.substr(0, eq), value = eq == std::string::npos ? "" : opt.substr(eq + 1);
        if (key != "lowerdir" && key != "upperdir") continue;
        auto plain = unescape(value);
        if (!plain || plain->find('\\') != std::string::npos) return false;
        if (key == "upperdir") {
            out.upper_dir = *plain;
            continue;
        }
        std::stringstream dirs(*plain);
        for (std::string dir; std::getline(dirs, dir, ':');)
            if (!dir.empty()) out.lower_dirs.emplace_back(dir);  // "::" precedes data-only layers
    }
    return !out.lower_dirs.empty();
}

}  // namespace

std::optional<OverlayMount> overlay_mount_of(const std::string& mountinfo,
                                             const std::filesystem::path& canonical_path) {
    std::optional<OverlayMount> found;
    size_t best = 0;
    bool best_is_overlay = false;
    std::stringstream lines(mountinfo);
    for (std::string line; std::getline(lines, line);) {
        std::vector<std::string> fields;
        std::stringstream words(line);
        for (std::string w; words >> w;) fields.push_back(w);
        const auto dash = std::find(fields.begin(), fields.end(), "-");
        if (fields.size() < 7 || dash == fields.end() || fields.end() - dash < 4) continue;
        auto root = unescape(fields[3]), mount_point = unescape(fields[4]);
        if (!root || !mount_point) continue;
        auto rest = below(canonical_path, *mount_point);
        const size_t depth = std::distance(std::filesystem::path(*mount_point).begin(),
                                           std::filesystem::path(*mount_point).end());
        if (!rest || depth < best) continue;
        // The deepest mount holding the path, the last of equals (mounted on top).
        best = depth;
        best_is_overlay = *(dash + 1) == "overlay";
        found.reset();
        if (!best_is_overlay) continue;
        OverlayMount overlay;
        unsigned major_no = 0, minor_no = 0;
        if (std::sscanf(fields[2].c_str(), "%u:%u", &major_no, &minor_no) != 2) continue;
        overlay.dev = kernel_dev(makedev(major_no, minor_no));
        overlay.fs_path = std::filesystem::path(*root) / *rest;
        if (read_layers(*(dash + 3), overlay)) found = std::move(overlay);
    }
    return found;
}

Result<RootOpener> RootOpener::of_process(pid_t pid) {
    const std::string proc = "/proc/" + std::to_string(pid);
    UniqueFd dir(::open(proc.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dir.valid()) return fail(proc + ": " + std::strerror(errno));
    UniqueFd root(::openat(dir.get(), "root", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root.valid()) return fail(proc + "/root: " + std::strerror(errno));
    struct stat ns {}, top {};
    if (::fstatat(dir.get(), "ns/mnt", &ns, 0) != 0) return fail(proc + "/ns/mnt: " + std::strerror(errno));
    if (::fstat(root.get(), &top) != 0) return fail(proc + "/root: " + std::strerror(errno));
    std::string cgroup;
    if (UniqueFd file(::openat(dir.get(), "cgroup", O_RDONLY | O_CLOEXEC)); file.valid()) {
        char buf[4096];
        const ssize_t n = ::read(file.get(), buf, sizeof(buf) - 1);
        std::stringstream lines(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0));
        for (std::string line; std::getline(lines, line);)
            if (line.rfind("0::", 0) == 0) cgroup = line.substr(3);
    }
    return RootOpener(pid, std::move(dir), std::move(root), static_cast<uint32_t>(ns.st_ino), {top.st_dev, top.st_ino},
                      std::move(cgroup));
}

bool RootOpener::alive() const {
    struct stat ns {};
    return ::fstatat(proc_dir_.get(), "ns/mnt", &ns, 0) == 0;
}

UniqueFd RootOpener::open(const std::string& path) const {
    open_how how{};
    how.flags = O_PATH | O_CLOEXEC;
    // ".." and absolute symlinks stop at this root, as they do for the
    // function; /proc magic links would leave it.
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    return UniqueFd(static_cast<int>(::syscall(SYS_openat2, root_.get(), path.c_str(), &how, sizeof(how))));
}

// The kernel's own answer: the name of the object opened, less the name of
// the root it was opened in. Both names are d_path's from fnwarden's root;
// a container's root, in a mount namespace fnwarden cannot reach, reads as
// "/" like every path of that namespace does, so the rest is the same.
std::optional<std::filesystem::path> RootOpener::canonical(const std::string& path) const {
    UniqueFd fd = open(path);
    if (!fd.valid()) return std::nullopt;
    const auto object = fd_path(fd.get()), root = fd_path(root_.get());
    if (!object || !root) return std::nullopt;
    if (*root == "/") return std::filesystem::path(*object);
    auto rest = below(*object, *root);
    if (!rest) return std::nullopt;
    return std::filesystem::path("/") / *rest;
}

// An overlay inode has generation 0: its number must be proof enough.
// overlayfs (fs/overlayfs/inode.c, ovl_map_ino) numbers an inode with the
// real inode's number when all layers are on one filesystem: numbers are
// then unique among the layers' live inodes, and a copied-up file keeps its
// lower inode's number (the origin). A lower inode is read-only under the
// overlay and is never freed while it is mounted, so its number is not
// handed out again; an object only in the upper layer can be deleted by the
// function, and its number reused by the upper filesystem for a new one:
// such objects, and overlays over several filesystems (numbers that
// collide across layers, or directories numbered from a counter), stay
// matched by name (docs/threat-model.md, "Overlay roots").
bool RootOpener::overlay_identity_is_stable(const std::filesystem::path& canonical_path, uint64_t dev,
                                            uint64_t ino) const {
    UniqueFd info(::openat(proc_dir_.get(), "mountinfo", O_RDONLY | O_CLOEXEC));
    if (!info.valid()) return false;
    std::string text;
    char buf[4096];
    for (ssize_t n; (n = ::read(info.get(), buf, sizeof(buf))) > 0;) text.append(buf, static_cast<size_t>(n));
    const auto overlay = overlay_mount_of(text, canonical_path);
    if (!overlay || overlay->dev != dev) return false;
    std::vector<std::filesystem::path> layers = overlay->lower_dirs;
    if (overlay->upper_dir) layers.push_back(*overlay->upper_dir);
    std::optional<dev_t> one_fs;
    for (const auto& layer : layers) {
        struct stat st {};
        if (::stat(layer.c_str(), &st) != 0 || (one_fs && *one_fs != st.st_dev)) return false;
        one_fs = st.st_dev;
    }
    // The layers' paths are as the overlay's mounter named them, read from
    // fnwarden's root: a layer it cannot reach makes the answer no.
    struct stat upper {};
    const bool upper_only = overlay->upper_dir &&
                            ::lstat((*overlay->upper_dir / overlay->fs_path.relative_path()).c_str(), &upper) == 0 &&
                            upper.st_ino == ino;
    return !upper_only;
}

}  // namespace fnw
