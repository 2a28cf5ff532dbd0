#!/usr/bin/python3
"""bench/bench.py - the driver behind bench/run.sh: hyperfold beside scikit-learn / pandas.

Rows (see docs/performance.md):
  ridge     50 alphas x 5 predefined folds, 200,000 x 100, 2 ranks  vs GridSearchCV(Ridge), n_jobs=2
  logistic  12 C x 5 stratified predefined folds, 100,000 x 50       vs GridSearchCV(LogisticRegression)
  ingest    CSV -> HDF5 shards, ~1 GB numeric CSV, 1 and 2 ranks     vs pandas.read_csv + h5py write
  sched     10,000 tasks of about 1 ms at 2 ranks                    vs the tasks' own compute time
  eff       200 independent trials, 1 -> 2 ranks                     vs hyperfold on 1 rank
  rss       peak RSS per rank (VmHWM via /usr/bin/time)              vs the bytes of data the rank holds

Invoked as `bench.py` (the whole benchmark) or `bench.py peer KIND ARGS_JSON` (the scikit-learn /
pandas side, in its own process so that its BLAS environment can differ from hyperfold's)."""
import json
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

HYPERFOLD = os.environ.get("HYPERFOLD", "build/hyperfold")
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
SCRATCH = os.environ.get("BENCH_DIR", "/tmp/hf_bench")
REGEN = os.environ.get("BENCH_REGEN", "") not in ("", "0")
KEEP = os.environ.get("BENCH_KEEP", "") not in ("", "0")
ONLY = [s for s in os.environ.get("BENCH_ONLY", "").split(",") if s]
PY = sys.executable
SELF = os.path.abspath(__file__)
# Variables that some machines set to work around old OpenBLAS bugs; they slow a current numpy.
BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

# Sizes: (rows, features). QUICK shrinks every data set.
SIZES = {
    "ridge": (20000, 100) if QUICK else (200000, 100),
    "logistic": (10000, 50) if QUICK else (100000, 50),
    "ingest_mb": 100 if QUICK else 1024,
    "ingest_p": 20,
    "sched": (2500, 20),        # small data: one task is about 1 ms of compute
    "sched_trials": 200 if QUICK else 2000,   # x 5 folds = tasks
    "eff": (10000, 20),
    "eff_trials": 40 if QUICK else 200,
}
RIDGE_ALPHAS = [float(a) for a in np.logspace(-2, 6, 50)]
LOGISTIC_CS = [float(c) for c in np.logspace(-4, 2, 12)]


def speedup(hf_t, peer_t):
    """The ratio column of a row timed against a peer: hyperfold / peer, and the speed-up."""
    return "%.3fx (%.1fx faster)" % (hf_t / peer_t, peer_t / hf_t)


