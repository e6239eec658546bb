#!/usr/bin/env bash
# Runs traceblast's fuzz targets one after another, each for SECONDS (default 60), and prints
# what each did. Exits 1 if any target crashed (panic, sanitizer error, an allocation past
# 2 GiB, memory past 2 GiB, or 10 s on one input); the input that did it is kept under
# fuzz/artifacts/<target>/. Needs nightly and cargo-fuzz (see README "Fuzzing").
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Each target starts from its committed seeds (fuzz/corpus/<target>/) and regression inputs
# (fuzz/regressions/<target>/); what it finds on the way is kept in fuzz/work/<target>/ (not
# committed) and picked up by the next run. One process per target, one at a time: no -jobs.
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
[ $# -gt 0 ] && shift
if ! [[ $seconds =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
    echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]  (SECONDS: a whole number, at least 1)" >&2
    exit 2
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

# FUZZ_BUILD_FLAGS: extra `cargo fuzz build/run` flags (CI: "--dev --sanitizer none").
read -r -a build_flags <<<"${FUZZ_BUILD_FLAGS:-}"
cargo +nightly fuzz build "${build_flags[@]}" >/dev/null || { echo "fuzz: build failed" >&2; exit 2; }

status=0
summary=()
for t in "${targets[@]}"; do
    mkdir -p "fuzz/work/$t" "fuzz/artifacts/$t"
    log="fuzz/work/$t.log"
    inputs=("fuzz/work/$t" "fuzz/corpus/$t")
    [ -d "fuzz/regressions/$t" ] && inputs+=("fuzz/regressions/$t")
    start=$(date +%s)
    cargo +nightly fuzz run "${build_flags[@]}" "$t" "${inputs[@]}" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 >"$log" 2>&1
    rc=$?
    took=$(($(date +%s) - start))
    execs=$(grep -oP '^stat::number_of_executed_units:\s*\K[0-9]+' "$log" | tail -1)
    [ -z "$execs" ] && execs=$(grep -oP '^#\K[0-9]+' "$log" | tail -1)
    if [ $rc -eq 0 ]; then
        summary+=("$(printf '%-18s %12s executions in %4s s, no crash' "$t" "${execs:-?}" "$took")")
    else
        status=1
        input=$(grep -oP 'Test unit written to \K\S+' "$log" | tail -1)
        why=$(grep -m1 -A1 -E 'panicked at|ERROR: (libFuzzer|AddressSanitizer)|out-of-memory' "$log" | tr '\n' ' ' | cut -c1-300)
        summary+=("$(printf '%-18s %12s executions in %4s s, CRASH: %s' "$t" "${execs:-?}" "$took" "${why:-exit $rc, see $log}")")
        echo "${summary[-1]}"
        summary+=("$(printf '%-18s input kept: %s (log: %s)' '' "${input:-none}" "$log")")
    fi
    echo "${summary[-1]}"
done

echo
echo "fuzz: ${#targets[@]} targets, ${seconds} s each"
printf '%s\n' "${summary[@]}"
exit $status
