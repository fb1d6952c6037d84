// SPDX-License-Identifier: Apache-2.0
// Loads fnwarden's BPF object as the daemon does (every program, the
// BPF-LSM ones only where ARGV has "--lsm"), with the kernel's verifier
// statistics on (log level 4), and prints one line per program: what the
// verifier spent on it (docs/performance.md, "Daemon ready").
//
// usage: verifier_stats [--lsm] [PROGRAM...]   (PROGRAM: load only these, for perf)
// prints: program  section  usec  insns_processed  total_states  peak_states  (sorted by usec)
// then a total line. FNW_VERIFIER_LOG=1 (or 2: every instruction's state)
// prints the verifier's log of each program to stderr. Nothing is attached; the object is closed at exit.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <bpf/libbpf.h>

#include "fnwarden_bpf.skel.h"


struct row {
    const char* name;
    const char* section;
    long usec, insns, states, peak;
};

static int by_usec(const void* a, const void* b) {
    const struct row* x = a;
    const struct row* y = b;
    return (y->usec > x->usec) - (y->usec < x->usec);
}

static long field(const char* log, const char* key) {
    const char* at = strstr(log, key);
    return at ? strtol(at + strlen(key), NULL, 10) : -1;
}

static int quiet(enum libbpf_print_level level, const char* fmt, va_list args) {
    if (level == LIBBPF_WARN) return vfprintf(stderr, fmt, args);
    return 0;
}

int main(int argc, char** argv) {
    const int lsm = argc > 1 && strcmp(argv[1], "--lsm") == 0;
    char** only = argv + 1 + lsm;
    const int only_count = argc - 1 - lsm;
    libbpf_set_print(quiet);
    struct fnwarden_bpf* skel = fnwarden_bpf__open();
    if (!skel) {
        fprintf(stderr, "cannot open the BPF object: %s\n", strerror(errno));
        return 1;
    }
    // As ProbeSet::configure sets them: a rules root the verifier cannot
    // prove absent (0 would let it drop the code that compares with it).
    struct stat mnt_ns, root;
    if (stat("/proc/self/ns/mnt", &mnt_ns) == 0 && stat("/", &root) == 0) {
        skel->rodata->rules_mnt_ns = (__u32)mnt_ns.st_ino;
        skel->rodata->rules_root_dev = ((__u64)major(root.st_dev) << 20) | minor(root.st_dev);
        skel->rodata->rules_root_ino = root.st_ino;
    }
    size_t count = 0;
    struct bpf_program* prog;
    bpf_object__for_each_program(prog, skel->obj) count++;
    // FNW_VERIFIER_LOG=2: every instruction's state (name the programs: 256 MiB of log each).
    const char* log_env = getenv("FNW_VERIFIER_LOG");
    const int log_level = log_env ? (atoi(log_env) >= 2 ? 2 : 1) | 4 : 4;
    const size_t log_size = log_level & 2 ? (size_t)1 << 28 : log_level & 1 ? (size_t)1 << 20 : 4096;
    char** logs = calloc(count, sizeof(*logs));
    struct row* rows = calloc(count, sizeof(*rows));
    if (!logs || !rows) return 1;
    size_t i = 0;
    bpf_object__for_each_program(prog, skel->obj) {
        const char* section = bpf_program__section_name(prog);
        if (!lsm && strncmp(section, "lsm", 3) == 0) bpf_program__set_autoload(prog, false);
        int wanted = only_count == 0;
        for (int k = 0; k < only_count; k++) wanted |= strcmp(only[k], bpf_program__name(prog)) == 0;
        if (!wanted) bpf_program__set_autoload(prog, false);
        if (wanted) {
            logs[i] = calloc(1, log_size);
            if (!logs[i]) return 1;
            bpf_program__set_log_buf(prog, logs[i], log_size);
            bpf_program__set_log_level(prog, log_level);
        }
        i++;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int err = fnwarden_bpf__load(skel);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (err) {
        fprintf(stderr, "load failed: %s\n", strerror(-err));
        i = 0;
        bpf_object__for_each_program(prog, skel->obj) {
            const char* log = logs[i++];
            if (log && *log)
                fprintf(stderr, "%s:\n%s\n", bpf_program__name(prog), log);
        }
        return 1;
    }
    size_t n = 0;
    i = 0;
    bpf_object__for_each_program(prog, skel->obj) {
        const char* log = logs[i++];
        if (!bpf_program__autoload(prog) || !log) continue;
        rows[n++] = (struct row){bpf_program__name(prog), bpf_program__section_name(prog),
                                 field(log, "verification time "), field(log, "processed "),
                                 field(log, "total_states "), field(log, "peak_states ")};
    }
    qsort(rows, n, sizeof(*rows), by_usec);
    long usec = 0, insns = 0;
    printf("%-32s %-34s %9s %9s %7s %6s\n", "program", "section", "usec", "insns", "states", "peak");
    for (i = 0; i < n; i++) {
        printf("%-32s %-34s %9ld %9ld %7ld %6ld\n", rows[i].name, rows[i].section, rows[i].usec, rows[i].insns,
               rows[i].states, rows[i].peak);
        usec += rows[i].usec;
        insns += rows[i].insns;
    }
    printf("%zu programs: verification %ld ms, %ld insns processed; object load (wall) %ld ms\n", n, usec / 1000,
           insns, (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
    if (log_level & 3) {
        i = 0;
        bpf_object__for_each_program(prog, skel->obj) {
            const char* log = logs[i++];
            if (log && bpf_program__autoload(prog)) fprintf(stderr, "%s:\n%s\n", bpf_program__name(prog), log);
        }
    }
    fnwarden_bpf__destroy(skel);
    return 0;
}
