#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# By hand (root), not a test: the latency fnwarden-runtime adds to `runc
# run` of a container running `true`: runc directly, through the wrapper
# without a policy, and with one (docs/kubernetes.md has the numbers).
# Each round runs the three one after another, so load drifts hit all.
# usage: oci_runtime_latency.sh FNWARDEN FNWARDEN_RUNTIME [ROUNDS]
set -u
fnw=$(realpath "$1"); wrapper=$(realpath "$2"); n=${3:-20}
work=$(mktemp -d); cg2=$(findmnt -t cgroup2 -n -o TARGET | head -1); parent=fnwmeasure-$$
mkdir "$cg2/$parent"
export FNWARDEN_RUNTIME_STATE=$work/state FNWARDEN_SOCKET=$work/fnwarden.sock
mkdir -p "$work/rules"
cat >"$work/rules/fn.yaml" <<YAML
apiVersion: fnwarden.io/v1
kind: FunctionPolicy
metadata: {name: measure-fn}
spec:
  selector: {function: measure-fn}
  mode: enforce
  files: {read: ["/usr/**", "/etc/**", "/app/**", "/tmp/**", "/dev/**", "/proc/**"], write: ["/tmp/**", "/dev/null"], onViolation: deny}
YAML
"$fnw" daemon --pin-root none --rules "$work/rules" --mode enforce --socket "$FNWARDEN_SOCKET" --output "$work/ev" --metrics off >"$work/d.log" 2>&1 &
d=$!
while [[ ! -S $FNWARDEN_SOCKET ]]; do sleep 0.1; done
mkdir -p "$work/b/rootfs"/{proc,dev,tmp,usr,etc}; ln -s usr/bin "$work/b/rootfs/bin"; ln -s usr/lib "$work/b/rootfs/lib"; ln -s usr/lib64 "$work/b/rootfs/lib64"
mk() { python3 - "$work/b/config.json" "$1" "$2" <<'PY'
import json, sys
path, annotation, cg = sys.argv[1:]
c = {"ociVersion": "1.0.2", "process": {"user": {"uid": 0, "gid": 0}, "args": ["true"], "env": ["PATH=/usr/bin"], "cwd": "/"},
     "root": {"path": "rootfs"}, "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
     {"destination": "/usr", "type": "bind", "source": "/usr", "options": ["rbind", "ro"]}],
     "linux": {"cgroupsPath": cg, "namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount", "network")]}}
if annotation: c["annotations"] = {"fnwarden.io/function": annotation}
json.dump(c, open(path, "w"))
PY
}
one() { # binary annotation i -> ns
  mk "$2" "/$parent/c$3"
  local t=$(date +%s%N)
  (cd "$work/b" && "$1" run "m-$$-$3" </dev/null >/dev/null 2>&1) || echo "run failed ($1 $2)" >&2
  echo $(( $(date +%s%N) - t ))
  "$1" delete -f "m-$$-$3" >/dev/null 2>&1
  rmdir "$cg2/$parent/c$3" 2>/dev/null
}
declare -a a b c
for ((i = 0; i < n; ++i)); do
  a+=($(one "$(command -v runc)" "" $i)); b+=($(one "$wrapper" "" $i)); c+=($(one "$wrapper" measure-fn $i))
done
med() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {printf "median %.1f ms (min %.1f, max %.1f)", v[int((NR+1)/2)]/1e6, v[1]/1e6, v[NR]/1e6}'; }
echo "runc run direct:                  $(med "${a[@]}") n=$n"
echo "fnwarden-runtime run, no policy:  $(med "${b[@]}")"
echo "fnwarden-runtime run, policy:     $(med "${c[@]}")"
kill $d; wait $d 2>/dev/null; rmdir "$cg2/$parent" 2>/dev/null; rm -rf "$work"
