#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Audit predicts enforce (issue 18): every function of cases.txt runs in audit
# and in enforce mode, launched (`fnwarden run`: Landlock, seccomp, probes)
# and watched (found by the daemon through a `cgroupPath` selector: probes
# and cgroup hooks only). One daemon (enforce ceiling) serves every case:
# each (function, placement, mode) has its own policy, whose mode applies. Per function and placement the
# set of (rule, canonical target) violations must be the same in both modes
# and equal the set the case names; benign functions have none. A case whose
# steps print "used" after the forbidden operation checks the outcome too
# (issue 21): in audit the function gets to use the result, in enforce it
# never does, launched or watched, whatever the shape of its rules
# (directories, single files, globs, several mounts). Prints a results table. Needs root (BPF, cgroups) and jq (packaging/deps).
# usage: differential_test.sh FNWARDEN SOURCE_DIR WORKLOAD
# (WORKLOAD: tests/helpers/workload.cpp; FNW_DIFF_ONLY=REGEX runs the cases
# whose name matches, FNW_DIFF_KEEP=1 keeps the work directory; for debugging)
set -u
fnw=$(realpath "$1")
src=$(realpath "$2")
workload=$(realpath "$3")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib.sh
source "$here/../lib.sh"
require_root
require_bpffs
command -v jq >/dev/null || { echo "FAIL: jq is missing (packaging/deps/install-debian.sh installs it)"; exit 1; }

