// SPDX-License-Identifier: Apache-2.0
// A webhook endpoint for the daemon tests: listens on 127.0.0.1 (ephemeral
// port, printed as the first stdout line), appends every POST body as one
// line to FILE and answers as MODE says:
//   ok            200 for everything
//   fail-first:N  500 for the first N requests, then 200 (retries must recover)
//   hang          never answers in time (the daemon must not care)
// usage: fnw_webhook_receiver MODE FILE
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>

#include <httplib.h>

#include "loopback_port.hpp"

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s ok|fail-first:N|hang FILE\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);  // httplib 0.11 writes without MSG_NOSIGNAL
    const std::string mode = argv[1];
    const std::string file = argv[2];
    long failures_left = mode.rfind("fail-first:", 0) == 0 ? std::strtol(mode.c_str() + 11, nullptr, 10) : 0;
    std::mutex mutex;
    std::atomic<long> requests{0};

    httplib::Server server;
    server.Post(".*", [&](const httplib::Request& req, httplib::Response& res) {
        ++requests;
        if (mode == "hang") {
            std::this_thread::sleep_for(std::chrono::seconds(60));
            return;
        }
        std::lock_guard lock(mutex);
        if (failures_left > 0) {
            --failures_left;
            res.status = 500;
            return;
        }
        std::ofstream(file, std::ios::app) << req.body << "\n";
        res.status = 200;
    });
    return fnw::test::serve_on_loopback_printing_port(server);
}
