"""Helpers shared by the Python tests: run hyperfold under mpirun, load its outputs."""
import hashlib
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


def same_trials(a, b):
    """Whether two results.json hold the same trials (every parameter, score, status, n_iter),
    apart from what legitimately differs between runs: fit times and the rank that ran a trial."""
    def strip(r):
        return [{k: v for k, v in t.items() if k not in ("fit_seconds", "rank")}
                for t in r["trials"]]
    return json.dumps(strip(a), sort_keys=True) == json.dumps(strip(b), sort_keys=True)


def journal_lines(run_dir):
    """The records of a run directory's journal.jsonl after its header, decoded; each line's
    checksum (a tab, then the first 16 hex digits of the SHA-256 of the text before it) checked.
    A last line without its newline is being written by a running sweep (a reader polling the
    journal can see part of a write): it is left out."""
    import hashlib
    with open(os.path.join(run_dir, "journal.jsonl")) as f:
        text = f.read()
    if not text.endswith("\n"):
        text = text[:text.rfind("\n") + 1]
    lines = [l for l in text.splitlines() if l.strip()]
    out = []
    for l in lines[1:]:
        body, _, digest = l.rpartition("\t")
        assert digest == hashlib.sha256(body.encode()).hexdigest()[:16], "bad checksum: " + l
        out.append(json.loads(body))
    return out


def journal_tasks(run_dir):
    """The task ids of a run directory's journal.jsonl, in order (the header line and the trial
    definitions of asynchronous studies skipped)."""
    return [e["task"] for e in journal_lines(run_dir) if "task" in e]


