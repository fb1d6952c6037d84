#include "control/control_socket.hpp"

#include <fcntl.h>
#include <grp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

#include "core/display_name.hpp"

namespace fnw {
namespace {

constexpr uint64_t kListenerTag = 0;
constexpr int kEventsPerProcess = 64;
// Budgets keep one busy peer (or a connection flood) from holding the
// daemon's loop: what is left stays ready and is handled next time round.
constexpr int kAcceptsPerProcess = 32;
constexpr size_t kReadBudgetPerEvent = 256 * 1024;
constexpr size_t kReadChunk = 16 * 1024;
constexpr size_t kMaxIovecs = 64;
constexpr int kListenBacklog = 128;

std::string serialise(const nlohmann::json& message) {
    // Event payloads carry paths and comm names straight from the kernel,
    // which need not be UTF-8: replace bad bytes instead of throwing.
    return message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + '\n';
}

std::string error_line(const std::string& text) {
    return serialise(nlohmann::json{{"type", "error"}, {"error", text}});
}

std::string dropped_notice(uint64_t count) {
    return serialise(nlohmann::json{{"type", "dropped"}, {"count", count}});
}

// For connections we are about to close: if the reason does not fit in the
// socket buffer right now, the peer just sees the hang-up.
void write_best_effort(int fd, const std::string& line) {
    [[maybe_unused]] ssize_t ignored = ::send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

bool make_address(const std::filesystem::path& path, sockaddr_un* address, std::string* error) {
    *address = {};
    address->sun_family = AF_UNIX;
    const std::string& native = path.native();
    if (native.empty() || native.size() >= sizeof(address->sun_path)) {
        *error = "control socket path must be 1 to " + std::to_string(sizeof(address->sun_path) - 1) +
                 " bytes long: '" + native + "'";
        return false;
    }
    std::memcpy(address->sun_path, native.c_str(), native.size() + 1);
    return true;
}

// A lookup failure (NSS down, bad entry) counts as "no such group": the
// fallback is root-only access, the safe side.
std::optional<gid_t> lookup_group(const std::string& name) {
    if (name.empty()) return std::nullopt;
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

// The group's members must be able to reach the socket, hence group
// ownership of a directory we create; an existing directory is the admin's
// and is left as it is.
bool prepare_directory(const std::filesystem::path& dir, std::optional<gid_t> group_gid, std::string* error) {
    if (dir.empty()) return true;  // relative path in the current directory
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            *error = dir.string() + " is not a directory";
            return false;
        }
        if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX))
            spdlog::warn("{} is world-writable: anyone could replace the control socket", dir.string());
        return true;
    }
    if (errno != ENOENT) {
        *error = "cannot access " + dir.string() + ": " + std::strerror(errno);
        return false;
    }
    // Created owner-only, widened after chown, so it is never briefly
    // reachable by the wrong group.
    if (::mkdir(dir.c_str(), 0700) != 0) {
        if (errno == EEXIST && ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return true;
        *error = "cannot create " + dir.string() + ": " + std::strerror(errno);
        return false;
    }
    if (group_gid && ::chown(dir.c_str(), ::geteuid(), *group_gid) != 0)
        spdlog::warn("cannot give {} to group {}: {}", dir.string(), *group_gid, std::strerror(errno));
    if (::chmod(dir.c_str(), 0750) != 0) {
        *error = "cannot chmod " + dir.string() + ": " + std::strerror(errno);
        return false;
    }
    return true;
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
bool clear_stale_socket(const std::filesystem::path& path, const sockaddr_un& address, std::string* error) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) return true;
        *error = "cannot access " + path.string() + ": " + std::strerror(errno);
        return false;
    }
    if (!S_ISSOCK(st.st_mode)) {
        *error = path.string() + " exists and is a " + file_kind(st.st_mode) + ", not a socket; not removing it";
        return false;
    }
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!probe.valid()) {
        *error = std::string("socket: ") + std::strerror(errno);
        return false;
    }
    int rc = ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address));
    // EAGAIN: a full accept backlog, which is a live (if busy) daemon.
    if (rc == 0 || errno == EAGAIN) {
        *error = "another fnwarden daemon is listening on " + path.string();
        return false;
    }
    if (errno != ECONNREFUSED) {
        *error = "cannot check the existing socket " + path.string() + ": " + std::strerror(errno);
        return false;
    }
    struct stat again {};
    if (::lstat(path.c_str(), &again) != 0 || again.st_dev != st.st_dev || again.st_ino != st.st_ino) {
        *error = path.string() + " changed while it was being checked";
        return false;
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        *error = "cannot remove the stale socket " + path.string() + ": " + std::strerror(errno);
        return false;
    }
    spdlog::info("removed stale control socket {}", path.string());
    return true;
}

