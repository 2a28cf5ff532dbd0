#!/bin/bash
# bench/progress.sh - the cost of the progress line on a large grid. A ridge grid of
# PROGRESS_TRIALS alphas (default 50,000; log_uniform grid_points) x 5 folds, run as one process
# with stderr on a terminal (script(1)), where a line is drawn after every result: the sweep's
# own time (the `elapsed` of the last progress line) of $HYPERFOLD against $PROGRESS_BEFORE (an
# older build's binary, e.g. main's before the counts were kept as results arrive, which walked
# trials x splits at every line). PROGRESS_REPEATS runs each (default 3, alternating); prints
# every run, the medians and their ratio. Noisy on shared cores: quote medians.
set -euo pipefail
source "$(dirname "$0")/env.sh"
BEFORE=${PROGRESS_BEFORE:?set PROGRESS_BEFORE to the binary to compare with}
N=${PROGRESS_TRIALS:-50000}
R=${PROGRESS_REPEATS:-3}
WORK=$(mktemp -d /tmp/hf_progress.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
"${PYTHON:-/usr/bin/python3}" - "$WORK/data.csv" <<'PY'
import sys
import numpy as np
rng = np.random.default_rng(1)
X = rng.normal(size=(400, 6))
y = X @ rng.normal(size=6) + 0.1 * rng.normal(size=400)
with open(sys.argv[1], "w") as f:
    f.write(",".join("x%d" % i for i in range(6)) + ",y\n")
    for r, v in zip(X, y):
        f.write(",".join("%.17g" % x for x in r) + ",%.17g\n" % v)
PY
cat > "$WORK/job.yaml" <<YAML
name: progress
data: {source: $WORK/data.csv, target: y, task: regression}
cv: {strategy: kfold, folds: 5, seed: 1}
model:
  type: ridge
  params:
    alpha: {log_uniform: [1.0e-6, 1.0e3], grid_points: $N}
objective: {metric: rmse}
output: {dir: $WORK/out}
YAML
sweep_seconds() { # binary -> the last progress line's elapsed seconds
  script -qec "$1 run $WORK/job.yaml --fresh" /dev/null </dev/null | tr '\r' '\n' |
    grep -o 'elapsed [0-9.]*s' | tail -1 | tr -dc '0-9.'
}
now=() before=()
for i in $(seq "$R"); do
  a=$(sweep_seconds "$HYPERFOLD"); b=$(sweep_seconds "$BEFORE")
  echo "run $i: this build ${a}s, before ${b}s"
  now+=("$a") before+=("$b")
done
"${PYTHON:-/usr/bin/python3}" - "${now[*]}" "${before[*]}" "$N" <<'PY'
import sys, statistics as st
a = [float(x) for x in sys.argv[1].split()]
b = [float(x) for x in sys.argv[2].split()]
print("trials %s x 5 folds: median sweep %.2fs (this build) vs %.2fs (before): before/this %.2f"
      % (sys.argv[3], st.median(a), st.median(b), st.median(b) / st.median(a)))
PY
