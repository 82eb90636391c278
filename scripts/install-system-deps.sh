#!/usr/bin/env bash
# System packages ragline uses on one machine. Idempotent: installs only what is missing.
#
#   scripts/install-system-deps.sh demo    what `make demo` runs: redis-server
#   scripts/install-system-deps.sh test    also what only the tests and benchmarks use
set -euo pipefail

profile="${1:-demo}"
packages=()
command -v redis-server >/dev/null || packages+=(redis-server)
if [ "$profile" = "test" ]; then
  # The observability tests (promtool checks the alert rules; a real Prometheus scrapes the stack).
  command -v prometheus >/dev/null || packages+=(prometheus)
  # The browser tests of the web UI (tests/ui) drive Debian's chromium; no browser is downloaded.
  command -v chromium >/dev/null || packages+=(chromium)
  # OCR of scanned pages and images in the tests and bench/eval.py (PyMuPDF finds the models through
  # the tesseract binary; the worker images carry tesseract-ocr-eng alone and set TESSDATA_PREFIX).
  command -v tesseract >/dev/null || packages+=(tesseract-ocr tesseract-ocr-eng)
  # bench/load.py and bench/query.py drive the API with wrk.
  command -v wrk >/dev/null || packages+=(wrk)
  # The image suite (tests/images): a real Docker engine, Debian's compose v1, and mmdebstrap,
  # which builds the base images locally where no image registry can be reached.
  [ -x /usr/sbin/dockerd ] || packages+=(docker.io)
  command -v docker-compose >/dev/null || packages+=(docker-compose)
  command -v mmdebstrap >/dev/null || packages+=(mmdebstrap)
elif [ "$profile" != "demo" ]; then
  echo "usage: $0 [demo|test]" >&2
  exit 2
fi

if [ ${#packages[@]} -eq 0 ]; then
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing system packages: ${packages[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}"
