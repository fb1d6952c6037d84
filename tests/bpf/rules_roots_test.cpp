// SPDX-License-Identifier: Apache-2.0
// ProbeSet's roots besides fnwarden's (probe_set_roots.cpp): a chroot's
// rules stay while any process of its cgroup lives in it, and go with the
// last one, whichever process the root was first found through.
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "probe_fixture.hpp"
#include "probes/record.hpp"
#include "probes/ring_buffer_consumer.hpp"
#include "runtime/file_decider.hpp"
#include "runtime/violation_response.hpp"

namespace fnw::test {
namespace {

namespace fs = std::filesystem;

class RulesRootsTest : public ProbeTest {
protected:
    void TearDown() override {
        for (pid_t pid : children_) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
        for (auto it = mounts_.rbegin(); it != mounts_.rend(); ++it) ::umount2(it->c_str(), MNT_DETACH);
        std::error_code ec;
        if (!dir_.empty()) fs::remove_all(dir_, ec);
    }

    void bind(const fs::path& from, const fs::path& to) {
        fs::create_directories(to);
        ASSERT_EQ(::mount(from.c_str(), to.c_str(), nullptr, MS_BIND | MS_REC, nullptr), 0) << std::strerror(errno);
        mounts_.push_back(to);
        ASSERT_EQ(::mount(nullptr, to.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_REC, nullptr), 0)
            << std::strerror(errno);
    }

    // dir_/jail: /usr and the test workload's directory (as /w) bound
    // read-only, /app/ok.txt, /secret.txt, an empty /etc. Empty on failure.
    fs::path make_jail() {
        std::string tmpl = (fs::temp_directory_path() / "fnw-roots-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) {
            ADD_FAILURE() << "mkdtemp: " << std::strerror(errno);
            return {};
        }
        dir_ = tmpl;
        const fs::path jail = dir_ / "jail";
        fs::create_directories(jail / "app");
        fs::create_directories(jail / "etc");
        std::ofstream(jail / "app" / "ok.txt") << "ok";
        std::ofstream(jail / "secret.txt") << "secret";
        bind("/usr", jail / "usr");
        bind(fs::path(FNW_TEST_WORKLOAD).parent_path(), jail / "w");
        if (::testing::Test::HasFatalFailure()) return {};
        for (const char* link : {"lib", "lib64", "bin"})
            fs::create_directory_symlink(std::string("usr/") + link, jail / link);
        return jail;
    }

    // A child chrooted into dir_/jail and moved into `cgroup`, waiting to be killed.
    pid_t chrooted_child(const fs::path& cgroup) {
        int ready[2];
        EXPECT_EQ(::pipe(ready), 0);
        const std::string procs = (cgroup / "cgroup.procs").string();
        const pid_t pid = ::fork();
        if (pid == 0) {  // only async-signal-safe calls from here
            const int fd = ::open(procs.c_str(), O_WRONLY);
            if (fd < 0 || ::write(fd, "0", 1) != 1) _exit(1);  // "0": the writer itself
            if (::chroot((dir_ / "jail").c_str()) != 0 || ::chdir("/") != 0) _exit(1);
            (void)!::write(ready[1], "x", 1);
            for (;;) ::pause();
        }
        ::close(ready[1]);
        char byte = 0;
        EXPECT_EQ(::read(ready[0], &byte, 1), 1) << "the child did not chroot";
        ::close(ready[0]);
        children_.push_back(pid);
        return pid;
    }
    void end(pid_t pid) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        std::erase(children_, pid);
    }

