#!/usr/bin/env bash
# System packages the tests need (Debian 12), installed with apt as root:
#   containerd   the real containerd 1.6 for the differential test (`containerd config dump`)
#   chromium, libkrb5-dev, fonts-liberation   the real VS Code (code-server) end-to-end test
#   openssh-server, sudo       a real sshd on loopback for the SSH core tests
#   debootstrap, systemd-container, zstd, iproute2, openssh-client, umoci, busybox-static
#                              real Debian test hosts booted with systemd-nspawn (deploy tests)
#   unzip                      checking the packaged .vsix
set -euo pipefail
PKGS=(containerd chromium libkrb5-dev fonts-liberation debootstrap systemd-container zstd iproute2 openssh-client openssh-server sudo umoci busybox-static unzip)
missing=()
for p in "${PKGS[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -eq 0 ]; then echo "system packages: all present"; exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "system packages missing: ${missing[*]} — run as root: apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
