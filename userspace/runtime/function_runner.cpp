// SPDX-License-Identifier: Apache-2.0
#include "runtime/function_runner.hpp"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/single_threaded.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>

#include <spdlog/spdlog.h>

#include "common/unique_fd.hpp"
#include "runtime/cgroup.hpp"
#include "runtime/cgroup_reaper.hpp"
#include "core/enforcement_plan.hpp"
#include "runtime/landlock_sandbox.hpp"
#include "runtime/seccomp_guard.hpp"

namespace fnw {
namespace {

// Signals fnwarden forwards to the function instead of dying of them.
sigset_t forwarded_signals() {
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&set, s);
    return set;
}

// Blocks the forwarded signals for the lifetime of the run; restores after.
class SignalBlock {
public:
    SignalBlock() {
        sigset_t set = forwarded_signals();
        pthread_sigmask(SIG_BLOCK, &set, &old_);
    }
    ~SignalBlock() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
    const sigset_t& previous() const { return old_; }

private:
    sigset_t old_{};
};

// What the child reports on the error pipe when it cannot become the function.
struct ChildFailure {
    enum Stage : int { kSeccomp = 1, kSendListener = 2, kExec = 3, kLandlock = 4, kCredentials = 5 } stage;
    int error;
};

std::string describe(const ChildFailure& f, const std::string& exe) {
    switch (f.stage) {
    case ChildFailure::kSeccomp: return std::string("cannot install the seccomp filter: ") + std::strerror(f.error);
    case ChildFailure::kSendListener: return std::string("cannot pass the seccomp listener: ") + std::strerror(f.error);
    case ChildFailure::kLandlock: return std::string("cannot enforce the landlock ruleset: ") + std::strerror(f.error);
    case ChildFailure::kCredentials:
        return std::string("cannot drop to the function's user and group: ") + std::strerror(f.error);
    case ChildFailure::kExec: break;
    }
    return "cannot execute " + exe + ": " + std::strerror(f.error);
}

// argv[0] resolved against PATH in the parent, so the child only calls
// execve (the one exec syscall the seccomp filter lets through for it).
std::string resolve_executable(const std::string& name) {
    if (name.find('/') != std::string::npos) return name;
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
    size_t start = 0;
    while (start <= dirs.size()) {
        size_t end = dirs.find(':', start);
        if (end == std::string::npos) end = dirs.size();
        std::string dir = dirs.substr(start, end - start);
        std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
        start = end + 1;
    }
    return name;  // execve fails with ENOENT and the child reports it
}

struct ChildPlan {
    int go_fd;
    int error_fd;
    int listener_socket_fd;  // -1 without seccomp
    SeccompFilter* filter;   // nullptr without seccomp
    int landlock_ruleset_fd; // -1 without landlock
    const sigset_t* signal_mask;
    const std::string* exe;
    char* const* argv;  // built before the fork: the child allocates nothing it can avoid
    const std::optional<RunAs>* run_as;
};

[[noreturn]] void fail_child(int error_fd, ChildFailure::Stage stage, int err) {
    ChildFailure f{stage, err};
    (void)!::write(error_fd, &f, sizeof(f));
    _exit(127);
}

[[noreturn]] void child_exec(const ChildPlan& plan) {
    // If fnwarden dies, the function must not run on unguarded.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    // No descriptor of ours reaches the function, even one a library opened
    // without O_CLOEXEC (a daemon's HTTP connections, say). The fds this
    // child still needs are only used before exec.
    ::syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
    sigprocmask(SIG_SETMASK, plan.signal_mask, nullptr);
    // The caller may have blocked these early (hold_forwarded_signals); the
    // function must receive them normally.
    sigset_t forwarded = forwarded_signals();
    sigprocmask(SIG_UNBLOCK, &forwarded, nullptr);

    char go = 0;
    // Wait until the parent has put us in the cgroup and registered it.
    if (::read(plan.go_fd, &go, 1) != 1) _exit(127);
    // Now, not earlier: moving into the cgroup and registering needed the
    // launcher's rights (the cgroup is root's, so the function cannot
    // leave it or make sub-cgroups); Landlock and seccomp come after, so
    // their filters need not allow these calls. Groups first: setgroups and
    // setgid need the root that setuid gives up.
    if (*plan.run_as) {
        const RunAs& as = **plan.run_as;
        if (::setgroups(1, &as.gid) != 0 || ::setgid(as.gid) != 0 || ::setuid(as.uid) != 0)
            fail_child(plan.error_fd, ChildFailure::kCredentials, errno);
        // Checked, not assumed: a uid that could get root back is no drop.
        if (::getuid() != as.uid || ::geteuid() != as.uid || ::getgid() != as.gid || ::getegid() != as.gid ||
            (as.uid != 0 && ::setuid(0) == 0))
            fail_child(plan.error_fd, ChildFailure::kCredentials, EPERM);
        // No setuid program may raise the function again. Seccomp and
        // Landlock set it too, but only when the policy uses them.
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail_child(plan.error_fd, ChildFailure::kCredentials, errno);
    }
    // Landlock before seccomp: its own syscalls need not be in the allowlist.
    if (plan.landlock_ruleset_fd >= 0) {
        if (int rc = enforce_landlock(plan.landlock_ruleset_fd); rc < 0)
            fail_child(plan.error_fd, ChildFailure::kLandlock, -rc);
    }
    if (plan.filter) {
        // From here on only the launcher tail (seccomp_guard.hpp) is allowed
        // beyond the policy: sendmsg on our socket, write on the error pipe,
        // execve, exit.
        int listener = plan.filter->load_and_listen();
        if (listener < 0) fail_child(plan.error_fd, ChildFailure::kSeccomp, -listener);
        if (!send_fd(plan.listener_socket_fd, listener)) fail_child(plan.error_fd, ChildFailure::kSendListener, errno);
        // The listener is O_CLOEXEC: the function never holds its own supervisor.
    }
    ::execv(plan.exe->c_str(), plan.argv);
    fail_child(plan.error_fd, ChildFailure::kExec, errno);
}

}  // namespace

