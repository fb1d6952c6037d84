// SPDX-License-Identifier: Apache-2.0
// Shared set-up for tests that load the real probes. Needs root (CAP_BPF,
// CAP_SYS_ADMIN for cgroups). Without them the tests skip, unless
// FNW_REQUIRE_BPF=1 (CI), where not being able to load is a failure.
#pragma once

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <system_error>

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include <fnwarden/events.h>

#include "cgroup_cleanup.hpp"
#include "core/policy.hpp"
#include "probes/probe_set.hpp"
#include "runtime/cgroup.hpp"
#include "runtime/function_runner.hpp"
#include "runtime/local_guard.hpp"

namespace fnw::test {

inline bool bpf_required() {
    const char* v = std::getenv("FNW_REQUIRE_BPF");
    return v && std::string(v) == "1";
}

// Each test process has its own cgroup parent, so test binaries running at
// the same time on this host never share (or remove) each other's cgroups.
inline std::filesystem::path test_cgroup_parent(const std::filesystem::path& cgroup2_root) {
    return cgroup2_root / ("fnwarden-test-" + std::to_string(::getpid()));
}

// Removes this process's cgroup parent, and everything still in it, when the
// test binary ends; first, the parents of test processes that died without
// doing so (a crash, a SIGKILL).
class CgroupParentCleanup : public ::testing::Environment {
public:
    void SetUp() override {
        auto root = find_cgroup2_mount();
        if (!root || geteuid() != 0) return;
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator(*root, ec)) {
            const std::string name = entry.path().filename().string();
            const std::string prefix = "fnwarden-test-";
            if (name.rfind(prefix, 0) != 0 || name.size() == prefix.size()) continue;
            const std::string digits = name.substr(prefix.size());
            if (digits.find_first_not_of("0123456789") != std::string::npos) continue;
            const pid_t owner = static_cast<pid_t>(std::stol(digits));
            // Only a dead owner's: a live one (another test binary) is still using it.
            if (owner == ::getpid() || ::kill(owner, 0) == 0 || errno != ESRCH) continue;
            static_cast<void>(remove_cgroup_tree(entry.path()));
        }
    }
    void TearDown() override {
        auto root = find_cgroup2_mount();
        if (!root || geteuid() != 0) return;
        if (std::string error = remove_cgroup_tree(test_cgroup_parent(*root)); !error.empty())
            ADD_FAILURE() << "test cgroups left behind: " << error;
    }
};
inline ::testing::Environment* const cgroup_parent_cleanup =
    ::testing::AddGlobalTestEnvironment(new CgroupParentCleanup);

// Every syscall allowed; only the network section is under test.
inline FunctionPolicy egress_policy(std::vector<EgressRule> egress, ViolationAction action,
                             std::vector<ListenRule> listen = {}) {
    FunctionPolicy p;
    p.name = "net-test";
    p.function = "test";
    p.syscalls.allow.set();  // syscalls unrestricted: only the network section is under test
    p.network.restricted = true;
    p.network.egress = std::move(egress);
    p.network.listen = std::move(listen);
    p.network.on_violation = action;
    return p;
}

// An egress rule: CIDR, ports (none: every port), protocol (0: any).
inline EgressRule rule(const char* cidr, std::vector<uint16_t> ports = {}, uint8_t protocol = 0) {
    EgressRule r;
    r.network = *parse_ip_network(cidr);
    r.ports = std::move(ports);
    r.protocol = protocol;
    return r;
}

// Allows every syscall except the ones named.
inline FunctionPolicy policy_denying(std::initializer_list<int> denied, ViolationAction action) {
    FunctionPolicy p;
    p.name = "test-policy";
    p.function = "test";
    p.syscalls.allow.set();
    for (int nr : denied) p.syscalls.allow.reset(static_cast<size_t>(nr));
    p.syscalls.on_violation = action;
    return p;
}

struct RunOptions {
    bool trace = false;
    bool use_seccomp = true;
    bool learn = false;
    bool use_landlock = true;
};

class ProbeTest : public ::testing::Test {
protected:
    void SetUp() override { load({}); }

    // A test that failed half way (an ASSERT between a fork and its wait)
    // may leave processes or cgroups behind: none outlives the test, so the
    // next one starts clean (a leftover cgroup would also collide with the
    // next run's cgroup name). In the destructor, so a subclass's TearDown
    // cannot skip it. The parent itself stays for the next test.
    ~ProbeTest() override {
        if (cgroup_parent_.empty()) return;
        std::error_code ec;
        for (const auto& child : std::filesystem::directory_iterator(cgroup_parent_, ec))
            if (child.is_directory(ec))
                if (std::string error = remove_cgroup_tree(child.path()); !error.empty())
                    ADD_FAILURE() << "cleaning up after the test: " << error;
    }

    void load(ProbeOptions options) {
        probes_.reset();
        auto root = find_cgroup2_mount();
        ASSERT_TRUE(root) << "no cgroup2 mount";
        cgroup_parent_ = test_cgroup_parent(*root);
        static_cast<void>(::mkdir(cgroup_parent_.c_str(), 0755));
        options.cgroup2_root = *root;
        std::string why;
        if (geteuid() != 0) {
            why = "not root";
        } else {
            auto loaded = ProbeSet::load(options);
            if (!loaded)
                why = loaded.error();
            else
                probes_ = std::move(*loaded);
        }
        if (!probes_) {
            if (bpf_required()) FAIL() << "FNW_REQUIRE_BPF=1 but probes cannot load: " << why;
            GTEST_SKIP() << "BPF probes unavailable: " << why;
        }
    }

