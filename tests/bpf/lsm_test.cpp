// SPDX-License-Identifier: Apache-2.0
// BPF-LSM: an exec outside the allowlist fails with EPERM before the new
// image runs (lsm/bprm_check_security in exec.bpf.c), and so does an open
// (lsm/file_open in files.bpf.c), io_uring's included. Only kernels that run
// BPF-LSM programs can load it: this 6.18 host refuses them, the 6.1 VM lane
// (lsm=...,bpf) runs them and sets FNW_REQUIRE_LSM=1 so a skip is a failure.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <signal.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <gtest/gtest.h>

#include "core/file_access.hpp"
#include "probe_fixture.hpp"
#include "probes/ring_buffer_consumer.hpp"
#include "runtime/cgroup.hpp"

namespace fnw {
namespace {

class BpfLsmTest : public test::ProbeTest {
protected:
    static bool lsm_required() {
        const char* required = std::getenv("FNW_REQUIRE_LSM");
        return required && std::string(required) == "1";
    }

    // Forks a process that waits until it is in `cgroup`, then execs argv.
    // Returns its exit code (errno of a failed exec, or the program's own).
    int exec_in(const CgroupDir& cgroup, std::vector<std::string> argv) {
        int go[2];
        EXPECT_EQ(pipe2(go, O_CLOEXEC), 0);
        pid_t pid = fork();
        if (pid == 0) {
            char c;
            if (read(go[0], &c, 1) != 1) _exit(120);
            std::vector<char*> args;
            for (auto& a : argv) args.push_back(a.data());
            args.push_back(nullptr);
            execv(args[0], args.data());
            _exit(errno);
        }
        close(go[0]);
        Status added = cgroup.add_process(pid);
        EXPECT_TRUE(added) << added.error();
        EXPECT_EQ(write(go[1], "x", 1), 1);
        close(go[1]);
        int status = 0;
        EXPECT_EQ(waitpid(pid, &status, 0), pid);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
};

// Where BPF-LSM runs, the exec is refused with EPERM before the new image
// runs. Where it does not (this host: EPERM at load), the probes still load
// without it and say why (an optional hook never stops fnwarden from
// starting), and deny falls back to a kill at sched_process_exec: the exec
// happened, the new image never runs.
TEST_F(BpfLsmTest, ExecOutsideTheAllowlistIsRefusedWhereBpfLsmRuns) {
    if (lsm_required()) { ASSERT_TRUE(probes_->lsm_available()) << "FNW_REQUIRE_LSM=1: " << probes_->lsm_error(); }
    FunctionPolicy policy;
    policy.name = "lsm-test";
    policy.function = "test";
    policy.syscalls.allow.set();
    policy.exec.restricted = true;
    policy.exec.allow = {FNW_TEST_WORKLOAD};
    policy.exec.on_violation = ViolationAction::Deny;
    const uint32_t policy_id = 40;
    Status written = probes_->set_policy(policy_id, policy, Mode::Enforce);
    ASSERT_TRUE(written) << written.error();

    auto created = CgroupDir::create(cgroup_parent_ / ("lsm-" + std::to_string(getpid())));
    ASSERT_TRUE(created.ok());
    const CgroupDir& cgroup = created.value();
    ASSERT_TRUE(probes_->monitor_cgroup(cgroup.id(), fnw_cgroup_entry{policy_id, 0}));

    std::vector<fnw_file_event> events;
    auto consumer = RingBufferConsumer::create(probes_->ringbuf_fds(), [&](std::span<const std::byte> rec) {
        if (rec.size() != sizeof(fnw_file_event)) return;
        events.emplace_back();
        std::memcpy(&events.back(), rec.data(), sizeof(fnw_file_event));
    });
    ASSERT_TRUE(consumer);

    const auto true_path = std::filesystem::canonical("/bin/true").string();
    if (!probes_->lsm_available()) {
        std::cout << "BPF-LSM unavailable here, checked the fallback: " << probes_->lsm_error() << "\n";
        EXPECT_NE(probes_->lsm_error().find("lsm programs refused at load"), std::string::npos);
        EXPECT_EQ(exec_in(cgroup, {"/bin/true"}), 128 + SIGKILL) << "without BPF-LSM, deny falls back to kill";
        EXPECT_EQ(exec_in(cgroup, {FNW_TEST_WORKLOAD, "exit:7"}), 7) << "exec of the allowed program";
        consumer->drain();
        ASSERT_EQ(events.size(), 1u);
        EXPECT_EQ(std::string(events[0].resolved), true_path) << "the program the kernel ran";
        EXPECT_EQ(events[0].nr, FNW_NR_EXEC);
        EXPECT_EQ(events[0].action, FNW_ACTION_KILLED);
        EXPECT_EQ(events[0].mechanism, FNW_MECH_SIGKILL);
        probes_->unmonitor_cgroup(cgroup.id());
        return;
    }
    EXPECT_EQ(exec_in(cgroup, {"/bin/true"}), EPERM) << "exec of a program not in exec.allow";
    EXPECT_EQ(exec_in(cgroup, {FNW_TEST_WORKLOAD, "exit:7"}), 7) << "exec of the allowed program";
    consumer->drain();

    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(std::string(events[0].path), true_path) << "the kernel's canonical path";
    EXPECT_EQ(events[0].nr, FNW_NR_LSM_EXEC);
    EXPECT_EQ(events[0].action, FNW_ACTION_DENIED);
    EXPECT_EQ(events[0].mechanism, FNW_MECH_BPF_LSM);
    EXPECT_EQ(events[0].hdr.cgroup_id, cgroup.id());
    probes_->unmonitor_cgroup(cgroup.id());
}

// Each hook of the object is probed on its own before the load; status and
// --explain print the result per hook. On the 6.1 VM every one loads; here
// every one is refused at load, and says so.
TEST_F(BpfLsmTest, EveryLsmHookIsProbedAndExplainedOnItsOwn) {
    const auto& hooks = probes_->lsm_hooks();
    for (const char* hook : {"file_open", "bprm_check_security", "path_mknod", "path_mkdir", "path_unlink",
                             "path_rmdir", "path_symlink", "path_link", "path_rename", "socket_connect",
                             "socket_bind", "ptrace_access_check", "ptrace_traceme", "bpf", "file_mprotect",
                             "mmap_file"}) {
        ASSERT_TRUE(hooks.count(hook)) << "lsm/" << hook << " was not probed";
        if (lsm_required()) { EXPECT_EQ(hooks.at(hook), "") << "lsm/" << hook << " should load here"; }
        if (!probes_->lsm_available()) {
            EXPECT_FALSE(hooks.at(hook).empty());
            EXPECT_NE(probes_->lsm_error().find(hooks.at(hook)), std::string::npos) << "the summary names the reason";
        }
        EXPECT_EQ(probes_->lsm_hook_loaded(hook), hooks.at(hook).empty());
    }
}

// Reads of what the workload needs to start; writes only to one file of a
// scratch tmpfs. The tmpfs matters: the 6.1 VM's root is an overlay, whose
// inodes have no generation to prove their identity, so rules there never
// let the kernel decide (compile_file_rules); "write" here has only tmpfs and
// devtmpfs patterns, so the kernel decides it on every host.
class BpfLsmFileTest : public BpfLsmTest {
protected:
    void SetUp() override {
        BpfLsmTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        // Unique per test, not per process: a crashed run's directory (and a
        // recycled pid) never meets a new one.
        std::string tmpl = (std::filesystem::temp_directory_path() / "fnw-lsm-XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr) << std::strerror(errno);
        scratch_ = std::filesystem::canonical(tmpl);
        ASSERT_EQ(::mount("tmpfs", scratch_.c_str(), "tmpfs", 0, "size=1m"), 0) << strerror(errno);
        mounted_ = true;
        std::filesystem::create_directories(scratch_ / "rw");
        std::ofstream(scratch_ / "rw" / "allowed.txt") << "original";
        std::ofstream(scratch_ / "secret.txt") << "original";
    }
    void TearDown() override {
        if (mounted_) ::umount2(scratch_.c_str(), MNT_DETACH);
        if (!scratch_.empty()) std::filesystem::remove_all(scratch_);
    }

    FunctionPolicy policy(ViolationAction action) const {
        const std::string bin_dir = std::filesystem::path(FNW_TEST_WORKLOAD).parent_path().string();
        FunctionPolicy p;
        p.name = "lsm-files";
        p.function = "test";
        p.syscalls.allow.set();
        p.files.restricted = true;
        p.files.read = {"/usr/**", "/lib/**", "/lib64/**", "/proc/**", "/dev/**", "/etc/**", bin_dir + "/**",
                        scratch_.string() + "/**"};
        // allowed.txt sits in rw/, not beside secret.txt: a single-file rule
        // leaves misses in its own directory to fnwarden's name matcher.
        p.files.write = {"/dev/null", (scratch_ / "rw" / "allowed.txt").string()};
        p.files.on_violation = action;
        return p;
    }
    // How many records a run of this policy sends fnwarden before its first
    // step: the loader's opens on the VM's overlay root, an identity the
    // kernel cannot prove (no inode generation), so matched by name once
    // per policy slot. Zero on a host whose root is ext4.
    uint64_t loader_pending(const FunctionPolicy& p) {
        const uint64_t before = probes_->counters().file_pending;
        run_workload(p, Mode::Enforce, {"exit:0"}, {.use_landlock = false});
        return probes_->counters().file_pending - before;
    }
    static std::string slurp(const std::filesystem::path& p) {
        std::ifstream in(p);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }

    std::filesystem::path scratch_;
    bool mounted_ = false;
};

// Tests that exist only where BPF-LSM runs (there is no fallback to check
// elsewhere). The host lane of scripts/test.sh leaves this suite out, since
// a host that refuses BPF-LSM can only skip them; the VM lane runs it with
// FNW_REQUIRE_LSM=1, where a skip is a failure (tests/vm/guest-suite.sh).
class BpfLsmOnlyFileTest : public BpfLsmFileTest {};

// Without Landlock (which would refuse first, with EACCES): this is what a
// function the daemon found, not launched, gets.
const test::RunOptions kNoLandlock{.use_landlock = false};

TEST_F(BpfLsmFileTest, OpenOutsideTheAllowlistIsRefusedBeforeItHappensWhereBpfLsmRuns) {
    if (lsm_required()) { ASSERT_TRUE(probes_->lsm_hook_loaded("file_open")) << probes_->lsm_hooks().at("file_open"); }
    const auto allowed_file = scratch_ / "rw" / "allowed.txt";
    const auto secret = scratch_ / "secret.txt";
    auto allowed = run_workload(policy(ViolationAction::Deny), Mode::Enforce, {"write:" + allowed_file.string(), "exit-errno"},
                                kNoLandlock);
    EXPECT_EQ(allowed.outcome.exit_code, 0);
    EXPECT_TRUE(allowed.file_events.empty()) << allowed.file_events.size() << " events, first: "
                                             << (allowed.file_events.empty() ? "" : allowed.file_events[0].resolved);

    auto r = run_workload(policy(ViolationAction::Deny), Mode::Enforce, {"write:" + secret.string(), "exit-errno"},
                          kNoLandlock);
    ASSERT_EQ(r.file_events.size(), 1u) << "one open, one event";
    const fnw_file_event& ev = r.file_events[0];
    EXPECT_EQ(std::string(ev.resolved), secret.string());
    EXPECT_EQ(ev.resolved_kind, FNW_RESOLVED_OBJECT);
    EXPECT_EQ(ev.verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(ev.access, uint32_t{FNW_FILE_WRITE});
    EXPECT_EQ(ev.missing, uint32_t{FNW_FILE_WRITE});
    if (!probes_->lsm_hook_loaded("file_open")) {
        // No LSM: the open (with O_TRUNC) happened, the process is killed at sys_exit.
        EXPECT_EQ(r.outcome.term_signal.value_or(0), SIGKILL) << "exit " << r.outcome.exit_code;
        EXPECT_EQ(ev.mechanism, FNW_MECH_SIGKILL);
        EXPECT_EQ(ev.action, FNW_ACTION_KILLED);
        return;
    }
    EXPECT_EQ(r.outcome.exit_code, EPERM) << "refused before the open, the process lives on";
    EXPECT_EQ(slurp(secret), "original") << "O_TRUNC never happened";
    EXPECT_EQ(ev.mechanism, FNW_MECH_BPF_LSM);
    EXPECT_EQ(ev.action, FNW_ACTION_DENIED);
    EXPECT_EQ(ev.ret, -EPERM);
    EXPECT_EQ(ev.nr, static_cast<uint32_t>(SYS_openat)) << "the syscall the open came from";
    EXPECT_EQ(std::string(ev.path), secret.string()) << "its raw argument";
    EXPECT_EQ(ev.hdr.pid, static_cast<uint32_t>(r.outcome.pid));
}

TEST_F(BpfLsmOnlyFileTest, KillActionRefusesTheOpenAndKills) {
    if (!probes_->lsm_hook_loaded("file_open")) {
        if (lsm_required()) FAIL() << "FNW_REQUIRE_LSM=1: " << probes_->lsm_error();
        GTEST_SKIP() << "BPF-LSM unavailable: " << probes_->lsm_error();
    }
    const auto secret = scratch_ / "secret.txt";
    auto r = run_workload(policy(ViolationAction::Kill), Mode::Enforce,
                          {"write:" + secret.string(), "print:survived", "exit:0"}, kNoLandlock);
    EXPECT_EQ(r.outcome.term_signal.value_or(0), SIGKILL) << "exit " << r.outcome.exit_code;
    EXPECT_EQ(slurp(secret), "original");
    ASSERT_EQ(r.file_events.size(), 1u);
    EXPECT_EQ(r.file_events[0].action, FNW_ACTION_KILLED);
    EXPECT_EQ(r.file_events[0].mechanism, FNW_MECH_BPF_LSM);
}

// Creates and deletes under BPF-LSM: path_mknod (open O_CREAT of a new
// file), path_mkdir, path_unlink refuse before anything changes. Without
// LSM the same operations happen and the process is killed at sys_exit.
TEST_F(BpfLsmFileTest, CreateAndDeleteOutsideTheAllowlistAreRefusedBeforeTheyHappen) {
    FunctionPolicy p = policy(ViolationAction::Deny);
    p.files.create = {(scratch_ / "rw").string() + "/**"};
    p.files.remove = {(scratch_ / "rw").string() + "/**"};
    const bool lsm = probes_->lsm_hook_loaded("path_mkdir");
    if (lsm_required()) { ASSERT_TRUE(lsm) << probes_->lsm_hooks().at("path_mkdir"); }

    // Allowed: inside rw/, nothing crosses the ring (decided in the kernel).
    const uint64_t loader = loader_pending(p);
    const auto before = probes_->counters();
    auto ok = run_workload(p, Mode::Enforce,
                           {"mkdir:" + (scratch_ / "rw" / "d").string(), "unlink:" + (scratch_ / "rw" / "allowed.txt").string(),
                            "exit-errno"},
                           kNoLandlock);
    EXPECT_EQ(ok.outcome.exit_code, 0);
    EXPECT_TRUE(ok.file_events.empty()) << ok.file_events[0].path;
    if (lsm) {
        EXPECT_EQ(probes_->counters().file_pending - before.file_pending, loader) << "an allowed mkdir/unlink asks nobody";
    }

    const auto dir = scratch_ / "newdir";
    auto mk = run_workload(p, Mode::Enforce, {"mkdir:" + dir.string(), "exit-errno"}, kNoLandlock);
    ASSERT_EQ(mk.file_events.size(), 1u);
    const fnw_file_event& ev = mk.file_events[0];
    EXPECT_EQ(event_path(ev).path, dir.string());
    EXPECT_EQ(ev.missing, uint32_t{FNW_FILE_CREATE});
    const auto secret = scratch_ / "secret.txt";
    auto rm = run_workload(p, Mode::Enforce, {"unlink:" + secret.string(), "exit-errno"}, kNoLandlock);
    ASSERT_EQ(rm.file_events.size(), 1u);
    EXPECT_EQ(event_path(rm.file_events[0]).path, secret.string());
    const auto created = scratch_ / "created.txt";
    auto cr = run_workload(p, Mode::Enforce, {"create:" + created.string(), "exit-errno"}, kNoLandlock);
    if (!lsm) {
        // Decided after the fact (a create/delete is not an open): the
        // kernel holds the process at sys_exit until fnwarden's verdict
        // kills it, and the mkdir has happened.
        EXPECT_EQ(ev.verdict, FNW_VERDICT_VIOLATION);
        EXPECT_EQ(ev.mechanism, FNW_MECH_HELD_KILL);
        EXPECT_TRUE(std::filesystem::exists(dir)) << "without LSM the mkdir happened";
        return;
    }
    EXPECT_EQ(mk.outcome.exit_code, EPERM);
    EXPECT_FALSE(std::filesystem::exists(dir)) << "refused before the directory existed";
    EXPECT_EQ(ev.mechanism, FNW_MECH_BPF_LSM);
    EXPECT_EQ(ev.action, FNW_ACTION_DENIED);
    EXPECT_EQ(ev.nr, static_cast<uint32_t>(SYS_mkdir));
    EXPECT_EQ(rm.outcome.exit_code, EPERM);
    EXPECT_TRUE(std::filesystem::exists(secret)) << "refused before the unlink";
    EXPECT_EQ(rm.file_events[0].mechanism, FNW_MECH_BPF_LSM);
    EXPECT_EQ(rm.file_events[0].missing, uint32_t{FNW_FILE_DELETE});
    EXPECT_EQ(cr.outcome.exit_code, EPERM);
    EXPECT_FALSE(std::filesystem::exists(created)) << "open(O_CREAT) refused at path_mknod: no empty file left";
    ASSERT_EQ(cr.file_events.size(), 1u);
    EXPECT_EQ(cr.file_events[0].nr, static_cast<uint32_t>(SYS_openat));
}

// A rename deletes its old name and creates the new one: lsm/path_rename
// checks both before anything moves. Without LSM it happens, and the
// process is killed when fnwarden reads the event.
TEST_F(BpfLsmFileTest, RenameOutsideTheAllowlistIsRefusedBeforeItHappens) {
    FunctionPolicy p = policy(ViolationAction::Deny);
    p.files.create = {(scratch_ / "rw").string() + "/**"};
    p.files.remove = {(scratch_ / "rw").string() + "/**"};
    const bool lsm = probes_->lsm_hook_loaded("path_rename");
    if (lsm_required()) { ASSERT_TRUE(lsm) << probes_->lsm_hooks().at("path_rename"); }
    const auto inside = scratch_ / "rw" / "allowed.txt", moved = scratch_ / "rw" / "moved.txt";

    const uint64_t loader = loader_pending(p);
    const auto before = probes_->counters();
    auto ok = run_workload(p, Mode::Enforce, {"rename:" + inside.string() + ":" + moved.string(), "exit-errno"},
                           kNoLandlock);
    EXPECT_EQ(ok.outcome.exit_code, 0);
    EXPECT_TRUE(ok.file_events.empty()) << ok.file_events[0].path;
    if (lsm) {
        EXPECT_EQ(probes_->counters().file_pending - before.file_pending, loader) << "an allowed rename asks nobody";
    }

    // Out of rw/: the create at the new name is not allowed.
    const auto outside = scratch_ / "escaped.txt";
    auto out = run_workload(p, Mode::Enforce, {"rename:" + moved.string() + ":" + outside.string(), "exit-errno"},
                            kNoLandlock);
    ASSERT_EQ(out.file_events.size(), 1u);
    EXPECT_EQ(out.file_events[0].verdict, FNW_VERDICT_VIOLATION);
    // Into rw/ from outside: the delete of the old name is not allowed.
    const auto secret = scratch_ / "secret.txt";
    auto in = run_workload(p, Mode::Enforce,
                           {"rename:" + secret.string() + ":" + (scratch_ / "rw" / "stolen.txt").string(), "exit-errno"},
                           kNoLandlock);
    ASSERT_EQ(in.file_events.size(), 1u);
    if (!lsm) {
        EXPECT_EQ(out.file_events[0].mechanism, FNW_MECH_HELD_KILL);
        EXPECT_TRUE(std::filesystem::exists(outside)) << "without LSM the rename happened";
        return;
    }
    EXPECT_EQ(out.outcome.exit_code, EPERM);
    EXPECT_TRUE(std::filesystem::exists(moved)) << "refused before anything moved";
    EXPECT_FALSE(std::filesystem::exists(outside));
    EXPECT_EQ(out.file_events[0].mechanism, FNW_MECH_BPF_LSM);
    EXPECT_EQ(out.file_events[0].action, FNW_ACTION_DENIED);
    EXPECT_EQ(out.file_events[0].missing, uint32_t{FNW_FILE_CREATE});
    EXPECT_EQ(in.outcome.exit_code, EPERM);
    EXPECT_TRUE(std::filesystem::exists(secret));
    EXPECT_EQ(in.file_events[0].missing, uint32_t{FNW_FILE_DELETE});
    EXPECT_EQ(in.file_events[0].mechanism, FNW_MECH_BPF_LSM);
}

// io_uring opens files in the kernel (an io-wq worker, or inline) without an
// openat syscall: no syscall tracepoint sees it, lsm/file_open does.
TEST_F(BpfLsmOnlyFileTest, IoUringOpenOfADeniedFileIsRefusedToo) {
    if (!probes_->lsm_hook_loaded("file_open")) {
        if (lsm_required()) FAIL() << "FNW_REQUIRE_LSM=1: " << probes_->lsm_error();
        GTEST_SKIP() << "BPF-LSM unavailable (" << probes_->lsm_error()
                     << "): io_uring opens are out of the tracepoints' sight; launched functions have Landlock "
                        "(LandlockTest.IoUringOpenOfADeniedFileFailsToo)";
    }
    auto ok = run_workload(policy(ViolationAction::Deny), Mode::Enforce,
                           {"uring-write:" + (scratch_ / "rw" / "allowed.txt").string(), "exit-errno"}, kNoLandlock);
    EXPECT_EQ(ok.outcome.exit_code, 0);
    auto r = run_workload(policy(ViolationAction::Deny), Mode::Enforce,
                          {"uring-write:" + (scratch_ / "secret.txt").string(), "exit-errno"}, kNoLandlock);
    EXPECT_EQ(r.outcome.exit_code, EPERM);
    ASSERT_EQ(r.file_events.size(), 1u);
    EXPECT_EQ(r.file_events[0].nr, FNW_NR_LSM_FILE_OPEN) << "no syscall tracepoint saw it";
    EXPECT_EQ(std::string(r.file_events[0].resolved), (scratch_ / "secret.txt").string());
    EXPECT_EQ(r.file_events[0].mechanism, FNW_MECH_BPF_LSM);
}

// link and symlink create a name, rmdir deletes one: lsm/path_link,
// path_symlink and path_rmdir check them as path_mkdir and path_unlink do,
// before anything changes. Without BPF-LSM FileOpTest covers the same
// operations (they happen, then the process is killed).
TEST_F(BpfLsmOnlyFileTest, LinkSymlinkAndRmdirOutsideTheAllowlistAreRefusedBeforeTheyHappen) {
    for (const char* hook : {"path_link", "path_symlink", "path_rmdir"})
        if (!probes_->lsm_hook_loaded(hook)) {
            if (lsm_required()) FAIL() << "FNW_REQUIRE_LSM=1: lsm/" << hook << ": " << probes_->lsm_hooks().at(hook);
            GTEST_SKIP() << "BPF-LSM unavailable (" << probes_->lsm_error()
                         << "): without it FileOpTest.*/link, symlink, rmdir check the kill";
        }
    FunctionPolicy p = policy(ViolationAction::Deny);
    p.files.create = {(scratch_ / "rw").string() + "/**"};
    p.files.remove = {(scratch_ / "rw").string() + "/**"};
    const auto rw = scratch_ / "rw", file = rw / "allowed.txt";
    std::filesystem::create_directory(rw / "empty");
    std::filesystem::create_directory(scratch_ / "empty");

    // Inside rw/: allowed, decided in the kernel, nothing crosses the ring.
    const uint64_t loader = loader_pending(p);
    const auto before = probes_->counters();
    auto ok = run_workload(p, Mode::Enforce,
                           {"link:" + file.string() + ":" + (rw / "hard").string(), "exit-on-error",
                            "symlink:allowed.txt:" + (rw / "soft").string(), "exit-on-error",
                            "rmdir:" + (rw / "empty").string(), "exit-errno"},
                           kNoLandlock);
    EXPECT_EQ(ok.outcome.exit_code, 0) << strerror(ok.outcome.exit_code);
    EXPECT_TRUE(ok.file_events.empty()) << ok.file_events[0].path;
    EXPECT_EQ(probes_->counters().file_pending - before.file_pending, loader)
        << "an allowed link/symlink/rmdir asks nobody";
    EXPECT_EQ(std::filesystem::hard_link_count(file), 2u);
    EXPECT_TRUE(std::filesystem::is_symlink(rw / "soft"));
    EXPECT_FALSE(std::filesystem::exists(rw / "empty"));

    struct Case {
        std::string step;
        std::filesystem::path object;  // the event's path
        long nr;
        uint32_t missing;
    };
    const Case cases[] = {
        {"link:" + file.string() + ":" + (scratch_ / "hard").string(), scratch_ / "hard", SYS_link, FNW_FILE_CREATE},
        {"symlink:" + file.string() + ":" + (scratch_ / "soft").string(), scratch_ / "soft", SYS_symlink,
         FNW_FILE_CREATE},
        {"rmdir:" + (scratch_ / "empty").string(), scratch_ / "empty", SYS_rmdir, FNW_FILE_DELETE},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.step);
        auto r = run_workload(p, Mode::Enforce, {c.step, "exit-errno"}, kNoLandlock);
        EXPECT_EQ(r.outcome.exit_code, EPERM) << "refused, and the process lives on";
        if (r.file_events.size() != 1u) {
            ADD_FAILURE() << r.file_events.size() << " events, not one";
            continue;
        }
        const fnw_file_event& ev = r.file_events[0];
        EXPECT_EQ(event_path(ev).path, c.object.string());
        EXPECT_EQ(ev.nr, static_cast<uint32_t>(c.nr));
        EXPECT_EQ(ev.missing, c.missing);
        EXPECT_EQ(ev.action, FNW_ACTION_DENIED);
        EXPECT_EQ(ev.mechanism, FNW_MECH_BPF_LSM);
    }
    EXPECT_EQ(std::filesystem::hard_link_count(file), 2u) << "no second link was made";
    EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(scratch_ / "hard")));
    EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(scratch_ / "soft")));
    EXPECT_TRUE(std::filesystem::is_directory(scratch_ / "empty")) << "not removed";
}

