"""Helpers shared by the Python tests: run hyperfold under mpirun, load its outputs."""
import json
import os
import subprocess
import sys
import tempfile

HYPERFOLD = os.environ.get("HYPERFOLD") or os.path.join(
    os.environ.get("HF_BUILD_DIR", "build"), "hyperfold")
SOURCE_DIR = os.environ.get("HF_SOURCE_DIR", os.getcwd())


def env():
    e = dict(os.environ)
    e.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
    e.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    e.setdefault("OMPI_MCA_rmaps_base_oversubscribe", "1")
    e.setdefault("OMPI_MCA_mpi_yield_when_idle", "1")
    e.setdefault("OMPI_MCA_pml", "ob1")  # skips probing Omni-Path at MPI_Init (0.2 s)
    e.setdefault("OPENBLAS_NUM_THREADS", "1")
    return e


def hyperfold(args, np=None, cwd=None, check=True, timeout=600):
    """Runs hyperfold (under mpirun with np ranks when np is given); returns CompletedProcess."""
    cmd = [HYPERFOLD] + list(args)
    if np is not None:
        cmd = ["mpirun", "--oversubscribe", "-np", str(np)] + cmd
    p = subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        sys.stderr.write("command failed (%d): %s\n--- stdout\n%s\n--- stderr\n%s\n" % (
            p.returncode, " ".join(cmd), p.stdout, p.stderr))
        raise SystemExit(1)
    return p


def tempdir(prefix="hftest-"):
    d = tempfile.mkdtemp(prefix=prefix)
    return d


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def load_results(run_dir):
    with open(os.path.join(run_dir, "results.json")) as f:
        return json.load(f)


def comparable(results):
    """results.json without the fields that legitimately differ between runs (timings, paths)."""
    r = dict(results)
    r.pop("timing", None)
    r.pop("model_path", None)
    return r


def rel_close(a, b, rtol, atol=0.0):
    return abs(a - b) <= atol + rtol * max(abs(a), abs(b))


class Checker:
    """Counts assertions; prints a summary line; exits non-zero on the first failure list."""

    def __init__(self, name):
        self.name = name
        self.failures = []
        self.passed = 0

    def check(self, cond, msg):
        if cond:
            self.passed += 1
        else:
            self.failures.append(msg)
            sys.stderr.write("FAIL: %s\n" % msg)

    def done(self):
        if self.failures:
            print("%s: %d checks passed, %d failed" % (self.name, self.passed, len(self.failures)))
            sys.exit(1)
        if self.passed == 0:
            print("%s: no checks ran" % self.name)
            sys.exit(1)
        print("%s: %d checks passed" % (self.name, self.passed))
