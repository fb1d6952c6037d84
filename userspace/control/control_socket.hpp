// SPDX-License-Identifier: Apache-2.0
// Daemon side of the control socket: a unix stream socket speaking one JSON
// object per line, served from the daemon's own epoll loop without threads.
//
// Who may connect is decided twice: by the socket file (root:<group> 0660, or
// root:root 0600 when the group does not exist) and again per connection from
// the kernel's peer credentials, so a descriptor leaked or passed to an
// unprivileged process is still refused.
//
// The server never blocks on a client. Output to a client that does not read
// (a stalled `fnwarden trace`) is queued up to a byte bound and dropped past
// it; the client is later told how many messages it missed.
//
// Not thread-safe: every call, and every callback, happens on the thread
// running the daemon's loop.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.hpp"
#include "common/unique_fd.hpp"
#include "control/protocol.hpp"

namespace fnw {

// Requests longer than this are a protocol violation: the client gets an
// error line and is disconnected. Requests are small; the bound keeps one
// client from making the daemon buffer without limit.
inline constexpr size_t kMaxControlRequestBytes = 64 * 1024;
// And no deeper than kMaxControlRequestDepth (control/protocol.hpp): values
// are walked recursively (dump(), lookups), and a request nested thousands
// deep would run the daemon's stack out. Over it: an error reply, and the
// connection stays.

// Never reused within one server, so a message meant for a client that has
// gone cannot reach a newer one.
using ClientId = uint64_t;

struct ControlServerOptions {
    std::filesystem::path socket_path = "/run/fnwarden/fnwarden.sock";
    // Members of this group (primary or supplementary) may connect besides
    // root (and the daemon's own user). If it does not exist only they may.
    std::string group = "fnwarden";
    // Members of this group (checked like `group`) count as admins: see
    // ControlPeer::admin. "" or a group that does not exist: root only.
    std::string admin_group;
    // Bound on unsent output per client; messages past it are dropped.
    size_t max_queued_bytes_per_client = 4 * 1024 * 1024;
    // Connections past this are answered with an error and closed.
    size_t max_clients = 64;
    // Tests only: runs between bind() and the socket file getting its owner
    // and mode, where a race with whoever can write the directory would be.
    std::function<void()> after_bind_for_test;
};

struct ControlPeer {
    pid_t pid = 0;  // at connect() time; the process may have exited since
    uid_t uid = 0;
    gid_t gid = 0;
    // Root, or the daemon's own user: may do anything the daemon does.
    bool privileged = false;
    // Privileged, or in options.admin_group at connect() time: the daemon
    // shows it every function (`trace`), not only the caller's own.
    bool admin = false;
};

struct ControlClientStats {
    ClientId id = 0;
    ControlPeer peer;
    size_t queued_bytes = 0;
    uint64_t dropped_total = 0;
    uint64_t dropped_unreported = 0;  // not yet announced by a "dropped" notice
};

struct ControlServerStats {
    uint64_t accepted = 0;
    uint64_t refused_permission = 0;
    uint64_t refused_capacity = 0;
    uint64_t dropped_messages = 0;  // over all clients, past and present
    std::vector<ControlClientStats> clients;
};

class ControlServer {
public:
    using MessageHandler = std::function<void(ClientId, const nlohmann::json&)>;
    using DisconnectHandler = std::function<void(ClientId)>;

    // Creates the socket (see the .cpp for the checks on an existing path).
    // Changes the process umask for the duration of bind(): call it before
    // other threads create files.
    static Result<std::unique_ptr<ControlServer>> listen(const ControlServerOptions& options);

    ~ControlServer();
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;

    // Called for each complete request line that is a JSON object with a
    // string "op". Lines that are not get an error reply instead.
    void on_message(MessageHandler handler) { on_message_ = std::move(handler); }
    // Called exactly once for every accepted client when it goes away, for
    // whatever reason (hang-up, I/O error, protocol violation,
    // close_after_flush). Not called from the destructor.
    void on_disconnect(DisconnectHandler handler) { on_disconnect_ = std::move(handler); }

    // Readable whenever process() has work: add it to the daemon's epoll set
    // level-triggered (with EPOLLET, call process() until it returns false).
    int fd() const { return epoll_fd_.get(); }

