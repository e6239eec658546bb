#!/usr/bin/env bash
# Real OTLP platforms for tests: installs Arize Phoenix and MLflow from PyPI into cached
# virtual environments, and runs one of them bound to 127.0.0.1 on a given port.
#
#   scripts/platforms.sh install [phoenix|mlflow|all]   create or reuse the venvs (default all)
#   scripts/platforms.sh run phoenix PORT DIR           Phoenix in the foreground (exec)
#   scripts/platforms.sh run mlflow PORT DIR            MLflow in the foreground (exec)
#
# Each platform gets its own venv (Phoenix and MLflow pin different versions of SQLAlchemy,
# OpenTelemetry and FastAPI, so one venv would make pip pick versions neither was tested with):
#   $TRACEBLAST_PLATFORMS_CACHE/venv-phoenix-VERSION, …/venv-mlflow-VERSION
# (default ~/.cache/traceblast). A venv is reused when its `.complete` stamp exists; the stamp is
# written last, so an interrupted install is redone, never half-used. An install that fails
# writes its reason to `…/NAME.unavailable` (one line) and exits 0: tests that need the platform
# print that line as a SKIPPED line in the CI log instead of failing. Set
# TRACEBLAST_PLATFORMS=required to make a failed install exit 1.
#
# `run` execs the server, so the caller's child process *is* the server and killing it stops it.
# DIR is a fresh temporary directory the caller owns (Phoenix's working dir and SQLite database,
# MLflow's backend store and artifacts). Nothing binds beyond 127.0.0.1: Phoenix's gRPC OTLP
# receiver binds all interfaces on 4317 by default, so it is bound to 127.0.0.1:PORT+1.
set -euo pipefail

# Pinned: the newest releases on the day this was written (arize-phoenix 20.26.1, mlflow
# 3.18.0). Phoenix is the platform issue 14's timeouts were seen against; pinning keeps its
# uvicorn/h11 keep-alive behaviour (the thing the tests reproduce) from changing under them.
PHOENIX_VERSION=20.26.1
MLFLOW_VERSION=3.17.2

CACHE=${TRACEBLAST_PLATFORMS_CACHE:-$HOME/.cache/traceblast}
PYTHON=${PYTHON:-python3}

venv_of() {
  case "$1" in
    phoenix) echo "$CACHE/venv-phoenix-$PHOENIX_VERSION" ;;
    mlflow) echo "$CACHE/venv-mlflow-$MLFLOW_VERSION" ;;
    *) echo "platforms.sh: unknown platform '$1' (expected phoenix or mlflow)" >&2; exit 2 ;;
  esac
}

spec_of() {
  case "$1" in
    phoenix) echo "arize-phoenix==$PHOENIX_VERSION" ;;
    mlflow) echo "mlflow==$MLFLOW_VERSION" ;;
  esac
}

# uv (from PyPI) resolves and installs Phoenix in ~15 s and MLflow in ~7 s here, where pip
# took 164 s and 332 s; pip is the fallback when uv cannot be had. Bytecode is compiled at
# install time either way, so a platform's first start does not pay for it.
venv_install() {
  local venv=$1 spec=$2
  if command -v uv >/dev/null 2>&1 || "$PYTHON" -m pip install --quiet --disable-pip-version-check uv; then
    local uv
    uv=$(command -v uv || echo "$("$PYTHON" -m site --user-base)/bin/uv")
    "$uv" venv --quiet --python "$PYTHON" "$venv" &&
      VIRTUAL_ENV=$venv "$uv" pip install --quiet --compile-bytecode "$spec"
  else
    "$PYTHON" -m venv "$venv" &&
      "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$spec"
  fi
}

install_one() {
  local name=$1 venv spec start log
  venv=$(venv_of "$name")
  spec=$(spec_of "$name")
  if [ -f "$venv/.complete" ]; then
    echo "platforms: $spec cached in $venv"
    return 0
  fi
  mkdir -p "$CACHE"
  rm -rf "$venv" "$CACHE/$name.unavailable"
  log="$CACHE/$name.install.log"
  start=$(date +%s)
  echo "platforms: installing $spec into $venv (log: $log)"
  if venv_install "$venv" "$spec" >"$log" 2>&1; then
    echo "$spec" >"$venv/.complete"
    echo "platforms: installed $spec in $(($(date +%s) - start)) s"
    return 0
  fi
  local why
  why=$(grep -m1 -E 'ERROR|error:' "$log" || tail -n1 "$log")
  echo "$spec could not be installed: ${why:-see $log}" >"$CACHE/$name.unavailable"
  rm -rf "$venv"
  echo "platforms: $(cat "$CACHE/$name.unavailable")" >&2
  [ "${TRACEBLAST_PLATFORMS:-}" != required ] || exit 1
}

run_phoenix() {
  local port=$1 dir=$2 venv
  venv=$(venv_of phoenix)
  # Variable names from phoenix/config.py (ENV_PHOENIX_*); telemetry off (no network here).
  export PHOENIX_WORKING_DIR=$dir PHOENIX_HOST=127.0.0.1 PHOENIX_PORT=$port
  export PHOENIX_GRPC_PORT=$((port + 1)) PHOENIX_TELEMETRY_ENABLED=false
  # Phoenix's gRPC receiver calls add_insecure_port("[::]:PORT") (phoenix/server/grpc_server.py)
  # with no host setting, and is disabled only in --read-only mode, which refuses spans too.
  # So the server is started through its own entry point with that one call bound to loopback.
  exec "$venv/bin/python" -c '
import sys
import grpc.aio._server as s
add = s.Server.add_insecure_port
s.Server.add_insecure_port = lambda self, a: add(self, a.replace("[::]:", "127.0.0.1:", 1))
from phoenix.server.main import main
sys.argv = ["phoenix", "serve"]
sys.exit(main())
'
}

run_mlflow() {
  local port=$1 dir=$2 venv
  venv=$(venv_of mlflow)
  cd "$dir"
  # The job runner (a process and 7 huey consumers, ~10 % CPU each when idle here) serves
  # MLflow's background jobs, not trace ingestion.
  export MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false
  exec "$venv/bin/mlflow" server --host 127.0.0.1 --port "$port" --workers 1 \
    --backend-store-uri "sqlite:///$dir/mlflow.db" --default-artifact-root "$dir/artifacts"
}

cmd=${1:-}
case "$cmd" in
  install)
    what=${2:-all}
    if [ "$what" = all ]; then install_one phoenix; install_one mlflow; else install_one "$what"; fi
    ;;
  run)
    [ $# -eq 4 ] || { echo "usage: platforms.sh run phoenix|mlflow PORT DIR" >&2; exit 2; }
    name=$2 port=$3 dir=$4
    venv=$(venv_of "$name")
    case "$port" in '' | *[!0-9]*) echo "platforms.sh: bad port '$port'" >&2; exit 2 ;; esac
    [ -d "$dir" ] || { echo "platforms.sh: no directory '$dir'" >&2; exit 2; }
    if [ ! -f "$venv/.complete" ]; then
      if [ -f "$CACHE/$name.unavailable" ]; then cat "$CACHE/$name.unavailable" >&2
      else echo "$(spec_of "$name") is not installed: run scripts/platforms.sh install $name" >&2; fi
      exit 75 # not installed: tests/it/servers/platform.rs reads it (uvicorn exits 3 on a failed startup)
    fi
    "run_$name" "$port" "$dir"
    ;;
  *)
    sed -n '2,7p' "$0" >&2
    exit 2
    ;;
esac