// io_uring makes directories, links and renames in the kernel without the
// syscalls: no tracepoint sees them, the lsm/path_* hooks do (the event has
// no syscall: op "create" or "delete").
TEST_F(BpfLsmOnlyFileTest, IoUringPathOperationsOutsideTheAllowlistAreRefusedToo) {
    for (const char* hook : {"path_mkdir", "path_unlink", "path_rmdir", "path_rename", "path_link", "path_symlink"})
        if (!probes_->lsm_hook_loaded(hook)) {
            if (lsm_required()) FAIL() << "FNW_REQUIRE_LSM=1: lsm/" << hook << ": " << probes_->lsm_hooks().at(hook);
            GTEST_SKIP() << "BPF-LSM unavailable (" << probes_->lsm_error()
                         << "): io_uring's path operations are out of the tracepoints' sight; launched functions "
                            "have Landlock";
        }
    FunctionPolicy p = policy(ViolationAction::Deny);
    p.files.create = {(scratch_ / "rw").string() + "/**"};
    p.files.remove = {(scratch_ / "rw").string() + "/**"};
    const auto rw = scratch_ / "rw", file = rw / "allowed.txt", secret = scratch_ / "secret.txt";
    std::filesystem::create_directory(scratch_ / "empty");

    auto ok = run_workload(p, Mode::Enforce,
                           {"uring-mkdir:" + (rw / "d").string(), "exit-on-error", "uring-rmdir:" + (rw / "d").string(),
                            "exit-on-error", "uring-link:" + file.string() + ":" + (rw / "hard").string(),
                            "exit-on-error", "uring-symlink:allowed.txt:" + (rw / "soft").string(), "exit-on-error",
                            "uring-rename:" + (rw / "hard").string() + ":" + (rw / "moved").string(), "exit-on-error",
                            "uring-unlink:" + (rw / "moved").string(), "exit-errno"},
                           kNoLandlock);
    EXPECT_EQ(ok.outcome.exit_code, 0) << strerror(ok.outcome.exit_code);
    EXPECT_TRUE(ok.file_events.empty()) << ok.file_events[0].path;
    EXPECT_TRUE(std::filesystem::is_symlink(rw / "soft"));

    struct Case {
        std::string step;
        std::filesystem::path object;
        uint32_t nr, missing;
        bool (*untouched)(const std::filesystem::path& scratch);
    };
    namespace fs = std::filesystem;
    const Case cases[] = {
        {"uring-mkdir:" + (scratch_ / "d").string(), scratch_ / "d", FNW_NR_LSM_CREATE, FNW_FILE_CREATE,
         [](const fs::path& s) { return !fs::exists(s / "d"); }},
        {"uring-rmdir:" + (scratch_ / "empty").string(), scratch_ / "empty", FNW_NR_LSM_DELETE, FNW_FILE_DELETE,
         [](const fs::path& s) { return fs::is_directory(s / "empty"); }},
        {"uring-unlink:" + secret.string(), secret, FNW_NR_LSM_DELETE, FNW_FILE_DELETE,
         [](const fs::path& s) { return fs::exists(s / "secret.txt"); }},
        {"uring-rename:" + secret.string() + ":" + (rw / "stolen").string(), secret, FNW_NR_LSM_DELETE,
         FNW_FILE_DELETE, [](const fs::path& s) { return fs::exists(s / "secret.txt") && !fs::exists(s / "rw" / "stolen"); }},
        {"uring-link:" + file.string() + ":" + (scratch_ / "hard").string(), scratch_ / "hard", FNW_NR_LSM_CREATE,
         FNW_FILE_CREATE, [](const fs::path& s) { return !fs::exists(fs::symlink_status(s / "hard")); }},
        {"uring-symlink:" + file.string() + ":" + (scratch_ / "soft").string(), scratch_ / "soft",
         FNW_NR_LSM_CREATE, FNW_FILE_CREATE,
         [](const fs::path& s) { return !fs::exists(fs::symlink_status(s / "soft")); }},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.step);
        auto r = run_workload(p, Mode::Enforce, {c.step, "exit-errno"}, kNoLandlock);
        EXPECT_EQ(r.outcome.exit_code, EPERM);
        EXPECT_TRUE(c.untouched(scratch_)) << "refused before anything changed";
        if (r.file_events.size() != 1u) {
            ADD_FAILURE() << r.file_events.size() << " events, not one";
            continue;
        }
        const fnw_file_event& ev = r.file_events[0];
        EXPECT_EQ(ev.nr, c.nr) << "no syscall tracepoint saw it";
        EXPECT_EQ(event_path(ev).path, c.object.string());
        EXPECT_EQ(ev.missing, c.missing);
        EXPECT_EQ(ev.action, FNW_ACTION_DENIED);
        EXPECT_EQ(ev.mechanism, FNW_MECH_BPF_LSM);
    }
}

