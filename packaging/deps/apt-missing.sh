# SPDX-License-Identifier: Apache-2.0
# Sourced by the install-*.sh scripts: installs, from Debian, the packages
# of a list that are not installed yet. apt-get update runs only when
# something is missing, so a machine that has everything does no network I/O.
#   install_missing_packages WHO WHAT PKG...   (WHO, WHAT: for the messages)
install_missing_packages() {
  local who=$1 what=$2 p
  shift 2
  local missing=()
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  if ((${#missing[@]})); then
    echo "$who: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "$who: all $what present"
  fi
}
