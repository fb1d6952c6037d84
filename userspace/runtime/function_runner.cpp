#include "runtime/function_runner.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "common/unique_fd.hpp"
#include "probes/ring_buffer_consumer.hpp"
#include "runtime/cgroup.hpp"

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

[[noreturn]] void child_exec(int go_fd, int err_fd, const sigset_t& mask, const std::vector<std::string>& argv) {
    // If fnwarden dies, the function must not run on unguarded.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    sigprocmask(SIG_SETMASK, &mask, nullptr);
    char go = 0;
    // Wait until the parent has put us in the cgroup and registered it.
    if (::read(go_fd, &go, 1) != 1) _exit(127);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    int err = errno;
    (void)!::write(err_fd, &err, sizeof(err));
    _exit(127);
}

}  // namespace

std::variant<RunOutcome, std::string> FunctionRunner::run(const RunRequest& request,
                                                          const RecordHandler& on_record) {
    if (request.argv.empty()) return std::string("no command to run");

    static_cast<void>(::mkdir(cgroup_parent_.c_str(), 0755));  // may exist already
    const std::string leaf = request.function + "-" + std::to_string(::getpid()) + "-" +
                             std::to_string(policy_id_);
    auto created = CgroupDir::create(cgroup_parent_ / leaf);
    if (auto* err = std::get_if<std::string>(&created)) return *err;
    CgroupDir cgroup = std::move(std::get<CgroupDir>(created));

    std::string error;
    if (!probes_.set_policy(policy_id_, compile_kernel_policy(request.policy, request.mode), &error))
        return error;

    auto consumer = RingBufferConsumer::create(probes_.ringbuf_fd(), on_record);
    if (!consumer) return std::string("cannot set up the ring buffer consumer: ") + std::strerror(errno);

    int go_pipe[2], err_pipe[2];
    if (::pipe2(go_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0)
        return std::string("pipe: ") + std::strerror(errno);
    UniqueFd go_read(go_pipe[0]), go_write(go_pipe[1]), err_read(err_pipe[0]), err_write(err_pipe[1]);

    SignalBlock blocked;
    sigset_t forwarded = forwarded_signals();
    UniqueFd sigfd(::signalfd(-1, &forwarded, SFD_CLOEXEC | SFD_NONBLOCK));

    pid_t pid = ::fork();
    if (pid < 0) return std::string("fork: ") + std::strerror(errno);
    if (pid == 0) child_exec(go_read.get(), err_write.get(), blocked.previous(), request.argv);

    go_read.reset();
    err_write.reset();
    RunOutcome outcome;
    outcome.pid = pid;
    outcome.cgroup_id = cgroup.id();

    auto abort_child = [&](std::string message) -> std::variant<RunOutcome, std::string> {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        probes_.unmonitor_cgroup(cgroup.id());
        return message;
    };

    // Order matters: the process is in the cgroup and the cgroup is in the
    // kernel map before the child may exec. ARM_ON_EXEC keeps the child's
    // last launcher syscalls (read, execve) out of the function's record.
    if (!cgroup.add_process(pid, &error)) return abort_child(error);
    fnw_cgroup_entry entry{};
    entry.policy_id = policy_id_;
    entry.flags = FNW_CGROUP_ARM_ON_EXEC | (request.trace ? uint32_t{FNW_CGROUP_TRACE} : 0u);
    if (!probes_.monitor_cgroup(cgroup.id(), entry, &error)) return abort_child(error);

    const char go = 1;
    if (::write(go_write.get(), &go, 1) != 1) return abort_child(std::string("cannot release child"));
    go_write.reset();

    int exec_errno = 0;
    ssize_t n;
    do {
        n = ::read(err_read.get(), &exec_errno, sizeof(exec_errno));
    } while (n < 0 && errno == EINTR);
    if (n == sizeof(exec_errno)) {
        ::waitpid(pid, nullptr, 0);
        probes_.unmonitor_cgroup(cgroup.id());
        return "cannot execute " + request.argv[0] + ": " + std::strerror(exec_errno);
    }

    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    UniqueFd epfd(::epoll_create1(EPOLL_CLOEXEC));
    auto watch = [&](int fd) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = fd;
        return ::epoll_ctl(epfd.get(), EPOLL_CTL_ADD, fd, &ev) == 0;
    };
    if (pidfd.get() < 0 || epfd.get() < 0 || !watch(pidfd.get()) || !watch(consumer->epoll_fd()) ||
        (sigfd.get() >= 0 && !watch(sigfd.get())))
        return abort_child(std::string("event loop setup: ") + std::strerror(errno));

    int status = 0;
    for (bool running = true; running;) {
        epoll_event ready[4];
        int count = ::epoll_wait(epfd.get(), ready, 4, kConsumerLatencyMs);
        if (count < 0 && errno != EINTR) {
            spdlog::error("epoll_wait: {}", std::strerror(errno));
            break;
        }
        for (int i = 0; i < count; ++i) {
            int fd = ready[i].data.fd;
            if (fd == sigfd.get()) {
                signalfd_siginfo si{};
                while (::read(sigfd.get(), &si, sizeof(si)) == sizeof(si)) ::kill(pid, static_cast<int>(si.ssi_signo));
            } else if (fd == pidfd.get()) {
                running = false;
            }
        }
        // Always drain: below the wakeup threshold the kernel does not wake us.
        consumer->drain();
    }
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    consumer->drain();  // everything the function emitted up to its exit

    probes_.unmonitor_cgroup(cgroup.id());
    if (!cgroup.empty()) {
        spdlog::info("{}: killing processes left in the cgroup after the function exited", request.function);
        cgroup.kill_all();
    }

    if (WIFSIGNALED(status)) {
        outcome.term_signal = WTERMSIG(status);
        outcome.exit_code = 128 + WTERMSIG(status);
    } else {
        outcome.exit_status = WEXITSTATUS(status);
        outcome.exit_code = WEXITSTATUS(status);
    }
    return outcome;
}

}  // namespace fnw
