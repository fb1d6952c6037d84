// SPDX-License-Identifier: Apache-2.0
#include "output/event_stamp.hpp"

#include <sys/random.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>

namespace fnw {

std::string_view to_string(Severity severity) {
    switch (severity) {
    case Severity::Critical: return "critical";
    case Severity::Error: return "error";
    case Severity::Warning: return "warning";
    case Severity::Notice: return "notice";
    case Severity::Informational: return "informational";
    }
    return "informational";
}

int syslog_priority(Severity severity) {
    switch (severity) {
    case Severity::Critical: return 2;
    case Severity::Error: return 3;
    case Severity::Warning: return 4;
    case Severity::Notice: return 5;
    case Severity::Informational: return 6;
    }
    return 6;
}

namespace {

std::string text_of(const nlohmann::json& event, const char* key) {
    const auto it = event.find(key);
    return it != event.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Rules whose violation means code tried to leave the sandbox: run another
// program, attach to a process, load BPF, make memory executable.
bool is_escape_rule(std::string_view rule) {
    return rule.rfind("process.", 0) == 0 || rule.rfind("exec.", 0) == 0;
}

}  // namespace

Severity severity_of(const nlohmann::json& event) {
    if (text_of(event, "type") == "violation_summary") return Severity::Warning;
    const std::string verdict = text_of(event, "verdict");
    if (verdict == "undecided") return Severity::Notice;
    if (verdict != "violation") return Severity::Informational;
    const std::string action = text_of(event, "action");
    const bool stopped = action == "killed" || action == "denied";
    if (is_escape_rule(text_of(event, "rule"))) return stopped ? Severity::Critical : Severity::Error;
    return stopped ? Severity::Error : Severity::Warning;
}

std::string event_host_from(const char* node_name) {
    if (node_name && *node_name) return node_name;
    std::array<char, 256> name{};
    if (::gethostname(name.data(), name.size() - 1) == 0 && name[0]) return name.data();
    return "unknown";
}

const std::string& event_host() {
    static const std::string host = event_host_from(std::getenv("NODE_NAME"));
    return host;
}

namespace {

// "00" .. "ff": byte b's two lowercase hex digits at [2b, 2b + 1].
constexpr std::array<char, 512> kHexPairs = [] {
    constexpr char kHex[] = "0123456789abcdef";
    std::array<char, 512> pairs{};
    for (size_t b = 0; b < 256; ++b) {
        pairs[2 * b] = kHex[b >> 4];
        pairs[2 * b + 1] = kHex[b & 0xf];
    }
    return pairs;
}();

uint64_t process_random_bits() {
    uint64_t bits = 0;
    if (::getrandom(&bits, sizeof(bits), 0) == static_cast<ssize_t>(sizeof(bits))) return bits;
    // No entropy pool (a very early boot): random_device has its own source.
    std::random_device device;
    return (uint64_t{device()} << 32) ^ device();
}

}  // namespace

EventIdGenerator::EventIdGenerator() : EventIdGenerator(process_random_bits()) {}

std::string EventIdGenerator::next(std::chrono::system_clock::time_point now) {
    std::string text;
    append_next(text, now);
    return text;
}

void EventIdGenerator::append_next(std::string& out, std::chrono::system_clock::time_point now) {
    const size_t at = out.size();
    out.resize(at + kLength);
    write_next(out.data() + at, now);
}

void EventIdGenerator::write_next(char* text, std::chrono::system_clock::time_point now) {
    const uint64_t ms = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count());
    const uint32_t sequence = sequence_.fetch_add(1, std::memory_order_relaxed);
    // 48 ms | ver 7 | 12 random | var 10 | 30 random | 32 sequence
    const uint64_t high = ((ms & 0xffff'ffff'ffffULL) << 16) | (uint64_t{0x7} << 12) | (random_ >> 30);
    const uint64_t low = (uint64_t{0x2} << 62) | ((random_ & 0x3fff'ffffULL) << 32) | sequence;
    // By hand, not snprintf: a traced flood takes an id per event. A byte's
    // two digits at a time, from a table: a digit at a time was 6% of the
    // trace consumer's CPU (docs/performance.md, "A faster host").
    size_t at = 0;
    const auto put = [&](uint64_t value, int first_byte, int bytes) {
        for (int byte = first_byte; byte < first_byte + bytes; ++byte) {
            const auto octet = static_cast<uint8_t>(value >> (56 - 8 * byte));
            std::memcpy(text + at, &kHexPairs[2 * octet], 2);
            at += 2;
        }
        if (at < kLength) text[at++] = '-';
    };
    put(high, 0, 4);
    put(high, 4, 2);
    put(high, 6, 2);
    put(low, 0, 2);
    put(low, 2, 6);
}

void stamp_event(nlohmann::json& event) {
    static EventIdGenerator ids;
    event["host"] = event_host();
    event["schema_version"] = kEventSchemaVersion;
    event["id"] = ids.next();
    event["severity"] = to_string(severity_of(event));
}

}  // namespace fnw
