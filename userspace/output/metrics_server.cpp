#include "output/metrics_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <climits>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <set>
#include <system_error>
#include <thread>
#include <vector>

// Debian's libcpp-httplib is a compiled library, not the single header, built
// with the options below (pkg-config --cflags cpp-httplib). httplib::Request
// and httplib::Client change layout with them: every file including
// httplib.h must agree with the library or the two disagree about sizes.
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_OPENSSL_SUPPORT
#endif
#ifndef CPPHTTPLIB_ZLIB_SUPPORT
#define CPPHTTPLIB_ZLIB_SUPPORT
#endif
#ifndef CPPHTTPLIB_BROTLI_SUPPORT
#define CPPHTTPLIB_BROTLI_SUPPORT
#endif
#include <httplib.h>

#include <spdlog/spdlog.h>

#include "common/unique_fd.hpp"
#include "output/metrics.hpp"

namespace fnw {

namespace {

constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";
constexpr const char* kPlainText = "text/plain; charset=utf-8";
constexpr int kListenBacklog = 128;

std::string host_port(const std::string& host, uint16_t port) {
    bool is_ipv6 = host.find(':') != std::string::npos;
    return (is_ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string errno_text(int error) { return std::system_category().message(error); }

struct ResolvedAddress {
    sockaddr_storage storage{};
    socklen_t length = 0;
    std::string numeric;  // what httplib binds, so it cannot resolve to something else
};

std::variant<std::vector<ResolvedAddress>, std::string> resolve(const std::string& host) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found); rc != 0)
        return "cannot resolve \"" + host + "\": " + ::gai_strerror(rc);
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(found, ::freeaddrinfo);

    std::vector<ResolvedAddress> addresses;
    for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
        std::array<char, NI_MAXHOST> text{};
        if (::getnameinfo(ai->ai_addr, ai->ai_addrlen, text.data(), text.size(), nullptr, 0, NI_NUMERICHOST) != 0)
            continue;
        ResolvedAddress address;
        std::memcpy(&address.storage, ai->ai_addr, ai->ai_addrlen);
        address.length = ai->ai_addrlen;
        address.numeric = text.data();
        bool seen = std::any_of(addresses.begin(), addresses.end(),
                                [&](const ResolvedAddress& a) { return a.numeric == address.numeric; });
        if (!seen) addresses.push_back(std::move(address));
    }
    if (addresses.empty()) return "\"" + host + "\" has no IPv4 or IPv6 address";
    return addresses;
}

