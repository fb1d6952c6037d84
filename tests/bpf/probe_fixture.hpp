// Shared set-up for tests that load the real probes. Needs root (CAP_BPF,
// CAP_SYS_ADMIN for cgroups). Without them the tests skip, unless
// FNW_REQUIRE_BPF=1 (CI), where not being able to load is a failure.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include <fnwarden/events.h>

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

    void load(ProbeOptions options) {
        probes_.reset();
        auto root = find_cgroup2_mount();
        ASSERT_TRUE(root) << "no cgroup2 mount";
        cgroup_parent_ = *root / "fnwarden-test";
        static_cast<void>(::mkdir(cgroup_parent_.c_str(), 0755));
        options.cgroup2_root = *root;
        std::string why;
        if (geteuid() != 0) {
            why = "not root";
        } else {
            auto loaded = ProbeSet::load(options);
            if (auto* err = std::get_if<ProbeError>(&loaded))
                why = err->message;
            else
                probes_ = std::move(std::get<std::unique_ptr<ProbeSet>>(loaded));
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
    };

    // Runs argv under FunctionRunner (what `fnwarden run` does), collecting events.
    Run run(const FunctionPolicy& policy, Mode mode, std::vector<std::string> argv, RunOptions opts = {}) {
        Run out;
        std::string error;
        auto guard = LocalGuard::create(*probes_, ++policy_id_, policy, mode,
                                        [&](std::span<const std::byte> rec) { collect(rec, out); }, &error);
        if (!guard) {
            ADD_FAILURE() << "guard: " << error;
            return out;
        }
        FunctionRunner runner(*guard, cgroup_parent_);
        auto result = runner.run(RunRequest{"test", policy, mode, argv, opts.trace, opts.use_seccomp, opts.use_landlock, opts.learn});
        if (auto* err = std::get_if<std::string>(&result)) {
            ADD_FAILURE() << "run failed: " << *err;
            return out;
        }
        out.outcome = std::get<RunOutcome>(result);
        return out;
    }

    // The test workload (tests/helpers/workload.cpp) with the given steps.
    Run run_workload(const FunctionPolicy& policy, Mode mode, std::vector<std::string> steps, RunOptions opts = {}) {
        std::vector<std::string> argv{FNW_TEST_WORKLOAD};
        argv.insert(argv.end(), steps.begin(), steps.end());
        return run(policy, mode, std::move(argv), opts);
    }

    uint32_t last_policy_id() const { return policy_id_; }

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
        } else {
            ADD_FAILURE() << "unknown event type " << hdr.type;
        }
    }

    std::unique_ptr<ProbeSet> probes_;
    std::filesystem::path cgroup_parent_;

private:
    uint32_t policy_id_ = 0;
};

}  // namespace fnw::test
