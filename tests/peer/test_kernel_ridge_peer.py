"""Peer test: hyperfold's kernel_ridge against scikit-learn's KernelRidge.

Generates regression data here, drives the kernel_ridge model through the file mode of the
mpitest_kernel_ridge program (built by ctest's build) on 1, 2 and 4 ranks with a block size that
divides neither the training nor the test size, and checks the predictions of rbf, polynomial and
linear kernels against sklearn.kernel_ridge.KernelRidge to 1e-6 relative. Also checks that a
memory budget too small for the kernel matrices is refused with a message naming the ranks needed.
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np
from sklearn.kernel_ridge import KernelRidge

BUILD = os.environ.get("HF_BUILD_DIR", "build")
DRIVER = os.path.join(BUILD, "tests", "mpi_mpitest_kernel_ridge")
MPIRUN = shutil.which("mpirun") or "/usr/bin/mpirun"

CONFIGS = [
    # (kernel, gamma or None, degree, coef0)
    ("rbf", None, 3, 1.0),
    ("rbf", 0.5, 3, 1.0),
    ("polynomial", 0.1, 3, 1.0),
    ("polynomial", None, 2, 0.5),
    ("linear", None, 3, 1.0),
]
ALPHAS = [0.1, 1.0, 4.0]


def write_input(path, X, y, Xt):
    n, p = X.shape
    m = Xt.shape[0]
    with open(path, "wb") as f:
        f.write(struct.pack("<3d", n, p, m))
        np.ascontiguousarray(X, dtype="<f8").tofile(f)
        np.ascontiguousarray(y, dtype="<f8").tofile(f)
        np.ascontiguousarray(Xt, dtype="<f8").tofile(f)


def run(np_, inp, out, kernel, gamma, degree, coef0, extra=None):
    env = dict(os.environ)
    env.update({
        "HF_KRR_INPUT": inp,
        "HF_KRR_OUTPUT": out,
        "HF_KRR_KERNEL": kernel,
        "HF_KRR_ALPHAS": ",".join(repr(a) for a in ALPHAS),
        "HF_KRR_GAMMA": "0" if gamma is None else repr(gamma),
        "HF_KRR_DEGREE": str(degree),
        "HF_KRR_COEF0": repr(coef0),
        "HF_KRR_NB": "7",
        "OMPI_ALLOW_RUN_AS_ROOT": "1",
        "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
        "OMPI_MCA_mpi_yield_when_idle": "1",
        "OPENBLAS_NUM_THREADS": "1",
    })
    if extra:
        env.update(extra)
    return subprocess.run([MPIRUN, "--oversubscribe", "-np", str(np_), DRIVER], env=env,
                          capture_output=True, text=True, timeout=300)


def main():
    if not os.path.exists(DRIVER):
        print(f"FAIL: driver {DRIVER} not built (cmake --build build)")
        return 1
    rng = np.random.default_rng(20240605)
    n, p, m = 150, 6, 45
    X = rng.normal(size=(n, p))
    Xt = rng.normal(size=(m, p))
    w = rng.normal(size=p)
    y = np.sin(X[:, 0]) + X @ w * 0.3 + 0.1 * rng.normal(size=n)
    failures = 0
    tmp = tempfile.mkdtemp(prefix="hf_krr_peer_")
    try:
        inp = os.path.join(tmp, "in.bin")
        out = os.path.join(tmp, "out.bin")
        write_input(inp, X, y, Xt)
        for kernel, gamma, degree, coef0 in CONFIGS:
            want = np.array([
                KernelRidge(alpha=a, kernel=kernel, gamma=gamma, degree=degree,
                            coef0=coef0).fit(X, y).predict(Xt) for a in ALPHAS])
            for np_ in (1, 2, 4):
                if os.path.exists(out):
                    os.unlink(out)
                r = run(np_, inp, out, kernel, gamma, degree, coef0)
                label = f"{kernel} gamma={gamma} degree={degree} coef0={coef0} on {np_} ranks"
                if r.returncode != 0:
                    print(f"FAIL {label}: exit {r.returncode}\n{r.stderr[-2000:]}")
                    failures += 1
                    continue
                got = np.fromfile(out, dtype="<f8").reshape(len(ALPHAS), m)
                rel = np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-3))
                ok = rel < 1e-6
                print(f"{'ok  ' if ok else 'FAIL'} {label}: max relative difference {rel:.3g}")
                failures += not ok

        # 150x150 kernel matrices (two of them for an alpha sweep) do not fit in 100 KB per rank.
        r = run(2, inp, out, "rbf", None, 3, 1.0, {"HF_KRR_MEMORY": "100000"})
        msg = r.stderr
        ok = (r.returncode != 0 and "memory_per_rank" in msg
              and "parallel.ranks_per_task >= " in msg)
        if ok:
            need = int(msg.split("parallel.ranks_per_task >= ")[1].split()[0])
            # two matrices of 150x150 doubles = 360 KB over 100 KB: at least 4 ranks
            ok = need >= 4
        print(f"{'ok  ' if ok else 'FAIL'} memory refusal: exit {r.returncode}: {msg.strip()[:300]}")
        failures += not ok
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("kernel_ridge peer test:", "FAILED" if failures else "ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
