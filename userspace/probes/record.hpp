// SPDX-License-Identifier: Apache-2.0
// Ring-buffer records, decoded once into typed values: the one place that
// checks a record's size and type. Everything after the decoder (the
// userspace response, the file decider, enrichment, the JSON encoder, the
// filters) works on a Record and never re-reads raw bytes.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <variant>

#include <fnwarden/events.h>

#include "common/result.hpp"
#include "core/event_kind.hpp"

namespace fnw {

// A record too large to copy on every read (a file record is 12 KiB):
// viewed where it lies (in the ring buffer, valid while its callback runs)
// and copied once, only when userspace must change it or keep it longer.
template <class Event>
class LargeRecord {
public:
    static LargeRecord view(const Event& in_place) {
        LargeRecord record;
        record.at_ = &in_place;
        return record;
    }
    static LargeRecord own(std::unique_ptr<Event> event) {
        LargeRecord record;
        record.owned_ = std::move(event);
        record.at_ = record.owned_.get();
        return record;
    }

    const Event& operator*() const { return *at_; }
    const Event* operator->() const { return at_; }
    // The record to change: a view is copied first (once).
    Event& edit() {
        if (!owned_) {
            owned_ = std::make_unique<Event>(*at_);
            at_ = owned_.get();
        }
        return *owned_;
    }
    // The record to keep after the callback that produced it.
    std::unique_ptr<Event> take() && {
        edit();
        at_ = nullptr;
        return std::move(owned_);
    }

private:
    LargeRecord() = default;
    const Event* at_ = nullptr;
    std::unique_ptr<Event> owned_;
};

using FileRecord = LargeRecord<fnw_file_event>;
using CgroupRecord = LargeRecord<fnw_cgroup_event>;

// One alternative per enum fnw_event_type; the small ones are held by value.
using Record = std::variant<fnw_syscall_event, fnw_net_event, FileRecord, CgroupRecord, fnw_violation_summary_event>;

// Checks the header (size equal to the bytes, a known type), the exact size
// of the type, and a summary's kind. The bytes must outlive the Record only
// for file and cgroup records, which are viewed in place when aligned.
Result<Record> decode_record(std::span<const std::byte> bytes);

const fnw_event_header& header(const Record& record);
fnw_event_header& edit_header(Record& record);
// The record as the kernel wrote it (no copy): for peers that want bytes.
std::span<const std::byte> record_bytes(const Record& record);

// Whether a record reports a violation; a summary of repeats always does.
bool is_violation(const Record& record);

// The kind of a policy event (nullopt for a cgroup birth, which is none):
// EventKind::ViolationSummary for a summary.
std::optional<EventKind> event_kind(const Record& record);
// What `trace --events` filters on: a summary is of the kind it repeats.
std::optional<EventKind> trace_kind(const Record& record);
// The kind a summary repeats (decode_record checked it is one of these).
EventKind repeated_kind(const fnw_violation_summary_event& summary);

// The variable-length parts of a record, bounded by their arrays whatever
// the lengths in the record say: fixed arrays are NUL-padded, not
// necessarily NUL-terminated, and a hostile or buggy length is clamped.
template <size_t N>
std::string_view bounded(const char (&text)[N]) {
    return {text, strnlen(text, N)};
}
inline std::span<const uint32_t> lineage(const fnw_event_header& hdr) {
    return {hdr.lineage, std::min<size_t>(hdr.lineage_len, FNW_LINEAGE_MAX)};
}
inline std::string_view unix_path(const fnw_net_event& ev) {
    return {ev.unix_path, std::min<size_t>(ev.unix_path_len, sizeof(ev.unix_path))};
}
// nr == FNW_NR_EXEC: the argv bytes, NUL-separated.
inline std::string_view argv_bytes(const fnw_file_event& ev) {
    return {ev.argv, std::min<size_t>(ev.argv_len, sizeof(ev.argv))};
}

}  // namespace fnw
