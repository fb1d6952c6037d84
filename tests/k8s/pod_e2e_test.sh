#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The DaemonSet as a node would run it, as real as a machine without a
# kubelet allows (docs/kubernetes.md, "How the DaemonSet is tested"):
#   - the image that packaging/image/build.sh makes from this tree;
#   - `kubectl kustomize examples/kubernetes` rendered, and the daemon's
#     container run by runc with exactly that DaemonSet's security context,
#     volumes and host namespaces (tests/k8s/pod_to_oci.py derives the OCI
#     config from the rendered manifest, with containerd's RuntimeDefault
#     seccomp profile), in the pod's own network namespace and a private
#     cgroup namespace, in a kubepods cgroup (systemd driver naming), with
#     its in-cluster configuration (service-account token and CA, https);
#   - the fake API server serving the node's pods and the FunctionPolicy
#     objects (the example's and tests/k8s/pod/function.yaml's);
#   - the function pod's containers started by runc the same way, on an
#     overlay root, in their own kubepods cgroups.
# Checked: the pod's security context as the kernel sees it; /healthz and
# /metrics through the pod's address; the function's allowed work passes;
# its file, exec and network violations are killed or refused and reported
# on the daemon pod's stdout with namespace, pod and container; a rolling
# update (SIGTERM, then a new daemon pod) keeps the kernel's refusals in
# force meanwhile, and the new pod reports what happened while none ran.
#
# usage: pod_e2e_test.sh BUILD_DIR SRC_DIR FAKE_KUBE_API
#   FNW_IMAGE_PREBUILT=OUTDIR: use an image build.sh already made from this
#   tree instead of building one (about 20 s with a warm apt cache).
set -u
build_dir=$(realpath "$1")
src=$(realpath "$2")
kube_api=$(realpath "$3")
skip=77
# shellcheck source=../e2e/lib.sh
source "$src/tests/e2e/lib.sh"
require_root
for tool in runc umoci skopeo mmdebstrap kubectl python3 ip openssl curl; do
  if ! command -v "$tool" >/dev/null; then
    [[ ${FNW_REQUIRE_BPF:-0} == 1 ]] && { echo "FAIL: $tool missing (packaging/deps/install-debian.sh)"; exit 1; }
    echo "SKIP: no $tool (packaging/deps/install-debian.sh installs it)"; exit $skip
  fi
done
python3 -c 'import yaml' 2>/dev/null || { echo "FAIL: python3-yaml missing (packaging/deps/install-debian.sh)"; exit 1; }
require_bpffs
cg2=$(cgroup2_mount)
[[ -n $cg2 ]] || { fail "no cgroup2 mount"; exit 1; }
fnw=$build_dir/fnwarden
here=$src/tests/k8s