void hold_forwarded_signals() {
    sigset_t set = forwarded_signals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

namespace {

// What the parent prepares before the fork, as the plan says: the pipes,
// the seccomp filter and its socket, the Landlock ruleset.
struct Launch {
    EnforcementPlan plan;
    int landlock_abi = 0;  // the kernel's, as the plan saw it
    UniqueFd go_read, go_write, err_read, err_write;
    UniqueFd listener_parent, listener_child;  // the seccomp listener's way to the parent
    std::optional<SeccompFilter> filter;
    LandlockPlan landlock;
    UniqueFd landlock_ruleset;
    std::string exe;
};


// Enforce mode with deny/kill: real blocking through seccomp (see
// seccomp_guard.hpp). The BPF probe still sees everything seccomp lets through.
Status prepare_seccomp(const RunRequest& request, Launch& launch) {
    if (!launch.plan.syscalls.seccomp) return {};
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return fail(std::string("socketpair: ") + std::strerror(errno));
    launch.listener_parent.reset(sv[0]);
    launch.listener_child.reset(sv[1]);
    auto built =
        SeccompFilter::build(request.policy.syscalls.allow, LauncherTail{launch.listener_child.get(), launch.err_write.get()});
    if (!built) return fail(built.error());
    launch.filter.emplace(std::move(*built));
    return {};
}

// Files, exec and TCP ports: Landlock, for the sections whose onViolation
// acts in this mode (report-only sections are only watched, by the probes).
// Network stays enforced by the cgroup hooks either way; Landlock is the
// layer that survives fnwarden.
Status prepare_landlock(const RunRequest& request, Launch& launch) {
    if (!launch.plan.refusal.empty()) return fail(launch.plan.refusal);
    launch.landlock = plan_landlock(landlock_view(request.policy, launch.plan), launch.landlock_abi);
    if (!launch.landlock.active()) return {};
    auto built = build_landlock_ruleset(launch.landlock);
    if (!built) return fail(built.error());
    launch.landlock_ruleset = std::move(*built);
    for (const auto& note : launch.landlock.notes) spdlog::info("{}: {}", request.function, note);
    return {};
}

// One plan for the launch, from what the guard knows the kernel and its
// probes can do (not a second probe of the kernel).
Status prepare_launch(const RunRequest& request, const EnforcementCapabilities& capabilities, Launch& launch) {
    launch.plan = plan_enforcement(request.policy, request.mode, capabilities, /*launched=*/true,
                                   LauncherOptions{request.use_seccomp, request.use_landlock});
    launch.landlock_abi = capabilities.landlock_abi;
    int go_pipe[2], err_pipe[2];
    if (::pipe2(go_pipe, O_CLOEXEC) != 0) return fail(std::string("pipe: ") + std::strerror(errno));
    launch.go_read.reset(go_pipe[0]);
    launch.go_write.reset(go_pipe[1]);
    if (::pipe2(err_pipe, O_CLOEXEC) != 0) return fail(std::string("pipe: ") + std::strerror(errno));
    launch.err_read.reset(err_pipe[0]);
    launch.err_write.reset(err_pipe[1]);
    if (Status seccomp = prepare_seccomp(request, launch); !seccomp.ok()) return seccomp;
    launch.exe = resolve_executable(request.argv[0]);
    return prepare_landlock(request, launch);
}

// The child's report on the error pipe, if it could not become the function.
std::optional<ChildFailure> read_child_failure(int fd) {
    ChildFailure failure{};
    ssize_t n;
    do {
        n = ::read(fd, &failure, sizeof(failure));
    } while (n < 0 && errno == EINTR);
    if (n == sizeof(failure)) return failure;
    return std::nullopt;
}

// The child, born in its cgroup (clone3 with CLONE_INTO_CGROUP, Linux 5.7):
// moving it there afterwards (a write to cgroup.procs) takes the cgroup
// threadgroup lock for writing, which waits for an RCU grace period unless
// the hierarchy is mounted with favordynmods: 20-25 ms of wall time per run
// on the test host, more than the rest of a run under the daemon
// (docs/performance.md, "Run under the daemon: the launcher"). The raw
// syscall skips glibc's fork handlers, which only matter when another
// thread may hold a lock (malloc's, stdio's) at the fork: so only in a
// process that never started a thread; otherwise, and where the kernel (or
// a container's seccomp profile) refuses clone3, fork() and the move as
// before. `born_inside` says which happened.
pid_t fork_into_cgroup(int cgroup_fd, bool& born_inside) {
    born_inside = false;
    if (cgroup_fd >= 0 && __libc_single_threaded) {
        clone_args args{};
        args.flags = CLONE_INTO_CGROUP;
        args.exit_signal = SIGCHLD;
        args.cgroup = static_cast<uint64_t>(cgroup_fd);
        const long pid = ::syscall(SYS_clone3, &args, sizeof(args));
        if (pid >= 0) {
            born_inside = true;
            return static_cast<pid_t>(pid);
        }
    }
    return ::fork();
}

void record_exit(int status, RunOutcome& outcome) {
    if (WIFSIGNALED(status)) {
        outcome.term_signal = WTERMSIG(status);
        outcome.exit_code = 128 + WTERMSIG(status);
    } else {
        outcome.exit_status = WEXITSTATUS(status);
        outcome.exit_code = WEXITSTATUS(status);
    }
}

}  // namespace

// The run loop: forwards signals, answers seccomp notifications, services
// the guard, until the function's main process exits.
struct FunctionRunner::Supervision {
    const RunRequest& request;
    pid_t pid;
    CgroupDir& cgroup;
    SeccompSupervisor* supervisor;
    int sigfd;
    UniqueFd pidfd, epfd;
    int guard_fd = -1;  // the guard's poll_fd() the loop watches
    bool guard_lost = false;

    bool watch(int fd) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = fd;
        return ::epoll_ctl(epfd.get(), EPOLL_CTL_ADD, fd, &ev) == 0;
    }
};