void unlink_if_same(const std::filesystem::path& path, dev_t dev, ino_t ino) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == dev && st.st_ino == ino)
        ::unlink(path.c_str());
}

// Supplementary groups as they were when the peer called connect(), from
// the kernel (Linux 4.13+; every kernel with BPF ring buffers has it). Taken
// at connect time it cannot be raced by the peer exiting or changing groups.
std::optional<std::vector<gid_t>> peer_groups_from_socket(int connection) {
    std::vector<gid_t> groups(64);
    for (int attempt = 0; attempt < 4; ++attempt) {
        socklen_t length = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
        if (::getsockopt(connection, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &length) == 0) {
            groups.resize(length / sizeof(gid_t));
            return groups;
        }
        if (errno != ERANGE) return std::nullopt;
        groups.resize(length / sizeof(gid_t) + 1);  // the kernel reported the size it needs
    }
    return std::nullopt;
}

// Fallback for kernels without SO_PEERGROUPS. SO_PEERCRED has no
// supplementary groups, and getgrouplist() on the uid would describe the
// user's configured groups, not the process: a member who dropped the group
// (or a process never given it) would pass. /proc/PID/status has the peer's
// actual groups, but now rather than at connect time, and the pid may have
// been recycled: the effective uid there must still be the peer's, which
// rules out a recycled pid of another user.
std::optional<std::vector<gid_t>> peer_groups_from_proc(const ControlPeer& peer) {
    if (peer.pid <= 0) return std::nullopt;  // peer in another pid namespace
    std::ifstream status("/proc/" + std::to_string(peer.pid) + "/status");
    std::optional<std::vector<gid_t>> groups;
    bool uid_matches = false;
    for (std::string line; std::getline(status, line);) {
        std::istringstream fields(line);
        std::string key;
        fields >> key;
        if (key == "Uid:") {
            unsigned long real = 0, effective = 0;
            uid_matches = static_cast<bool>(fields >> real >> effective) && effective == peer.uid;
        } else if (key == "Groups:") {
            groups.emplace();
            for (unsigned long gid = 0; fields >> gid;) groups->push_back(static_cast<gid_t>(gid));
        }
    }
    if (!uid_matches) return std::nullopt;
    return groups;
}

// Whether JSON text opens more than `limit` arrays/objects inside each
// other, brackets in strings not counted. Checked before parsing: nlohmann's
// parser is iterative, but dump() and everything a handler does with the
// value recurse, and 30 000 levels fit in a 64 KiB request.
bool nesting_exceeds(std::string_view text, size_t limit) {
    size_t depth = 0;
    bool in_string = false, escaped = false;
    for (char c : text) {
        if (in_string) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > limit) return true;
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return false;
}

class DepthGuard {
public:
    explicit DepthGuard(int& depth) : depth_(depth) { ++depth_; }
    ~DepthGuard() { --depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;

private:
    int& depth_;
};

}  // namespace

