#!/bin/bash
# Installs the Debian packages the Swift/S3 integration tests need (OpenStack Swift with s3api, memcached).
# Idempotent: does nothing when everything is present; runs `apt-get update` only when a package is missing.
set -euo pipefail

PKGS=(swift swift-proxy swift-object swift-container swift-account python3-swift memcached)

missing=()
for p in "${PKGS[@]}"; do
  # dpkg-query prints "install ok installed" only for a fully installed package.
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "swift packages already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
# The Debian packages may enable and start system services on fixed ports (memcached on 11211, swift on
# 6200-6202/8080); the tests start private copies on free ports, so the system ones are left alone.
