// SPDX-License-Identifier: Apache-2.0
// A Kubernetes API server for the daemon tests, just enough for the pod
// watcher: GET /api/v1/pods serves POD_LIST_FILE (re-read per request, so a
// test can change it); with watch=1 the first watch answers an ERROR 410
// event and closes (the watcher must relist), later watches stay open and
// idle. Listens on 127.0.0.1 (ephemeral port, printed first on stdout) and
// logs each request's query to stderr.
//
// With POLICY_LIST_FILE (a FunctionPolicyList), GET
// /apis/fnwarden.io/v1/functionpolicies serves it the same way; a watch
// stays open until the file changes (a test edits it), then answers an
// ERROR 410 event and closes: the watcher relists and sees the edit. A
// PATCH of an object's status is logged (with its body) and answered 200.
//
// Environment (the pod-shaped test, where the daemon reaches it from a
// pod's network namespace with its in-cluster configuration):
//   FNW_FAKE_KUBE_API_ADDRESS  listen address (default 127.0.0.1)
//   FNW_FAKE_KUBE_API_TLS      CERT_FILE:KEY_FILE: serve https
// usage: fnw_fake_kube_api POD_LIST_FILE [POLICY_LIST_FILE]
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "common/httplib.hpp"

#include "loopback_port.hpp"

namespace {

std::string read_all(const std::string& path) {
    std::ifstream in(path);
    std::stringstream body;
    body << in.rdbuf();
    return body.str();
}

void serve_function_policies(httplib::Server& server, const std::string& list_file) {
    server.Get("/apis/fnwarden.io/v1/functionpolicies", [list_file](const httplib::Request& req,
                                                                     httplib::Response& res) {
        const bool watch = req.get_param_value("watch") == "1" || req.get_param_value("watch") == "true";
        std::cerr << "GET functionpolicies watch=" << req.get_param_value("watch")
                  << " resourceVersion=" << req.get_param_value("resourceVersion") << std::endl;
        const std::string listed = read_all(list_file);
        if (!watch) {
            res.set_content(listed, "application/json");
            return;
        }
        // Open until the file differs from what this watch started with.
        res.set_chunked_content_provider("application/json", [list_file, listed](size_t, httplib::DataSink& sink) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            if (read_all(list_file) == listed) return sink.is_writable();
            const std::string gone =
                R"({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version","reason":"Expired","code":410}})"
                "\n";
            sink.write(gone.data(), gone.size());
            sink.done();
            return true;
        });
    });
    server.Patch(R"(/apis/fnwarden\.io/v1/namespaces/([a-z0-9-]+)/functionpolicies/([a-z0-9.-]+)/status)",
                 [](const httplib::Request& req, httplib::Response& res) {
                     std::cerr << "PATCH functionpolicies/" << req.matches[1] << "/" << req.matches[2]
                               << "/status " << req.body << std::endl;
                     res.set_content("{}", "application/json");
                 });
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2 && argc != 3) {
        std::fprintf(stderr, "usage: %s POD_LIST_FILE [POLICY_LIST_FILE]\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);  // httplib 0.11 writes without MSG_NOSIGNAL
    const std::string list_file = argv[1];
    std::atomic<int> watches{0};

    const char* tls = std::getenv("FNW_FAKE_KUBE_API_TLS");
    std::unique_ptr<httplib::Server> https_or_http;
    if (tls && *tls) {
        const std::string files = tls;
        const auto colon = files.find(':');
        if (colon == std::string::npos) return 2;
        https_or_http = std::make_unique<httplib::SSLServer>(files.substr(0, colon).c_str(), files.substr(colon + 1).c_str());
    } else {
        https_or_http = std::make_unique<httplib::Server>();
    }
    if (!https_or_http->is_valid()) return 1;
    httplib::Server& server = *https_or_http;
    server.Get("/api/v1/pods", [&](const httplib::Request& req, httplib::Response& res) {
        std::cerr << "GET /api/v1/pods watch=" << req.get_param_value("watch")
                  << " fieldSelector=" << req.get_param_value("fieldSelector")
                  << " resourceVersion=" << req.get_param_value("resourceVersion")
                  << " auth=" << req.get_header_value("Authorization") << std::endl;
        if (req.get_param_value("watch") != "1" && req.get_param_value("watch") != "true") {
            std::ifstream in(list_file);
            std::stringstream body;
            body << in.rdbuf();
            res.set_content(body.str(), "application/json");
            return;
        }
        if (watches++ == 0) {
            // "resourceVersion too old": the client must list again.
            res.set_content(
                R"({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version","reason":"Expired","code":410}})"
                "\n",
                "application/json");
            return;
        }
        const bool drop = watches.load() == 2;
        const auto opened = std::chrono::steady_clock::now();
        res.set_chunked_content_provider("application/json", [drop, opened](size_t, httplib::DataSink& sink) {
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
            if (drop && std::chrono::steady_clock::now() - opened > std::chrono::seconds(1))
                return false;  // the connection drops mid-stream
            return sink.is_writable();  // idle until the client goes away
        });
    });
    if (argc == 3) serve_function_policies(server, argv[2]);
    const char* address = std::getenv("FNW_FAKE_KUBE_API_ADDRESS");
    return fnw::test::serve_on_loopback_printing_port(server, address && *address ? address : "127.0.0.1");
}
