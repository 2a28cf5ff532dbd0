#!/bin/bash
# bench/tpe.sh - hyperfold TPE against its random search and Optuna TPE on three tuning problems
# (bench/tpe.py says what each row measures). About 10 minutes on 2 cores with the defaults
# (BENCH_TREES_N=10000 rows x BENCH_TREES_P=20, BENCH_REPEATS=3; BENCH_ONLY picks rows).
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${HF_BUILD_DIR:-$SRC/build}
export HYPERFOLD=${HYPERFOLD:-$BUILD/hyperfold}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_mpi_yield_when_idle=1
export OPENBLAS_NUM_THREADS=1 OMPI_MCA_pml="${OMPI_MCA_pml:-ob1}"
exec "${PYTHON:-/usr/bin/python3}" "$SRC/bench/tpe.py"
