// SPDX-License-Identifier: Apache-2.0
// A k8s watcher's log of failures. The same failure repeats at every
// retry, and a broken stream repeats the same kind of bad line: once per
// interval per key is enough, with a count. The key is the message itself
// for failures (a new failure is news, logged at once) and a fixed word for
// floods of lines that each differ. Used by the watcher's thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include <spdlog/spdlog.h>

namespace fnw {

class FailureLog {
public:
    // `prefix` starts every line: which watcher speaks.
    explicit FailureLog(std::string prefix = "pod watcher") : prefix_(std::move(prefix)) {}

    void log(spdlog::level::level_enum level, const std::string& message, const std::string& key = "") {
        const auto now = Clock::now();
        // Keys that embed changing details cannot grow this without bound.
        if (recent_.size() > kMaxKeys) recent_.clear();
        Recent& recent = recent_[key.empty() ? message : key];
        if (recent.logged_once && now - recent.last_logged < kInterval) {
            ++recent.suppressed;
            return;
        }
        if (recent.suppressed > 0)
            spdlog::log(level, "{}: {} ({} similar suppressed)", prefix_, message, recent.suppressed);
        else
            spdlog::log(level, "{}: {}", prefix_, message);
        recent = {true, now, 0};
    }

private:
    using Clock = std::chrono::steady_clock;
    struct Recent {
        bool logged_once = false;
        Clock::time_point last_logged{};
        uint64_t suppressed = 0;
    };
    static constexpr auto kInterval = std::chrono::seconds(30);
    static constexpr size_t kMaxKeys = 64;
    std::string prefix_;
    std::map<std::string, Recent> recent_;
};

}  // namespace fnw
