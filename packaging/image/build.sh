#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the fnwarden container image from Debian packages and the project's
# own .deb, without a registry, a Dockerfile or a container engine:
#
#   packaging/image/build.sh OUTDIR [BUILD_DIR]
#
#   OUTDIR/fnwarden-image.tar   docker-archive (docker load, podman load,
#                               ctr images import), tagged
#                               ghcr.io/fnwarden/fnwarden:<version>
#   OUTDIR/oci/                 the same image as an OCI layout, tag <version>
#   OUTDIR/image-digest         the manifest digest of the OCI image
#   OUTDIR/image-size.txt       bytes per Debian package in the root fs
#
# BUILD_DIR (default: build/ of this checkout) holds the fnwarden binary; the
# .deb is made from it by packaging/deb/build-deb.sh. The CMake target
# `image` does both: cmake --build build --target image.
#
# Steps: mmdebstrap installs bookworm's Essential packages plus our .deb and
# its Depends into a tarball (no apt, no docs, no man pages); umoci makes it
# the single layer of an OCI image and writes the config (entrypoint, user,
# labels); skopeo converts that to a docker-archive.
#
# Reproducible: SOURCE_DATE_EPOCH is the last commit's time (unless set), so
# two builds of one commit from the same package versions give the same
# digest (tests/image/image_test.sh checks it). Package versions come from
# $FNW_IMAGE_MIRROR (deb.debian.org): between two builds a point release may
# change them; a snapshot.debian.org URL pins them.
#
# Needs root (mmdebstrap's root mode; unshare mode needs user namespaces),
# mmdebstrap, umoci and skopeo: packaging/deps/install-image-tools.sh, which
# this script runs when one is missing and it is root.
#
# Environment:
#   FNW_IMAGE_MIRROR     Debian mirror (default http://deb.debian.org/debian)
#   FNW_IMAGE_APT_CACHE  directory keeping downloaded .debs between builds
#   FNW_IMAGE_SOURCE     org.opencontainers.image.source
#   FNW_IMAGE_NAME       repository name (default ghcr.io/fnwarden/fnwarden)
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
  echo "usage: $0 OUTDIR [BUILD_DIR]" >&2
  exit 2
fi
src=$(cd "$(dirname "$0")/../.." && pwd)
outdir=$(mkdir -p "$1" && cd "$1" && pwd)
build_dir=$(cd "${2:-$src/build}" && pwd)
here=$src/packaging/image

die() { echo "build.sh: $*" >&2; exit 1; }

