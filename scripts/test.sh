#!/usr/bin/env bash
# The README's second command (and what CI runs): install what is needed, build, run the whole
# test suite with ctest (unit, MPI at 1/2/4 ranks, peer tests against scikit-learn, S3 against a
# real S3 server, Slurm against a real single-node cluster, and the ASan+UBSan build).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --with-test-peers
bash scripts/build.sh build -DHF_WERROR=ON
cd build
ctest --output-on-failure --timeout 1200 "$@"
