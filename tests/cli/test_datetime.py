#!/usr/bin/python3
"""Date and time columns (docs/shards.md): an ISO 8601 column (every form: date only, T or space,
seconds, fractions, Z and +HH:MM / -HHMM offsets, dates from 1901 to 2099, leap days, missing
values) is inferred as datetime and expanded at ingest into COL.year, .month, .day, .dayofweek,
.hour and .elapsed_days, equal to pandas' to_datetime(utc=True).dt.* and elapsed days; the shards
are identical at 1, 2 and 3 ranks; a ridge model on them equals scikit-learn's on pandas' parts,
and predict on the raw rows gives those predictions; a stated format (data.datetime_formats)
equals pandas' to_datetime(format=...); data.columns: {when: categorical} keeps the text; a bad
value of a datetime column is one line naming the file, line, column, value and format (exit 2),
or a skipped row; cv.order_column ordered by an ISO column splits as scikit-learn's
TimeSeriesSplit on the rows sorted by time; describe works on such data."""
import glob
import json
import os
import sys

import h5py
import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.model_selection import TimeSeriesSplit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("datetime")
work = hftest.tempdir("datetime-")
rng = np.random.default_rng(11)
PARTS = ["year", "month", "day", "dayofweek", "hour", "elapsed_days"]
EPOCH = pd.Timestamp("1970-01-01", tz="UTC")


def iso_texts(n):
    """n ISO 8601 texts in every accepted form, between 1901 and 2099."""
    lo = pd.Timestamp("1901-01-01").value // 10**9
    hi = pd.Timestamp("2099-12-31").value // 10**9
    secs = rng.integers(lo, hi, n)
    out = []
    for i, s in enumerate(secs):
        t = pd.Timestamp(int(s), unit="s")
        form = i % 8
        if form == 0:
            out.append(t.strftime("%Y-%m-%d"))
        elif form == 1:
            out.append(t.strftime("%Y-%m-%dT%H:%M"))
        elif form == 2:
            out.append(t.strftime("%Y-%m-%d %H:%M:%S"))
        elif form == 3:
            out.append(t.strftime("%Y-%m-%dT%H:%M:%SZ"))
        elif form == 4:
            out.append(t.strftime("%Y-%m-%dT%H:%M:%S") + ".%06d" % rng.integers(0, 10**6))
        elif form == 5:
            out.append(t.strftime("%Y-%m-%dT%H:%M:%S") + "+05:30")
        elif form == 6:
            out.append(t.strftime("%Y-%m-%dT%H:%M:%S") + "-0800")
        else:
            out.append(t.strftime("%Y-%m-%d %H:%M:%S") + ".5-03:00")
    # leap days, the days 1900 and 2100 are not, before 1970, a second before midnight
    extra = ["2000-02-29T12:00:00Z", "2024-02-29", "1904-02-29T23:59:59.999", "1969-12-31T23:59:59",
             "1970-01-01T00:00:00+01:00", "2099-12-31T23:30:00-01:00", "1955-06-15 08:00"]
    out[:len(extra)] = extra
    return out


def pandas_parts(texts, fmt=None):
    """The derived values as pandas gives them (NaN for a missing value)."""
    s = pd.Series([pd.to_datetime(t, utc=True, format=fmt) if isinstance(t, str) and t else pd.NaT
                   for t in texts], dtype="datetime64[ns, UTC]")
    out = {p: getattr(s.dt, p).astype(float).to_numpy() for p in PARTS[:5]}
    out["elapsed_days"] = ((s - EPOCH) / pd.Timedelta(days=1)).to_numpy(dtype=float)
    return out


def shards_X(run_dir):
    xs = [h5py.File(p, "r")["X"][:] for p in sorted(glob.glob(os.path.join(run_dir, "shards",
                                                                           "part-*.h5")))]
    return np.vstack(xs)


def manifest_schema(run_dir):
    with open(os.path.join(run_dir, "shards", "manifest.json")) as f:
        return json.load(f)["schema"]


def same_values(a, b, what, rtol=0.0):
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    nan_ok = np.array_equal(np.isnan(a), np.isnan(b))
    m = ~np.isnan(a) & ~np.isnan(b)
    if rtol == 0:
        close = np.array_equal(a[m], b[m])
    else:
        close = np.allclose(a[m], b[m], rtol=rtol, atol=1e-12)
    bad = "" if close else " first differences: %s" % (
        [(i, x, y) for i, (x, y) in enumerate(zip(a, b)) if x != y][:3])
    return ck.check(nan_ok and close, what + bad)


