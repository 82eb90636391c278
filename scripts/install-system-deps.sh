#!/usr/bin/env bash
# System packages ragline runs with on one machine. Idempotent: installs only what is missing.
set -euo pipefail

packages=()
command -v redis-server >/dev/null || packages+=(redis-server)

if [ ${#packages[@]} -eq 0 ]; then
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing system packages: ${packages[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}"
