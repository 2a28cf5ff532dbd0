#!/bin/bash
# bench/serve.sh - hyperfold serve against the same model in scikit-learn served by Flask under
# gunicorn (bench/serve_peer.py), on loopback, in one run: single-row and 100-row text/csv
# requests at 1, 4 and 16 concurrent clients, each cell bounded (MAX_REQ requests or MAX_S
# seconds) and measured RUNS times, hyperfold then the peer each time (so that the two of a pair
# see the same load on the machine). Prints the medians over the runs of requests/s, p50 and p99
# latency, the servers' CPU time per request (on-CPU nanoseconds of all their threads and
# processes, /proc/PID/task/TID/schedstat), the load generator's CPU time per request (it shares
# the cores, unless --pin), and the median of the runs' hyperfold/peer throughput and server-CPU ratios; then
# peak RSS.
# The load generator is bench/serve_load.c (C threads, one keep-alive connection each; gunicorn's
# sync workers close every connection, so its clients reconnect per request). The rows marked
# `close` send `Connection: close` to both servers: every request opens its own connection on
# both sides, the one client behaviour gunicorn's sync workers allow.
#
# With --log both servers log every request to a file (hyperfold without --quiet, gunicorn with
# --access-logfile); without it neither does (hyperfold --quiet, gunicorn's default).
#
# With --pin each server runs on CPU 0 only and the load generator on CPU 1 only (taskset; the
# same placement for hyperfold and for gunicorn's master and workers), so that the client's CPU
# time does not come out of the server's share of the cores; without it (the default) all of them
# share every core. The header says which placement ran. Other processes on the machine are not
# moved: they still share both CPUs. --threads / --workers default to the cores (unpinned) or 1
# (pinned: each server has one core).
#
# Usage: bench/serve.sh [--threads N] [--workers W] [--max-requests R] [--max-seconds S]
#                       [--runs N] [--log] [--pin]
# Needs the build (HF_BUILD_DIR, default ./build), gunicorn and python3-flask.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${HF_BUILD_DIR:-$SRC/build}
HF=$BUILD/hyperfold
PY=${PYTHON:-/usr/bin/python3}
NCPU=$(nproc)
THREADS=
WORKERS=
MAX_REQ=50000
MAX_S=5
RUNS=3
LOG=0
PIN=0
while [ $# -gt 0 ]; do
    case "$1" in
    --threads) THREADS="$2"; shift ;;
    --workers) WORKERS="$2"; shift ;;
    --max-requests) MAX_REQ="$2"; shift ;;
    --max-seconds) MAX_S="$2"; shift ;;
    --runs) RUNS="$2"; shift ;;
    --log) LOG=1 ;;
    --pin) PIN=1 ;;
    *) echo "usage: $0 [--threads N] [--workers W] [--max-requests R] [--max-seconds S]" \
            "[--runs N] [--log] [--pin]" >&2
       exit 2 ;;
    esac
    shift
done
[ -x "$HF" ] || { echo "serve.sh: $HF is missing: build first" >&2; exit 1; }
# Unpinned, each server gets a thread (worker) per core; pinned, one: a server on one core runs
# best with one thread (two switch on the core: docs/serving.md, "third pass").
if [ "$PIN" = 1 ]; then
    THREADS=${THREADS:-1}
    WORKERS=${WORKERS:-1}
else
    THREADS=${THREADS:-$NCPU}
    WORKERS=${WORKERS:-$NCPU}
fi
SRV_PIN=()
CLI_PIN=()
PLACEMENT="unpinned: servers and load generator share all $NCPU cores"
if [ "$PIN" = 1 ]; then
    [ "$NCPU" -ge 2 ] || { echo "serve.sh: --pin needs 2 CPUs, this machine has $NCPU" >&2; exit 1; }
    command -v taskset >/dev/null || { echo "serve.sh: --pin needs taskset (util-linux)" >&2; exit 1; }
    SRV_PIN=(taskset -c 0)
    CLI_PIN=(taskset -c 1)
    PLACEMENT="pinned: each server on CPU 0 only, the load generator on CPU 1 only (taskset)"
fi
command -v gunicorn >/dev/null || {
    echo "serve.sh: gunicorn is missing: apt-get install gunicorn python3-flask" >&2
    exit 1
}

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

HF_LOG=(--quiet)
GU_LOG=()
if [ "$LOG" = 1 ]; then
    HF_LOG=()
    GU_LOG=(--access-logfile "$W/gu.access")
fi
"${SRV_PIN[@]}" "$HF" serve --model "$MODEL" --port 0 --threads "$THREADS" "${HF_LOG[@]}" \
    >"$W/hf.out" 2>"$W/hf.err" &
HF_PID=$!
for _ in $(seq 100); do [ -s "$W/hf.out" ] && break; sleep 0.05; done
HF_PORT=$(sed -E 's/.*:([0-9]+)$/\1/' "$W/hf.out")
GU_PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
HF_PEER_DATA=$DATA "${SRV_PIN[@]}" gunicorn -w "$WORKERS" -b "127.0.0.1:$GU_PORT" --chdir "$SRC/bench" \
    --log-level warning "${GU_LOG[@]}" serve_peer:app >"$W/gu.log" 2>&1 &
