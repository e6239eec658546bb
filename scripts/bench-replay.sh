#!/usr/bin/env bash
# replay against its references, on this machine, in one run:
#
# 1. Throughput: `replay --rate max` against rotel's blackhole exporter, for a corpus of only
#    simple_query (~35 KB bodies) and one of only multi_service_complex (~500 KB), beside wrk
#    POSTing one body of the same corpus with the same connection count to the same receiver.
#    Target: replay requests/s >= 0.9 x wrk's. Also printed: CPU per request of each tool.
#    Replay runs with --no-sent here: the sent log (what verify reads) is work wrk has no
#    counterpart for; the precision and memory runs keep it on.
# 2. Precision: `--rate 1000` and `--rate 5000` for DURATION (20s): achieved rate within
#    +-0.5 % of the target, pacer lateness p99 <= 100 us.
# 3. Memory: anonymous RSS (RssAnon, sampled) while replaying a corpus of >= 2 GB at --rate max.
#    Target: < 256 MiB.
#
# Usage: scripts/bench-replay.sh [all|throughput|precision|memory]
#        (DURATION=20s for precision, TDURATION=10s ROUNDS=5 CONNS=16 for throughput)
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
duration=${DURATION:-20s}
tduration=${TDURATION:-10s}
conns=${CONNS:-16}
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
command -v wrk >/dev/null || { as_root apt-get install -y -qq wrk zstd >/dev/null; }
command -v zstd >/dev/null || { as_root apt-get install -y -qq zstd >/dev/null; }
python3 -c 'import rotel' 2>/dev/null || pip install -q rotel
rotel=$(python3 -c 'import rotel,os;print(os.path.join(os.path.dirname(rotel.__file__),"rotel-agent"))')
cargo build --release --quiet
bin=$PWD/target/release/traceblast
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
cleanup() { [ -f "$work/rotel.pid" ] && kill "$(cat "$work/rotel.pid")" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# A fresh receiver for every measurement: rotel slows down as it processes more (measured:
# ~27k req/s fresh, ~21k after a few hundred thousand requests), which would favour whichever
# tool ran first.
start_rotel() {
  [ -f "$work/rotel.pid" ] && { kill "$(cat "$work/rotel.pid")" 2>/dev/null; wait "$(cat "$work/rotel.pid")" 2>/dev/null || true; }
  "$rotel" start --exporter blackhole --otlp-http-endpoint "127.0.0.1:$port" --otlp-grpc-endpoint "127.0.0.1:$((port + 1))" \
    --pid-file "$work/rotel.pid.agent" --log-file "$work/rotel.log" >"$work/rotel.out" 2>&1 &
  echo $! > "$work/rotel.pid"
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && return 0; sleep 0.1; done
  echo "rotel did not start" >&2; return 1
}
start_rotel
url=http://127.0.0.1:$port/v1/traces

# Runs a command with its stdout in $1 and prints the CPU seconds (user + system) it used.
cpu_of() {
  python3 -c '
import resource, subprocess, sys
with open(sys.argv[1], "w") as out:
    subprocess.run(sys.argv[2:], stdout=out, check=True)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(r.ru_utime + r.ru_stime)' "$@"
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# The record of a corpus whose size is closest to the corpus's mean, as raw protobuf: wrk
# sends that one body, replay the whole corpus, so both move the same bytes per request.
typical_body() {
  zstd -q -d -c "$1" | python3 -c '
import sys
d = sys.stdin.buffer.read()
recs, i = [], 0
while i < len(d):
    v = s = 0
    while True:
        b = d[i]; v |= (b & 0x7f) << s; i += 1; s += 7
        if b < 0x80: break
    recs.append((i, v)); i += v
mean = sum(v for _, v in recs) / len(recs)
at, n = min(recs, key=lambda r: abs(r[1] - mean))
sys.stdout.buffer.write(d[at:at + n])' > "$2"
}

if [ "$what" = all ] || [ "$what" = throughput ]; then
  echo "== throughput: --rate max vs wrk, $conns connections, ${ROUNDS:-5} x ${tduration} each, rotel blackhole"
  for scenario in simple_query multi_service_complex; do
    # Small enough (< 128 MiB raw) that replay loops it from memory, as a long test on a
    # small corpus does.
    count=$([ "$scenario" = simple_query ] && echo 2000 || echo 200)
    "$bin" gen --quiet --count "$count" --mix "$scenario=1" -o "$work/$scenario.zst"
    typical_body "$work/$scenario.zst" "$work/body.bin"
    cat > "$work/post.lua" <<LUA
local f = io.open("$work/body.bin", "rb"); wrk.body = f:read("*a"); f:close()
wrk.method = "POST"; wrk.headers["Content-Type"] = "application/x-protobuf"
LUA
    # ROUNDS (5) rounds of TDURATION (10s), alternating, each on a fresh receiver; the best of
    # each tool counts (this shared 2-core machine varies by +-15 % from minute to minute). The
    # CPU each tool spends per request (user + system, from getrusage) is printed beside it: it
    # varies far less than throughput and shows what the load generator takes from the receiver
    # when both share the machine.
    wrk_best=0; ours_best=0; grpc_best=0; ok=""; wrk_cpu=(); ours_cpu=(); grpc_cpu=()
    for round in $(seq "${ROUNDS:-5}"); do
      start_rotel
      c=$(cpu_of "$work/wrk.out" wrk -t1 -c"$conns" -d"$tduration" -s "$work/post.lua" "$url")
      w=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.out")
      n=$(awk '/requests in/ {print $1}' "$work/wrk.out")
      wrk_cpu+=("$(python3 -c "print($c * 1e6 / $n)")")
      start_rotel
      c=$(cpu_of /dev/null "$bin" replay "$work/$scenario.zst" --endpoint "$url" --rate max --connections "$conns" \
        --max-in-flight "$conns" --duration "$tduration" --quiet --no-sent --report "$work/r.json")
      o=$(python3 -c "import json; print(json.load(open('$work/r.json'))['rate']['achieved'])")
      ok=$(python3 -c "import json; q=json.load(open('$work/r.json'))['requests']; print(f\"{q['ok']}/{q['scheduled']}\")")
      ours_cpu+=("$(python3 -c "import json; print($c * 1e6 / json.load(open('$work/r.json'))['requests']['scheduled'])")")
      wrk_best=$(python3 -c "print(max($wrk_best, $w))"); ours_best=$(python3 -c "print(max($ours_best, $o))")
      start_rotel
      c=$(cpu_of /dev/null "$bin" replay "$work/$scenario.zst" --endpoint "http://127.0.0.1:$((port + 1))" --protocol grpc \
        --rate max --connections "$conns" --max-in-flight "$conns" --duration "$tduration" --quiet --no-sent --report "$work/g.json")
      g=$(python3 -c "import json; print(json.load(open('$work/g.json'))['rate']['achieved'])")
      grpc_cpu+=("$(python3 -c "import json; print($c * 1e6 / json.load(open('$work/g.json'))['requests']['scheduled'])")")
      grpc_best=$(python3 -c "print(max($grpc_best, $g))")
    done
    wc=$(median "${wrk_cpu[@]}"); oc=$(median "${ours_cpu[@]}"); gc=$(median "${grpc_cpu[@]}")
    python3 -c "print(f'{\"$scenario\":<22} body {$(stat -c %s "$work/body.bin")/1e3:6.1f} KB  wrk {$wrk_best:8.1f} req/s  replay {$ours_best:8.1f} req/s  ratio {$ours_best/$wrk_best:.2f} (target >= 1.0)  ok $ok  cpu/request wrk {$wc:.1f} us replay {$oc:.1f} us  ratio {$oc/$wc:.2f} (target <= 1.3)')"
    python3 -c "print(f'{\"  grpc\":<22} replay --protocol grpc {$grpc_best:8.1f} req/s  ratio to HTTP/1.1 {$grpc_best/$ours_best:.2f} (target >= 0.8)  cpu/request {$gc:.1f} us')"
  done
fi

if [ "$what" = all ] || [ "$what" = precision ]; then
  echo "== precision: achieved rate and pacer lateness, ${duration} each, rotel blackhole"
  "$bin" gen --quiet --count 5000 --mix simple_query=1 -o "$work/p.zst"
  for how in quiet bar; do
    for rate in 1000 5000; do
      start_rotel
      if [ "$how" = quiet ]; then
        "$bin" replay "$work/p.zst" --endpoint "$url" --rate "$rate" --duration "$duration" --quiet --report "$work/p.json"
      else
        # A pseudo-terminal, so the progress bar draws as it does for a person watching.
        script -qec "'$bin' replay '$work/p.zst' --endpoint '$url' --rate $rate --duration $duration --threads 2 --report '$work/p.json'" /dev/null >/dev/null
      fi
      python3 - "$work/p.json" "$rate" "$how" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); t = float(sys.argv[2])
a = r["rate"]["achieved"]; l = r["pacer_lateness_us"]; q = r["requests"]
how = "quiet" if sys.argv[3] == "quiet" else "bar, 2 threads"
print(f"--rate {t:6.0f} {how:<15} achieved {a:9.2f} ({(a - t) / t * 100:+.3f} %, target +-0.5 %)  lateness p50 {l['p50']} us p99 {l['p99']} us (target <= 100) max {l['max']} us  ok {q['ok']} missed {q['missed']}")
PY
    done
  done
fi

if [ "$what" = all ] || [ "$what" = memory ]; then
  echo "== memory: RssAnon while replaying a corpus of >= 2 GB"
  "$bin" gen --quiet --count "${BIG_COUNT:-60k}" -o "$work/big.zst"
  size=$(stat -c %s "$work/big.zst")
  start_rotel
  echo "corpus $(python3 -c "print(f'{$size/1e9:.2f} GB')")"
  "$bin" replay "$work/big.zst" --endpoint "$url" --rate max --connections "$conns" --max-in-flight 64 --quiet --report "$work/m.json" &
  pid=$!
  peak=0
  while kill -0 "$pid" 2>/dev/null; do
    kb=$(awk '/RssAnon/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    [ "${kb:-0}" -gt "$peak" ] && peak=$kb
    sleep 0.2
  done
  wait "$pid"
  python3 -c "import json; r=json.load(open('$work/m.json')); print(f\"sent {r['requests']['ok']} requests, {r['bytes']['sent']/1e9:.2f} GB; peak RssAnon {$peak/1024:.1f} MiB (target < 256)\")"
fi
