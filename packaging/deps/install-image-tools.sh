#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what packaging/image/build.sh and tests/image/image_test.sh need on
# Debian 12 (bookworm); a fresh machine has none of it. Idempotent, like
# install-debian.sh: apt-get runs only when something is missing.
#   mmdebstrap  the root file system from Debian packages
#   umoci       the OCI layout (layer, config, labels)
#   skopeo      OCI layout -> docker-archive; inspects the archive
#   podman      the test loads the archive and runs the image (podman load)
#   runc        the test runs the image with the unit's capabilities
#   python3     size_by_package.py
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  echo "install-image-tools.sh: run as root (it calls apt-get)" >&2
  exit 1
fi

packages=(mmdebstrap umoci skopeo podman runc python3)

# shellcheck source=apt-missing.sh
source "$(dirname "$0")/apt-missing.sh"
install_missing_packages install-image-tools.sh "image tools" "${packages[@]}"
