#!/usr/bin/env bash
# System packages ragline runs with on one machine. Idempotent: installs only what is missing.
set -euo pipefail

packages=()
command -v redis-server >/dev/null || packages+=(redis-server)
# `ragline up --prometheus` and the observability tests (promtool checks the alert rules).
command -v prometheus >/dev/null || packages+=(prometheus)
# The browser tests of the web UI (tests/ui) drive Debian's chromium; no browser is downloaded.
command -v chromium >/dev/null || packages+=(chromium)
# bench/load.py and bench/query.py drive the API with wrk.
command -v wrk >/dev/null || packages+=(wrk)

if [ ${#packages[@]} -eq 0 ]; then
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing system packages: ${packages[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}"