work=$(mktemp -d /var/tmp/fnw-pod-e2e.XXXXXX)
chmod 0755 "$work"
main_shell=$BASHPID
containers=() netnses=() links=() pod_slices=() api_pid=
cleanup() {
  [[ $BASHPID == "$main_shell" ]] || return 0
  local c
  for c in "${containers[@]}"; do runc delete -f "$c" >/dev/null 2>&1; done
  [[ -n $api_pid ]] && kill "$api_pid" 2>/dev/null
  # Function containers run in subshells: their mounts are found here.
  awk -v w="$work/" 'index($2, w) == 1 {print $2}' /proc/mounts | xargs -r -n1 umount -l 2>/dev/null
  for c in "${links[@]}"; do ip link del "$c" 2>/dev/null; done
  for c in "${netnses[@]}"; do ip netns del "$c" 2>/dev/null; done
  [[ -n ${pin_root:-} && -d $pin_root ]] && "$fnw" unload --pin-root "$pin_root" >/dev/null 2>&1
  # The pod slices this run made, then their parents if nobody else uses them.
  for c in "${pod_slices[@]}"; do find "$cg2/$c" -depth -type d -exec rmdir {} + 2>/dev/null; done
  rmdir "$cg2/kubepods.slice/kubepods-burstable.slice" "$cg2/kubepods.slice/kubepods-besteffort.slice" \
    "$cg2/kubepods.slice" 2>/dev/null
  # FNW_POD_E2E_KEEP=1: leave the logs (daemon-N.out/.err, api.log) to read.
  if [[ ${FNW_POD_E2E_KEEP:-0} == 1 ]]; then echo "kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
hex64() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
uuid() { cat /proc/sys/kernel/random/uuid; }

# --- the image and the manifest ---------------------------------------------------------
version=$(sed -n 's/^project(fnwarden VERSION \([0-9][0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
image=${FNW_IMAGE_PREBUILT:-$work/image}
if [[ -z ${FNW_IMAGE_PREBUILT:-} ]]; then
  t0=$SECONDS
  FNW_IMAGE_APT_CACHE=$build_dir/image-apt-cache bash "$src/packaging/image/build.sh" "$image" "$build_dir" \
    >"$work/image-build.log" 2>&1 || { tail -20 "$work/image-build.log"; fail "packaging/image/build.sh"; exit 1; }
  echo "image built in $((SECONDS - t0)) s"
fi
umoci unpack --image "$image/oci:$version" "$work/image-root" >/dev/null || { fail "umoci unpack"; exit 1; }
skopeo inspect --config "oci:$image/oci:$version" >"$work/image-config.json" || { fail "skopeo inspect"; exit 1; }
kubectl kustomize "$src/examples/kubernetes" >"$work/manifest.yaml" 2>"$work/kustomize.err" ||
  { fail "kubectl kustomize: $(cat "$work/kustomize.err")"; exit 1; }
# What the rendered ConfigMap tells the daemon (read back, not assumed).
config_value() {
  python3 - "$work/manifest.yaml" "$1" <<'EOF'
import sys, yaml
for o in yaml.safe_load_all(open(sys.argv[1])):
    if o and o["kind"] == "ConfigMap" and "fnwarden.yaml" in o.get("data", {}):
        print(yaml.safe_load(o["data"]["fnwarden.yaml"]).get(sys.argv[2], ""))
EOF
}
pin_root=$(config_value pinRoot)
metrics_port=$(config_value metrics | sed 's/.*://')
[[ -n $pin_root && -n $metrics_port ]] || { fail "no pinRoot/metrics in the rendered config"; exit 1; }
# An empty pin root holds nothing (a daemon run with --unload-on-exit, such
# as scripts/demo.sh's, leaves the directory): rmdir removes only that.
rmdir "$pin_root" 2>/dev/null
if [[ -e $pin_root ]]; then
  pin_root=
  fail "$(config_value pinRoot) is already there: a fnwarden of this node pins there; not touching it"
  exit 1
fi

# --- the node: API server (https on the node's bridge address), networks ---------------
node=pod-e2e-node
net=10.231.$((RANDOM % 250 + 1))
# pod_network NAME LINK HOST_IP POD_IP: the pod's network namespace, with a
# veth to the node (the CNI's part).
pod_network() {
  ip netns add "$1" && netnses+=("$1") &&
    ip link add "$2h" type veth peer name "$2c" && links+=("$2h") &&
    ip link set "$2c" netns "$1" && ip addr add "$3/30" dev "$2h" && ip link set "$2h" up &&
    ip -n "$1" addr add "$4/30" dev "$2c" && ip -n "$1" link set "$2c" up && ip -n "$1" link set lo up &&
    ip -n "$1" route add default via "$3"
}
node_ip=$net.1
pod_network "fnwpod1-$$" "fnw1$$" "$node_ip" "$net.2" || { fail "cannot make the pod network"; exit 1; }
pod_network "fnwpod2-$$" "fnw2$$" "$net.5" "$net.6" || { fail "cannot make the second pod network"; exit 1; }
ip netns add "fnwfn-$$" && netnses+=("fnwfn-$$") && ip -n "fnwfn-$$" link set lo up

mkdir -p "$work/tls" "$work/sa"
(
  cd "$work/tls" &&
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt -days 1 \
      -subj /CN=fnw-pod-e2e-ca -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign &&
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr \
      -subj /CN=kube-apiserver &&
    printf 'subjectAltName=IP:%s\n' "$node_ip" >san.ext &&
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 1 -extfile san.ext
) >"$work/openssl.log" 2>&1 || { fail "openssl: $(cat "$work/openssl.log")"; exit 1; }
cp "$work/tls/ca.crt" "$work/sa/ca.crt"
hex64 >"$work/sa/token"
echo fnwarden-system >"$work/sa/namespace"

# The function pod on this node: its container ids, as the kubelet reports
# them in status.containerStatuses.
fn_uid=$(uuid)
declare -A ctr
for c in ok file exec net gap; do ctr[$c]=$(hex64); done
python3 - "$here/pod/function.yaml" "$work/manifest.yaml" "$work" "$node" "$fn_uid" \
  "${ctr[ok]}" "${ctr[file]}" "${ctr[exec]}" "${ctr[net]}" "${ctr[gap]}" <<'EOF' || { fail "fake API lists"; exit 1; }
import json, sys, yaml
function, manifest, work, node, uid, *ids = sys.argv[1:]
objects = [o for f in (function, manifest) for o in yaml.safe_load_all(open(f)) if o]
pod = next(o for o in objects if o["kind"] == "Pod")
names = [c["name"] for c in pod["spec"]["containers"]]
pod["metadata"]["uid"] = uid
pod["spec"]["nodeName"] = node
pod["status"] = {"phase": "Running", "containerStatuses": [
    {"name": n, "containerID": "containerd://" + i} for n, i in zip(names, ids)]}
json.dump({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "100"}, "items": [pod]},
          open(work + "/pods.json", "w"))
policies = [o for o in objects if o["kind"] == "FunctionPolicy"]
for n, p in enumerate(policies):
    p["metadata"].update(uid="fp-%d" % n, generation=1, resourceVersion="200")
json.dump({"kind": "FunctionPolicyList", "apiVersion": "fnwarden.io/v1", "metadata": {"resourceVersion": "200"},
           "items": policies}, open(work + "/policies.json", "w"))
EOF
FNW_FAKE_KUBE_API_ADDRESS=$node_ip FNW_FAKE_KUBE_API_TLS=$work/tls/server.crt:$work/tls/server.key \
  "$kube_api" "$work/pods.json" "$work/policies.json" >"$work/api.port" 2>"$work/api.log" &
api_pid=$!
eventually 5 test -s "$work/api.port" || { fail "fake API server did not start: $(cat "$work/api.log")"; exit 1; }
api_port=$(head -1 "$work/api.port")

# --- the daemon's pod -------------------------------------------------------------------
node_run=$work/node-run  # the hostPath /run/fnwarden, kept off this machine's own
sock=$node_run/fnwarden.sock
kubepods() { # QOS POD_UID CONTAINER_ID: the systemd driver's name for a container's cgroup
  echo "kubepods.slice/kubepods-$1.slice/kubepods-$1-pod${2//-/_}.slice/cri-containerd-$3.scope"
}
# start_daemon_pod N NETNS POD_IP: a DaemonSet pod (new uid, new container).
start_daemon_pod() {
  local n=$1 uid bundle=$work/daemon-$1 cid
  uid=$(uuid) cid=$(hex64)
  daemon_cgroup=$(kubepods burstable "$uid" "$cid")
  pod_slices+=("${daemon_cgroup%/*}")
  mkdir -p "$bundle"
  python3 "$here/pod_to_oci.py" "$work/manifest.yaml" DaemonSet fnwarden fnwarden "$bundle/config.json" \
    --image-config "$work/image-config.json" --rootfs "$work/image-root/rootfs" --volumes-dir "$bundle/volumes" \
    --host-path "/run/fnwarden=$node_run" --netns "/run/netns/$2" --cgroups-path "/$daemon_cgroup" \
    --node-name "$node" --pod-name "fnwarden-$n$$" --pod-namespace fnwarden-system --pod-ip "$3" --pod-uid "$uid" \
    --service-account-dir "$work/sa" --env "KUBERNETES_SERVICE_HOST=$node_ip" --env "KUBERNETES_SERVICE_PORT=$api_port" ||
    { fail "pod_to_oci.py (DaemonSet)"; exit 1; }
  daemon_ctr=fnw-pod-ds$n-$$
  containers+=("$daemon_ctr")
  (cd "$bundle" && exec runc run "$daemon_ctr" </dev/null >"$work/daemon-$n.out" 2>"$work/daemon-$n.err") &
  daemon_runc=$!
  if eventually 30 curl -sf -o /dev/null "http://$3:$metrics_port/healthz"; then
    pass "daemon pod $n: /healthz answers on the pod's address $3:$metrics_port"
  else
    fail "daemon pod $n did not become ready: $(tail -20 "$work/daemon-$n.err")"
    finish "pod e2e"
    exit 1
  fi
}
stop_daemon_pod() { # SIGTERM, as the kubelet sends; sets daemon_exit
  runc kill "$daemon_ctr" TERM
  wait "$daemon_runc"
  daemon_exit=$?
}

start_daemon_pod 1 "fnwpod1-$$" "$net.2"

# The security context as the kernel applied it (the manifest's, read back).
pid=$(runc state "$daemon_ctr" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
status_field() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$pid/status"; }
want_caps=$(python3 - "$work/manifest.yaml" <<'EOF'
import sys, yaml
ds = next(o for o in yaml.safe_load_all(open(sys.argv[1])) if o and o["kind"] == "DaemonSet")
caps = ds["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilities"]["add"]
bits = {"KILL": 5, "NET_ADMIN": 12, "SYS_PTRACE": 19, "DAC_READ_SEARCH": 2, "PERFMON": 38, "BPF": 39}
print("%016x" % sum(1 << bits[c] for c in caps))
EOF
)
expect_eq "effective capabilities: exactly the manifest's" "$want_caps" "$(status_field CapEff)"
expect_eq "bounding set: the same, nothing more" "$want_caps" "$(status_field CapBnd)"
expect_eq "no new privileges" 1 "$(status_field NoNewPrivs)"
expect_eq "seccomp filter on (RuntimeDefault)" 2 "$(status_field Seccomp)"
expect_eq "uid 0, gid 9464 (runAsGroup)" "0 9464" "$(status_field Uid) $(status_field Gid)"
expect_eq "hostPID: the node's PID namespace" "$(readlink /proc/$$/ns/pid)" "$(readlink "/proc/$pid/ns/pid")"
check "its own network namespace" test "$(readlink /proc/$$/ns/net)" != "$(readlink "/proc/$pid/ns/net")"
check "a private cgroup namespace" test "$(readlink /proc/$$/ns/cgroup)" != "$(readlink "/proc/$pid/ns/cgroup")"
check "read-only root file system" bash -c "! nsenter -t $pid -m touch /x 2>/dev/null"
expect_eq "socket root:9464 0660 on the node's /run/fnwarden" "0 9464 660" "$(stat -c '%u %g %a' "$sock")"
eventually 15 bash -c "'$fnw' status --socket '$sock' -o json | tr -d ' \n' | grep -q '\"synced\":true'" &&
  pass "FunctionPolicy objects listed through the in-cluster config (https, token)" ||
  fail "not synced: $("$fnw" status --socket "$sock" -o json | head -c 1500) $(tail -5 "$work/daemon-1.err")"
grep -q "auth=Bearer $(cat "$work/sa/token")" "$work/api.log" && pass "the pod's service-account token is sent" ||
  fail "no bearer token in: $(head -3 "$work/api.log")"

# --- the function pod -------------------------------------------------------------------
# Its image: the same Debian root, /app on top, on an overlay per container.
layer=$work/fn-layer
mkdir -p "$layer/app/secret" "$layer/requests"
install -m 0755 "$here/pod/handler.sh" "$layer/app/handler.sh"
echo hello >"$layer/app/data.txt"
echo s3cr3t >"$layer/app/secret/token"
mkfifo -m 0666 "$layer/app/wait"
echo '{"config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"], "User": "0:0"}}' >"$work/fn-image-config.json"
cat >"$work/fn-await.sh" <<'EOF'
#!/usr/bin/env bash
# The test's createRuntime hook: the container's process is in its cgroup
# and has not started; go on once the daemon has identified that cgroup
# (what a kubelet cannot promise; docs/kubernetes.md, "Known gaps").
for ((i = 0; i < 100; i++)); do
  "$1" status --socket "$2" -o json >"$2.status" 2>/dev/null && grep -q "$3" "$2.status" && exit 0
  sleep 0.1
done
exit 1
EOF
chmod +x "$work/fn-await.sh"
fn_cgroup_slice=$(kubepods besteffort "$fn_uid" x) fn_cgroup_slice=${fn_cgroup_slice%/*}
pod_slices+=("$fn_cgroup_slice")
# run_function NAME [CHECK_SOCKET]: one container of the pod, to its end;
# prints its output, returns its exit status (137 = SIGKILL).
run_function() {
  local name=$1 await=${2:-$sock} dir=$work/fn-$1-$RANDOM id=${ctr[$1]}
  mkdir -p "$dir/upper" "$dir/work" "$dir/rootfs"
  mount -t overlay overlay -o "lowerdir=$layer:$work/image-root/rootfs,upperdir=$dir/upper,workdir=$dir/work" \
    "$dir/rootfs" || { echo "overlay mount failed"; return 99; }
  python3 "$here/pod_to_oci.py" "$here/pod/function.yaml" Pod hello-fn "$name" "$dir/config.json" \
    --image-config "$work/fn-image-config.json" --rootfs "$dir/rootfs" --volumes-dir "$work/fn-volumes" \
    --netns "/run/netns/fnwfn-$$" --cgroups-path "/$(kubepods besteffort "$fn_uid" "$id")" --node-name "$node" \
    --pod-name hello-fn --pod-namespace fnwarden-demo --pod-uid "$fn_uid" || return 98
  if [[ -n $await ]]; then
    python3 - "$dir/config.json" "$work/fn-await.sh" "$fnw" "$await" "$id" <<'EOF'
import json, sys
path, hook, *args = sys.argv[1:]
c = json.load(open(path))
c["hooks"] = {"createRuntime": [{"path": hook, "args": [hook] + args, "timeout": 15}]}
json.dump(c, open(path, "w"))
EOF
  fi
  local rc=0
  runc delete -f "fnw-fn-$name-$$" >/dev/null 2>&1
  (cd "$dir" && exec timeout 40 runc run "fnw-fn-$name-$$" </dev/null 2>&1) || rc=$?
  runc delete -f "fnw-fn-$name-$$" >/dev/null 2>&1
  umount -l "$dir/rootfs"
  return "$rc"
}
events=$work/daemon-1.out
event_of() { # CONTAINER RULE: the first such violation on the daemon pod's stdout
  grep -h "\"container\":\"$1\"" "$events" 2>/dev/null | grep "\"rule\":\"$2\"" | head -1
}
has_event() { [[ -n $(event_of "$@") ]]; }
k8s_named() { # EVENT CONTAINER
  [[ $1 == *'"namespace":"fnwarden-demo"'* && $1 == *'"pod":"hello-fn"'* && $1 == *"\"container\":\"$2\""* &&
    $1 == *"\"container_id\":\"${ctr[$2]}\""* ]]
}

out=$(run_function ok); rc=$?
expect_eq "allowed work passes (exit 0)" 0 "$rc"
[[ $out == "ok: hello hello refused-by-peer" ]] && pass "allowed reads, exec and connect: $out" || fail "ok container: $out"
# Identified while runc's init still set the container up: checked from
# the entrypoint's exec on (the hook's last look at status).
armed() {
  python3 - "$sock.status" "$1" <<'EOF'
import json, sys
status, container = json.load(open(sys.argv[1])), sys.argv[2]
sys.exit(not any((c.get("k8s") or {}).get("container_id") == container and "arm-on-exec" in c["flags"]
                 for c in status["cgroups"]))
EOF
}
armed "${ctr[ok]}" && pass "found before its entrypoint: armed, checked from its exec on" ||
  fail "the ok container's cgroup was not armed at identification: $(grep -o '"flags":[^]]*]' "$sock.status" | head -3)"

out=$(run_function file); rc=$?
expect_eq "reading /app/secret/token: killed (SIGKILL)" 137 "$rc"
if eventually 10 has_event file files.read; then
  ev=$(event_of file files.read)
  k8s_named "$ev" file && pass "file violation names namespace, pod and container" || fail "file event: $ev"
  [[ $ev == *'"/app/secret/token"'* && $ev == *'"action":"killed"'* ]] &&
    pass "it names the container's path and says killed" || fail "file event: $ev"
else
  fail "no file violation on the pod's stdout: $(tail -c 800 "$events")"
fi

out=$(run_function exec); rc=$?
expect_eq "exec of /usr/bin/sleep: killed" 137 "$rc"
if eventually 10 has_event exec exec.allow; then
  ev=$(event_of exec exec.allow)
  k8s_named "$ev" exec && [[ $ev == *'"path":"/usr/bin/sleep"'* && $ev == *'"action":"killed"'* ]] &&
    pass "exec violation reported: /usr/bin/sleep killed, k8s names" ||
    fail "exec event: $ev"
else
  fail "no exec violation on the pod's stdout: $(grep '"container":"exec"' "$events" | head -c 800)"
fi

out=$(run_function net); rc=$?
[[ $rc == 1 && $out == *"Operation not permitted"* ]] && pass "connect to 192.0.2.1:80 refused in the kernel (EPERM)" ||
  fail "net container: exit $rc, $out"
if eventually 10 has_event net network.egress; then
  ev=$(event_of net network.egress)
  k8s_named "$ev" net && [[ $ev == *'"action":"denied"'* ]] && pass "network violation reported: denied, k8s names" ||
    fail "net event: $ev"
else
  fail "no network violation on the pod's stdout"
fi
non_json=$(python3 -c 'import json,sys
for line in open(sys.argv[1]):
    try: json.loads(line)
    except ValueError: print(line.rstrip()); break' "$events")
expect_eq "the pod's stdout is JSON lines only" "" "$non_json"

metrics=$(curl -sf "http://$net.2:$metrics_port/metrics")
grep -q '^fnwarden_violations_total{.*function="hello-fn".*} [1-9]' <<<"$metrics" &&
  pass "/metrics through the pod's port counts hello-fn's violations" ||
  fail "no hello-fn violations in /metrics: $(grep -m5 violations <<<"$metrics")"

# --- a rolling update -------------------------------------------------------------------
# The gap container waits (in the pod's emptyDir) for the test's go, which
# comes while no daemon pod runs: its connect is refused by the pinned
# cgroup hooks alone.
run_function gap >"$work/gap.out" 2>&1 &
gap_runc=$!
eventually 10 grep -q waiting "$work/gap.out" || fail "gap container did not start: $(cat "$work/gap.out")"
stop_daemon_pod
expect_eq "daemon pod 1: SIGTERM, exit 0" 0 "$daemon_exit"
check "the pins stay on the node (unloadOnExit: false)" test -d "$pin_root"
touch "$work/fn-volumes/requests/go"
wait "$gap_runc"
gap_rc=$?
[[ $gap_rc == 1 && $(cat "$work/gap.out") == *"Operation not permitted"* ]] &&
  pass "with no daemon pod, the connect is still refused (EPERM)" || fail "gap: exit $gap_rc, $(cat "$work/gap.out")"

events=$work/daemon-2.out
start_daemon_pod 2 "fnwpod2-$$" "$net.6"
grep -q "probes adopted in $pin_root" "$work/daemon-2.err" && pass "daemon pod 2 adopted the pinned probes" ||
  fail "not adopted: $(grep -m3 -i 'probes\|pin' "$work/daemon-2.err")"
# The record waited in the pinned ring; the container's cgroup is gone by
# the time daemon pod 2 reads it, so it names the policy but no pod.
gap_refusal() { grep '"rule":"network.egress"' "$events" | grep '"policy":"fnwarden-demo/hello-fn"' | grep -q '"daddr":"192.0.2.1"'; }
eventually 10 gap_refusal && pass "daemon pod 2 reports the refusal made while no pod ran" ||
  fail "gap refusal not reported: $(tail -c 600 "$events")"
out=$(run_function file); rc=$?
expect_eq "after the update: the file violation is killed again" 137 "$rc"
[[ $rc == 137 ]] || echo "  the container said: ${out:0:800}"
eventually 10 has_event file files.read && pass "and reported by daemon pod 2" ||
  fail "no file violation from daemon pod 2"
stop_daemon_pod
expect_eq "daemon pod 2: SIGTERM, exit 0" 0 "$daemon_exit"
grep -h '"k8s"' "$work"/daemon-*.out >/dev/null && echo "events: $(cat "$work"/daemon-*.out | wc -l) lines"

finish "pod e2e"
