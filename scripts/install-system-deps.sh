#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages the test suite needs, only when something is missing (idempotent, quiet).
# PostgreSQL: the distribution's default major version (what its `postgresql` package depends on: 15 on Debian 12,
# 16 on Ubuntu 24.04), or PG_MAJOR when set. Tests, benches and the demo find it through test/helpers/pgbin.ts.
set -euo pipefail
SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
updated=
apt_update() { [ -n "$updated" ] || { $SUDO apt-get update -qq; updated=1; }; }

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# The default major: from the `postgresql` metapackage's dependency (apt lists fetched first when they are empty).
default_pg_major() {
  local dep
  dep=$(apt-cache depends postgresql 2>/dev/null | sed -n 's/^ *Depends: postgresql-\([0-9][0-9]*\)$/\1/p' | head -1)
  if [ -z "$dep" ]; then
    apt_update
    dep=$(apt-cache depends postgresql 2>/dev/null | sed -n 's/^ *Depends: postgresql-\([0-9][0-9]*\)$/\1/p' | head -1)
  fi
  [ -n "$dep" ] || { echo "install-system-deps: cannot tell which PostgreSQL this distribution offers (set PG_MAJOR)" >&2; exit 1; }
  echo "$dep"
}

PG_MAJOR=${PG_MAJOR:-}
if [ -z "$PG_MAJOR" ]; then
  # Keep a version that is already installed (a later run must not switch majors); else the distribution's default.
  for v in $(ls /usr/lib/postgresql 2>/dev/null | sort -rn); do
    if installed "postgresql-$v"; then PG_MAJOR=$v; break; fi
  done
  [ -n "$PG_MAJOR" ] || PG_MAJOR=$(default_pg_major)
fi

PKGS=(gcc make liblz4-dev libzstd-dev libbrotli-dev liblzma-dev lz4 zstd xz-utils brotli gnupg diffutils strace
      swift swift-proxy swift-object swift-container swift-account python3-swift memcached curl
      "postgresql-$PG_MAJOR" "postgresql-client-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR" pgbackrest
      mariadb-server mariadb-client mariadb-backup openssh-server openssh-client redis-server redis-tools)
missing=()
for p in "${PKGS[@]}"; do
  installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
echo "install-system-deps: PostgreSQL $PG_MAJOR; installing: ${missing[*]}"
apt_update
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
