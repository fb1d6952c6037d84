// SPDX-License-Identifier: Apache-2.0
// The timeouts, retry delays and size bounds of one list+watch of the API
// server, shared by every watcher (pods, FunctionPolicy objects).
#pragma once

#include <chrono>
#include <cstddef>

namespace fnw {

struct ListWatchLimits {
    // Retry delay after a failure: doubled per consecutive failure up to
    // backoff_max, back to backoff_initial after a watch that worked. 401
    // and 403 wait backoff_max at once: they need an operator, not a retry.
    std::chrono::milliseconds backoff_initial{1000};
    std::chrono::milliseconds backoff_max{30000};

    std::chrono::milliseconds connect_timeout{10000};
    // One LIST page, start to end.
    std::chrono::milliseconds list_timeout{60000};
    // Asked of the server (timeoutSeconds): it ends the watch cleanly after
    // this long and we resume from the last resourceVersion. The client
    // gives up a minute later, for a server that forgot.
    unsigned watch_timeout_seconds = 300;

    size_t list_page_size = 500;
    // An object is at most 1.5 MiB (etcd's default request limit): a longer
    // watch line means a broken stream, which is dropped and relisted.
    size_t max_line_bytes = 4u << 20;
    // One decoded LIST page (list_page_size objects): a bound on what a
    // broken or hostile server can make us buffer.
    size_t max_list_page_bytes = 256u << 20;
};

}  // namespace fnw
