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
    sys.exit(matrix.main(["pairwise", "--report", report] + sys.argv[1:]))
