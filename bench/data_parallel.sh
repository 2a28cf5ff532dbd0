#!/bin/bash
# bench/data_parallel.sh - parallel.data_parallel on a table 4x larger than parallel.memory_per_rank.
#
# Writes a regression table (default 200,000 rows x 20 numeric features and a 4-level category,
# about 34 MB as doubles), sets memory_per_rank to a quarter of one copy of it, and
#   1. checks that `hyperfold run` refuses it without data_parallel (ranks_per_task 4): exit 2,
#      one line naming parallel.memory_per_rank;
#   2. tunes it (ridge, 3 alphas; logistic_regression on a binary target, 2 C values; 3 folds,
#      standard scaling, one-hot) on one group of 4 ranks with data_parallel: true;
#   3. tunes it the single-copy way (1 rank, no limit: the table fits in this machine's memory);
# and prints wall times, their ratio, the peak RSS of the largest rank (GNU time over mpirun:
# the largest process of the tree), and the largest relative difference of the fold scores.
#
# Usage: bench/data_parallel.sh [--rows N] [--prep 'YAML']   (about 2 minutes on 2 shared cores at
# the default). --prep adds entries to both runs' preprocess mapping, e.g. the steps that gather
# one column at a time on the group (docs/scaling.md): --prep 'impute: {numeric: median},
# clip: {lower: 0.01}, power: yeo-johnson, kbins: 5'.
# Needs the build (HF_BUILD_DIR, default ./build) and /usr/bin/time.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${HF_BUILD_DIR:-$SRC/build}
HF=$BUILD/hyperfold
PY=${PYTHON:-/usr/bin/python3}
ROWS=200000
P=20
PREP=""
while [ $# -gt 0 ]; do
    case "$1" in
    --rows) ROWS="$2"; shift ;;
    --prep) PREP=", $2"; shift ;;
    *) echo "usage: $0 [--rows N] [--prep 'YAML']" >&2; exit 2 ;;
    esac
    shift
done
[ -x "$HF" ] || { echo "data_parallel.sh: $HF is missing: build first" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_pml=ob1 OPENBLAS_NUM_THREADS=1 OMPI_MCA_mpi_yield_when_idle=1

W=$(mktemp -d "${TMPDIR:-/tmp}/hf-bench-dp.XXXXXX")
trap 'rm -rf "$W"' EXIT
"$PY" - "$W" "$ROWS" "$P" <<'EOF'
import sys
import numpy as np
import pandas as pd
w, n, p = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(5)
X = rng.normal(size=(n, p)) * rng.uniform(0.5, 5.0, p) + rng.normal(size=p)
city = rng.choice(["Oslo", "Paris", "Rome", "Lima"], n)
z = X @ rng.normal(size=p) / p + (city == "Rome") + rng.normal(size=n)
df = pd.DataFrame(X, columns=["x%d" % j for j in range(p)])
df["city"] = city
for name, y in (("reg", z), ("bin", (z > np.median(z)).astype(int))):
    d = df.copy()
    d["y"] = y
    d.to_csv("%s/%s.csv" % (w, name), index=False, float_format="%.10g")
EOF
# One copy of the table as the preflight counts it: rows x (features + target) x 8 bytes, the
# one-hot category a single feature column.
TABLE=$((ROWS * (P + 2) * 8))
LIMIT=$((TABLE / 4))

spec() { # name source model params ranks_per_task data_parallel limit
    cat > "$W/$1.yaml" <<EOF
name: $1
data: {source: $W/$2.csv, target: y}
cv: {folds: 3, seed: 1}
preprocess: {scale: standard$PREP}
model: {type: $3, params: $4}
parallel: {ranks_per_task: $5, data_parallel: $6$7}
output: {dir: $W/out}
EOF
}

timed() { # label np spec -> "seconds maxrss_kib"
    local t0 t1
    t0=$(date +%s.%N)
    /usr/bin/time -f "%M" -o "$W/$1.rss" mpirun -np "$2" "$HF" run "$W/$3.yaml" --quiet \
        > "$W/$1.out" 2> "$W/$1.err" || { echo "$1 failed:"; tail -5 "$W/$1.err"; exit 1; }
    t1=$(date +%s.%N)
    echo "$(echo "$t1 - $t0" | bc) $(tail -1 "$W/$1.rss")"
}

[ -z "$PREP" ] || echo "preprocess: {scale: standard$PREP}"
echo "table: $ROWS rows x $P numeric features + 1 category ($((TABLE / 1048576)) MiB as the" \
     "preflight counts it); parallel.memory_per_rank $((LIMIT / 1024)) KiB (a quarter)"
spec refused reg ridge "{alpha: [0.1, 1.0, 10.0]}" 4 false ", memory_per_rank: $LIMIT"
set +e
mpirun -np 4 "$HF" run "$W/refused.yaml" --quiet > /dev/null 2> "$W/refused.err"
rc=$?
set -e
echo "without data_parallel (4 ranks, ranks_per_task 4): exit $rc: $(grep -m1 'hyperfold: error' "$W/refused.err" | cut -c1-160)..."
[ "$rc" = 2 ] || { echo "expected exit 2"; exit 1; }

printf "%-22s %-34s %9s %14s\n" model runner "wall s" "max RSS MiB"
for case in "ridge reg {alpha: [0.1, 1.0, 10.0]}" "logistic_regression bin {C: [0.1, 1.0]}"; do
    set -- $case
    model=$1 src=$2
    shift 2
    params="$*"
    spec "dp-$model" "$src" "$model" "$params" 4 true ", memory_per_rank: $LIMIT"
    spec "one-$model" "$src" "$model" "$params" 1 false ""
    read -r t4 r4 <<< "$(timed "dp-$model" 4 "dp-$model")"
    read -r t1 r1 <<< "$(timed "one-$model" 1 "one-$model")"
    printf "%-22s %-34s %9.2f %14.1f\n" "$model" "single copy, 1 rank" "$t1" "$(echo "$r1 / 1024" | bc -l)"
    printf "%-22s %-34s %9.2f %14.1f\n" "$model" "data_parallel, group of 4 ranks" "$t4" "$(echo "$r4 / 1024" | bc -l)"
    "$PY" - "$W/out/one-$model/results.json" "$W/out/dp-$model/results.json" "$t1" "$t4" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
worst = 0.0
for s, t in zip(a["trials"], b["trials"]):
    for m in s["fold_scores"]:
        for x, y in zip(s["fold_scores"][m], t["fold_scores"][m]):
            worst = max(worst, abs(x - y) / max(abs(x), abs(y), 1e-300))
print("    time ratio (group of 4 / single copy) %.2f; same best trial: %s; largest relative "
      "fold-score difference %.3g" % (float(sys.argv[4]) / float(sys.argv[3]),
                                      a["best"]["trial"] == b["best"]["trial"], worst))
EOF
done
