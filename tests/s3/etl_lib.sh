# Shared setup of the etl tests (sourced after lib.sh, in $WORK): the MPI settings, the test S3
# server as the AWS endpoint, a private staging directory, and the helpers etl (the command) and
# keys (the keys under an s3:// prefix, one a line, sorted).
: "${HYPERFOLD:?HYPERFOLD must name the hyperfold binary}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_pml=ob1 OPENBLAS_NUM_THREADS=1
export OMPI_MCA_mpi_yield_when_idle=1
export AWS_ENDPOINT_URL="$EP"
export HF_ETL_STAGING="$WORK/staging"
mkdir -p files staging
PY=/usr/bin/python3
etl() { "$HYPERFOLD" etl "$@"; }
keys() { hfs3 ls "$1" --endpoint "$EP" | awk '{print $2}' | sort; }
