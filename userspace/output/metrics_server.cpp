// SPDX-License-Identifier: Apache-2.0
#include "output/metrics_server.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <system_error>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "output/guarded_http_server.hpp"
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

Result<std::vector<ResolvedAddress>> resolve(const std::string& host) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found); rc != 0)
        return fail("cannot resolve \"" + host + "\": " + ::gai_strerror(rc));
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
    if (addresses.empty()) return fail("\"" + host + "\" has no IPv4 or IPv6 address");
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

Result<MetricsServer::HostPort> MetricsServer::parse_address(std::string_view address) {
    auto invalid = [&](std::string_view why) {
        return fail("invalid listen address \"" + std::string(address) + "\": " + std::string(why));
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

    void bind_first(const std::vector<ResolvedAddress>& candidates, uint16_t wanted_port, const int& listening_fd);
    Status run_listener(std::chrono::milliseconds startup_timeout);

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

namespace {

// The addresses `listen` names, checked against allow_non_loopback before
// anything is bound. Resolved here, once, and bound by number: the address
// checked is the address bound, whatever the resolver says a second time.
Result<std::vector<ResolvedAddress>> listen_candidates(const std::string& address,
                                                       const MetricsServer::HostPort& listen,
                                                       const MetricsServerOptions& options) {
    auto resolved = resolve(listen.host);
    if (!resolved) return resolved.wrap("metrics address " + address);
    if (!options.allow_non_loopback) {
        for (const auto& candidate : *resolved) {
            if (is_loopback(candidate)) continue;
            return fail("refusing to serve metrics on " + host_port(candidate.numeric, listen.port) +
                        (candidate.numeric != listen.host ? " (" + listen.host + ")" : std::string()) +
                        ": not a loopback address; set allow_non_loopback to expose metrics beyond this host");
        }
    }
    return resolved;
}

// Timeouts, limits and routes. `listening_fd` receives the listening socket
// as httplib creates it (it keeps it private).
void configure(GuardedHttpServer& http, const MetricsServerOptions& options, MetricsRegistry& registry,
               HealthCheck health, int& listening_fd) {
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
}

}  // namespace

// The first candidate that binds; port 0 when none does.
void MetricsServer::State::bind_first(const std::vector<ResolvedAddress>& candidates, uint16_t wanted_port,
                                      const int& listening_fd) {
    for (const auto& candidate : candidates) {
        // AI_NUMERICHOST: httplib resolves the host again; a number needs no DNS.
        int bound_port = wanted_port == 0
                             ? http.bind_to_any_port(candidate.numeric, AI_NUMERICHOST)
                             : (http.bind_to_port(candidate.numeric, wanted_port, AI_NUMERICHOST) ? wanted_port : -1);
        if (bound_port > 0) {
            // httplib listens with a backlog of 5: a burst of connections
            // (idle ones, or scrapers) overflows it, and each dropped SYN
            // costs its client a 1 s retransmission, /healthz included.
            // listen() again only raises the backlog.
            if (listening_fd >= 0) ::listen(listening_fd, kListenBacklog);
            port = static_cast<uint16_t>(bound_port);
            address = host_port(candidate.numeric, port);
            return;
        }
    }
}

// Starts the listener thread and waits until it accepts; stops it on failure.
Status MetricsServer::State::run_listener(std::chrono::milliseconds startup_timeout) {
    listener = std::thread([this] {
        if (!http.listen_after_bind())
            spdlog::warn("metrics: the listener on {} stopped: accept() failed", address);
        listener_exited = true;
    });
    auto deadline = std::chrono::steady_clock::now() + startup_timeout;
    while (!http.is_running() && !listener_exited) {
        if (std::chrono::steady_clock::now() >= deadline) {
            stop();
            return fail("the metrics server on " + address + " did not start in time");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (listener_exited) {
        stop();
        return fail("the metrics server on " + address + " stopped as it started");
    }
    return {};
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& address, MetricsRegistry& registry,
                                                            HealthCheck health, const MetricsServerOptions& options) {
    auto listen = parse_address(address);
    if (!listen) return fail(listen.error());
    auto candidates = listen_candidates(address, *listen, options);
    if (!candidates) return fail(candidates.error());

    // httplib::Server's constructor sets SIGPIPE to SIG_IGN for the whole
    // process, and an ignored signal stays ignored across execve: every
    // function launched afterwards would inherit it (`producer | head` would
    // no longer end its producer). DeadlineStream uses MSG_NOSIGNAL instead.
    struct sigaction sigpipe_before {};
    ::sigaction(SIGPIPE, nullptr, &sigpipe_before);
    auto state = std::make_unique<State>(options);
    ::sigaction(SIGPIPE, &sigpipe_before, nullptr);

    int listening_fd = -1;
    configure(state->http, options, registry, std::move(health), listening_fd);
    state->bind_first(*candidates, listen->port, listening_fd);
    if (state->port == 0)
        return fail("cannot serve metrics on " + host_port(candidates->front().numeric, listen->port) + ": " +
                    why_bind_fails(candidates->front(), listen->port));
    if (Status running = state->run_listener(options.startup_timeout); !running) return fail(running.error());
    return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(state)));
}

}  // namespace fnw