work=$(realpath "$(mktemp -d /tmp/fnwdiff.XXXXXX)")
chmod 755 "$work"
cg2=$(cgroup2_mount)
cgbase=fnwdiff-$$-$RANDOM
sock=$work/daemon.sock
watched_out=$work/watched.jsonl
pids=()
made_cgroups=()
main_shell=$BASHPID
cleanup() {
  [[ $BASHPID == "$main_shell" ]] || return 0
  local p i
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  # A function killed mid-case can leave a child behind (p-ptrace in
  # enforce: the tracee it never got to kill): end them, then remove.
  for ((i = ${#made_cgroups[@]} - 1; i >= 0; i--)); do
    echo 1 >"${made_cgroups[i]}/cgroup.kill" 2>/dev/null
    eventually 5 grep -q 'populated 0' "${made_cgroups[i]}/cgroup.events"
    rmdir "${made_cgroups[i]}" 2>/dev/null || echo "FAIL: cgroup ${made_cgroups[i]} left behind"
  done
  [[ -n ${mnt:-} ]] && umount "$mnt" 2>/dev/null
  rm -rf "$ldx_dir"
  [[ ${FNW_DIFF_KEEP:-0} == 1 ]] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

# Ports: a random block, so that runs on one machine do not collide.
port_bad=$((20000 + RANDOM % 20000))
port_ok=$((port_bad + 1))
listen_ok=$((port_bad + 2))
interp=$(realpath "$(ldd "$workload" | awk '$1 ~ /^\/.*ld-linux/ { print $1; exit }')")
lib_src=$(ldd "$workload" | awk '$1 ~ /^liburing/ { print $3; exit }')
lib_name=$(basename "$lib_src")
[[ -x $interp && -r $lib_src ]] || { echo "FAIL: cannot find the workload's interpreter or liburing"; exit 1; }
# A second ELF interpreter, outside every rule (a short path: it replaces
# /lib64/ld-linux-x86-64.so.2 inside a copy of /usr/bin/true, see make_fixture).
ldx_dir=$(mktemp -d /tmp/fnwld.XXXXXX)
# A second mount for the `mounts` rule shape.
mnt=$ldx_dir/mnt
mkdir "$mnt" && mount -t tmpfs -o size=1m fnwdiff "$mnt" || { echo "FAIL: cannot mount a tmpfs"; exit 1; }
ldx=$ldx_dir/ld.so
cp "$interp" "$ldx"
pt_interp=/lib64/ld-linux-x86-64.so.2
pt_offset=$(grep -obUaF "$pt_interp" /usr/bin/true | head -1 | cut -d: -f1)
# u OFFSET BYTES: an unsigned little-endian field of /usr/bin/true.
u() { od -An -t "u$2" -j "$1" -N "$2" /usr/bin/true | tr -d ' '; }
# The PT_INTERP program header's p_filesz (the name's length with its NUL).
ph_off=$(u 32 8) ph_num=$(u 56 2) filesz_offset=
for ((k = 0; k < ph_num; k++)); do
  (($(u $((ph_off + k * 56)) 4) == 3)) && filesz_offset=$((ph_off + k * 56 + 32))
done
is_uint "$pt_offset" && is_uint "$filesz_offset" && ((${#ldx} <= ${#pt_interp})) ||
  { echo "FAIL: cannot patch /usr/bin/true's PT_INTERP"; exit 1; }

# What the workload, its loader and bash's exec need, for the `sys` variant:
# everything else is a violation (getpgid, io_uring_setup, ...).
base_syscalls="read write openat close fstat newfstatat mmap mprotect munmap brk pread64 access execve
  arch_prctl set_tid_address set_robust_list rseq prlimit64 getrandom futex exit_group exit
  rt_sigaction rt_sigprocmask rt_sigreturn getppid clone clone3 wait4 chdir lseek readlink fcntl dup2"

# --- the case list ---------------------------------------------------------------
names=() variants=() expects=() steps=()
trim() { local t=${1#"${1%%[! ]*}"}; echo "${t%"${t##*[! ]}"}"; }
while IFS='|' read -r name variant expect step; do
  name=$(trim "$name")
  [[ -z $name || $name == \#* ]] && continue
  [[ -n ${FNW_DIFF_ONLY:-} && ! $name =~ $FNW_DIFF_ONLY ]] && continue
  names+=("$name")
  variants+=("$(trim "$variant")")
  expects+=("$(trim "$expect")")
  steps+=("$(trim "$step")")
done <"$here/cases.txt"
echo "${#names[@]} functions, 2 placements, 2 modes"

# subst TEXT DIR: the tokens of cases.txt replaced (@D by DIR).
subst() {
  local t=$1
  t=${t//@D/$2}; t=${t//@PB/$port_bad}; t=${t//@PO/$port_ok}; t=${t//@LO/$listen_ok}
  t=${t//@S/$sock}; t=${t//@LDX/$ldx}; t=${t//@LD/$interp}; t=${t//@LIB/$lib_name}
  echo "$t"
}

# make_fixture DIR: the files a function is allowed or refused.
make_fixture() {
  local d=$1
  mkdir -p "$d/ok" "$d/ro" "$d/secret" "$d/bin" "$d/libs"
  echo data >"$d/ok/a"; echo data >"$d/ro/a"; echo data >"$d/ro/b"; echo secret >"$d/secret/a"
  echo data >"$d/secret/allowed"
  ln -s "$d/secret/a" "$d/ok/link"
  cp /usr/bin/true "$d/bin/true"
  cp /usr/bin/true "$d/bin/true-ldx"
  { printf '%s' "$ldx"; head -c $((${#pt_interp} + 1 - ${#ldx})) /dev/zero; } |
    dd of="$d/bin/true-ldx" bs=1 seek="$pt_offset" conv=notrunc status=none
  # One NUL-terminated name, as a linker writes it (the kernel would also
  # take a padded one; fnwarden's reader refuses NULs inside p_filesz).
  printf "\\x$(printf %02x $((${#ldx} + 1)))" | cat - <(head -c 7 /dev/zero) |
    dd of="$d/bin/true-ldx" bs=1 seek="$filesz_offset" conv=notrunc status=none
  printf '#!/bin/sh\nexit 0\n' >"$d/ok/script.sh"
  chmod 755 "$d/ok/script.sh"
  cp "$lib_src" "$d/libs/$lib_name"
}

# write_policy FILE NAME MODE VARIANTS DIR SELECTOR
write_policy() {
  local file=$1 name=$2 mode=$3 variant=$4 d=$5 selector=$6 extra_exec="" s
  [[ ,$variant, == *,xtrue,* ]] && extra_exec+=", /usr/bin/true"
  [[ ,$variant, == *,xdash,* ]] && extra_exec+=", /usr/bin/dash"
  [[ ,$variant, == *,xscript,* ]] && extra_exec+=", \"$d/ok/script.sh\""
  [[ ,$variant, == *,xldx,* ]] && extra_exec+=", \"$d/bin/true-ldx\""
  local extra_read=""
  [[ ,$variant, == *,ldxread,* ]] && extra_read=", \"$ldx_dir/**\""
  local exec_allow="\"$workload\"$extra_exec"
  # A glob names no one file: its interpreter cannot be implied.
  [[ ,$variant, == *,xglob,* ]] && exec_allow="\"$d/bin/*\", \"$workload\""
  # Rule shapes (issue 21): the fixture's rules as directories (default),
  # as single files beside the forbidden ones, as globs only fnwarden can
  # match, or with rules on a second mount.
  local read_fixture="\"$d/ok/**\", \"$d/ro/**\"" ok_rule="\"$d/ok/**\"" extra_ok=""
  if [[ ,$variant, == *,single,* ]]; then
    read_fixture="\"$d/ok/**\", \"$d/ro/a\", \"$d/ro/b\", \"$d/secret/allowed\""
    extra_ok=", \"$d/ro/b\", \"$d/secret/allowed\""
  elif [[ ,$variant, == *,glob,* ]]; then
    read_fixture="\"$d/ok/*\", \"$d/ro/*\""
    ok_rule="\"$d/ok/*\""
  elif [[ ,$variant, == *,mounts,* ]]; then
    read_fixture+=", \"$mnt/**\""
    extra_ok=", \"$mnt/**\""
  fi
  {
    echo "apiVersion: fnwarden.io/v1"
    echo "kind: FunctionPolicy"
    echo "metadata: {name: $name}"
    echo "spec:"
    echo "  selector: $selector"
    echo "  mode: $mode"
    echo "  files:"
    echo "    read: [/usr/**, /etc/**, /proc/**, /sys/**, /dev/**, $read_fixture, \"$d/bin/**\", \"$(dirname "$workload")/**\"$extra_read]"
    echo "    write: [$ok_rule$extra_ok, /dev/null]"
    echo "    create: [$ok_rule$extra_ok]"
    echo "    delete: [$ok_rule$extra_ok]"
    echo "    onViolation: deny"
    echo "  exec:"
    echo "    allow: [$exec_allow]"
    echo "    onViolation: deny"
    echo "  network:"
    echo "    egress: [{cidr: 127.0.0.1, ports: [$port_ok], protocol: tcp}]"
    echo "    listen: [{port: $listen_ok, protocol: tcp}]"
    echo "    unix: [\"$d/ok.sock\"]"
    echo "    onViolation: deny"
    echo "  process: {ptrace: false, bpf: false, execMemory: false, onViolation: deny}"
    if [[ ,$variant, == *,sys,* || ,$variant, == *,uring,* ]]; then
      echo "  syscalls:"
      echo "    allow:"
      for s in $base_syscalls; do echo "      - $s"; done
      [[ ,$variant, == *,uring,* ]] && printf '      - %s\n' io_uring_setup io_uring_enter socket connect
      [[ ,$variant, == *,sys,* && ,$variant, == *,enter,* ]] && echo "      - io_uring_enter"
      echo "    onViolation: deny"
    fi
  } >"$file"
}

# --- fixtures and policies for every (placement, function, mode) ---------------------
mkdir -p "$work/rules"
cp "$src/rules/baseline.yaml" "$work/rules/baseline.yaml"
mkdir "$cg2/$cgbase" && made_cgroups+=("$cg2/$cgbase") || { echo "FAIL: cannot create cgroup $cgbase"; exit 1; }
for i in "${!names[@]}"; do
  for mode in audit enforce; do
    n=${names[i]}-$mode
    make_fixture "$work/l-$n"
    write_policy "$work/rules/l-$n.yaml" "l-$n" "$mode" "${variants[i]}" "$work/l-$n" "{function: l-$n}"
    make_fixture "$work/w-$n"
    write_policy "$work/rules/w-$n.yaml" "w-$n" "$mode" "${variants[i]}" "$work/w-$n" \
      "{function: w-$n, cgroupPath: '$cgbase/$n'}"
    mkdir "$cg2/$cgbase/$n" && made_cgroups+=("$cg2/$cgbase/$n")
  done
done
# The fence: a watched function whose event, read last, says the daemon has
# written everything the cases before it caused.
write_policy "$work/rules/fence.yaml" w-fence audit sys "$work/fence" "{function: w-fence, cgroupPath: '$cgbase/fence'}"
mkdir "$cg2/$cgbase/fence" && made_cgroups+=("$cg2/$cgbase/fence")

# --- the daemon: enforce ceiling, each policy's own mode applies --------------------
start_daemon "$work/daemon.log" "$sock" --rules "$work/rules" --output "$watched_out" --metrics off --mode enforce
expected_cgroups=$((2 * ${#names[@]} + 1))
found_all() {
  local n
  n=$("$fnw" status --socket "$sock" -o json 2>/dev/null | grep -c "\"path\": \"$cgbase/")
  ((n >= expected_cgroups))
}
eventually 20 found_all || { fail "the daemon did not find every cgroup: $(tail -5 "$work/daemon.log")"; exit 1; }

# run_watched NAME MODE: the function as a process the daemon never launched.
run_watched() {
  local i=$1 mode=$2 n=${names[$1]}-$2 d
  d=$work/w-$n
  local -a env_args=() argv
  read -r -a argv <<<"$(subst "${steps[i]}" "$d")"
  [[ ,${variants[i]}, == *,ldpath,* ]] && env_args=("LD_LIBRARY_PATH=$d/libs")
  (cd "$d" && env "${env_args[@]}" bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ \
    "$cg2/$cgbase/$n" "$workload" "${argv[@]}") >"$d.out" 2>&1
}
# run_launched NAME MODE: `fnwarden run` under the daemon (Landlock and
# seccomp from the launcher, the daemon's policy and outputs). Standalone
# runs load the probes each time: 20 s apiece on this machine.
run_launched() {
  local i=$1 mode=$2 n=${names[$1]}-$2 d
  d=$work/l-$n
  local -a env_args=() argv
  read -r -a argv <<<"$(subst "${steps[i]}" "$d")"
  [[ ,${variants[i]}, == *,ldpath,* ]] && env_args=("LD_LIBRARY_PATH=$d/libs")
  (cd "$d" && env "${env_args[@]}" "$fnw" run --socket "$sock" --function "l-$n" -- "$workload" "${argv[@]}") \
    >"$d.out" 2>&1
}

# in_parallel MAX FUNCTION: FUNCTION i mode for every function and mode, at
# most MAX at once. Each has its own directory, cgroup and policy: no two
# can collide (the ports are only connected to, or bound by one case).
in_parallel() {
  local max=$1 fn=$2 i mode running=()
  for i in "${!names[@]}"; do
    for mode in audit enforce; do
      if ((${#running[@]} >= max)); then
        wait "${running[0]}"
        running=("${running[@]:1}")
      fi
      "$fn" "$i" "$mode" &
      running+=($!)
    done
  done
  wait "${running[@]}"
}
t0=$SECONDS
in_parallel 8 run_watched
echo "watched: $((SECONDS - t0)) s"
t0=$SECONDS
in_parallel "${FNW_DIFF_JOBS:-4}" run_launched
echo "launched: $((SECONDS - t0)) s"
# Fence: every earlier record is in the ring before this one's.
(bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$cg2/$cgbase/fence" "$workload" getpgid) >/dev/null 2>&1
eventually 20 more_than 0 "$watched_out" '"function":"w-fence"' || fail "the fence's event never came"

# violations FILE DIR FUNCTION: the function's (rule, target) set, sorted,
# one per line, with DIR written as @D.
violations() {
  local filter="select(.function == \"$3\")"
  jq -c "$filter" "$1" | jq -r -f "$here/digest.jq" | sed "s#$2#@D#g" | sort -u
}
show() { # a set on one line, for the table
  local s
  s=$(echo "$1" | sed "s#$sock#@S#g; s#$ldx#@LDX#g; s#$interp#@LD#g" | paste -sd ';')
  echo "${s:--}"
}

results=$work/results
printf '%-14s %-9s %-6s %-44s %-44s %s\n' CASE PLACEMENT RESULT AUDIT ENFORCE EXPECTED >"$results"
for i in "${!names[@]}"; do
  want=$(subst "${expects[i]}" @D | tr ';' '\n' | sed 's/^ *//; s/ *$//' | grep -v '^-$' | sort -u)
  for placement in launched watched; do
    p=${placement:0:1}
    audit=$(violations "$watched_out" "$work/$p-${names[i]}-audit" "$p-${names[i]}-audit")
    enforce=$(violations "$watched_out" "$work/$p-${names[i]}-enforce" "$p-${names[i]}-enforce")
    outcome=
    if [[ ${steps[i]} == *print:used* ]]; then
      # The forbidden operation's result: used in audit, never in enforce.
      grep -q '^used$' "$work/$p-${names[i]}-audit.out" || outcome="audit never used the result"
      grep -q '^used$' "$work/$p-${names[i]}-enforce.out" && outcome="enforce used the result"
    fi
    if [[ $audit == "$enforce" && $audit == "$want" && -z $outcome ]]; then verdict=pass; else verdict=FAIL; fi
    printf '%-14s %-9s %-6s %-44s %-44s %s\n' "${names[i]}" "$placement" "$verdict" "$(show "$audit")" \
      "$(show "$enforce")" "$(show "$want")" >>"$results"
    if [[ $verdict == pass ]]; then pass "${names[i]} $placement"; else
      fail "${names[i]} $placement: audit {$(show "$audit")} enforce {$(show "$enforce")} expected {$(show "$want")} ${outcome}"
    fi
  done
done
echo
echo "@D: the function's own fixture directory; @S: $sock; @LD: $interp; @LDX: $ldx"
cat "$results"
echo
finish e2e.differential