# ---- 1. inference, the derived values against pandas, 1/2/3 ranks ------------------------------
n = 600
when = iso_texts(n)
for i in rng.choice(np.arange(10, n), 30, replace=False):
    when[i] = ""
df = pd.DataFrame({"x": rng.normal(size=n), "when": when,
                   "code": rng.choice(["a", "b", "c"], n)})
ref = pandas_parts(df["when"].tolist())
df["y"] = df["x"] + 0.01 * np.nan_to_num(ref["year"] - 2000) + 0.1 * np.nan_to_num(ref["hour"]) + \
    rng.normal(0, 0.1, n)
df.to_csv(os.path.join(work, "d.csv"), index=False)
JOB = """name: dt
data: {source: d.csv, target: y}
shards: {count: 2}
cv: {folds: 3, seed: 1}
model: {type: ridge, params: {alpha: 0.5}}
output: {dir: %s}
"""
Xs = {}
for np_ in (1, 2, 3):
    hftest.write(os.path.join(work, "job%d.yaml" % np_), JOB % ("out%d" % np_))
    hftest.hyperfold(["run", "job%d.yaml" % np_, "--quiet"], np=np_, cwd=work)
    Xs[np_] = shards_X(os.path.join(work, "out%d" % np_, "dt"))
schema = manifest_schema(os.path.join(work, "out1", "dt"))
run = os.path.join(work, "out1", "dt")
names = [f["name"] for f in schema["features"]]
ck.check(names == ["x"] + ["when." + p for p in PARTS] + ["code"],
         "features: x, the six parts of when, code: %s" % names)
derived = [f for f in schema["features"] if f.get("source")]
ck.check(len(derived) == 6 and all(f["source"] == "when" and f["type"] == "numeric" and
                                   f["format"] is None for f in derived),
         "the derived features record their source, part and format: %s" % derived)
ck.check([f["part"] for f in derived] == PARTS, "parts in order")
ck.check(Xs[1].shape == (n, 8), "shards: %d rows x 8 features (%s)" % (n, Xs[1].shape))
for np_ in (2, 3):
    ck.check(np.array_equal(Xs[1], Xs[np_], equal_nan=True),
             "the shards at %d ranks equal those at 1 rank, bit for bit" % np_)
for k, p in enumerate(PARTS):
    same_values(Xs[1][:, 1 + k], ref[p], "when.%s equals pandas" % p,
                rtol=1e-13 if p == "elapsed_days" else 0.0)
ck.check(np.isnan(Xs[1][df["when"].isna().to_numpy() | (df["when"] == "").to_numpy(), 1:7]).all(),
         "a missing date is NaN in each derived feature")

# ---- 2. the model against scikit-learn on pandas' parts; predict on the raw rows ---------------
feats = np.column_stack([df["x"].to_numpy()] + [ref[p] for p in PARTS])
onehot = pd.get_dummies(df["code"]).to_numpy(dtype=float)
Xsk = np.column_stack([SimpleImputer(strategy="mean").fit_transform(feats), onehot])
want = Ridge(alpha=0.5).fit(Xsk, df["y"]).predict(Xsk)
raw = df[["x", "when", "code"]]
raw.to_csv(os.path.join(work, "raw.csv"), index=False)
for np_ in (1, 3):
    out = os.path.join(work, "pred%d.csv" % np_)
    hftest.hyperfold(["predict", "--model", os.path.join(run, "model.h5"), "--input", "raw.csv",
                      "--output", out, "--quiet"], np=np_, cwd=work)
    got = pd.read_csv(out)["prediction"].to_numpy()
    ck.check(np.allclose(got, want, rtol=1e-7, atol=1e-7),
             "predict at %d ranks on the raw rows equals scikit-learn's ridge on pandas' parts "
             "(max diff %g)" % (np_, np.max(np.abs(got - want))))
ck.check(open(os.path.join(work, "pred1.csv")).read() == open(os.path.join(work, "pred3.csv")).read(),
         "predict at 1 and 3 ranks: the same bytes")
# the raw column is required, and its bad value is one line
df[["x", "code"]].to_csv(os.path.join(work, "nowhen.csv"), index=False)
p = hftest.hyperfold(["predict", "--model", os.path.join(run, "model.h5"), "--input",
                      "nowhen.csv", "--output", "o.csv"], cwd=work, check=False)
