#!/usr/bin/env bash
# What CI runs for fuzzing (called by .ci/run): every target under libFuzzer for FUZZ_SECONDS
# each (default 15: about two and a half minutes of fuzzing for the ten targets), each starting by running
# every committed seed and regression input of its target (`cargo test --manifest-path
# fuzz/Cargo.toml` does the same on stable, without libFuzzer; CI skips it, as it would
# compile the fuzz crate once more for no input the fuzz run does not already take). A crash fails the run and its input is
# kept under fuzz/artifacts/<target>/. Installs cargo-fuzz (pinned, about a minute) if missing;
# needs the nightly toolchain, which libFuzzer's instrumentation requires.
#
# The CI build is unoptimized and without AddressSanitizer (`--dev --sanitizer none`): it builds
# in about half the time of the optimized ASan build (303 s against 623-662 s here, both on a
# loaded 2-core VM), and a panic, an overflow (debug assertions) or memory past 2 GiB (libFuzzer's
# -rss_limit_mb) is still a crash. The long campaigns (`scripts/fuzz.sh 600`) use the optimized ASan build.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup toolchain list | grep -q '^nightly'; then
    echo "fuzz-ci: the nightly toolchain is missing (rustup toolchain install nightly)" >&2
    exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked --version 0.13.2
fi
FUZZ_BUILD_FLAGS="--dev --sanitizer none" scripts/fuzz.sh "${FUZZ_SECONDS:-15}"
