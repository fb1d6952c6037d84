// SPDX-License-Identifier: Apache-2.0
// is_container_runtime_init (runtime/proc_info.cpp): which processes in a
// container's cgroup are runc's, not the container's. Real processes; the
// "runc" parent is this test's thread, renamed for the test.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>
#include <thread>

#include <gtest/gtest.h>

#include "runtime/proc_info.hpp"

namespace fnw {
namespace {

// Names the calling thread `name` for the scope: a forked child's parent
// is this thread's process, whose /proc/PID/comm is the main thread's.
class ThreadName {
public:
    explicit ThreadName(const char* name) {
        prctl(PR_GET_NAME, saved_.data());
        prctl(PR_SET_NAME, name);
    }
    ~ThreadName() { prctl(PR_SET_NAME, saved_.data()); }
    ThreadName(const ThreadName&) = delete;
    ThreadName& operator=(const ThreadName&) = delete;

private:
    std::array<char, 17> saved_{};
};

// What a child becomes: exec'd into something that runs until killed.
using Become = void (*)(const char* arg);

// Runs `program 1000`.
void exec_program(const char* program) { execl(program, program, "1000", static_cast<char*>(nullptr)); }

// Execs /bin/sleep from a memfd named `memfd_name`: runc's sealed copy of
// itself as it looks between its exec and nsexec naming it.
void exec_sealed_copy(const char* memfd_name) {
    const int in = open("/bin/sleep", O_RDONLY | O_CLOEXEC);
    const int mem = memfd_create(memfd_name, 0);
    if (in < 0 || mem < 0) return;
    char buf[65536];
    for (ssize_t n; (n = read(in, buf, sizeof(buf))) > 0;)
        if (write(mem, buf, static_cast<size_t>(n)) != n) return;
    char* const argv[] = {const_cast<char*>("sleep"), const_cast<char*>("1000"), nullptr};
    char* const envp[] = {nullptr};
    fexecve(mem, argv, envp);
}

// A child that waits to be killed: this binary, not exec'd (no `become`),
// or once `become(arg)` has exec'd (the pipe's write end closes at the
// exec: its EOF says the exec happened).
pid_t waiting_child(Become become = nullptr, const char* arg = nullptr) {
    int ready[2];
    if (pipe(ready) != 0) return -1;
    const pid_t pid = fork();
    if (pid == 0) {
        close(ready[0]);
        if (become) {
            fcntl(ready[1], F_SETFD, FD_CLOEXEC);
            become(arg);
            _exit(127);
        }
        close(ready[1]);
        for (;;) pause();
    }
    close(ready[1]);
    char byte;
    while (read(ready[0], &byte, 1) > 0) {}
    close(ready[0]);
    return pid;
}

void end(pid_t pid) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
}

bool main_thread() { return getpid() == static_cast<pid_t>(gettid()); }

TEST(RuntimeInit, RuncsChildRunningRuncsOwnBinaryIsTheRuntimes) {
    if (!main_thread()) GTEST_SKIP() << "the parent's comm is its main thread's";
    ThreadName runc("runc");
    const pid_t child = waiting_child();  // the same binary as its parent, named runc
    ASSERT_GT(child, 0);
    EXPECT_TRUE(is_container_runtime_init(child));
    end(child);
}

TEST(RuntimeInit, AnotherProgramUnderRuncIsTheContainers) {
    if (!main_thread()) GTEST_SKIP() << "the parent's comm is its main thread's";
    ThreadName runc("runc");
    const pid_t child = waiting_child(exec_program, "/bin/sleep");
    ASSERT_GT(child, 0);
    EXPECT_FALSE(is_container_runtime_init(child)) << "an entrypoint runc exec'd";
    end(child);
}

TEST(RuntimeInit, TheSameBinaryUnderAParentNotNamedRuncIsNotTheRuntimes) {
    if (!main_thread()) GTEST_SKIP() << "the parent's comm is its main thread's";
    ThreadName other("handler");
    const pid_t child = waiting_child();
    ASSERT_GT(child, 0);
    EXPECT_FALSE(is_container_runtime_init(child)) << "a shell starting a shell, say";
    end(child);
}

// The moment between runc's exec of its sealed copy and nsexec naming it:
// the exec named it after the memfd, and its parent is runc.
TEST(RuntimeInit, RuncsSealedCopyBeforeNsexecNamesItIsTheRuntimes) {
    if (!main_thread()) GTEST_SKIP() << "the parent's comm is its main thread's";
    ThreadName runc("runc");
    const pid_t child = waiting_child(exec_sealed_copy, "runc_cloned:/proc/self/exe");
    ASSERT_GT(child, 0);
    EXPECT_TRUE(is_container_runtime_init(child));
    end(child);
}

TEST(RuntimeInit, ACopyNamedLikeRuncsUnderAnotherParentIsNot) {
    if (!main_thread()) GTEST_SKIP() << "the parent's comm is its main thread's";
    ThreadName other("handler");
    const pid_t child = waiting_child(exec_sealed_copy, "runc_cloned:/proc/self/exe");
    ASSERT_GT(child, 0);
    EXPECT_FALSE(is_container_runtime_init(child));
    end(child);
}

// A child named `name` whose main thread has exited: its memory is gone,
// and with it /proc/PID/exe, but it is not reaped. With `keep_thread`, a
// second thread of it runs on. -1 when that state was not reached.
pid_t exited_child(const char* name, bool keep_thread) {
    const pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_NAME, name);
        if (keep_thread) {
            std::thread([] { for (;;) pause(); }).detach();
            syscall(SYS_exit, 0);  // this thread only
        }
        _exit(0);
    }
    const std::string exe = "/proc/" + std::to_string(pid) + "/exe";
    for (int tries = 0; tries < 5000; ++tries) {
        std::error_code ec;
        (void)std::filesystem::read_symlink(exe, ec);
        if (ec == std::errc::no_such_file_or_directory) return pid;
        usleep(1000);
    }
    end(pid);
    return -1;
}