def log(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.stderr.flush()


# ----------------------------------------------------------------------------- data generation

def _write_chunk(args):
    """Writes rows [start, stop) of one generated data set to path (no header)."""
    kind, path, start, stop, p, seed = args
    rng = np.random.default_rng([seed, start])
    n = stop - start
    if kind == "ingest":
        X = rng.normal(size=(n, p + 1))
        fmt = "%.6f"
        np.savetxt(path, X, fmt=fmt, delimiter=",")
    return path


def write_csv_parallel(path, header, kind, n, p, seed, chunk=200000):
    """Writes a CSV of n generated rows with 2 processes; content depends only on (seed, n, p)."""
    parts = []
    jobs = []
    for k, start in enumerate(range(0, n, chunk)):
        part = "%s.part%05d" % (path, k)
        parts.append(part)
        jobs.append((kind, part, start, min(n, start + chunk), p, seed))
    with multiprocessing.Pool(2) as pool:
        pool.map(_write_chunk, jobs)
    tmp = path + ".tmp"
    with open(tmp, "wb") as out:
        out.write((header + "\n").encode())
        for part in parts:
            with open(part, "rb") as f:
                shutil.copyfileobj(f, out, 1 << 22)
            os.unlink(part)
    os.replace(tmp, path)


def nonlinear_binary_table(path, n, p, missing=0.0):
    """Writes (unless it exists) the tree benchmarks' table to path: p standard normal features, a
    binary yes/no target with interactions and a nonlinearity, the given fraction of missing
    values, 5 stratified folds (seed 7) in a fold column. Returns path."""
    if os.path.exists(path):
        return path
    import pandas as pd
    rng = np.random.default_rng(2026)
    X = rng.normal(size=(n, p))
    z = X[:, 0] * X[:, 1] + np.sin(2 * X[:, 2]) + 0.5 * X[:, 3] ** 2 - X[:, 4] + rng.normal(size=n)
    y = (z > np.median(z)).astype(int)
    if missing > 0:
        X[rng.random(size=X.shape) < missing] = np.nan
    df = pd.DataFrame(X, columns=["x%d" % j for j in range(p)])
    df["fold"], df["y"] = stratified_folds(y, 5, 7), np.where(y == 1, "yes", "no")
    df.to_csv(path, index=False, float_format="%.17g", na_rep="")
    return path


def stratified_folds(y, k, seed):
    """Fold ids 0..k-1, stratified by class, from a fixed seed (same scheme as StratifiedKFold)."""
    from sklearn.model_selection import StratifiedKFold
    fold = np.empty(len(y), dtype=np.int64)
    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    for f, (_, va) in enumerate(skf.split(np.zeros(len(y)), y)):
        fold[va] = f
    return fold


def save_table(path, X, fold, y, yfmt):
    """Writes x0..x{p-1}, fold, y as CSV with np.savetxt (fast), atomically."""
    n, p = X.shape
    header = ",".join(["x%d" % j for j in range(p)] + ["fold", "y"])
    tmp = path + ".tmp"
    cols = np.column_stack([X, fold.astype(np.float64), y.astype(np.float64)])
    fmt = ["%.9g"] * p + ["%d", yfmt]
    np.savetxt(tmp, cols, fmt=fmt, delimiter=",", header=header, comments="")
    os.replace(tmp, path)


def gen_regression(path, n, p, seed):
    rng = np.random.default_rng(seed)
    # Correlated columns with different scales and offsets, so that the penalty matters.
    mix = rng.normal(size=(p, p)) / np.sqrt(p) + np.eye(p)
    X = rng.normal(size=(n, p)) @ mix * rng.uniform(0.5, 4.0, size=p) + rng.normal(size=p)
    w = rng.normal(scale=0.05, size=p)
    y = X @ w + 1.5 + rng.normal(scale=3.0, size=n)
    fold = rng.integers(0, 5, size=n)
    save_table(path, X, fold, y, "%.9g")


def gen_classification(path, n, p, seed, noise=1.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * rng.uniform(0.5, 2.0, size=p)
    w = rng.normal(scale=0.3, size=p)
    y = (X @ w - 0.3 + rng.logistic(scale=noise, size=n) > 0).astype(np.int64)
    fold = stratified_folds(y, 5, seed)
    save_table(path, X, fold, y, "%d")


def ensure_data():
    """Generates every data set the selected rows need (kept and reused across runs)."""
    os.makedirs(SCRATCH, exist_ok=True)
    data = {}
    specs = {
        "ridge": ("ridge_%dx%d.csv" % SIZES["ridge"], lambda p: gen_regression(p, *SIZES["ridge"], 1)),
        "logistic": ("logistic_%dx%d.csv" % SIZES["logistic"],
                     lambda p: gen_classification(p, *SIZES["logistic"], 2)),
        "sched": ("sched_%dx%d.csv" % SIZES["sched"], lambda p: gen_classification(p, *SIZES["sched"], 3)),
        "eff": ("eff_%dx%d.csv" % SIZES["eff"], lambda p: gen_classification(p, *SIZES["eff"], 4)),
    }
    mb, p_in = SIZES["ingest_mb"], SIZES["ingest_p"]
    n_in = int(mb * 2**20 / ((p_in + 1) * 9.75))  # "%.6f" of N(0,1) and a separator: 9.75 B
    specs["ingest"] = ("ingest_%dx%d.csv" % (n_in, p_in + 1),
                       lambda p: write_csv_parallel(
                           p, ",".join(["x%d" % j for j in range(p_in)] + ["y"]), "ingest",
                           n_in, p_in, 5))
    for key, (name, make) in specs.items():
        if not wanted(key) and not (key == "ridge" and wanted("rss")):
            continue
        path = os.path.join(SCRATCH, name)
        if REGEN or not os.path.exists(path):
            t = time.perf_counter()
            make(path)
            log("generated %s (%.0f MB, %.1fs)" % (path, os.path.getsize(path) / 1e6,
                                                   time.perf_counter() - t))
        data[key] = path
    return data


# ----------------------------------------------------------------------------- hyperfold side

LAST_CPU = [0.0]  # CPU seconds (user + sys, all ranks) of the last run_hyperfold

def hf_env():
    return dict(os.environ)


def run_hyperfold(spec_path, np_ranks, cwd, args=("--quiet", "--fresh"), mpi_args=()):
    """Runs mpirun -np N hyperfold run SPEC; returns (wall seconds, stderr, [peak RSS KB per rank]).
    The CPU seconds (user + sys) of all ranks are added to CPU_SECONDS[-1] when it exists.
    mpi_args: more mpirun options (placement: --map-by slot:PE=2 gives each rank 2 cores)."""
    cmd = ["mpirun"] + list(mpi_args) + ["-np", str(np_ranks), "/usr/bin/time", "-f", "HF_BENCH_RSS_KB %M %U %S", HYPERFOLD,
           "run", spec_path] + list(args)
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=hf_env(), capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        sys.stderr.write("command failed (%d): %s\n%s\n%s\n" % (p.returncode, " ".join(cmd),
                                                                p.stdout, p.stderr))
        raise SystemExit(1)
    found = re.findall(r"HF_BENCH_RSS_KB (\d+) ([0-9.]+) ([0-9.]+)", p.stderr)
    rss = [int(m[0]) for m in found]
    LAST_CPU[0] = sum(float(m[1]) + float(m[2]) for m in found)
    return wall, p.stderr, rss


def write_spec(path, text):
    with open(path, "w") as f:
        f.write(text)


def load_results(run_dir):
    with open(os.path.join(run_dir, "results.json")) as f:
        return json.load(f)


def journal_task_seconds(run_dir):
    """The compute time of every task (worker-side seconds) from journal.jsonl."""
    secs = []
    with open(os.path.join(run_dir, "journal.jsonl")) as f:
        for line in f:
            o = json.loads(line.split("\t")[0])  # (a line ends in a tab and its checksum)
            if "task" in o:
                secs.append(float(o["seconds"]))
    return secs


def sweep_elapsed(stderr):
    """The sweep phase's seconds from the last progress line ("elapsed 1.2s")."""
    m = re.findall(r"elapsed ([0-9.]+)s", stderr)
    return float(m[-1]) if m else float("nan")


def ingest_seconds(stderr):
    m = re.search(r"ingested (\d+) rows from .* \(([0-9.]+)s\)", stderr)
    if not m:
        return None, float("nan")
    return int(m.group(1)), float(m.group(2))


# ----------------------------------------------------------------------------- peer side

def peer_env():
    """The scikit-learn side's environment: the BLAS overrides removed, if any were set."""
    e = dict(os.environ)
    removed = [v for v in BLAS_OVERRIDES if v in e]
    for v in BLAS_OVERRIDES:
        e.pop(v, None)
    return e, removed


def run_peer(kind, args):
    env, _ = peer_env()
    p = subprocess.run([PY, SELF, "peer", kind, json.dumps(args)], env=env, capture_output=True,
                       text=True)
    if p.returncode != 0:
        sys.stderr.write("peer %s failed (%d):\n%s\n%s\n" % (kind, p.returncode, p.stdout, p.stderr))
        raise SystemExit(1)
    return json.loads(p.stdout.strip().splitlines()[-1])


def read_table(path):
    import pandas as pd
    df = pd.read_csv(path, float_precision="round_trip")
    feats = [c for c in df.columns if c.startswith("x")]
    return df[feats].to_numpy(), df["y"].to_numpy(), df["fold"].to_numpy()


def peer_main(kind, args):
    """Runs one scikit-learn / pandas measurement; prints one JSON line."""
    import resource
    import warnings

    import threadpoolctl
    out = {"blas": [(i.get("internal_api"), i.get("architecture"), i.get("num_threads"))
                    for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"]}
    if kind in ("ridge", "logistic"):
        from sklearn.linear_model import LogisticRegression, Ridge
        from sklearn.model_selection import GridSearchCV, PredefinedSplit
        X, y, fold = read_table(args["csv"])
        if kind == "ridge":
            est = Ridge()
            grid = {"alpha": args["values"]}
            scoring = {"r2": "r2", "rmse": "neg_root_mean_squared_error"}
            refit = "r2"
        else:
            y = y.astype(np.int64)
            est = LogisticRegression(solver="lbfgs", max_iter=args["max_iter"], tol=args["tol"])
            grid = {"C": args["values"]}
            scoring = {"roc_auc": "roc_auc", "log_loss": "neg_log_loss"}
            refit = "roc_auc"
        gs = GridSearchCV(est, grid, cv=PredefinedSplit(fold), scoring=scoring, refit=refit,
                          n_jobs=2)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            t = time.perf_counter()
            gs.fit(X, y)
            out["seconds"] = time.perf_counter() - t
        out["warnings"] = sorted({str(w.category.__name__) for w in caught})
        r = gs.cv_results_
        n_splits = gs.n_splits_
        out["values"] = [float(v) for v in r["param_" + list(grid)[0]]]
        out["fold_scores"] = {}
        for m in scoring:
            sign = -1.0 if scoring[m].startswith("neg_") else 1.0
            out["fold_scores"][m] = [[sign * float(r["split%d_test_%s" % (k, m)][i])
                                      for k in range(n_splits)] for i in range(len(out["values"]))]
        out["best"] = float(gs.best_params_[list(grid)[0]])
        out["best_score"] = float(gs.best_score_)
        out["data_bytes"] = int(X.nbytes + y.nbytes)
    elif kind == "ingest":
        import h5py
        import pandas as pd
        dst = args["h5"]
        t = time.perf_counter()
        df = pd.read_csv(args["csv"])
        t_read = time.perf_counter() - t
        X = df.drop(columns=["y"]).to_numpy(dtype=np.float64)
        y = df["y"].to_numpy(dtype=np.float64)
        with h5py.File(dst, "w") as f:
            f.create_dataset("X", data=X, chunks=(min(len(X), 65536), X.shape[1]))
            f.create_dataset("y", data=y)
            f.create_dataset("row", data=np.arange(len(y), dtype=np.int64))
        out["seconds"] = time.perf_counter() - t
        out["read_seconds"] = t_read
        out["rows"] = int(len(y))
        out["col_sums"] = [float(s) for s in X.sum(axis=0)] + [float(y.sum())]
        os.unlink(dst)
    out["peak_rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + \
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps(out))


# ----------------------------------------------------------------------------- rows

ROWS = []  # (name, hyperfold s, peer s, ratio text, check text, note)


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def wanted(key):
    return not ONLY or key in ONLY


def rel_diff(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


def compare_sweep(res, peer, param, metrics, rtol):
    """Max relative difference of every fold score of every trial; (ok, maxdiff, best_hf)."""
    by_value = {v: i for i, v in enumerate(peer["values"])}
    maxdiff = 0.0
    for t in res["trials"]:
        i = by_value[float(t["params"][param])]
        for m in metrics:
            for a, b in zip(t["fold_scores"][m], peer["fold_scores"][m][i]):
                maxdiff = max(maxdiff, rel_diff(a, b))
    best_hf = float(res["best"]["params"][param])
    return best_hf == peer["best"] and maxdiff <= rtol, maxdiff, best_hf


LOGISTIC_MAX_ITER, LOGISTIC_TOL = 1000, 1e-4
SWEEP_BLOCKS = {
    "ridge": ("  type: ridge\n  params:\n    alpha: [%s]" % ", ".join(repr(a) for a in RIDGE_ALPHAS),
              "objective: {metric: r2, report: [rmse]}"),
    "logistic": ("  type: logistic_regression\n  params:\n    C: [%s]\n    max_iter: %d\n"
                 "    tol: %r" % (", ".join(repr(c) for c in LOGISTIC_CS), LOGISTIC_MAX_ITER,
                                  LOGISTIC_TOL),
                 "objective: {metric: roc_auc, report: [log_loss]}"),
}


def sweep_spec(key, data_csv, work):
    """Creates the (empty) directory work and the job spec of the ridge or logistic sweep in it;
    returns the spec's path."""
    model_block, metric_block = SWEEP_BLOCKS[key]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    spec = os.path.join(work, "job.yaml")
    write_spec(spec, """name: %s
data: {source: %s, target: y, task: %s}
cv: {strategy: predefined, fold_column: fold}
model:
%s
search: {strategy: grid}
%s
output: {dir: out}
""" % (key, data_csv, "regression" if key == "ridge" else "classification", model_block,
       metric_block))
    return spec


def sweep_row(key, title, data_csv, param, values, metrics, rtol, peer_args):
    work = os.path.join(SCRATCH, "run_" + key)
    spec = sweep_spec(key, data_csv, work)
    # First run ingests; the timed runs reuse the shards (--fresh discards only the journal).
    wall0, err0, _ = run_hyperfold(spec, 2, work, args=("--fresh",))
    n_rows, t_ing = ingest_seconds(err0)
    hf_times, rss_all, cpus = [], [], []
    res = None
    for rep in range(REPEATS):
        wall, _, rss = run_hyperfold(spec, 2, work)
        res = load_results(os.path.join(work, "out", key))
        if not res["timing"]["reused_shards"]:
            log("%s: expected reused shards on the timed runs" % key)
        hf_times.append(wall)
        cpus.append(LAST_CPU[0])
        rss_all.append(max(rss) if rss else 0)
    peer_times, peer = [], None
    for rep in range(REPEATS):
        peer = run_peer(key, dict(peer_args, csv=data_csv, values=values))
        peer_times.append(peer["seconds"])
    ok, maxdiff, best_hf = compare_sweep(res, peer, param, metrics, rtol)
    hf_t, pe_t = med(hf_times), med(peer_times)
    ROWS.append((title, hf_t, pe_t, speedup(hf_t, pe_t),
                 "%s best %s hf=%.6g sk=%.6g; max rel diff %.1e (tol %.0e)" % (
                     "PASS" if ok else "FAIL", param, best_hf, peer["best"], maxdiff, rtol),
                 "hyperfold: wall of mpirun -np 2 incl. launch, shard load, sweep, refit, export; "
                 "CPU %.1fs (user+sys, both ranks); shards reused (first run with ingest: %.1fs, "
                 "ingest %.2fs); sklearn: GridSearchCV.fit incl. refit, data in memory%s" % (
                     med(cpus), wall0, t_ing, "; sklearn warnings: " + ",".join(peer["warnings"])
                     if peer["warnings"] else "")))
    # Peak RSS of the ranks versus the data every rank holds (the whole table as float64), and
    # above the baseline: the same sweep on the table's first 1,000 rows (the process with its
    # libraries, MPI and BLAS buffers, and no data to speak of).
    base_work = os.path.join(SCRATCH, "run_%s_base" % key)
    shutil.rmtree(base_work, ignore_errors=True)
    os.makedirs(base_work)
    base_csv = os.path.join(base_work, "head.csv")
    with open(data_csv) as f, open(base_csv, "w") as o:
        for i, line in enumerate(f):
            if i > 1000:
                break
            o.write(line)
    base_rss = []
    for rep in range(REPEATS):
        _, _, rss = run_hyperfold(sweep_spec(key, base_csv, os.path.join(base_work, "w")), 2,
                                  os.path.join(base_work, "w"))
        base_rss.append(max(rss) if rss else 0)
    shutil.rmtree(base_work, ignore_errors=True)
    n, p = SIZES[key]
    held = n * (p + 2) * 8  # X, y and the fold column
    peak, base = med(rss_all) * 1024.0, med(base_rss) * 1024.0
    ROWS.append(("peak RSS per rank, %s" % key, peak / 2**20, held / 2**20,
                 "%.2fx" % (peak / held),
                 "above the baseline (the same sweep on 1,000 rows: %.0f MiB) %.2fx the data; "
                 "data held per rank %.0f MiB (%d x %d + y + fold, float64); sklearn process "
                 "peak %.0f MiB" % (base / 2**20, (peak - base) / held, held / 2**20, n, p,
                                    peer["peak_rss_kb"] / 1024.0),
                 "MiB, not seconds"))
    if not KEEP:
        shutil.rmtree(work, ignore_errors=True)
    return peer


def row_ridge(data):
    n, p = SIZES["ridge"]
    return sweep_row(
        "ridge", "ridge sweep, %d alphas x 5 folds, %dx%d, 2 ranks" % (len(RIDGE_ALPHAS), n, p),
        data["ridge"], "alpha", RIDGE_ALPHAS, ["r2", "rmse"], 1e-8, {})


def row_logistic(data):
    n, p = SIZES["logistic"]
    return sweep_row(
        "logistic", "logistic sweep, %d C x 5 strat. folds, %dx%d, 2 ranks" % (
            len(LOGISTIC_CS), n, p), data["logistic"], "C", LOGISTIC_CS,
        ["roc_auc", "log_loss"], 1e-4, {"max_iter": LOGISTIC_MAX_ITER, "tol": LOGISTIC_TOL})


def row_ingest(data):
    import h5py
    csv = data["ingest"]
    size_mb = os.path.getsize(csv) / 1e6
    p = SIZES["ingest_p"]
    work = os.path.join(SCRATCH, "run_ingest")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    spec = os.path.join(work, "job.yaml")
    write_spec(spec, """name: ingest
data: {source: %s, target: y, task: regression}
cv: {folds: 2, strategy: kfold, seed: 1}
model: {type: ridge, params: {alpha: 1.0}}
output: {dir: out}
""" % csv)
    peer_times, peer = [], None
    for rep in range(REPEATS):
        peer = run_peer("ingest", {"csv": csv, "h5": os.path.join(work, "peer.h5")})
        peer_times.append(peer["seconds"])
    pe_t = med(peer_times)
    for ranks in (1, 2):
        times, walls, cpus, rows = [], [], [], None
        for rep in range(REPEATS):
            shutil.rmtree(os.path.join(work, "out"), ignore_errors=True)
            wall, err, _ = run_hyperfold(spec, ranks, work, args=("--fresh",))
            rows, t = ingest_seconds(err)
            times.append(t)
            walls.append(wall)
            cpus.append(LAST_CPU[0])
        # Agreement: the rows and every column sum of the shards equal pandas' (1e-12 relative).
        shard_dir = os.path.join(work, "out", "ingest", "shards")
        sums = np.zeros(p + 1)
        n_sh = 0
        for name in sorted(os.listdir(shard_dir)):
            if name.endswith(".h5"):
                with h5py.File(os.path.join(shard_dir, name), "r") as f:
                    sums[:p] += f["X"][...].sum(axis=0)
                    sums[p] += f["y"][...].sum()
                    n_sh += f["y"].shape[0]
        maxdiff = max(abs(a - b) / max(1.0, abs(b)) for a, b in zip(sums, peer["col_sums"]))
        ok = rows == peer["rows"] and n_sh == peer["rows"] and maxdiff <= 1e-9
        hf_t = med(times)
        ROWS.append(("CSV -> HDF5 shards, %.0f MB, %d rank%s" % (size_mb, ranks, "s"[:ranks > 1]),
                     hf_t, pe_t, speedup(hf_t, pe_t),
                     "%s rows %d/%d, col sums max diff %.1e; hyperfold %.0f MB/s = %.0f MB/s per "
                     "rank; pandas+h5py %.0f MB/s" % (
                         "PASS" if ok else "FAIL", n_sh, peer["rows"], maxdiff, size_mb / hf_t,
                         size_mb / hf_t / ranks, size_mb / pe_t),
                     "hyperfold: the ingest phase as logged (whole run: wall %.1fs, CPU %.1fs "
                     "user+sys of all ranks); pandas: read_csv %.1fs + h5py write (no fsync); "
                     "CSV in page cache" % (med(walls), med(cpus), peer["read_seconds"])))
    if not KEEP:
        shutil.rmtree(work, ignore_errors=True)


def logistic_spec(name, csv, n_trials):
    # Trials differ in tol (and so cannot share a fit call: hyperfold batches trials that differ
    # only in C), so every (trial, fold) is its own task: n_trials x 5 tasks.
    return """name: %s
data: {source: %s, target: y, task: classification}
cv: {strategy: predefined, fold_column: fold}
model:
  type: logistic_regression
  params:
    C: 1.0
    tol: {log_uniform: [1.0e-6, 1.0e-3], grid_points: %d}
search: {strategy: grid}
objective: {metric: accuracy}
output: {dir: out}
""" % (name, csv, n_trials)


def logistic_job(key, data):
    """A fresh run directory with the `key` job (logistic_spec, SIZES[key + "_trials"] trials) on
    data[key], ingested once; returns (run directory, spec path, number of trials)."""
    work = os.path.join(SCRATCH, "run_" + key)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    spec = os.path.join(work, "job.yaml")
    n_trials = SIZES[key + "_trials"]
    write_spec(spec, logistic_spec(key, data[key], n_trials))
    run_hyperfold(spec, 2, work, args=("--fresh", "--quiet"))  # ingest once
    return work, spec, n_trials


def row_sched(data):
    work, spec, n_trials = logistic_job("sched", data)
    walls, sweeps, computes, per_task = [], [], [], []
    for rep in range(REPEATS):
        wall, err, _ = run_hyperfold(spec, 2, work, args=("--fresh",))
        secs = journal_task_seconds(os.path.join(work, "out", "sched"))
        walls.append(wall)
        sweeps.append(sweep_elapsed(err))
        computes.append(sum(secs))
        per_task.append(med(secs))
    n_tasks = n_trials * 5
    hf_t, ideal = med(walls), med(computes) / 2.0
    sw = med(sweeps)
    ROWS.append(("scheduling overhead, %d tasks of %.2f ms, 2 ranks" % (n_tasks, med(per_task) * 1e3),
                 hf_t, ideal, "%.2fx" % (hf_t / ideal),
                 "overhead %.0f%% of wall (sweep phase alone %.2fs: %.0f%%)" % (
                     100.0 * (hf_t / ideal - 1.0), sw, 100.0 * (sw / ideal - 1.0)),
                 "peer = sum of the tasks' worker-side seconds (journal) / 2 ranks"))
    if not KEEP:
        shutil.rmtree(work, ignore_errors=True)


def row_eff(data):
    work, spec, n_trials = logistic_job("eff", data)
    walls = {1: [], 2: []}
    sweeps = {1: [], 2: []}
    per_task = []
    results = {}
    for rep in range(REPEATS):
        for ranks in (1, 2):
            wall, err, _ = run_hyperfold(spec, ranks, work, args=("--fresh",))
            walls[ranks].append(wall)
            sweeps[ranks].append(sweep_elapsed(err))
            if ranks == 1:
                per_task.append(med(journal_task_seconds(os.path.join(work, "out", "eff"))))
            r = load_results(os.path.join(work, "out", "eff"))
            results[ranks] = [t["fold_scores"]["accuracy"] for t in r["trials"]]
    t1, t2 = med(walls[1]), med(walls[2])
    s1, s2 = med(sweeps[1]), med(sweeps[2])
    same = results[1] == results[2]
    ROWS.append(("parallel efficiency, %d trials x 5 folds (%.1f ms/task), 1 -> 2 ranks" % (
        n_trials, med(per_task) * 1e3), t2, t1, "%.2fx" % (t2 / t1),
        "efficiency %.0f%% of wall (sweep phase %.0f%%); results identical at 1 and 2 ranks: %s" % (
            100.0 * t1 / (2.0 * t2), 100.0 * s1 / (2.0 * s2), "PASS" if same else "FAIL"),
        "peer = the same hyperfold job on 1 rank"))
    if not KEEP:
        shutil.rmtree(work, ignore_errors=True)


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return "%d cores, %s, %.0f GiB RAM" % (os.cpu_count(), model, mem_kb / 2**20)


def print_table(blas_note):
    print()
    print("hyperfold benchmark, %s, %s%s, medians of %d runs" % (
        time.strftime("%Y-%m-%d"), machine(), ", QUICK" if QUICK else "", REPEATS))
    print("load average (1 min) at start %.1f, at end %.1f (above ~0.5, other processes shared "
          "the cores and the times are inflated)" % (LOAD[0], os.getloadavg()[0]))
    print(blas_note)
    print()
    print("| row | hyperfold | peer | ratio | agreement / result |")
    print("|---|---:|---:|---:|---|")
    for name, hf_t, pe_t, ratio, check, _ in ROWS:
        unit = "MiB" if name.startswith("peak RSS") else "s"
        print("| %s | %.2f %s | %.2f %s | %s | %s |" % (name, hf_t, unit, pe_t, unit, ratio, check))
    print()
    print("Notes:")
    for name, _, _, _, _, note in ROWS:
        print("- %s: %s" % (name, note))


def snapshot_binary():
    """Copies the hyperfold binary into the scratch directory, so that a rebuild of the build
    directory while the benchmark runs cannot change or break it."""
    global HYPERFOLD
    os.makedirs(SCRATCH, exist_ok=True)
    dst = os.path.join(SCRATCH, "hyperfold")
    shutil.copy2(HYPERFOLD, dst + ".tmp")
    os.replace(dst + ".tmp", dst)
    HYPERFOLD = dst


LOAD = [0.0]


def main():
    t0 = time.perf_counter()
    LOAD[0] = os.getloadavg()[0]
    _, removed = peer_env()
    snapshot_binary()
    data = ensure_data()
    peer = None
    if wanted("ridge") or wanted("rss"):
        log("ridge sweep")
        peer = row_ridge(data)
    if wanted("logistic"):
        log("logistic sweep")
        peer = row_logistic(data)
    if wanted("ingest"):
        log("ingest")
        row_ingest(data)
    if wanted("sched"):
        log("scheduling overhead")
        row_sched(data)
    if wanted("eff"):
        log("parallel efficiency")
        row_eff(data)
    blas = peer["blas"] if peer else []
    note = ("numpy/scikit-learn BLAS (threadpoolctl): %s; %s; hyperfold ranks: "
            "OPENBLAS_NUM_THREADS=1" % (
                ", ".join("%s %s %s thread(s)" % tuple(b) for b in blas) or "n/a",
                "unset for the peer: " + " ".join(removed) if removed
                else "OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE not set on this machine"))
    print_table(note)
    print("\ntotal benchmark time %.0fs" % (time.perf_counter() - t0))


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "peer":
        peer_main(sys.argv[2], json.loads(sys.argv[3]))
    else:
        main()
