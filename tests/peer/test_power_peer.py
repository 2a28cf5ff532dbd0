#!/usr/bin/python3
"""preprocess.power against scikit-learn 1.2's PowerTransformer(method=..., standardize=True),
fitted inside each predefined fold after mean imputation (and after clip, and before a scaler):
the fitted lambdas to 1e-6 and the design matrix of every row to 1e-6 relative (the lambdas are
found by the same Brent iteration; the rest is exact). Box-Cox refuses a non-positive training
value with one line naming the column. The C side is tests/peer/tool_prep.c.

A date column's derived parts (year, month, day, dayofweek with 0 on Mondays, hour 0 for a date
without a time, elapsed_days negative before 1970) pass log1p, clip, power and kbins through and
are imputed, scaled and multiplied by polynomial like numeric columns: Box-Cox, Yeo-Johnson, log1p
and polynomial on a table with a date column against scikit-learn's ColumnTransformer with that
column selection (prep_steps_lib.py). End to end: `hyperfold run` of a job with an ISO date column
and power: box-cox (every trial used to fail on when.dayofweek = 0) completes every trial, and
predict of the raw rows gives a finite prediction for each row."""
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prep_steps_lib as L  # noqa: E402

ck = L.Checker("power_peer")
tmp = tempfile.mkdtemp(prefix="hf_power_peer_")
rng = np.random.default_rng(16)
n = 300
fold = rng.integers(0, 4, n)
X = np.column_stack([
    rng.lognormal(1.0, 0.8, n),          # positive, right-skewed
    rng.gamma(1.5, 3.0, n) + 0.1,        # positive
    -rng.lognormal(0.5, 0.6, n) + 3.0,   # left-skewed, both signs
    rng.normal(0, 2, n),                 # symmetric, both signs
    rng.choice(3, n).astype(float),      # categorical
])
X[rng.random(n) < 0.05, 0] = np.nan
X[rng.random(n) < 0.05, 2] = np.nan
names = ["a", "b", "c", "d", "k"]
types = ["N", "N", "N", "N", "C"]
cats = {"k": ["p", "q", "r"]}

L.compare(ck, "yeo-johnson", X, fold, names, types, cats, L.settings(power="yeo-johnson"),
          rtol=1e-6, tmp=tmp)
L.compare(ck, "yeo-johnson+clip+minmax", X, fold, names, types, cats,
          L.settings(power="yeo-johnson", clip=(0.02, 0.97), scale="minmax"), rtol=1e-6, tmp=tmp)
pos = X[:, :2]
L.compare(ck, "box-cox", pos, fold, ["a", "b"], ["N", "N"], {}, L.settings(power="box-cox"),
          rtol=1e-6, tmp=tmp)
L.compare(ck, "box-cox+standard", pos, fold, ["a", "b"], ["N", "N"], {},
          L.settings(power="box-cox", scale="standard"), rtol=1e-6, tmp=tmp)

# A date column: its parts as ingest derives them (shards/datetime.c), some dates missing.
days = rng.integers(-4000, 19000, n)  # 1959 .. 2022: elapsed_days < -1 before 1970
ts = (np.datetime64("1970-01-01") + days.astype("timedelta64[D]")).astype("datetime64[s]")
with_time = rng.random(n) < 0.5
ts = ts + np.where(with_time, rng.integers(0, 86400, n), 0).astype("timedelta64[s]")
import pandas as pd  # noqa: E402
dt = pd.Series(ts).dt
parts = np.column_stack([dt.year, dt.month, dt.day, dt.dayofweek, dt.hour,
                         (ts - np.datetime64("1970-01-01T00:00:00")).astype(np.int64) / 86400.0]
                        ).astype(float)
parts[rng.random(n) < 0.05, :] = np.nan
ck.check(np.nanmin(parts[:, 3]) == 0 and np.nanmin(parts[:, 4]) == 0 and np.nanmin(parts[:, 5]) < -1,
         "the date parts hold 0 (Mondays, midnight) and elapsed days < -1")
dnames = ["when." + p for p in ("year", "month", "day", "dayofweek", "hour", "elapsed_days")]
XD = np.column_stack([pos, parts, X[:, 4]])
dn = ["a", "b"] + dnames + ["k"]
dtypes = ["N", "N"] + ["D"] * 6 + ["C"]
L.compare(ck, "date+box-cox", XD, fold, dn, dtypes, cats, L.settings(power="box-cox"),
          rtol=1e-6, tmp=tmp)
L.compare(ck, "date+box-cox+standard+poly", XD, fold, dn, dtypes, cats,
          L.settings(power="box-cox", scale="standard", polynomial=2), rtol=1e-6, tmp=tmp)
L.compare(ck, "date+yeo-johnson+clip+kbins+minmax", XD, fold, dn, dtypes, cats,
          L.settings(power="yeo-johnson", clip=(0.05, 0.95), kbins=4, scale="minmax"),
          rtol=1e-6, tmp=tmp)
L.compare(ck, "date+log1p+box-cox+standard", XD, fold, dn, dtypes, cats,
          L.settings(log1p=True, power="box-cox", scale="standard"), rtol=1e-6, tmp=tmp)

# Box-Cox of a column with a non-positive training value: one line naming the column.
rc, err, _ = L.run_tool(tmp, "bc-neg", X[:, :4], fold, names[:4], types[:4], {},
                        L.settings(power="box-cox"))
ck.check(rc != 0 and 'column "c"' in err and "expected values > 0" in err
         and len(err.strip().splitlines()) == 1, "box-cox refuses column c: rc %d, %r" % (rc, err))
# End to end: an ISO date column, power box-cox and yeo-johnson searched, 2 ranks.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402
import pandas as pd  # noqa: E402,F811
work = os.path.join(tmp, "e2e")
os.makedirs(work)
m = 240
when = pd.Timestamp("2023-01-02") + pd.to_timedelta(rng.integers(0, 600, m), unit="D")
xe = rng.lognormal(1.0, 0.7, m)
ye = 2 * np.log(xe) + 0.5 * (when.dayofweek >= 5) + rng.normal(0, 0.3, m)
pd.DataFrame({"when": when.strftime("%Y-%m-%d"), "x": xe, "y": ye}).to_csv(
    os.path.join(work, "d.csv"), index=False)
hftest.write(os.path.join(work, "job.yaml"), """name: dt
data: {source: d.csv, target: y, task: regression}
cv: {folds: 4, strategy: kfold, seed: 1}
preprocess: {power: [box-cox, yeo-johnson], scale: standard}
model: {type: ridge, params: {alpha: [1.0]}}
search: {strategy: grid}
objective: {metric: r2}
output: {dir: out}
""")
p = hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=work, check=False)
ck.check(p.returncode == 0, "run with a date column and box-cox: exit %d: %s" % (p.returncode, p.stderr))
if p.returncode == 0:
    trials = pd.read_csv(os.path.join(work, "out", "dt", "trials.csv"))
    ck.check(list(trials["status"]) == ["ok", "ok"] and trials["mean_r2"].min() > 0.8,
             "both trials ok with r2 > 0.8: %s" % trials[["status", "mean_r2"]].values.tolist())
    q = hftest.hyperfold(["predict", "--quiet", "--model", os.path.join("out", "dt", "model.h5"),
                          "--input", "d.csv", "--output", "p.csv"], cwd=work, check=False)
    pred = pd.read_csv(os.path.join(work, "p.csv")) if q.returncode == 0 else None
    ck.check(pred is not None and len(pred) == m and np.isfinite(pred.iloc[:, -1]).all(),
             "predict of the raw rows: exit %d %s" % (q.returncode, q.stderr))
ck.done()
