#!/usr/bin/env bash
# The project's test command: installs what the tests need on a fresh machine, then runs them.
#
#   scripts/test.sh            all tests (unit + integration)
#   scripts/test.sh -- NAME    pass a filter to cargo test
#
# Needs: the zstd CLI (tests check the corpus is a standard zstd stream), Chromium (the HTML
# report renders headless), and rotel, a Rust OTLP collector from PyPI (end-to-end delivery
# through a real collector).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    as_root apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

apt_install zstd chromium
if ! python3 -c 'import rotel' 2>/dev/null; then
  echo "installing rotel (pip)"
  python3 -m pip install --quiet rotel
fi

cargo test --all-targets "$@"