// runc:[0:PARENT] and [1:CHILD] exit once INIT runs; cgroup.procs may list
// one that has lost its memory (a pod e2e start failed when this said no).
TEST(RuntimeInit, AnExitingRuncStageIsTheRuntimes) {
    if (!main_thread()) GTEST_SKIP() << "the parent's comm is its main thread's";
    ThreadName runc("runc");
    const pid_t child = exited_child("runc:[0:PARENT]", false);
    ASSERT_GT(child, 0);
    EXPECT_TRUE(is_container_runtime_init(child));
    end(child);
}

TEST(RuntimeInit, AnExitingProcessNotNamedLikeRuncsStagesIsNot) {
    if (!main_thread()) GTEST_SKIP() << "the parent's comm is its main thread's";
    ThreadName runc("runc");
    const pid_t child = exited_child("handler", false);
    ASSERT_GT(child, 0);
    EXPECT_FALSE(is_container_runtime_init(child)) << "the container's entrypoint, exiting";
    end(child);
}

// A leader that exits while another of its threads runs stays in
// cgroup.procs without an exe: the name alone must not make that thread
// pass for runc's.
TEST(RuntimeInit, ALeaderNamedLikeRuncThatExitedWhileItsThreadsRunIsNot) {
    if (!main_thread()) GTEST_SKIP() << "the parent's comm is its main thread's";
    ThreadName runc("runc");
    const pid_t child = exited_child("runc:[0:PARENT]", true);
    ASSERT_GT(child, 0);
    EXPECT_FALSE(is_container_runtime_init(child));
    end(child);
}

// A directory whose cgroup.procs lists `pids`: what holds_only_runtime_init
// reads of a cgroup.
class FakeCgroup {
public:
    explicit FakeCgroup(const std::vector<pid_t>& pids)
        : dir_(std::filesystem::temp_directory_path() / ("fnw-runtime-init-" + std::to_string(getpid()))) {
        std::filesystem::create_directories(dir_);
        std::ofstream procs(dir_ / "cgroup.procs");
        for (pid_t pid : pids) procs << pid << '\n';
    }
    ~FakeCgroup() { std::filesystem::remove_all(dir_); }
    FakeCgroup(const FakeCgroup&) = delete;
    FakeCgroup& operator=(const FakeCgroup&) = delete;
    const std::filesystem::path& dir() const { return dir_; }

private:
    std::filesystem::path dir_;
};

pid_t reaped_child() {
    const pid_t child = waiting_child();
    if (child > 0) end(child);
    return child;
}

// runc:[1:CHILD] is reaped as INIT starts: listed, then gone before it is
// looked at. It ran nothing of the container's.
TEST(RuntimeInit, ACgroupOfRuncsInitAndAReapedProcessIsStillStarting) {
    if (!main_thread()) GTEST_SKIP() << "the parent's comm is its main thread's";
    ThreadName runc("runc");
    const pid_t init = waiting_child();
    const pid_t gone = reaped_child();
    ASSERT_GT(init, 0);
    ASSERT_GT(gone, 0);
    FakeCgroup cgroup({init, gone});
    EXPECT_TRUE(holds_only_runtime_init(cgroup.dir()));
    end(init);
}

TEST(RuntimeInit, ACgroupWithAProcessOfTheContainersHasStarted) {
    if (!main_thread()) GTEST_SKIP() << "the parent's comm is its main thread's";
    ThreadName runc("runc");
    const pid_t entrypoint = waiting_child(exec_program, "/bin/sleep");
    const pid_t gone = reaped_child();
    ASSERT_GT(entrypoint, 0);
    ASSERT_GT(gone, 0);
    FakeCgroup cgroup({gone, entrypoint});
    EXPECT_FALSE(holds_only_runtime_init(cgroup.dir()));
    end(entrypoint);
}

TEST(RuntimeInit, AGoneProcessIsNot) {
    const pid_t child = waiting_child();
    ASSERT_GT(child, 0);
    end(child);
    EXPECT_FALSE(is_container_runtime_init(child));
}

}  // namespace
}  // namespace fnw