std::variant<std::unique_ptr<ControlServer>, std::string> ControlServer::listen(const ControlServerOptions& options) {
    const std::filesystem::path& path = options.socket_path;
    sockaddr_un address{};
    std::string error;
    if (!make_address(path, &address, &error)) return error;

    std::optional<gid_t> group_gid = lookup_group(options.group);
    if (!prepare_directory(path.parent_path(), group_gid, &error)) return error;
    if (!clear_stale_socket(path, address, &error)) return error;

    UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!listener.valid()) return std::string("socket: ") + std::strerror(errno);

    // bind() creates the file with the umask applied: 0177 makes it 0600 from
    // its first instant, before it has its final owner and group.
    // The file bind() creates takes the socket inode's mode less the umask:
    // 0600 on both, whatever mode sockets are created with.
    if (::fchmod(listener.get(), 0600) != 0) return std::string("fchmod on the socket: ") + std::strerror(errno);
    mode_t previous_umask = ::umask(0177);
    int bound = ::bind(listener.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address));
    int bind_errno = errno;
    ::umask(previous_umask);
    if (bound != 0) return "cannot bind " + path.string() + ": " + std::strerror(bind_errno);

    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode))
        return path.string() + " vanished right after bind";
    auto fail = [&](std::string message) {
        unlink_if_same(path, st.st_dev, st.st_ino);
        return message;
    };
    if (options.after_bind_for_test) options.after_bind_for_test();

    // Owner, group and mode are set through a descriptor of the socket file
    // itself, never by name: whoever can write the directory could swap a
    // symlink in after bind(), and chmod()/chown() by name would then change
    // its target (/etc/shadow made 0660 root:fnwarden). O_PATH|O_NOFOLLOW
    // opens a symlink as itself, and the inode must be the one bind() made.
    UniqueFd socket_file(::open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    struct stat opened {};
    if (!socket_file.valid() || ::fstat(socket_file.get(), &opened) != 0 || !S_ISSOCK(opened.st_mode) ||
        opened.st_dev != st.st_dev || opened.st_ino != st.st_ino)
        return fail(path.string() + " changed right after bind (replaced by someone who can write " +
                    path.parent_path().string() + "); not touching it");

    mode_t mode = 0600;
    if (group_gid) {
        if (::fchownat(socket_file.get(), "", ::geteuid(), *group_gid, AT_EMPTY_PATH) == 0) {
            mode = 0660;
        } else {
            spdlog::warn("cannot give {} to group '{}' ({}); only root may connect", path.string(), options.group,
                         std::strerror(errno));
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
                         path.string(), options.group, by_fd, std::strerror(errno));
            group_gid.reset();
        }
    }
    if (::listen(listener.get(), kListenBacklog) != 0)
        return fail("cannot listen on " + path.string() + ": " + std::strerror(errno));

    UniqueFd epoll_fd(::epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_fd.valid()) return fail(std::string("epoll_create1: ") + std::strerror(errno));
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = kListenerTag;
    if (::epoll_ctl(epoll_fd.get(), EPOLL_CTL_ADD, listener.get(), &event) != 0)
        return fail(std::string("epoll_ctl: ") + std::strerror(errno));

    if (group_gid)
        spdlog::info("control socket {} open to root and group '{}'", path.string(), options.group);
    else
        spdlog::info("control socket {} open to root only (no group '{}')", path.string(), options.group);
    return std::unique_ptr<ControlServer>(
        new ControlServer(options, std::move(listener), std::move(epoll_fd), group_gid, st.st_dev, st.st_ino));
}

ControlServer::ControlServer(ControlServerOptions options, UniqueFd listener, UniqueFd epoll_fd,
                             std::optional<gid_t> group_gid, dev_t socket_dev, ino_t socket_ino)
    : options_(std::move(options)),
      listener_(std::move(listener)),
      epoll_fd_(std::move(epoll_fd)),
      spare_fd_(::open("/dev/null", O_RDONLY | O_CLOEXEC)),
      group_gid_(group_gid),
      admin_gid_(lookup_group(options_.admin_group)),
      socket_dev_(socket_dev),
      socket_ino_(socket_ino) {
    if (!options_.admin_group.empty())
        spdlog::info("control socket: admin group '{}'{}", options_.admin_group,
                     admin_gid_ ? "" : " does not exist: only root sees every function");
}

