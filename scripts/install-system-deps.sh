#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, only when something is missing (idempotent, quiet).
set -euo pipefail
PKGS=(gcc liblz4-dev lz4 zstd xz-utils brotli gnupg diffutils
      swift swift-proxy swift-object swift-container swift-account python3-swift memcached curl
      postgresql-15 postgresql-client-15 pgbackrest
      mariadb-server mariadb-client mariadb-backup openssh-server openssh-client)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
echo "installing: ${missing[*]}"
SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
