// SPDX-License-Identifier: Apache-2.0
#include "probes/record.hpp"

#include <string>

namespace fnw {

namespace {

// Small records are copied out: the ring's slot is reused after the callback.
template <class Event>
Result<Record> copied(std::span<const std::byte> bytes) {
    Event event;
    std::memcpy(&event, bytes.data(), sizeof(event));
    return Record(std::in_place_type<Event>, event);
}

// Large ones are read in place, unless the bytes are not aligned for the
// struct (never from libbpf, whose records are 8-byte aligned; possible
// from a caller's buffer): then a copy is the only correct read.
template <class Event>
Result<Record> viewed(std::span<const std::byte> bytes) {
    if (reinterpret_cast<uintptr_t>(bytes.data()) % alignof(Event) == 0)
        return Record(LargeRecord<Event>::view(*reinterpret_cast<const Event*>(bytes.data())));
    auto copy = std::make_unique<Event>();
    std::memcpy(copy.get(), bytes.data(), sizeof(Event));
    return Record(LargeRecord<Event>::own(std::move(copy)));
}

Error wrong_size(const char* what, size_t got, size_t want) {
    return fail(std::string(what) + " record of " + std::to_string(got) + " bytes, expected " +
                std::to_string(want));
}

template <class Event>
Result<Record> sized(std::span<const std::byte> bytes, const char* what, Result<Record> (*decode)(std::span<const std::byte>)) {
    if (bytes.size() != sizeof(Event)) return wrong_size(what, bytes.size(), sizeof(Event));
    return decode(bytes);
}

Result<Record> decode_summary(std::span<const std::byte> bytes) {
    auto record = copied<fnw_violation_summary_event>(bytes);
    const uint32_t kind = std::get<fnw_violation_summary_event>(*record).kind;
    if (kind != FNW_EVENT_SYSCALL && kind != FNW_EVENT_NET && kind != FNW_EVENT_FILE)
        return fail("violation summary of unknown event type " + std::to_string(kind));
    return record;
}

}  // namespace

Result<Record> decode_record(std::span<const std::byte> bytes) {
    fnw_event_header hdr;
    if (bytes.size() < sizeof(hdr)) return wrong_size("truncated", bytes.size(), sizeof(hdr));
    std::memcpy(&hdr, bytes.data(), sizeof(hdr));
    if (hdr.size != bytes.size())
        return fail("record says " + std::to_string(hdr.size) + " bytes, has " + std::to_string(bytes.size()));
    switch (hdr.type) {
    case FNW_EVENT_SYSCALL: return sized<fnw_syscall_event>(bytes, "syscall", copied<fnw_syscall_event>);
    case FNW_EVENT_NET: return sized<fnw_net_event>(bytes, "network", copied<fnw_net_event>);
    case FNW_EVENT_FILE: return sized<fnw_file_event>(bytes, "file", viewed<fnw_file_event>);
    case FNW_EVENT_CGROUP: return sized<fnw_cgroup_event>(bytes, "cgroup", viewed<fnw_cgroup_event>);
    case FNW_EVENT_VIOLATION_SUMMARY:
        return sized<fnw_violation_summary_event>(bytes, "violation summary", decode_summary);
    }
    return fail("unknown record type " + std::to_string(hdr.type));
}

namespace {

// The struct a record holds, whichever way it holds it.
template <class Event>
const Event& event_of(const Event& event) {
    return event;
}
template <class Event>
const Event& event_of(const LargeRecord<Event>& record) {
    return *record;
}

}  // namespace

const fnw_event_header& header(const Record& record) {
    return std::visit([](const auto& r) -> const fnw_event_header& { return event_of(r).hdr; }, record);
}

fnw_event_header& edit_header(Record& record) {
    return std::visit(
        [](auto& r) -> fnw_event_header& {
            if constexpr (requires { r.edit(); })
                return r.edit().hdr;
            else
                return r.hdr;
        },
        record);
}

std::span<const std::byte> record_bytes(const Record& record) {
    return std::visit(
        [](const auto& r) {
            const auto& event = event_of(r);
            return std::as_bytes(std::span(&event, 1));
        },
        record);
}

bool is_violation(const Record& record) {
    if (const auto* ev = std::get_if<fnw_syscall_event>(&record)) return ev->verdict == FNW_VERDICT_VIOLATION;
    if (const auto* ev = std::get_if<fnw_net_event>(&record)) return ev->verdict == FNW_VERDICT_VIOLATION;
    if (const auto* ev = std::get_if<FileRecord>(&record)) return (*ev)->verdict == FNW_VERDICT_VIOLATION;
    return std::holds_alternative<fnw_violation_summary_event>(record);  // repeats counted in the kernel
}

EventKind repeated_kind(const fnw_violation_summary_event& summary) {
    switch (summary.kind) {
    case FNW_EVENT_NET: return EventKind::Net;
    case FNW_EVENT_FILE: return EventKind::File;
    }
    return EventKind::Syscall;
}

std::optional<EventKind> event_kind(const Record& record) {
    if (std::holds_alternative<fnw_syscall_event>(record)) return EventKind::Syscall;
    if (std::holds_alternative<fnw_net_event>(record)) return EventKind::Net;
    if (const auto* ev = std::get_if<FileRecord>(&record)) return is_exec_event(**ev) ? EventKind::Exec : EventKind::File;
    if (std::holds_alternative<fnw_violation_summary_event>(record)) return EventKind::ViolationSummary;
    return std::nullopt;
}

std::optional<EventKind> trace_kind(const Record& record) {
    if (const auto* summary = std::get_if<fnw_violation_summary_event>(&record)) return repeated_kind(*summary);
    return event_kind(record);
}

}  // namespace fnw