// A function in another mount namespace sees other objects under the same
// names: the kernel must not call a rule miss a violation there from rules
// made in fnwarden's (it kills or refuses nothing on its own); the names go
// to fnwarden's matcher. The workload unshares without an exec, so nothing
// has compiled the rules in its new namespace when it opens the file.
TEST_F(BpfLsmFileTest, NoKernelVerdictForATaskWithAnotherRoot) {
    auto policy = this->policy(ViolationAction::Deny);
    policy.files.read = {"/usr/**", "/lib/**", "/lib64/**", "/proc/**", "/dev/**", "/etc/ld.so.cache",
                         std::filesystem::path(FNW_TEST_WORKLOAD).parent_path().string() + "/**"};
    auto r = run_workload(policy, Mode::Enforce, {"unshare-mount", "read:/etc/shadow", "exit-errno"}, kNoLandlock);
    EXPECT_NE(r.outcome.exit_code, EPERM) << "refused in the kernel from rules made in another namespace";
    bool pending_or_decided_by_fnwarden = false;
    std::string seen;
    for (const auto& ev : r.file_events) {
        seen += std::string(ev.resolved) + " (" + ev.path + ") mechanism " + std::to_string(ev.mechanism) + "; ";
        if (std::string(ev.resolved) == "/etc/shadow")
            pending_or_decided_by_fnwarden = ev.mechanism != FNW_MECH_BPF_LSM && ev.mechanism != FNW_MECH_SIGKILL;
    }
    EXPECT_TRUE(pending_or_decided_by_fnwarden)
        << "the open of /etc/shadow reaches fnwarden's matcher; exit " << r.outcome.exit_code << ", events: " << seen;
}

