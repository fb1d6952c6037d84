// SPDX-License-Identifier: Apache-2.0
// EventRouter without a kernel: records built in memory go to the outputs,
// trace subscribers and counters as the daemon's rules say; births reach
// the identifier; trace flags follow who wants allowed events.
#include "daemon/event_router.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include <cstring>
#include <memory>
#include <mutex>

#include <gtest/gtest.h>

#include "fakes/fake_kernel_maps.hpp"

namespace fnw {
namespace {

using testing::FakeKernelMaps;

struct Lines {
    std::mutex mutex;
    std::vector<std::string> lines;
};

class CapturingSink : public EventSink {
public:
    explicit CapturingSink(std::shared_ptr<Lines> out) : out_(std::move(out)) {}
    void write_lines(std::span<const std::string_view> lines) override {
        std::lock_guard lock(out_->mutex);
        out_->lines.insert(out_->lines.end(), lines.begin(), lines.end());
    }
    std::string name() const override { return "capture"; }

private:
    std::shared_ptr<Lines> out_;
};

FunctionPolicy policy_of(const std::string& function, const std::string& cgroup_path = "") {
    FunctionPolicy p;
    p.function = function;
    p.name = function + "-policy";
    p.source = function + ".yaml";
    p.mode = Mode::Enforce;
    p.selector.cgroup_path = cgroup_path;
    return p;
}

fnw_syscall_event syscall_record(uint64_t cgroup_id, uint32_t slot, bool violation) {
    fnw_syscall_event ev{};
    ev.hdr.type = FNW_EVENT_SYSCALL;
    ev.hdr.size = sizeof(ev);
    ev.hdr.cgroup_id = cgroup_id;
    ev.hdr.policy_id = slot;
    ev.hdr.pid = static_cast<uint32_t>(::getpid());
    ev.nr = 59;
    ev.verdict = violation ? FNW_VERDICT_VIOLATION : FNW_VERDICT_ALLOWED;
    ev.action = violation ? FNW_ACTION_REPORTED : FNW_ACTION_NONE;
    return ev;
}

template <class Record>
std::span<const std::byte> bytes(const Record& r) {
    return std::as_bytes(std::span(&r, 1));
}

class Router : public ::testing::Test {
protected:
    Router() {
        set_.policies = {policy_of("alpha"), policy_of("beta")};
        for (const auto& p : set_.policies) set_.fingerprints[p.function] = 1;
        EXPECT_TRUE(table_.apply(set_, nullptr, {}));
        router_.set_local_trace([this](const nlohmann::json& event) { traced_.push_back(event); });
    }
    uint32_t slot(const std::string& fn) const { return *table_.slot_of(fn); }
    // The outputs' lines, once the pipeline has drained (the router must
    // publish nothing after this).
    std::vector<std::string> written() {
        output_.reset();
        std::lock_guard lock(lines_->mutex);
        return lines_->lines;
    }
    EventRouter::Parts parts() {
        return {maps_, table_, identifier_, registrations_, *output_, files_, lineage_, monitored_};
    }
    RouterMetrics families() {
        return {&metrics_.counter("fnwarden_events_total", "", {"type"}),
                &metrics_.counter("fnwarden_violations_total", "", {"function", "type", "action"}),
                &metrics_.histogram("fnwarden_event_latency_seconds", "", {}, {1})};
    }

