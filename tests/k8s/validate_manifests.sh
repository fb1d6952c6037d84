#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Kubernetes manifests, checked offline (ctest k8s.manifests; docs/kubernetes.md):
#   1. `kubectl kustomize` renders the base, the example overlay and the two
#      optional kustomizations (servicemonitor, rbac-report);
#   2. every object passes its Kubernetes API schema with unknown fields
#      refused, FunctionPolicy objects (the example's and rules/examples/*)
#      the CRD's schema (tests/k8s/validate.cjs);
#   3. the DaemonSet keeps the unit's capabilities and agrees with its own
#      fnwarden.yaml, the Service and the RBAC (tests/k8s/daemonset_facts.cjs);
#   4. broken copies are refused: a misspelt field (hostPid), a wrong type,
#      a misspelt FunctionPolicy key, a wrong FunctionPolicy type, a typo in
#      the CRD's schema keywords, a kind with no schema.
#
# usage: validate_manifests.sh SRC_DIR NODE_DIR
#   NODE_DIR: where the validator's npm packages are installed (build tree).
#   FNW_KUBECTL: the kubectl to render with (default: kubectl on PATH).
set -euo pipefail

src=$(cd "$1" && pwd)
node_dir=$2
kubectl=${FNW_KUBECTL:-$(command -v kubectl || true)}
passed=0
failed=0
fail() {
  echo "FAIL: $*" >&2
  failed=$((failed + 1))
}
ok() {
  echo "ok: $*"
  passed=$((passed + 1))
}

if [[ -z $kubectl || ! -x $kubectl ]]; then
  echo "no kubectl: bash packaging/deps/install-debian.sh installs one (Debian's kubernetes-client)" >&2
  exit 1
fi
bash "$src/packaging/deps/install-k8s-validate.sh" "$node_dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

validate() { node "$src/tests/k8s/validate.cjs" --modules "$node_dir" --crd "$src/deploy/kubernetes/functionpolicy-crd.yaml" "$@"; }

# 1. Render. kustomize's warnings (`bases:` on current kubectl) go to stderr.
for dir in deploy/kubernetes examples/kubernetes deploy/kubernetes/servicemonitor deploy/kubernetes/rbac-report; do
  out=$work/$(echo "$dir" | tr / _).yaml
  if "$kubectl" kustomize "$src/$dir" >"$out" 2>"$out.err"; then
    ok "rendered $dir ($(grep -c '^kind:' "$out") objects)"
  else
    fail "kubectl kustomize $dir: $(cat "$out.err")"
  fi
done
base=$work/deploy_kubernetes.yaml
example=$work/examples_kubernetes.yaml
for kind in Namespace ServiceAccount ClusterRole ClusterRoleBinding ConfigMap CustomResourceDefinition DaemonSet Service; do
  grep -q "^kind: $kind\$" "$base" || fail "the base renders no $kind"
done
[[ $(grep -c '^kind: FunctionPolicy$' "$example") -ge 2 ]] || fail "the example overlay renders no FunctionPolicy objects"

# 3. What the DaemonSet must agree with.
for render in "$base" "$example"; do
  if node "$src/tests/k8s/daemonset_facts.cjs" --modules "$node_dir" --src "$src" "$render" \
    "$work/deploy_kubernetes_servicemonitor.yaml"; then
    ok "DaemonSet facts of $(basename "$render")"
  else
    fail "DaemonSet facts of $(basename "$render")"
  fi
done

# 4. Broken copies, each to be refused for its own reason. A sed that changed
# nothing would make the check vacuous: that fails here.
rejects=()
broken() {  # NAME INPUT SED_SCRIPT MESSAGE
  local out=$work/broken-${#rejects[@]}.yaml
  sed -E "$3" "$2" >"$out"
  if cmp -s "$2" "$out"; then
    fail "$1: the edit changed nothing"
  else
    rejects+=(--reject "$4" "$out")
  fi
}
crd=$src/deploy/kubernetes/functionpolicy-crd.yaml
policies=$src/examples/kubernetes/demo-policies.yaml
broken "misspelt field hostPid" "$base" 's/hostPID: true/hostPid: true/' '/spec/template/spec/hostPid: unknown field'
broken "wrong type hostPID: \"yes\"" "$base" 's/hostPID: true/hostPID: "yes"/' '/spec/template/spec/hostPID: type'
broken "misspelt field readOnlyRootFileSystem" "$base" 's/readOnlyRootFilesystem:/readOnlyRootFileSystem:/' \
  'readOnlyRootFileSystem: unknown field'
broken "misspelt FunctionPolicy key egres" "$policies" 's/^    egress:/    egres:/' '"additionalProperty":"egres"'
broken "FunctionPolicy port as a string" "$policies" 's/ports: \[53\]/ports: ["53"]/' '/ports/0: must be integer'
broken "FunctionPolicy mode outside the enum" "$policies" 's/mode: enforce/mode: enforcing/' '/spec/mode: must be equal to one of'
broken "misspelt CRD schema keyword" "$crd" '0,/minLength: 1/s//minLenght: 1/' 'minLenght: unknown field'
broken "a kind with no schema" "$base" 's/^kind: Service$/kind: Servise/' 'no schema for v1 Servise'

# 2 and 4 in one process: loading the schemas is most of its time.
if validate "$work"/*_kubernetes*.yaml "$src"/rules/examples/*.yaml "${rejects[@]}"; then
  ok "every object passes its schema (unknown fields refused); $((${#rejects[@]} / 3)) broken copies refused"
else
  fail "schema validation (above)"
fi

echo "k8s manifests: $passed passed, $failed failed"
((failed == 0))
