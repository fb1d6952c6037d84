// SPDX-License-Identifier: Apache-2.0
// decode_record: the one place a ring-buffer record's size and type are
// checked. Every record type decodes to its own alternative; anything cut,
// padded, mislabelled or unknown is refused with a reason, never read.
#include "probes/record.hpp"

#include <cstring>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include <fnwarden/events.h>

namespace fnw {
namespace {

template <class Event>
std::vector<std::byte> record_of(uint32_t type) {
    auto ev = std::make_unique<Event>();
    std::memset(ev.get(), 0, sizeof(Event));
    ev->hdr.type = type;
    ev->hdr.size = sizeof(Event);
    ev->hdr.pid = 42;
    const auto* raw = reinterpret_cast<const std::byte*>(ev.get());
    return {raw, raw + sizeof(Event)};
}

std::vector<std::byte> summary_of(uint32_t kind) {
    auto bytes = record_of<fnw_violation_summary_event>(FNW_EVENT_VIOLATION_SUMMARY);
    std::memcpy(bytes.data() + offsetof(fnw_violation_summary_event, kind), &kind, sizeof(kind));
    return bytes;
}

TEST(Record, EveryRecordTypeDecodesToItsOwnAlternative) {
    auto syscall = decode_record(record_of<fnw_syscall_event>(FNW_EVENT_SYSCALL));
    ASSERT_TRUE(syscall) << syscall.error();
    EXPECT_TRUE(std::holds_alternative<fnw_syscall_event>(*syscall));
    EXPECT_EQ(event_kind(*syscall), EventKind::Syscall);

    auto net = decode_record(record_of<fnw_net_event>(FNW_EVENT_NET));
    ASSERT_TRUE(net) << net.error();
    EXPECT_TRUE(std::holds_alternative<fnw_net_event>(*net));
    EXPECT_EQ(event_kind(*net), EventKind::Net);

    const auto file_bytes = record_of<fnw_file_event>(FNW_EVENT_FILE);
    auto file = decode_record(file_bytes);
    ASSERT_TRUE(file) << file.error();
    ASSERT_TRUE(std::holds_alternative<FileRecord>(*file));
    EXPECT_EQ(event_kind(*file), EventKind::File);

    auto cgroup = decode_record(record_of<fnw_cgroup_event>(FNW_EVENT_CGROUP));
    ASSERT_TRUE(cgroup) << cgroup.error();
    EXPECT_TRUE(std::holds_alternative<CgroupRecord>(*cgroup));
    EXPECT_EQ(event_kind(*cgroup), std::nullopt) << "a cgroup birth is no policy event";
    EXPECT_FALSE(is_violation(*cgroup));

    auto summary = decode_record(summary_of(FNW_EVENT_NET));
    ASSERT_TRUE(summary) << summary.error();
    EXPECT_TRUE(std::holds_alternative<fnw_violation_summary_event>(*summary));
    EXPECT_EQ(event_kind(*summary), EventKind::ViolationSummary);
    EXPECT_EQ(trace_kind(*summary), EventKind::Net) << "a summary is of the kind it repeats";
    EXPECT_TRUE(is_violation(*summary));
    EXPECT_EQ(header(*summary).pid, 42u);
}

TEST(Record, AFileRecordIsViewedWhereItLiesAndCopiedOnlyToChangeIt) {
    const auto bytes = record_of<fnw_file_event>(FNW_EVENT_FILE);
    auto decoded = decode_record(bytes);
    ASSERT_TRUE(decoded);
    auto& file = std::get<FileRecord>(*decoded);
    EXPECT_EQ(static_cast<const void*>(&*file), static_cast<const void*>(bytes.data())) << "not copied";
    EXPECT_EQ(record_bytes(*decoded).data(), bytes.data());

    file.edit().verdict = FNW_VERDICT_VIOLATION;
    EXPECT_NE(static_cast<const void*>(&*file), static_cast<const void*>(bytes.data()));
    EXPECT_TRUE(is_violation(*decoded));
    fnw_file_event original;
    std::memcpy(&original, bytes.data(), sizeof(original));
    EXPECT_EQ(original.verdict, FNW_VERDICT_ALLOWED) << "the ring's bytes are never written";

    const fnw_file_event* edited = &*file;
    auto kept = std::move(file).take();
    EXPECT_EQ(kept.get(), edited) << "keeping an edited record moves it, no second copy";
}

TEST(Record, AMisalignedFileRecordIsCopiedNotReadInPlace) {
    const auto bytes = record_of<fnw_file_event>(FNW_EVENT_FILE);
    std::vector<std::byte> shifted(bytes.size() + 1);
    std::memcpy(shifted.data() + 1, bytes.data(), bytes.size());
    auto decoded = decode_record(std::span(shifted).subspan(1));
    ASSERT_TRUE(decoded) << decoded.error();
    const auto& file = std::get<FileRecord>(*decoded);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(&*file) % alignof(fnw_file_event), 0u);
    EXPECT_EQ(file->hdr.pid, 42u);
}

TEST(Record, TruncatedRecordsAreRefused) {
    EXPECT_FALSE(decode_record({}));
    const auto syscall = record_of<fnw_syscall_event>(FNW_EVENT_SYSCALL);
    EXPECT_FALSE(decode_record(std::span(syscall).first(sizeof(fnw_event_header) - 1)));
    // Cut short, with a header that says so: still not a syscall record.
    for (auto bytes : {record_of<fnw_syscall_event>(FNW_EVENT_SYSCALL), record_of<fnw_net_event>(FNW_EVENT_NET),
                       record_of<fnw_file_event>(FNW_EVENT_FILE), record_of<fnw_cgroup_event>(FNW_EVENT_CGROUP),
                       summary_of(FNW_EVENT_FILE)}) {
        bytes.pop_back();
        const uint32_t size = static_cast<uint32_t>(bytes.size());
        std::memcpy(bytes.data() + offsetof(fnw_event_header, size), &size, sizeof(size));
        auto decoded = decode_record(bytes);
        ASSERT_FALSE(decoded) << size;
        EXPECT_NE(decoded.error().find("expected"), std::string::npos) << decoded.error();
    }
}

TEST(Record, ASizeFieldThatDisagreesWithTheBytesIsRefused) {
    auto bytes = record_of<fnw_syscall_event>(FNW_EVENT_SYSCALL);
    bytes.resize(bytes.size() + 8);  // longer than the header says
    EXPECT_FALSE(decode_record(bytes));
    // A syscall record labelled as a network one: the size gives it away.
    auto mislabelled = record_of<fnw_syscall_event>(FNW_EVENT_NET);
    EXPECT_FALSE(decode_record(mislabelled));
}

TEST(Record, UnknownTypesAndUnknownSummaryKindsAreRefused) {
    auto unknown = record_of<fnw_syscall_event>(99);
    auto decoded = decode_record(unknown);
    ASSERT_FALSE(decoded);
    EXPECT_NE(decoded.error().find("unknown record type 99"), std::string::npos) << decoded.error();
    EXPECT_FALSE(decode_record(summary_of(FNW_EVENT_CGROUP)));
    EXPECT_FALSE(decode_record(summary_of(0)));
    for (uint32_t kind : {FNW_EVENT_SYSCALL, FNW_EVENT_NET, FNW_EVENT_FILE})
        EXPECT_TRUE(decode_record(summary_of(kind))) << kind;
}

TEST(Record, ExecFileRecordsAreOfTheExecKind) {
    auto bytes = record_of<fnw_file_event>(FNW_EVENT_FILE);
    const uint32_t nr = FNW_NR_EXEC;
    std::memcpy(bytes.data() + offsetof(fnw_file_event, nr), &nr, sizeof(nr));
    auto decoded = decode_record(bytes);
    ASSERT_TRUE(decoded);
    EXPECT_EQ(event_kind(*decoded), EventKind::Exec);
    EXPECT_EQ(trace_kind(*decoded), EventKind::Exec);
}

TEST(Record, VariableLengthsAreClampedToTheirArrays) {
    fnw_event_header hdr{};
    hdr.lineage_len = 200;
    EXPECT_EQ(lineage(hdr).size(), size_t{FNW_LINEAGE_MAX});
    fnw_net_event net{};
    net.unix_path_len = 255;
    EXPECT_EQ(unix_path(net).size(), sizeof(net.unix_path));
    char comm[FNW_COMM_LEN];
    std::memset(comm, 'x', sizeof(comm));  // no NUL at all
    EXPECT_EQ(bounded(comm).size(), sizeof(comm));
}

TEST(EventKind, EveryKindHasOneNameThatParsesBack) {
    for (EventKind kind : {EventKind::Syscall, EventKind::File, EventKind::Exec, EventKind::Net,
                           EventKind::ViolationSummary})
        EXPECT_EQ(parse_event_kind(to_string(kind)), kind);
    EXPECT_EQ(parse_event_kind("network"), std::nullopt);
    EXPECT_EQ(json_type(EventKind::Exec), "file");
    EXPECT_EQ(json_type(EventKind::Net), "network");
    EXPECT_EQ(kind_from_json_type("file", "exec.sha256"), EventKind::Exec);
    EXPECT_EQ(kind_from_json_type("file", "files.read"), EventKind::File);
    EXPECT_EQ(kind_from_json_type("network", ""), EventKind::Net);
    EXPECT_EQ(kind_from_json_type("bogus", ""), std::nullopt);
}

}  // namespace
}  // namespace fnw
