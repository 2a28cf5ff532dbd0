#!/bin/bash
# bench/trees.sh - hyperfold's xgboost and random_forest beside python3-xgboost in scikit-learn's
# GridSearchCV, HistGradientBoosting and RandomForest, on the same data and folds, in one run
# (bench/trees.py says what each row measures). About 10 minutes on 2 cores with the defaults
# (BENCH_TREES_N=10000 rows x BENCH_TREES_P=20, BENCH_REPEATS=3; BENCH_ONLY picks rows).
set -euo pipefail
source "$(dirname "$0")/env.sh"
exec "${PYTHON:-/usr/bin/python3}" "$SRC/bench/trees.py"
