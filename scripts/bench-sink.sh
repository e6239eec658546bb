#!/usr/bin/env bash
# Sink capacity: how fast `traceblast sink` decodes and counts, beside rotel's blackhole
# exporter (an OTLP receiver that decodes and drops) on the same traffic.
#
# For each built-in scenario, one request body (record 0 of a one-trace corpus, raw protobuf,
# uncompressed) is POSTed by wrk at the same connection count for SECONDS to each receiver in
# turn; requests/s and spans/s are printed for both, with the ratio sink/rotel. The sink is
# stopped with SIGINT afterwards and its own count is checked against wrk's.
#
# Both receivers and wrk share this machine's cores, so the figures are relative, not the
# receivers' ceilings. The sink is a release build. Its CPU time per request (user + system,
# from /proc, over the requests it answered) is printed too: on a machine shared with other
# work, throughput swings by tens of percent between runs, CPU per request much less, so it
# is the figure to compare two versions by.
#
# A second table sets the sink's OTLP/gRPC receiver (--grpc-listen) beside its OTLP/HTTP one
# on the same bodies and the same client: h2load, HTTP/2 without TLS, CONNECTIONS connections
# with one request at a time on each (as wrk), POSTing the body as application/x-protobuf to
# /v1/traces and, framed as a gRPC message, to TraceService/Export. Each side gets its own
# sink process, so the CPU per request is that protocol's alone; the gRPC answers are checked
# in the sink's summary (gRPC answers HTTP 200 whatever its status).
#
# Usage: scripts/bench-sink.sh [SECONDS=10] [CONNECTIONS=16] [WRK_THREADS=1]
# TRACEBLAST_BIN=path/to/traceblast benches that binary instead of this checkout's release
# build (to compare two versions on the same machine, one run after the other).
# Needs: wrk and h2load (apt: wrk, nghttp2-client), rotel (pip; the rotel-agent binary ships
# inside the Python package).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-16}
wrk_threads=${3:-1}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v wrk >/dev/null || ! command -v h2load >/dev/null; then
  echo "installing wrk and h2load"
  as_root apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq wrk nghttp2-client >/dev/null
fi
if ! python3 -c 'import rotel' 2>/dev/null; then
  echo "installing rotel"
  python3 -m pip install -q rotel
fi
rotel=$(python3 -c 'import rotel,os;print(os.path.dirname(rotel.__file__))')/rotel-agent
[ -x "$rotel" ] || { echo "no rotel-agent in the rotel package ($rotel)" >&2; exit 2; }

cargo build --release --quiet --bin traceblast --example record_body
bin=${TRACEBLAST_BIN:-$PWD/target/release/traceblast}
extract=$PWD/target/release/examples/record_body
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 200); do
    (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "nothing listens on port $1" >&2
  exit 2
}
# Prints "requests_per_second total_requests non_2xx" for a wrk run against URL with BODY.
drive() {
  local url=$1 body=$2
  cat >"$work/post.lua" <<EOF
wrk.method = "POST"
local f = assert(io.open("$body", "rb"))
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/x-protobuf"
EOF
  wrk -t"$wrk_threads" -c"$conns" -d"${secs}s" -s "$work/post.lua" "$url" >"$work/wrk.txt"
  local rps total bad
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.txt")
  total=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
  bad=$(awk '/Non-2xx/ {print $NF}' "$work/wrk.txt")
  echo "$rps $total ${bad:-0}"
}

# Prints "requests_per_second total_requests" for an h2load run: URL, BODY, CONTENT_TYPE.
drive_h2() {
  local url=$1 body=$2 ctype=$3
  h2load -D "$secs" -c "$conns" -m 1 -t "$wrk_threads" -d "$body" -H "content-type: $ctype" -H "te: trailers" \
    "$url" >"$work/h2load.txt"
  awk '/^finished in/ {gsub(",", "", $4); rps=$4} /^requests:/ {done=$8} END {print rps, done}' "$work/h2load.txt"
}

# Runs a sink with --grpc-listen, drives URL_KIND (http or grpc) with BODY, prints
# "requests_per_second cpu_us_per_request answered ok" (ok: 200 answers, gRPC OK included).
sink_h2() {
  local kind=$1 body=$2 hport gport url ctype rps sink_pid sink_cpu answered ok
  hport=$(free_port)
  gport=$(free_port)
  "$bin" sink --quiet --listen "127.0.0.1:$hport" --grpc-listen "127.0.0.1:$gport" --summary "$work/h2.json" \
    >"$work/sink.out" 2>"$work/sink.err" &
  sink_pid=$!
  pids+=("$sink_pid")
  wait_port "$gport"
  if [ "$kind" = grpc ]; then
    url="http://127.0.0.1:$gport/opentelemetry.proto.collector.trace.v1.TraceService/Export"
    ctype=application/grpc
  else
    url="http://127.0.0.1:$hport/v1/traces"
    ctype=application/x-protobuf
  fi
  read -r rps _ < <(drive_h2 "$url" "$body" "$ctype")
  sink_cpu=$(awk '{print $14 + $15}' "/proc/$sink_pid/stat")
  kill -INT "$sink_pid"
  wait "$sink_pid" || true
  pids=()
  read -r answered ok < <(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["requests"], s["requests_by_status"].get("200", 0))' "$work/h2.json")
  if [ "$answered" != "$ok" ]; then
    echo "  $kind: answers by status $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["requests_by_status"])' "$work/h2.json")" >&2
  fi
  python3 -c 'import sys; print(sys.argv[1], float(sys.argv[2]) / float(sys.argv[3]) * 1e6 / max(int(sys.argv[4]), 1), sys.argv[4], sys.argv[5])' \
    "$rps" "$sink_cpu" "$ticks" "$answered" "$ok"
}