def start_run(cwd, delay_ms, np=2, spec="job.yaml"):
    """Starts `mpirun -np N hyperfold run SPEC --quiet` in cwd with every task delayed by
    delay_ms (HF_TEST_TASK_DELAY_MS); returns the Popen."""
    e = env()
    e["HF_TEST_TASK_DELAY_MS"] = str(delay_ms)
    return subprocess.Popen(["mpirun", "--oversubscribe", "-np", str(np), HYPERFOLD, "run", spec,
                             "--quiet"], cwd=cwd, env=e, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for_tasks(run_dir, k, proc, limit=60):
    """Waits until run_dir's journal holds k tasks (True) or proc ends or limit seconds pass."""
    import time
    t0 = time.time()
    while time.time() - t0 < limit and proc.poll() is None:
        try:
            if len(journal_tasks(run_dir)) >= k:
                return True
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            pass
        time.sleep(0.05)
    return False


def rank_pid(cwd, rank):
    """The pid of the hyperfold process of MPI rank `rank` started in cwd, or None."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % pid, "rb") as f:
                envs = f.read().split(b"\0")
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if ("OMPI_COMM_WORLD_RANK=%d" % rank).encode() in envs and b"hyperfold" in cmd and \
                ("PWD=%s" % cwd).encode() in envs:
            return int(pid)
    return None


def interaction_table(path, seed, n=240, p=6):
    """A binary "yes"/"no" target y with an interaction and a nonlinearity over x0..x{p-1}
    (standard normal), written to path as CSV: the tuning problem of the search tests."""
    import numpy as np
    import pandas as pd
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = (X[:, 0] * X[:, 1] + np.sin(X[:, 2]) + 0.5 * rng.normal(size=n) > 0).astype(int)
    df = pd.DataFrame(X, columns=["x%d" % i for i in range(p)])
    df["y"] = np.where(y == 1, "yes", "no")
    df.to_csv(path, index=False, float_format="%.17g")


def interrupt(proc, cwd, how):
    """Interrupts a run started by start_run in cwd: "sigterm" to mpirun, or "kill9" of the rank-1
    process; waits for it to end. Returns False when the rank to kill was not found."""
    import signal
    found = True
    if how == "sigterm":
        proc.send_signal(signal.SIGTERM)
    else:
        pid = rank_pid(cwd, 1)
        found = pid is not None
        if found:
            os.kill(pid, signal.SIGKILL)
    proc.communicate(timeout=120)
    return found


def rel_close(a, b, rtol, atol=0.0):
    return abs(a - b) <= atol + rtol * max(abs(a), abs(b))


def stamp_model(path):
    """Writes the content checksum of a model.h5 edited in place (with h5py) into its user block,
    as hyperfold writes it (docs/model-format.md): the SHA-256 of every byte after the first 512."""
    with open(path, "r+b") as f:
        data = f.read()
        if len(data) < 520 or data[512:520] != b"\x89HDF\r\n\x1a\n":
            raise ValueError("%s: not a model.h5 with a 512-byte user block" % path)
        block = b"hyperfold-model sha256 " + hashlib.sha256(data[512:]).hexdigest().encode() + b"\n"
        f.seek(0)
        f.write(block.ljust(512, b"\0"))


class Checker:
    """Counts assertions; prints a summary line; exits non-zero on the first failure list."""

    def __init__(self, name):
        self.name = name
        self.failures = []
        self.passed = 0

    def check(self, cond, msg):
        """Counts cond; returns it, so that a check can guard the checks that depend on it."""
        if cond:
            self.passed += 1
        else:
            self.failures.append(msg)
            sys.stderr.write("FAIL: %s\n" % msg)
        return bool(cond)

    def done(self):
        if self.failures:
            print("%s: %d checks passed, %d failed" % (self.name, self.passed, len(self.failures)))
            sys.exit(1)
        if self.passed == 0:
            print("%s: no checks ran" % self.name)
            sys.exit(1)
        print("%s: %d checks passed" % (self.name, self.passed))


def newton_logistic(X, yi, k, C, fit_intercept, W0, b0, gtol=1e-10, sample_weight=None,
                    l2_scale=1.0, linear=None, free=None):
    """scikit-learn's lbfgs objective for LogisticRegression (sum of log losses + ||W||^2 / 2C,
    intercepts not penalised; one coefficient row for 2 classes, k rows (multinomial) otherwise)
    minimised by Newton's method with a backtracking line search from (W0, b0), to max|gradient|
    <= gtol * max(1, n / 100): the optimum LogisticRegression approaches. yi: class indices 0..k-1;
    sample_weight: each row's loss weight (scikit-learn's; class_weight multiplies into it).
    For the elastic-net polish: l2_scale multiplies the ||W||^2 / 2C term, linear (ko x p) adds
    sum(linear * W) (an L1 term with the signs held), and free (ko x p, bool) lets only those
    weights move (the others stay where W0 has them). Returns (W, b)."""
    import numpy as np
    n, p = X.shape
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
    ko = 1 if k == 2 else k
    A = np.hstack([X, np.ones((n, 1))]) if fit_intercept else X
    q = A.shape[1]
    pen = np.ones(q) * l2_scale / C
    if fit_intercept:
        pen[-1] = 0.0
    lin = np.zeros((ko, q))
    mov = np.ones((ko, q), bool)
    if linear is not None:
        lin[:, :p] = np.asarray(linear, float).reshape(ko, p)
    if free is not None:
        mov[:, :p] = np.asarray(free, bool).reshape(ko, p)
    Y = np.eye(k)[yi]
    Wt = np.hstack([np.asarray(W0, float).reshape(ko, p),
                    np.asarray(b0, float).reshape(ko, 1)]) if fit_intercept else \
        np.asarray(W0, float).reshape(ko, p).copy()

    def probs(Wt):
        Zs = A @ Wt.T
        if ko == 1:
            z = Zs[:, 0]
            return z, 0.5 * (1.0 + np.tanh(0.5 * z))
        Zs = Zs - Zs.max(axis=1, keepdims=True)
        E = np.exp(Zs)
        return Zs, E / E.sum(axis=1, keepdims=True)

    def fval(Wt):
        Zs, P = probs(Wt)
        if ko == 1:
            loss = (sw * (np.logaddexp(0.0, Zs) - yi * Zs)).sum()
        else:
            lse = np.log(np.exp(Zs).sum(axis=1))
            loss = (sw * (lse - Zs[np.arange(n), yi])).sum()
        return loss + 0.5 * (pen * Wt ** 2).sum() + (lin * Wt).sum()

    for it in range(200):
        Zs, P = probs(Wt)
        if ko == 1:
            R = (sw * (P - yi))[:, None]
        else:
            R = (P - Y) * sw[:, None]
        G = (R.T @ A + pen * Wt + lin) * mov  # ko x q
        if np.abs(G).max() <= gtol * max(1.0, n / 100.0):
            break
        if it == 199:
            raise RuntimeError("the reference logistic fit did not converge (max|gradient| %g)"
                               % np.abs(G).max())
        if ko == 1:
            H = A.T @ (A * (sw * P * (1 - P))[:, None]) + np.diag(pen)
        else:
            H = np.zeros((ko * q, ko * q))
            for a in range(ko):
                for b in range(ko):
                    w = sw * P[:, a] * ((a == b) - P[:, b])
                    H[a * q:(a + 1) * q, b * q:(b + 1) * q] = A.T @ (A * w[:, None])
                H[a * q:(a + 1) * q, a * q:(a + 1) * q] += np.diag(pen)
        fm = mov.ravel()
        step = np.zeros(ko * q)
        step[fm] = np.linalg.lstsq(H[np.ix_(fm, fm)], G.ravel()[fm], rcond=None)[0]
        step = step.reshape(ko, q)
        f0, t = fval(Wt), 1.0
        while t > 1e-10 and fval(Wt - t * step) > f0 + 1e-14 * abs(f0):
            t *= 0.5
        Wt = Wt - t * step
    W = Wt[:, :p]
    b = Wt[:, p] if fit_intercept else np.zeros(ko)
    return W, b


class LogisticOptimum:
    """scikit-learn's LogisticRegression objective (lbfgs: the sum of log losses + ||W||^2 / 2C,
    intercepts not penalised; one coefficient row for two classes, multinomial otherwise),
    minimised to max|gradient| <= gtol with scipy's L-BFGS-B and its relative-decrease test off,
    then newton_logistic where L-BFGS-B's line search gave up short of gtol.
    The reference for hyperfold's logistic_regression where LogisticRegression itself stops short:
    scikit-learn 1.2 leaves scipy's ftol (2.2e-9) in place, which ends a fit at whatever gradient
    it has when one step gains less than that (2e-4 on a 400-row fold with tol 1e-8). The
    constructor also fits LogisticRegression and checks that it lands near this optimum (1e-3),
    so that the objective is scikit-learn's (check=False: the caller compares them itself).
    predict_proba and classes_ as scikit-learn's; W, b and the final max|gradient|.
    l1_ratio r > 0: scikit-learn's elastic-net objective (saga's), the sum of log losses +
    (1 - r) ||W||^2 / 2C + r ||W||_1 / C, minimised by L-BFGS-B on the split W = U - V, U, V >= 0
    (a smooth problem with bounds, so that weights at 0 are exact bounds); `gradient` is then the
    largest component of the minimum-norm subgradient, and check compares with saga."""

    def __init__(self, X, y, C=1.0, fit_intercept=True, gtol=1e-9, check=True, sample_weight=None,
                 l1_ratio=0.0):
        import numpy as np
        from scipy.optimize import minimize
        from scipy.special import logsumexp
        from sklearn.linear_model import LogisticRegression
        X = np.asarray(X, dtype=float)
        self.classes_, yi = np.unique(np.asarray(y), return_inverse=True)
        k, (n, p) = len(self.classes_), X.shape
        ko = 1 if k == 2 else k
        Y = np.eye(k)[yi]
        sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
        self.fit_intercept = fit_intercept

        def f(w):
            W = w[:ko * p].reshape(ko, p)
            b = w[ko * p:] if fit_intercept else np.zeros(ko)
            Z = X @ W.T + b
            if ko == 1:
                z = Z[:, 0]
                loss = (sw * (np.logaddexp(0.0, z) - yi * z)).sum()
                R = (sw * (0.5 * (1.0 + np.tanh(0.5 * z)) - yi))[:, None]
            else:
                lse = logsumexp(Z, axis=1)
                loss = (sw * (lse - Z[np.arange(n), yi])).sum()
                R = (np.exp(Z - lse[:, None]) - Y) * sw[:, None]
            g = [(R.T @ X + W / C).ravel()] + ([R.sum(axis=0)] if fit_intercept else [])
            return loss + 0.5 / C * (W ** 2).sum(), np.concatenate(g)

        nvar = ko * p + (ko if fit_intercept else 0)
        if l1_ratio > 0:
            self._fit_l1(f, X, y, C, l1_ratio, ko, p, nvar, gtol, check, fit_intercept, sw)
            return
        r = minimize(f, np.zeros(nvar), jac=True, method="L-BFGS-B",
                     options={"gtol": gtol, "ftol": 0.0, "maxiter": 100000, "maxcor": 30})
        self.gradient = float(np.abs(r.jac).max())
        if self.gradient > gtol:
            W, b = newton_logistic(X, yi, k, C, fit_intercept, r.x[:ko * p],
                                   r.x[ko * p:] if fit_intercept else np.zeros(ko),
                                   gtol=gtol / max(1.0, n / 100.0), sample_weight=sw)
            r.x = np.concatenate([np.ravel(W)] + ([np.ravel(b)] if fit_intercept else []))
            self.gradient = float(np.abs(f(r.x)[1]).max())
        if self.gradient > 1e-6:
            raise RuntimeError("the reference logistic fit stopped at max|gradient| %g" % self.gradient)
        self.W = r.x[:ko * p].reshape(ko, p)
        self.b = r.x[ko * p:] if fit_intercept else np.zeros(ko)
        if not check:
            return
        sk = LogisticRegression(C=C, fit_intercept=fit_intercept, max_iter=10000, tol=1e-8).fit(X, y)
        far = np.max(np.abs(sk.predict_proba(X) - self.predict_proba(X)))
        if far > 1e-3:
            raise RuntimeError("LogisticRegression is %g from the reference optimum: not its objective" % far)

    def _fit_l1(self, f, X, y, C, r1, ko, p, nvar, gtol, check, fit_intercept, sw):
        import numpy as np
        from scipy.optimize import minimize
        from sklearn.linear_model import LogisticRegression
        m = ko * p
        scale = 1.0 - r1  # f above has ||W||^2 / 2C: rescale its penalty to (1 - r) / 2C

        def smooth(w):
            fv, g = f(w)
            W = w[:m]
            # f's penalty is ||W||^2 / 2C; keep (1 - r) of it
            fv -= (1.0 - scale) * 0.5 / C * (W ** 2).sum()
            g = g.copy()
            g[:m] -= (1.0 - scale) / C * W
            return fv, g

        def split(z):
            w = np.concatenate([z[:m] - z[m:2 * m], z[2 * m:]])
            fv, g = smooth(w)
            gz = np.concatenate([g[:m] + r1 / C, -g[:m] + r1 / C, g[m:]])
            return fv + r1 / C * z[:2 * m].sum(), gz

        bounds = [(0, None)] * (2 * m) + [(None, None)] * (nvar - m)
        # L-BFGS-B stalls on ill-conditioned problems (collinear columns, no intercept) far
        # from the optimum; fresh starts from where it stalled (a new memory) go on
        z = np.zeros(2 * m + nvar - m)
        for _ in range(200):
            res = minimize(split, z, jac=True, method="L-BFGS-B", bounds=bounds,
                           options={"gtol": gtol, "ftol": 0.0, "maxiter": 100000, "maxcor": 30})
            if not res.fun < split(z)[0] - 1e-13 * abs(res.fun):
                z = res.x
                break
            z = res.x
        res.x = z
        w = np.concatenate([res.x[:m] - res.x[m:2 * m], res.x[2 * m:]])
        # Polish: on the weights that are not 0 (signs held) and the intercepts, f is smooth:
        # Newton's method on them alone reaches gtol where the split problem's L-BFGS-B stalled
        # (about 1e-6 on a 240-row fold). A weight at 0 whose smooth gradient is outside
        # [-r/C, r/C] joins them with the sign that lowers f, and the polish repeats.
        c = r1 / C
        yi = np.unique(np.asarray(y), return_inverse=True)[1]
        for _ in range(20):
            g = smooth(w)[1]
            enter = (w[:m] == 0) & (np.abs(g[:m]) > c)
            sgn = np.where(w[:m] != 0, np.sign(w[:m]), np.where(enter, -np.sign(g[:m]), 0.0))
            W1, b1 = newton_logistic(X, yi, len(self.classes_), C, fit_intercept, w[:m],
                                     w[m:] if fit_intercept else np.zeros(ko), gtol=gtol,
                                     sample_weight=sw, l2_scale=1.0 - r1, linear=c * sgn,
                                     free=sgn != 0)
            W1 = np.ravel(W1)
            W1[(sgn != 0) & (np.sign(W1) != sgn)] = 0.0  # crossed 0: leaves the set
            w = np.concatenate([W1] + ([np.ravel(b1)] if fit_intercept else []))
            g = smooth(w)[1]
            if not np.any((w[:m] == 0) & (np.abs(g[:m]) > c + gtol)) and \
                    np.all((sgn == 0) | (W1 != 0)):
                break
        sub = g.copy()
        W = w[:m]
        sub[:m] = np.where(W > 0, g[:m] + c, np.where(W < 0, g[:m] - c,
                                                      np.sign(g[:m]) * np.maximum(np.abs(g[:m]) - c, 0)))
        self.gradient = float(np.abs(sub).max())
        if self.gradient > 1e-6:
            raise RuntimeError("the reference elastic-net logistic fit stopped at max|subgradient| %g"
                               % self.gradient)
        self.W = W.reshape(ko, p)
        self.smooth_gradient = g[:m].reshape(ko, p)
        self.b = w[m:] if fit_intercept else np.zeros(ko)
        if not check:
            return
        sk = LogisticRegression(C=C, penalty="elasticnet", l1_ratio=r1, solver="saga",
                                fit_intercept=fit_intercept, max_iter=100000, tol=1e-10,
                                random_state=0).fit(X, y)
        far = np.max(np.abs(sk.predict_proba(X) - self.predict_proba(X)))
        if far > 1e-3:
            raise RuntimeError("saga is %g from the reference optimum: not its objective" % far)

    def predict_proba(self, X):
        import numpy as np
        from scipy.special import softmax
        Z = np.asarray(X, dtype=float) @ self.W.T + self.b
        if Z.shape[1] == 1:
            p1 = 0.5 * (1.0 + np.tanh(0.5 * Z[:, 0]))
            return np.column_stack([1.0 - p1, p1])
        return softmax(Z, axis=1)


def results_at_ranks(ck, work, name, spec, ranks):
    """Runs `spec` (a job spec with one %d for its output directory, out-%d) at each rank count
    of `ranks`, checks every count's trials and best equal the first's and that no trial failed,
    and returns the first count's results.json."""
    results = {}
    for r in ranks:
        path = os.path.join(work, "%s-%d.yaml" % (name, r))
        write(path, spec % r)
        hyperfold(["run", path, "--quiet"], np=r, cwd=work)
        results[r] = load_results(os.path.join(work, "out-%d" % r, name))
    res = results[ranks[0]]
    for r in ranks[1:]:
        ck.check(same_trials(res, results[r]) and res["best"] == results[r]["best"],
                 "%s: results at %d ranks differ from %d rank(s)" % (name, r, ranks[0]))
    ck.check(res["n_failed_trials"] == 0, "%s: %d failed trials" % (name, res["n_failed_trials"]))
    return res
