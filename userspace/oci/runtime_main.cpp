// SPDX-License-Identifier: Apache-2.0
// fnwarden-runtime: a drop-in runc for containerd's runtime handlers
// (oci/container_guard.hpp, docs/kubernetes.md).
#include <string>
#include <vector>

#include "oci/container_guard.hpp"

int main(int argc, char** argv) {
    return fnw::run_oci_runtime(std::vector<std::string>(argv + 1, argv + argc),
                                fnw::runtime_settings_from_environment());
}
