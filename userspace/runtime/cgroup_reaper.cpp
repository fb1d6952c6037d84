// SPDX-License-Identifier: Apache-2.0
#include "runtime/cgroup_reaper.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace fnw {
namespace {

// The death signal: one nobody else sends us by accident.
constexpr int kLauncherDied = SIGUSR2;
// How long the reaper waits for the cgroup to empty and go (the kernel
// frees exited tasks asynchronously; 5 ms steps, as CgroupDir does).
constexpr int kRemoveAttempts = 1000;

// Runs in the forked child: only async-signal-safe calls (the launcher
// may have threads), paths prepared before the fork.
struct ReaperPaths {
    char dir[4096];
    char kill_file[4096];
    char procs_file[4096];
    char events_file[4096];
};

// "populated 0" in cgroup.events: nothing left in the cgroup *or below it*
// (the top cgroup.procs is empty when the leftovers sit in a child cgroup).
bool cgroup_empty(const char* events_file) {
    int fd = ::open(events_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return true;  // gone
    char buf[256];
    ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
    ::close(fd);
    if (n <= 0) return false;
    buf[n] = '\0';
    return ::strstr(buf, "populated 0") != nullptr;
}

// Kills without cgroup.kill (before 5.14): every pid listed, until none is.
void kill_listed(const char* procs_file) {
    int fd = ::open(procs_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    char buf[4096];
    long pid = 0;
    bool digits = false;
    for (ssize_t n; (n = ::read(fd, buf, sizeof(buf))) > 0;) {
        for (ssize_t i = 0; i < n; ++i) {
            if (buf[i] >= '0' && buf[i] <= '9') {
                pid = pid * 10 + (buf[i] - '0');
                digits = true;
            } else {
                if (digits) ::kill(static_cast<pid_t>(pid), SIGKILL);
                pid = 0;
                digits = false;
            }
        }
    }
    if (digits) ::kill(static_cast<pid_t>(pid), SIGKILL);
    ::close(fd);
}

[[noreturn]] void reap(const ReaperPaths& paths) {
    for (int attempt = 0; attempt < kRemoveAttempts; ++attempt) {
        if (::rmdir(paths.dir) == 0 || errno == ENOENT) ::_exit(0);
        if (!cgroup_empty(paths.events_file)) {
            int fd = ::open(paths.kill_file, O_WRONLY | O_CLOEXEC);
            if (fd < 0 || ::write(fd, "1", 1) != 1) kill_listed(paths.procs_file);
            if (fd >= 0) ::close(fd);
        }
        ::poll(nullptr, 0, 5);
    }
    ::_exit(1);
}

[[noreturn]] void run_reaper(const ReaperPaths& paths, pid_t launcher) {
    sigset_t all;
    sigfillset(&all);
    ::sigprocmask(SIG_BLOCK, &all, nullptr);
    // No fd of the launcher's stays open here: a held pipe or socket end
    // would keep its peer from seeing EOF. close_range (5.9) is one call
    // where the loop is a thousand, counted in every run's start-up.
    if (::syscall(SYS_close_range, 3u, ~0u, 0u) != 0)
        for (int fd = 3; fd < 1024; ++fd) ::close(fd);
    if (::prctl(PR_SET_PDEATHSIG, kLauncherDied) != 0) ::_exit(1);
    // The launcher may have died before the prctl: then no signal comes.
    if (::getppid() != launcher) reap(paths);
    sigset_t wanted;
    sigemptyset(&wanted);
    sigaddset(&wanted, kLauncherDied);
    for (;;) {
        int sig = ::sigwaitinfo(&wanted, nullptr);
        if (sig == kLauncherDied && ::getppid() != launcher) reap(paths);
    }
}

bool copy_path(char (&out)[4096], const std::string& text) {
    if (text.size() >= sizeof(out)) return false;
    std::memcpy(out, text.c_str(), text.size() + 1);
    return true;
}

}  // namespace

Result<CgroupReaper> CgroupReaper::start(const std::filesystem::path& cgroup) {
    static ReaperPaths paths;  // static: the child must not touch the heap
    if (!copy_path(paths.dir, cgroup.string()) || !copy_path(paths.kill_file, (cgroup / "cgroup.kill").string()) ||
        !copy_path(paths.procs_file, (cgroup / "cgroup.procs").string()) ||
        !copy_path(paths.events_file, (cgroup / "cgroup.events").string()))
        return fail("cgroup path too long for the reaper: " + cgroup.string());
    const pid_t launcher = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) return fail(std::string("fork (cgroup reaper): ") + std::strerror(errno));
    if (pid == 0) run_reaper(paths, launcher);
    return CgroupReaper(pid);
}

CgroupReaper::~CgroupReaper() {
    if (pid_ <= 0) return;
    // A normal end: the launcher has removed the cgroup itself.
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
}

}  // namespace fnw
