// SPDX-License-Identifier: Apache-2.0
// CLI side of the control socket: connect to the daemon, send requests and
// read its JSON lines with timeouts (`fnwarden run`, `status`, `trace`).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.hpp"
#include "common/unique_fd.hpp"
#include "control/protocol.hpp"

namespace fnw {

// Above the daemon's default per-client queue bound (4 MiB): a message the
// daemon can queue at all fits. A longer line means the stream is not what
// we think it is.
inline constexpr size_t kMaxControlReplyBytes = 8 * 1024 * 1024;

// Why connect() failed, for callers that act on it: `fnwarden run` loads its
// own probes when no daemon runs, but must not do so when one runs and
// merely refused it.
enum class ControlConnectFailure {
    no_daemon,          // nothing at the path, or nobody listening on it
    permission_denied,  // the socket file's mode or owner keeps us out
    timed_out,          // the daemon's accept queue stayed full
    other,
};

// A failed connect(): the message to show, and which kind of failure it is.
struct ControlConnectError {
    ControlConnectFailure kind = ControlConnectFailure::other;
    std::string message;
};

class ControlClient {
public:
    // On failure, failure().kind says which kind the message describes.
    static Result<ControlClient, ControlConnectError> connect(const std::string& path,
                                                              std::chrono::milliseconds timeout);

    ControlClient(ControlClient&&) noexcept = default;
    ControlClient& operator=(ControlClient&&) noexcept = default;
    ControlClient(const ControlClient&) = delete;
    ControlClient& operator=(const ControlClient&) = delete;

    // Writes the whole line or fails; after a failure nothing more is sent
    // on this connection (a timeout may have left part of a line on the
    // wire). What the daemon wrote before a hang-up can still be receive()d.
    bool send(const nlohmann::json& message, std::chrono::milliseconds timeout = std::chrono::seconds(5));

    // The next message, or nothing on timeout, hang-up or error (closed() and
    // last_error() tell which). A negative timeout waits indefinitely; a
    // signal ends the wait early (last_error() "interrupted"), so a Ctrl-C
    // handler that sets a flag gets control back. Lines from the daemon that
    // are not JSON are skipped.
    //
    // Callers polling fd() themselves: one readable event may carry several
    // messages, so call receive(0ms) until it returns nothing.
    std::optional<nlohmann::json> receive(std::chrono::milliseconds timeout);
    // The same, as the line the daemon wrote (without its newline), not
    // parsed: for a stream passed on as it came (`trace -o json`).
    std::optional<std::string> receive_line(std::chrono::milliseconds timeout);

    // send() then receive(), sharing one timeout. The answer is simply the
    // next message: do not mix with a stream subscription on one connection.
    // If sending fails, a message the daemon sent before hanging up (such
    // as a refusal) is still returned.
    std::optional<nlohmann::json> request(const nlohmann::json& message, std::chrono::milliseconds timeout);

    // The same for typed requests (control/protocol.hpp): tell() sends
    // without waiting, ask() waits for the answer. Read the answer with
    // expect_reply<R>() or parse_reply().
    bool tell(const ControlRequest& message, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
        return send(request_json(message), timeout);
    }
    std::optional<nlohmann::json> ask(const ControlRequest& message, std::chrono::milliseconds timeout) {
        return request(request_json(message), timeout);
    }

    int fd() const { return fd_.get(); }
    // The daemon hung up, or the connection failed: nothing more will come.
    bool closed() const { return closed_; }
    const std::string& last_error() const { return last_error_; }

private:
    explicit ControlClient(UniqueFd fd) : fd_(std::move(fd)) {}
    std::optional<std::string> take_line();
    void compact_inbound();
    void fail(std::string reason);

    UniqueFd fd_;
    std::string inbound_;
    size_t consumed_ = 0;  // inbound_ before this offset was taken already
    size_t scanned_ = 0;   // inbound_ holds no '\n' between consumed_ and this
    bool closed_ = false;
    bool sending_broken_ = false;
    std::string last_error_;
};

}  // namespace fnw