bool is_loopback(const ResolvedAddress& address) {
    if (address.storage.ss_family == AF_INET) {
        const auto& v4 = reinterpret_cast<const sockaddr_in&>(address.storage);
        return (ntohl(v4.sin_addr.s_addr) >> 24) == 127;
    }
    if (address.storage.ss_family == AF_INET6) {
        const in6_addr& v6 = reinterpret_cast<const sockaddr_in6&>(address.storage).sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(&v6) || (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
    }
    return false;
}

// httplib only says that binding failed. Binding a socket of our own the way
// it does tells why ("Address already in use").
std::string why_bind_fails(const ResolvedAddress& address, uint16_t port) {
    int fd = ::socket(address.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno_text(errno);
    int yes = 1, no = 0;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    sockaddr_storage target = address.storage;
    if (target.ss_family == AF_INET6) {
        ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &no, sizeof(no));
        reinterpret_cast<sockaddr_in6&>(target).sin6_port = htons(port);
    } else {
        reinterpret_cast<sockaddr_in&>(target).sin_port = htons(port);
    }
    int rc = ::bind(fd, reinterpret_cast<const sockaddr*>(&target), address.length);
    int error = errno;
    ::close(fd);
    return rc != 0 ? errno_text(error) : "the HTTP server could not listen there";
}

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

// httplib's ThreadPool queues accepted connections without limit, each one a
// descriptor: a connection flood would run the daemon out of them (and its
// BPF maps, ring buffers and cgroups need descriptors too). Here, when
// workers and queue are full, enqueue() blocks the caller (the thread that
// hands over connections that have sent something), and further clients
// wait in the kernel's backlog or among the idle ones instead.
class BoundedWorkerPool final : public httplib::TaskQueue {
public:
    BoundedWorkerPool(size_t workers, size_t max_pending) : max_pending_(max_pending) {
        for (size_t i = 0; i < workers; ++i) workers_.emplace_back([this] { work(); });
    }
    ~BoundedWorkerPool() override { shutdown(); }

    void enqueue(std::function<void()> job) override {
        std::unique_lock lock(mutex_);
        has_room_.wait(lock, [&] { return pending_.size() < max_pending_ || stopping_; });
        pending_.push_back(std::move(job));
        has_job_.notify_one();
    }

    // Runs what is queued first: each job owns an accepted socket it closes.
    void shutdown() override {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        has_job_.notify_all();
        has_room_.notify_all();
        for (auto& worker : workers_) worker.join();
        workers_.clear();
    }

private:
    void work() {
        for (;;) {
            std::function<void()> job;
            {
                std::unique_lock lock(mutex_);
                has_job_.wait(lock, [&] { return !pending_.empty() || stopping_; });
                if (pending_.empty()) return;
                job = std::move(pending_.front());
                pending_.pop_front();
            }
            has_room_.notify_one();
            job();
        }
    }

    const size_t max_pending_;
    std::mutex mutex_;
    std::condition_variable has_job_, has_room_;
    std::deque<std::function<void()>> pending_;
    bool stopping_ = false;
    std::vector<std::thread> workers_;
};

// httplib's accept loop hands each connection to its task queue: this one
// runs the job at once, on the accept thread, where
// GuardedHttpServer::process_and_close_socket() only parks the connection.
class InlineTaskQueue final : public httplib::TaskQueue {
public:
    void enqueue(std::function<void()> job) override { job(); }
    void shutdown() override {}
};

// httplib's server with connections that cannot outstay their welcome.
//
// A connection gets a worker only once it has sent something: until then it
// waits in one poll() set (the "parking"), costing a descriptor and no
// thread. Ten, or a hundred, idle connections therefore cannot starve
// /healthz the way they did when each held one of two workers for the whole
// request timeout. The parking is bounded: past max_idle the oldest idle
// connection is closed. Every connection has one deadline for the whole
// request, from accept to the last byte written, idle time included; one
// request each; all of them cut at shutdown so the destructor never waits
// on a client.
class GuardedHttpServer final : public httplib::Server {
public:
    GuardedHttpServer(std::chrono::milliseconds request_timeout, size_t max_request_bytes, size_t workers,
                      size_t max_pending, size_t max_idle)
        : request_timeout_(request_timeout),
          max_request_bytes_(max_request_bytes),
          max_idle_(max_idle),
          wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
          pool_(workers, max_pending) {
        parking_ = std::thread([this] { run_parking(); });
    }

    ~GuardedHttpServer() override { shut_down(); }

    // Connections in progress fail at their next read or write; parked,
    // queued and future ones are closed unserved. Joins the parking thread
    // and the workers.
    void shut_down() {
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

private:
    struct Parked {
        int fd;
        std::chrono::steady_clock::time_point deadline;
    };

    // On httplib's accept thread (InlineTaskQueue).
    bool process_and_close_socket(socket_t sock) override {
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

    void wake_parking() {
        uint64_t one = 1;
        [[maybe_unused]] ssize_t ignored = ::write(wake_.get(), &one, sizeof(one));
    }

    static void close_connection(int fd) {
        ::shutdown(fd, SHUT_RDWR);
        ::close(fd);
    }

    // Owns every parked descriptor: only this thread closes them, so poll()
    // never sees a number that has been closed and reused meanwhile.
    void run_parking() {
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
    void serve(const Parked& connection) {
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

    const std::chrono::milliseconds request_timeout_;
    const size_t max_request_bytes_;
    const size_t max_idle_;
    UniqueFd wake_;
    std::mutex connections_mutex_;
    std::set<int> connections_;          // being served by a worker
    std::deque<Parked> incoming_;        // accepted, not yet seen by the parking thread
    bool dropping_ = false;
    bool shut_down_ = false;
    BoundedWorkerPool pool_;
    std::thread parking_;  // last: started once everything above exists
};

void add_routes(httplib::Server& http, MetricsRegistry& registry, HealthCheck health) {
    http.Get("/metrics", [&registry](const httplib::Request&, httplib::Response& res) {
        try {
            res.set_content(registry.render(), kMetricsContentType);
        } catch (const std::exception& e) {
            spdlog::warn("metrics: rendering failed: {}", e.what());
            res.status = 500;
            res.set_content("rendering the metrics failed\n", kPlainText);
        }
    });
    http.Get("/healthz", [health = std::move(health)](const httplib::Request&, httplib::Response& res) {
        std::string problem;
        try {
            if (health) problem = health();
        } catch (const std::exception& e) {
            problem = std::string("health check failed: ") + e.what();
        } catch (...) {
            problem = "health check failed";
        }
        if (problem.empty()) {
            res.set_content("ok\n", kPlainText);
        } else {
            res.status = 503;
            res.set_content(problem + "\n", kPlainText);
        }
    });
    // Anything else (other paths, other methods) gets httplib's 404/400/413.
    http.set_error_handler([](const httplib::Request&, httplib::Response& res) {
        if (res.body.empty()) res.set_content(res.status == 404 ? "not found\n" : "request refused\n", kPlainText);
    });
}

}  // namespace

std::variant<MetricsServer::HostPort, std::string> MetricsServer::parse_address(std::string_view address) {
    auto invalid = [&](std::string_view why) {
        return "invalid listen address \"" + std::string(address) + "\": " + std::string(why);
    };
    std::string_view host, port_text;
    if (address.starts_with('[')) {
        size_t close = address.find(']');
        if (close == std::string_view::npos) return invalid("missing ']'");
        if (close + 1 >= address.size() || address[close + 1] != ':') return invalid("expected [host]:port");
        host = address.substr(1, close - 1);
        port_text = address.substr(close + 2);
    } else {
        size_t colon = address.rfind(':');
        if (colon == std::string_view::npos) return invalid("expected host:port");
        host = address.substr(0, colon);
        port_text = address.substr(colon + 1);
        if (host.find(':') != std::string_view::npos) return invalid("an IPv6 address goes in brackets: [::1]:9464");
    }
    if (host.empty()) return invalid("no host (every interface is 0.0.0.0 or [::], and needs allow_non_loopback)");

    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535)
        return invalid("the port must be a number from 0 to 65535");
    return HostPort{std::string(host), static_cast<uint16_t>(port)};
}

struct MetricsServer::State {
    explicit State(const MetricsServerOptions& options)
        : http(options.request_timeout, std::max<size_t>(options.max_request_bytes, 1),
               std::max<size_t>(options.worker_threads, 1), std::max<size_t>(options.max_pending_connections, 1),
               std::max<size_t>(options.max_idle_connections, 1)) {}

    // httplib's stop() does nothing until the listener thread has marked the
    // server running (and must not be called twice): wait for one or the
    // other, then join.
    void stop() {
        http.shut_down();
        while (!listener_exited) {
            if (http.is_running()) {
                http.stop();
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        if (listener.joinable()) listener.join();
    }

    GuardedHttpServer http;
    std::thread listener;
    std::atomic<bool> listener_exited{false};
    std::string address;
    uint16_t port = 0;
};

MetricsServer::MetricsServer(std::unique_ptr<State> state) : state_(std::move(state)) {}

MetricsServer::~MetricsServer() { state_->stop(); }

uint16_t MetricsServer::port() const { return state_->port; }

const std::string& MetricsServer::address() const { return state_->address; }

std::variant<std::unique_ptr<MetricsServer>, std::string> MetricsServer::start(const std::string& address,
                                                                                MetricsRegistry& registry,
                                                                                HealthCheck health,
                                                                                const MetricsServerOptions& options) {
    auto parsed = parse_address(address);
    if (auto* error = std::get_if<std::string>(&parsed)) return *error;
    const HostPort listen = std::get<HostPort>(parsed);

    // Resolved here, once, and bound by number: the address checked is the
    // address bound, whatever the resolver says a second time.
    auto resolved = resolve(listen.host);
    if (auto* error = std::get_if<std::string>(&resolved)) return "metrics address " + address + ": " + *error;
    const auto& candidates = std::get<std::vector<ResolvedAddress>>(resolved);
    if (!options.allow_non_loopback) {
        for (const auto& candidate : candidates) {
            if (is_loopback(candidate)) continue;
            return "refusing to serve metrics on " + host_port(candidate.numeric, listen.port) +
                   (candidate.numeric != listen.host ? " (" + listen.host + ")" : std::string()) +
                   ": not a loopback address; set allow_non_loopback to expose metrics beyond this host";
        }
    }

    // httplib::Server's constructor sets SIGPIPE to SIG_IGN for the whole
    // process, and an ignored signal stays ignored across execve: every
    // function launched afterwards would inherit it (`producer | head` would
    // no longer end its producer). DeadlineStream uses MSG_NOSIGNAL instead.
    struct sigaction sigpipe_before {};
    ::sigaction(SIGPIPE, nullptr, &sigpipe_before);
    auto state = std::make_unique<State>(options);
    ::sigaction(SIGPIPE, &sigpipe_before, nullptr);

    GuardedHttpServer& http = state->http;
    // The listening socket, as httplib creates it (it keeps it private).
    int listening_fd = -1;
    http.set_socket_options([&listening_fd](socket_t sock) {
        listening_fd = sock;
        // SO_REUSEADDR: a restarted daemon gets its port back despite
        // connections in TIME_WAIT. Not SO_REUSEPORT, httplib's default: with
        // it a second daemon binds the same port without an error and
        // silently answers half the scrapes.
        int yes = 1;
        ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    // Per read/write in httplib (and set on accepted sockets); the budget for
    // a whole request is DeadlineStream's.
    http.set_read_timeout(options.request_timeout);
    http.set_write_timeout(options.request_timeout);
    http.set_keep_alive_max_count(1);
    http.set_payload_max_length(std::max<size_t>(options.max_request_bytes, 1));
    http.new_task_queue = [] { return new InlineTaskQueue(); };
    add_routes(http, registry, std::move(health));

    for (const auto& candidate : candidates) {
        // AI_NUMERICHOST: httplib resolves the host again; a number needs no DNS.
        int bound_port = listen.port == 0
                             ? http.bind_to_any_port(candidate.numeric, AI_NUMERICHOST)
                             : (http.bind_to_port(candidate.numeric, listen.port, AI_NUMERICHOST) ? listen.port : -1);
        if (bound_port > 0) {
            // httplib listens with a backlog of 5: a burst of connections
            // (idle ones, or scrapers) overflows it, and each dropped SYN
            // costs its client a 1 s retransmission, /healthz included.
            // listen() again only raises the backlog.
            if (listening_fd >= 0) ::listen(listening_fd, kListenBacklog);
            state->port = static_cast<uint16_t>(bound_port);
            state->address = host_port(candidate.numeric, state->port);
            break;
        }
    }
    if (state->port == 0)
        return "cannot serve metrics on " + host_port(candidates.front().numeric, listen.port) + ": " +
               why_bind_fails(candidates.front(), listen.port);

    State* running = state.get();
    state->listener = std::thread([running] {
        if (!running->http.listen_after_bind())
            spdlog::warn("metrics: the listener on {} stopped: accept() failed", running->address);
        running->listener_exited = true;
    });

    auto deadline = std::chrono::steady_clock::now() + options.startup_timeout;
    while (!running->http.is_running() && !running->listener_exited) {
        if (std::chrono::steady_clock::now() >= deadline) {
            state->stop();
            return "the metrics server on " + running->address + " did not start in time";
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (running->listener_exited) {
        state->stop();
        return "the metrics server on " + running->address + " stopped as it started";
    }
    return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(state)));
}

}  // namespace fnw
