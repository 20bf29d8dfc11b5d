#!/usr/bin/env bash
# Installs every Debian package that canopy's build, tests and examples need.
# Idempotent; safe to run on a fresh Debian 12 machine as root (or with sudo).
set -euo pipefail
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
PKGS=(
  build-essential cmake ninja-build pkg-config git
  libhdf5-dev hdf5-tools zlib1g-dev
  libcli11-dev nlohmann-json3-dev librandom123-dev
  libsqlite3-dev sqlite3 libcurl4-openssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev libomp-dev
  python3 python3-sklearn python3-h5py python3-numpy
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
