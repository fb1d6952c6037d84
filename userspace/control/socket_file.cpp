// SPDX-License-Identifier: Apache-2.0
#include "control/socket_file.hpp"

#include <fcntl.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <spdlog/spdlog.h>

namespace fnw {
namespace {

Result<sockaddr_un> make_address(const std::filesystem::path& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    const std::string& native = path.native();
    if (native.empty() || native.size() >= sizeof(address.sun_path))
        return fail("control socket path must be 1 to " + std::to_string(sizeof(address.sun_path) - 1) +
                    " bytes long: '" + native + "'");
    std::memcpy(address.sun_path, native.c_str(), native.size() + 1);
    return address;
}

// The group's members must be able to reach the socket, hence group
// ownership of a directory we create; an existing directory is the admin's
// and is left as it is.
Status prepare_directory(const std::filesystem::path& dir, std::optional<gid_t> group_gid) {
    if (dir.empty()) return {};  // relative path in the current directory
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            return fail(dir.string() + " is not a directory");
        }
        if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX))
            spdlog::warn("{} is world-writable: anyone could replace the control socket", dir.string());
        return {};
    }
    if (errno != ENOENT) {
        return fail("cannot access " + dir.string() + ": " + std::strerror(errno));
    }
    // Created owner-only, widened after chown, so it is never briefly
    // reachable by the wrong group.
    if (::mkdir(dir.c_str(), 0700) != 0) {
        if (errno == EEXIST && ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return {};
        return fail("cannot create " + dir.string() + ": " + std::strerror(errno));
    }
    if (group_gid && ::chown(dir.c_str(), ::geteuid(), *group_gid) != 0)
        spdlog::warn("cannot give {} to group {}: {}", dir.string(), *group_gid, std::strerror(errno));
    if (::chmod(dir.c_str(), 0750) != 0) {
        return fail("cannot chmod " + dir.string() + ": " + std::strerror(errno));
    }
    return {};
}

const char* file_kind(mode_t mode) {
    if (S_ISREG(mode)) return "regular file";
    if (S_ISLNK(mode)) return "symbolic link";
    if (S_ISDIR(mode)) return "directory";
    if (S_ISFIFO(mode)) return "fifo";
    return "non-socket file";
}

// Only a socket nobody answers on is ours to remove: anything else at the
// path is either a live daemon or a mistake (or a trap) that an admin must
// look at. lstat, so a symlink is judged as itself and never followed.
Status clear_stale_socket(const std::filesystem::path& path, const sockaddr_un& address) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) return {};
        return fail("cannot access " + path.string() + ": " + std::strerror(errno));
    }
    if (!S_ISSOCK(st.st_mode)) {
        return fail(path.string() + " exists and is a " + file_kind(st.st_mode) + ", not a socket; not removing it");
    }
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!probe.valid()) {
        return fail(std::string("socket: ") + std::strerror(errno));
    }
    int rc = ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address));
    // EAGAIN: a full accept backlog, which is a live (if busy) daemon.
    if (rc == 0 || errno == EAGAIN) {
        return fail("another fnwarden daemon is listening on " + path.string());
    }
    if (errno != ECONNREFUSED) {
        return fail("cannot check the existing socket " + path.string() + ": " + std::strerror(errno));
    }
    struct stat again {};
    if (::lstat(path.c_str(), &again) != 0 || again.st_dev != st.st_dev || again.st_ino != st.st_ino) {
        return fail(path.string() + " changed while it was being checked");
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return fail("cannot remove the stale socket " + path.string() + ": " + std::strerror(errno));
    }
    spdlog::info("removed stale control socket {}", path.string());
    return {};
}

// bind() creates the file with the umask applied: 0177 makes it 0600 from
// its first instant, before it has its final owner and group. The file
// takes the socket inode's mode less the umask: 0600 on both, whatever mode
// sockets are created with.
Status bind_owner_only(int listener, const std::filesystem::path& path, const sockaddr_un& address) {
    if (::fchmod(listener, 0600) != 0) return fail(std::string("fchmod on the socket: ") + std::strerror(errno));
    mode_t previous_umask = ::umask(0177);
    int bound = ::bind(listener, reinterpret_cast<const sockaddr*>(&address), sizeof(address));
    int bind_errno = errno;
    ::umask(previous_umask);
    if (bound != 0) return fail("cannot bind " + path.string() + ": " + std::strerror(bind_errno));
    return {};
}

