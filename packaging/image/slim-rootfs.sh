#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# mmdebstrap customize hook of packaging/image/build.sh: removes what a
# running container never reads. $1 is the root file system, $2 build.sh's
# work directory. Documentation, man pages and translations are never
# unpacked (build.sh's path-exclude).
set -euo pipefail
root=$1
build_work=${2:-}
[[ -d $root/usr/bin ]] || { echo "slim-rootfs.sh: $root is not a root file system" >&2; exit 1; }

# Downloaded packages (kept only with --skip=essential/unlink, after the
# cache hook copied them out) and apt's state: the image has no apt.
rm -rf "$root"/var/cache/apt "$root"/var/lib/apt "$root"/var/cache/debconf/*-old
# dpkg's backups and logs: they change with every build.
rm -f "$root"/var/lib/dpkg/*-old "$root"/var/log/*.log "$root"/var/log/apt/* 2>/dev/null || true
# The unit and its drop-in directory: no systemd in the container.
rm -f "$root"/lib/systemd/system/fnwarden.service
# file-mirror-automount mounts the .deb at its own path in the chroot and
# leaves the empty mount points behind: a mktemp name, different in every
# build (the one thing that kept two builds from matching).
if [[ $build_work == /var/tmp/fnw-image.* ]]; then
  rm -rf "${root:?}$build_work"
fi
# build.sh's force-unsafe-io is for the build only (dpkgopt writes it here).
sed -i '/^force-unsafe-io$/d' "$root/etc/dpkg/dpkg.cfg.d/99mmdebstrap"
# The host's name and resolver: the runtime mounts its own.
: >"$root/etc/hostname"
: >"$root/etc/resolv.conf"
