#!/usr/bin/env bash
# The project's test command: installs what the tests need on a fresh machine, then runs them.
#
#   scripts/test.sh            all tests (unit + integration)
#   scripts/test.sh -- NAME    pass a filter to cargo test
#
# Needs: the zstd CLI (tests check the corpus is a standard zstd stream), Chromium (the HTML
# report renders headless), rotel, a Rust OTLP collector from PyPI (end-to-end delivery
# through a real collector), and Arize Phoenix and MLflow from PyPI (real platforms on
# 127.0.0.1; scripts/platforms.sh caches them in ~/.cache/traceblast). The platforms install
# in the background while the tests compile; the tests need them (TRACEBLAST_PLATFORMS=required)
# unless TRACEBLAST_PLATFORMS=optional is set, which turns a failed install into SKIPPED lines.
#
# Benches are not built here (criterion in debug is minutes of compile for nothing a test
# checks); `cargo clippy --all-targets` in CI keeps them compiling.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
phase() { echo "test.sh: $1 after $(($(date +%s) - t0)) s"; }

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

phase "tools ready"

export TRACEBLAST_PLATFORMS=${TRACEBLAST_PLATFORMS:-required}
platforms_log=$(mktemp)
scripts/platforms.sh install all >"$platforms_log" 2>&1 &
platforms=$!

targets=(--lib --bins --tests --examples)
if ! cargo test "${targets[@]}" --no-run "$@"; then
  kill "$platforms" 2>/dev/null || true
  exit 1
fi
phase "tests built"
if ! wait "$platforms"; then
  cat "$platforms_log" >&2
  echo "test.sh: the platforms could not be installed (TRACEBLAST_PLATFORMS=optional skips their tests)" >&2
  exit 1
fi
cat "$platforms_log"
rm -f "$platforms_log"
phase "platforms ready"
cargo test "${targets[@]}" "$@"
phase "tests passed"
