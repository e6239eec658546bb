#!/usr/bin/env bash
# What CI runs for fuzzing (called by .ci/run): every committed seed and regression input through
# its target on stable, then every target under libFuzzer for FUZZ_SECONDS each (default 20:
# under three minutes of fuzzing for the eight targets). A crash fails the run and its input is
# kept under fuzz/artifacts/<target>/. Installs cargo-fuzz (pinned, about a minute) if missing;
# needs the nightly toolchain, which libFuzzer's instrumentation requires.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_TARGET_DIR=target cargo test --manifest-path fuzz/Cargo.toml --quiet

if ! rustup toolchain list | grep -q '^nightly'; then
    echo "fuzz-ci: the nightly toolchain is missing (rustup toolchain install nightly)" >&2
    exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked --version 0.13.2
fi
scripts/fuzz.sh "${FUZZ_SECONDS:-20}"