echo "== receivers: traceblast sink (release) vs rotel $("$rotel" --version | awk '{print $2}') blackhole"
echo "== wrk -t$wrk_threads -c$conns -d${secs}s, one uncompressed protobuf body per scenario, $(nproc) cores shared"
ticks=$(getconf CLK_TCK)
h2_rows=()
printf '%-24s %9s %6s  %12s %12s  %12s %12s  %6s  %12s\n' scenario body_KB spans sink_req/s sink_spans/s rotel_req/s rotel_spans/s ratio sink_cpu_us/req
for scenario in simple search booking complex; do
  "$bin" gen -q --count 1 --mix "$scenario=1" -o "$work/$scenario.zst"
  read -r bytes spans < <("$extract" "$work/$scenario.zst" 0 "$work/$scenario.pb")

  port=$(free_port)
  "$bin" sink --quiet --listen "127.0.0.1:$port" >"$work/sink.out" 2>"$work/sink.err" &
  sink_pid=$!
  pids+=("$sink_pid")
  wait_port "$port"
  read -r sink_rps sink_total sink_bad < <(drive "http://127.0.0.1:$port/v1/traces" "$work/$scenario.pb")
  sink_cpu=$(awk '{print $14 + $15}' "/proc/$sink_pid/stat")
  kill -INT "$sink_pid"
  wait "$sink_pid" || true
  counted=$(awk '/ received /{gsub(",","",$2); print $2}' "$work/sink.out")
  answered=$(awk '/^  requests /{gsub(",","",$2); print $2}' "$work/sink.out")

  hport=$(free_port)
  gport=$(free_port)
  "$rotel" start --exporter blackhole --otlp-http-endpoint "127.0.0.1:$hport" --otlp-grpc-endpoint "127.0.0.1:$gport" \
    --pid-file "$work/rotel.pid" --log-file "$work/rotel.log" >"$work/rotel.out" 2>&1 &
  rotel_pid=$!
  pids+=("$rotel_pid")
  wait_port "$hport"
  read -r rotel_rps _ rotel_bad < <(drive "http://127.0.0.1:$hport/v1/traces" "$work/$scenario.pb")
  kill "$rotel_pid"
  wait "$rotel_pid" 2>/dev/null || true
  pids=()

  python3 - "$scenario" "$bytes" "$spans" "$sink_rps" "$rotel_rps" "$sink_cpu" "$ticks" "$answered" <<'PY'
import sys
name, size, spans, s, r = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
cpu_us = float(sys.argv[6]) / float(sys.argv[7]) * 1e6 / max(int(sys.argv[8]), 1)
print(f"{name:<24} {size/1e3:9.1f} {spans:6d}  {s:12,.0f} {s*spans:12,.0f}  {r:12,.0f} {r*spans:12,.0f}  {s/r:6.2f}  {cpu_us:12.1f}")
PY
  if [ "$sink_bad" != 0 ] || [ "$rotel_bad" != 0 ]; then
    echo "  non-2xx answers: sink $sink_bad, rotel $rotel_bad" >&2
  fi
  # wrk does not count requests still in flight when it stops, so the sink may have more.
  echo "  sink counted $counted spans for wrk's $sink_total completed requests ($((sink_total * spans)) spans)"
  # The same body framed as a gRPC message: flag 0, big-endian length, message.
  python3 -c 'import sys,struct; b=open(sys.argv[1],"rb").read(); open(sys.argv[2],"wb").write(b"\0"+struct.pack(">I",len(b))+b)' \
    "$work/$scenario.pb" "$work/$scenario.grpc"
  h2_rows+=("$scenario $bytes $spans $(sink_h2 http "$work/$scenario.pb") $(sink_h2 grpc "$work/$scenario.grpc")")
done

echo
echo "== the sink's OTLP/HTTP (h2c) and OTLP/gRPC receivers, same bodies: h2load -c$conns -m1 -t$wrk_threads -D$secs"
printf '%-24s %9s %6s  %12s %12s %10s  %12s %12s %10s  %6s\n' scenario body_KB spans http_req/s http_spans/s cpu_us/req grpc_req/s grpc_spans/s cpu_us/req ratio
for row in "${h2_rows[@]}"; do
  # shellcheck disable=SC2086
  python3 - $row <<'PY'
import sys
name, size, spans = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
h_rps, h_cpu, h_n, h_ok, g_rps, g_cpu, g_n, g_ok = sys.argv[4:12]
h, g = float(h_rps), float(g_rps)
print(f"{name:<24} {size/1e3:9.1f} {spans:6d}  {h:12,.0f} {h*spans:12,.0f} {float(h_cpu):10.1f}  {g:12,.0f} {g*spans:12,.0f} {float(g_cpu):10.1f}  {g/h:6.2f}")
for proto, n, ok in (("http", h_n, h_ok), ("grpc", g_n, g_ok)):
    if n != ok:
        print(f"  {proto}: only {ok} of {n} answers were 200 / OK", file=sys.stderr)
PY
done