GU_PID=$!
for _ in $(seq 1200); do # up to 60 s: importing scikit-learn is slow on a busy machine
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

cpu_ns() { # on-CPU time of processes, all their threads (ns, schedstat)
    local p
    for p in "$@"; do cat /proc/"$p"/task/*/schedstat 2>/dev/null; done |
        awk '{t += $1} END {printf "%.0f\n", t}'
}
rss_kb() { # peak RSS (VmHWM) summed over processes
    local t=0 p
    for p in "$@"; do
        [ -r "/proc/$p/status" ] || continue
        t=$((t + $(awk '/VmHWM/ {print $2}' "/proc/$p/status")))
    done
    echo $t
}
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR] = $1} END {
    if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
GU_PIDS="$GU_PID $(pgrep -P "$GU_PID" | tr '\n' ' ')"

# One measurement: serve_load's line plus the server's CPU us per request.
measure() { # PORT BODY CONC MODE PIDS...
    local port=$1 body=$2 conc=$3 mode=$4 c0 c1 line n
    shift 4
    c0=$(cpu_ns "$@")
    # shellcheck disable=SC2086
    line=$("${CLI_PIN[@]}" "$W/serve_load" "$port" "$body" "$conc" "$MAX_REQ" "$MAX_S" $mode)
    c1=$(cpu_ns "$@")
    n=$(echo "$line" | awk '{print $4}')
    echo "$line $(awk -v a="$c0" -v b="$c1" -v n="$n" 'BEGIN {printf "%.1f", n ? (b-a)/1e3/n : 0}')"
}

echo
echo "machine: $(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2}'), $NCPU cores," \
    "load average $(cut -d' ' -f1-3 /proc/loadavg) at the start;" \
    "hyperfold serve --threads $THREADS; gunicorn -w $WORKERS (sync);" \
    "cells: $MAX_REQ requests or ${MAX_S}s; medians of $RUNS runs;" \
    "request logs $([ "$LOG" = 1 ] && echo on || echo off); $PLACEMENT"
printf "%-5s %-5s %-5s | %9s %8s %8s %6s %6s | %8s %8s %8s %6s %6s | %6s %6s\n" rows conc conn \
    "hf req/s" "p50 us" "p99 us" "srv us" "cli us" "py req/s" "p50 us" "p99 us" "srv us" \
    "cli us" "ratio" "cpu x"
for cell in "1 1 keep" "1 4 keep" "1 16 keep" "100 1 keep" "100 4 keep" "100 16 keep" \
    "1 1 close" "1 4 close" "1 16 close"; do
    read -r rows conc conn <<<"$cell"
    mode=""
    [ "$conn" = close ] && mode=close
    declare -A v=()
    errs=""
    for ((run = 0; run < RUNS; run++)); do
        # shellcheck disable=SC2034 # read back through ${!k} below
        read -r hr h50 h99 _ he hcl hsv < <(measure "$HF_PORT" "$W/body$rows.csv" "$conc" \
            "$mode" "$HF_PID")
        # shellcheck disable=SC2086,SC2034
        read -r gr g50 g99 _ ge gcl gsv < <(measure "$GU_PORT" "$W/body$rows.csv" "$conc" \
            "$mode" $GU_PIDS)
        for k in hr h50 h99 hsv hcl gr g50 g99 gsv gcl; do v[$k]="${v[$k]:-} ${!k}"; done
        v[ratio]="${v[ratio]:-} $(awk -v a="$hr" -v b="$gr" 'BEGIN {printf "%.3f", b ? a/b : 0}')"
        v[cpux]="${v[cpux]:-} $(awk -v a="$hsv" -v b="$gsv" 'BEGIN {printf "%.3f", a ? b/a : 0}')"
        [ "$he" != 0 ] || [ "$ge" != 0 ] && errs="$errs hf:$he/py:$ge"
    done
    m() { echo "${v[$1]}" | median; }
    printf "%-5s %-5s %-5s | %9.0f %8.1f %8.1f %6.1f %6.1f | %8.0f %8.1f %8.1f %6.0f %6.1f | %5.1fx %5.1fx" \
        "$rows" "$conc" "$conn" "$(m hr)" "$(m h50)" "$(m h99)" "$(m hsv)" "$(m hcl)" \
        "$(m gr)" "$(m g50)" "$(m g99)" "$(m gsv)" "$(m gcl)" "$(m ratio)" "$(m cpux)"
    [ -n "$errs" ] && printf "  (errors:%s)" "$errs"
    echo
    unset v
done
# shellcheck disable=SC2086
echo "peak RSS: hyperfold serve $(($(rss_kb $HF_PID) / 1024)) MiB;" \
    "gunicorn (master + $WORKERS workers) $(($(rss_kb $GU_PIDS) / 1024)) MiB"
echo "srv us: the server's CPU time per request (all threads / processes); cli us: the load" \
    "generator's ($([ "$PIN" = 1 ] && echo "on CPU 1, apart from the server" ||
        echo "it runs on the same $NCPU cores")); ratio: hf/py requests/s; cpu x: py/hf srv us." \
    "conn keep: kept alive where the server allows (gunicorn sync closes each); close: both" \
    "reconnect per request. Each figure is the median of $RUNS runs; ratios are medians of the" \
    "runs' paired ratios."