// The same namespace entered by an exec (unshare(1), as a container's
// runtime does): the exec in the new root waits until `run` compiled the
// rules there (exec.bpf.c, new_root), so the kernel decides the open from
// rules made in the function's own namespace: BPF-LSM refuses it, or the
// probe kills at sys_exit.
TEST_F(BpfLsmFileTest, AnExecInAnotherMountNamespaceIsDecidedFromRulesCompiledThere) {
    auto policy = this->policy(ViolationAction::Deny);
    policy.files.read = {"/usr/**", "/lib/**", "/lib64/**", "/proc/**", "/dev/**", "/etc/ld.so.cache",
                         "/etc/locale.alias",  // unshare's setlocale, before it unshares
                         std::filesystem::path(FNW_TEST_WORKLOAD).parent_path().string() + "/**"};
    auto r = run(policy, Mode::Enforce,
                 {"/usr/bin/unshare", "--mount", "--", FNW_TEST_WORKLOAD, "read:/etc/shadow", "exit-errno"},
                 kNoLandlock);
    const bool lsm = probes_->lsm_hook_loaded("file_open");
    std::string seen;
    const fnw_file_event* shadow = nullptr;
    for (const auto& ev : r.file_events) {
        seen += std::string(ev.resolved) + " (" + ev.path + ") mechanism " + std::to_string(ev.mechanism) + "; ";
        if (std::string(ev.resolved) == "/etc/shadow" && !shadow) shadow = &ev;
    }
    // An overlayfs root (the VM lane's guest) is keyed in a function's own
    // root only where the overlay's inode numbers are proof enough
    // (docs/threat-model.md, "Overlay roots"): otherwise its patterns stay
    // fnwarden's to match, the read is held and killed by name.
    struct statfs root_fs {};
    if (::statfs("/", &root_fs) == 0 && root_fs.f_type == 0x794c7630 /* OVERLAYFS_SUPER_MAGIC */) {
        EXPECT_EQ(r.outcome.term_signal.value_or(0), SIGKILL) << "exit " << r.outcome.exit_code << "; " << seen;
        ASSERT_NE(shadow, nullptr) << seen;
        EXPECT_EQ(shadow->mechanism, uint8_t{FNW_MECH_HELD_KILL}) << seen;
        return;
    }
    if (lsm)
        EXPECT_EQ(r.outcome.exit_code, EPERM) << seen;
    else
        EXPECT_EQ(r.outcome.term_signal.value_or(0), SIGKILL) << "exit " << r.outcome.exit_code << "; " << seen;
    ASSERT_NE(shadow, nullptr) << seen;
    EXPECT_EQ(shadow->mechanism, lsm ? uint8_t{FNW_MECH_BPF_LSM} : uint8_t{FNW_MECH_SIGKILL})
        << "the kernel's, not fnwarden's matcher: " << seen;
}

