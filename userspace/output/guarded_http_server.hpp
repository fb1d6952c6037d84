// SPDX-License-Identifier: Apache-2.0
// The metrics endpoint's HTTP server: httplib's, with connections that
// cannot outstay their welcome (one deadline per request, a bounded worker
// pool, idle connections parked without a thread). Apart from the metrics
// routes because it is about surviving clients, not about metrics.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "common/httplib.hpp"
#include "common/unique_fd.hpp"

namespace fnw {

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
                      size_t max_pending, size_t max_idle);

    ~GuardedHttpServer() override { shut_down(); }

    // Connections in progress fail at their next read or write; parked,
    // queued and future ones are closed unserved. Joins the parking thread
    // and the workers.
    void shut_down();

private:
    struct Parked {
        int fd;
        std::chrono::steady_clock::time_point deadline;
    };

    // On httplib's accept thread (InlineTaskQueue).
    bool process_and_close_socket(socket_t sock) override;

    void wake_parking();
    static void close_connection(int fd);

    // Owns every parked descriptor: only this thread closes them, so poll()
    // never sees a number that has been closed and reused meanwhile.
    void run_parking();

    // On a worker.
    void serve(const Parked& connection);

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

}  // namespace fnw