bool FunctionRunner::handle_ready(Supervision& run, const epoll_event& ready, RunOutcome& outcome) {
    const int fd = ready.data.fd;
    if (fd == run.sigfd) {
        signalfd_siginfo si{};
        while (::read(run.sigfd, &si, sizeof(si)) == sizeof(si)) {
            outcome.forwarded_signal = static_cast<int>(si.ssi_signo);
            ::kill(run.pid, static_cast<int>(si.ssi_signo));
        }
    } else if (fd == run.pidfd.get()) {
        return false;
    } else if (run.supervisor && fd == run.supervisor->fd()) {
        if (ready.events & EPOLLIN) {
            run.supervisor->handle_one(
                [&](const fnw_syscall_event& ev, std::string_view exe) { guard_.launcher_event(ev, exe); });
        } else if (ready.events & EPOLLHUP) {
            // No task uses the filter any more: nothing left to supervise.
            ::epoll_ctl(run.epfd.get(), EPOLL_CTL_DEL, fd, nullptr);
        }
    }
    return true;
}

void FunctionRunner::service_guard(Supervision& run) {
    if (run.guard_lost) return;
    const bool guarded = guard_.service();
    // The guard's descriptor may change: the daemon guard has none while it
    // waits for the next daemon, then the new connection's.
    if (const int fd = guarded ? guard_.poll_fd() : -1; fd != run.guard_fd) {
        if (run.guard_fd >= 0) ::epoll_ctl(run.epfd.get(), EPOLL_CTL_DEL, run.guard_fd, nullptr);
        if (fd >= 0 && !run.watch(fd))
            spdlog::warn("{}: cannot watch the guard's connection: {}", run.request.function, std::strerror(errno));
        run.guard_fd = fd;
    }
    if (guarded) return;
    run.guard_lost = true;
    if (run.request.mode == Mode::Enforce) {
        // Nothing watches the function any more: in enforce mode it must
        // not run on unguarded.
        spdlog::error("{}: the guard went away; killing the function (enforce mode)", run.request.function);
        run.cgroup.kill_all();
    } else {
        spdlog::error("{}: the guard went away; the function runs on unwatched (audit mode)", run.request.function);
    }
}

