#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Made containerd-runtime-default-seccomp.json, once, from containerd's own
# definition of RuntimeDefault (Apache-2.0):
#
#   git -C containerd show v1.6.20:contrib/seccomp/seccomp_default.go >seccomp_default.go
#   python3 extract_containerd_seccomp.py seccomp_default.go >containerd-runtime-default-seccomp.json
#
# The JSON keeps the profile's data (syscall names per condition) and none
# of its code; pod_to_oci.py builds the OCI seccomp section from it for a
# container's capabilities, as containerd's DefaultProfile does. v1.6.20 is
# Debian 12's containerd; 1.6.9 is the first to let bpf(2) through for
# CAP_BPF and perf_event_open(2) for CAP_PERFMON (docs/kubernetes.md).
import json, re, sys
src = open(sys.argv[1]).read()
def names_after(pos):
    m = re.compile(r'Names:\s*\[\]string\{(.*?)\}', re.S).search(src, pos)
    return re.findall(r'"([a-z0-9_]+)"', m.group(1)), m.end()
start = src.index('syscalls := []specs.LinuxSyscall{')
base, _ = names_after(start)
pers = [int(v, 16) for v in re.findall(r'Value: (0x[0-9a-f]+),', src[start:src.index('s := &specs.LinuxSeccomp')])]
amd64, _ = names_after(src.index('case "amd64":', src.index('// include by arch')))
ptrace, _ = names_after(src.index('// include by kernel version'))
caps = {}
loop = src.index('for _, c := range sp.Process.Capabilities.Bounding')
end_loop = src.index('if !admin {')
for m in re.finditer(r'case "(CAP_[A-Z_]+)":', src[loop:end_loop]):
    caps[m.group(1)], _ = names_after(loop + m.end())
na = src[end_loop:]
clone, _ = names_after(src.index('default:', end_loop))
clone3, _ = names_after(src.index('clone3 is explicitly', end_loop))
out = {
  "source": "containerd v1.6.20, contrib/seccomp/seccomp_default.go (DefaultProfile)",
  "defaultAction": "SCMP_ACT_ERRNO",
  "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
  "allow": base, "personality_equal_to": pers, "allow_amd64": amd64, "allow_kernel_4_8": ptrace,
  "allow_with_capability": caps,
  "without_cap_sys_admin": {"clone_without_flags": clone, "clone_flags_mask": 0x7E020000, "enosys": clone3},
}
json.dump(out, sys.stdout, indent=1)
