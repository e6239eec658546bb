#!/usr/bin/env bash
# Regenerates the golden corpora in fixtures/corpora/ on purpose.
#
# The fixtures pin the generator's output: tests/it/fixtures.rs regenerates each one with the
# same command and requires byte equality. Run this only when you change what `gen` produces,
# and bump GENERATOR_VERSION in src/synth/mod.rs in the same commit (the test checks that the
# fixtures carry the current version).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=target/release/traceblast
out=fixtures/corpora
mkdir -p "$out"
# name:count — seed 42, one scenario each, zstd level 19 to keep the repository small.
for spec in simple_query:200 single_service_search:50 delegated_booking:30 multi_service_complex:20; do
  name=${spec%%:*}
  count=${spec##*:}
  "$bin" gen --quiet --seed 42 --count "$count" --mix "$name=1" --level 19 -o "$out/$name.zst"
  "$bin" inspect --json "$out/$name.zst" > "$out/$name.json"
  echo "wrote $out/$name.zst ($(stat -c %s "$out/$name.zst") bytes) and $out/$name.json"
done
