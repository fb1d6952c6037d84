#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# A pod's container as the kubelet and containerd would hand it to runc: the
# OCI runtime config (config.json) derived from a rendered manifest, so the
# pod-shaped test runs the DaemonSet exactly as deploy/kubernetes says and
# nothing is written twice.
#
#   pod_to_oci.py MANIFEST.yaml KIND NAME CONTAINER OUT_CONFIG.json [options]
#
# KIND NAME: the DaemonSet (its pod template) or a Pod in MANIFEST, which
# `kubectl kustomize` rendered (several documents; ConfigMaps are looked up
# there by the name the pod references, hash suffix included).
#
# What it takes from the pod spec, and how (containerd 1.6 + kubelet on a
# cgroup v2 node):
#   command/args over the image's Entrypoint/Cmd; env (value, fieldRef);
#   securityContext: runAsUser/runAsGroup/supplementalGroups/fsGroup,
#     capabilities (containerd's default set, then drop, then add),
#     allowPrivilegeEscalation -> noNewPrivileges, readOnlyRootFilesystem,
#     seccompProfile RuntimeDefault -> containerd's profile for the
#     container's capabilities (containerd-runtime-default-seccomp.json),
#     privileged (refused: this test has no use for it);
#   hostPID/hostNetwork/hostIPC -> which namespaces are the node's; the
#     cgroup namespace is private (containerd on cgroup v2);
#   volumes: hostPath (bind, readOnly, mountPropagation), configMap (its
#     data as files, read-only), emptyDir (tmpfs for medium Memory, else a
#     directory), the service-account token (when automounted);
#   resources.limits.memory -> the memory limit.
# The default mounts, masked and read-only paths are containerd's for an
# unprivileged container.
import argparse
import json
import os
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))

# containerd's default capability set (oci/spec.go, defaultUnixCaps).
DEFAULT_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
                "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
                "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]
MASKED = ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
          "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"]
READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def die(message):
    sys.exit("pod_to_oci.py: " + message)


def find(objects, kind, name):
    for o in objects:
        if o and o.get("kind") == kind and o.get("metadata", {}).get("name") == name:
            return o
    die(f"no {kind} {name} in the manifest")


def pod_spec(objects, kind, name):
    o = find(objects, kind, name)
    return o["spec"] if kind == "Pod" else o["spec"]["template"]["spec"]


def capabilities(sc):
    caps = list(DEFAULT_CAPS)
    wanted = sc.get("capabilities", {})
    drop = ["CAP_" + c.upper() for c in wanted.get("drop", [])]
    caps = [] if "CAP_ALL" in drop else [c for c in caps if c not in drop]
    for c in wanted.get("add", []):
        c = "CAP_" + c.upper()
        if c not in caps:
            caps.append(c)
    return caps


