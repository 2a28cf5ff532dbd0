#!/bin/bash
# bench/tpe.sh - hyperfold's TPE against its random search and Optuna's TPE on four tuning
# problems, and the sampler's proposal time (bench/tpe.py says what it measures). About 10 minutes
# on 2 idle cores with 5 seeds; 27 minutes for the four problems when other builds shared the
# cores (BENCH_SEEDS; BENCH_ONLY picks problems).
set -euo pipefail
source "$(dirname "$0")/env.sh"
exec "${PYTHON:-/usr/bin/python3}" "$SRC/bench/tpe.py"
