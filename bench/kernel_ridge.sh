#!/bin/bash
# bench/kernel_ridge.sh - hyperfold kernel_ridge (rbf) on 1 and 2 ranks beside scikit-learn's
# KernelRidge, on the same data in the same run. Prints medians of 3 runs: fit and predict times,
# the time ratio to sklearn (1 and 2 BLAS threads), the peak RSS of the largest rank, and the
# fraction of the DGEMM peak (measured in the same run, per rank) reached by the factorisation.
#
# Usage: bench/kernel_ridge.sh [--large] [--sizes "N1 N2 ..."] [--reps R] [--nb B]
#   default sizes 5000 10000 (about 4 minutes on 2 cores); --large adds 20000 (about 6.5 GB of
#   memory on 1 rank and several more minutes).
# Needs the build (HF_BUILD_DIR, default ./build): the driver is the file mode of
# tests/mpi/mpitest_kernel_ridge.c.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${HF_BUILD_DIR:-$SRC/build}
DRIVER=$BUILD/tests/mpi_mpitest_kernel_ridge
PY=${PYTHON:-/usr/bin/python3}
HELPER=$SRC/bench/kernel_ridge_helper.py
SIZES="5000 10000"
REPS=3
NB=${HF_KRR_NB:-0}
P=20
M=2000
ALPHA=1.0
DGEMM_N=2000

while [ $# -gt 0 ]; do
    case "$1" in
    --large) SIZES="5000 10000 20000" ;;
    --sizes) SIZES="$2"; shift ;;
    --reps) REPS="$2"; shift ;;
    --nb) NB="$2"; shift ;;
    *) echo "usage: $0 [--large] [--sizes \"N ...\"] [--reps R] [--nb B]" >&2; exit 2 ;;
    esac
    shift
done

if [ ! -x "$DRIVER" ]; then
    echo "kernel_ridge.sh: $DRIVER is missing: build first (cmake --build build)" >&2
    exit 1
fi

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_mpi_yield_when_idle=1
export OPENBLAS_NUM_THREADS=1

TMP=$(mktemp -d /tmp/hf_krr_bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

echo "kernel_ridge benchmark: rbf, p=$P, $M test rows, alpha=$ALPHA, sizes: $SIZES, $REPS runs each"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
for n in $SIZES; do
    in=$TMP/in_$n.bin
    "$PY" "$HELPER" gen "$n" "$P" "$M" "$in"
    for rep in $(seq "$REPS"); do
        for t in 1 2; do
            OPENBLAS_NUM_THREADS=$t "$PY" "$HELPER" sklearn "$in" "$TMP/sk_$n.pred" "$ALPHA" \
                >>"$TMP/sk_${n}_t$t.jsonl"
        done
        for r in 1 2; do
            HF_KRR_INPUT=$in HF_KRR_OUTPUT=$TMP/hf_${n}_r$r.pred HF_KRR_ALPHAS=$ALPHA \
                HF_KRR_KERNEL=rbf HF_KRR_NB=$NB HF_KRR_DGEMM=$DGEMM_N \
                mpirun --oversubscribe -np "$r" "$DRIVER" >>"$TMP/hf_${n}_r$r.jsonl"
        done
        echo "  n=$n run $rep/$REPS done" >&2
    done
done
"$PY" "$HELPER" report "$TMP"
