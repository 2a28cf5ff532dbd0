#!/bin/bash
# bench/report.sh - the report of a large sweep: a ridge random search of BENCH_TRIALS (1000)
# trials x 5 folds on the diabetes data at 2 ranks, then `hyperfold report` on its run directory
# BENCH_REPEATS (5) times. Prints the page's size, the median time to write it and its ratio to
# the sweep's own wall time (results.json timing.seconds). About 10 s on 2 cores.
set -euo pipefail
source "$(dirname "$0")/env.sh"
TRIALS=${BENCH_TRIALS:-1000}
REPEATS=${BENCH_REPEATS:-5}
work=$(mktemp -d /tmp/bench-report-XXXXXX)
trap 'rm -rf "$work"' EXIT
cp "$SRC/examples/data/diabetes.csv" "$work/"
cat > "$work/job.yaml" <<YAML
name: big
data: {source: diabetes.csv, target: target, task: regression}
cv: {folds: 5, strategy: kfold, seed: 42}
model:
  type: ridge
  params:
    alpha: {log_uniform: [1.0e-3, 1.0e3]}
    fit_intercept: [true, false]
search: {strategy: random, trials: $TRIALS, seed: 7}
objective: {metric: r2, report: [rmse, mae]}
output: {dir: out}
YAML
cd "$work"
mpirun -np 2 "$HYPERFOLD" run job.yaml --quiet
times=()
for _ in $(seq "$REPEATS"); do
    t0=$(date +%s.%N)
    "$HYPERFOLD" report out/big > /dev/null
    t1=$(date +%s.%N)
    times+=("$(echo "$t1 - $t0" | bc -l)")
done
median=$(printf '%s\n' "${times[@]}" | sort -g | sed -n "$(( (REPEATS + 1) / 2 ))p")
sweep=$("${PYTHON:-/usr/bin/python3}" -c 'import json; print(json.load(open("out/big/results.json"))["timing"]["seconds"])')
size=$(stat -c %s out/big/report.html)
printf 'report of %d trials: %d bytes, %.3f s (median of %d); sweep %.3f s; report/sweep %.2f\n' \
    "$TRIALS" "$size" "$median" "$REPEATS" "$sweep" "$(echo "$median / $sweep" | bc -l)"
