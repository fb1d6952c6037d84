// SPDX-License-Identifier: Apache-2.0
// The workload of bench/run.sh: a tight loop of one kind of syscall, timed
// with CLOCK_MONOTONIC. Prints one number, the mean ns per iteration.
//
// usage: syscall_loop getppid|openclose|connect|exec|jit ITERATIONS [PERIOD_NS]
//   getppid    one raw syscall(SYS_getppid) per iteration; with PERIOD_NS,
//              one every PERIOD_NS on average: the loop spins on the vDSO's
//              clock (no syscall) until the next call is due, so a traced
//              function offers a chosen rate of events (bench/throughput.sh,
//              RATES). A call that ran late (the loop was preempted) is
//              not made up for by a burst: the next one is due a period
//              after it, as a function doing work between its calls
//              would go on.
//   openclose  open("/etc/hostname", O_RDONLY) + close() per iteration
//   connect    socket(UDP) + connect(127.0.0.1:9) + close(): the cgroup
//              connect4 hook runs, no packet is sent, nothing must listen
//   exec       fork + execve("/bin/true") + wait: exec checks and the new
//              image's loader opens
//   jit        mprotect a page read+exec, then read+write again: a JIT's
//              flip, what spec.process's execMemory probes look at
//   createunlink  open("fnw-bench.tmp", O_CREAT|O_EXCL) + close + unlink,
//              in the current directory: a new inode each time, so no
//              verdict cache helps (bench/hold_latency.sh)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

static const char kOpenPath[] = "/etc/hostname";

static void loop_getppid(long iterations) {
    for (long i = 0; i < iterations; ++i) (void)syscall(SYS_getppid);
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static long period_ns;  /* 0: as fast as it goes */

static void loop_getppid_paced(long iterations) {
    double due = now_ns();
    for (long i = 0; i < iterations; ++i) {
        (void)syscall(SYS_getppid);
        double now = now_ns();
        due += (double)period_ns;
        if (due < now) due = now;
        while (now < due) now = now_ns();
    }
}

static void loop_openclose(long iterations) {
    for (long i = 0; i < iterations; ++i) {
        int fd = open(kOpenPath, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, "syscall_loop: open %s: %s\n", kOpenPath, strerror(errno));
            exit(1);
        }
        close(fd);
    }
}

static void loop_connect(long iterations) {
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons(9);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (long i = 0; i < iterations; ++i) {
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr*)&addr, sizeof(addr)) != 0) {
            fprintf(stderr, "syscall_loop: udp connect 127.0.0.1:9: %s\n", strerror(errno));
            exit(1);
        }
        close(fd);
    }
}

static void loop_exec(long iterations) {
    for (long i = 0; i < iterations; ++i) {
        pid_t pid = fork();
        if (pid == 0) {
            execl("/bin/true", "true", (char*)NULL);
            _exit(127);
        }
        int status = 0;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "syscall_loop: fork+exec /bin/true failed\n");
            exit(1);
        }
    }
}

static void loop_jit(long iterations) {
    void* page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) {
        fprintf(stderr, "syscall_loop: mmap: %s\n", strerror(errno));
        exit(1);
    }
    for (long i = 0; i < iterations; ++i) {
        if (mprotect(page, 4096, PROT_READ | PROT_EXEC) != 0 || mprotect(page, 4096, PROT_READ | PROT_WRITE) != 0) {
            fprintf(stderr, "syscall_loop: mprotect: %s\n", strerror(errno));
            exit(1);
        }
    }
    munmap(page, 4096);
}

static void loop_createunlink(long iterations) {
    static const char kName[] = "fnw-bench.tmp";
    for (long i = 0; i < iterations; ++i) {
        int fd = open(kName, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 || close(fd) != 0 || unlink(kName) != 0) {
            fprintf(stderr, "syscall_loop: create+unlink %s: %s\n", kName, strerror(errno));
            exit(1);
        }
    }
}

int main(int argc, char** argv) {
    void (*loop)(long) = NULL;
    if (argc == 3 && strcmp(argv[1], "getppid") == 0) loop = loop_getppid;
    if (argc == 3 && strcmp(argv[1], "openclose") == 0) loop = loop_openclose;
    if (argc == 3 && strcmp(argv[1], "connect") == 0) loop = loop_connect;
    if (argc == 3 && strcmp(argv[1], "exec") == 0) loop = loop_exec;
    if (argc == 3 && strcmp(argv[1], "jit") == 0) loop = loop_jit;
    if (argc == 3 && strcmp(argv[1], "createunlink") == 0) loop = loop_createunlink;
    if (argc == 4 && strcmp(argv[1], "getppid") == 0) loop = loop_getppid_paced;
    char* end = NULL;
    long iterations = argc >= 3 ? strtol(argv[2], &end, 10) : 0;
    if (loop && *end == '\0' && argc == 4) period_ns = strtol(argv[3], &end, 10);
    if (!loop || *end != '\0' || iterations <= 0 || (argc == 4 && period_ns <= 0)) {
        fprintf(stderr, "usage: syscall_loop getppid|openclose|connect|exec|jit|createunlink ITERATIONS "
                        "(getppid: [PERIOD_NS])\n");
        return 2;
    }

    loop(iterations / 10 + 1);  // warm-up: caches, TLB, page faults
    double start = now_ns();
    loop(iterations);
    double elapsed = now_ns() - start;
    printf("%.1f\n", elapsed / (double)iterations);
    return 0;
}
