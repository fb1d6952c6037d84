// SPDX-License-Identifier: Apache-2.0
// What the rendered base must say beyond the API schema: the facts the
// DaemonSet shares with the systemd unit and with its own fnwarden.yaml, and
// the references between the objects (tests/k8s/validate_manifests.sh).
//
//   node daemonset_facts.cjs --modules DIR --src SRC_DIR RENDERED.yaml [SERVICEMONITOR.yaml]
//
// Prints one line per broken fact and exits 1 if there is any.
"use strict";
const fs = require("fs");
const path = require("path");
const { createRequire } = require("module");

const argv = process.argv.slice(2);
const opt = (name) => argv[argv.indexOf(name) + 1];
const files = argv.filter((a, i) => !a.startsWith("--") && !argv[i - 1]?.startsWith("--"));
const yaml = createRequire(path.resolve(opt("--modules"), "package.json"))("js-yaml");
const src = opt("--src");
const objects = files.flatMap((f) => yaml.loadAll(fs.readFileSync(f, "utf8")).filter(Boolean));
const problems = [];
const expect = (ok, what) => ok || problems.push(what);
const find = (kind, name) => objects.find((o) => o.kind === kind && (!name || o.metadata.name === name));
const same = (a, b) => JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());
const matches = (selector, labels) => Object.entries(selector).every(([k, v]) => labels[k] === v);

const ds = find("DaemonSet", "fnwarden");
if (!ds) {
  console.error("no DaemonSet fnwarden in the render");
  process.exit(1);
}
const pod = ds.spec.template.spec;
const container = pod.containers.find((c) => c.name === "fnwarden");
const sc = container.securityContext;

// The unit's capabilities, one for one.
const unit = fs.readFileSync(path.join(src, "packaging/systemd/fnwarden.service"), "utf8");
const unitCaps = unit.match(/^CapabilityBoundingSet=(.*)$/m)[1].trim().split(/\s+/).map((c) => c.replace(/^CAP_/, ""));
expect(same(sc.capabilities.add, unitCaps), `capabilities.add ${sc.capabilities.add} != the unit's ${unitCaps}`);
expect(same(sc.capabilities.drop, ["ALL"]), "capabilities.drop must be [ALL]");
expect(sc.privileged === false, "privileged must be false");
expect(sc.allowPrivilegeEscalation === false, "allowPrivilegeEscalation must be false (the unit's NoNewPrivileges)");
expect(sc.readOnlyRootFilesystem === true, "readOnlyRootFilesystem must be true");
expect(sc.seccompProfile?.type === "RuntimeDefault", "seccompProfile must be RuntimeDefault");
expect(pod.hostPID === true, "hostPID must be true");
expect(!pod.hostNetwork, "no hostNetwork: metrics listen in the pod's own network namespace");
expect(pod.priorityClassName === "system-node-critical", "priorityClassName system-node-critical");
expect(pod.tolerations?.some((t) => t.operator === "Exists" && !t.key && !t.effect), "a toleration for every taint");
expect(ds.spec.updateStrategy?.type === "RollingUpdate", "updateStrategy RollingUpdate");
const nodeName = container.env?.find((e) => e.name === "NODE_NAME");
expect(nodeName?.valueFrom?.fieldRef?.fieldPath === "spec.nodeName", "NODE_NAME from spec.nodeName");
expect(container.resources?.requests && container.resources?.limits?.memory, "resource requests and a memory limit");

