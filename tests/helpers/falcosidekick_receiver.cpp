// SPDX-License-Identifier: Apache-2.0
// A falcosidekick stand-in for the falco-format e2e test (falcosidekick is
// no Debian package). It takes POST / as falcosidekick's mainHandler does:
// one FalcoPayload per request, decoded with falcosidekick's types and
// checks (tests/unit/falcosidekick_payload.hpp); 400 for a body
// falcosidekick would refuse. Accepted bodies go to ACCEPTED, one per line;
// the reasons for refusals to REFUSED.
// usage: fnw_falcosidekick_receiver serve ACCEPTED REFUSED   (prints the port)
//        fnw_falcosidekick_receiver check FILE               (each line; exit 1 on any refusal)
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <string>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "../unit/falcosidekick_payload.hpp"
#include "loopback_port.hpp"

namespace {

std::string refusal(const std::string& body) {
    const auto payload = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (payload.is_discarded()) return "not JSON";
    return fnw::test::falcosidekick_rejects(payload);
}

int check_file(const char* path) {
    std::ifstream in(path);
    if (!in) return 2;
    std::string line;
    int refused = 0, lines = 0;
    while (std::getline(in, line)) {
        ++lines;
        if (const std::string why = refusal(line); !why.empty()) {
            std::cout << "refused: " << why << ": " << line << "\n";
            ++refused;
        }
    }
    std::cout << lines << " lines, " << refused << " refused\n";
    return refused || !lines ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "check" && argc == 3) return check_file(argv[2]);
    if (mode != "serve" || argc != 4) {
        std::fprintf(stderr, "usage: %s serve ACCEPTED REFUSED | check FILE\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);  // httplib 0.11 writes without MSG_NOSIGNAL
    std::mutex mutex;
    std::ofstream accepted(argv[2], std::ios::app), refused(argv[3], std::ios::app);
    httplib::Server server;
    // falcosidekick's "/" handler: one JSON object per POST.
    server.Post("/", [&](const httplib::Request& req, httplib::Response& res) {
        const std::string why = refusal(req.body);
        std::lock_guard lock(mutex);
        if (why.empty()) {
            accepted << req.body << "\n" << std::flush;
            res.status = 200;
        } else {
            refused << why << ": " << req.body << "\n" << std::flush;
            res.status = 400;
            res.set_content("Please send a valid request body", "text/plain");
        }
    });
    return fnw::test::serve_on_loopback_printing_port(server);
}
