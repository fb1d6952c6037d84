#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The container image of packaging/image/build.sh, built from this tree's
# binary and checked as a user of it would:
#   - the docker-archive loads with `podman load` and carries the tag, the
#     entrypoint `fnwarden daemon`, the user 0:9464 and the OCI labels
#     (version, revision = this commit, source);
#   - its root file system has no compiler, no apt, no man pages, and the
#     group fnwarden with the fixed id 9464;
#   - `fnwarden --version` and `fnwarden daemon --help` run inside (runc);
#   - the daemon, run by runc with exactly the systemd unit's capabilities
#     (no CAP_CHOWN), NoNewPrivileges and a read-only root, creates its
#     socket on a host directory as root:9464 0660, a non-root host user in
#     group 9464 gets `fnwarden status` through it, stdout carries nothing
#     but JSON (the log is on stderr), and SIGTERM stops it with status 0;
#     the same container run in group 0 shows what the group solves: a
#     root-only 0600 socket and the warning;
#   - with --twice: a second build gives the same digest, byte for byte.
#
# usage: image_test.sh BUILD_DIR SRC_DIR CACHE_DIR [--twice]
#   CACHE_DIR keeps the downloaded .debs (FNW_IMAGE_APT_CACHE) between runs.
# Needs root, a kernel the probes load on, and the image tools
# (packaging/deps/install-image-tools.sh). docs/development.md, "The image".
set -u
build_dir=$(realpath "$1")
src=$(realpath "$2")
cache=$3
twice=${4:-}
skip=77
# shellcheck source=../e2e/lib.sh
source "$src/tests/e2e/lib.sh"
require_root
for tool in mmdebstrap umoci skopeo podman runc setpriv python3; do
  if ! command -v "$tool" >/dev/null; then
    [[ ${FNW_REQUIRE_BPF:-0} == 1 ]] && { echo "FAIL: $tool missing (packaging/deps/install-image-tools.sh)"; exit 1; }
    echo "SKIP: no $tool (packaging/deps/install-image-tools.sh installs it)"; exit $skip
  fi
done
[[ -x $build_dir/fnwarden ]] || { echo "FAIL: $build_dir/fnwarden not built"; exit 1; }
require_bpffs

