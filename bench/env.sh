# bench/env.sh - sourced by the bench scripts: the hyperfold binary and the MPI and BLAS
# environment every benchmark runs hyperfold in.
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${HF_BUILD_DIR:-$SRC/build}
export HYPERFOLD=${HYPERFOLD:-$BUILD/hyperfold}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_mpi_yield_when_idle=1
export OPENBLAS_NUM_THREADS=1 OMPI_MCA_pml="${OMPI_MCA_pml:-ob1}"
