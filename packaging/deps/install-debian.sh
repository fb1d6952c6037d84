#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs every build and test dependency of fnwarden on Debian 12 (bookworm).
# Idempotent and non-interactive: packages already present are left alone, and
# `apt-get update` runs only when something is missing.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  echo "install-debian.sh: run as root (it calls apt-get)" >&2
  exit 1
fi

packages=(
  # build toolchain
  build-essential cmake pkg-config git
  # BPF toolchain: clang -target bpf, bpftool gen skeleton, libbpf
  clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev
  # libFuzzer and clang sanitizer runtimes (tests/fuzz)
  libclang-rt-14-dev
  # userspace libraries
  libboost-program-options-dev libspdlog-dev libfmt-dev libyaml-cpp-dev
  nlohmann-json3-dev libseccomp-dev libcurl4-openssl-dev libssl-dev libcpp-httplib-dev
  libre2-dev
  # sd_notify: readiness and watchdog pings to systemd; sd_journal_sendv:
  # events as structured journal entries (runtime: libsystemd0, via shlibdeps)
  libsystemd-dev
  # tests and benchmarks
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  # io_uring in the test workload (Landlock must stop io_uring opens too)
  liburing-dev
  # used by the test harness to create cgroups / inspect processes
  procps util-linux
  # the daemon test scrapes /metrics like Prometheus would
  curl
  # the differential test (tests/e2e/differential) reads events with jq
  jq
  # a real OCI runtime starts the container the runc test attributes
  runc
  # e2e.oci_runtime's containerd case: fnwarden-runtime as containerd 1.6's
  # runc binary (ctr run --runc-binary), as a RuntimeClass handler uses it
  containerd
  # the unit's test under a real systemd (tests/systemd/unit_test.sh): a
  # bookworm rootfs made by mmdebstrap, booted by systemd-nspawn
  mmdebstrap systemd-container
  # the pod-shaped Kubernetes test (tests/k8s/pod_e2e_test.sh): the image
  # (mmdebstrap above, umoci, skopeo), the manifest read by pod_to_oci.py
  # (python3-yaml), the pod's network (iproute2), its API server's
  # certificates (openssl; the bundle test makes Ed25519 keys with it too,
  # as an operator would: openssl genpkey)
  umoci skopeo python3-yaml iproute2 openssl
  # the .deb's man pages are generated from --help; the packaging test runs
  # lintian on the .deb and renders the pages
  help2man lintian man-db
)

# shellcheck source=apt-missing.sh
source "$(dirname "$0")/apt-missing.sh"
install_missing_packages install-debian.sh "dependencies" "${packages[@]}"

# promtool, for the lint of a live daemon's /metrics (tests/e2e/daemon_test.sh).
# Only the one binary: Debian ships it in the `prometheus` package, whose
# install is 96 MB with a dozen JavaScript libraries and starts a Prometheus
# server from its postinst. So the .deb (19 MB) is downloaded and promtool
# alone taken out of it, into /usr/local/bin.
if ! command -v promtool >/dev/null; then
  echo "install-debian.sh: installing promtool (from Debian's prometheus package)"
  promtool_tmp=$(mktemp -d)
  (cd "$promtool_tmp" && { apt-get download -qq prometheus || { apt-get update -qq && apt-get download -qq prometheus; }; })
  dpkg-deb --fsys-tarfile "$promtool_tmp"/prometheus_*.deb | tar -x -C "$promtool_tmp" ./usr/bin/promtool
  install -m 0755 "$promtool_tmp/usr/bin/promtool" /usr/local/bin/promtool
  rm -rf "$promtool_tmp"
fi

# kubectl (kustomize) and Node.js for the Kubernetes manifest test
# (tests/k8s): only when the commands are missing, since this machine's
# kubectl and nodejs may come from elsewhere and Debian's would conflict.
bash "$(dirname "$0")/install-k8s-validate.sh" --commands-only
