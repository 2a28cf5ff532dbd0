#!/bin/bash
# bench/serve.sh - hyperfold serve against the same model in scikit-learn served by Flask under
# gunicorn (bench/serve_peer.py), on loopback, in one run: single-row and 100-row text/csv
# requests at 1, 4 and 16 concurrent clients, each cell bounded (MAX_REQ requests or MAX_S
# seconds). Prints requests/s, p50 and p99 latency, the servers' CPU time per request and peak
# RSS, and the hyperfold/peer throughput ratios. The load generator is bench/serve_load.c (C
# threads, one keep-alive connection each; gunicorn's sync workers close every connection, so
# its clients reconnect per request).
#
# Usage: bench/serve.sh [--threads N] [--workers W] [--max-requests R] [--max-seconds S]
# Needs the build (HF_BUILD_DIR, default ./build), gunicorn and python3-flask.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${HF_BUILD_DIR:-$SRC/build}
HF=$BUILD/hyperfold
PY=${PYTHON:-/usr/bin/python3}
NCPU=$(nproc)
THREADS=$NCPU
WORKERS=$NCPU
MAX_REQ=50000
MAX_S=5
while [ $# -gt 0 ]; do
    case "$1" in
    --threads) THREADS="$2"; shift ;;
    --workers) WORKERS="$2"; shift ;;
    --max-requests) MAX_REQ="$2"; shift ;;
    --max-seconds) MAX_S="$2"; shift ;;
    *) echo "usage: $0 [--threads N] [--workers W] [--max-requests R] [--max-seconds S]" >&2
       exit 2 ;;
    esac
    shift
done
[ -x "$HF" ] || { echo "serve.sh: $HF is missing: build first" >&2; exit 1; }

