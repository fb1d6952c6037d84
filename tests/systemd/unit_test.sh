#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The packaged unit under a real systemd: a Debian 12 root file system made
# by mmdebstrap, booted by `systemd-nspawn --boot`, the project's .deb
# installed in it with dpkg, then driven with systemctl and journalctl:
#   - `systemctl start fnwarden` returns only once `fnwarden status` answers
#     (Type=notify, READY=1 after the socket and the probes);
#   - a bad rules file leaves the unit active, reporting the errors, and the
#     set is applied once it is fixed (inotify, and SIGHUP via
#     `systemctl reload`);
#   - `journalctl -p warning -u fnwarden` shows the warnings and errors and
#     nothing below them (the "<N>" prefix, daemon/journal_priority.hpp).
#
# usage: unit_test.sh BUILD_DIR SRC_DIR CACHE_DIR
#   BUILD_DIR  holds the fnwarden binary (RelWithDebInfo tree); the .deb is
#              made from it by packaging/deb/build-deb.sh
#   CACHE_DIR  the root file system tarball, made once per package list
#              (mmdebstrap downloads from deb.debian.org, or
#              $FNW_SYSTEMD_MIRROR)
# Needs root, mmdebstrap and systemd-container (packaging/deps/install-debian.sh).
# docs/development.md ("The unit under systemd") says how to run it.
set -u
build_dir=$(realpath "$1")
src=$(realpath "$2")
cache=$3
skip=77
# shellcheck source=../e2e/lib.sh
source "$src/tests/e2e/lib.sh"
require_root
for tool in mmdebstrap systemd-nspawn nsenter dpkg-deb; do
  if ! command -v "$tool" >/dev/null; then
    [[ ${FNW_REQUIRE_BPF:-0} == 1 ]] && { echo "FAIL: $tool missing (packaging/deps/install-debian.sh installs it)"; exit 1; }
    echo "SKIP: no $tool (packaging/deps/install-debian.sh installs it)"; exit $skip
  fi
done
[[ -x $build_dir/fnwarden ]] || { echo "FAIL: $build_dir/fnwarden not built"; exit 1; }

work=$(mktemp -d /var/tmp/fnw-systemd-test.XXXXXX)
rootfs=$work/rootfs
machine=fnw-unit-$$
main_shell=$BASHPID
nspawn_pid=
leader=
cleanup() {
  [[ $BASHPID == "$main_shell" ]] || return 0
  if [[ -n $nspawn_pid ]] && kill -0 "$nspawn_pid" 2>/dev/null; then
    [[ -n $leader ]] && in_container systemctl poweroff >/dev/null 2>&1
    # SIGRTMIN+3 to the container's systemd is a poweroff too; the kill
    # is for a container that hangs on the way down.
    eventually 30 bash -c "! kill -0 $nspawn_pid 2>/dev/null" || kill -KILL "$nspawn_pid" 2>/dev/null
    wait "$nspawn_pid" 2>/dev/null
  fi
  # nspawn leaves this (empty) directory behind when the container was killed.
  rmdir "/run/systemd/nspawn/propagate/$machine" 2>/dev/null
  # The container's own bpffs: unmounting it drops every pin, so the
  # daemon's programs go with it.
  mountpoint -q "$work/bpffs" && umount "$work/bpffs"
  rm -rf "$work"
}
trap cleanup EXIT

# in_container COMMAND...: COMMAND in every namespace of the booted
# container (as its root user, with its root directory), with a clean
# environment: what an admin typing in it would run.
in_container() {
  nsenter --target "$leader" --all --root --wd \
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 SYSTEMD_PAGER= SYSTEMD_COLORS=0 "$@"
}

