#!/bin/bash
# bench/xgb_rabit.sh - xgboost on row shards (worker/rabit.h) against one process: the same table
# (BENCH_XGB_N rows x BENCH_XGB_P integer features, 16 values each, so the cuts are exact and the
# models equal), BENCH_XGB_ROUNDS rounds, fitted three times at 1, 2 and 3 ranks (the first fit of
# a group includes the tracker's start). Prints the fit times and a checksum of predictions, which
# is the same at every rank count. About 1 minute on 2 cores with the defaults.
set -euo pipefail
source "$(dirname "$0")/env.sh"
TOOL=${BUILD}/tests/mpi_tool_xgb_rabit_bench
N=${BENCH_XGB_N:-200000} P=${BENCH_XGB_P:-20} R=${BENCH_XGB_ROUNDS:-30}
for np in ${BENCH_XGB_RANKS:-1 2 3}; do
    mpirun --oversubscribe -np "$np" "$TOOL" "$N" "$P" "$R" 256
done
