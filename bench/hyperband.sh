#!/bin/bash
# bench/hyperband.sh - hyperfold's Hyperband against random search with the full budget, same
# number of configurations (bench/hyperband.py says what it measures). About 10 minutes on 2 cores
# (BENCH_SEEDS=1,2,3, BENCH_HB_N=8000 rows).
# BENCH_PROBLEM=kernel_ridge (or `bench/hyperband.sh --problem kernel_ridge`): the second problem,
# rbf kernel ridge on a 5,000 x 10 make_friedman1 table with the rows as the resource
# (preprocess.train_fraction 1/27..1, 49 configurations); about 20 minutes on 2 cores.
set -euo pipefail
source "$(dirname "$0")/env.sh"
exec "${PYTHON:-/usr/bin/python3}" "$SRC/bench/hyperband.py" "$@"
