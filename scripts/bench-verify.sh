#!/usr/bin/env bash
# Delivery truth against real platforms on this machine: replays simple_query into Arize Phoenix
# and MLflow (from PyPI, via scripts/platforms.sh, on 127.0.0.1) at a few rates, each with
# `replay --verify` (5 traces a second sampled during the run), and prints what was
# acknowledged, what was stored (also of what was not acknowledged), the loss, the sampled
# visibility lag and the sustained storage rate (stored spans / seconds from the run's start to
# the last verify round that found more).
#
# Usage: scripts/bench-verify.sh [phoenix|mlflow|all]   (RATES="25 50 100" SECONDS_EACH=20)
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
rates=${RATES:-25 50 100}
secs=${SECONDS_EACH:-20}
cargo build --release --quiet
bin=$PWD/target/release/traceblast
scripts/platforms.sh install >/dev/null
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill -- -"$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
"$bin" gen --quiet --count 20k --mix simple_query=1 -o "$work/c.zst"

run_platform() {
  local name=$1 port=$((20000 + RANDOM % 20000)); shift
  mkdir -p "$work/$name"
  setsid bash scripts/platforms.sh run "$name" "$port" "$work/$name" >"$work/$name.log" 2>&1 &
  pid=$!
  for _ in $(seq 600); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.2; done
  # MLflow initialises OTLP ingestion on the first request (13 s here): warm it up.
  "$bin" replay "$work/c.zst" --endpoint "http://127.0.0.1:$port/v1/traces" "$@" --requests 1 --timeout 60s -q --min-success 0 --loops 1 --id-key 1 >/dev/null || true
  for rate in $rates; do
    local n=$((rate * secs))
    "$bin" replay "$work/c.zst" --endpoint "http://127.0.0.1:$port/v1/traces" "$@" --rate "$rate" --requests "$n" \
      -q --min-success 0 --report "$work/r.json" --verify --verify-wait 10m --max-loss 100 >/dev/null 2>"$work/err" || { cat "$work/err"; }
    python3 - "$work/r.json" "$name" "$rate" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); v = r["verify"]; l = v.get("sampled_lag_ms") or {}
curve = v["curve"]; stored = v["spans_stored"]
# Seconds from the run's start to the last round that found more: the storage rate's window.
grew = [p["t_s"] for a, p in zip([{"spans_stored": 0}] + curve, curve) if p["spans_stored"] > a["spans_stored"]]
window = r["run"]["duration_s"] + (grew[-1] if grew else 0)
print(f"{sys.argv[2]:<8} {float(sys.argv[3]):6.0f} req/s  ok {r['requests']['ok']}/{r['requests']['scheduled']}  "
      f"spans acked {v['spans_acknowledged']} stored {stored} loss {v['loss_percent']:.2f} %  "
      f"traces stored unacked {v['stored_not_acknowledged']}  "
      f"sampled lag ({l.get('traces', 0)}) p50 {l.get('p50', 0)/1e3:.1f} s p99 {l.get('p99', 0)/1e3:.1f} s max {l.get('max', 0)/1e3:.1f} s  "
      f"stored {stored / max(window, 1e-9):.0f} spans/s over {window:.0f} s  verify {v['ended_by']}")
PY
  done
  kill -- -"$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""
}
[ "$what" = all ] || [ "$what" = phoenix ] && run_platform phoenix -H "x-project-name: bench"
[ "$what" = all ] || [ "$what" = mlflow ] && run_platform mlflow -H "x-mlflow-experiment-id: 0"
exit 0