// A chroot whose root fnwarden compiled the slot's rules in (the daemon does
// it on the root's first undecided record: ProbeSet::add_rules_root): BPF-LSM
// decides there too, and refuses a forbidden open before it happens, as in
// fnwarden's own root (issue 21). Without the compile it is not the kernel's
// to decide (NoKernelVerdictForATaskWithAnotherRoot).
TEST_F(BpfLsmOnlyFileTest, InAChrootWhoseRulesWereCompiledAForbiddenOpenIsRefused) {
    if (!probes_->lsm_hook_loaded("file_open")) {
        if (lsm_required()) FAIL() << "FNW_REQUIRE_LSM=1: " << probes_->lsm_error();
        GTEST_SKIP() << "BPF-LSM unavailable: " << probes_->lsm_error();
    }
    const auto jail = scratch_ / "jail";
    std::filesystem::create_directories(jail / "app");
    std::ofstream(jail / "app" / "ok.txt") << "ok";
    std::ofstream(jail / "secret.txt") << "secret";
    FunctionPolicy p;
    p.name = "lsm-chroot";
    p.function = "chroot";
    p.syscalls.allow.set();
    p.files.restricted = true;
    p.files.read = {"/app/**"};  // as the function sees it: /app in the jail
    p.files.on_violation = ViolationAction::Deny;
    constexpr uint32_t kSlot = 9;
    ASSERT_TRUE(probes_->set_policy(kSlot, p, Mode::Enforce).ok());
    const auto cgroup = cgroup_parent_ / ("lsm-chroot-" + std::to_string(::getpid()));
    ASSERT_EQ(::mkdir(cgroup.c_str(), 0755), 0) << std::strerror(errno);
    const auto cgroup_id = cgroup_id_of(cgroup);
    ASSERT_TRUE(cgroup_id);
    fnw_cgroup_entry entry{};
    entry.policy_id = kSlot;
    ASSERT_TRUE(probes_->monitor_cgroup(*cgroup_id, entry).ok());

    int ready[2], go[2], result[2];
    ASSERT_EQ(::pipe(ready), 0);
    ASSERT_EQ(::pipe(go), 0);
    ASSERT_EQ(::pipe(result), 0);
    const std::string procs = (cgroup / "cgroup.procs").string();
    const pid_t pid = ::fork();
    if (pid == 0) {  // only async-signal-safe calls from here
        const int fd = ::open(procs.c_str(), O_WRONLY);
        if (fd < 0 || ::write(fd, "0", 1) != 1) _exit(1);
        if (::chroot(jail.c_str()) != 0 || ::chdir("/") != 0) _exit(2);
        char byte = 0;
        if (::write(ready[1], "x", 1) != 1 || ::read(go[0], &byte, 1) != 1) _exit(3);
        const int allowed = ::open("/app/ok.txt", O_RDONLY);
        const int refused = ::open("/secret.txt", O_RDONLY);
        const int errors[2] = {allowed < 0 ? errno : 0, refused < 0 ? errno : 0};
        _exit(::write(result[1], errors, sizeof(errors)) == sizeof(errors) ? 0 : 4);
    }
    ::close(ready[1]);
    ::close(go[0]);
    ::close(result[1]);
    char byte = 0;
    ASSERT_EQ(::read(ready[0], &byte, 1), 1) << "the child did not chroot";
    auto added = probes_->add_rules_root(kSlot, pid);
    EXPECT_TRUE(added && *added) << (added ? "not added" : added.error());
    EXPECT_EQ(::write(go[1], "x", 1), 1);
    int errors[2] = {-1, -1};
    EXPECT_EQ(::read(result[0], errors, sizeof(errors)), static_cast<ssize_t>(sizeof(errors)));
    int status = 0;
    ::waitpid(pid, &status, 0);
    for (int fd : {ready[0], go[1], result[0]}) ::close(fd);
    probes_->unmonitor_cgroup(*cgroup_id);
    EXPECT_EQ(errors[0], 0) << "the allowed read in the jail";
    EXPECT_EQ(errors[1], EPERM) << "refused by BPF-LSM from the rules compiled in the jail";
}

}  // namespace
}  // namespace fnw
