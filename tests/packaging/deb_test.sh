#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the .deb from a build tree's fnwarden binary (packaging/deb/build-deb.sh)
# and checks what is in it: control fields, file list and modes, conffiles,
# maintainer scripts, the systemd unit (systemd-analyze verify, when
# installed), the bundled policies (policy validate) and the example config
# (it must parse: the daemon must get past it to the rules). No root needed,
# nothing is installed.
#
#   tests/packaging/deb_test.sh BUILD_DIR SOURCE_DIR
#
# Exit 77 (skipped) when BUILD_DIR has no fnwarden binary or dpkg-deb is missing.
set -euo pipefail

build_dir=${1:?usage: deb_test.sh BUILD_DIR SOURCE_DIR}
src=${2:?usage: deb_test.sh BUILD_DIR SOURCE_DIR}

if [[ ! -x $build_dir/fnwarden ]]; then
  echo "SKIP: no $build_dir/fnwarden (build the fnwarden target first)"
  exit 77
fi
if ! command -v dpkg-deb >/dev/null; then
  echo "SKIP: dpkg-deb not installed"
  exit 77
fi

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

version=$(sed -n 's/^project(fnwarden VERSION \([0-9][0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
arch=$(dpkg --print-architecture)
deb=$tmp/out/fnwarden_${version}_${arch}.deb

# --- build ---------------------------------------------------------------------
if ! printed=$(bash "$src/packaging/deb/build-deb.sh" "$tmp/out" "$build_dir"); then
  echo "FAIL: build-deb.sh failed"
  exit 1
fi
[[ $printed == "$deb" ]] || fail "build-deb.sh printed '$printed', expected $deb"
[[ -f $deb ]] || { echo "FAIL: $deb not built"; exit 1; }
pass "built $(basename "$deb")"

# --- control fields (dpkg-deb -f) ------------------------------------------------
field() { dpkg-deb -f "$deb" "$1"; }
[[ $(field Package) == fnwarden ]] || fail "Package is '$(field Package)'"
[[ $(field Version) == "$version" ]] || fail "Version is '$(field Version)', CMakeLists.txt says $version"
[[ $(field Architecture) == "$arch" ]] || fail "Architecture is '$(field Architecture)'"
[[ -n $(field Maintainer) ]] || fail "no Maintainer"
[[ $(field Installed-Size) =~ ^[0-9]+$ ]] || fail "Installed-Size is '$(field Installed-Size)'"
depends=$(field Depends)
# The package of every library the binary links directly (DT_NEEDED, located
# by ldd) must be in Depends, by name or by what it Provides (libspdlog1.10
# provides libspdlog1.10-fmt9, which its shlibs file names); the rest come
# with those packages.
depends_names=$(sed 's/([^)]*)//g; s/[|,]/\n/g' <<<"$depends" | tr -d ' ' | grep -v '^$' | sort -u)
in_depends() { grep -qxF "$1" <<<"$depends_names"; }
needed=$(readelf -d "$build_dir/fnwarden" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
[[ -n $needed ]] || fail "readelf shows no NEEDED libraries"
for lib in $(ldd "$build_dir/fnwarden" | awk -v needed="$needed" '
    BEGIN { n = split(needed, list, " "); for (i = 1; i <= n; i++) want[list[i]] = 1 }
    $2 == "=>" && $3 ~ /^\// && ($1 in want) {print $3}'); do
  owner=$(dpkg -S "$lib" 2>/dev/null || dpkg -S "/usr$lib" 2>/dev/null || dpkg -S "$(readlink -f "$lib")" 2>/dev/null || true)
  owner=${owner%%:*}
  [[ -z $owner ]] && continue  # not from a package: build-deb.sh would have said so
  found=no
  in_depends "$owner" && found=yes
  for provided in $(dpkg-query -W -f='${Provides}' "$owner" 2>/dev/null | sed 's/([^)]*)//g; s/,/ /g'); do
    in_depends "$provided" && found=yes
  done
  [[ $found == yes ]] || fail "Depends lacks $owner (for $lib): $depends"
done
in_depends adduser || fail "Depends lacks adduser (postinst runs addgroup)"
pass "control: $(field Package) $(field Version) $(field Architecture); Depends: $depends"

# --- control archive (dpkg-deb -I) -------------------------------------------------
info=$(dpkg-deb -I "$deb")
for member in control conffiles md5sums postinst prerm postrm; do
  grep -qE "^ +[0-9]+ bytes, +[0-9]+ lines +\*? +$member( |$)" <<<"$info" || fail "control archive lacks $member"
done
for script in postinst prerm postrm; do
  grep -qE "^ +[0-9]+ bytes, +[0-9]+ lines +\* +$script +#!/bin/sh" <<<"$info" ||
    fail "$script is not an executable #!/bin/sh script"
done
pass "control archive has control, conffiles, md5sums and the maintainer scripts"

# --- data archive (dpkg-deb -c) ----------------------------------------------------
listing=$(dpkg-deb -c "$deb")
expect() {  # expect MODE PATH
  grep -qE "^$1 root/root +[0-9]+ [0-9-]+ [0-9:]+ \./$2\$" <<<"$listing" || fail "no $1 root/root ./$2 in the package"
}
expect -rwxr-xr-x usr/bin/fnwarden
expect -rwxr-xr-x usr/bin/fnwarden-runtime
expect -rwxr-xr-x usr/bin/fnwarden-run
expect -rwxr-xr-x usr/libexec/fnwarden/fnwarden-container-init
expect -rw-r--r-- usr/share/man/man8/fnwarden-runtime.8.gz
expect -rw-r--r-- lib/systemd/system/fnwarden.service
expect -rw-r----- etc/fnwarden/fnwarden.yaml
expect -rw-r--r-- etc/fnwarden/rules/baseline.yaml
expect -rw-r--r-- usr/share/fnwarden/rules/baseline.yaml
for f in "$src"/rules/examples/*.yaml; do
  expect -rw-r--r-- "usr/share/fnwarden/rules/examples/$(basename "$f")"
done
expect -rw-r--r-- usr/share/doc/fnwarden/README.md
expect -rw-r--r-- usr/share/doc/fnwarden/copyright
expect -rw-r--r-- usr/share/doc/fnwarden/changelog.gz
expect -rw-r--r-- etc/logrotate.d/fnwarden
expect -rw-r--r-- usr/share/bash-completion/completions/fnwarden
# A man page per subcommand that `fnwarden --help` lists (version needs none).
commands=$(sed -n '/^commands:/,$p' <<<"$("$build_dir/fnwarden" --help)" | sed -nE 's/^  ([a-z]+).*/\1/p' | grep -vx version | sort -u)
[[ -n $commands ]] || fail "fnwarden --help lists no commands"
expect -rw-r--r-- usr/share/man/man8/fnwarden.8.gz
for command in $commands; do
  expect -rw-r--r-- "usr/share/man/man8/fnwarden-$command.8.gz"
done
for f in "$src"/docs/*.md; do
  expect -rw-r--r-- "usr/share/doc/fnwarden/$(basename "$f")"
done
# Nothing but the baseline is active after a fresh install.
active=$(awk '{print $6}' <<<"$listing" | grep '^\./etc/fnwarden/rules/.' || true)
[[ $active == ./etc/fnwarden/rules/baseline.yaml ]] || fail "/etc/fnwarden/rules holds more than baseline.yaml: $active"
if awk '{print $2}' <<<"$listing" | grep -qv '^root/root$'; then
  fail "files not owned by root/root (--root-owner-group)"
fi
pass "file list, modes and owners"

# --- contents --------------------------------------------------------------------
root=$tmp/root
dpkg-deb -x "$deb" "$root"
dpkg-deb -e "$deb" "$tmp/DEBIAN"

# conffiles: exactly the /etc files, each present in the package.
expected_conffiles=$'/etc/fnwarden/fnwarden.yaml\n/etc/fnwarden/rules/baseline.yaml\n/etc/logrotate.d/fnwarden'
[[ $(sort "$tmp/DEBIAN/conffiles") == "$expected_conffiles" ]] ||
  fail "conffiles is: $(tr '\n' ' ' <"$tmp/DEBIAN/conffiles")"
while read -r conffile; do
  [[ -f $root$conffile ]] || fail "conffile $conffile is not in the package"
done <"$tmp/DEBIAN/conffiles"
etc_files=$(cd "$root" && find etc -type f | sed 's|^|/|' | sort)
[[ $etc_files == "$expected_conffiles" ]] || fail "files under /etc that are not conffiles: $etc_files"
pass "conffiles"

# md5sums match the files.
(cd "$root" && md5sum --quiet -c "$tmp/DEBIAN/md5sums") || fail "md5sums do not match"

# Maintainer scripts: syntax, group handling, and no automatic enable/start.
for script in postinst prerm postrm; do
  sh -n "$tmp/DEBIAN/$script" || fail "$script: sh -n reports a syntax error"
  if command -v dash >/dev/null; then dash -n "$tmp/DEBIAN/$script" || fail "$script: dash -n reports a syntax error"; fi
done
grep -q 'addgroup --system' "$tmp/DEBIAN/postinst" || fail "postinst does not create the fnwarden group"
grep -q 'daemon-reload' "$tmp/DEBIAN/postinst" || fail "postinst does not reload systemd"
if grep -vE '^\s*#' "$tmp/DEBIAN/postinst" | grep -qE 'systemctl( [-a-z]+)* (enable|start|restart|reenable)\b'; then
  fail "postinst enables or starts the service"
fi
grep -q 'deb-systemd-invoke stop fnwarden' "$tmp/DEBIAN/prerm" || fail "prerm does not stop the service"
# An upgrade (postinst configure with the old version in $2) restarts it;
# a fresh install neither enables nor starts it.
grep -q 'deb-systemd-invoke restart fnwarden' "$tmp/DEBIAN/postinst" || fail "postinst does not restart on upgrade"
if grep -vE '^\s*#' "$tmp/DEBIAN/postinst" | grep -qE 'deb-systemd-(helper enable|invoke start)'; then
  fail "postinst enables or starts the service on a fresh install"
fi
grep -q 'deb-systemd-helper purge fnwarden' "$tmp/DEBIAN/postrm" || fail "postrm does not drop the enablement on purge"
grep -qE 'delgroup|groupdel' "$tmp/DEBIAN/postrm" || fail "postrm does not remove the group on purge"
pass "maintainer scripts"

# The binary: stripped, and it runs.
bin=$root/usr/bin/fnwarden
if readelf -S "$bin" | grep -qE '\.(symtab|debug_info)'; then fail "usr/bin/fnwarden is not stripped"; fi
[[ $("$bin" version) =~ ^fnwarden\ ${version//./\\.}\ \(commit\ ([0-9a-f]{12}(-dirty)?|unknown)\)$ ]] ||
  fail "'fnwarden version' says '$("$bin" version)', expected 'fnwarden $version (commit ...)'"
pass "binary stripped and runs"

# Hardened as dpkg-buildflags would (FNW_HARDENING, on by default): what
# lintian's hardening-no-bindnow / hardening-no-fortify-functions look for,
# read with readelf on the unstripped build.
if grep -q '^FNW_HARDENING:BOOL=ON' "$build_dir/CMakeCache.txt" 2>/dev/null; then
  elf=$build_dir/fnwarden
  readelf -h "$elf" | grep -qE 'Type: +DYN' || fail "fnwarden is not a position-independent executable"
  readelf -lW "$elf" | grep -q 'GNU_RELRO' || fail "fnwarden has no RELRO segment"
  readelf -dW "$elf" | grep -qE '\((FLAGS|FLAGS_1)\).*\b(BIND_NOW|NOW)\b' || fail "fnwarden is not linked with -z now (BIND_NOW)"
  dynsyms=$(readelf --dyn-syms -W "$elf")
  grep -q '__stack_chk_fail' <<<"$dynsyms" || fail "fnwarden has no stack protector (__stack_chk_fail)"
  grep -qE '__[a-z_]+_chk@' <<<"$dynsyms" || fail "fnwarden calls no fortified libc function (_FORTIFY_SOURCE)"
  pass "hardening: PIE, RELRO, BIND_NOW, stack protector, fortify"
else
  echo "note: $build_dir was configured with FNW_HARDENING=OFF: hardening not checked"
fi

# --- systemd unit ------------------------------------------------------------------
unit=$root/lib/systemd/system/fnwarden.service
grep -qx 'ExecStart=/usr/bin/fnwarden daemon --config /etc/fnwarden/fnwarden.yaml' "$unit" || fail "unexpected ExecStart"
grep -qx "Type=notify" "$unit" || fail "Type is not notify (the daemon says READY=1)"
grep -qx "WatchdogSec=30s" "$unit" || fail "no WatchdogSec (the daemon pings the watchdog)"
for setting in NoNewPrivileges=yes ProtectSystem=strict RuntimeDirectory=fnwarden LimitMEMLOCK=infinity; do
  grep -qx "$setting" "$unit" || fail "unit lacks $setting"
done
if command -v systemd-analyze >/dev/null; then
  # verify wants ExecStart's binary to exist; point it at the extracted one.
  mkdir -p "$tmp/unit"
  sed "s|^ExecStart=/usr/bin/fnwarden |ExecStart=$bin |" "$unit" >"$tmp/unit/fnwarden.service"
  if out=$(systemd-analyze verify --man=no "$tmp/unit/fnwarden.service" 2>&1) && [[ -z $out ]]; then
    pass "systemd-analyze verify"
  else
    fail "systemd-analyze verify: $out"
  fi
else
  echo "note: systemd-analyze not installed: unit not verified"
fi

# --- policies ----------------------------------------------------------------------
if out=$("$bin" policy validate "$root/etc/fnwarden/rules/baseline.yaml" "$root"/usr/share/fnwarden/rules/examples/*.yaml 2>&1); then
  pass "bundled policies validate"
else
  fail "policy validate: $out"
fi

# --- example config ------------------------------------------------------------------
# Every key the parser knows is in the example (and nothing else).
known=$(sed -n '/kKeys = {/,/};/p' "$src/userspace/daemon/daemon_config.cpp" | grep -o '"[A-Za-z]*"' | tr -d '"' | sort)
listed=$(grep -oE '^[A-Za-z]+:' "$root/etc/fnwarden/fnwarden.yaml" | tr -d ':' | sort)
[[ -n $known && $known == "$listed" ]] ||
  fail "fnwarden.yaml keys differ from daemon_config.cpp: $(diff <(echo "$known") <(echo "$listed") | grep '^[<>]' | tr '\n' ' ')"

# The daemon reads the config (an error there: file:line:col, exit 2), then
# checks the rules directory before anything needing privileges (probes), so
# a missing rules dir must be the error (exit 1). Flags keep it off the real
# socket and metrics port should it ever get further.
run_daemon() {  # run_daemon CONFIG
  set +e
  daemon_out=$(timeout 20 "$bin" daemon --config "$1" --rules "$tmp/no-such-rules" \
    --socket "$tmp/run/fnwarden.sock" --metrics off --output none 2>&1)
  daemon_rc=$?
  set -e
}
run_daemon "$root/etc/fnwarden/fnwarden.yaml"
if [[ $daemon_rc -eq 1 && $daemon_out == *"invalid rules in $tmp/no-such-rules"* && $daemon_out != *"invalid config"* ]]; then
  pass "example config parses (the daemon stopped at the missing rules dir)"
elif [[ $daemon_rc -eq 1 && $daemon_out == *"no cgroup2 mount"* ]]; then
  # start_up() looks for cgroup2 before the rules: the config was accepted.
  pass "example config parses (no cgroup2 mount here: the rules check was not reached)"
else
  fail "daemon with the example config: exit $daemon_rc, expected 1 and a rules error: $daemon_out"
fi
# ... and the check can tell: a broken copy fails on the config, with a position.
sed 's/^mode: audit$/mode: audits/' "$root/etc/fnwarden/fnwarden.yaml" >"$tmp/broken.yaml"
run_daemon "$tmp/broken.yaml"
if [[ $daemon_rc -eq 2 && $daemon_out =~ broken\.yaml:[0-9]+:[0-9]+:.*mode && $daemon_out == *"invalid config"* ]]; then
  pass "a broken config is refused as a config error"
else
  fail "broken config: exit $daemon_rc, expected 2 with file:line:col: $daemon_out"
fi

# --- man pages: each renders, names itself and lists the options --help has ---------
if command -v man >/dev/null; then
  for command in $commands; do
    page=$root/usr/share/man/man8/fnwarden-$command.8.gz
    text=$(MANWIDTH=200 man -l "$page" 2>&1) || fail "man -l fnwarden-$command.8.gz failed: $text"
    grep -q "^ *fnwarden-$command - " <<<"$text" || fail "fnwarden-$command(8) has no NAME line for itself"
    for option in $("$bin" "$command" --help 2>&1 | grep -oE '^  (-[a-z] \[ )?--[a-z-]+' | grep -oE -- '--[a-z-]+'); do
      grep -q -- "$option" <<<"$text" || fail "fnwarden-$command(8) lacks $option, which --help lists"
    done
  done
  # Exit codes are documented where a script writer looks: run's page says
  # what 125, 126 and 127 mean.
  run_page=$(MANWIDTH=200 man -l "$root/usr/share/man/man8/fnwarden-run.8.gz" 2>/dev/null)
  exit_status=$(sed -n '/^EXIT STATUS/,/^[A-Z]/p' <<<"$run_page")
  for code in 125 126 127; do
    grep -qE "^ +$code\b" <<<"$exit_status" || fail "fnwarden-run(8) has no EXIT STATUS entry for $code: $exit_status"
  done
  for command in $commands; do
    MANWIDTH=200 man -l "$root/usr/share/man/man8/fnwarden-$command.8.gz" 2>/dev/null | grep -q '^EXIT STATUS' ||
      fail "fnwarden-$command(8) has no EXIT STATUS section"
  done
  pass "man pages: $(wc -w <<<"$commands") subcommands, each with its exit status"
else
  echo "note: man not installed: pages not rendered"
fi

# --- lintian -----------------------------------------------------------------------------
# Clean at --pedantic, except the overrides the package ships (each says why).
if command -v lintian >/dev/null; then
  if out=$(lintian --pedantic --fail-on error,warning,pedantic "$deb" 2>&1 | grep -v 'running with root privileges'); [[ -z $out ]]; then
    pass "lintian --pedantic: clean"
  else
    fail "lintian --pedantic: $out"
  fi
else
  fail "lintian is not installed (packaging/deps/install-debian.sh installs it)"
fi

if ((failures)); then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all packaging checks passed"
