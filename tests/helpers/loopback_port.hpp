// SPDX-License-Identifier: Apache-2.0
// The test HTTP helpers' start: listen on 127.0.0.1 on an ephemeral port,
// print the port as the first stdout line (the scripts wait for it), serve.
#pragma once

#include <cstdio>

#include <httplib.h>

namespace fnw::test {

// Returns main's exit code: 1 when no port could be bound. `address`:
// another listen address (the pod-shaped test's API server is on a bridge).
inline int serve_on_loopback_printing_port(httplib::Server& server, const char* address = "127.0.0.1") {
    const int port = server.bind_to_any_port(address);
    if (port <= 0) return 1;
    std::printf("%d\n", port);
    std::fflush(stdout);
    server.listen_after_bind();
    return 0;
}

}  // namespace fnw::test