ck.check(p.returncode == 2 and 'missing feature columns "when"' in p.stderr and
         len(p.stderr.strip().splitlines()) == 1,
         "predict without the raw column: exit 2, one line naming it: %r" % p.stderr)
hftest.write(os.path.join(work, "badwhen.csv"), "x,when,code\n1.0,2024-01-01,a\n2.0,2024-02-30,b\n")
p = hftest.hyperfold(["predict", "--model", os.path.join(run, "model.h5"), "--input",
                      "badwhen.csv", "--output", "o.csv"], cwd=work, check=False)
ck.check(p.returncode == 2 and "badwhen.csv:3:5" in p.stderr and '"2024-02-30"' in p.stderr and
         "ISO 8601" in p.stderr and len(p.stderr.strip().splitlines()) == 1,
         "predict with a bad date: exit 2, one line with file:line:col, value, format: %r"
         % p.stderr)

# ---- 3. data.columns: categorical keeps the text; one value that is not a date ----------------
hftest.write(os.path.join(work, "cat.yaml"), """name: cat
data: {source: d.csv, target: y, columns: {when: categorical}}
model: {type: ridge}
output: {dir: out}
""")
p = hftest.hyperfold(["validate", "cat.yaml"], cwd=work)
ck.check("when " in p.stdout and "categorical" in p.stdout.split("when ")[1].split("\n")[0] and
         "when.year" not in p.stdout, "data.columns: {when: categorical} keeps the old type")
mixed = df.copy()
mixed.loc[3, "when"] = "yesterday"
mixed.to_csv(os.path.join(work, "mixed.csv"), index=False)
hftest.write(os.path.join(work, "mixed.yaml"), """name: mixed
data: {source: mixed.csv, target: y}
model: {type: ridge}
output: {dir: out}
""")
p = hftest.hyperfold(["validate", "mixed.yaml"], cwd=work)
ck.check("when.year" not in p.stdout and "categorical" in p.stdout.split("when ")[1].split("\n")[0],
         "a column with one value that is not ISO 8601 is categorical, as before")

# ---- 4. a bad value of a declared datetime column ------------------------------------------------
hftest.write(os.path.join(work, "bad.yaml"), """name: bad
data: {source: mixed.csv, target: y, columns: {when: datetime}}
model: {type: ridge}
output: {dir: out}
""")
p = hftest.hyperfold(["run", "bad.yaml", "--quiet"], np=2, cwd=work, check=False)
ours = [l for l in p.stderr.splitlines() if l.startswith("hyperfold")]
line = [l for l in open(os.path.join(work, "mixed.csv")).read().splitlines()][4]
colno = line.index("yesterday") + 1
ck.check(p.returncode == 2 and "mixed.csv:5:%d" % colno in p.stderr and
         'column "when": got "yesterday", expected an ISO 8601' in p.stderr and len(ours) == 1,
         "a bad date: exit 2 and one line with file:line:col, column, value, format: %r" % p.stderr)
hftest.write(os.path.join(work, "skip.yaml"), """name: skip
data: {source: mixed.csv, target: y, columns: {when: datetime}, on_bad_rows: skip}
model: {type: ridge}
output: {dir: out}
""")
hftest.hyperfold(["run", "skip.yaml", "--quiet"], np=2, cwd=work)
with open(os.path.join(work, "out", "skip", "shards", "manifest.json")) as f:
    man = json.load(f)
ck.check(man["n_rows"] == n - 1 and man.get("n_rejected", 1) == 1,
         "on_bad_rows: skip drops the row with the bad date (%s rows)" % man["n_rows"])