Status FunctionRunner::supervise(Supervision& run, RunOutcome& outcome) {
    run.pidfd.reset(static_cast<int>(::syscall(SYS_pidfd_open, run.pid, 0)));
    run.epfd.reset(::epoll_create1(EPOLL_CLOEXEC));
    run.guard_fd = guard_.poll_fd();
    if (run.pidfd.get() < 0 || run.epfd.get() < 0 || !run.watch(run.pidfd.get()) ||
        (run.guard_fd >= 0 && !run.watch(run.guard_fd)) || (run.sigfd >= 0 && !run.watch(run.sigfd)) ||
        (run.supervisor && !run.watch(run.supervisor->fd())))
        return fail(std::string("event loop setup: ") + std::strerror(errno));
    for (bool running = true; running;) {
        epoll_event ready[4];
        int count = ::epoll_wait(run.epfd.get(), ready, 4, kConsumerLatencyMs);
        if (count < 0 && errno != EINTR) {
            spdlog::error("epoll_wait: {}", std::strerror(errno));
            break;
        }
        for (int i = 0; i < count; ++i) running = handle_ready(run, ready[i], outcome) && running;
        service_guard(run);
    }
    return {};
}

Result<CgroupDir> FunctionRunner::create_cgroup(const std::string& function) {
    static_cast<void>(::mkdir(cgroup_parent_.c_str(), 0755));  // may exist already
    // pid + this runner's sequence number: unique on this host while we run.
    const std::string leaf = function + "-" + std::to_string(::getpid()) + "-" + std::to_string(runs_started_++);
    return CgroupDir::create(cgroup_parent_ / leaf);
}