def seccomp(profile_type, caps):
    if profile_type in (None, "Unconfined"):
        return None
    if profile_type != "RuntimeDefault":
        die(f"seccompProfile {profile_type}: only RuntimeDefault and Unconfined are modelled")
    with open(os.path.join(HERE, "containerd-runtime-default-seccomp.json")) as f:
        p = json.load(f)
    allow = p["allow"] + p["allow_amd64"] + p["allow_kernel_4_8"]
    for cap in caps:
        allow += p["allow_with_capability"].get(cap, [])
    rules = [{"names": sorted(set(allow)), "action": "SCMP_ACT_ALLOW"}]
    rules += [{"names": ["personality"], "action": "SCMP_ACT_ALLOW",
               "args": [{"index": 0, "value": v, "op": "SCMP_CMP_EQ"}]} for v in p["personality_equal_to"]]
    if "CAP_SYS_ADMIN" not in caps:
        no_admin = p["without_cap_sys_admin"]
        rules.append({"names": no_admin["clone_without_flags"], "action": "SCMP_ACT_ALLOW",
                      "args": [{"index": 0, "value": no_admin["clone_flags_mask"], "valueTwo": 0,
                                "op": "SCMP_CMP_MASKED_EQ"}]})
        rules.append({"names": no_admin["enosys"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38})
    return {"defaultAction": p["defaultAction"], "architectures": p["architectures"], "syscalls": rules}


def env_value(item, args):
    if "value" in item:
        return item["value"]
    field = item.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
    known = {"spec.nodeName": args.node_name, "metadata.name": args.pod_name,
             "metadata.namespace": args.pod_namespace, "status.podIP": args.pod_ip, "metadata.uid": args.pod_uid}
    if field not in known:
        die(f"env {item['name']}: valueFrom {item.get('valueFrom')} is not modelled")
    return known[field]


def volume_mounts(objects, spec, container, args):
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    mounts = []
    for vm in container.get("volumeMounts", []):
        v = volumes[vm["name"]]
        ro = ["ro"] if vm.get("readOnly") else ["rw"]
        if "hostPath" in v:
            source = v["hostPath"]["path"]
            for old, new in args.host_path:
                if source == old or source.startswith(old + "/"):
                    source = new + source[len(old):]
            if v["hostPath"].get("type") == "DirectoryOrCreate":
                os.makedirs(source, exist_ok=True)
            propagation = {"HostToContainer": "rslave", "Bidirectional": "rshared"}.get(
                vm.get("mountPropagation"), "rprivate")
            mounts.append({"destination": vm["mountPath"], "type": "bind", "source": source,
                           "options": ["rbind", propagation] + ro})
        elif "configMap" in v:
            data = find(objects, "ConfigMap", v["configMap"]["name"]).get("data", {})
            directory = os.path.join(args.volumes_dir, vm["name"])
            os.makedirs(directory, exist_ok=True)
            for key, text in data.items():
                with open(os.path.join(directory, key), "w") as f:
                    f.write(text)
            mounts.append({"destination": vm["mountPath"], "type": "bind", "source": directory,
                           "options": ["rbind", "rprivate", "ro"]})
        elif "emptyDir" in v:
            if v["emptyDir"].get("medium") == "Memory":
                size = v["emptyDir"].get("sizeLimit", "")
                opts = ["nosuid", "nodev", "mode=1777"] + ([f"size={size.replace('Mi', 'm')}"] if size else [])
                mounts.append({"destination": vm["mountPath"], "type": "tmpfs", "source": "tmpfs", "options": opts})
            else:
                directory = os.path.join(args.volumes_dir, vm["name"])
                os.makedirs(directory, exist_ok=True)
                os.chmod(directory, 0o1777)
                mounts.append({"destination": vm["mountPath"], "type": "bind", "source": directory,
                               "options": ["rbind", "rprivate", "rw"]})
        else:
            die(f"volume {vm['name']}: only hostPath, configMap and emptyDir are modelled")
    if spec.get("automountServiceAccountToken", True) and args.service_account_dir:
        mounts.append({"destination": SERVICE_ACCOUNT_DIR, "type": "bind", "source": args.service_account_dir,
                       "options": ["rbind", "rprivate", "ro"]})
    return mounts


def default_mounts():
    # sysfs read-only: an unprivileged container's, as containerd mounts it.
    return [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("manifest")
    ap.add_argument("kind", choices=["DaemonSet", "Pod"])
    ap.add_argument("name")
    ap.add_argument("container")
    ap.add_argument("out")
    ap.add_argument("--image-config", required=True, help="the image's config (skopeo inspect --config)")
    ap.add_argument("--rootfs", required=True)
    ap.add_argument("--volumes-dir", required=True, help="where configMap and emptyDir contents go")
    ap.add_argument("--host-path", action="append", default=[], type=lambda s: tuple(s.split("=", 1)),
                    help="OLD=NEW: a hostPath under OLD is taken from NEW (keeps a test off the node's /run)")
    ap.add_argument("--netns", help="the pod's network namespace (a path); required unless hostNetwork")
    ap.add_argument("--cgroups-path", required=True)
    ap.add_argument("--node-name", default="")
    ap.add_argument("--pod-name", default="")
    ap.add_argument("--pod-namespace", default="")
    ap.add_argument("--pod-ip", default="")
    ap.add_argument("--pod-uid", default="")
    ap.add_argument("--service-account-dir")
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE the kubelet adds (service variables)")
    args = ap.parse_args()

    with open(args.manifest) as f:
        objects = list(yaml.safe_load_all(f))
    with open(args.image_config) as f:
        image = json.load(f).get("config", {})
    spec = pod_spec(objects, args.kind, args.name)
    containers = {c["name"]: c for c in spec["containers"]}
    if args.container not in containers:
        die(f"no container {args.container}")
    c = containers[args.container]
    sc = dict(spec.get("securityContext", {}))
    for key in ("runAsUser", "runAsGroup", "seccompProfile"):  # the container's own win
        if key in c.get("securityContext", {}):
            sc[key] = c["securityContext"][key]
    csc = c.get("securityContext", {})
    if csc.get("privileged"):
        die("privileged containers are not modelled")

    image_user = (image.get("User") or "0:0").split(":")
    uid = sc.get("runAsUser", int(image_user[0]))
    gid = sc.get("runAsGroup", int(image_user[1]) if len(image_user) > 1 else 0)
    groups = sorted(set(spec.get("securityContext", {}).get("supplementalGroups", []) +
                        ([spec["securityContext"]["fsGroup"]] if "fsGroup" in spec.get("securityContext", {}) else [])))
    caps = capabilities(csc)
    argv = (c.get("command") or image.get("Entrypoint") or []) + (
        c.get("args") if "args" in c else ([] if "command" in c else image.get("Cmd") or []))
    env = list(image.get("Env") or []) + [f"HOSTNAME={args.pod_name}"] + args.env
    env += [f"{e['name']}={env_value(e, args)}" for e in c.get("env", [])]

    host_network = spec.get("hostNetwork", False)
    namespaces = [{"type": "mount"}, {"type": "cgroup"}]
    if not spec.get("hostPID"):
        namespaces.append({"type": "pid"})
    if not spec.get("hostIPC"):
        namespaces.append({"type": "ipc"})
    if not host_network:
        if not args.netns:
            die("the pod has its own network namespace: --netns is required")
        namespaces += [{"type": "network", "path": args.netns}, {"type": "uts"}]

    linux = {
        "namespaces": namespaces,
        "cgroupsPath": args.cgroups_path,
        "maskedPaths": MASKED,
        "readonlyPaths": READONLY,
    }
    memory = c.get("resources", {}).get("limits", {}).get("memory")
    if memory:
        units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30}
        linux["resources"] = {"memory": {"limit": int(memory[:-2]) * units[memory[-2:]]}}
    profile = seccomp(sc.get("seccompProfile", {}).get("type"), caps)
    if profile:
        linux["seccomp"] = profile

    config = {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": uid, "gid": gid, **({"additionalGids": groups} if groups else {})},
            "args": argv,
            "env": env,
            "cwd": c.get("workingDir") or image.get("WorkingDir") or "/",
            "capabilities": {k: caps for k in ("bounding", "effective", "permitted")},
            "noNewPrivileges": csc.get("allowPrivilegeEscalation", True) is False,
        },
        "root": {"path": args.rootfs, "readonly": bool(csc.get("readOnlyRootFilesystem"))},
        "hostname": args.pod_name if not host_network else os.uname().nodename,
        "mounts": default_mounts() + volume_mounts(objects, spec, c, args),
        "linux": linux,
    }
    with open(args.out, "w") as f:
        json.dump(config, f, indent=1)


if __name__ == "__main__":
    main()
