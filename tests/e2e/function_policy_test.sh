#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# FunctionPolicy objects from the Kubernetes API, through the real daemon
# binary: the fake API server (tests/helpers/fake_kube_api.cpp) serves one
# pod and a FunctionPolicyList; the daemon runs with policySource
# kubernetes (no rules directory). The object's egress deny is refused
# (EPERM) in the pod's container cgroup (kubelet cgroupfs layout); a pod of
# another namespace with the same labels is not touched; an edit of the
# object is applied; an invalid edit keeps the old set and says why in
# `status`.
# usage: function_policy_test.sh FNWARDEN WORKLOAD FAKE_KUBE_API
set -u
fnw=$1
workload=$(realpath "$2")
kube_api=$3
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
cg2=$(cgroup2_mount)
[[ -n $cg2 ]] || { fail "no cgroup2 mount"; exit 1; }

work=$(mktemp -d)
pids=()
made_cgroups=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  local i
  for ((i = ${#made_cgroups[@]} - 1; i >= 0; i--)); do rmdir "${made_cgroups[i]}" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
mkcg() {
  local p
  for p; do
    [[ -d $cg2/$p ]] && continue
    mkdir "$cg2/$p" || { fail "cannot create cgroup $p"; return 1; }
    made_cgroups+=("$cg2/$p")
  done
}

# Unique per run: pod UIDs and container ids nobody else has.
uid_a=$(cat /proc/sys/kernel/random/uuid)
uid_b=$(cat /proc/sys/kernel/random/uuid)
ctr_a=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
ctr_b=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
pod() { # uid namespace container
  echo "{\"metadata\":{\"name\":\"hello-$1\",\"namespace\":\"$2\",\"uid\":\"$1\",\"labels\":{\"app\":\"hello\"}},
    \"spec\":{\"nodeName\":\"fp-node\"},
    \"status\":{\"containerStatuses\":[{\"name\":\"hello\",\"containerID\":\"containerd://$3\"}]}}"
}
cat >"$work/pods.json" <<JSON
{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"100"},"items":[
 $(pod "$uid_a" shop "$ctr_a"), $(pod "$uid_b" billing "$ctr_b")]}
JSON
policies() { # resourceVersion network-section
  cat >"$work/policies.json.tmp" <<JSON
{"kind":"FunctionPolicyList","apiVersion":"fnwarden.io/v1","metadata":{"resourceVersion":"$1"},"items":[
 {"apiVersion":"fnwarden.io/v1","kind":"FunctionPolicy",
  "metadata":{"name":"hello","namespace":"shop","uid":"fp-1","generation":1,"resourceVersion":"$1"},
  "spec":{"selector":{"pod":{"labels":{"app":"hello"}}},"mode":"enforce","network":$2}}]}
JSON
  mv "$work/policies.json.tmp" "$work/policies.json"
}
policies 200 '{"onViolation":"deny","egress":[]}'

"$kube_api" "$work/pods.json" "$work/policies.json" >"$work/api.port" 2>"$work/api.log" &
pids+=($!)
eventually 5 test -s "$work/api.port" || { fail "fake API server did not start"; exit 1; }
cat >"$work/kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters: [{name: test, cluster: {server: "http://127.0.0.1:$(head -1 "$work/api.port")"}}]
users: [{name: test, user: {token: e2e-token}}]
contexts: [{name: test, context: {cluster: test, user: test}}]
current-context: test
YAML
cat >"$work/fnwarden.yaml" <<YAML
kubeconfig: $work/kubeconfig
nodeName: fp-node
policySource: kubernetes
YAML
sock=$work/fnwarden.sock
start_daemon "$work/daemon.log" "$sock" --config "$work/fnwarden.yaml" --mode enforce --metrics off \
  --output "$work/events.jsonl"
status_json() { "$fnw" status --socket "$sock" -o json | tr -d ' \n'; }
status_has() { status_json | grep -q "$1"; }
rules_json() { status_json | grep -o '"rules":{.*' | head -c 800; }
udp_errno() { errno_in "$cg2/$1" udp4:127.0.0.1:9; }
udp_errno_is() { [[ $(udp_errno "$1") == "$2" ]]; }
eventually 10 status_has '"function_policies":{[^}]*"synced":true' &&
  pass "FunctionPolicy objects listed" || fail "not synced: $(rules_json)"
# Keys in alphabetical order; "errors" spaces removed.
eventually 10 status_has '"rules":{"errors":\[\],"function_policies":{[^}]*},"valid":true' &&
  pass "the object's policy is in force" || fail "rules: $(rules_json) $(tail -5 "$work/daemon.log")"
grep -q 'GET functionpolicies watch=1 resourceVersion=200' "$work/api.log" && pass "watched from the list's resourceVersion" ||
  fail "no watch: $(cat "$work/api.log")"

path_a=kubepods/besteffort/pod$uid_a/$ctr_a
path_b=kubepods/besteffort/pod$uid_b/$ctr_b
mkcg kubepods kubepods/besteffort "kubepods/besteffort/pod$uid_a" "$path_a" "kubepods/besteffort/pod$uid_b" "$path_b"
eventually 5 status_has '"found_by":"pod"' &&
  pass "the shop pod's container matched through the object" || fail "not identified: $(tail -5 "$work/daemon.log")"
expect_eq "the object's egress deny refuses a connection (EPERM)" 1 "$(udp_errno "$path_a")"
expect_eq "a billing pod with the same labels is not the shop policy's" 0 "$(udp_errno "$path_b")"
if eventually 5 grep -q '"rule":"network.egress"' "$work/events.jsonl"; then
  ev=$(grep '"rule":"network.egress"' "$work/events.jsonl" | head -1)
  [[ $ev == *'"namespace":"shop"'* && $ev == *"\"container_id\":\"$ctr_a\""* ]] &&
    pass "the violation names namespace and container" || fail "event: $ev"
else
  fail "no violation event: $(cat "$work/events.jsonl")"
fi

# Edited: UDP to port 9 allowed. The fake ends the watch with 410; the
# daemon relists and reloads.
policies 201 '{"onViolation":"deny","egress":[{"cidr":"127.0.0.1/32","ports":[9],"protocol":"udp"}]}'
eventually 10 udp_errno_is "$path_a" 0 && pass "after the edit the connection is allowed" ||
  fail "the edit was not applied: $(rules_json)"

# Made invalid: the old (edited) set stays, the reason is in status.
policies 202 '{"onViolation":"deny","egress":[{"cidr":"not-an-address"}]}'
eventually 10 status_has '"rules":{"errors":\["functionpolicies/shop/hello:' &&
  pass "status names the invalid object" || fail "no error in status: $(rules_json)"
expect_eq "the invalid edit keeps the old set" 0 "$(udp_errno "$path_a")"
eventually 5 grep -q 'PATCH functionpolicies/shop/hello/status {"status":{"errors":\["functionpolicies/shop/hello' "$work/api.log" &&
  pass "the reason is written into the object's status" || fail "no status patch: $(grep PATCH "$work/api.log")"

finish "function policy e2e"
