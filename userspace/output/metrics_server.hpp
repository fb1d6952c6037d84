// SPDX-License-Identifier: Apache-2.0
// The daemon's HTTP endpoint: GET /metrics (Prometheus text format 0.0.4)
// and GET /healthz, served on loopback unless deliberately told otherwise.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace fnw {

class MetricsRegistry;

// Empty when healthy; otherwise why not (served as the 503 body). Runs on
// the HTTP server's threads: it must be thread-safe.
using HealthCheck = std::function<std::string()>;

struct MetricsServerOptions {
    // Metrics of a security monitor tell an attacker which functions are
    // watched and how: publishing them beyond the host is opt-in.
    bool allow_non_loopback = false;
    // Budget for a whole request, from accept to the last byte written. A
    // client that trickles its request is cut off here, whatever its pace.
    std::chrono::milliseconds request_timeout{5000};
    // Request line, headers and body together; a scrape needs a few hundred.
    size_t max_request_bytes = 16 * 1024;
    // Connections served at once, and ones with a request waiting for a
    // worker. A connection gets a worker only once it has sent something:
    // until then it is one of at most max_idle_connections in a poll() set,
    // holding no thread (past that, the oldest idle one is closed). So idle
    // connections, however many, never keep /healthz waiting; beyond all
    // three, new connections wait in the kernel's listen backlog.
    size_t worker_threads = 2;
    size_t max_pending_connections = 8;
    size_t max_idle_connections = 64;
    // How long start() waits for the listener thread before giving up.
    std::chrono::milliseconds startup_timeout{5000};
};

// Serves until destroyed, on a thread of its own plus a small worker pool.
// The registry and whatever the health check uses must outlive the server.
class MetricsServer {
public:
    // Binds, starts listening and returns once connections are accepted, or
    // returns why not: malformed address, non-loopback address without
    // allow_non_loopback, address in use. Never throws for those, never hangs.
    static Result<std::unique_ptr<MetricsServer>> start(const std::string& address, MetricsRegistry& registry,
                                                        HealthCheck health, const MetricsServerOptions& options = {});

    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;
    // Drops connections in progress, stops listening, joins every thread.
    // Does not wait for clients, slow or not.
    ~MetricsServer();

    uint16_t port() const;
    // What was bound, numeric: "127.0.0.1:9464", "[::1]:9464".
    const std::string& address() const;

    // Nested, not fnw::ListenAddress: the daemon's config has its own
    // (IP literals only), and start() also takes host names.
    struct HostPort {
        std::string host;   // as written, without brackets: "127.0.0.1", "::1", "localhost"
        uint16_t port = 0;  // 0: any free port
    };
    // "127.0.0.1:9464", "[::1]:9464", "localhost:0". An IPv6 host needs its
    // brackets: in "::1:9464" nobody can tell where the address ends.
    static Result<HostPort> parse_address(std::string_view address);

private:
    struct State;
    explicit MetricsServer(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
};

}  // namespace fnw
