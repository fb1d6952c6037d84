# SPDX-License-Identifier: Apache-2.0
# Helpers shared by the e2e scripts (sourced, not run). Every check either
# passes or fails by name; a script ends with `finish NAME`, which prints
# "NAME: N failure(s)" and returns non-zero on any failure.
# shellcheck shell=bash

failures=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# check NAME COMMAND...: pass when COMMAND succeeds.
check() {
  local name=$1; shift
  if "$@"; then pass "$name"; else fail "$name"; fi
}
expect_eq() { # what expected actual
  if [[ "$2" == "$3" ]]; then pass "$1"; else fail "$1: expected '$2', got '$3'"; fi
}
finish() { # name
  echo "$1: $failures failure(s)"
  ((failures == 0))
}

# Exits 77 (skip) when not root, or fails when FNW_REQUIRE_BPF=1.
require_root() {
  [[ $(id -u) -eq 0 ]] && return 0
  [[ ${FNW_REQUIRE_BPF:-0} == 1 ]] && { echo "FAIL: FNW_REQUIRE_BPF=1 but not root"; exit 1; }
  echo "SKIP: needs root"; exit 77
}

# Exits 77 (skip) without runc, or fails when FNW_REQUIRE_BPF=1.
require_runc() {
  command -v runc >/dev/null && return 0
  [[ ${FNW_REQUIRE_BPF:-0} == 1 ]] && { echo "FAIL: runc missing (packaging/deps/install-debian.sh installs it)"; exit 1; }
  echo "SKIP: no runc"; exit 77
}

# eventually SECONDS COMMAND...: re-runs COMMAND (a command or a function,
# evaluated afresh each time) until it succeeds or SECONDS pass. This is a
# bound on a condition, not a delay: it returns as soon as the condition holds.
eventually() {
  local deadline=$((SECONDS + $1)); shift
  while ((SECONDS < deadline)); do
    "$@" && return 0
    sleep 0.1
  done
  "$@"
}

is_uint() { [[ ${1:-} =~ ^[0-9]+$ ]]; }

# cgroup2_mount: where the cgroup v2 hierarchy is mounted (/sys/fs/cgroup, or
# /sys/fs/cgroup/unified on a hybrid host). Prints nothing if there is none.
cgroup2_mount() { awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts; }

# require_bpffs: a bpf filesystem at /sys/fs/bpf, mounted where missing (as
# the daemon does on a minimal machine); skips the test without one (exit
# 77), or fails it under FNW_REQUIRE_BPF=1.
require_bpffs() {
  [[ $(stat -f -c %T /sys/fs/bpf 2>/dev/null) == bpf_fs ]] || mount -t bpf -o mode=0700 bpf /sys/fs/bpf 2>/dev/null
  [[ $(stat -f -c %T /sys/fs/bpf 2>/dev/null) == bpf_fs ]] && return 0
  [[ ${FNW_REQUIRE_BPF:-0} == 1 ]] && { echo "FAIL: /sys/fs/bpf is not a bpf filesystem"; exit 1; }
  echo "SKIP: no bpffs at /sys/fs/bpf"; exit 77
}

# errno_in CGROUP STEP: the caller's $workload running STEP (e.g.
# udp4:127.0.0.1:9) in a process put in CGROUP; prints the errno it left
# (0: the call succeeded, 1: EPERM).
errno_in() {
  bash -c 'echo $$ >"$1/cgroup.procs" && exec "$2" "$3" exit-errno' _ "$1" "$workload" "$2"
  echo $?
}

# use_work_dir: $work, a fresh temporary directory, and $pids, the background
# processes start_daemon (or the caller) adds; at exit every one of them is
# killed and reaped and $work removed.
use_work_dir() {
  work=$(mktemp -d)
  pids=()
  trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done; rm -rf "$work"' EXIT
}

# runc_test_setup NAME: what the runc e2e scripts share. Sets $work (a
# fresh directory), $cg2 (where cgroup2 is mounted) and $parent (a cgroup
# name of this run's own, fnwtest-NAME-PID-N, not made yet), and empty
# $containers, $mounted and $daemon for the script to fill. At exit, from
# the script's own shell only (a subshell's exit runs the trap too): every
# container in $containers deleted, the daemon killed and reaped, every
# mount in $mounted undone (the last first: a mount on top of another),
# $parent's cgroups removed and $work deleted.
runc_test_setup() {
  work=$(mktemp -d)
  cg2=$(findmnt -t cgroup2 -n -o TARGET | head -1)
  parent=fnwtest-$1-$$-$RANDOM
  containers=()
  mounted=()
  daemon=
  runc_test_shell=$BASHPID
  trap runc_test_cleanup EXIT
}
runc_test_cleanup() {
  [[ $BASHPID == "$runc_test_shell" ]] || return 0
  local c i
  for c in "${containers[@]}"; do runc delete -f "$c" >/dev/null 2>&1; done
  [[ -n $daemon ]] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" 2>/dev/null; done
  [[ -d $cg2/$parent ]] && find "$cg2/$parent" -depth -type d -exec rmdir {} + 2>/dev/null
  rm -rf "$work"
}