ControlServer::~ControlServer() {
    clients_.clear();
    // Someone may have removed the path and started another daemon there:
    // only our own socket is ours to unlink.
    unlink_if_same(options_.socket_path, socket_dev_, socket_ino_);
}

bool ControlServer::process() {
    epoll_event ready[kEventsPerProcess];
    int count = ::epoll_wait(epoll_fd_.get(), ready, kEventsPerProcess, 0);
    if (count < 0) {
        if (errno != EINTR) spdlog::error("control socket epoll_wait: {}", std::strerror(errno));
        return false;
    }
    bool work_left = count == kEventsPerProcess;
    {
        // Clients are only destroyed in reap(), after this loop: the
        // callbacks may close any client, including the one being read.
        DepthGuard busy(callback_depth_);
        for (int i = 0; i < count; ++i) {
            if (ready[i].data.u64 == kListenerTag) {
                work_left |= accept_pending();
                continue;
            }
            Client* client = find(ready[i].data.u64);
            if (client == nullptr || client->dead) continue;
            uint32_t events = ready[i].events;
            if (events & EPOLLOUT) flush(*client);
            if (!client->dead && client->reading && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                work_left |= handle_readable(*client);
            // HUP: the peer closed both directions. Its last requests have
            // just been delivered; nothing more can be written to it.
            if (!client->dead && (events & (EPOLLHUP | EPOLLERR))) mark_dead(*client);
        }
    }
    reap();
    return work_left;
}

bool ControlServer::accept_pending() {
    for (int accepted = 0; accepted < kAcceptsPerProcess; ++accepted) {
        int connection = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (connection >= 0) {
            admit(UniqueFd(connection));
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if ((errno == EMFILE || errno == ENFILE) && spare_fd_.valid()) {
            spdlog::warn("control socket: out of file descriptors, shedding a connection");
            spare_fd_.reset();
            UniqueFd shed(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
            spare_fd_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
            continue;
        }
        spdlog::warn("control socket accept: {}", std::strerror(errno));
        return false;
    }
    return true;
}

void ControlServer::admit(UniqueFd connection) {
    ucred credentials{};
    socklen_t length = sizeof(credentials);
    if (::getsockopt(connection.get(), SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) {
        spdlog::warn("control socket: no peer credentials: {}", std::strerror(errno));
        return;
    }
    ControlPeer peer{credentials.pid, credentials.uid, credentials.gid};
    std::string reason;
    if (!peer_allowed(connection.get(), peer, &reason)) {
        ++refused_permission_;
        spdlog::warn("control socket: refused pid {} uid {}: {}", peer.pid, peer.uid, reason);
        write_best_effort(connection.get(), error_line("permission denied: " + reason));
        return;
    }
    if (clients_.size() >= options_.max_clients) {
        ++refused_capacity_;
        spdlog::warn("control socket: refused pid {}: {} clients connected already", peer.pid, clients_.size());
        write_best_effort(connection.get(),
                          error_line("too many clients (limit " + std::to_string(options_.max_clients) + ")"));
        return;
    }
    peer.privileged = peer.uid == 0 || peer.uid == ::geteuid();
    peer.admin = peer.privileged || (admin_gid_ && peer_in_group(connection.get(), peer, *admin_gid_));

    auto client = std::make_unique<Client>();
    client->id = next_id_++;
    client->peer = peer;
    client->interest = EPOLLIN;
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = client->id;
    if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, connection.get(), &event) != 0) {
        spdlog::warn("control socket epoll_ctl: {}", std::strerror(errno));
        return;
    }
    client->fd = std::move(connection);
    ++accepted_;
    spdlog::debug("control client {} connected: pid {} uid {}", client->id, peer.pid, peer.uid);
    clients_.emplace(client->id, std::move(client));
}

bool ControlServer::peer_allowed(int connection, const ControlPeer& peer, std::string* reason) const {
    // The daemon's own user owns the socket and could do anything the
    // daemon does; it is root in production, this matters for development.
    if (peer.uid == 0 || peer.uid == ::geteuid()) return true;
    if (!group_gid_) {
        *reason = "uid " + std::to_string(peer.uid) + " is not root, and group '" + options_.group +
                  "' does not exist";
        return false;
    }
    if (peer_in_group(connection, peer, *group_gid_)) return true;
    *reason = "uid " + std::to_string(peer.uid) + " is neither root nor in group '" + options_.group + "'";
    return false;
}

// Primary or supplementary, as the process had them at connect().
bool ControlServer::peer_in_group(int connection, const ControlPeer& peer, gid_t gid) const {
    if (peer.gid == gid) return true;
    std::optional<std::vector<gid_t>> groups = peer_groups_from_socket(connection);
    if (!groups) groups = peer_groups_from_proc(peer);
    return groups && std::find(groups->begin(), groups->end(), gid) != groups->end();
}

bool ControlServer::handle_readable(Client& client) {
    char buffer[kReadChunk];
    for (size_t budget = kReadBudgetPerEvent; budget > 0;) {
        if (!client.reading || client.dead) return false;
        ssize_t n = ::recv(client.fd.get(), buffer, sizeof(buffer), 0);
        if (n > 0) {
            budget -= std::min(budget, static_cast<size_t>(n));
            client.inbound.append(buffer, static_cast<size_t>(n));
            extract_lines(client);
            continue;
        }
        if (n == 0) {
            // The peer shut down its sending side; it may still be reading.
            // A last request without its newline is taken as complete, which
            // is what `printf '{"op":"status"}' | socat - UNIX:...` sends.
            if (!client.inbound.empty() && !client.closing) {
                std::string last = std::move(client.inbound);
                client.inbound.clear();
                if (last.size() > kMaxControlRequestBytes)
                    reject_oversize(client);
                else
                    dispatch_line(client, last);
            }
            client.reading = false;
            update_interest(client);
            return false;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
        spdlog::debug("control client {} read: {}", client.id, std::strerror(errno));
        mark_dead(client);
        return false;
    }
    return true;
}

void ControlServer::extract_lines(Client& client) {
    size_t start = 0;
    while (client.reading && !client.dead) {
        size_t newline = client.inbound.find('\n', start);
        if (newline == std::string::npos) break;
        if (newline - start > kMaxControlRequestBytes) {
            reject_oversize(client);
            return;
        }
        // Copied out: the callback may close this client, which clears inbound.
        std::string line = client.inbound.substr(start, newline - start);
        start = newline + 1;
        dispatch_line(client, line);
    }
    if (!client.reading || client.dead) {
        client.inbound.clear();
        return;
    }
    client.inbound.erase(0, start);
    if (client.inbound.size() > kMaxControlRequestBytes) reject_oversize(client);
}

void ControlServer::reject_oversize(Client& client) {
    spdlog::warn("control client {} (pid {}) sent a line over {} bytes; disconnecting", client.id, client.peer.pid,
                 kMaxControlRequestBytes);
    client.reading = false;
    client.inbound.clear();
    // Past the queue bound if need be: it is one short line, and the last.
    std::string reason = error_line("request line longer than " + std::to_string(kMaxControlRequestBytes) + " bytes");
    client.queued_bytes += reason.size();
    client.outbound.push_back(std::move(reason));
    flush(client);
    mark_dead(client);
}

void ControlServer::dispatch_line(Client& client, std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) return;  // someone pressing Enter in socat

    if (nesting_exceeds(line, kMaxControlRequestDepth)) {
        enqueue(client, error_line("request nested deeper than " + std::to_string(kMaxControlRequestDepth) +
                                   " levels"));
        return;
    }
    nlohmann::json request;
    try {
        request = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
        enqueue(client, error_line(std::string("invalid JSON: ") + e.what()));
        return;
    }
    auto op = request.is_object() ? request.find("op") : request.end();
    if (!request.is_object() || op == request.end() || !op->is_string()) {
        enqueue(client, error_line("a request must be a JSON object with a string \"op\""));
        return;
    }
    if (!on_message_) return;
    DepthGuard in_callback(callback_depth_);
    try {
        on_message_(client.id, request);
    } catch (const std::exception& e) {
        // A handler tripping over a malformed field must not take the
        // daemon (and every probe with it) down.
        spdlog::error("control request '{}' from client {} failed: {}", display_name(op->get<std::string>(), 64),
                      client.id, display_name(e.what()));
        enqueue(client, error_line(std::string("request failed: ") + e.what()));
    }
}

bool ControlServer::enqueue(Client& client, std::string line) {
    if (client.dead || client.closing) return false;
    const size_t limit = options_.max_queued_bytes_per_client;
    const bool was_idle = client.outbound.empty();
    size_t needed = line.size();
    std::string notice;
    if (client.dropped_unreported > 0) {
        notice = dropped_notice(client.dropped_unreported);
        needed += notice.size();
    }
    if (client.queued_bytes + needed > limit) {
        ++client.dropped_total;
        ++client.dropped_unreported;
        ++dropped_messages_;
        return true;
    }
    if (!notice.empty()) {
        client.queued_bytes += notice.size();
        client.outbound.push_back(std::move(notice));
        client.dropped_unreported = 0;
    }
    client.queued_bytes += line.size();
    client.outbound.push_back(std::move(line));
    // A non-empty queue means the socket was full at the last attempt and
    // EPOLLOUT is armed: trying again now would only cost a syscall.
    if (was_idle) flush(client);
    return !client.dead;
}

void ControlServer::flush(Client& client) {
    while (!client.dead) {
        if (client.outbound.empty()) {
            // Room again: tell the client what it missed without waiting for
            // the next message, which may be a long time coming.
            if (client.dropped_unreported == 0) break;
            std::string notice = dropped_notice(client.dropped_unreported);
            if (notice.size() > options_.max_queued_bytes_per_client) break;
            client.queued_bytes += notice.size();
            client.outbound.push_back(std::move(notice));
            client.dropped_unreported = 0;
        }
        iovec pieces[kMaxIovecs];
        size_t count = 0;
        for (auto it = client.outbound.begin(); it != client.outbound.end() && count < kMaxIovecs; ++it, ++count) {
            size_t skip = count == 0 ? client.front_written : 0;
            pieces[count].iov_base = const_cast<char*>(it->data() + skip);
            pieces[count].iov_len = it->size() - skip;
        }
        msghdr message{};
        message.msg_iov = pieces;
        message.msg_iovlen = count;
        // MSG_NOSIGNAL: a client gone mid-stream is EPIPE here, never a
        // SIGPIPE that would kill the daemon.
        ssize_t written = ::sendmsg(client.fd.get(), &message, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (written < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            spdlog::debug("control client {} went away: {}", client.id, std::strerror(errno));
            mark_dead(client);
            return;
        }
        for (auto remaining = static_cast<size_t>(written); remaining > 0;) {
            std::string& front = client.outbound.front();
            size_t unsent = front.size() - client.front_written;
            if (remaining < unsent) {
                client.front_written += remaining;
                break;
            }
            remaining -= unsent;
            client.queued_bytes -= front.size();
            client.front_written = 0;
            client.outbound.pop_front();
        }
    }
    if (client.dead) return;
    if (client.closing && client.outbound.empty()) {
        mark_dead(client);
        return;
    }
    update_interest(client);
}

void ControlServer::update_interest(Client& client) {
    if (client.dead) return;
    uint32_t wanted = (client.reading ? EPOLLIN : 0u) | (client.outbound.empty() ? 0u : EPOLLOUT);
    if (wanted == client.interest) return;
    epoll_event event{};
    event.events = wanted;
    event.data.u64 = client.id;
    if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, client.fd.get(), &event) != 0) {
        spdlog::warn("control client {} epoll_ctl: {}", client.id, std::strerror(errno));
        mark_dead(client);
        return;
    }
    client.interest = wanted;
}

void ControlServer::mark_dead(Client& client) {
    if (client.dead) return;
    client.dead = true;
    client.reading = false;
    dead_.push_back(client.id);
}

void ControlServer::reap() {
    if (callback_depth_ > 0) return;
    DepthGuard reaping(callback_depth_);
    // on_disconnect may send to other clients and so kill more of them: the
    // list can grow while it is walked.
    for (size_t i = 0; i < dead_.size(); ++i) {
        ClientId id = dead_[i];
        auto it = clients_.find(id);
        if (it == clients_.end()) continue;
        ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, it->second->fd.get(), nullptr);
        clients_.erase(it);
        spdlog::debug("control client {} disconnected", id);
        if (!on_disconnect_) continue;
        try {
            on_disconnect_(id);
        } catch (const std::exception& e) {
            spdlog::error("control disconnect handler for client {} failed: {}", id, e.what());
        }
    }
    dead_.clear();
}