# --- the .deb, and a root file system with its dependencies ------------------------------
t0=$SECONDS
deb=$(bash "$src/packaging/deb/build-deb.sh" "$work/deb" "$build_dir") || { echo "FAIL: build-deb.sh"; exit 1; }
# Depends of the package, as names (versions and alternatives left out): the
# cached root file system has them, so dpkg -i needs no network.
depends=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed -E 's/\|.*//; s/\(.*\)//; s/[[:space:]]//g' | grep . | sort -u)
# systemd-sysv: /sbin/init for --boot; dbus: systemctl and journalctl as on
# any Debian host.
# shellcheck disable=SC2086 # one word per package
packages=$(printf '%s\n' systemd systemd-sysv dbus $depends | sort -u | paste -sd, -)
mirror=${FNW_SYSTEMD_MIRROR:-http://deb.debian.org/debian}
# Bump the recipe number when the mmdebstrap call below changes.
key=$(printf 'recipe 1\nbookworm minbase %s\n%s\n' "$mirror" "$packages" | sha256sum | cut -c1-16)
tarball=$cache/rootfs-bookworm-$key.tar
mkdir -p "$cache"
if [[ ! -s $tarball ]]; then
  echo "building the root file system (mmdebstrap bookworm: $packages)"
  if ! mmdebstrap --variant=minbase --format=tar --include="$packages" bookworm "$tarball.partial" "$mirror" >"$work/mmdebstrap.log" 2>&1; then
    tail -20 "$work/mmdebstrap.log"
    echo "FAIL: mmdebstrap (network? set FNW_SYSTEMD_MIRROR)"
    rm -f "$tarball.partial"
    exit 1
  fi
  # Only the newest: an old package list is never used again.
  find "$cache" -maxdepth 1 -name 'rootfs-bookworm-*.tar' ! -name "${tarball##*/}" -delete
  mv "$tarball.partial" "$tarball"
fi
mkdir "$rootfs"
tar -C "$rootfs" -xf "$tarball" || { echo "FAIL: cannot unpack $tarball"; exit 1; }
cp "$deb" "$rootfs/root/fnwarden.deb"
echo "root file system ready in $((SECONDS - t0)) s"

# --- boot --------------------------------------------------------------------------------
# --register=no --keep-unit: no machined or host systemd is needed (PID 1
# of this machine is not systemd). The capabilities the unit keeps
# (CapabilityBoundingSet=) must be in the container's bounding set first:
# nspawn's default lacks CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN, and its
# seccomp filter refuses bpf(2) and perf_event_open(2) (EPERM).
# --private-network: the unit's metrics port (127.0.0.1:9464) is the
# container's own. SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1: cgroup2 at
# /sys/fs/cgroup in the container even on a hybrid host, as the unit
# expects (ExecStartPre= makes /sys/fs/cgroup/fnwarden).
# nspawn's /sys has no bpffs: the container gets a bpffs instance of its
# own at /sys/fs/bpf, so the unit's pinned probes (pinRoot) are the
# container's alone and go when the test unmounts it.
mkdir -p "$work/bpffs"
mount -t bpf bpf "$work/bpffs" || { echo "FAIL: cannot mount a bpffs for the container"; exit 1; }
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 systemd-nspawn --quiet --boot --directory="$rootfs" --machine="$machine" \
  --register=no --keep-unit --private-network --console=pipe --bind="$work/bpffs:/sys/fs/bpf" \
  --capability=CAP_BPF,CAP_PERFMON,CAP_NET_ADMIN --system-call-filter='bpf perf_event_open' \
  >"$work/console.log" 2>&1 </dev/null &
nspawn_pid=$!
find_leader() {
  leader=$(ps -o pid=,comm= --ppid "$nspawn_pid" | awk '$2 == "systemd" { print $1; exit }')
  [[ -n $leader ]]
}
if ! eventually 30 find_leader; then
  cat "$work/console.log"
  echo "FAIL: the container did not boot"; exit 1
fi
# systemctl fails at once ("Failed to connect to bus") until the
# container's systemd listens; then --wait returns when boot is done.
booted() {
  state=$(in_container timeout 120 systemctl is-system-running --wait 2>/dev/null)
  [[ $state == running || $state == degraded ]]
}
if ! eventually 60 booted; then
  cat "$work/console.log"; echo "FAIL: system state '$state'"; exit 1
fi
echo "booted in $((SECONDS - t0)) s: $state"

# --- install ---------------------------------------------------------------------------
if in_container dpkg -i /root/fnwarden.deb >"$work/dpkg.log" 2>&1; then pass "dpkg -i installs the .deb"; else
  cat "$work/dpkg.log"; fail "dpkg -i"; exit 1
fi
rules=/etc/fnwarden/rules
# A warning at every load: a dangling link (a ConfigMap update half done).
in_container ln -s /nonexistent/gone.yaml "$rules/gone.yaml"

status_json() { in_container fnwarden status -o json 2>&1; }
# rules_field FIELD: .rules.FIELD of `status` (valid: true/false).
rules_field() { status_json | python3 -c "import json,sys; print(json.dumps(json.load(sys.stdin)['rules']['$1']))" 2>/dev/null; }
policy_version() { status_json | python3 -c "import json,sys; print(json.load(sys.stdin)['policy_set']['version'])" 2>/dev/null; }
unit_prop() { in_container systemctl show -P "$1" fnwarden.service; }
# The metric, read over the container's loopback with bash alone (no curl in it).
rules_valid_metric() {
  in_container bash -c 'exec 3<>/dev/tcp/127.0.0.1/9464 && printf "GET /metrics HTTP/1.0\r\n\r\n" >&3 && cat <&3' |
    awk '$1 == "fnwarden_rules_valid" { print $2 }'
}
rules_valid_is() { [[ $(rules_field valid) == "$1" ]]; }
version_is_not() { local v; v=$(policy_version) && [[ -n $v && $v != "$1" ]]; }
broken_policy='apiVersion: fnwarden.io/v1
kind: FunctionPolicy
metadata: {name: broken}
spec:
  selector: {function: other}
  syscalls:
    allow: [opne]'
write_broken() { in_container bash -c "printf '%s\n' '$broken_policy' >$rules/broken.yaml"; }

# --- Type=notify: start returns once status answers -------------------------------------
t_start=$SECONDS
if in_container timeout 90 systemctl start fnwarden; then pass "systemctl start fnwarden"; else
  in_container journalctl -u fnwarden --no-pager | tail -30
  fail "systemctl start fnwarden"; exit 1
fi
echo "started in $((SECONDS - t_start)) s"
# No retry: the first status right after start must answer.
if out=$(status_json) && [[ $out == *'"type": "status"'* ]]; then pass "status answers as soon as start returns"; else
  fail "status right after start: $out"
fi
expect_eq "Type=notify" notify "$(unit_prop Type)"
expect_eq "the rules are valid" true "$(rules_field valid)"
expect_eq "fnwarden_rules_valid 1" 1 "$(rules_valid_metric)"
first_version=$(policy_version)
# The unit pins its probes under /sys/fs/bpf/fnwarden (the default pinRoot).
link_pins() { stat -c '%n %i' "$work"/bpffs/fnwarden/v*/links/* 2>/dev/null | sort; }
links_before=$(link_pins)
[[ -n $links_before ]] && pass "the unit pinned its probes ($(wc -l <<<"$links_before") links)" ||
  fail "nothing pinned: $(status_json | grep -A3 '"pinned"')"

# --- log priorities reach the journal ---------------------------------------------------
journal() { in_container journalctl --no-pager -o cat -u fnwarden.service "$@"; }
check_journal_warning() { journal -p warning..warning | grep -q 'gone.yaml: symlink to a missing file'; }
if eventually 10 check_journal_warning; then pass "journalctl -p warning shows the warning"; else
  fail "no warning at priority 4: $(journal -o short-precise -p warning | tail -5)"
fi
# Each check below needs the lines it looks at, so an empty journal fails.
warnings=$(journal -p warning)
[[ $warnings == *gone.yaml* && $warnings != *"fnwarden daemon running"* ]] &&
  pass "info lines stay below warning" || fail "journalctl -p warning: $warnings"
journal -p info..info | grep -q 'fnwarden daemon running' && pass "info lines have priority 6" ||
  fail "info line not at priority 6: $(journal -p info | tail -3)"
everything=$(journal)
[[ $everything == *"fnwarden daemon running"* && ! $everything =~ (^|$'\n')\<[0-9]\> ]] &&
  pass "no '<N>' left in the messages" || fail "a '<N>' prefix left in: $(grep '^<' <<<"$everything" | head -3)"

# --- a bad rules file while running: the set in force stays ------------------------------
write_broken
if eventually 10 rules_valid_is false; then pass "status: rules invalid after a broken file"; else
  fail "rules.valid after a broken file: $(rules_field valid)"
fi
expect_eq "the set in force is kept" "$first_version" "$(policy_version)"
expect_eq "fnwarden_rules_valid 0" 0 "$(rules_valid_metric)"
journal -p err..err | grep -q 'broken.yaml:7:' && pass "journalctl -p err shows the rules error" ||
  fail "no error at priority 3: $(journal -p warning | tail -5)"

# --- a bad rules file at start: the unit stays up, and applies the fix -------------------
if in_container timeout 90 systemctl restart fnwarden; then pass "restart with a bad rules file succeeds"; else
  fail "restart with a bad rules file: $(journal | tail -20)"
fi
main_pid=$(unit_prop MainPID)
expect_eq "unit active with a bad rules file" active "$(in_container systemctl is-active fnwarden)"
expect_eq "no automatic restarts" 0 "$(unit_prop NRestarts)"
expect_eq "status: rules invalid at start" false "$(rules_field valid)"
rules_field errors | grep -q 'broken.yaml:7:' && pass "status: rules.errors names the file and line" ||
  fail "rules.errors: $(rules_field errors)"
expect_eq "no policy set in force" "" "$(policy_version)"
run_out=$(in_container fnwarden run --function other -- true 2>&1)
[[ $run_out == *"its rules are invalid"* ]] && pass "run says why there is no policy" || fail "run: $run_out"
journal -p err..err | grep -q 'no policy set is in force' && pass "journal: no set in force, at priority 3" ||
  fail "journal lacks the no-set error: $(journal -p warning | tail -5)"
expect_eq "the same daemon still runs" "$main_pid" "$(unit_prop MainPID)"
# The old set: the restarted daemon adopted the probes the earlier one
# pinned (the same link pins), and, its rules being invalid, applied
# nothing over them: the kernel still enforces what was loaded before.
pinned_field() { status_json | python3 -c "import json,sys; print(json.load(sys.stdin)['pinned']['$1'])" 2>/dev/null; }
expect_eq "the restarted daemon adopted the pinned set" adopted "$(pinned_field origin)"
expect_eq "the same link pins as before the restart" "$links_before" "$(link_pins)"

# Fixed by a change in the directory (inotify, debounced).
in_container rm "$rules/broken.yaml"
if eventually 10 rules_valid_is true; then pass "the fixed rules are applied (inotify)"; else
  fail "rules after the fix: $(rules_field valid) $(rules_field errors)"
fi
expect_eq "the set applied is the valid one" "$first_version" "$(policy_version)"
expect_eq "fnwarden_rules_valid 1 after the fix" 1 "$(rules_valid_metric)"

# Fixed and applied by SIGHUP (systemctl reload) after an invalid start.
# The rules file is a link to a file outside the directory: editing the
# target is no change inotify reports, so only the reload can apply it.
in_container bash -c "mkdir -p /srv/fnw && printf '%s\n' '$broken_policy' >/srv/fnw/other.yaml &&
  ln -s /srv/fnw/other.yaml $rules/other.yaml"
in_container timeout 90 systemctl restart fnwarden
expect_eq "invalid again after a restart" false "$(rules_field valid)"
in_container bash -c "printf '%s\n' 'apiVersion: fnwarden.io/v1' 'kind: FunctionPolicy' 'metadata: {name: other}' \
  'spec:' '  selector: {function: other}' >/srv/fnw/other.tmp && mv /srv/fnw/other.tmp /srv/fnw/other.yaml"
if in_container systemctl reload fnwarden; then pass "systemctl reload"; else
  fail "systemctl reload: $(journal -o short-precise | tail -8)"
fi
if eventually 10 rules_valid_is true; then pass "the fixed rules are applied (systemctl reload)"; else
  fail "rules after reload: $(rules_field valid) $(rules_field errors)"
fi
version_is_not "$first_version" && pass "the reloaded set is in force" || fail "version after reload: $(policy_version)"
expect_eq "still no automatic restarts" 0 "$(unit_prop NRestarts)"

# --- stop ------------------------------------------------------------------------------
if in_container timeout 60 systemctl stop fnwarden; then pass "systemctl stop"; else fail "systemctl stop"; fi
expect_eq "exited cleanly" "inactive" "$(in_container systemctl is-active fnwarden)"
expect_eq "exit status 0" 0 "$(unit_prop ExecMainStatus)"

echo "systemd unit test: $((SECONDS - t0)) s"
finish "systemd unit test"
