// The process the BPF tests watch. Each argument is one step, run in order,
// so a test states exactly which syscalls the function makes:
//   getppid | getpgid        one raw syscall
//   repeat-getppid:N         N getppid calls (floods a traced cgroup)
//   mkdir:PATH               raw mkdir(PATH, 0700)
//   print:TEXT               write TEXT and a newline to stdout
//   exit:N                   exit with status N
//   exit-errno               exit with the errno of the last raw syscall (0: it succeeded)
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
    int last_errno = 0;
    auto raw = [&](long rc) { last_errno = rc < 0 ? errno : 0; };
    for (int i = 1; i < argc; ++i) {
        std::string step = argv[i];
        if (step == "getppid") {
            raw(syscall(SYS_getppid));
        } else if (step == "getpgid") {
            raw(syscall(SYS_getpgid, 0));
        } else if (step.rfind("mkdir:", 0) == 0) {
            raw(syscall(SYS_mkdir, step.c_str() + 6, 0700));
        } else if (step == "exit-errno") {
            return last_errno;
        } else if (step.rfind("repeat-getppid:", 0) == 0) {
            long n = std::strtol(step.c_str() + 15, nullptr, 10);
            for (long k = 0; k < n; ++k) syscall(SYS_getppid);
        } else if (step.rfind("print:", 0) == 0) {
            std::string line = step.substr(6) + "\n";
            if (write(1, line.data(), line.size()) < 0) return 3;
        } else if (step.rfind("exit:", 0) == 0) {
            return std::atoi(step.c_str() + 5);
        } else {
            const char msg[] = "fnw_test_workload: unknown step\n";
            (void)!write(2, msg, sizeof(msg) - 1);
            return 2;
        }
    }
    return 0;
}
