#!/bin/bash
# bench/memory.sh - the node's memory for one table, shared (parallel.shared_table: true, one copy
# per node) and private (false, one copy per rank): a small ridge sweep on a generated table of
# ROWS x COLS numeric features (default 1.2 M x 100 doubles, about 0.98 GB in memory), ingested
# once, at 1, 2, 4 and 8 ranks on this node. bench/memory.py samples every rank while it runs
# (every 0.05 s; each task waits 200 ms so that even the tiny table's sweep is sampled) and the
# table prints the peaks of the ranks' summed RSS (a shared page counts in every rank that touches
# it) and summed PSS (shared pages divided among their ranks: the node's
# real use), the largest rank's RSS, and the drop of MemAvailable (the whole node, other work
# included). The baseline is the same sweep on a tiny table (2000 rows): the ranks' own memory.
# Goal: shared, the ranks' summed PSS <= the table + 10% + the baseline's summed PSS.
#
# Usage: bench/memory.sh [--rows N] [--cols P] [--ranks "1 2 4 8"]
# About 10 GB of memory at 8 private ranks; about 12 minutes on 2 cores. Needs the build
# (HF_BUILD_DIR, default ./build).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
. "$SRC/bench/env.sh"
PY=${PYTHON:-/usr/bin/python3}
HELPER=$SRC/bench/memory.py
ROWS=1200000
COLS=100
RANKS="1 2 4 8"
while [ $# -gt 0 ]; do
    case "$1" in
    --rows) ROWS="$2"; shift ;;
    --cols) COLS="$2"; shift ;;
    --ranks) RANKS="$2"; shift ;;
    *) echo "usage: $0 [--rows N] [--cols P] [--ranks \"1 2 4 8\"]" >&2; exit 2 ;;
    esac
    shift
done
if [ ! -x "$HYPERFOLD" ]; then
    echo "memory.sh: $HYPERFOLD is missing: build first (cmake --build build)" >&2
    exit 1
fi
TMP=$(mktemp -d /tmp/hf_memory_bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# job.yaml of DIR: the sweep on CSV, the table shared or not.
spec() {
    cat >"$1/job.yaml" <<EOF
name: mem
data: {source: $2, target: y}
cv: {folds: 3, seed: 1}
model:
  type: ridge
  params:
    alpha: [0.1, 1.0, 10.0, 100.0]
search: {strategy: grid}
objective: {metric: r2}
parallel: {shared_table: $3}
output: {dir: out}
EOF
}

echo "memory benchmark: ridge, 3 folds x 4 alphas; table $ROWS x $COLS; ranks: $RANKS"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
mkdir -p "$TMP/big" "$TMP/tiny"
t0=$(date +%s)
"$PY" "$HELPER" gen "$ROWS" "$COLS" "$TMP/big.csv"
"$PY" "$HELPER" gen 2000 "$COLS" "$TMP/tiny.csv"
echo "generated $(du -h "$TMP/big.csv" | cut -f1) of CSV in $(($(date +%s) - t0)) s"
# Ingest once (2 ranks); every later run reuses the shards (--fresh: a new sweep each time).
for w in big tiny; do
    spec "$TMP/$w" "$TMP/$w.csv" true
    t0=$(date +%s)
    # ./job.yaml: not signalled by tests/cli/test_resume.py's pkill of `hyperfold run job.yaml`.
    (cd "$TMP/$w" && mpirun --oversubscribe -np 2 "$HYPERFOLD" run ./job.yaml --quiet)
    echo "ingested $w in $(($(date +%s) - t0)) s"
done
# The table in memory: X, y and row (hf_shards_table_bytes without the alignment).
TABLE=$(( ROWS * (COLS + 2) * 8 ))

"$PY" - "$TMP" "$TABLE" "$RANKS" "$HELPER" <<'EOF'
import json, os, subprocess, sys
tmp, table, ranks, helper = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4]
MB = 1 << 20

def spec(d, shared):
    p = os.path.join(d, "job.yaml")
    t = open(p).read()
    t = t.replace("shared_table: true", "shared_table: %s" % shared).replace(
        "shared_table: false", "shared_table: %s" % shared)
    open(p, "w").write(t)

def run(n, d, shared):
    spec(d, shared)
    out = subprocess.run([sys.executable, helper, "run", str(n), d, "--fresh"],
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out)

print("table in memory: %.0f MiB" % (table / MB))
print("peaks during the sweep (the table and the tasks), MiB; 'all' adds rank 0's refit, out-of-fold")
print("predictions and report after the sweep; MemAvail -: the node's MemAvailable drop (other work too)")
print("%5s %-8s %8s %8s %8s %10s %9s %7s  %s" % ("ranks", "table", "sum RSS", "sum PSS",
      "max RSS", "MemAvail -", "all: PSS", "wall", "goal: sum PSS <= table*1.1 + baseline"))
ok = True
for n in ranks:
    base = run(int(n), os.path.join(tmp, "tiny"), "true")
    print("%5s %-8s %8.0f %8.0f %8.0f %10.0f %9.0f %6.1fs  (baseline: 2000 rows)" % (
        n, "tiny", base["rss_sum"] / MB, base["pss_sum"] / MB, base["rss_max"] / MB,
        (base["avail_before"] - base["avail_min"]) / MB, base["pss_sum_all"] / MB, base["wall"]))
    shared_pss = 1
    for shared in ("true", "false"):
        r = run(int(n), os.path.join(tmp, "big"), shared)
        limit = table * 1.1 + base["pss_sum"]
        if shared == "true":
            good = r["pss_sum"] <= limit
            ok = ok and good
            goal = "%s (%.0f <= %.0f)" % ("ok" if good else "MISSED", r["pss_sum"] / MB, limit / MB)
            shared_pss = r["pss_sum"]
        else:
            goal = "private: %.2fx the shared sum PSS" % (r["pss_sum"] / shared_pss)
        print("%5s %-8s %8.0f %8.0f %8.0f %10.0f %9.0f %6.1fs  %s" % (
            n, "shared" if shared == "true" else "private", r["rss_sum"] / MB, r["pss_sum"] / MB,
            r["rss_max"] / MB, (r["avail_before"] - r["avail_min"]) / MB, r["pss_sum_all"] / MB,
            r["wall"], goal))
print("goal (every shared row, during the sweep): %s" % ("met" if ok else "MISSED"))
EOF
