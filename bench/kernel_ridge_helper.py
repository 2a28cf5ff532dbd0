"""Helpers of bench/kernel_ridge.sh: generate the data, time scikit-learn, report medians.

  kernel_ridge_helper.py gen N P M OUT.bin      random regression data in the driver's input format
  kernel_ridge_helper.py sklearn IN.bin PRED.bin ALPHA
                                               fits sklearn KernelRidge(rbf) and prints one JSON line
                                               (set OPENBLAS_NUM_THREADS before calling)
  kernel_ridge_helper.py report DIR            medians of 3 runs per (n, runner) and a table
"""
import glob
import json
import os
import resource
import statistics
import struct
import sys
import time


def read_input(path):
    import numpy as np
    with open(path, "rb") as f:
        n, p, m = (int(v) for v in struct.unpack("<3d", f.read(24)))
        data = np.fromfile(f, dtype="<f8")
    X = data[: n * p].reshape(n, p)
    y = data[n * p: n * p + n]
    Xt = data[n * p + n:].reshape(m, p)
    return X, y, Xt


def gen(n, p, m, out):
    import numpy as np
    rng = np.random.default_rng(n)
    X = rng.normal(size=(n, p))
    Xt = rng.normal(size=(m, p))
    y = np.sin(X[:, 0]) + 0.3 * X @ rng.normal(size=p) + 0.1 * rng.normal(size=n)
    with open(out, "wb") as f:
        f.write(struct.pack("<3d", n, p, m))
        for a in (X, y, Xt):
            np.ascontiguousarray(a, dtype="<f8").tofile(f)


def sklearn_run(inp, pred_out, alpha):
    from sklearn.kernel_ridge import KernelRidge
    X, y, Xt = read_input(inp)
    t0 = time.monotonic()
    model = KernelRidge(alpha=alpha, kernel="rbf").fit(X, y)
    t_fit = time.monotonic() - t0
    t0 = time.monotonic()
    pred = model.predict(Xt)
    t_pred = time.monotonic() - t0
    pred.astype("<f8").tofile(pred_out)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"n": X.shape[0], "threads": os.environ.get("OPENBLAS_NUM_THREADS", "?"),
                      "fit_seconds": t_fit, "predict_seconds": t_pred,
                      "peak_rss_mib": rss}))


def report(d):
    import numpy as np
    rows = {}
    for path in sorted(glob.glob(os.path.join(d, "*.jsonl"))):
        name = os.path.basename(path)[: -len(".jsonl")]  # e.g. hf_5000_r1, sk_5000_t1
        with open(path) as f:
            runs = [json.loads(line) for line in f if line.strip().startswith("{")]
        if runs:
            rows[name] = runs
    sizes = sorted({int(k.split("_")[1]) for k in rows})
    med = lambda runs, key: statistics.median(r[key] for r in runs)
    print(f"{'n':>6} {'runner':<22} {'fit s':>9} {'pred s':>8} {'vs sk(1t)':>9} {'vs sk(2t)':>9} "
          f"{'RSS MiB/rank':>12} {'factor GF/rank':>14} {'DGEMM GF/rank':>13} {'% peak':>7} "
          f"{'max rel diff':>12}")
    for n in sizes:
        sk1 = rows.get(f"sk_{n}_t1")
        sk2 = rows.get(f"sk_{n}_t2")
        base1 = med(sk1, "fit_seconds") if sk1 else float("nan")
        base2 = med(sk2, "fit_seconds") if sk2 else float("nan")
        skpred = os.path.join(d, f"sk_{n}.pred")
        for key in (f"sk_{n}_t1", f"sk_{n}_t2", f"hf_{n}_r1", f"hf_{n}_r2"):
            runs = rows.get(key)
            if not runs:
                continue
            fit = med(runs, "fit_seconds")
            pred = med(runs, "predict_seconds")
            if key.startswith("sk"):
                label = f"sklearn {runs[0]['threads']} thread(s)"
                rss = med(runs, "peak_rss_mib")
                extra = f"{'':>14} {'':>13} {'':>7} {'':>12}"
            else:
                label = f"hyperfold {runs[0]['ranks']} rank(s) {runs[0]['grid']}"
                rss = med(runs, "peak_rss_mib_max_rank")
                fgf = med(runs, "factor_gflops_per_rank")
                dgf = med(runs, "dgemm_gflops_per_rank")
                diff = float("nan")
                hp = os.path.join(d, f"{key}.pred")
                if os.path.exists(hp) and os.path.exists(skpred):
                    a, b = np.fromfile(hp, "<f8"), np.fromfile(skpred, "<f8")
                    diff = float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-3)))
                extra = f"{fgf:>14.2f} {dgf:>13.2f} {100 * fgf / dgf:>6.1f}% {diff:>12.2e}"
            print(f"{n:>6} {label:<22} {fit:>9.2f} {pred:>8.2f} {base1 / fit:>9.2f} "
                  f"{base2 / fit:>9.2f} {rss:>12.0f} {extra}")
    print("fit s, pred s: medians of the runs; 'vs sk' = sklearn fit time / this fit time "
          "(> 1: faster than sklearn); % peak = factorisation GFLOP/s per rank / DGEMM GFLOP/s "
          "per rank measured in the same run; RSS: peak resident set of the largest rank")


def main(argv):
    if len(argv) >= 2 and argv[1] == "gen" and len(argv) == 6:
        gen(int(argv[2]), int(argv[3]), int(argv[4]), argv[5])
    elif len(argv) == 5 and argv[1] == "sklearn":
        sklearn_run(argv[2], argv[3], float(argv[4]))
    elif len(argv) == 3 and argv[1] == "report":
        report(argv[2])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