# The socket group's id, fixed so that it is the same in every build and can
# be named on the node and in the pod's securityContext (runAsGroup).
socket_gid=9464
image_name=${FNW_IMAGE_NAME:-ghcr.io/fnwarden/fnwarden}
image_source=${FNW_IMAGE_SOURCE:-https://github.com/fnwarden/fnwarden}
mirror=${FNW_IMAGE_MIRROR:-http://deb.debian.org/debian}

for tool in mmdebstrap umoci skopeo; do
  command -v "$tool" >/dev/null && continue
  [[ $(id -u) -eq 0 ]] || die "$tool not found: run packaging/deps/install-image-tools.sh as root"
  bash "$src/packaging/deps/install-image-tools.sh"
  break
done

version=$(sed -n 's/^project(fnwarden VERSION \([0-9][0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
[[ -n $version ]] || die "no 'project(fnwarden VERSION x.y.z' line in $src/CMakeLists.txt"
revision=$(git -C "$src" rev-parse HEAD 2>/dev/null) || die "$src is not a git checkout: no revision label"
if [[ -n $(git -C "$src" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
  revision="$revision-dirty"
fi
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$src" log -1 --format=%ct)}
created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
export LC_ALL=C TZ=UTC

work=$(mktemp -d /var/tmp/fnw-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 0755 "$work"  # mmdebstrap's unshare mode reads the .deb as another uid

deb=$(bash "$src/packaging/deb/build-deb.sh" "$work/deb" "$build_dir")
chmod -R a+rX "$work/deb"

# --- root file system ------------------------------------------------------------
# essential: only Essential: yes packages (dpkg, coreutils, dash, bash, ...;
# no apt), plus our .deb and its Depends, resolved by apt outside the chroot.
# dpkg never writes documentation, man pages or translations; copyright
# files stay (licences travel with the binaries). The merged-usr hook makes
# the /bin -> usr/bin links itself and installs usr-is-merged: left to
# itself apt satisfies init-system-helpers' "usrmerge | usr-is-merged" with
# usrmerge, which brings the whole of perl (58 MB) to convert a system that
# needs no converting. force-unsafe-io: no fsync per unpacked file (a
# tarball is the result; slim-rootfs.sh drops the option again).
hooks=(
  # Our group before the .deb's postinst runs: it then finds the group and
  # does not create one with whatever id is free (101 in one build, 102 in
  # the next).
  --essential-hook="echo 'fnwarden:x:$socket_gid:' >>\"\$1/etc/group\""
  --customize-hook="install -m 0640 '$here/fnwarden.yaml' \"\$1/etc/fnwarden/fnwarden.yaml\""
  --customize-hook="bash '$here/slim-rootfs.sh' \"\$1\" '$work'"
)
cache_opts=()
if [[ -n ${FNW_IMAGE_APT_CACHE:-} ]]; then
  mkdir -p "$FNW_IMAGE_APT_CACHE"
  cache=$(cd "$FNW_IMAGE_APT_CACHE" && pwd)
  cache_opts=(
    --skip=essential/unlink
    --setup-hook="mkdir -p \"\$1/var/cache/apt/archives/\""
    --setup-hook="sync-in '$cache' /var/cache/apt/archives/"
    --customize-hook="sync-out /var/cache/apt/archives '$cache'"
  )
fi
# The cache's sync-out must come before slim-rootfs.sh empties the archives.
echo "build.sh: mmdebstrap bookworm (essential + $(basename "$deb")) from $mirror" >&2
mmdebstrap --variant=essential --format=tar --verbose \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/lintian/*' \
  --dpkgopt=force-unsafe-io \
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
  --include="$deb" --hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount \
  "${cache_opts[@]}" "${hooks[@]}" \
  bookworm "$work/rootfs.tar" "$mirror" >"$work/mmdebstrap.log" 2>&1 ||
  { tail -30 "$work/mmdebstrap.log" >&2; die "mmdebstrap failed (network? set FNW_IMAGE_MIRROR)"; }

mkdir "$work/rootfs"
tar -C "$work/rootfs" -xf "$work/rootfs.tar"
python3 "$here/size_by_package.py" "$work/rootfs" >"$work/image-size.txt"

# --- OCI image ---------------------------------------------------------------------
layout=$work/oci
umoci init --layout "$layout"
umoci new --image "$layout:$version"
umoci raw add-layer --image "$layout:$version" \
  --history.created="$created" --history.created_by="packaging/image/build.sh (mmdebstrap bookworm + fnwarden $version)" \
  "$work/rootfs.tar"
config_args=(
  --created="$created" --history.created="$created" --history.created_by="packaging/image/build.sh (config)"
  --config.entrypoint=/usr/bin/fnwarden --config.entrypoint=daemon
  --config.user="0:$socket_gid"
  --config.env=PATH=/usr/sbin:/usr/bin:/sbin:/bin
  --config.workingdir=/
  --config.stopsignal=SIGTERM
  --config.label="org.opencontainers.image.title=fnwarden"
  --config.label="org.opencontainers.image.description=eBPF sandbox monitor for serverless functions (DaemonSet)"
  --config.label="org.opencontainers.image.version=$version"
  --config.label="org.opencontainers.image.revision=$revision"
  --config.label="org.opencontainers.image.source=$image_source"
  --config.label="org.opencontainers.image.created=$created"
  --config.label="org.opencontainers.image.base.name=debian:bookworm (mmdebstrap --variant=essential)"
)
umoci config --image "$layout:$version" "${config_args[@]}"
umoci gc --layout "$layout"

rm -rf "$outdir/oci" "$outdir/fnwarden-image.tar"
cp -a "$layout" "$outdir/oci"
skopeo copy --quiet "oci:$outdir/oci:$version" "docker-archive:$outdir/fnwarden-image.tar:$image_name:$version"
skopeo inspect --format '{{.Digest}}' "oci:$outdir/oci:$version" >"$outdir/image-digest"
cp "$work/image-size.txt" "$outdir/image-size.txt"
cp "$work/mmdebstrap.log" "$outdir/mmdebstrap.log"
echo "build.sh: $image_name:$version $(cat "$outdir/image-digest")" >&2
echo "build.sh: root fs $(du -sh --apparent-size "$work/rootfs" | cut -f1), archive $(du -h --apparent-size "$outdir/fnwarden-image.tar" | cut -f1)" >&2
echo "$outdir/fnwarden-image.tar"
