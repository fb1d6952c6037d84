// Ring-buffer records -> one JSON object per event (the event schema of
// docs/events.md). Decoding validates every size: a malformed record is
// reported as such, never read past its end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include "core/policy.hpp"

namespace fnw {

// Converts bpf_ktime_get_boot_ns() stamps to wall-clock time.
class WallClock {
public:
    static WallClock now();
    explicit WallClock(int64_t boot_to_realtime_ns) : offset_ns_(boot_to_realtime_ns) {}
    // RFC 3339, UTC, nanoseconds: 2026-11-28T13:26:54.123456789Z
    std::string rfc3339(uint64_t boot_ns) const;

private:
    int64_t offset_ns_;
};

// What userspace knows about the cgroup an event came from.
struct EventContext {
    std::string function;
    std::string policy;  // metadata.name
    Mode mode = Mode::Audit;
    // Add "exe" from /proc/PID/exe when the record is decoded (best effort:
    // empty when the process is gone). Off in tests, on in the CLI.
    bool resolve_exe = false;
};

// nullopt when the record is malformed (wrong size, unknown type).
std::optional<nlohmann::json> event_to_json(std::span<const std::byte> record, const EventContext& ctx,
                                            const WallClock& clock);

}  // namespace fnw
