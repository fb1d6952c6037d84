// The workload of bench/run.sh: a tight loop of one kind of syscall, timed
// with CLOCK_MONOTONIC. Prints one number, the mean ns per iteration.
//
// usage: syscall_loop getppid|openclose ITERATIONS
//   getppid    one raw syscall(SYS_getppid) per iteration
//   openclose  open("/etc/hostname", O_RDONLY) + close() per iteration
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const char kOpenPath[] = "/etc/hostname";

static void loop_getppid(long iterations) {
    for (long i = 0; i < iterations; ++i) (void)syscall(SYS_getppid);
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

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char** argv) {
    void (*loop)(long) = NULL;
    if (argc == 3 && strcmp(argv[1], "getppid") == 0) loop = loop_getppid;
    if (argc == 3 && strcmp(argv[1], "openclose") == 0) loop = loop_openclose;
    char* end = NULL;
    long iterations = argc == 3 ? strtol(argv[2], &end, 10) : 0;
    if (!loop || *end != '\0' || iterations <= 0) {
        fprintf(stderr, "usage: syscall_loop getppid|openclose ITERATIONS\n");
        return 2;
    }

    loop(iterations / 10 + 1);  // warm-up: caches, TLB, page faults
    double start = now_ns();
    loop(iterations);
    double elapsed = now_ns() - start;
    printf("%.1f\n", elapsed / (double)iterations);
    return 0;
}
