#include "output/event_json.hpp"

#include "core/event_kind.hpp"

#include <sys/syscall.h>

#include <cstring>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include <fnwarden/events.h>

namespace fnw {
namespace {

fnw_syscall_event sample_event() {
    fnw_syscall_event ev{};
    ev.hdr.type = FNW_EVENT_SYSCALL;
    ev.hdr.size = sizeof(ev);
    ev.hdr.boot_ns = 1'000'000'123;
    ev.hdr.cgroup_id = 4242;
    ev.hdr.pid = 100;
    ev.hdr.tid = 101;
    ev.hdr.ppid = 99;
    ev.hdr.policy_id = 3;
    std::memcpy(ev.hdr.comm, "sh", 3);
    ev.nr = SYS_mkdir;
    ev.verdict = FNW_VERDICT_VIOLATION;
    ev.action = FNW_ACTION_KILLED;
    ev.mechanism = FNW_MECH_SIGKILL;
    ev.args[0] = 0x7fff0000;
    ev.args[1] = 0755;
    return ev;
}

std::span<const std::byte> bytes(const fnw_syscall_event& ev) {
    return {reinterpret_cast<const std::byte*>(&ev), sizeof(ev)};
}

TEST(EventJson, SyscallViolationHasEveryField) {
    auto ev = sample_event();
    // boot time 0 == 2026-11-28T00:00:00Z
    WallClock clock(1'795'824'000LL * 1'000'000'000LL);
    auto j = event_to_json(bytes(ev), EventContext{"demo", "demo-policy", Mode::Enforce}, clock);
    ASSERT_TRUE(j);
    EXPECT_EQ((*j)["time"], "2026-11-28T00:00:01.000000123Z");
    EXPECT_EQ((*j)["type"], "syscall");
    EXPECT_EQ((*j)["function"], "demo");
    EXPECT_EQ((*j)["policy"], "demo-policy");
    EXPECT_EQ((*j)["mode"], "enforce");
    EXPECT_EQ((*j)["cgroup_id"], 4242);
    EXPECT_EQ((*j)["pid"], 100);
    EXPECT_EQ((*j)["tid"], 101);
    EXPECT_EQ((*j)["ppid"], 99);
    EXPECT_EQ((*j)["comm"], "sh");
    EXPECT_EQ((*j)["syscall"]["name"], "mkdir");
    EXPECT_EQ((*j)["syscall"]["nr"], SYS_mkdir);
    EXPECT_EQ((*j)["args"][1], 0755);
    EXPECT_EQ((*j)["verdict"], "violation");
    EXPECT_EQ((*j)["action"], "killed");
    EXPECT_EQ((*j)["mechanism"], "sigkill");
    EXPECT_EQ((*j)["rule"], "syscalls.allow");
}

TEST(EventJson, HostileCommBytesStayValidJson) {
    auto ev = sample_event();
    const char evil[FNW_COMM_LEN] = {'\xff', '"', '\n', 'x', '\x01', 'a', 'b', 'c',
                                     'd',    'e', 'f',  'g', 'h',    'i', 'j', 'k'};  // no NUL
    std::memcpy(ev.hdr.comm, evil, sizeof(evil));
    auto j = event_to_json(bytes(ev), EventContext{}, WallClock(0));
    ASSERT_TRUE(j);
    std::string line = j->dump();
    EXPECT_EQ(line.find('\n'), std::string::npos);
    EXPECT_EQ((*j)["comm"], "?\"?x?abcdefghijk");
}

TEST(EventJson, UnknownSyscallNumberIsNamedUnknown) {
    auto ev = sample_event();
    ev.nr = 511;
    auto j = event_to_json(bytes(ev), EventContext{}, WallClock(0));
    ASSERT_TRUE(j);
    EXPECT_EQ((*j)["syscall"]["name"], "unknown");
}

TEST(EventJson, ExecEventsAnswerToTheExecSection) {
    auto ev = std::make_unique<fnw_file_event>();
    ev->hdr.type = FNW_EVENT_FILE;
    ev->hdr.size = sizeof(*ev);
    ev->verdict = FNW_VERDICT_VIOLATION;
    std::strcpy(ev->path, "/usr/bin/true");
    const auto as_json = [&] {
        return event_to_json({reinterpret_cast<const std::byte*>(ev.get()), sizeof(*ev)}, EventContext{}, WallClock(0));
    };
    for (uint32_t nr : {uint32_t{SYS_execve}, uint32_t{SYS_execveat}, FNW_NR_LSM_EXEC}) {
        ev->nr = nr;
        EXPECT_TRUE(is_exec_event(*ev)) << nr;
        EXPECT_EQ((*as_json())["rule"], "exec.allow") << nr;
    }
    for (uint32_t nr : {uint32_t{SYS_openat}, uint32_t{SYS_mkdir}}) {
        ev->nr = nr;
        EXPECT_FALSE(is_exec_event(*ev)) << nr;
        EXPECT_EQ((*as_json())["rule"], "files") << nr;
    }
}

TEST(EventJson, MalformedRecordsAreRejectedNotRead) {
    auto ev = sample_event();
    std::vector<std::byte> buf(reinterpret_cast<std::byte*>(&ev), reinterpret_cast<std::byte*>(&ev) + sizeof(ev));
    EXPECT_FALSE(event_to_json(std::span(buf).first(10), EventContext{}, WallClock(0)));
    EXPECT_FALSE(event_to_json(std::span(buf).first(sizeof(ev) - 8), EventContext{}, WallClock(0)));
    ev.hdr.type = 99;
    EXPECT_FALSE(event_to_json(bytes(ev), EventContext{}, WallClock(0)));
    ev = sample_event();
    ev.hdr.size = 12;
    EXPECT_FALSE(event_to_json(bytes(ev), EventContext{}, WallClock(0)));
}

}  // namespace
}  // namespace fnw