# ---- 5. a stated format ---------------------------------------------------------------------------
FMT = "%d/%m/%Y %H:%M"
ts = pd.to_datetime(rng.integers(pd.Timestamp("1930-01-01").value // 10**9,
                                 pd.Timestamp("2090-01-01").value // 10**9, 300), unit="s")
texts = [t.strftime(FMT) for t in ts]
texts[4] = ""
texts[7] = "29/02/2024 10:15"
sf = pd.DataFrame({"x": rng.normal(size=300), "when": texts})
sf["y"] = sf["x"] + rng.normal(0, 0.1, 300)
sf.to_csv(os.path.join(work, "f.csv"), index=False)
hftest.write(os.path.join(work, "fmt.yaml"), """name: fmt
data: {source: f.csv, target: y, datetime_formats: {when: "%s"}}
shards: {count: 1}
model: {type: ridge}
output: {dir: out}
""" % FMT)
hftest.hyperfold(["run", "fmt.yaml", "--quiet"], np=2, cwd=work)
fref = pandas_parts(texts, fmt=FMT)
Xf = shards_X(os.path.join(work, "out", "fmt"))
fs = manifest_schema(os.path.join(work, "out", "fmt"))
ck.check(all(f["format"] == FMT for f in fs["features"] if f.get("source")),
         "the stated format is recorded in the schema")
for k, p_ in enumerate(PARTS):
    same_values(Xf[:, 1 + k], fref[p_], "stated format: when.%s equals pandas" % p_,
                rtol=1e-13 if p_ == "elapsed_days" else 0.0)
hftest.write(os.path.join(work, "fbad.csv"), "x,when,y\n1,31/01/2024 10:00,1\n2,2024-01-31,2\n")
hftest.write(os.path.join(work, "fbad.yaml"), """name: fbad
data: {source: fbad.csv, target: y, datetime_formats: {when: "%s"}}
model: {type: ridge}
output: {dir: out}
""" % FMT)
p = hftest.hyperfold(["validate", "fbad.yaml"], cwd=work, check=False)
ck.check(p.returncode == 2 and "fbad.csv:3:3" in p.stderr and '"2024-01-31"' in p.stderr and
         'the format "%s"' % FMT in p.stderr and len(p.stderr.strip().splitlines()) == 1,
         "stated format, a value that does not match: one line: %r" % p.stderr)
# predict builds the same line (one function, hf_fieldconv_dt_message), with the same prefix
q = hftest.hyperfold(["predict", "--model", os.path.join(work, "out", "fmt", "model.h5"),
                      "--input", "fbad.csv", "--output", "fbad_pred.csv"], cwd=work, check=False)
ck.check(q.returncode == 2 and q.stderr.strip() == p.stderr.strip(),
         "predict of the same bad value says what validate says: %r vs %r" % (q.stderr, p.stderr))

# ---- 6. cv.order_column ordered by an ISO date column -------------------------------------------
m = 200
base = pd.Timestamp("2020-01-01", tz="UTC")
times = [base + pd.Timedelta(hours=int(h)) for h in rng.permutation(5000)[:m]]
offs = ["Z", "+02:00", "-0500"]
ttext = [(t.tz_convert("Etc/GMT-2") if o == "+02:00" else t.tz_convert("Etc/GMT+5")
          if o == "-0500" else t).strftime("%Y-%m-%dT%H:%M:%S") + o
         for t, o in zip(times, [offs[i % 3] for i in range(m)])]
tdf = pd.DataFrame({"x": rng.normal(size=m), "t": ttext})
tdf["y"] = tdf["x"] + rng.normal(0, 0.1, m)
tdf.to_csv(os.path.join(work, "ts.csv"), index=False)
hftest.write(os.path.join(work, "ts.yaml"), """name: ts
data: {source: ts.csv, target: y}
cv: {strategy: timeseries, order_column: t, folds: 4}
model: {type: ridge}
output: {dir: out}
""")
hftest.hyperfold(["run", "ts.yaml", "--quiet"], np=2, cwd=work)
oof = pd.read_csv(os.path.join(work, "out", "ts", "oof.csv"))
order = np.argsort([pd.Timestamp(t).value for t in ttext], kind="stable")
expect = {}
for fold, (_, va) in enumerate(TimeSeriesSplit(n_splits=4).split(order)):
    for i in va:
        expect[int(order[i])] = fold
got = {int(r): int(f) for r, f in zip(oof["row"], oof["fold"])}
ck.check(got == expect, "timeseries by an ISO date column: the folds of scikit-learn's "
         "TimeSeriesSplit on the rows sorted by time (%d of %d rows agree)"
         % (sum(got.get(r) == f for r, f in expect.items()), len(expect)))
ts_schema = manifest_schema(os.path.join(work, "out", "ts"))
ck.check(ts_schema["order_column"] == "t" and "t.year" not in
         [f["name"] for f in ts_schema["features"]], "the order column is not a feature")

# ---- 7. describe on such data ----------------------------------------------------------------
p = hftest.hyperfold(["describe", "job1.yaml"], np=2, cwd=work, check=False)
ck.check(p.returncode == 0 and "when.year" in p.stdout,
         "describe works on data with a datetime column (rc %d): %s" % (p.returncode,
                                                                        p.stderr[-300:]))
ck.done()
