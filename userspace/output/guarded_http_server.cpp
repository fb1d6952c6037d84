// SPDX-License-Identifier: Apache-2.0
#include "output/guarded_http_server.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include <spdlog/spdlog.h>

namespace fnw {

namespace {

void numeric_endpoint(int fd, bool peer, std::string& ip, int& port) {
    sockaddr_storage addr{};
    socklen_t length = sizeof(addr);
    auto* raw = reinterpret_cast<sockaddr*>(&addr);
    if ((peer ? ::getpeername(fd, raw, &length) : ::getsockname(fd, raw, &length)) != 0) return;
    std::array<char, NI_MAXHOST> host{};
    std::array<char, NI_MAXSERV> service{};
    if (::getnameinfo(raw, length, host.data(), host.size(), service.data(), service.size(),
                      NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        return;
    ip = host.data();
    port = std::atoi(service.data());
}

// A connection with a deadline for the whole request and a cap on what it
// may send. httplib's own stream times out each read separately, so a client
// sending a header line every few seconds, forever, would hold a worker (and
// grow its header map) for as long as it likes.
class DeadlineStream final : public httplib::Stream {
public:
    DeadlineStream(int fd, std::chrono::steady_clock::time_point deadline, size_t max_read_bytes)
        : fd_(fd), deadline_(deadline), max_read_bytes_(max_read_bytes) {}

    bool is_readable() const override { return wait_for(POLLIN); }
    bool is_writable() const override { return wait_for(POLLOUT); }

    // httplib parses headers one read(…, 1) at a time: buffer.
    ssize_t read(char* ptr, size_t size) override {
        if (buffered_begin_ == buffered_end_) {
            if (bytes_read_ >= max_read_bytes_ || !is_readable()) return -1;
            size_t wanted = std::min(buffer_.size(), max_read_bytes_ - bytes_read_);
            ssize_t n;
            do {
                n = ::recv(fd_, buffer_.data(), wanted, 0);
            } while (n < 0 && errno == EINTR);
            if (n <= 0) return n;
            bytes_read_ += static_cast<size_t>(n);
            buffered_begin_ = 0;
            buffered_end_ = static_cast<size_t>(n);
        }
        size_t n = std::min(size, buffered_end_ - buffered_begin_);
        std::memcpy(ptr, buffer_.data() + buffered_begin_, n);
        buffered_begin_ += n;
        return static_cast<ssize_t>(n);
    }

    ssize_t write(const char* ptr, size_t size) override {
        if (!is_writable()) return -1;
        ssize_t n;
        do {
            // MSG_NOSIGNAL: a scraper hanging up early must not SIGPIPE the daemon.
            n = ::send(fd_, ptr, size, MSG_NOSIGNAL);
        } while (n < 0 && errno == EINTR);
        return n;
    }

    void get_remote_ip_and_port(std::string& ip, int& port) const override { numeric_endpoint(fd_, true, ip, port); }
    void get_local_ip_and_port(std::string& ip, int& port) const override { numeric_endpoint(fd_, false, ip, port); }
    socket_t socket() const override { return fd_; }

private:
    bool wait_for(short events) const {
        for (;;) {
            auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline_ - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            pollfd watched{fd_, events, 0};
            int rc = ::poll(&watched, 1, static_cast<int>(std::min<int64_t>(left.count(), INT_MAX)));
            if (rc < 0 && errno == EINTR) continue;
            return rc > 0;
        }
    }

    int fd_;
    std::chrono::steady_clock::time_point deadline_;
    size_t max_read_bytes_;
    size_t bytes_read_ = 0;
    std::array<char, 4096> buffer_{};
    size_t buffered_begin_ = 0, buffered_end_ = 0;
};

}  // namespace

GuardedHttpServer::GuardedHttpServer(std::chrono::milliseconds request_timeout, size_t max_request_bytes, size_t workers,
                                     size_t max_pending, size_t max_idle)
    : request_timeout_(request_timeout),
      max_request_bytes_(max_request_bytes),
      max_idle_(max_idle),
      wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      pool_(workers, max_pending) {
    parking_ = std::thread([this] { run_parking(); });
}

void GuardedHttpServer::shut_down() {
    {
        std::lock_guard lock(connections_mutex_);
        if (shut_down_) return;
        dropping_ = true;
        shut_down_ = true;
        for (int fd : connections_) ::shutdown(fd, SHUT_RDWR);
    }
    wake_parking();
    if (parking_.joinable()) parking_.join();
    pool_.shutdown();
}

// On httplib's accept thread (InlineTaskQueue).
bool GuardedHttpServer::process_and_close_socket(socket_t sock) {
    // httplib accepts without SOCK_CLOEXEC; a function launched meanwhile
    // must not inherit a connection to the daemon.
    ::fcntl(sock, F_SETFD, FD_CLOEXEC);
    std::lock_guard lock(connections_mutex_);
    if (dropping_) {
        ::close(sock);
        return false;
    }
    // The parking thread has not caught up (it waits for a worker): the
    // oldest of these makes room, as among the parked ones. Never the
    // newest: that may be the health check.
    if (incoming_.size() >= max_idle_) {
        close_connection(incoming_.front().fd);
        incoming_.pop_front();
    }
    incoming_.push_back({sock, std::chrono::steady_clock::now() + request_timeout_});
    wake_parking();
    return true;
}

void GuardedHttpServer::wake_parking() {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t ignored = ::write(wake_.get(), &one, sizeof(one));
}

void GuardedHttpServer::close_connection(int fd) {
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
}

// Owns every parked descriptor: only this thread closes them, so poll()
// never sees a number that has been closed and reused meanwhile.
void GuardedHttpServer::run_parking() {
    std::deque<Parked> parked;
    std::vector<pollfd> watched;
    // Waits up to timeout_ms for requests; hands the connections that
    // have something to read (or hung up, which a worker sees at once)
    // to the workers, which may block while every worker is busy. Only
    // a waiting poll consumes wake-ups: one consumed by a poll that does
    // not wait would be lost before the next merge of incoming_.
    auto dispatch_ready = [&](int timeout_ms) {
        watched.assign(1, pollfd{timeout_ms != 0 ? wake_.get() : -1, POLLIN, 0});
        for (const Parked& p : parked) watched.push_back(pollfd{p.fd, POLLIN, 0});
        int ready = ::poll(watched.data(), watched.size(), timeout_ms);
        if (ready < 0 && errno != EINTR) {
            spdlog::warn("metrics: poll: {}", std::strerror(errno));
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        if (ready <= 0) return;
        uint64_t drained;
        if (watched[0].revents != 0) [[maybe_unused]] ssize_t ignored = ::read(wake_.get(), &drained, sizeof(drained));
        std::deque<Parked> still_idle;
        for (size_t i = 0; i < parked.size(); ++i) {
            if (watched[i + 1].revents == 0) {
                still_idle.push_back(parked[i]);
                continue;
            }
            const Parked connection = parked[i];
            pool_.enqueue([this, connection] { serve(connection); });
        }
        parked = std::move(still_idle);
    };
    for (;;) {
        {
            std::lock_guard lock(connections_mutex_);
            for (const Parked& p : incoming_) parked.push_back(p);
            incoming_.clear();
            if (dropping_) break;
        }
        const auto now = std::chrono::steady_clock::now();
        while (!parked.empty() && parked.front().deadline <= now) {  // deadlines are in accept order
            close_connection(parked.front().fd);
            parked.pop_front();
        }
        if (parked.size() > max_idle_) {
            dispatch_ready(0);  // those with a request are not idle
            while (parked.size() > max_idle_) {  // the oldest idle ones make room
                close_connection(parked.front().fd);
                parked.pop_front();
            }
        }
        int timeout_ms = -1;
        if (!parked.empty())
            timeout_ms = static_cast<int>(std::clamp<int64_t>(
                std::chrono::ceil<std::chrono::milliseconds>(parked.front().deadline - now).count(), 1, INT_MAX));
        dispatch_ready(timeout_ms);
    }
    for (const Parked& p : parked) close_connection(p.fd);
}

// On a worker.
void GuardedHttpServer::serve(const Parked& connection) {
    const int sock = connection.fd;
    {
        std::lock_guard lock(connections_mutex_);
        if (dropping_) {
            ::close(sock);
            return;
        }
        connections_.insert(sock);
    }
    try {
        DeadlineStream stream(sock, connection.deadline, max_request_bytes_);
        bool connection_closed = false;
        // One request per connection: keep-alive would let an idle client
        // pin a worker between scrapes, and Prometheus reconnects cheaply.
        process_request(stream, /*close_connection=*/true, connection_closed, nullptr);
    } catch (const std::exception& e) {
        // Handlers catch their own errors; this is bad_alloc and the like,
        // which must not end the daemon through std::terminate.
        spdlog::warn("metrics: request failed: {}", e.what());
    }
    {
        // Unregistered before close: shut_down() never shuts down a
        // descriptor number that has been reused by someone else.
        std::lock_guard lock(connections_mutex_);
        connections_.erase(sock);
    }
    close_connection(sock);
}

}  // namespace fnw