    fs::path dir_;
    std::vector<pid_t> children_;
    std::vector<fs::path> mounts_;
};

TEST_F(RulesRootsTest, AChrootKeepsItsRulesWhileAnyProcessOfItsCgroupLivesInIt) {
    std::string tmpl = (fs::temp_directory_path() / "fnw-roots-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    fs::create_directories(dir_ / "jail/app");
    const fs::path cgroup = cgroup_parent_ / "jail";
    ASSERT_EQ(::mkdir(cgroup.c_str(), 0755), 0) << std::strerror(errno);

    FunctionPolicy policy;
    policy.name = "rooted";
    policy.files.restricted = true;
    policy.files.read = {"/app/**"};
    constexpr uint32_t kSlot = 7;
    ASSERT_TRUE(probes_->set_policy(kSlot, policy, Mode::Enforce).ok());

    const pid_t first = chrooted_child(cgroup), second = chrooted_child(cgroup);
    auto added = probes_->add_rules_root(kSlot, first);
    ASSERT_TRUE(added) << added.error();
    EXPECT_TRUE(*added) << "a chroot is not fnwarden's root";
    EXPECT_FALSE(*probes_->add_rules_root(kSlot, second)) << "the same root, known already";
    EXPECT_FALSE(*probes_->add_rules_root(kSlot, ::getpid())) << "fnwarden's own root";
    EXPECT_EQ(probes_->rules_root_count(kSlot), 1u);

    end(first);
    ASSERT_TRUE(probes_->sweep_rules_roots().ok());
    EXPECT_EQ(probes_->rules_root_count(kSlot), 1u) << "the second process lives in the same root";
    end(second);
    ASSERT_TRUE(probes_->sweep_rules_roots().ok());
    EXPECT_EQ(probes_->rules_root_count(kSlot), 0u) << "nobody lives there any more";
}


// Birth in a new root (exec.bpf.c, new_root): the first exec in a root the
// slot's rules were not compiled in holds the new image before its first
// instruction, and the record makes fnwarden compile the root (as the
// daemon and `fnwarden run` do: compile_rules_in_root_of, then the verdict) before it
// lets it go. So the program's very first forbidden access is the kernel's:
// killed by the probe at sys_exit (sigkill; BPF-LSM refuses it where it
// runs), not held and matched by name (held-sigkill) as when the root was
// compiled only on that access.
TEST_F(RulesRootsTest, TheFirstForbiddenAccessAfterAnExecInANewRootIsDecidedInTheKernel) {
    const fs::path jail = make_jail();
    ASSERT_FALSE(jail.empty());

    FunctionPolicy policy;
    policy.name = "new-root";
    policy.syscalls.allow.set();
    policy.files.restricted = true;
    policy.files.read = {"/usr/**", "/w/**", "/app/**"};  // each exists in the jail: read is complete there
    policy.files.on_violation = ViolationAction::Kill;
    constexpr uint32_t kSlot = 8;
    ASSERT_TRUE(probes_->set_policy(kSlot, policy, Mode::Enforce).ok());
    const fs::path cgroup = cgroup_parent_ / "newroot";
    ASSERT_EQ(::mkdir(cgroup.c_str(), 0755), 0) << std::strerror(errno);
    const auto cgroup_id = cgroup_id_of(cgroup);
    ASSERT_TRUE(cgroup_id);
    fnw_cgroup_entry entry{};
    entry.policy_id = kSlot;
    ASSERT_TRUE(probes_->monitor_cgroup(*cgroup_id, entry).ok());

    // fnwarden's side: compile in the record's root, then decide.
    FileDecider files([this](const fnw_file_verdict_key& key) { return probes_->remember_allowed_file(key); });
    ASSERT_TRUE(files.set_policy(kSlot, policy, Mode::Enforce).ok());
    files.on_hold_end([this](uint32_t tid, uint32_t tgid) { return probes_->end_hold(tid, tgid); });
    const KillOnViolation kill = KillOnViolation::from(policy, Mode::Enforce);
    std::vector<fnw_file_event> events, pending;  // reported; sent undecided (as the kernel sent them)
    int compiled = 0;
    auto consumer = RingBufferConsumer::create(probes_->ringbuf_fds(), [&](std::span<const std::byte> bytes) {
        Result<Record> record = decode_record(bytes);
        if (!record) return;
        if (const auto* file = std::get_if<FileRecord>(&*record); file && (*file)->verdict == FNW_VERDICT_PENDING)
            pending.push_back(**file);
        const size_t roots_before = probes_->rules_root_count(kSlot);
        compile_rules_in_root_of(*probes_, *record, "new-root");
        compiled += probes_->rules_root_count(kSlot) > roots_before;
        respond_to_record(std::move(*record), kill, [&](const Record& r) {
            if (const auto* file = std::get_if<FileRecord>(&r)) events.push_back(**file);
        }, &files);
    });
    ASSERT_TRUE(consumer);
    const uint64_t new_roots_before = probes_->counters().new_roots;

    const std::string procs = (cgroup / "cgroup.procs").string();
    const pid_t pid = ::fork();
    if (pid == 0) {  // only async-signal-safe calls from here
        const int fd = ::open(procs.c_str(), O_WRONLY);
        if (fd < 0 || ::write(fd, "0", 1) != 1) _exit(1);
        if (::chroot(jail.c_str()) != 0 || ::chdir("/") != 0) _exit(2);
        const char* argv[] = {"workload", "read:/secret.txt", "exit:0", nullptr};
        ::execv("/w/fnw_test_workload", const_cast<char* const*>(argv));
        _exit(3);
    }
    children_.push_back(pid);
    int status = 0;
    for (int i = 0; i < 2000; ++i) {  // a bound, not a delay: ends when the child does
        consumer->drain();
        if (::waitpid(pid, &status, WNOHANG) == pid) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::erase(children_, pid);
    consumer->drain();
    probes_->unmonitor_cgroup(*cgroup_id);

    std::string seen;
    const fnw_file_event* exec = nullptr;
    const fnw_file_event* secret = nullptr;
    for (const auto& ev : pending) {
        seen += "sent " + std::string(ev.path) + " nr " + std::to_string(ev.nr) + " held " + std::to_string(ev.held) + "; ";
        if (ev.nr == FNW_NR_EXEC && !exec) exec = &ev;
    }
    for (const auto& ev : events) {
        seen += "reported " + std::string(ev.path) + " verdict " + std::to_string(ev.verdict) + " mechanism " +
                std::to_string(ev.mechanism) + "; ";
        if (std::string(ev.path) == "/secret.txt" && ev.verdict == FNW_VERDICT_VIOLATION) secret = &ev;
    }
    ASSERT_TRUE(WIFSIGNALED(status)) << "status " << status << "; events: " << seen;
    EXPECT_EQ(WTERMSIG(status), SIGKILL);
    EXPECT_EQ(compiled, 1) << "the jail compiled once: " << seen;
    EXPECT_GT(probes_->counters().new_roots, new_roots_before) << "counted";
    ASSERT_NE(exec, nullptr) << "the exec in the new root sends a record: " << seen;
    EXPECT_EQ(exec->held, 1) << "and waits for fnwarden";
    EXPECT_STREQ(exec->path, "/w/fnw_test_workload");
    EXPECT_EQ(pending.size(), 1u) << "nothing after it is left to fnwarden: " << seen;
    ASSERT_NE(secret, nullptr) << seen;
    EXPECT_EQ(secret->action, FNW_ACTION_KILLED);
    EXPECT_EQ(secret->mechanism,
              probes_->lsm_hook_loaded("file_open") ? uint8_t{FNW_MECH_BPF_LSM} : uint8_t{FNW_MECH_SIGKILL})
        << "decided in the kernel, not held and matched by name (held-sigkill is " << int{FNW_MECH_HELD_KILL}
        << "): " << seen;
}

// The same for a function `fnwarden run` launched (LocalGuard): it runs
// chroot(8), which execs the workload inside the jail. That exec is held
// until fnwarden run compiles the policy's rules there, so the workload's
// first forbidden read is the kernel's to decide, as under the daemon.
TEST_F(RulesRootsTest, ALaunchedFunctionThatExecsInAChrootIsDecidedInTheKernelThere) {
    const fs::path jail = make_jail();
    ASSERT_FALSE(jail.empty());
    FunctionPolicy policy;
    policy.name = "launched-root";
    policy.syscalls.allow.set();
    policy.files.restricted = true;
    // Each exists in both roots: read is complete in the host's root
    // (chroot(8) and its libraries) and in the jail (the workload).
    policy.files.read = {"/usr/**", "/w/**", "/app/**", "/etc/**"};
    policy.files.on_violation = ViolationAction::Kill;
    const uint64_t new_roots_before = probes_->counters().new_roots;

    // Without Landlock: its rules are paths opened in the launcher's root
    // before the exec (/w does not exist there), so it would refuse the
    // workload's exec in the jail before the probes see anything.
    RunOptions opts;
    opts.use_landlock = false;
    Run r = run(policy, Mode::Enforce,
                {"/usr/sbin/chroot", jail.string(), "/w/fnw_test_workload", "read:/secret.txt", "exit:0"}, opts);

    std::string seen;
    const fnw_file_event* secret = nullptr;
    for (const auto& ev : r.file_events) {
        seen += std::string(ev.path) + " verdict " + std::to_string(ev.verdict) + " action " +
                std::to_string(ev.action) + " mechanism " + std::to_string(ev.mechanism) + "; ";
        if (std::string(ev.path) == "/secret.txt" && ev.verdict == FNW_VERDICT_VIOLATION) secret = &ev;
    }
    EXPECT_GT(probes_->counters().new_roots, new_roots_before) << "the exec in the jail is a new root: " << seen;
    ASSERT_TRUE(r.outcome.term_signal) << "exit " << r.outcome.exit_code << "; events: " << seen;
    EXPECT_EQ(*r.outcome.term_signal, SIGKILL);
    ASSERT_NE(secret, nullptr) << seen;
    EXPECT_EQ(secret->action, FNW_ACTION_KILLED);
    EXPECT_EQ(secret->mechanism,
              probes_->lsm_hook_loaded("file_open") ? uint8_t{FNW_MECH_BPF_LSM} : uint8_t{FNW_MECH_SIGKILL})
        << "decided in the kernel, not held and matched by name (held-sigkill is " << int{FNW_MECH_HELD_KILL}
        << "): " << seen;
}

}  // namespace
}  // namespace fnw::test