    struct Run {
        RunOutcome outcome;
        std::vector<fnw_syscall_event> events;  // syscall events: ring buffer and seccomp, in arrival order
        std::vector<fnw_net_event> net_events;
        std::vector<fnw_file_event> file_events;
        std::vector<fnw_violation_summary_event> summaries;  // repeats counted in the kernel
        std::vector<std::string> launcher_exes;  // the launcher's (seccomp) events: the exe it read, in order
    };

    // Runs argv under FunctionRunner (what `fnwarden run` does), collecting events.
    Run run(const FunctionPolicy& policy, Mode mode, std::vector<std::string> argv, RunOptions opts = {}) {
        Run out;
        auto created = LocalGuard::create(*probes_, ++policy_id_, policy, mode,
                                          [&](const Record& record) {
                                              const std::span<const std::byte> rec = record_bytes(record);
                                              collect(rec, out);
                                              if (on_record_) on_record_(rec);
                                          });
        if (!created) {
            ADD_FAILURE() << "guard: " << created.error();
            return out;
        }
        std::unique_ptr<LocalGuard> guard = std::move(*created);
        guard->on_launcher_event([&](const Record& record, std::string_view exe) {
            const std::span<const std::byte> rec = record_bytes(record);
            collect(rec, out);
            out.launcher_exes.emplace_back(exe);
            if (on_record_) on_record_(rec);
        });
        FunctionRunner runner(*guard, cgroup_parent_);
        auto result = runner.run(RunRequest{"test", policy, mode, argv, opts.trace, opts.use_seccomp, opts.use_landlock, opts.learn});
        if (!result.ok()) {
            ADD_FAILURE() << "run failed: " << result.error();
            return out;
        }
        out.outcome = *result;
        return out;
    }

    // The test workload (tests/helpers/workload.cpp) with the given steps.
    Run run_workload(const FunctionPolicy& policy, Mode mode, std::vector<std::string> steps, RunOptions opts = {}) {
        std::vector<std::string> argv{FNW_TEST_WORKLOAD};
        argv.insert(argv.end(), steps.begin(), steps.end());
        return run(policy, mode, std::move(argv), opts);
    }

    uint32_t last_policy_id() const { return policy_id_; }

    // Violations of syscall `nr` a run reported: one record each for the
    // first of a window, the rest counted in the kernel and reported in
    // summaries (violation_tally).
    static uint64_t syscall_violations_reported(const Run& r, int nr) {
        uint64_t n = 0;
        for (const auto& ev : r.events)
            if (ev.verdict == FNW_VERDICT_VIOLATION && ev.nr == static_cast<uint32_t>(nr)) ++n;
        for (const auto& s : r.summaries)
            if (s.kind == FNW_EVENT_SYSCALL && s.what == static_cast<uint32_t>(nr)) n += s.repeats;
        return n;
    }

    // What refuses an inet connect or bind here: the BPF-LSM hook where it
    // loaded (security_socket_* runs first), else the cgroup hook. The LSM
    // hook's events carry the kernel's lineage, the cgroup hook's /proc's.
    uint8_t inet_refusal(const char* hook = "socket_connect") const {
        return probes_->lsm_hook_loaded(hook) ? FNW_MECH_BPF_LSM : FNW_MECH_CGROUP_SOCK;
    }
    uint8_t inet_lineage_source(const char* hook = "socket_connect") const {
        return probes_->lsm_hook_loaded(hook) ? FNW_LINEAGE_FROM_KERNEL : FNW_LINEAGE_FROM_PROC;
    }

    // Sorts a ring-buffer record into its typed list, checking its size.
    static void collect(std::span<const std::byte> rec, Run& out) {
        fnw_event_header hdr{};
        ASSERT_GE(rec.size(), sizeof(hdr));
        std::memcpy(&hdr, rec.data(), sizeof(hdr));
        ASSERT_EQ(hdr.size, rec.size());
        if (hdr.type == FNW_EVENT_SYSCALL) {
            ASSERT_EQ(rec.size(), sizeof(fnw_syscall_event));
            fnw_syscall_event ev{};
            std::memcpy(&ev, rec.data(), sizeof(ev));
            out.events.push_back(ev);
        } else if (hdr.type == FNW_EVENT_NET) {
            ASSERT_EQ(rec.size(), sizeof(fnw_net_event));
            fnw_net_event ev{};
            std::memcpy(&ev, rec.data(), sizeof(ev));
            out.net_events.push_back(ev);
        } else if (hdr.type == FNW_EVENT_FILE) {
            ASSERT_EQ(rec.size(), sizeof(fnw_file_event));
            out.file_events.emplace_back();
            std::memcpy(&out.file_events.back(), rec.data(), sizeof(fnw_file_event));
        } else if (hdr.type == FNW_EVENT_VIOLATION_SUMMARY) {
            ASSERT_EQ(rec.size(), sizeof(fnw_violation_summary_event));
            fnw_violation_summary_event ev{};
            std::memcpy(&ev, rec.data(), sizeof(ev));
            out.summaries.push_back(ev);
        } else {
            ADD_FAILURE() << "unknown event type " << hdr.type;
        }
    }

    std::unique_ptr<ProbeSet> probes_;
    std::filesystem::path cgroup_parent_;
    // When set, run() calls it with each record after fnwarden has handled
    // it (lineage read, kill sent): where a test releases a workload that
    // waits on `await-file:` for its event to have been seen.
    std::function<void(std::span<const std::byte>)> on_record_;

private:
    uint32_t policy_id_ = 0;
};

}  // namespace fnw::test