    // Accepts, reads, dispatches and flushes whatever is ready, without
    // blocking. Returns true if it stopped with work left over (a budget was
    // reached); fd() is then still readable.
    bool process();

    // Queue one message and try to write it at once. Returns false if the
    // client is gone or closing; a message dropped because the client's
    // queue is full still returns true (the client is there, and will be
    // told). Safe to call from inside the callbacks.
    bool send(ClientId client, const nlohmann::json& message);
    // Same for an already serialised JSON line (fan-out of one event to many
    // trace clients serialises once). A trailing '\n' is optional; a line with
    // an embedded newline would break framing and is refused (false).
    // Unlike send(), it does not write at once: the lines a turn queues for
    // a client go out together, at flush_queued() or at the next process(),
    // whichever comes first (a trace flood is one sendmsg per client and
    // turn, not one per event).
    bool send_line(ClientId client, std::string_view line);
    // Writes what send_line() queued since the last turn. The daemon calls
    // it once per turn, after draining the ring buffer.
    void flush_queued();

    // Stop reading from the client and close it once its queue is written.
    void close_after_flush(ClientId client);
    // Close now, discarding unsent output.
    void disconnect(ClientId client);

    bool connected(ClientId client) const;
    std::optional<ControlPeer> peer(ClientId client) const;
    ControlServerStats stats() const;

    const std::filesystem::path& socket_path() const { return options_.socket_path; }
    // Whether the configured group exists, i.e. whether non-root members can
    // connect at all.
    bool group_access() const { return group_gid_.has_value(); }

private:
    struct Client {
        UniqueFd fd;
        ClientId id = 0;
        ControlPeer peer;
        std::string inbound;
        std::deque<std::string> outbound;
        size_t front_written = 0;  // bytes of outbound.front() already sent
        size_t queued_bytes = 0;
        uint64_t dropped_total = 0;
        uint64_t dropped_unreported = 0;
        uint32_t interest = 0;  // events currently registered with epoll
        bool reading = true;
        bool closing = false;  // close_after_flush
        bool dead = false;     // waiting to be reaped
    };

    ControlServer(ControlServerOptions options, UniqueFd listener, UniqueFd epoll_fd, std::optional<gid_t> group_gid,
                  dev_t socket_dev, ino_t socket_ino);

    // These two return true when they stopped at their budget with work left.
    bool accept_pending();
    bool handle_readable(Client& client);
    void admit(UniqueFd connection);
    bool peer_allowed(int connection, const ControlPeer& peer, std::string* reason) const;
    bool peer_in_group(int connection, const ControlPeer& peer, gid_t gid) const;
    void extract_lines(Client& client);
    void reject_oversize(Client& client);
    void dispatch_line(Client& client, std::string_view line);
    enum class Flush { now, with_the_turn };
    bool enqueue(Client& client, std::string_view line, Flush when);
    void append_outbound(Client& client, std::string_view bytes);
    void flush(Client& client);
    void update_interest(Client& client);
    void mark_dead(Client& client);
    void reap();
    Client* find(ClientId id);
    const Client* find(ClientId id) const;

    ControlServerOptions options_;
    UniqueFd listener_;
    UniqueFd epoll_fd_;
    // Kept open so an accept() at the descriptor limit can still take the
    // connection off the queue and close it, instead of the listener staying
    // readable and the daemon spinning.
    UniqueFd spare_fd_;
    std::optional<gid_t> group_gid_;
    std::optional<gid_t> admin_gid_;
    dev_t socket_dev_;
    ino_t socket_ino_;

    std::map<ClientId, std::unique_ptr<Client>> clients_;
    ClientId next_id_ = 1;  // 0 tags the listener in epoll
    std::vector<ClientId> dead_;
    std::vector<ClientId> unflushed_;  // send_line() queued, flush_queued() writes
    std::string line_scratch_;         // send_line()'s line and newline
    int callback_depth_ = 0;

    MessageHandler on_message_;
    DisconnectHandler on_disconnect_;

    uint64_t accepted_ = 0;
    uint64_t refused_permission_ = 0;
    uint64_t refused_capacity_ = 0;
    uint64_t dropped_messages_ = 0;
};

}  // namespace fnw