// Owner, group and mode are set through a descriptor of the socket file
// itself, never by name: whoever can write the directory could swap a
// symlink in after bind(), and chmod()/chown() by name would then change
// its target (/etc/shadow made 0660 root:fnwarden). O_PATH|O_NOFOLLOW
// opens a symlink as itself, and the inode must be the one bind() made.
// Returns the group that may connect: none when it could not be given it.
Result<std::optional<gid_t>> hand_to_group(const std::filesystem::path& path, const struct stat& bound,
                                           const std::string& group, std::optional<gid_t> group_gid) {
    UniqueFd socket_file(::open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    struct stat opened {};
    if (!socket_file.valid() || ::fstat(socket_file.get(), &opened) != 0 || !S_ISSOCK(opened.st_mode) ||
        opened.st_dev != bound.st_dev || opened.st_ino != bound.st_ino)
        return fail(path.string() + " changed right after bind (replaced by someone who can write " +
                    path.parent_path().string() + "); not touching it");
    mode_t mode = 0600;
    if (group_gid) {
        if (::fchownat(socket_file.get(), "", ::geteuid(), *group_gid, AT_EMPTY_PATH) == 0) {
            mode = 0660;
        } else {
            // Without CAP_CHOWN the kernel lets the owner give a file only to
            // a group the process is in (its gid or a supplementary one).
            spdlog::warn("cannot give {} to group '{}' ({}); only root may connect. Run the daemon in that group "
                         "(systemd Group=, a pod's runAsGroup or supplementalGroups) or with CAP_CHOWN",
                         path.string(), group, std::strerror(errno));
            group_gid.reset();
        }
    } else if (::fchownat(socket_file.get(), "", ::geteuid(), ::getegid(), AT_EMPTY_PATH) != 0) {
        return fail("cannot chown " + path.string() + ": " + std::strerror(errno));
    }
    // An O_PATH descriptor cannot be fchmod()ed; its /proc/self/fd link
    // names the opened inode, not a path that could be swapped again.
    if (mode != 0600) {
        const std::string by_fd = "/proc/self/fd/" + std::to_string(socket_file.get());
        if (::chmod(by_fd.c_str(), mode) != 0) {
            spdlog::warn("cannot open {} to group '{}' (chmod through {}: {}); only root may connect",
                         path.string(), group, by_fd, std::strerror(errno));
            group_gid.reset();
        }
    }
    return group_gid;
}

}  // namespace

// A lookup failure (NSS down, bad entry) counts as "no such group": the
// fallback is root-only access, the safe side. A name of decimal digits is
// a group id (Debian's tools refuse such group names): in a container the
// group the node's users belong to has an id and no name in the image.
std::optional<gid_t> lookup_group(const std::string& name) {
    if (name.empty()) return std::nullopt;
    if (std::optional<gid_t> numeric = numeric_group_id(name)) return numeric;
    long hint = ::sysconf(_SC_GETGR_R_SIZE_MAX);
    std::vector<char> buffer(hint > 0 ? static_cast<size_t>(hint) : 1024);
    for (;;) {
        group entry{};
        group* found = nullptr;
        int rc = ::getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
        if (rc == ERANGE && buffer.size() < (1u << 20)) {
            buffer.resize(buffer.size() * 2);
            continue;
        }
        if (rc != 0) spdlog::warn("looking up group '{}': {}", name, std::strerror(rc));
        if (rc != 0 || found == nullptr) return std::nullopt;
        return entry.gr_gid;
    }
}

void unlink_if_same(const std::filesystem::path& path, dev_t dev, ino_t ino) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == dev && st.st_ino == ino)
        ::unlink(path.c_str());
}

Result<SocketFile> create_socket_file(const std::filesystem::path& path, const std::string& group,
                                      const std::function<void()>& after_bind_for_test) {
    Result<sockaddr_un> address = make_address(path);
    if (!address) return Error{address.error()};
    std::optional<gid_t> group_gid = lookup_group(group);
    if (Status ready = prepare_directory(path.parent_path(), group_gid); !ready) return Error{ready.error()};
    if (Status cleared = clear_stale_socket(path, *address); !cleared) return Error{cleared.error()};

    SocketFile file;
    file.listener.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!file.listener.valid()) return fail(std::string("socket: ") + std::strerror(errno));
    if (Status bound = bind_owner_only(file.listener.get(), path, *address); !bound) return Error{bound.error()};

    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) return fail(path.string() + " vanished right after bind");
    file.dev = st.st_dev;
    file.ino = st.st_ino;
    if (after_bind_for_test) after_bind_for_test();
    Result<std::optional<gid_t>> handed = hand_to_group(path, st, group, group_gid);
    if (!handed) {
        unlink_if_same(path, st.st_dev, st.st_ino);
        return Error{handed.error()};
    }
    file.group_gid = *handed;
    return file;
}

}  // namespace fnw
