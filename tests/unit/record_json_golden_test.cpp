// SPDX-License-Identifier: Apache-2.0
// The JSON of every record type, byte for byte as the outputs and the
// control socket carry it. The expected lines were captured from the
// encoder before records were decoded into typed values (issue 17): the
// e2e tests grep these lines, so any change of key, order or spelling must
// be deliberate and show up here first. host, id, schema_version and
// severity were added deliberately (issue 23); host and id are placeholders.
#include "output/event_json.hpp"
#include "output/event_stamp.hpp"

#include <sys/syscall.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <fnwarden/events.h>
#include <fnwarden/kernel_abi.h>

namespace fnw {
namespace {

template <class Event>
std::span<const std::byte> bytes_of(const Event& ev) {
    return {reinterpret_cast<const std::byte*>(&ev), sizeof(ev)};
}

void fill_header(fnw_event_header& hdr, uint32_t type, uint32_t size) {
    hdr.type = type;
    hdr.size = size;
    hdr.boot_ns = 1'764'000'000'123'456'789ull;
    hdr.cgroup_id = 4242;
    hdr.pid = 100;
    hdr.tid = 101;
    hdr.ppid = 99;
    hdr.policy_id = 3;
    std::memcpy(hdr.comm, "worker\x01", 8);
    hdr.lineage[0] = 99;
    hdr.lineage[1] = 50;
    hdr.lineage_len = 2;
}

fnw_syscall_event syscall_event(uint32_t nr, uint8_t verdict, uint8_t rule) {
    fnw_syscall_event ev{};
    fill_header(ev.hdr, FNW_EVENT_SYSCALL, sizeof(ev));
    ev.nr = nr;
    ev.verdict = verdict;
    ev.action = verdict == FNW_VERDICT_VIOLATION ? FNW_ACTION_KILLED : FNW_ACTION_NONE;
    ev.mechanism = verdict == FNW_VERDICT_VIOLATION ? FNW_MECH_SIGKILL : FNW_MECH_NONE;
    ev.rule = rule;
    for (int i = 0; i < FNW_SYSCALL_ARGS; ++i) ev.args[i] = 0x1000u + i;
    return ev;
}

fnw_net_event net_event(uint8_t op, uint8_t family, uint8_t protocol, uint8_t verdict) {
    fnw_net_event ev{};
    fill_header(ev.hdr, FNW_EVENT_NET, sizeof(ev));
    ev.hdr.lineage_source = FNW_LINEAGE_FROM_PROC;
    ev.hdr.lineage_truncated = 1;
    ev.op = op;
    ev.family = family;
    ev.protocol = protocol;
    ev.verdict = verdict;
    ev.action = verdict == FNW_VERDICT_VIOLATION ? FNW_ACTION_DENIED : FNW_ACTION_NONE;
    ev.mechanism = verdict == FNW_VERDICT_VIOLATION ? FNW_MECH_CGROUP_SOCK : FNW_MECH_NONE;
    const uint8_t v4mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3};
    const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    std::memcpy(ev.addr, family == 4 ? v4mapped : v6, 16);
    ev.port = 443;
    ev.local_port = 8080;
    return ev;
}

std::unique_ptr<fnw_file_event> file_event(uint32_t nr, const char* path, uint8_t verdict) {
    auto ev = std::make_unique<fnw_file_event>();
    std::memset(ev.get(), 0, sizeof(*ev));
    fill_header(ev->hdr, FNW_EVENT_FILE, sizeof(*ev));
    ev->nr = nr;
    ev->ret = verdict == FNW_VERDICT_VIOLATION ? -13 : 3;
    ev->dfd = -100;
    ev->verdict = verdict;
    ev->action = verdict == FNW_VERDICT_VIOLATION ? FNW_ACTION_DENIED : FNW_ACTION_NONE;
    ev->mechanism = verdict == FNW_VERDICT_VIOLATION ? FNW_MECH_BPF_LSM : FNW_MECH_NONE;
    std::strncpy(ev->path, path, sizeof(ev->path) - 1);
    return ev;
}

fnw_violation_summary_event summary_event(uint32_t kind, uint32_t what) {
    fnw_violation_summary_event ev{};
    ev.hdr.type = FNW_EVENT_VIOLATION_SUMMARY;
    ev.hdr.size = sizeof(ev);
    ev.hdr.boot_ns = 1'764'000'002'000'000'000ull;
    ev.hdr.cgroup_id = 4242;
    ev.hdr.policy_id = 3;
    ev.kind = kind;
    ev.what = what;
    ev.first_ns = 1'764'000'001'000'000'000ull;
    ev.last_ns = 1'764'000'002'000'000'000ull;
    ev.repeats = 17;
    return ev;
}

// Every shape of record the encoder has a branch for.
std::vector<std::pair<std::string, std::vector<std::byte>>> golden_records() {
    std::vector<std::pair<std::string, std::vector<std::byte>>> out;
    auto add = [&out](std::string name, std::span<const std::byte> record) {
        out.emplace_back(std::move(name), std::vector<std::byte>(record.begin(), record.end()));
    };
    add("syscall violation", bytes_of(syscall_event(SYS_mkdir, FNW_VERDICT_VIOLATION, FNW_RULE_SYSCALLS_ALLOW)));
    add("syscall ptrace", bytes_of(syscall_event(SYS_ptrace, FNW_VERDICT_VIOLATION, FNW_RULE_PROCESS_PTRACE)));
    add("syscall bpf", bytes_of(syscall_event(SYS_bpf, FNW_VERDICT_VIOLATION, FNW_RULE_PROCESS_BPF)));
    add("syscall execmem", bytes_of(syscall_event(SYS_mprotect, FNW_VERDICT_VIOLATION, FNW_RULE_PROCESS_EXEC_MEMORY)));
    add("syscall allowed unknown", bytes_of(syscall_event(499, FNW_VERDICT_ALLOWED, 0)));

    add("net connect v4", bytes_of(net_event(FNW_NET_CONNECT, 4, 6, FNW_VERDICT_VIOLATION)));
    add("net sendmsg v6", bytes_of(net_event(FNW_NET_SENDMSG, 6, 17, FNW_VERDICT_ALLOWED)));
    add("net bind", bytes_of(net_event(FNW_NET_BIND, 4, 6, FNW_VERDICT_VIOLATION)));
    add("net accept", bytes_of(net_event(FNW_NET_ACCEPT, 6, 6, FNW_VERDICT_VIOLATION)));
    add("net other protocol", bytes_of(net_event(FNW_NET_CONNECT, 4, 132, FNW_VERDICT_VIOLATION)));
    auto unix_ev = net_event(FNW_NET_CONNECT_UNIX, 1, 0, FNW_VERDICT_VIOLATION);
    std::memcpy(unix_ev.unix_path, "\0bus\x7f", 5);
    unix_ev.unix_path_len = 5;
    add("net unix abstract", bytes_of(unix_ev));

    {
        auto ev = file_event(SYS_openat, "/etc/shadow", FNW_VERDICT_VIOLATION);
        ev->access = FNW_FILE_READ | FNW_FILE_WRITE;
        ev->missing = FNW_FILE_WRITE;
        ev->resolved_kind = FNW_RESOLVED_OBJECT;
        std::strcpy(ev->resolved, "/etc/shadow");
        ev->dev = (8u << 20) | 1;
        ev->ino = 1234;
        ev->object_flags = FNW_OBJECT_UNLINKED;
        add("file open violation", bytes_of(*ev));
    }
    {
        auto ev = file_event(SYS_renameat2, "data/a", FNW_VERDICT_VIOLATION);
        ev->access = FNW_FILE_DELETE;
        ev->access2 = FNW_FILE_CREATE;
        ev->missing = FNW_FILE_CREATE;
        ev->resolved_kind = FNW_RESOLVED_BASE;
        std::strcpy(ev->resolved, "/srv");
        std::strcpy(ev->path2, "/tmp/b");
        add("file rename", bytes_of(*ev));
    }
    {
        auto ev = file_event(SYS_openat, "/var/log/x", FNW_VERDICT_ALLOWED);
        ev->access = FNW_FILE_READ;
        ev->path_truncated = 1;
        add("file allowed truncated", bytes_of(*ev));
    }
    {
        auto ev = file_event(SYS_openat, "/var/log/y", FNW_VERDICT_VIOLATION);
        add("file violation no rights", bytes_of(*ev));
    }
    {
        auto ev = file_event(FNW_NR_EXEC, "/usr/bin/python3", FNW_VERDICT_VIOLATION);
        ev->resolved_kind = FNW_RESOLVED_OBJECT;
        std::strcpy(ev->resolved, "/usr/bin/python3.11");
        const char argv[] = "python3\0-c\0print(\x02)";
        std::memcpy(ev->argv, argv, sizeof(argv));
        ev->argv_len = sizeof(argv);
        ev->path2_truncated = 1;
        ev->sha256_check = FNW_SHA256_MISMATCH;
        for (int i = 0; i < 32; ++i) ev->sha256[i] = static_cast<uint8_t>(i * 7);
        add("exec sha256 mismatch", bytes_of(*ev));
        ev->sha256_check = FNW_SHA256_UNREADABLE;
        add("exec sha256 unreadable", bytes_of(*ev));
        ev->sha256_check = FNW_SHA256_MATCH;
        ev->verdict = FNW_VERDICT_ALLOWED;
        add("exec sha256 match", bytes_of(*ev));
    }
    {
        auto ev = file_event(FNW_NR_LSM_EXEC, "/memfd:x (deleted)", FNW_VERDICT_VIOLATION);
        ev->object_flags = FNW_OBJECT_UNLINKED;
        add("exec fileless lsm", bytes_of(*ev));
        ev->object_flags = 0;
        add("exec lsm", bytes_of(*ev));
    }
    {
        auto ev = file_event(SYS_execve, "/bin/sh", FNW_VERDICT_VIOLATION);
        ev->mechanism = FNW_MECH_LANDLOCK;
        add("exec landlock", bytes_of(*ev));
    }
    for (uint32_t nr : {FNW_NR_LSM_FILE_OPEN, FNW_NR_LSM_CREATE, FNW_NR_LSM_DELETE}) {
        auto ev = file_event(nr, "/etc/passwd", FNW_VERDICT_VIOLATION);
        ev->access = FNW_FILE_WRITE;
        ev->missing = FNW_FILE_WRITE;
        add("file lsm " + std::to_string(nr), bytes_of(*ev));
    }
    add("summary syscall", bytes_of(summary_event(FNW_EVENT_SYSCALL, SYS_mkdir)));
    add("summary net", bytes_of(summary_event(FNW_EVENT_NET, (uint32_t{FNW_NET_CONNECT} << 24) | (6u << 16) | 443)));
    add("summary file", bytes_of(summary_event(FNW_EVENT_FILE, FNW_FILE_READ | FNW_FILE_EXEC)));
    return out;
}

// name -> the line today's encoder wrote.
const std::vector<std::pair<std::string, std::string>> kExpected = {
#include "record_json_golden.inc"
};

TEST(RecordJsonGolden, EveryRecordTypeEncodesByteForByteAsBefore) {
    const auto records = golden_records();
    ASSERT_EQ(records.size(), kExpected.size());
    WallClock clock(1'000'000'000);
    const EventContext ctx{"demo-fn", "demo-policy", Mode::Enforce};
    for (size_t i = 0; i < records.size(); ++i) {
        const auto& [name, record] = records[i];
        auto event = event_to_json(record, ctx, clock);
        ASSERT_TRUE(event) << name;
        // Fresh for every event and every host: checked, then a placeholder.
        EXPECT_EQ((*event)["host"], event_host()) << name;
        EXPECT_EQ((*event)["id"].get<std::string>().size(), 36u) << name;
        (*event)["host"] = "<host>";
        (*event)["id"] = "<id>";
        const std::string line = event->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        EXPECT_EQ(name, kExpected[i].first);
        EXPECT_EQ(line, kExpected[i].second) << name;
    }
}

// The kind the daemon filters a record on, and the kind a reader of its
// JSON (the CLI, the filter for launcher events) gets back: one mapping.
TEST(RecordJsonGolden, TheKindReadBackFromTheJsonIsTheRecordsKind) {
    WallClock clock(0);
    for (const auto& [name, bytes] : golden_records()) {
        auto record = decode_record(bytes);
        ASSERT_TRUE(record) << name << ": " << record.error();
        auto event = to_json(*record, EventContext{"f", "p", Mode::Audit}, clock);
        ASSERT_TRUE(event) << name;
        EXPECT_EQ(event_kind_of(*event), event_kind(*record)) << name;
        EXPECT_EQ(trace_kind_of(*event), trace_kind(*record)) << name;
    }
}

TEST(RecordJsonGolden, ACgroupBirthIsNoEvent) {
    fnw_cgroup_event birth{};
    birth.hdr.type = FNW_EVENT_CGROUP;
    birth.hdr.size = sizeof(birth);
    auto record = decode_record(bytes_of(birth));
    ASSERT_TRUE(record) << record.error();
    EXPECT_EQ(to_json(*record, EventContext{}, WallClock(0)), std::nullopt);
}

}  // namespace
}  // namespace fnw