// The image's tag is this tree's version (CMakeLists.txt project()).
const version = fs.readFileSync(path.join(src, "CMakeLists.txt"), "utf8").match(/project\(fnwarden VERSION ([0-9.]+)/)[1];
expect(container.image.endsWith(`:${version}`), `image ${container.image} is not tagged ${version}`);

// The daemon's config, as the pod mounts it.
const mounts = Object.fromEntries(container.volumeMounts.map((m) => [m.name, m]));
const volumes = Object.fromEntries(pod.volumes.map((v) => [v.name, v]));
for (const m of container.volumeMounts) expect(volumes[m.name], `volumeMount ${m.name} has no volume`);
const configArg = container.args[container.args.indexOf("--config") + 1];
const configMount = container.volumeMounts.find((m) => configArg?.startsWith(m.mountPath + "/"));
expect(configMount, `--config ${configArg} is on no volume`);
const configMapName = configMount && volumes[configMount.name].configMap?.name;
const configMap = find("ConfigMap", configMapName);
expect(configMap, `ConfigMap ${configMapName} is not in the render`);
const config = configMap ? yaml.load(configMap.data[path.basename(configArg)]) : {};
const mountOf = (file) => container.volumeMounts.find((m) => file === m.mountPath || file.startsWith(m.mountPath + "/"));
expect(mountOf(config.rules)?.name === "rules", `rules ${config.rules} is not the rules ConfigMap's mount`);
const rulesMap = find("ConfigMap", volumes.rules?.configMap?.name);
expect(rulesMap?.data?.["baseline.yaml"], "the rules ConfigMap holds baseline.yaml");
expect(volumes[mountOf(config.socket)?.name]?.hostPath?.path === path.dirname(config.socket),
  `socket ${config.socket} must be on the node's ${path.dirname(config.socket)} (hostPath)`);
expect(volumes[mountOf(config.pinRoot)?.name]?.hostPath?.path === "/sys/fs/bpf", `pinRoot ${config.pinRoot} on the node's bpffs`);
expect(mounts.bpffs?.mountPropagation === "HostToContainer", "bpffs mountPropagation HostToContainer");
expect(volumes[mounts.cgroup?.name]?.hostPath?.path === "/sys/fs/cgroup" && mounts.cgroup.mountPath === "/sys/fs/cgroup",
  "the node's cgroup2 at /sys/fs/cgroup");
expect(config.kubeconfig === "in-cluster", "kubeconfig: in-cluster");

// Metrics: the config's port is the container's, the probes' and the Service's.
const metricsPort = Number(String(config.metrics).split(":").pop());
const port = container.ports.find((p) => p.containerPort === metricsPort);
expect(port, `no containerPort ${metricsPort} (fnwarden.yaml metrics: ${config.metrics})`);
expect(config.metricsAllowNonLoopback === true && !String(config.metrics).startsWith("127."), "metrics off loopback");
for (const probe of ["startupProbe", "livenessProbe", "readinessProbe"]) {
  const get = container[probe]?.httpGet;
  expect(get?.path === "/healthz" && (get.port === port?.name || get.port === metricsPort), `${probe} on /healthz`);
}
const service = find("Service", "fnwarden-metrics");
expect(service && matches(service.spec.selector, ds.spec.template.metadata.labels), "the Service selects the daemon pods");
expect(service?.spec.ports.some((p) => p.targetPort === port?.name || p.targetPort === metricsPort), "Service targetPort");
expect(service?.metadata.annotations?.["prometheus.io/port"] === String(metricsPort), "prometheus.io/port");
const monitor = find("ServiceMonitor");
if (monitor) expect(matches(monitor.spec.selector.matchLabels, service.metadata.labels), "the ServiceMonitor selects the Service");

// RBAC: read pods and FunctionPolicies, nothing else.
const role = find("ClusterRole", "fnwarden");
const grants = (role?.rules || []).flatMap((r) =>
  r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g}/${res}:${v}`))));
const wanted = ["/pods", "fnwarden.io/functionpolicies"].flatMap((r) => ["get", "list", "watch"].map((v) => `${r}:${v}`));
expect(same(grants, wanted), `ClusterRole fnwarden grants ${grants}, want ${wanted}`);
const binding = find("ClusterRoleBinding", "fnwarden");
expect(binding?.subjects?.some((s) => s.kind === "ServiceAccount" && s.name === pod.serviceAccountName &&
  s.namespace === ds.metadata.namespace), "the ClusterRoleBinding names the DaemonSet's service account");
expect(find("ServiceAccount", pod.serviceAccountName), "the service account is in the render");
expect(find("CustomResourceDefinition", "functionpolicies.fnwarden.io"), "the FunctionPolicy CRD is in the render");

for (const p of problems) console.error(`daemonset_facts: ${p}`);
console.log(`daemonset_facts: ${problems.length} problems`);
process.exit(problems.length ? 1 : 0);