W=$(mktemp -d /tmp/hf-bench-serve.XXXXXX)
HF_PID=""
GU_PID=""
cleanup() {
    [ -n "$HF_PID" ] && kill "$HF_PID" 2>/dev/null || true
    [ -n "$GU_PID" ] && kill "$GU_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT

cc -O2 -pthread -o "$W/serve_load" "$SRC/bench/serve_load.c"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_pml=ob1 \
    OPENBLAS_NUM_THREADS=1 OMPI_MCA_mpi_yield_when_idle=1
DATA=$SRC/examples/data/diabetes.csv
cat >"$W/job.yaml" <<YAML
name: bench-serve
data: {source: $DATA, target: target}
cv: {folds: 2}
model: {type: ridge, params: {alpha: [1.0]}}
output: {dir: $W/runs}
YAML
(cd "$W" && "$HF" run job.yaml --quiet)
MODEL=$W/runs/bench-serve/model.h5
# Bodies: the features of the first row, and of the first 100 rows (no header, model order).
cut -d, -f1-10 "$DATA" | sed -n 2p >"$W/body1.csv"
cut -d, -f1-10 "$DATA" | sed -n 2,101p >"$W/body100.csv"

"$HF" serve --model "$MODEL" --port 0 --threads "$THREADS" --quiet >"$W/hf.out" 2>"$W/hf.err" &
HF_PID=$!
for _ in $(seq 100); do [ -s "$W/hf.out" ] && break; sleep 0.05; done
HF_PORT=$(sed -E 's/.*:([0-9]+)$/\1/' "$W/hf.out")
GU_PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
HF_PEER_DATA=$DATA gunicorn -w "$WORKERS" -b "127.0.0.1:$GU_PORT" --chdir "$SRC/bench" \
    --log-level warning serve_peer:app >"$W/gu.log" 2>&1 &
GU_PID=$!
for _ in $(seq 200); do
    curl -sf "http://127.0.0.1:$GU_PORT/ping" >/dev/null 2>&1 && break
    sleep 0.05
done

# The two servers agree (to rounding: two implementations of the same ridge).
curl -sf -H 'Content-Type: text/csv' --data-binary @"$W/body100.csv" \
    "http://127.0.0.1:$HF_PORT/invocations" >"$W/hf100.csv"
curl -sf -H 'Content-Type: text/csv' --data-binary @"$W/body100.csv" \
    "http://127.0.0.1:$GU_PORT/invocations" >"$W/gu100.csv"
"$PY" - "$W/hf100.csv" "$W/gu100.csv" <<'PY'
import sys
import numpy as np
a = np.loadtxt(sys.argv[1], skiprows=1)
b = np.loadtxt(sys.argv[2], skiprows=1)
d = np.max(np.abs(a - b) / np.maximum(1, np.abs(b)))
print("predictions agree: 100 rows, largest relative difference %.2e" % d)
sys.exit(0 if len(a) == 100 and d < 1e-8 else 1)
PY

cpu_ticks() { # utime + stime of a process and its children threads (ticks)
    local t=0 p
    for p in "$@"; do
        [ -r "/proc/$p/stat" ] || continue
        t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
    done
    echo $t
}
rss_kb() { # peak RSS (VmHWM) summed over processes
    local t=0 p
    for p in "$@"; do
        [ -r "/proc/$p/status" ] || continue
        t=$((t + $(awk '/VmHWM/ {print $2}' "/proc/$p/status")))
    done
    echo $t
}
HZ=$(getconf CLK_TCK)
GU_PIDS="$GU_PID $(pgrep -P "$GU_PID" | tr '\n' ' ')"

echo
echo "machine: $(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2}'), $NCPU cores;" \
    "hyperfold serve --threads $THREADS; gunicorn -w $WORKERS (sync); cells: $MAX_REQ requests" \
    "or ${MAX_S}s"
printf "%-5s %-5s | %10s %9s %9s %8s | %10s %9s %9s %8s | %7s\n" rows conc \
    "hf req/s" "p50 us" "p99 us" "cpu us" "py req/s" "p50 us" "p99 us" "cpu us" "ratio"
for rows in 1 100; do
    for conc in 1 4 16; do
        c0=$(cpu_ticks $HF_PID)
        read -r hr h50 h99 hn he < <("$W/serve_load" "$HF_PORT" "$W/body$rows.csv" "$conc" \
            "$MAX_REQ" "$MAX_S")
        c1=$(cpu_ticks $HF_PID)
        # shellcheck disable=SC2086
        g0=$(cpu_ticks $GU_PIDS)
        read -r gr g50 g99 gn ge < <("$W/serve_load" "$GU_PORT" "$W/body$rows.csv" "$conc" \
            "$MAX_REQ" "$MAX_S")
        # shellcheck disable=SC2086
        g1=$(cpu_ticks $GU_PIDS)
        hc=$(awk -v a="$c0" -v b="$c1" -v n="$hn" -v hz="$HZ" 'BEGIN {printf "%.0f", (b-a)/hz*1e6/n}')
        gc=$(awk -v a="$g0" -v b="$g1" -v n="$gn" -v hz="$HZ" 'BEGIN {printf "%.0f", (b-a)/hz*1e6/n}')
        ratio=$(awk -v a="$hr" -v b="$gr" 'BEGIN {printf "%.1fx", a/b}')
        printf "%-5s %-5s | %10s %9s %9s %8s | %10s %9s %9s %8s | %7s" "$rows" "$conc" \
            "$hr" "$h50" "$h99" "$hc" "$gr" "$g50" "$g99" "$gc" "$ratio"
        [ "$he" != 0 ] || [ "$ge" != 0 ] && printf "  (errors: hf %s, py %s)" "$he" "$ge"
        echo
    done
done
# shellcheck disable=SC2086
echo "peak RSS: hyperfold serve $(($(rss_kb $HF_PID) / 1024)) MiB;" \
    "gunicorn (master + $WORKERS workers) $(($(rss_kb $GU_PIDS) / 1024)) MiB"
echo "cpu us = server CPU time per request (user + system, ticks of $((1000000 / HZ)) us);" \
    "the client (C, same machine) shares the $NCPU cores."
