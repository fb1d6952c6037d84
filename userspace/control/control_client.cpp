// SPDX-License-Identifier: Apache-2.0
#include "control/control_client.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

namespace fnw {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kReadChunk = 16 * 1024;

// No deadline stands for "wait indefinitely".
std::optional<Clock::time_point> deadline_after(std::chrono::milliseconds timeout) {
    if (timeout.count() < 0) return std::nullopt;
    return Clock::now() + timeout;
}

int remaining_ms(const std::optional<Clock::time_point>& deadline) {
    if (!deadline) return -1;
    auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now()).count();
    return static_cast<int>(std::clamp<decltype(left)>(left, 0, 24 * 3600 * 1000));
}

// 1: ready, 0: deadline passed, -1: error (errno; EINTR included).
int wait_for(int fd, short events, const std::optional<Clock::time_point>& deadline) {
    pollfd entry{fd, events, 0};
    return ::poll(&entry, 1, remaining_ms(deadline));
}

}  // namespace

Result<ControlClient, ControlConnectError> ControlClient::connect(const std::string& path,
                                                                  std::chrono::milliseconds timeout) {
    auto fail_with = [](ControlConnectFailure kind, std::string message) {
        return ControlConnectError{kind, std::move(message)};
    };

    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof(address.sun_path))
        return fail_with(ControlConnectFailure::other, "control socket path too long or empty: '" + path + "'");
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);

    // Blocking for connect() only: on a unix socket it waits solely while
    // the daemon's accept queue is full, and SO_SNDTIMEO bounds that wait
    // (a non-blocking connect would fail with EAGAIN at once, with nothing
    // to poll for).
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return fail_with(ControlConnectFailure::other, std::string("socket: ") + std::strerror(errno));
    auto deadline = Clock::now() + std::max(timeout, std::chrono::milliseconds(1));
    int rc = -1;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now());
        if (left.count() <= 0) {
            errno = EAGAIN;
            break;
        }
        timeval limit{};
        limit.tv_sec = static_cast<time_t>(left.count() / 1000000);
        limit.tv_usec = static_cast<suseconds_t>(left.count() % 1000000);
        if (::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit)) != 0)
            return fail_with(ControlConnectFailure::other, std::string("setsockopt: ") + std::strerror(errno));
        rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address));
        // An interrupted unix connect leaves the socket unconnected: retrying is safe.
        if (rc == 0 || errno != EINTR) break;
    }
    if (rc != 0) {
        int err = errno;
        switch (err) {
            case ENOENT:
            case ECONNREFUSED:
                return fail_with(ControlConnectFailure::no_daemon, "no fnwarden daemon is running (" + path + ": " +
                                                                       std::strerror(err) + ")");
            case EACCES:
            case EPERM:
                return fail_with(ControlConnectFailure::permission_denied,
                                 "permission denied connecting to " + path +
                                     " (the daemon accepts root and members of its group)");
            case EAGAIN:
            case EINPROGRESS:
                return fail_with(ControlConnectFailure::timed_out,
                                 "the fnwarden daemon did not accept the connection within " +
                                     std::to_string(timeout.count()) + " ms");
            default:
                return fail_with(ControlConnectFailure::other,
                                 "cannot connect to " + path + ": " + std::strerror(err));
        }
    }

    // From here on every wait is a poll() with its own timeout.
    int flags = ::fcntl(fd.get(), F_GETFL);
    if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) != 0)
        return fail_with(ControlConnectFailure::other, std::string("fcntl: ") + std::strerror(errno));
    return ControlClient(std::move(fd));
}

void ControlClient::fail(std::string reason) {
    closed_ = true;
    last_error_ = std::move(reason);
    // Keep the descriptor (a caller may still have it in a poll set) but make
    // it report hang-up from now on.
    if (fd_.valid()) ::shutdown(fd_.get(), SHUT_RDWR);
}

bool ControlClient::send(const nlohmann::json& message, std::chrono::milliseconds timeout) {
    if (closed_ || sending_broken_ || !fd_.valid()) {
        if (last_error_.empty()) last_error_ = "not connected";
        return false;
    }
    const std::string line = message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + '\n';
    const auto deadline = deadline_after(timeout);
    for (size_t sent = 0; sent < line.size();) {
        // MSG_NOSIGNAL: a daemon that went away is an error to report, not a
        // SIGPIPE that kills the CLI without a word.
        ssize_t n = ::send(fd_.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += static_cast<size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int ready = wait_for(fd_.get(), POLLOUT, deadline);
            if (ready > 0 || (ready < 0 && errno == EINTR)) continue;
            // Part of the line may be out: anything sent after it would be
            // glued to it, so this connection sends nothing more.
            sending_broken_ = true;
            last_error_ = ready == 0 ? "timed out sending to the fnwarden daemon"
                                     : std::string("poll: ") + std::strerror(errno);
            return false;
        }
        // EPIPE/ECONNRESET: the daemon closed on us, but what it said before
        // (say, why it refused us) is still there for receive().
        sending_broken_ = true;
        last_error_ = std::string("sending to the fnwarden daemon: ") + std::strerror(errno);
        return false;
    }
    return true;
}

