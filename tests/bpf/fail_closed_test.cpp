// SPDX-License-Identifier: Apache-2.0
// "Fail closed" (docs/architecture.md, "Fail closed on launcher death";
// docs/threat-model.md, "fnwarden's own surface"): nothing a launched
// function started keeps running unchecked once its main process or its
// launcher is gone.
#include <iterator>
#include <thread>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cgroup_cleanup.hpp"
#include "common/unique_fd.hpp"
#include "core/syscall_table.hpp"
#include "handshake.hpp"
#include "probe_fixture.hpp"
#include "runtime/cgroup.hpp"
#include "runtime/proc_info.hpp"

namespace fnw {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test::policy_denying;

// A directory of the test's own under $TMPDIR (or /tmp).
fs::path make_temp_dir(const char* stem) {
    std::string pattern = (fs::temp_directory_path() / (std::string(stem) + "-XXXXXX")).string();
    if (!::mkdtemp(pattern.data())) return {};
    return pattern;
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// ---- The main process exits, the launcher lives on --------------------------

class LeftoverProcessTest : public test::ProbeTest {
protected:
    void SetUp() override {
        test::ProbeTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        dir_ = make_temp_dir("fnw-leftover");
        ASSERT_FALSE(dir_.empty()) << strerror(errno);
    }
    void TearDown() override {
        if (!dir_.empty()) fs::remove_all(dir_);
        test::ProbeTest::TearDown();
    }
    fs::path dir_;
};

// docs/architecture.md and docs/threat-model.md: "Processes left in the
// cgroup when the function's main process exits are killed (cgroup.kill)
// before the cgroup is removed." A double-forked grandchild (nobody's child
// in the function) waits for a file that never comes; the main process exits
// as soon as the grandchild is in place. The grandchild names itself with a
// reported getpgid, and this test holds a pidfd on it from that event on.
TEST_F(LeftoverProcessTest, ADetachedGrandchildIsKilledWhenTheMainProcessExits) {
    const std::string ready = (dir_ / "ready").string();
    const std::string never = (dir_ / "never").string();
    UniqueFd leftover;
    pid_t leftover_pid = 0;
    on_record_ = [&](std::span<const std::byte> rec) {
        fnw_event_header hdr{};
        std::memcpy(&hdr, rec.data(), std::min(rec.size(), sizeof(hdr)));
        if (hdr.type != FNW_EVENT_SYSCALL || leftover.valid()) return;
        leftover_pid = static_cast<pid_t>(hdr.pid);
        leftover = test::open_pidfd(leftover_pid);
    };
    auto r = run_workload(policy_denying({SYS_getpgid}, ViolationAction::Report), Mode::Audit,
                          {"detach:4", "getpgid", "create:" + ready, "await-file:" + never, "exit:0",
                           "await-file:" + ready, "exit:0"});
    on_record_ = nullptr;
    EXPECT_EQ(r.outcome.exit_code, 0) << "the main process";
    ASSERT_EQ(r.events.size(), 1u) << "the grandchild's getpgid";
    ASSERT_TRUE(leftover.valid()) << "pid " << leftover_pid << ": " << strerror(errno);
    EXPECT_NE(leftover_pid, r.outcome.pid);
    // The run is over: the grandchild must already be dead, not dying later.
    EXPECT_TRUE(test::wait_for_exit(leftover.get(), 0ms)) << "the grandchild outlived its function";
    EXPECT_FALSE(fs::exists(cgroup_parent_ / ("test-" + std::to_string(::getpid()) + "-0")))
        << "the run's cgroup was not removed";
}

// ---- The launcher dies -------------------------------------------------------
// The real `fnwarden run` (standalone: its own probes, its own seccomp
// supervisor), killed with SIGKILL while its function runs.

fs::path fnwarden_binary() {
    if (const char* env = std::getenv("FNW_BINARY")) return env;
    // build/fnwarden beside build/tests/fnw_test_workload.
    return fs::path(FNW_TEST_WORKLOAD).parent_path().parent_path() / "fnwarden";
}

class LauncherDeathTest : public ::testing::Test {
protected:
    void SetUp() override {
        const char* why = nullptr;
        auto root = find_cgroup2_mount();
        if (::geteuid() != 0) why = "not root";
        else if (!root) why = "no cgroup2 mount";
        else if (!fs::exists(fnwarden_binary())) why = "no fnwarden binary beside the tests (FNW_BINARY=...)";
        if (why) {
            if (test::bpf_required()) FAIL() << "FNW_REQUIRE_BPF=1 but " << why;
            GTEST_SKIP() << why;
        }
        runs_cgroups_ = *root / "fnwarden";  // where `fnwarden run` puts its cgroups
        dir_ = make_temp_dir("fnw-launcher-death");
        ASSERT_FALSE(dir_.empty()) << strerror(errno);
        // Unique per test and process, and a valid function name (at most
        // 63 characters: it becomes a cgroup directory name).
        static int tests_started = 0;
        function_ = "fnw-death-" + std::to_string(::getpid()) + "-" + std::to_string(tests_started++);
        // Every syscall but getpgid: the leftover's test call.
        std::string allow;
        for (int nr = 0; nr < 512; ++nr) {
            const auto name = SyscallTable::name(nr);
            if (name.empty() || nr == SYS_getpgid) continue;
            allow += (allow.empty() ? "" : ", ") + std::string(name);
        }
        std::ofstream(dir_ / "policy.yaml") << "apiVersion: fnwarden.io/v1\n"
                                               "kind: FunctionPolicy\n"
                                               "metadata:\n"
                                               "  name: launcher-death\n"
                                               "spec:\n"
                                               "  selector:\n"
                                               "    function: " << function_ << "\n"
                                            << "  mode: enforce\n"
                                               "  syscalls:\n"
                                               "    allow: [" << allow << "]\n"
                                            << "    onViolation: deny\n";
    }

    void TearDown() override {
        if (launcher_ > 0) {
            ::kill(launcher_, SIGKILL);
            ::waitpid(launcher_, nullptr, 0);
        }
        // Whatever the launcher left: its cgroup under <cgroup2>/fnwarden,
        // and anything still running in it.
        if (!leaf_.empty()) {
            if (std::string error = test::remove_cgroup_tree(leaf_); !error.empty()) ADD_FAILURE() << error;
        }
        if (!dir_.empty()) fs::remove_all(dir_);
    }

    // Starts `fnwarden run` on the workload; returns once `ready` exists.
    void start(const std::vector<std::string>& steps, const fs::path& ready) {
        std::vector<std::string> args{fnwarden_binary().string(), "run", "--standalone", "--function", function_,
                                      "--policy", (dir_ / "policy.yaml").string(), "--no-baseline",
                                      "--events", (dir_ / "events.jsonl").string(), "--", FNW_TEST_WORKLOAD};
        args.insert(args.end(), steps.begin(), steps.end());
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        const std::string log = (dir_ / "launcher.log").string();
        launcher_ = ::fork();
        ASSERT_GE(launcher_, 0);
        if (launcher_ == 0) {
            const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (fd >= 0) {
                ::dup2(fd, 1);
                ::dup2(fd, 2);
            }
            ::execv(argv[0], argv.data());
            _exit(127);
        }
        // Loading the probes takes a moment; the bound is for a broken run.
        ASSERT_TRUE(test::wait_for_file(ready, 60s)) << "the workload never got going:\n" << slurp(log);
        leaf_ = runs_cgroups_ / (function_ + "-" + std::to_string(launcher_) + "-0");
        ASSERT_TRUE(fs::is_directory(leaf_)) << leaf_;
    }

    // The processes in the run's cgroup: the function's main process (the
    // launcher's child) and the others.
    void find_processes(pid_t& main_process, std::vector<pid_t>& others) const {
        std::ifstream procs(leaf_ / "cgroup.procs");
        for (pid_t pid; procs >> pid;) {
            auto status = read_proc_status(pid);
            if (status && status->ppid == static_cast<uint32_t>(launcher_))
                main_process = pid;
            else
                others.push_back(pid);
        }
    }

    // The launcher's children outside the run's cgroup: its cgroup reaper.
    std::vector<pid_t> launcher_helpers() const {
        std::vector<pid_t> helpers;
        std::string in_leaf;
        {
            std::ifstream procs(leaf_ / "cgroup.procs");
            in_leaf.assign(std::istreambuf_iterator<char>(procs), {});
        }
        for (const auto& entry : fs::directory_iterator("/proc")) {
            const std::string name = entry.path().filename().string();
            if (name.find_first_not_of("0123456789") != std::string::npos) continue;
            const pid_t pid = std::stoi(name);
            auto status = read_proc_status(pid);
            if (!status || status->ppid != static_cast<uint32_t>(launcher_)) continue;
            if (("\n" + in_leaf).find("\n" + name + "\n") == std::string::npos) helpers.push_back(pid);
        }
        return helpers;
    }

    void kill_launcher() {
        ASSERT_EQ(::kill(launcher_, SIGKILL), 0);
        int status = 0;
        ASSERT_EQ(::waitpid(launcher_, &status, 0), launcher_);
        launcher_ = 0;
        ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    }

    fs::path runs_cgroups_, dir_, leaf_;
    std::string function_;
    pid_t launcher_ = 0;
};

// If fnwarden dies, its child gets SIGKILL (PR_SET_PDEATHSIG), and "a
// suspended notification with no listener fails with ENOSYS, so nothing
// runs unchecked": a process that escaped the PDEATHSIG (a double-forked
// grandchild) still has the seccomp filter, and a syscall outside the
// allowlist fails instead of running. The launcher's cgroup reaper is
// killed first, as a SIGKILL of the whole process group would: otherwise it
// kills the grandchild (the next test).
TEST_F(LauncherDeathTest, TheFunctionDiesWithItsLauncherAndALeftoversDeniedSyscallFails) {
    const fs::path ready = dir_ / "ready", go = dir_ / "go", errno_file = dir_ / "errno";
    start({"detach:6", "create:" + ready.string(), "await-file:" + go.string(), "getpgid",
           "write-errno:" + errno_file.string(), "await-file:" + (dir_ / "never").string(), "exit:0",
           // The main process: waits to be killed.
           "await-file:" + (dir_ / "never").string(), "exit:0"},
          ready);
    if (HasFatalFailure()) return;
    pid_t main_process = 0;
    std::vector<pid_t> others;
    find_processes(main_process, others);
    ASSERT_NE(main_process, 0) << "no child of the launcher in " << leaf_;
    ASSERT_EQ(others.size(), 1u) << "the grandchild";
    UniqueFd main_fd = test::open_pidfd(main_process), grandchild_fd = test::open_pidfd(others[0]);
    ASSERT_TRUE(main_fd.valid() && grandchild_fd.valid()) << strerror(errno);
    const auto helpers = launcher_helpers();
    ASSERT_EQ(helpers.size(), 1u) << "the launcher's cgroup reaper";
    {
        UniqueFd reaper = test::open_pidfd(helpers[0]);
        ASSERT_EQ(::kill(helpers[0], SIGKILL), 0);
        ASSERT_TRUE(test::wait_for_exit(reaper.get(), 10s));
    }

    kill_launcher();
    if (HasFatalFailure()) return;
    EXPECT_TRUE(test::wait_for_exit(main_fd.get(), 10s)) << "the function outlived its launcher";

    std::ofstream(go) << "go\n";
    ASSERT_TRUE(test::wait_for_file(errno_file, 10s)) << "the grandchild did not get past getpgid";
    EXPECT_EQ(std::stoi(slurp(errno_file)), ENOSYS) << "getpgid without a supervisor";
}

// The same, the launcher alone SIGKILLed (an OOM kill, kill -9 of its
// pid): its cgroup reaper, outside the function's cgroup, kills what is left
// (cgroup.kill) and removes the run's cgroup, so no grandchild runs on
// unwatched once the probes are gone with the launcher.
TEST_F(LauncherDeathTest, LeftoversAreKilledAndTheCgroupRemovedWhenTheLauncherDies) {
    const fs::path ready = dir_ / "ready";
    start({"detach:3", "create:" + ready.string(), "await-file:" + (dir_ / "never").string(), "exit:0",
           "await-file:" + (dir_ / "never").string(), "exit:0"},
          ready);
    if (HasFatalFailure()) return;
    pid_t main_process = 0;
    std::vector<pid_t> others;
    find_processes(main_process, others);
    ASSERT_EQ(others.size(), 1u) << "the grandchild";
    UniqueFd grandchild_fd = test::open_pidfd(others[0]);
    ASSERT_TRUE(grandchild_fd.valid()) << strerror(errno);
    ASSERT_EQ(launcher_helpers().size(), 1u) << "the launcher's cgroup reaper";

    kill_launcher();
    if (HasFatalFailure()) return;
    EXPECT_TRUE(test::wait_for_exit(grandchild_fd.get(), 10s)) << "the leftover outlived the launcher";
    EXPECT_TRUE(test::wait_until_unpopulated(leaf_, 10s));
    for (int attempt = 0; attempt < 200 && fs::exists(leaf_); ++attempt)
        std::this_thread::sleep_for(50ms);  // bounded poll: the reaper's rmdir follows the kill
    EXPECT_FALSE(fs::exists(leaf_)) << "the run's cgroup outlived the launcher";
}

}  // namespace
}  // namespace fnw