bool ControlServer::send(ClientId client_id, const nlohmann::json& message) {
    Client* client = find(client_id);
    if (client == nullptr || client->dead || client->closing) return false;
    bool queued = enqueue(*client, serialise(message));
    reap();
    return queued;
}

bool ControlServer::send_line(ClientId client_id, std::string line) {
    if (!line.empty() && line.back() == '\n') line.pop_back();
    if (line.find('\n') != std::string::npos) {
        spdlog::warn("control client {}: refusing to send a line with an embedded newline", client_id);
        return false;
    }
    Client* client = find(client_id);
    if (client == nullptr || client->dead || client->closing) return false;
    line.push_back('\n');
    bool queued = enqueue(*client, std::move(line));
    reap();
    return queued;
}

void ControlServer::close_after_flush(ClientId client_id) {
    Client* client = find(client_id);
    if (client == nullptr || client->dead) return;
    client->closing = true;
    client->reading = false;
    client->inbound.clear();
    if (client->outbound.empty())
        mark_dead(*client);
    else
        update_interest(*client);
    reap();
}

void ControlServer::disconnect(ClientId client_id) {
    Client* client = find(client_id);
    if (client == nullptr) return;
    mark_dead(*client);
    reap();
}

bool ControlServer::connected(ClientId client_id) const {
    const Client* client = find(client_id);
    return client != nullptr && !client->dead;
}

std::optional<ControlPeer> ControlServer::peer(ClientId client_id) const {
    const Client* client = find(client_id);
    if (client == nullptr || client->dead) return std::nullopt;
    return client->peer;
}

ControlServerStats ControlServer::stats() const {
    ControlServerStats totals;
    totals.accepted = accepted_;
    totals.refused_permission = refused_permission_;
    totals.refused_capacity = refused_capacity_;
    totals.dropped_messages = dropped_messages_;
    for (const auto& [id, client] : clients_) {
        if (client->dead) continue;
        totals.clients.push_back(ControlClientStats{id, client->peer, client->queued_bytes, client->dropped_total,
                                                    client->dropped_unreported});
    }
    return totals;
}

ControlServer::Client* ControlServer::find(ClientId id) {
    auto it = clients_.find(id);
    return it == clients_.end() ? nullptr : it->second.get();
}

const ControlServer::Client* ControlServer::find(ClientId id) const {
    auto it = clients_.find(id);
    return it == clients_.end() ? nullptr : it->second.get();
}

}  // namespace fnw