// Lines are taken from an offset, and the buffer compacted only once most
// of it is consumed: erasing each line from the front moved the whole rest
// of a 64 KiB read per line, which a trace stream paid per event.
std::optional<std::string> ControlClient::take_line() {
    size_t newline = inbound_.find('\n', scanned_);
    if (newline == std::string::npos) {
        scanned_ = inbound_.size();
        if (inbound_.size() - consumed_ > kMaxControlReplyBytes)
            fail("the daemon sent a line over " + std::to_string(kMaxControlReplyBytes) + " bytes");
        return std::nullopt;
    }
    if (newline - consumed_ > kMaxControlReplyBytes) {
        fail("the daemon sent a line over " + std::to_string(kMaxControlReplyBytes) + " bytes");
        return std::nullopt;
    }
    std::string line = inbound_.substr(consumed_, newline - consumed_);
    consumed_ = newline + 1;
    scanned_ = consumed_;
    if (consumed_ == inbound_.size()) {
        inbound_.clear();
        consumed_ = scanned_ = 0;
    }
    return line;
}

void ControlClient::compact_inbound() {
    if (consumed_ == 0 || consumed_ < inbound_.size() / 2) return;
    inbound_.erase(0, consumed_);
    scanned_ -= consumed_;
    consumed_ = 0;
}

std::optional<std::string> ControlClient::receive_line(std::chrono::milliseconds timeout) {
    const auto deadline = deadline_after(timeout);
    char buffer[kReadChunk];
    for (;;) {
        // Lines already buffered are delivered even after a hang-up: the
        // daemon's last words (an error, a final result) come right before it.
        if (std::optional<std::string> line = take_line()) return line;
        if (closed_ || !fd_.valid()) {
            inbound_.clear();  // a partial line after the hang-up will never be finished
            consumed_ = scanned_ = 0;
            return std::nullopt;
        }
        compact_inbound();
        ssize_t n = ::recv(fd_.get(), buffer, sizeof(buffer), 0);
        if (n > 0) {
            inbound_.append(buffer, static_cast<size_t>(n));
            continue;
        }
        if (n == 0) {
            closed_ = true;
            last_error_ = "the fnwarden daemon closed the connection";
            continue;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            // ECONNRESET: the daemon closed while our request was unread.
            closed_ = true;
            last_error_ = std::string("reading from the fnwarden daemon: ") + std::strerror(errno);
            continue;
        }
        int ready = wait_for(fd_.get(), POLLIN, deadline);
        if (ready > 0) continue;
        if (ready == 0) {
            last_error_ = "timed out waiting for the fnwarden daemon";
            return std::nullopt;
        }
        if (errno == EINTR) {
            last_error_ = "interrupted";
            return std::nullopt;
        }
        fail(std::string("poll: ") + std::strerror(errno));
        return std::nullopt;
    }
}

std::optional<nlohmann::json> ControlClient::receive(std::chrono::milliseconds timeout) {
    const auto deadline = deadline_after(timeout);
    for (;;) {
        std::chrono::milliseconds left = timeout;
        if (deadline)
            left = std::max(std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now()),
                            std::chrono::milliseconds(0));
        std::optional<std::string> line = receive_line(left);
        if (!line) return std::nullopt;
        try {
            return nlohmann::json::parse(*line);
        } catch (const nlohmann::json::parse_error& e) {
            spdlog::warn("ignoring a line from the fnwarden daemon that is not JSON: {}", e.what());
        }
    }
}

std::optional<nlohmann::json> ControlClient::request(const nlohmann::json& message,
                                                     std::chrono::milliseconds timeout) {
    const auto deadline = deadline_after(timeout);
    // Even when sending fails, the daemon may have said why before hanging
    // up ("permission denied: ..."): that is the answer worth returning.
    if (!send(message, timeout) && closed_) return std::nullopt;
    if (!deadline) return receive(timeout);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now());
    return receive(std::max(left, std::chrono::milliseconds(0)));
}

}  // namespace fnw
