// SPDX-License-Identifier: Apache-2.0
#include "control/control_socket.hpp"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>

#include <spdlog/spdlog.h>

#include "control/peer_groups.hpp"
#include "control/protocol.hpp"
#include "control/socket_file.hpp"
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
// The size a client's queued lines are coalesced into (append_outbound).
constexpr size_t kChunkBytes = 64 * 1024;
constexpr int kListenBacklog = 128;

std::string serialise(const nlohmann::json& message) {
    // Event payloads carry paths and comm names straight from the kernel,
    // which need not be UTF-8: replace bad bytes instead of throwing.
    return message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + '\n';
}

std::string error_line(const std::string& text) { return serialise(reply_json(ErrorReply{text, std::nullopt})); }

std::string dropped_notice(uint64_t count) { return serialise(reply_json(DroppedNotice{count})); }

// For connections we are about to close: if the reason does not fit in the
// socket buffer right now, the peer just sees the hang-up.
void write_best_effort(int fd, const std::string& line) {
    [[maybe_unused]] ssize_t ignored = ::send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
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

Result<std::unique_ptr<ControlServer>> ControlServer::listen(const ControlServerOptions& options) {
    const std::filesystem::path& path = options.socket_path;
    Result<SocketFile> created = create_socket_file(path, options.group, options.after_bind_for_test);
    if (!created) return Error{created.error()};
    SocketFile& file = *created;
    auto fail_unlinking = [&](std::string message) {
        unlink_if_same(path, file.dev, file.ino);
        return Error{std::move(message)};
    };
    if (::listen(file.listener.get(), kListenBacklog) != 0)
        return fail_unlinking("cannot listen on " + path.string() + ": " + std::strerror(errno));

    UniqueFd epoll_fd(::epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_fd.valid()) return fail_unlinking(std::string("epoll_create1: ") + std::strerror(errno));
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = kListenerTag;
    if (::epoll_ctl(epoll_fd.get(), EPOLL_CTL_ADD, file.listener.get(), &event) != 0)
        return fail_unlinking(std::string("epoll_ctl: ") + std::strerror(errno));

    if (file.group_gid)
        spdlog::info("control socket {} open to root and group '{}'", path.string(), options.group);
    else
        spdlog::info("control socket {} open to root only (no group '{}')", path.string(), options.group);
    return std::unique_ptr<ControlServer>(new ControlServer(options, std::move(file.listener), std::move(epoll_fd),
                                                            file.group_gid, file.dev, file.ino));
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
    flush_queued();  // reaps too
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
    if (!groups) groups = peer_groups_from_proc(peer.pid, peer.uid);
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
    append_outbound(client, reason);
    flush(client);
    mark_dead(client);
}

void ControlServer::dispatch_line(Client& client, std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) return;  // someone pressing Enter in socat

    Result<nlohmann::json> request = parse_request_line(line);
    if (!request) {
        enqueue(client, error_line(request.error()), Flush::now);
        return;
    }
    if (!on_message_) return;
    DepthGuard in_callback(callback_depth_);
    try {
        on_message_(client.id, *request);
    } catch (const std::exception& e) {
        // A handler tripping over a malformed field must not take the
        // daemon (and every probe with it) down.
        spdlog::error("control request '{}' from client {} failed: {}",
                      display_name(request->at("op").get<std::string>(), 64), client.id, display_name(e.what()));
        enqueue(client, error_line(std::string("request failed: ") + e.what()), Flush::now);
    }
}

bool ControlServer::enqueue(Client& client, std::string_view line, Flush when) {
    if (client.dead || client.closing) return false;
    const size_t limit = options_.max_queued_bytes_per_client;
    const bool was_idle = client.outbound.empty();
    const auto drop = [&] {
        ++client.dropped_total;
        ++client.dropped_unreported;
        ++dropped_messages_;
        return true;
    };
    // A stalled client is offered every event of a flood: dropping must
    // cost a compare, not the JSON of the notice (it was built, and thrown
    // away, per dropped line: the daemon's reader spent its time there).
    if (client.queued_bytes + line.size() > limit) return drop();
    std::string notice;
    if (client.dropped_unreported > 0) notice = dropped_notice(client.dropped_unreported);
    if (client.queued_bytes + line.size() + notice.size() > limit) return drop();
    if (!notice.empty()) {
        append_outbound(client, notice);
        client.dropped_unreported = 0;
    }
    append_outbound(client, line);
    // A queue that was not empty means the socket was full at the last
    // attempt and EPOLLOUT is armed: trying again now would only cost a
    // syscall.
    if (!was_idle) return true;
    if (when == Flush::now) {
        flush(client);
        return !client.dead;
    }
    // Later, with whatever else this turn queues for it: one sendmsg for
    // the batch instead of one per line. EPOLLOUT makes sure "later" comes
    // even if the owner never calls flush_queued().
    unflushed_.push_back(client.id);
    update_interest(client);
    return !client.dead;
}

// Lines are coalesced into chunks of up to kChunkBytes, so a flush hands
// the kernel a few large iovecs instead of one per line, and a queue of
// small lines costs a few allocations. Appending to the front chunk while
// it is partly written is fine: front_written counts from its start.
void ControlServer::append_outbound(Client& client, std::string_view bytes) {
    client.queued_bytes += bytes.size();
    if (!client.outbound.empty() && client.outbound.back().size() + bytes.size() <= kChunkBytes) {
        client.outbound.back().append(bytes);
        return;
    }
    client.outbound.emplace_back(bytes);
}

void ControlServer::flush_queued() {
    if (unflushed_.empty()) return;
    {
        DepthGuard busy(callback_depth_);
        for (ClientId id : unflushed_)
            if (Client* client = find(id); client != nullptr && !client->dead) flush(*client);
    }
    unflushed_.clear();
    reap();
}

void ControlServer::flush(Client& client) {
    while (!client.dead) {
        if (client.outbound.empty()) {
            // Room again: tell the client what it missed without waiting for
            // the next message, which may be a long time coming.
            if (client.dropped_unreported == 0) break;
            std::string notice = dropped_notice(client.dropped_unreported);
            if (notice.size() > options_.max_queued_bytes_per_client) break;
            append_outbound(client, notice);
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
    bool queued = enqueue(*client, serialise(message), Flush::now);
    reap();
    return queued;
}

bool ControlServer::send_line(ClientId client_id, std::string_view line) {
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    if (line.find('\n') != std::string_view::npos) {
        spdlog::warn("control client {}: refusing to send a line with an embedded newline", client_id);
        return false;
    }
    Client* client = find(client_id);
    if (client == nullptr || client->dead || client->closing) return false;
    // The line and its newline as one piece, so that a full queue drops
    // both or neither.
    line_scratch_.assign(line);
    line_scratch_.push_back('\n');
    bool queued = enqueue(*client, line_scratch_, Flush::with_the_turn);
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