    std::shared_ptr<Lines> lines_ = std::make_shared<Lines>();
    static std::unique_ptr<OutputPipeline> capturing_pipeline(std::shared_ptr<Lines> lines) {
        std::vector<std::unique_ptr<EventSink>> sinks;
        sinks.push_back(std::make_unique<CapturingSink>(std::move(lines)));
        return std::make_unique<OutputPipeline>(std::move(sinks));
    }
    std::unique_ptr<OutputPipeline> output_ = capturing_pipeline(lines_);
    FakeKernelMaps maps_;
    PolicyTable table_{maps_, Mode::Enforce};
    Registrations registrations_{maps_, "/sys/fs/cgroup"};
    struct NoTree : CgroupTreeReader {
        std::optional<uint64_t> id_of(const std::filesystem::path&) const override { return std::nullopt; }
        void walk(const std::function<void(const std::filesystem::path&)>&) const override {}
        bool runtime_still_starting(const std::filesystem::path&) const override { return false; }
    } tree_;
    std::atomic<uint64_t> monitored_{0};
    CgroupIdentifier identifier_{maps_, table_, registrations_, tree_, monitored_};
    FileDecider files_{[](const fnw_file_verdict_key&) { return false; }};
    LineageLookup lineage_;
    MetricsRegistry metrics_;
    EventRouter router_{parts(), families()};
    PolicySet set_;
    std::vector<nlohmann::json> traced_;
};

TEST_F(Router, AViolationGoesToTheOutputsAndIsCounted) {
    router_.handle_record(bytes(syscall_record(7, slot("alpha"), true)));
    EXPECT_EQ(router_.per_function().get("alpha").violations, 1u);
    DaemonCounters counters;
    router_.add_status_counters(counters);
    EXPECT_EQ(counters.records, 1u);
    EXPECT_EQ(counters.malformed, 0u);
    auto lines = written();
    ASSERT_EQ(lines.size(), 1u);
    auto event = nlohmann::json::parse(lines[0]);
    EXPECT_EQ(event["function"], "alpha");
    EXPECT_EQ(event["policy"], "alpha-policy");
}

TEST_F(Router, AllowedEventsReachTheOutputsOnlyForATracedRegistration) {
    router_.handle_record(bytes(syscall_record(7, slot("alpha"), false)));
    Registration traced;
    traced.function = "beta";
    traced.trace = true;
    registrations_.add(8, traced);
    router_.handle_record(bytes(syscall_record(8, slot("beta"), false)));
    auto lines = written();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(nlohmann::json::parse(lines[0])["function"], "beta");
}

// The syscall flood is written straight from the record (output/event_line.hpp):
// to the outputs and to a trace client, the line is the JSON encoder's.
TEST_F(Router, ASyscallLineIsWhatTheJsonEncoderWrites) {
    Registration traced;
    traced.function = "beta";
    traced.trace = true;
    registrations_.add(8, traced);
    for (bool violation : {false, true}) router_.handle_record(bytes(syscall_record(8, slot("beta"), violation)));
    const auto lines = written();
    ASSERT_EQ(lines.size(), 2u);
    for (bool violation : {false, true}) {
        const EventContext ctx{"beta", "beta-policy", Mode::Enforce, /*resolve_exe=*/violation};
        nlohmann::json expected = *to_json(Record(syscall_record(8, slot("beta"), violation)), ctx, WallClock(0));
        const std::string& line = lines[violation ? 1 : 0];
        const nlohmann::json parsed = nlohmann::json::parse(line);
        // Another generator, another clock: the id and the time differ.
        for (const char* key : {"id", "time"}) {
            ASSERT_TRUE(parsed.contains(key));
            expected[key] = parsed[key];
        }
        EXPECT_EQ(line, expected.dump()) << violation;
    }
}

// A violation names the image the process runs now: a process that exec'd
// since its last violation is not named by its old image.
TEST_F(Router, AViolationReadsItsExeAfterAnExec) {
    int go[2];
    ASSERT_EQ(::pipe(go), 0);
    const pid_t child = ::fork();
    if (child == 0) {
        char byte;
        ::close(go[1]);
        if (::read(go[0], &byte, 1) == 1) ::execl("/bin/sleep", "sleep", "5", static_cast<char*>(nullptr));
        ::_exit(1);
    }
    ::close(go[0]);
    fnw_syscall_event ev = syscall_record(7, slot("alpha"), true);
    ev.hdr.pid = ev.hdr.tid = static_cast<uint32_t>(child);
    // Its comm, as the kernel would stamp it: the exe read for the line is
    // vouched for only while the thread keeps it.
    std::string comm;
    std::getline(std::ifstream("/proc/" + std::to_string(child) + "/comm"), comm);
    std::memset(ev.hdr.comm, 0, sizeof(ev.hdr.comm));
    std::strncpy(ev.hdr.comm, comm.c_str(), sizeof(ev.hdr.comm) - 1);
    ev.nr = 110;  // not an exec: nothing tells the writer the image changed
    router_.handle_record(bytes(ev));
    const std::string before = std::filesystem::read_symlink("/proc/self/exe");
    ASSERT_EQ(::write(go[1], "x", 1), 1);
    std::string now;
    for (int i = 0; i < 2000 && (now = std::filesystem::read_symlink("/proc/" + std::to_string(child) + "/exe")) == before; ++i)
        ::usleep(1000);
    std::memset(ev.hdr.comm, 0, sizeof(ev.hdr.comm));
    std::strncpy(ev.hdr.comm, "sleep", sizeof(ev.hdr.comm) - 1);  // the new image's event
    router_.handle_record(bytes(ev));
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    ::close(go[1]);
    const auto lines = written();
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(nlohmann::json::parse(lines[0])["exe"], before);
    EXPECT_EQ(nlohmann::json::parse(lines[1])["exe"], now);
    EXPECT_NE(now, before);
}

TEST_F(Router, SubscribersGetWhatTheirFilterAsksFor) {
    auto filter = trace_filter_of(TraceRequest{{"alpha"}, {}, true});
    ASSERT_TRUE(filter);
    router_.subscribe(kLocalClient, *filter);
    router_.handle_record(bytes(syscall_record(7, slot("alpha"), false)));  // allowed: not wanted
    router_.handle_record(bytes(syscall_record(9, slot("beta"), true)));    // other function
    router_.handle_record(bytes(syscall_record(7, slot("alpha"), true)));
    ASSERT_EQ(traced_.size(), 1u);
    EXPECT_EQ(traced_[0]["function"], "alpha");
    EXPECT_EQ(trace_kind_of(traced_[0]), EventKind::Syscall);
}

TEST_F(Router, AMemberSeesOnlyTheCgroupsItsUidRegistered) {
    TraceFilter filter;
    filter.only_uid = 1000;
    router_.subscribe(kLocalClient, filter);
    Registration mine;
    mine.function = "alpha";
    mine.uid = 1000;
    registrations_.add(7, mine);
    router_.handle_record(bytes(syscall_record(7, slot("alpha"), true)));
    router_.handle_record(bytes(syscall_record(9, slot("alpha"), true)));
    ASSERT_EQ(traced_.size(), 1u);
    EXPECT_EQ(traced_[0]["cgroup_id"], 7);
}

TEST_F(Router, TraceFlagsFollowWhoWantsAllowedEvents) {
    fnw_cgroup_entry entry{};
    entry.policy_id = slot("alpha");
    maps_.cgroups[7] = entry;
    entry.policy_id = slot("beta");
    maps_.cgroups[9] = entry;
    router_.subscribe(3, *trace_filter_of(TraceRequest{{"alpha"}, {}, false}));
    router_.refresh_trace_flags();
    EXPECT_TRUE(maps_.cgroups[7].flags & FNW_CGROUP_TRACE);
    EXPECT_FALSE(maps_.cgroups[9].flags & FNW_CGROUP_TRACE);
    EXPECT_EQ(monitored_.load(), 2u);
    EXPECT_TRUE(router_.unsubscribe(3));
    router_.refresh_trace_flags();
    EXPECT_FALSE(maps_.cgroups[7].flags & FNW_CGROUP_TRACE);
}

TEST_F(Router, MalformedRecordsAreCountedNotPublished) {
    const std::byte short_record[4]{};
    router_.handle_record(short_record);
    fnw_cgroup_event birth{};
    birth.hdr.type = FNW_EVENT_CGROUP;
    router_.handle_record(std::span(reinterpret_cast<const std::byte*>(&birth), sizeof(birth) - 1));
    DaemonCounters counters;
    router_.add_status_counters(counters);
    EXPECT_EQ(counters.malformed, 2u);
    EXPECT_EQ(counters.records, 2u);
    EXPECT_TRUE(written().empty());
}

TEST_F(Router, BirthsGoToTheIdentifierWhenASelectorWantsThem) {
    set_.policies.push_back(policy_of("gamma", "fns/gamma"));
    set_.fingerprints["gamma"] = 1;
    ASSERT_TRUE(table_.apply(set_, nullptr, {}));
    auto built = SelectorMatcher::build(set_.policies);
    identifier_.reconfigure(set_, std::move(built).value());
    fnw_cgroup_event birth{};
    birth.hdr.type = FNW_EVENT_CGROUP;
    birth.hdr.size = sizeof(birth);
    birth.hdr.cgroup_id = 42;
    std::strcpy(birth.path, "fns/gamma");
    router_.handle_record(bytes(birth));
    ASSERT_TRUE(maps_.monitored_cgroup(42));
    EXPECT_EQ(maps_.monitored_cgroup(42)->policy_id, slot("gamma"));
    DaemonCounters counters;
    router_.add_status_counters(counters);
    EXPECT_EQ(counters.cgroup_births_seen, 1u);
}

TEST(TraceFilter, RefusesUnknownKinds) {
    auto filter = trace_filter_of(TraceRequest{{}, {"syscall", "disk"}, false});
    ASSERT_FALSE(filter);
    EXPECT_EQ(filter.error(), "unknown event kind \"disk\" (syscall, file, net, exec)");
}

TEST(TraceFilter, IsWhatTheTypedRequestAsks) {
    auto filter = trace_filter_of(TraceRequest{{"alpha"}, {"net", "exec"}, true});
    ASSERT_TRUE(filter);
    EXPECT_EQ(filter->functions, (std::set<std::string>{"alpha"}));
    EXPECT_EQ(filter->kinds, (std::set<EventKind>{EventKind::Net, EventKind::Exec}));
    EXPECT_TRUE(filter->violations_only);
    EXPECT_FALSE(filter->only_uid);
}

// A request built by hand never went through the parser: the same check.
TEST(TraceFilter, AHandBuiltRequestIsCheckedToo) {
    auto filter = trace_filter_of(TraceRequest{{}, {"violation_summary"}, false});
    ASSERT_FALSE(filter);
    EXPECT_EQ(filter.error(), "unknown event kind \"violation_summary\" (syscall, file, net, exec)");
}

TEST(TraceKind, ExecDenialsAndSummariesAreOfTheirKind) {
    EXPECT_EQ(trace_kind_of({{"type", "file"}, {"rule", "exec.allow"}}), EventKind::Exec);
    EXPECT_EQ(trace_kind_of({{"type", "network"}}), EventKind::Net);
    EXPECT_EQ(trace_kind_of({{"type", "violation_summary"}, {"of", {{"type", "network"}}}}), EventKind::Net);
}

}  // namespace
}  // namespace fnw
