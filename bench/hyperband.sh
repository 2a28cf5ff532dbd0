#!/bin/bash
# bench/hyperband.sh - hyperfold's Hyperband against random search with the full budget, same
# number of configurations (bench/hyperband.py says what it measures). About 10 minutes on 2 cores
# (BENCH_SEEDS=1,2,3, BENCH_HB_N=8000 rows).
set -euo pipefail
source "$(dirname "$0")/env.sh"
exec "${PYTHON:-/usr/bin/python3}" "$SRC/bench/hyperband.py"
