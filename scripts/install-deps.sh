#!/usr/bin/env bash
# Installs every Debian package hyperfold needs to build, test and benchmark.
# Usage: scripts/install-deps.sh [--with-test-peers]   (run as root on Debian 12)
set -euo pipefail
build_pkgs=(build-essential cmake pkg-config git
  libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools
  libscalapack-openmpi-dev libopenblas-dev liblapacke-dev
  libcurl4-openssl-dev libyaml-dev libjansson-dev libssl-dev zlib1g-dev
  libarchive-dev liblbfgs-dev libcmocka-dev libxgboost-dev libmicrohttpd-dev curl)
peer_pkgs=(python3 python3-numpy python3-sklearn python3-h5py python3-pandas python3-xgboost
  python3-boto3 python3-optuna awscli slurm-wlm munge clang-format clang
  chromium python3-flask gunicorn openssl iproute2)
pkgs=("${build_pkgs[@]}")
if [ "${1:-}" = "--with-test-peers" ]; then
  pkgs+=("${peer_pkgs[@]}")
  # The test S3 server is a Node.js package; use the machine's Node.js if it has one.
  command -v node >/dev/null 2>&1 || pkgs+=(nodejs npm)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
