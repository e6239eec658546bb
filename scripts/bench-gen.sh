#!/usr/bin/env bash
# gen throughput against its floor, and gen memory against --count, for each shape: whole
# traces (the default) and an SDK's export timeline (--shape sdk: sessions at 10/s, simulated
# BatchSpanProcessors, spans copied into export batches).
#
# 1. Speed: runs `gen` on a few thousand traces, decompresses the corpus to its raw records,
#    times the zstd CLI compressing those same bytes at the same level and thread count, and
#    prints gen raw MB/s, zstd MB/s and their ratio. Target: ratio >= 0.7 on 2 cores (making
#    and encoding traces adds little on top of the compression that is the floor).
# 2. Memory: peak RSS of `gen --count 10k` and `--count 100k` (streaming output keeps it flat;
#    target: 100k within 20 % of 10k). Skip with MEMORY=0; set BIG=100k to change the size.
#
# Usage: scripts/bench-gen.sh [COUNT=3000] [LEVEL=3]   (SHAPES="traces sdk" picks the shapes)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-3000}
level=${2:-3}
threads=$(nproc)
for tool in zstd hyperfine; do
  command -v "$tool" >/dev/null || { echo "installing $tool"; apt-get install -y -qq "$tool" >/dev/null; }
done
cargo build --release --quiet
bin=$PWD/target/release/traceblast
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for shape in ${SHAPES:-traces sdk}; do
  shape_args=""
  [ "$shape" = sdk ] && shape_args="--shape sdk"
  echo "== speed ($shape): gen --count $count --level $level --threads $threads vs zstd -$level -T$threads on the same raw bytes"
  "$bin" gen --quiet $shape_args --count "$count" --level "$level" --threads "$threads" -o "$work/c.zst"
  zstd -q -d -c "$work/c.zst" > "$work/raw.bin"
  raw=$(stat -c %s "$work/raw.bin")
  hyperfine --style none --warmup 1 --runs 5 --export-json "$work/h.json" \
    -n gen "$bin gen --quiet $shape_args --count $count --level $level --threads $threads -o $work/g.zst" \
    -n zstd "zstd -q -f -$level -T$threads $work/raw.bin -o $work/z.zst" >/dev/null
  python3 - "$work/h.json" "$raw" <<'PY'
import json, sys
h = json.load(open(sys.argv[1])); raw = int(sys.argv[2])
t = {r["command"]: r["median"] for r in h["results"]}
g, z = raw / t["gen"] / 1e6, raw / t["zstd"] / 1e6
print(f"raw bytes      {raw:,}")
print(f"gen            {t['gen']:.3f} s  {g:8.1f} MB/s raw")
print(f"zstd CLI       {t['zstd']:.3f} s  {z:8.1f} MB/s")
print(f"ratio gen/zstd {g / z:.2f}   (target >= 0.70)")
PY

  if [ "${MEMORY:-1}" = 1 ]; then
    big=${BIG:-100k}
    echo "== memory ($shape): peak RSS of gen --count 10k vs --count $big"
    rss() { /usr/bin/time -f %M "$bin" gen --quiet $shape_args --count "$1" --level "$level" -o "$work/m.zst" 2>&1 >/dev/null | tail -1; }
    small_kb=$(rss 10k)
    big_kb=$(rss "$big")
    python3 -c "s,b=$small_kb,$big_kb; print(f'peak RSS 10k   {s/1024:.1f} MiB'); print(f'peak RSS $big  {b/1024:.1f} MiB'); print(f'ratio          {b/s:.2f}   (target <= 1.20)')"
  fi
done
