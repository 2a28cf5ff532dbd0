#!/usr/bin/python3
"""The correctness matrix, default subset (ctest matrix.pairwise): a fixed pairwise-covering set
of combinations of the options that change the computation, each equal to scikit-learn and to the
1-rank run, and every refused combination refused by validate and run with one line. See
tests/matrix/matrix.py and docs/testing.md ("The correctness matrix")."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import matrix  # noqa: E402

if __name__ == "__main__":
    report = os.path.join(os.environ.get("HF_BUILD_DIR", "."), "matrix-pairwise.json")
    # Two processes: the combinations' MPI runs and scikit-learn references leave a core idle a
    # good part of the time, and the suite has 90 minutes on 2 cores (HF_MATRIX_JOBS to change).
    jobs = os.environ.get("HF_MATRIX_JOBS", "2")
    sys.exit(matrix.main(["pairwise", "--jobs", jobs, "--report", report] + sys.argv[1:]))
