// SPDX-License-Identifier: Apache-2.0
// EventLineWriter (output/event_line.hpp) must write what to_json(...).dump()
// writes, byte for byte but the id: the trace hot path and the JSON every
// other consumer parses are one schema.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "output/event_json.hpp"
#include "output/event_line.hpp"
#include "probes/record.hpp"

namespace fnw {
namespace {

fnw_syscall_event syscall_event() {
    fnw_syscall_event ev{};
    ev.hdr.type = FNW_EVENT_SYSCALL;
    ev.hdr.size = sizeof(ev);
    ev.hdr.boot_ns = 1'234'567'890'123'456'789ULL;
    ev.hdr.cgroup_id = 77;
    ev.hdr.pid = 4242;
    ev.hdr.tid = 4243;
    ev.hdr.ppid = 4000;
    std::strncpy(ev.hdr.comm, "we\"ird\\c\x01m\xff", sizeof(ev.hdr.comm));  // escaped and replaced alike
    ev.nr = 110;
    ev.verdict = FNW_VERDICT_ALLOWED;
    for (int i = 0; i < FNW_SYSCALL_ARGS; ++i) ev.args[i] = 0xffff'ffff'ffff'fff0ULL + i;
    return ev;
}

// The comm of process `pid`'s main thread now.
std::string comm_of(pid_t pid) {
    std::ifstream file("/proc/" + std::to_string(pid) + "/comm");
    std::string comm;
    std::getline(file, comm);
    return comm;
}

// `ev` as an event of process `pid`'s main thread now: the exe read for it
// is vouched for only while the thread keeps the event's comm.
void as_main_thread_of(fnw_syscall_event& ev, pid_t pid, const std::string& comm) {
    ev.hdr.pid = ev.hdr.tid = static_cast<uint32_t>(pid);
    std::memset(ev.hdr.comm, 0, sizeof(ev.hdr.comm));
    std::strncpy(ev.hdr.comm, comm.c_str(), sizeof(ev.hdr.comm) - 1);
}
void as_main_thread_of(fnw_syscall_event& ev, pid_t pid) { as_main_thread_of(ev, pid, comm_of(pid)); }

// A child that execs /bin/sleep when told to (exec_now), killed and reaped
// at the end of the test.
class ChildAboutToExec {
public:
    ChildAboutToExec() {
        int go[2];
        if (::pipe(go) != 0) return;
        pid_ = ::fork();
        if (pid_ == 0) {
            char byte;
            ::close(go[1]);
            if (::read(go[0], &byte, 1) == 1) ::execl("/bin/sleep", "sleep", "30", nullptr);
            ::_exit(127);
        }
        ::close(go[0]);
        go_ = go[1];
    }
    ~ChildAboutToExec() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        if (go_ >= 0) ::close(go_);
    }
    ChildAboutToExec(const ChildAboutToExec&) = delete;
    ChildAboutToExec& operator=(const ChildAboutToExec&) = delete;
    pid_t pid() const { return pid_; }
    bool exec_now() const { return ::write(go_, "x", 1) == 1; }
    std::string exe_link() const { return "/proc/" + std::to_string(pid_) + "/exe"; }

private:
    pid_t pid_ = -1;
    int go_ = -1;
};

// Both lines with their ids set aside (each writer has its own generator).
std::pair<nlohmann::json, nlohmann::json> both(const fnw_syscall_event& ev, const EventContext& ctx,
                                               std::string* fast_text = nullptr) {
    const WallClock clock(1'000'000'000'000'000'000LL);
    EventLineWriter writer(ctx, clock);
    std::string line;
    EXPECT_TRUE(writer.append(Record(ev), line));
    EXPECT_EQ(line.back(), '\n');
    line.pop_back();
    if (fast_text) *fast_text = line;
    auto fast = nlohmann::json::parse(line);
    auto slow = *to_json(Record(ev), ctx, clock);
    EXPECT_TRUE(fast.contains("id"));
    fast.erase("id");
    slow.erase("id");
    return {fast, slow};
}

TEST(EventLine, TracedSyscallIsTheSameBytesAsTheJsonEncoder) {
    const EventContext ctx{"fn \"quoted\" ü", "pol\\icy", Mode::Enforce};
    const fnw_syscall_event ev = syscall_event();
    std::string text;
    auto [fast, slow] = both(ev, ctx, &text);
    EXPECT_EQ(fast.dump(), slow.dump());
    // Byte for byte, not only the same values: the id is the only difference.
    nlohmann::json with_id = slow;
    with_id["id"] = nlohmann::json::parse(text)["id"];
    EXPECT_EQ(text, with_id.dump());
}

TEST(EventLine, EveryVerdictActionRuleAndLineageShape) {
    const EventContext ctx{"fn", "policy", Mode::Audit};
    for (uint8_t verdict : {FNW_VERDICT_ALLOWED, FNW_VERDICT_VIOLATION, FNW_VERDICT_PENDING})
        for (uint8_t action : {FNW_ACTION_NONE, FNW_ACTION_REPORTED, FNW_ACTION_KILLED, FNW_ACTION_DENIED})
            for (uint8_t rule : {FNW_RULE_SYSCALLS_ALLOW, FNW_RULE_PROCESS_PTRACE, FNW_RULE_PROCESS_EXEC_MEMORY})
                for (int shape = 0; shape < 3; ++shape) {
                    fnw_syscall_event ev = syscall_event();
                    ev.verdict = verdict;
                    ev.action = action;
                    ev.rule = rule;
                    ev.mechanism = FNW_MECH_SIGKILL;
                    ev.nr = 100000;  // no such syscall: "unknown"
                    ev.hdr.lineage_len = shape == 0 ? 0 : 3;
                    ev.hdr.lineage[0] = 10, ev.hdr.lineage[1] = 11, ev.hdr.lineage[2] = 12;
                    ev.hdr.lineage_truncated = shape == 2;
                    ev.hdr.lineage_source = shape == 2 ? FNW_LINEAGE_FROM_PROC : FNW_LINEAGE_FROM_KERNEL;
                    auto [fast, slow] = both(ev, ctx);
                    EXPECT_EQ(fast.dump(), slow.dump()) << int(verdict) << " " << int(action) << " " << int(rule)
                                                        << " " << shape;
                }
}

// Names far longer than the room the writer makes for a line (a KiB and
// the strings it is given): the line grows as it goes and stays the JSON
// encoder's, byte for byte.
TEST(EventLine, HugeNamesGrowTheLineAndKeepItsBytes) {
    const std::string function(100'000, '"');  // every byte escaped: twice as long in JSON
    const std::string policy = std::string(70'000, '\\') + "\xff\x01";
    EventContext ctx{function, policy, Mode::Enforce};
    ctx.resolve_exe = true;
    fnw_syscall_event ev = syscall_event();
    as_main_thread_of(ev, ::getpid());
    ev.hdr.lineage_len = FNW_LINEAGE_MAX;
    for (int i = 0; i < FNW_LINEAGE_MAX; ++i) ev.hdr.lineage[i] = 4'000'000'000u + i;
    std::string text;
    auto [fast, slow] = both(ev, ctx, &text);
    const auto replaced = nlohmann::json::error_handler_t::replace;
    EXPECT_EQ(fast.dump(-1, ' ', false, replaced), slow.dump(-1, ' ', false, replaced));
    EXPECT_GT(text.size(), 340'000u);
}

TEST(EventLine, ExeIsReadOnceAndAgainAfterAnExec) {
    EventContext ctx{"fn", "policy", Mode::Audit};
    ctx.resolve_exe = true;
    EventLineWriter writer(ctx, WallClock(0));
    fnw_syscall_event ev = syscall_event();
    as_main_thread_of(ev, ::getpid());
    std::string line;
    writer.append(Record(ev), line);
    const auto exe = nlohmann::json::parse(line)["exe"].get<std::string>();
    EXPECT_FALSE(exe.empty());
    EXPECT_EQ(exe, to_json(Record(ev), ctx, WallClock(0))->at("exe"));

    ExeCache cache(std::chrono::seconds(1));
    EXPECT_EQ(cache.exe_json(ev.hdr.pid, ev.hdr.pid, bounded(ev.hdr.comm), 5'000'000'000), nlohmann::json(exe).dump());
    EXPECT_EQ(cache.exe_json(999'999'999, 999'999'999, "c", 5'000'000'000), "\"\"");  // no such process
}

// Kept within its age on the caller's clock, read again after it or when
// that clock went back: a pid recycled since names its new image.
TEST(EventLine, ExeCacheAgesOnTheCallersClock) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::pause();
        ::_exit(0);
    }
    ExeCache cache(std::chrono::seconds(1));
    const auto pid = static_cast<uint32_t>(child);
    const std::string comm = comm_of(child);
    const std::string exe = cache.exe_json(pid, pid, comm, 5'000'000'000);
    ASSERT_NE(exe, "\"\"");
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    EXPECT_EQ(cache.exe_json(pid, pid, comm, 5'999'999'999), exe) << "within its age: not read again";
    EXPECT_EQ(cache.exe_json(pid, pid, comm, 4'000'000'000), "\"\"") << "the clock went back: read again";
    EXPECT_EQ(cache.exe_json(pid, pid, comm, 7'000'000'000), "\"\"") << "past its age: read again";
}

TEST(EventLine, TimeMatchesTheWallClockAcrossSeconds) {
    const WallClock clock(1'764'000'000'123'456'789LL);
    EventTimeFormatter formatter(clock);
    for (uint64_t boot_ns : {0ULL, 999'999'999ULL, 1'000'000'000ULL, 1'876'543'210ULL, 86'400'000'000'001ULL}) {
        std::string out;
        formatter.append(boot_ns, out);
        EXPECT_EQ(out, "\"" + clock.rfc3339(boot_ns) + "\"") << boot_ns;
    }
}

// The daemon's writer: one for every function, the context given per line,
// with the "k8s" object where it knows the pod.
TEST(EventLine, TheDaemonsContextPerLineAndItsPodAreTheJsonEncoders) {
    const WallClock clock(0);
    SyscallLineWriter writer(clock);
    const nlohmann::json pod = {{"namespace", "ns"}, {"pod", "p\xff"}, {"container", "c"}, {"container_id", "id"}};
    const std::string pod_json = pod.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    fnw_syscall_event ev = syscall_event();
    for (const EventContext& ctx : {EventContext{"alpha", "a-policy", Mode::Audit}, EventContext{"beta\xfe", "b", Mode::Enforce},
                                    EventContext{"alpha", "a-policy", Mode::Enforce}}) {
        for (bool in_pod : {false, true}) {
            std::string line;
            writer.append(ev, LineContext{ctx.function, ctx.policy, ctx.mode, false, in_pod ? pod_json : ""}, line);
            nlohmann::json slow = *to_json(Record(ev), ctx, clock);
            if (in_pod) slow["k8s"] = pod;
            slow["id"] = nlohmann::json::parse(line)["id"];
            EXPECT_EQ(line, slow.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)) << ctx.function;
        }
    }
}

// One writer, one record after another, each changing one of the fields
// the writer keeps spelt between lines (and then changing it back): every
// line must still be the encoder's.
TEST(EventLine, EachLineIsTheEncodersWhenOneKeptFieldChanges) {
    const WallClock clock(0);
    SyscallLineWriter writer(clock);
    const std::string pod_a = R"({"container":"c","namespace":"ns","pod":"a"})";
    const std::string pod_b = R"({"container":"c","namespace":"ns","pod":"b"})";
    struct Step {
        const char* what;
        std::function<void(fnw_syscall_event&, EventContext&, std::string&)> change;
    };
    const std::vector<Step> steps = {
        {"cgroup", [](auto& ev, auto&, auto&) { ev.hdr.cgroup_id = 78; }},
        {"pid", [](auto& ev, auto&, auto&) { ev.hdr.pid = 4244; }},
        {"ppid", [](auto& ev, auto&, auto&) { ev.hdr.ppid = 4001; }},
        {"comm", [](auto& ev, auto&, auto&) { std::strncpy(ev.hdr.comm, "renamed", sizeof(ev.hdr.comm)); }},
        {"lineage grows", [](auto& ev, auto&, auto&) { ev.hdr.lineage[ev.hdr.lineage_len++] = 4001; }},
        {"an ancestor", [](auto& ev, auto&, auto&) { ev.hdr.lineage[0] = 3999; }},
        {"truncated", [](auto& ev, auto&, auto&) { ev.hdr.lineage_truncated = 1; }},
        {"from /proc", [](auto& ev, auto&, auto&) { ev.hdr.lineage_source = FNW_LINEAGE_FROM_PROC; }},
        {"function", [](auto&, auto& ctx, auto&) { ctx.function = "other"; }},
        {"policy", [](auto&, auto& ctx, auto&) { ctx.policy = "other-policy"; }},
        {"mode", [](auto&, auto& ctx, auto&) { ctx.mode = Mode::Enforce; }},
        {"exe", [](auto& ev, auto& ctx, auto&) {
             ctx.resolve_exe = true;
             as_main_thread_of(ev, ::getpid());
         }},
        {"pod", [&](auto&, auto&, auto& pod) { pod = pod_a; }},
        {"another pod", [&](auto&, auto&, auto& pod) { pod = pod_b; }},
    };
    fnw_syscall_event ev = syscall_event();
    EventContext ctx{"fn", "policy", Mode::Audit};
    std::string pod;
    auto expect_encoders = [&](const std::string& when) {
        std::string line;
        writer.append(ev, LineContext{ctx.function, ctx.policy, ctx.mode, ctx.resolve_exe, pod}, line);
        nlohmann::json slow = *to_json(Record(ev), ctx, clock);
        if (!pod.empty()) slow["k8s"] = nlohmann::json::parse(pod);
        slow["id"] = nlohmann::json::parse(line)["id"];
        EXPECT_EQ(line, slow.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)) << when;
    };
    expect_encoders("first");
    for (const Step& step : steps) {
        const fnw_syscall_event saved_ev = ev;
        const EventContext saved_ctx = ctx;
        const std::string saved_pod = pod;
        step.change(ev, ctx, pod);
        expect_encoders(std::string("after: ") + step.what);
        ++ev.args[0];  // the next record of the same thread
        expect_encoders(std::string("again after: ") + step.what);
        const fnw_syscall_event changed_ev = ev;
        const EventContext changed_ctx = ctx;
        const std::string changed_pod = pod;
        ev = saved_ev;
        ctx = saved_ctx;
        pod = saved_pod;
        expect_encoders(std::string("back from: ") + step.what);
        ev = changed_ev;  // on to the next step with this change kept
        ctx = changed_ctx;
        pod = changed_pod;
    }
}

// An exec no line was written for (an untraced function's execve is no
// event) still changes the thread's comm: the cache reads the new image
// then, not the old one for up to a second.
TEST(EventLine, ACommChangeReadsTheExeAgain) {
    const ChildAboutToExec about_to_exec;
    const pid_t child = about_to_exec.pid();
    ASSERT_GT(child, 0);
    const std::string link = about_to_exec.exe_link();
    const std::string before = std::filesystem::read_symlink(link).string();
    ExeCache cache(std::chrono::seconds(1));
    const auto pid = static_cast<uint32_t>(child);
    const std::string comm = comm_of(child);
    EXPECT_EQ(cache.exe_json(pid, pid, comm, 1'000), nlohmann::json(before).dump());
    ASSERT_TRUE(about_to_exec.exec_now());
    for (int i = 0; i < 10'000 && std::filesystem::read_symlink(link).string() == before; ++i) ::usleep(1000);
    const std::string after = std::filesystem::read_symlink(link).string();
    ASSERT_NE(after, before) << "the child did not exec";
    EXPECT_EQ(cache.exe_json(pid, pid, comm, 2'000), nlohmann::json(before).dump())
        << "the same comm within its age: kept";
    EXPECT_EQ(cache.exe_json(pid, pid, "sleep", 3'000), nlohmann::json(after).dump()) << "a new comm: read again";
    ::kill(child, SIGKILL);
    EXPECT_EQ(cache.exe_json(pid, pid, "sleep", 4'000), nlohmann::json(after).dump()) << "kept: not read again";
}

// The event was the old image's, the line is written after an exec: /proc
// now names the new program, which did not make the event. Not known,
// rather than wrong.
TEST(EventLine, AnExecBetweenTheEventAndItsLineLeavesTheExeUnknown) {
    const ChildAboutToExec about_to_exec;
    const pid_t child = about_to_exec.pid();
    ASSERT_GT(child, 0);
    const std::string link = about_to_exec.exe_link();
    const std::string before = std::filesystem::read_symlink(link).string();
    fnw_syscall_event ev = syscall_event();
    as_main_thread_of(ev, child);  // made before the exec
    ASSERT_TRUE(about_to_exec.exec_now());
    for (int i = 0; i < 10'000 && comm_of(child) != "sleep"; ++i) ::usleep(1000);
    ASSERT_EQ(comm_of(child), "sleep") << "the child did not exec";

    EventContext ctx{"fn", "policy", Mode::Audit};
    ctx.resolve_exe = true;
    const WallClock clock(0);
    EventLineWriter writer(ctx, clock);
    std::string line;
    ASSERT_TRUE(writer.append(Record(ev), line));
    EXPECT_EQ(nlohmann::json::parse(line)["exe"], "");
    EXPECT_EQ(to_json(Record(ev), ctx, clock)->at("exe"), "");
    as_main_thread_of(ev, child);  // the new image's own event
    line.clear();
    ASSERT_TRUE(writer.append(Record(ev), line));
    EXPECT_EQ(nlohmann::json::parse(line)["exe"], std::filesystem::read_symlink(link).string());
}

// The same process, a new image: after its execve's record the next line
// names the new exe, though nothing else in the header moved.
TEST(EventLine, AnExecChangesTheExeOfTheSameProcessesLines) {
    const ChildAboutToExec about_to_exec;
    const pid_t child = about_to_exec.pid();
    ASSERT_GT(child, 0);
    const std::string link = about_to_exec.exe_link();
    const std::string before = std::filesystem::read_symlink(link).string();

    const WallClock clock(0);
    SyscallLineWriter writer(clock);
    EventContext ctx{"fn", "policy", Mode::Audit};
    ctx.resolve_exe = true;
    fnw_syscall_event ev = syscall_event();
    as_main_thread_of(ev, child);
    auto exe_of_line = [&] {
        std::string line;
        writer.append(ev, LineContext{ctx.function, ctx.policy, ctx.mode, true, ""}, line);
        return nlohmann::json::parse(line)["exe"].get<std::string>();
    };
    EXPECT_EQ(exe_of_line(), before);
    ASSERT_TRUE(about_to_exec.exec_now());
    for (int i = 0; i < 10'000 && std::filesystem::read_symlink(link).string() == before; ++i) ::usleep(1000);
    const std::string after = std::filesystem::read_symlink(link).string();
    ASSERT_NE(after, before) << "the child did not exec";
    ev.nr = 59;  // its execve's record
    exe_of_line();
    ev.nr = 110;
    as_main_thread_of(ev, child, "sleep");  // the new image's events
    EXPECT_EQ(exe_of_line(), after);
}

// A process killed at its seccomp notification is gone before its line is
// written: /proc has nothing left to read, so the line names the program
// the launcher read while the process waited, and to_json the same.
TEST(EventLine, AKnownExeNamesAProcessThatExitedBeforeItsLine) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::pause();
        ::_exit(0);
    }
    const std::string exe = std::filesystem::read_symlink("/proc/" + std::to_string(child) + "/exe").string();
    ::kill(child, SIGKILL);
    ASSERT_EQ(::waitpid(child, nullptr, 0), child);

    EventContext ctx{"fn", "policy", Mode::Enforce};
    ctx.resolve_exe = true;
    fnw_syscall_event ev = syscall_event();
    ev.hdr.pid = ev.hdr.tid = static_cast<uint32_t>(child);
    ev.verdict = FNW_VERDICT_VIOLATION;
    ev.action = FNW_ACTION_KILLED;
    ev.mechanism = FNW_MECH_SECCOMP;
    const WallClock clock(0);
    EventLineWriter writer(ctx, clock);
    auto line_of = [&](std::optional<std::string_view> known) {
        std::string line;
        EXPECT_TRUE(writer.append(Record(ev), line, known));
        return nlohmann::json::parse(line);
    };
    EXPECT_EQ(line_of(std::nullopt)["exe"], "") << "read from /proc, after the exit: nothing";
    EXPECT_EQ(line_of(exe)["exe"], exe);
    EXPECT_EQ(to_json(Record(ev), ctx, clock, exe)->at("exe"), exe);
    EXPECT_EQ(line_of(std::nullopt)["exe"], "") << "a known exe is the record's, not the cache's";
}

// "" from the launcher means it could not vouch for the program: the line
// says so, and does not read /proc instead (the pid may name another
// process by now).
TEST(EventLine, AnUnknownExeFromTheLauncherIsNotReadFromProc) {
    EventContext ctx{"fn", "policy", Mode::Enforce};
    ctx.resolve_exe = true;
    fnw_syscall_event ev = syscall_event();
    as_main_thread_of(ev, ::getpid());  // alive: /proc would name this test
    const WallClock clock(0);
    EventLineWriter writer(ctx, clock);
    std::string line;
    ASSERT_TRUE(writer.append(Record(ev), line, std::string_view()));
    EXPECT_EQ(nlohmann::json::parse(line)["exe"], "");
    EXPECT_EQ(to_json(Record(ev), ctx, clock, std::string_view())->at("exe"), "");
}

// The given exe is spelled as the JSON encoder spells it (bytes outside
// printable ASCII as '?', quotes escaped), and is part of the segments a
// process's lines share: the next line with another exe says that one.
TEST(EventLine, AKnownExeIsSpelledLikeTheJsonEncodersAndNotKeptForTheNextLine) {
    EventContext ctx{"fn", "policy", Mode::Enforce};
    ctx.resolve_exe = true;
    const fnw_syscall_event ev = syscall_event();
    const WallClock clock(0);
    EventLineWriter writer(ctx, clock);
    for (const std::string_view exe : {std::string_view("/opt/we\"ird\\b\x01n\xff"), std::string_view("/usr/bin/x")}) {
        std::string line;
        ASSERT_TRUE(writer.append(Record(ev), line, exe));
        line.pop_back();
        nlohmann::json slow = *to_json(Record(ev), ctx, clock, exe);
        slow["id"] = nlohmann::json::parse(line)["id"];
        EXPECT_EQ(line, slow.dump());
    }
}

TEST(EventLine, OtherRecordsGoThroughTheJsonEncoder) {
    const EventContext ctx{"fn", "policy", Mode::Audit};
    EventLineWriter writer(ctx, WallClock(0));
    fnw_violation_summary_event summary{};
    summary.hdr.type = FNW_EVENT_VIOLATION_SUMMARY;
    summary.hdr.size = sizeof(summary);
    summary.repeats = 5;
    std::string line;
    ASSERT_TRUE(writer.append(Record(summary), line));
    auto parsed = nlohmann::json::parse(line);
    EXPECT_EQ(parsed["type"], "violation_summary");
    EXPECT_EQ(parsed["repeats"], 5);
}

}  // namespace
}  // namespace fnw
