#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds fnwarden_<version>_<arch>.deb from an existing build tree, without
# debhelper: a staging tree plus DEBIAN/, packed by dpkg-deb.
#
#   packaging/deb/build-deb.sh OUTDIR BUILD_DIR
#
# BUILD_DIR holds the fnwarden binary (cmake --build BUILD_DIR first; the
# `deb` target of packaging/CMakeLists.txt does both). The version is the
# CMake project version. Needs dpkg-deb (dpkg) and strip (binutils);
# dpkg-shlibdeps (dpkg-dev) when present, see compute_depends. No root:
# --root-owner-group makes every file root:root in the package.
#
# Installs:
#   /usr/bin/fnwarden                          stripped copy of BUILD_DIR/fnwarden
#   /usr/bin/fnwarden-runtime                  the runc wrapper (docs/kubernetes.md)
#   /usr/bin/fnwarden-run                      `fnwarden run` under the daemon, quick to start
#   /usr/libexec/fnwarden/fnwarden-container-init   its static container init
#   /lib/systemd/system/fnwarden.service       not enabled, not started
#   /etc/fnwarden/fnwarden.yaml                conffile: every key at its default
#   /etc/fnwarden/rules/baseline.yaml          conffile: the only active policy
#   /usr/share/fnwarden/rules/examples/*.yaml  examples, not active
#   /usr/share/fnwarden/rules/baseline.yaml    pristine baseline, so examples
#                                              find one "one directory up"
#   /usr/share/doc/fnwarden/                   README.md, docs/*.md, copyright, changelog.gz
#   /etc/logrotate.d/fnwarden                  conffile: rotates event files in /var/log/fnwarden
#   /usr/share/lintian/overrides/fnwarden      the deliberate exceptions, each with its reason
#   /usr/share/man/man8/fnwarden*.8.gz         fnwarden(8) and a page per subcommand
#   /usr/share/bash-completion/completions/fnwarden   bash completion
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 OUTDIR BUILD_DIR" >&2
  exit 2
fi
outdir=$1
build_dir=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
binary=$build_dir/fnwarden

die() { echo "build-deb.sh: $*" >&2; exit 1; }

[[ -x $binary ]] || die "$binary not found: build the fnwarden target first"
command -v dpkg-deb >/dev/null || die "dpkg-deb not found (apt-get install dpkg)"
command -v strip >/dev/null || die "strip not found (apt-get install binutils)"

