// SPDX-License-Identifier: Apache-2.0
// Loads and attaches bench/floor.bpf.c, prints "ready", and keeps it attached
// until SIGINT or SIGTERM. Used by bench/run.sh for its "floor" row.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "fnw_bench_floor_bpf.skel.h"

int main(void) {
    // Blocked before loading, so a signal that arrives early is not lost.
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigprocmask(SIG_BLOCK, &stop, NULL);

    struct fnw_bench_floor_bpf* skel = fnw_bench_floor_bpf__open_and_load();
    if (!skel) {
        fprintf(stderr, "floor_loader: cannot load the floor program: %s\n", strerror(errno));
        return 1;
    }
    int err = fnw_bench_floor_bpf__attach(skel);
    if (err) {
        fprintf(stderr, "floor_loader: cannot attach the floor program: %s\n", strerror(-err));
        fnw_bench_floor_bpf__destroy(skel);
        return 1;
    }
    printf("ready\n");
    fflush(stdout);

    int sig = 0;
    sigwait(&stop, &sig);
    fnw_bench_floor_bpf__destroy(skel);
    return 0;
}
