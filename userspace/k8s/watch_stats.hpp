// SPDX-License-Identifier: Apache-2.0
// The counters of a k8s list+watch loop (k8s/list_watch.hpp), apart so
// that public watcher headers need neither libcurl nor the JSON library.
#pragma once

#include <cstdint>
#include <string>

namespace fnw {

// Counters every watcher shows (PodWatcherStats and PolicyWatcherStats add
// their own).
struct ListWatchStats {
    uint64_t lists = 0;        // complete LISTs, all pages
    uint64_t watches = 0;      // WATCH requests sent
    uint64_t relists_410 = 0;  // resourceVersion expired (410 Gone): relisted
    uint64_t reconnects = 0;   // watch resumed from the last resourceVersion
    uint64_t events = 0;       // ADDED, MODIFIED, DELETED and BOOKMARK applied
    uint64_t malformed_lines = 0;
    uint64_t ignored_events = 0;   // well-formed but of an unknown type
    uint64_t errors = 0;           // failed requests and watch ERROR events
    std::string resource_version;  // where the next watch resumes
    std::string last_error;        // "" until something failed
};

}  // namespace fnw