version=$(sed -n 's/^project(fnwarden VERSION \([0-9][0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
[[ -n $version ]] || die "no 'project(fnwarden VERSION x.y.z' line in $src/CMakeLists.txt"
# The changelog's newest entry must name the same version: dpkg and lintian
# read it there, the binary's --version reads CMake's.
changelog_version=$(sed -n '1s/^fnwarden (\([^)]*\)).*/\1/p' "$src/packaging/deb/changelog")
[[ $changelog_version == "$version" ]] ||
  die "packaging/deb/changelog's newest entry is '$changelog_version', CMakeLists.txt says '$version'"
# The binary packed must be that version too (a tree built before the
# version changed would say otherwise): "fnwarden X.Y.Z (commit C)".
binary_version=$("$binary" --version | sed -n 's/^fnwarden \([0-9][0-9.]*\) .*/\1/p')
[[ $binary_version == "$version" ]] ||
  die "$binary says '$("$binary" --version)', CMakeLists.txt says '$version': rebuild it"
arch=$(dpkg --print-architecture)
maintainer=${FNW_DEB_MAINTAINER:-"fnwarden maintainers <maintainers@fnwarden.invalid>"}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/fnwarden_${version}_${arch}
umask 022

# --- files ---------------------------------------------------------------------
install -d "$root/usr/bin" "$root/lib/systemd/system" "$root/etc/fnwarden/rules" \
  "$root/usr/share/fnwarden/rules/examples" "$root/usr/share/doc/fnwarden" "$root/DEBIAN"

# A stripped copy: the build tree keeps its symbols for debugging. The BPF
# object is embedded in .rodata (skeleton) and survives stripping.
strip --strip-unneeded --remove-section=.comment --remove-section=.note -o "$root/usr/bin/fnwarden" "$binary"
chmod 0755 "$root/usr/bin/fnwarden"
# The runc wrapper and the static init it bind-mounts into containers
# (docs/kubernetes.md), built beside fnwarden (the fnwarden-runtime target).
install -d "$root/usr/libexec/fnwarden"
for b in fnwarden-runtime fnwarden-container-init fnwarden-run; do
  [[ -x $build_dir/$b ]] || die "$build_dir/$b not found: build the $b target first"
done
strip --strip-unneeded --remove-section=.comment --remove-section=.note -o "$root/usr/bin/fnwarden-runtime" \
  "$build_dir/fnwarden-runtime"
# `fnwarden run` under the daemon in a binary that starts in a few ms
# (docs/performance.md); it hands anything else to the fnwarden beside it.
strip --strip-unneeded --remove-section=.comment --remove-section=.note -o "$root/usr/bin/fnwarden-run" \
  "$build_dir/fnwarden-run"
strip --strip-unneeded --remove-section=.comment --remove-section=.note \
  -o "$root/usr/libexec/fnwarden/fnwarden-container-init" "$build_dir/fnwarden-container-init"
chmod 0755 "$root/usr/bin/fnwarden-runtime" "$root/usr/bin/fnwarden-run" "$root/usr/libexec/fnwarden/fnwarden-container-init"

install -m 0644 "$src/packaging/systemd/fnwarden.service" "$root/lib/systemd/system/fnwarden.service"
# 0640: an admin may put a webhook URL carrying a token in it; only the
# daemon (root) reads it.
install -m 0640 "$src/packaging/fnwarden.yaml" "$root/etc/fnwarden/fnwarden.yaml"

# A fresh install enforces nothing but the baseline: the daemon watches every
# file of /etc/fnwarden/rules, and an example policy there would select (and
# in enforce mode kill) any function that happens to share its name.
install -m 0644 "$src/rules/baseline.yaml" "$root/etc/fnwarden/rules/baseline.yaml"
install -m 0644 "$src/rules/baseline.yaml" "$root/usr/share/fnwarden/rules/baseline.yaml"
for f in "$src"/rules/examples/*.yaml; do
  install -m 0644 "$f" "$root/usr/share/fnwarden/rules/examples/"
done

install -m 0644 "$src/README.md" "$root/usr/share/doc/fnwarden/README.md"
install -m 0644 "$src/packaging/deb/copyright" "$root/usr/share/doc/fnwarden/copyright"
# A native package's changelog; -n keeps the name and time out of the gzip
# header, so one commit packs to the same bytes.
gzip -9n <"$src/packaging/deb/changelog" >"$root/usr/share/doc/fnwarden/changelog.gz"
chmod 0644 "$root/usr/share/doc/fnwarden/changelog.gz"
# Man pages, generated from the binary's own --help (packaging/man/).
command -v help2man >/dev/null || die "help2man not found (apt-get install help2man)"
bash "$src/packaging/man/generate.sh" "$binary" "$root/usr/share/man/man8"
# The wrapper's --help is runc's: its page is written by hand.
gzip -9n <"$src/packaging/man/fnwarden-runtime.8" >"$root/usr/share/man/man8/fnwarden-runtime.8.gz"
chmod 0644 "$root/usr/share/man/man8/fnwarden-runtime.8.gz"
# Bash completion, read by bash-completion on demand (it asks the binary's
# --help for the options: packaging/completion/fnwarden.bash).
install -d "$root/usr/share/bash-completion/completions"
install -m 0644 "$src/packaging/completion/fnwarden.bash" "$root/usr/share/bash-completion/completions/fnwarden"
install -d "$root/etc/logrotate.d" "$root/usr/share/lintian/overrides"
install -m 0644 "$src/packaging/deb/logrotate" "$root/etc/logrotate.d/fnwarden"
# Deliberate, and said why in the file lintian reads.
install -m 0644 "$src/packaging/deb/lintian-overrides" "$root/usr/share/lintian/overrides/fnwarden"
for f in "$src"/docs/*.md; do
  install -m 0644 "$f" "$root/usr/share/doc/fnwarden/"
done

# --- Depends -------------------------------------------------------------------
# dpkg-shlibdeps is what debhelper runs: it maps each NEEDED library to its
# package through the shlibs/symbols files and adds the minimum version the
# binary's symbols need (libc6 (>= 2.34), ...). It insists on a debian/control
# in the current directory, so it runs in a scratch one; nothing in it is read
# for a binary given on the command line. Without dpkg-dev, the fallback asks
# dpkg -S which package owns each library ldd resolves: right names, no
# versions. A hand-written list would silently go stale when a library's
# soname changes (libbpf0 -> libbpf1 happened between Debian 11 and 12).
compute_depends() {
  local bin=$1
  if command -v dpkg-shlibdeps >/dev/null; then
    local scratch=$work/shlibdeps
    mkdir -p "$scratch/debian"
    : >"$scratch/debian/control"
    local line
    line=$(cd "$scratch" && dpkg-shlibdeps -O "$bin" 2>"$work/shlibdeps.log") ||
      { cat "$work/shlibdeps.log" >&2; die "dpkg-shlibdeps failed"; }
    echo "${line#shlibs:Depends=}"
    return
  fi
  echo "build-deb.sh: dpkg-shlibdeps not found (dpkg-dev): unversioned Depends from dpkg -S" >&2
  # Only the libraries the binary names itself (DT_NEEDED); the packages of
  # those bring their own dependencies.
  local needed libs pkgs=() lib pkg
  needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
  libs=$(ldd "$bin" | awk -v needed="$needed" '
    BEGIN { n = split(needed, list, " "); for (i = 1; i <= n; i++) want[list[i]] = 1 }
    $2 == "=>" && $3 ~ /^\// && ($1 in want) {print $3}')
  for lib in $libs; do
    # Debian 12 is merged-/usr: ldd says /lib/..., dpkg may know /usr/lib/... or the reverse.
    pkg=$(dpkg -S "$lib" 2>/dev/null || dpkg -S "/usr$lib" 2>/dev/null || dpkg -S "$(readlink -f "$lib")" 2>/dev/null) ||
      die "no package owns $lib (a library built from source?): cannot compute Depends"
    pkgs+=("${pkg%%:*}")
  done
  printf '%s\n' "${pkgs[@]}" | sort -u | paste -sd, - | sed 's/,/, /g'
}
depends=$(compute_depends "$root/usr/bin/fnwarden")
[[ -n $depends ]] || die "empty Depends"
# adduser: postinst creates the fnwarden group with addgroup. procps: the
# unit's ExecReload= is /bin/kill, which a minimal system (debootstrap's
# minbase, a container image) lacks; `systemctl reload` then fails with
# 203/EXEC (tests/systemd/unit_test.sh).
depends="adduser, procps, $depends"

installed_kb=$(du -sk --exclude=DEBIAN "$root" | cut -f1)

cat >"$root/DEBIAN/control" <<EOF
Package: fnwarden
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $installed_kb
Depends: $depends
Section: admin
Priority: optional
Description: eBPF sandbox monitor for serverless functions
 fnwarden watches the syscalls, file opens, executions and network
 connections of serverless functions with eBPF probes and compares them
 with per-function policies, reporting or stopping violations.
 .
 The fnwarden.service daemon is installed but neither enabled nor started:
 review /etc/fnwarden/fnwarden.yaml and /etc/fnwarden/rules first.
 Example policies are in /usr/share/fnwarden/rules/examples.
EOF

cat >"$root/DEBIAN/conffiles" <<'EOF'
/etc/fnwarden/fnwarden.yaml
/etc/fnwarden/rules/baseline.yaml
/etc/logrotate.d/fnwarden
EOF

# --- maintainer scripts --------------------------------------------------------
# The unit is handled the way dh_installsystemd does it (deb-systemd-helper
# keeps the state that lets purge remove an admin's enablement;
# deb-systemd-invoke honours policy-rc.d, so a chroot or image build never
# starts the daemon), with the choices of --no-enable --no-start: a fresh
# install neither enables nor starts it (see postinst), an upgrade restarts
# a daemon that is enabled or running.
cat >"$root/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e

case "$1" in
    configure|abort-upgrade|abort-deconfigure|abort-remove)
        # Members of this group may use the control socket (fnwarden status,
        # trace, top, run); the unit runs with Group=fnwarden.
        if [ "$1" = "configure" ] && ! getent group fnwarden >/dev/null; then
            addgroup --system --quiet fnwarden
        fi

        # Not enabled or started on a fresh install: a running daemon
        # attaches probes to every syscall of the host, and `fnwarden run`
        # then asks it for the function's policy instead of using its
        # --policy file, so every run of a function without a policy in
        # /etc/fnwarden/rules (all of them, on a fresh install) would start
        # failing. The admin enables it once the rules are in place:
        #   systemctl enable --now fnwarden
        if command -v deb-systemd-helper >/dev/null; then
            deb-systemd-helper unmask fnwarden.service >/dev/null || true
            deb-systemd-helper update-state fnwarden.service >/dev/null || true
        fi
        if [ -d /run/systemd/system ]; then
            systemctl --system daemon-reload >/dev/null || true
            # An upgrade restarts a daemon that is enabled or running, so
            # the old binary does not keep running; the new daemon adopts
            # the pinned probes (docs/daemon.md), so enforcement has no gap.
            if [ -n "$2" ] && command -v deb-systemd-invoke >/dev/null; then
                deb-systemd-invoke restart fnwarden.service >/dev/null || true
            fi
        fi
        ;;
esac

exit 0
EOF

cat >"$root/DEBIAN/prerm" <<'EOF'
#!/bin/sh
set -e

# Stop on removal only; on upgrade postinst restarts it with the new binary,
# and the new daemon takes over (or replaces) the pinned probes without a gap.
if [ "$1" = "remove" ] || [ "$1" = "deconfigure" ]; then
    if [ -d /run/systemd/system ] && command -v deb-systemd-invoke >/dev/null; then
        deb-systemd-invoke stop fnwarden.service >/dev/null || true
    fi
    # The stopped daemon's probes stay pinned and keep enforcing; with the
    # package gone nothing would manage them. While the binary is still
    # here: unload them (pinRoot from the config, when it names another).
    if command -v fnwarden >/dev/null; then
        fnwarden unload >/dev/null 2>&1 || true
    fi
fi

exit 0
EOF

cat >"$root/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e

case "$1" in
    remove)
        if [ -d /run/systemd/system ]; then
            systemctl --system daemon-reload >/dev/null || true
        fi
        # Removed but not purged: an enablement left behind must not start
        # a unit whose binary is gone.
        if command -v deb-systemd-helper >/dev/null; then
            deb-systemd-helper mask fnwarden.service >/dev/null || true
        fi
        ;;
    purge)
        # The admin's enablement goes with the package (deb-systemd-helper
        # recorded its symlinks in postinst).
        if command -v deb-systemd-helper >/dev/null; then
            deb-systemd-helper purge fnwarden.service >/dev/null || true
            deb-systemd-helper unmask fnwarden.service >/dev/null || true
        fi
        if [ -d /run/systemd/system ]; then
            systemctl --system daemon-reload >/dev/null || true
        fi
        if getent group fnwarden >/dev/null; then
            if command -v delgroup >/dev/null; then
                delgroup --system --quiet fnwarden || true
            else
                groupdel fnwarden || true
            fi
        fi
        # Pins a failed prerm unload left (the binary is gone by now):
        # unlinking a pin is all `fnwarden unload` does.
        rm -rf /sys/fs/bpf/fnwarden
        # /var/log/fnwarden is left alone: violation logs are evidence.
        ;;
esac

exit 0
EOF
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"
for script in postinst prerm postrm; do
  sh -n "$root/DEBIAN/$script" || die "DEBIAN/$script: syntax error"
done

(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) \
  >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"

mkdir -p "$outdir"
deb=$outdir/fnwarden_${version}_${arch}.deb
dpkg-deb --root-owner-group --build "$root" "$deb" >/dev/null
echo "$deb"