socket_gid=9464
version=$(sed -n 's/^project(fnwarden VERSION \([0-9][0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
revision=$(git -C "$src" rev-parse HEAD)
[[ -n $(git -C "$src" status --porcelain --untracked-files=no) ]] && revision="$revision-dirty"
image=ghcr.io/fnwarden/fnwarden:$version

work=$(mktemp -d /var/tmp/fnw-image-test.XXXXXX)
chmod 0755 "$work"  # the non-root client below reaches the socket through it
containers=()
podman_store=(--root "$work/podman/root" --runroot "$work/podman/run" --storage-driver vfs)
made_cgroup=0
cleanup() {
  ((made_cgroup)) && find "$cg2/$parent" -depth -type d -exec rmdir {} + 2>/dev/null
  for c in "${containers[@]}"; do runc delete -f "$c" >/dev/null 2>&1; done
  podman "${podman_store[@]}" rmi -a -f >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
export FNW_IMAGE_APT_CACHE=$cache/apt

build() { # OUTDIR
  local t0=$SECONDS
  if ! bash "$src/packaging/image/build.sh" "$1" "$build_dir" >"$work/build.log" 2>&1; then
    tail -30 "$work/build.log"
    fail "packaging/image/build.sh failed"
    finish "image"
    exit 1
  fi
  echo "image built in $((SECONDS - t0)) s: $(tail -2 "$work/build.log" | head -1)"
}
# FNW_IMAGE_PREBUILT=OUTDIR: check an image build.sh already made from this
# tree (`cmake --build build --target image` makes build/image) instead of
# building one; --twice still builds once more to compare.
out1=${FNW_IMAGE_PREBUILT:-$work/out1}
[[ -n ${FNW_IMAGE_PREBUILT:-} ]] || build "$out1"
archive=$out1/fnwarden-image.tar
digest=$(cat "$out1/image-digest")

# --- the archive -----------------------------------------------------------------------
skopeo inspect --config "docker-archive:$archive" >"$work/config.json" 2>"$work/skopeo.err" ||
  fail "skopeo inspect: $(cat "$work/skopeo.err")"
field() { python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); print(json.dumps(eval(sys.argv[2], {"c": c})))' "$work/config.json" "$1"; }
expect_eq "entrypoint" '["/usr/bin/fnwarden", "daemon"]' "$(field 'c["config"]["Entrypoint"]')"
expect_eq "user: uid 0, the socket group" "\"0:$socket_gid\"" "$(field 'c["config"]["User"]')"
expect_eq "label version" "\"$version\"" "$(field 'c["config"]["Labels"]["org.opencontainers.image.version"]')"
expect_eq "label revision" "\"$revision\"" "$(field 'c["config"]["Labels"]["org.opencontainers.image.revision"]')"
expect_eq "label source" '"https://github.com/fnwarden/fnwarden"' \
  "$(field 'c["config"]["Labels"]["org.opencontainers.image.source"]')"
expect_eq "created = the commit's time" "\"$(date -u -d "@$(git -C "$src" log -1 --format=%ct)" +%Y-%m-%dT%H:%M:%SZ)\"" \
  "$(field 'c["created"]')"

# docker load and ctr images import read manifest.json (RepoTags, Config,
# Layers); older docker the per-layer VERSION/json and `repositories`.
expect_eq "docker-archive manifest.json names the tag" "[[\"$image\"], 1]" \
  "$(tar -xOf "$archive" manifest.json | python3 -c 'import json,sys; m=json.load(sys.stdin); print(json.dumps([m[0]["RepoTags"], len(m[0]["Layers"])]))')"
check "docker-archive has the legacy repositories file" bash -c "tar -tf '$archive' | grep -qx repositories"

loaded=$(podman "${podman_store[@]}" load -i "$archive" 2>&1)
[[ $loaded == *"Loaded image: $image"* || $loaded == *"Loaded image(s): $image"* ]] &&
  pass "podman load: $image" || fail "podman load: $loaded"
expect_eq "podman sees the entrypoint" "[/usr/bin/fnwarden daemon]" \
  "$(podman "${podman_store[@]}" image inspect --format '{{.Config.Entrypoint}}' "$image" 2>&1)"

# --- the root file system --------------------------------------------------------------
bundle=$work/bundle
umoci unpack --image "$out1/oci:$version" "$bundle" >/dev/null || { fail "umoci unpack"; finish image; exit 1; }
rootfs=$bundle/rootfs
found=$(cd "$rootfs" && ls -d usr/bin/*gcc* usr/bin/cc usr/bin/c++ usr/bin/g++* usr/bin/clang* usr/bin/as usr/bin/ld \
  usr/bin/apt* usr/bin/make usr/share/man/man1 2>/dev/null)
[[ -x $rootfs/usr/bin/fnwarden && -x $rootfs/usr/bin/dpkg ]] || fail "the root file system is not there"
expect_eq "no compiler, apt or man pages" "" "$found"
expect_eq "group fnwarden has id $socket_gid" "fnwarden:x:$socket_gid:" "$(grep '^fnwarden:' "$rootfs/etc/group")"
docs=$(find "$rootfs/usr/share/doc" -type f ! -name copyright | head -3)
expect_eq "only copyright files under /usr/share/doc" "" "$docs"

# --- runc: the CLI, then the daemon with the unit's capabilities --------------------------
# The unit's bounding set, read from the unit itself so the two never differ.
unit_caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$src/packaging/systemd/fnwarden.service")
[[ $unit_caps == *CAP_BPF* ]] || fail "no CapabilityBoundingSet in the unit"
cp "$bundle/config.json" "$work/config.image.json"

# runc_config GID ARGS...: the bundle's config.json from the image's, with the
# unit's capabilities, no new privileges, a read-only root, the host's /sys
# (BTF, bpffs, cgroup2), the host directory $work/run at /run/fnwarden and
# the host's PID namespace (the DaemonSet's hostPID).
runc_config() {
  python3 - "$work/config.image.json" "$bundle/config.json" "$unit_caps" "$work/run" "$@" <<'EOF'
import json, sys
src, dst, caps, run_dir, gid, *args = sys.argv[1:]
c = json.load(open(src))
p = c["process"]
p["args"] = args
p["terminal"] = False
p["user"] = {"uid": 0, "gid": int(gid)}
caps = caps.split()
p["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted")}
p["noNewPrivileges"] = True
c["root"]["readonly"] = True
c["mounts"] = [m for m in c["mounts"] if m["destination"] not in ("/sys", "/sys/fs/cgroup")]
c["mounts"] += [
    {"destination": "/sys", "type": "bind", "source": "/sys", "options": ["rbind", "rslave", "rw"]},
    {"destination": "/run/fnwarden", "type": "bind", "source": run_dir, "options": ["bind", "rw"]},
    # the DaemonSet's ConfigMap of policies
    {"destination": "/etc/fnwarden/rules", "type": "bind", "source": run_dir + "/../rules", "options": ["bind", "ro"]},
]
ns = c["linux"]["namespaces"]
c["linux"]["namespaces"] = [n for n in ns if n["type"] not in ("pid",)]
c["linux"].pop("maskedPaths", None)   # /sys/firmware etc.: the daemon reads none; host /sys is bound
c["linux"].pop("readonlyPaths", None)
json.dump(c, open(dst, "w"), indent=1)
EOF
}
# in_runc NAME GID ARGS...: runs ARGS in the image, waits, prints stdout.
in_runc() {
  local name=$1 gid=$2; shift 2
  runc_config "$gid" "$@"
  containers+=("$name")
  (cd "$bundle" && runc run "$name" </dev/null 2>"$work/$name.err")
}
mkdir -m 0755 "$work/run" "$work/rules"
cp "$src/rules/baseline.yaml" "$work/rules/"
# A function in a cgroup of its own, found by path as a pod's container is:
# its uname(2) is a violation (not in the allow list), reported (audit) on
# the container's stdout.
cg2=$(cgroup2_mount)
parent=fnw-img-test-$$-$RANDOM
function=img-test-$$
cat >"$work/rules/$function.yaml" <<EOF
apiVersion: fnwarden.io/v1
kind: FunctionPolicy
metadata: {name: $function}
spec:
  selector: {cgroupPath: '$parent/(fn-[a-z]+)'}
  mode: audit
  syscalls:
    onViolation: report
    allow: [execve, brk, arch_prctl, mmap, munmap, mprotect, set_tid_address, set_robust_list, rseq, prlimit64,
            getrandom, access, openat, read, pread64, write, close, fstat, newfstatat, exit_group, futex]
EOF
# The binary names the commit it was built from: this checkout's.
commit=${revision:0:12}
[[ $revision == *-dirty ]] && commit+=-dirty
expect_eq "fnwarden --version inside" "fnwarden $version (commit $commit)" \
  "$(in_runc fnw-img-v-$$ "$socket_gid" /usr/bin/fnwarden --version)"
help=$(in_runc fnw-img-h-$$ "$socket_gid" /usr/bin/fnwarden daemon --help)
[[ $help == *"--socket-group"* ]] && pass "fnwarden daemon --help inside" || fail "daemon --help: $help $(cat "$work"/*.err)"

# start_in_runc NAME GID: the image's entrypoint and config, unpinned (a pin
# root is the host's; other tests run daemons too), in the background.
start_in_runc() {
  local name=$1 gid=$2
  rm -f "$work/run/fnwarden.sock"
  runc_config "$gid" /usr/bin/fnwarden daemon --pin-root none
  containers+=("$name")
  (cd "$bundle" && exec runc run "$name" </dev/null >"$work/$name.out" 2>"$work/$name.err") &
  runc_pid=$!
  if eventually 30 test -S "$work/run/fnwarden.sock"; then pass "daemon in runc ($name) is listening"; else
    fail "daemon in runc did not start: $(cat "$work/$name.err")"
    finish image
    exit 1
  fi
}
stop_in_runc() { # NAME: SIGTERM, as the kubelet sends; sets exit_status
  runc kill "$1" TERM
  wait "$runc_pid"
  exit_status=$?
}

name=fnw-img-d-$$
start_in_runc "$name" "$socket_gid"
expect_eq "socket root:$socket_gid 0660 without CAP_CHOWN" "0 $socket_gid 660" \
  "$(stat -c '%u %g %a' "$work/run/fnwarden.sock")"
grep -q "cannot give" "$work/$name.err" && fail "daemon warned: $(grep "cannot give" "$work/$name.err")" ||
  pass "no socket-group warning"
# A host user who is in the group and nothing else: nobody, gid 9464.
if out=$(setpriv --reuid=65534 --regid="$socket_gid" --clear-groups \
  "$build_dir/fnwarden" status --socket "$work/run/fnwarden.sock" -o json 2>&1) && [[ $out == *'"uptime'* || $out == *'{'* ]]; then
  pass "uid 65534 in group $socket_gid gets status through the socket"
else
  fail "status as a group member: $out"
fi
if out=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
  "$build_dir/fnwarden" status --socket "$work/run/fnwarden.sock" 2>&1); then
  fail "uid 65534 outside the group got status: $out"
else
  pass "a user outside the group is kept out"
fi
if mkdir -p "$cg2/$parent/fn-uname"; then
  made_cgroup=1
  # The daemon guards the cgroup once it has seen it: only then run in it.
  eventually 20 grep -q "fn-uname: cgroup $parent/fn-uname matched policy $function" "$work/$name.err" ||
    fail "the daemon did not see the function's cgroup: $(tail -3 "$work/$name.err")"
  bash -c 'echo $$ >"$1/cgroup.procs" && exec uname >/dev/null' _ "$cg2/$parent/fn-uname" ||
    fail "uname in the function's cgroup"
else
  fail "cannot create cgroup $parent"
fi
if eventually 10 grep -q "\"policy\":\"$function\".*\"uname\"\|\"uname\".*\"policy\":\"$function\"" "$work/$name.out"; then
  pass "its violation is a JSON line on the container's stdout"
else
  fail "no violation on stdout: $(head -c 600 "$work/$name.out") / $(tail -5 "$work/$name.err")"
fi
stop_in_runc "$name"
expect_eq "SIGTERM: exit status 0" 0 "$exit_status"
grep -q "^fnwarden: info: " "$work/$name.err" && pass "the daemon's log is on stderr" ||
  fail "no log lines on stderr: $(head -5 "$work/$name.err")"
non_json=$(python3 -c 'import json,sys
for line in open(sys.argv[1]):
    try: json.loads(line)
    except ValueError: print(line.rstrip()); break' "$work/$name.out")
[[ -s $work/$name.out ]] && expect_eq "stdout carries JSON lines only" "" "$non_json"
check "the socket is gone after exit" test ! -e "$work/run/fnwarden.sock"

# What the group solves: in group 0, no CAP_CHOWN, the socket stays root's.
name=fnw-img-g0-$$
start_in_runc "$name" 0
expect_eq "in group 0: a root-only socket" "0 0 600" "$(stat -c '%u %g %a' "$work/run/fnwarden.sock")"
grep -q "cannot give .* to group 'fnwarden' (Operation not permitted).*runAsGroup" "$work/$name.err" &&
  pass "in group 0: the warning names the fix" || fail "in group 0: no warning: $(cat "$work/$name.err")"
stop_in_runc "$name"

# --- reproducible ----------------------------------------------------------------------
if [[ $twice == --twice ]]; then
  build "$work/out2"
  expect_eq "second build: same manifest digest" "$digest" "$(cat "$work/out2/image-digest")"
  expect_eq "second build: same docker-archive bytes" "$(sha256sum <"$archive")" \
    "$(sha256sum <"$work/out2/fnwarden-image.tar")"
fi
echo "image: $image $digest, archive $(stat -c %s "$archive") bytes"
finish "image"
