// SPDX-License-Identifier: Apache-2.0
// fnwarden-runtime: a runc wrapper (RuntimeClass -> containerd runtime
// handler -> this -> runc; docs/kubernetes.md). Every command goes to runc
// as it came, except create and run of a container a policy takes: its
// config.json is rewritten so that fnwarden's container init (Landlock and
// seccomp from the policy, then the entrypoint) runs first, and its cgroup
// is registered with the daemon before the entrypoint can run. A container
// no policy takes is not touched. A container that claims a policy while
// the daemon cannot be asked is refused (fail closed).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace fnw {

struct RuntimeSettings {
    std::string runc;                  // "" = FNWARDEN_RUNC, else /usr/sbin/runc, /usr/bin/runc, ...
    std::string socket;                // the daemon's control socket
    std::filesystem::path state_root;  // per-container plan directories
    std::filesystem::path init;        // the static container init
};

// The settings from the environment (FNWARDEN_RUNC, FNWARDEN_SOCKET,
// FNWARDEN_RUNTIME_STATE, FNWARDEN_CONTAINER_INIT) and defaults beside
// the running executable.
RuntimeSettings runtime_settings_from_environment();

// The whole wrapper: returns the exit status, or does not return (runc
// exec'd in its place).
int run_oci_runtime(const std::vector<std::string>& args, RuntimeSettings settings);

}  // namespace fnw
