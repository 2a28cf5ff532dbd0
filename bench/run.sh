#!/bin/bash
# bench/run.sh - hyperfold beside scikit-learn / pandas on the same data in the same run.
#
# Generates the data with fixed seeds (numpy) into a scratch directory, runs hyperfold (mpirun) and
# its peer on it, checks that the answers agree and prints ONE table of medians (see
# docs/performance.md for what each row measures and the latest numbers).
#
# Usage: bench/run.sh
# Environment:
#   BENCH_QUICK=1        small data (100 MB ingest CSV, smaller sweeps): about 3 minutes
#   BENCH_REPEATS=N      timed runs per measurement (default 3); the table shows medians
#   BENCH_DIR=DIR        scratch directory (default /tmp/hf_bench); generated CSVs are kept there
#                        and reused by later runs with the same sizes (BENCH_REGEN=1 regenerates)
#   BENCH_ONLY=a,b       only these rows: ridge, logistic, ingest, sched, eff
#   BENCH_KEEP=1         keep the run directories (results.json, journals) in BENCH_DIR
#   HF_BUILD_DIR         build directory holding the hyperfold binary (default ./build)
# The default run takes about 10-15 minutes on 2 cores and needs about 3 GB of disk in BENCH_DIR.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${HF_BUILD_DIR:-$SRC/build}
export HYPERFOLD=${HYPERFOLD:-$BUILD/hyperfold}
PY=${PYTHON:-/usr/bin/python3}

if [ ! -x "$HYPERFOLD" ]; then
    echo "run.sh: $HYPERFOLD is missing: build first (cmake --build build)" >&2
    exit 1
fi
if [ ! -x /usr/bin/time ]; then
    echo "run.sh: /usr/bin/time is missing (Debian package: time)" >&2
    exit 1
fi

# The same MPI environment as the test suite (docs: /work/shared/platform-notes.md).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_mpi_yield_when_idle=1
export OPENBLAS_NUM_THREADS=1
# Debian's Open MPI probes the cm PML's PSM/PSM2 (Omni-Path) transports at every MPI_Init, 0.2 s
# on a machine without them, then selects ob1 anyway: ask for ob1 (docs/performance.md).
export OMPI_MCA_pml="${OMPI_MCA_pml:-ob1}"

exec "$PY" "$SRC/bench/bench.py"