# start_daemon LOG SOCKET ARGS...: `$fnw daemon --socket SOCKET ARGS...` in the
# background, its output in LOG; adds it to the caller's `pids`, sets
# daemon_pid, and waits up to 20 s for the socket. A daemon that does not
# come up fails the test, which ends there (its log says why). Not pinned,
# unless the caller sets pin_root (a pin root of the test's own).
start_daemon() {
  local log=$1 sock=$2
  shift 2
  "$fnw" daemon --socket "$sock" --pin-root "${pin_root:-none}" "$@" >"$log" 2>&1 &
  daemon_pid=$!
  pids+=("$daemon_pid")
  if eventually $((20 * ${FNW_TEST_SLOWDOWN:-1})) test -S "$sock"; then pass "daemon is listening"; else
    fail "daemon did not start: $(cat "$log")"
    exit 1
  fi
}

# count_matching FILE PATTERN...: lines of FILE that contain every fixed
# string PATTERN; prints 0 for none, fails (prints nothing) if FILE is unreadable.
count_matching() {
  local file=$1; shift
  [[ -r $file ]] || return 1
  local n
  n=$(awk -v n="$#" 'BEGIN { for (i = 1; i <= n; ++i) p[i] = ARGV[i]; ARGC = 1 }
    { for (i = 1; i <= n; ++i) if (index($0, p[i]) == 0) next; ++c } END { print c + 0 }' "$@" <"$file") || return 1
  echo "$n"
}

# count_reported FILE PATTERN...: like count_matching, but a violation_summary
# line (repeats the kernel counted instead of reporting each) counts for its
# "repeats": every reported occurrence, whichever way it was reported.
count_reported() {
  local file=$1; shift
  [[ -r $file ]] || return 1
  awk -v n="$#" 'BEGIN { for (i = 1; i <= n; ++i) p[i] = ARGV[i]; ARGC = 1 }
    { for (i = 1; i <= n; ++i) if (index($0, p[i]) == 0) next
      if (index($0, "\"type\":\"violation_summary\"") && match($0, /"repeats":[0-9]+/))
        c += substr($0, RSTART + 10, RLENGTH - 10)
      else ++c }
    END { print c + 0 }' "$@" <"$file"
}

# more_than N FILE PATTERN...: FILE now has more than N such lines (re-read each call).
more_than() {
  local n=$1 c; shift
  c=$(count_matching "$@") && ((c > n))
}

# The bpftool to inspect the kernel with: $FNW_BPFTOOL, PATH, the sbin
# directories, or the one the build used (FNW_BPFTOOL in the CMake cache of
# BUILD_DIR, cmake/BpfObject.cmake). Prints nothing and fails if none.
find_bpftool() { # [BUILD_DIR]
  local c
  for c in "${FNW_BPFTOOL:-}" "$(command -v bpftool 2>/dev/null)" /usr/sbin/bpftool /usr/local/sbin/bpftool; do
    [[ -n $c && -x $c ]] && { echo "$c"; return 0; }
  done
  if [[ -n ${1:-} && -r $1/CMakeCache.txt ]]; then
    c=$(sed -n 's/^FNW_BPFTOOL:[A-Z]*=//p' "$1/CMakeCache.txt" | head -1)
    [[ -n $c && -x $c ]] && { echo "$c"; return 0; }
  fi
  return 1
}

# overlay_bundle DIR LOWER CGROUP ANNOTATION SCRIPT [SRC:DST...]: an OCI
# bundle in DIR for runc, its root an overlayfs over LOWER (upper and work
# in DIR, mounted at DIR/rootfs and added to the caller's `mounted` array
# to unmount), running `sh -c SCRIPT` as root in cgroup CGROUP, with the
# host's /usr and each SRC bound read-only at DST, and the annotation
# fnwarden.io/function=ANNOTATION unless it is "".
overlay_bundle() {
  local dir=$1 lower=$2 cgroup=$3 annotation=$4 script=$5
  shift 5
  mkdir -p "$dir"/{upper,work,rootfs}
  mount -t overlay overlay -o "lowerdir=$lower,upperdir=$dir/upper,workdir=$dir/work" "$dir/rootfs" ||
    { fail "overlay mount failed"; exit 1; }
  mounted+=("$dir/rootfs")
  python3 - "$dir/config.json" "$annotation" "$script" "$cgroup" "$@" <<'PY'
import json, sys
path, annotation, script, cgroup = sys.argv[1:5]
binds = [{"destination": dst, "type": "bind", "source": src, "options": ["rbind", "ro"]}
         for src, dst in (b.split(":", 1) for b in sys.argv[5:])]
config = {
  "ociVersion": "1.0.2",
  "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": ["sh", "-c", script],
              "env": ["PATH=/usr/bin:/bin"], "cwd": "/", "noNewPrivileges": True},
  "root": {"path": "rootfs"},
  "hostname": "fnwtest",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755", "size=65536k"]},
    {"destination": "/usr", "type": "bind", "source": "/usr", "options": ["rbind", "ro"]},
  ] + binds,
  "linux": {"cgroupsPath": cgroup,
            "namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount", "network")]},
}
if annotation:
  config["annotations"] = {"fnwarden.io/function": annotation}
json.dump(config, open(path, "w"), indent=1)
PY
}