Result<RunOutcome, RunFailure> FunctionRunner::run(const RunRequest& request) {
    if (request.argv.empty()) return RunFailure{"no command to run"};
    auto created = create_cgroup(request.function);
    if (!created.ok()) return RunFailure{created.error()};
    CgroupDir cgroup = std::move(*created);
    // Empties and removes the cgroup if this launcher dies before it can
    // (PDEATHSIG reaches only the function's main process). Declared after
    // `cgroup`, so a normal end stops the reaper first and then cleans up.
    Result<CgroupReaper> started = CgroupReaper::start(cgroup.path());
    if (!started) return RunFailure{started.error()};
    CgroupReaper reaper = std::move(*started);
    Launch launch;
    if (Status prepared = prepare_launch(request, guard_.capabilities(), launch); !prepared.ok())
        return RunFailure{prepared.error()};

    SignalBlock blocked;
    sigset_t forwarded = forwarded_signals();
    UniqueFd sigfd(::signalfd(-1, &forwarded, SFD_CLOEXEC | SFD_NONBLOCK));
    std::vector<char*> argv;
    for (const auto& a : request.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    UniqueFd cgroup_fd(::open(cgroup.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    bool born_inside = false;
    pid_t pid = fork_into_cgroup(cgroup_fd.get(), born_inside);
    if (pid < 0) return RunFailure{std::string("fork: ") + std::strerror(errno)};
    if (pid == 0)
        child_exec(ChildPlan{launch.go_read.get(), launch.err_write.get(), launch.listener_child.get(),
                             launch.filter ? &*launch.filter : nullptr, launch.landlock_ruleset.get(),
                             &blocked.previous(), &launch.exe, argv.data(), &request.run_as});
    cgroup_fd.reset();
    launch.go_read.reset();
    launch.err_write.reset();
    launch.listener_child.reset();
    RunOutcome outcome;
    outcome.pid = pid;
    outcome.cgroup_id = cgroup.id();

    bool armed = false;
    auto abort_child = [&](std::string message) -> Result<RunOutcome, RunFailure> {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        if (armed) guard_.disarm(cgroup.id());
        return RunFailure{std::move(message)};
    };
    // Order matters: the process is in the cgroup and the cgroup is guarded
    // before the child may exec. ARM_ON_EXEC keeps the child's last launcher
    // syscalls (read, execve) out of the function's record.
    if (!born_inside)
        if (Status added = cgroup.add_process(pid); !added) return abort_child(added.error());
    if (Status armed_now = guard_.arm({request.function, cgroup.path(), cgroup.id(), pid, request.trace, request.learn,
                                       launch.landlock.active()});
        !armed_now)
        return abort_child(armed_now.error());
    armed = true;
    const char go = 1;
    if (::write(launch.go_write.get(), &go, 1) != 1) return abort_child(std::string("cannot release child"));
    launch.go_write.reset();

    std::optional<SeccompSupervisor> supervisor;
    // EOF here means the child failed before sending: the error pipe says why.
    if (UniqueFd listener = launch.filter ? receive_fd(launch.listener_parent.get()) : UniqueFd(); listener.valid())
        supervisor.emplace(std::move(listener), launch.plan.syscalls.action, guard_.policy_id(),
                           find_cgroup2_mount().value_or(cgroup_parent_.parent_path()));
    if (auto failure = read_child_failure(launch.err_read.get())) {
        ::waitpid(pid, nullptr, 0);
        guard_.disarm(cgroup.id());
        return RunFailure{describe(*failure, launch.exe),
                          failure->stage == ChildFailure::kExec ? failure->error : 0};
    }
    if (launch.filter && !supervisor) return abort_child("the child sent no seccomp listener");

    Supervision supervision{request, pid, cgroup, supervisor ? &*supervisor : nullptr, sigfd.get(), {}, {}};
    if (Status looped = supervise(supervision, outcome); !looped.ok()) return abort_child(looped.error());
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!supervision.guard_lost) guard_.disarm(cgroup.id());
    if (!cgroup.empty()) {
        spdlog::info("{}: killing processes left in the cgroup after the function exited", request.function);
        cgroup.kill_all();
    }
    if (supervisor) outcome.seccomp_violations = supervisor->handled();
    record_exit(status, outcome);
    return outcome;
}

}  // namespace fnw
