// SPDX-License-Identifier: Apache-2.0
// `fnwarden daemon`: one set of probes for the host, every policy of a rules
// directory, functions registered by `fnwarden run`, one event loop (epoll
// over the ring buffer, signalfd, inotify and the control socket).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.hpp"
#include "control/protocol.hpp"
#include "daemon/daemon_config.hpp"

namespace fnw {

class Daemon {
public:
    // Loads the probes and the rules, opens the outputs, the control socket
    // and the metrics endpoint. Fails only when a required part cannot
    // start (probes, rules directory, socket); optional hooks that a kernel
    // lacks are reported in `status`, never fatal.
    static Result<std::unique_ptr<Daemon>> start(const DaemonConfig& config);
    ~Daemon();
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;

    // Runs until SIGTERM or SIGINT; SIGHUP reloads the rules and reopens the
    // output file. Returns the process exit code.
    int run();
    // Stops the daemon's threads (pod watcher, then metrics server) before
    // anything they read goes away. The destructor calls it; idempotent.
    void stop();

    // An in-process trace subscriber (`fnwarden trace` with no daemon to
    // talk to): the request a client would send, checked by the same
    // trace_filter_of; `on_event` runs on the event loop thread.
    Status trace_locally(const TraceRequest& request, std::function<void(const nlohmann::json&)> on_event);

private:
    struct Impl;
    explicit Daemon(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// The signals the daemon reads through its signalfd; blocked in every
// thread, so call this before any thread starts.
void block_daemon_signals();

}  // namespace fnw
