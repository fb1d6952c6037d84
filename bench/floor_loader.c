// SPDX-License-Identifier: Apache-2.0
// Loads bench/floor.bpf.c, attaches the programs of the shape named on the
// command line, prints "ready", and keeps them attached until SIGINT or
// SIGTERM. Used by bench/run.sh for its "floor" row and the rows that split
// a bystander's cost into its parts.
//
// usage: floor_loader [SHAPE]
//   floor (default)   empty tp_btf/sys_enter
//   helper            tp_btf/sys_enter: bpf_get_current_cgroup_id + bitmap miss
//   direct            tp_btf/sys_enter: the cgroup id through the task + bitmap miss
//   tp-pair           floor + empty syscalls/sys_enter_openat and sys_exit_openat
//   exit              floor + empty tp_btf/sys_exit
//   dispatch          direct + tp_btf/sys_exit with the same lookup
//   dispatch-bit      direct + tp_btf/sys_exit: a bit test on the syscall number first
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "fnw_bench_floor_bpf.skel.h"

struct shape {
    const char* name;
    int enter;  // 0 floor, 1 helper, 2 direct
    int exit;   // 0 none, 1 empty, 2 direct, 3 bit test then direct
    int tp_pair;
};

static const struct shape shapes[] = {
    {"floor", 0, 0, 0},  {"helper", 1, 0, 0}, {"direct", 2, 0, 0},
    {"tp-pair", 0, 0, 1}, {"exit", 0, 1, 0},   {"dispatch", 2, 2, 0},
    {"dispatch-bit", 2, 3, 0},
};

int main(int argc, char** argv) {
    const struct shape* shape = &shapes[0];
    if (argc > 1) {
        shape = NULL;
        for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); ++i)
            if (strcmp(argv[1], shapes[i].name) == 0) shape = &shapes[i];
        if (!shape) {
            fprintf(stderr, "floor_loader: unknown shape '%s'\n", argv[1]);
            return 2;
        }
    }
    // Blocked before loading, so a signal that arrives early is not lost.
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigprocmask(SIG_BLOCK, &stop, NULL);

    struct fnw_bench_floor_bpf* skel = fnw_bench_floor_bpf__open();
    if (!skel) {
        fprintf(stderr, "floor_loader: cannot open the floor programs: %s\n", strerror(errno));
        return 1;
    }
    bpf_program__set_autoattach(skel->progs.fnw_bench_floor, shape->enter == 0);
    bpf_program__set_autoattach(skel->progs.fnw_bench_enter_helper, shape->enter == 1);
    bpf_program__set_autoattach(skel->progs.fnw_bench_enter_direct, shape->enter == 2);
    bpf_program__set_autoattach(skel->progs.fnw_bench_exit_empty, shape->exit == 1);
    bpf_program__set_autoattach(skel->progs.fnw_bench_exit_direct, shape->exit == 2);
    bpf_program__set_autoattach(skel->progs.fnw_bench_exit_bit, shape->exit == 3);
    bpf_program__set_autoattach(skel->progs.fnw_bench_tp_enter_openat, shape->tp_pair);
    bpf_program__set_autoattach(skel->progs.fnw_bench_tp_exit_openat, shape->tp_pair);
    int err = fnw_bench_floor_bpf__load(skel);
    if (!err) err = fnw_bench_floor_bpf__attach(skel);
    if (err) {
        fprintf(stderr, "floor_loader: cannot load or attach the %s programs: %s\n", shape->name, strerror(-err));
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
