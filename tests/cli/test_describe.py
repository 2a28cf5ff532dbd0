#!/usr/bin/python3
"""hyperfold describe: per-column statistics computed in parallel agree with pandas (counts, missing,
mean, std exactly up to rounding; quartiles exactly, as pandas' describe; category counts;
correlation with the target), at 1, 2 and 4 ranks; the JSON file is written. A second table of
150,000 rows exercises the distributed selection's narrowing rounds (more candidates than are
gathered at once) on continuous values, heavy ties (zeros up to the third quartile, where a
histogram-interpolated median once said 4.43) and few distinct values."""
import json
import os
import sys

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("describe")
work = hftest.tempdir("describe-")
rng = np.random.default_rng(5)
n = 3000
df = pd.DataFrame({
    "a": rng.normal(10, 3, n),
    "b": rng.exponential(2.0, n),
    "city": rng.choice(["Paris", "Lyon", "Nice", "Lille"], n, p=[0.4, 0.3, 0.2, 0.1]),
    "flag": rng.choice(["true", "false"], n),
})
df.loc[rng.choice(n, 150, replace=False), "a"] = np.nan
df.loc[rng.choice(n, 40, replace=False), "city"] = np.nan
df["y"] = 2 * df["a"].fillna(10) - df["b"] + rng.normal(0, 1, n)
df.to_csv(os.path.join(work, "d.csv"), index=False)
hftest.write(os.path.join(work, "job.yaml"), """name: desc
data: {source: d.csv, target: y}
model: {type: ridge}
output: {dir: out}
""")
outs = {}
for np_ in (1, 2, 4):
    p = hftest.hyperfold(["describe", "job.yaml"], np=np_, cwd=work)
    ck.check("column" in p.stdout and "city" in p.stdout, "np=%d: table printed" % np_)
    with open(os.path.join(work, "out", "desc", "describe.json")) as f:
        outs[np_] = json.load(f)
cols = {c["name"]: c for c in outs[2]["columns"]}
ck.check(outs[2]["rows"] == n, "row count")
for name in ("a", "b"):
    c, s = cols[name], df[name]
    ck.check(c["type"] == "numeric", "%s numeric" % name)
    ck.check(c["count"] == s.count() and c["missing"] == s.isna().sum(), "%s count/missing" % name)
    ck.check(hftest.rel_close(c["mean"], s.mean(), 1e-12), "%s mean %r vs %r" % (name, c["mean"], s.mean()))
    ck.check(hftest.rel_close(c["std"], s.std(), 1e-9), "%s std %r vs %r" % (name, c["std"], s.std()))
    ck.check(c["min"] == s.min() and c["max"] == s.max(), "%s min/max" % name)
    for q, key in ((0.25, "q25"), (0.5, "median"), (0.75, "q75")):
        ck.check(hftest.rel_close(c[key], s.quantile(q), 1e-15, 1e-300),
                 "%s %s %r vs pandas %r" % (name, key, c[key], s.quantile(q)))
    ok = df[[name, "y"]].dropna()
    ck.check(hftest.rel_close(c["corr_target"], ok[name].corr(ok["y"]), 1e-9), "%s corr %r vs %r" % (name, c["corr_target"], ok[name].corr(ok["y"])))
city = cols["city"]
ck.check(city["type"] == "categorical" and city["distinct"] == 4 and city["missing"] == 40, "city type/distinct/missing")
vc = df["city"].value_counts()
ck.check([(e["value"], e["count"]) for e in city["top"]] == list(zip(vc.index, vc.values)), "city top values in order")
ck.check(cols["flag"]["type"] == "boolean", "flag inferred boolean")
ck.check(cols["y"]["role"] == "target", "target described")
for np_ in (1, 4):
    for c1, c2 in zip(outs[np_]["columns"], outs[2]["columns"]):
        for k in ("count", "missing", "min", "max", "q25", "median", "q75"):
            ck.check(c1.get(k) == c2.get(k), "np=%d vs 2: %s %s" % (np_, c1["name"], k))
        for k in ("mean", "std", "corr_target"):
            if c1.get(k) is not None:
                ck.check(hftest.rel_close(c1[k], c2[k], 1e-12), "np=%d vs 2: %s %s" % (np_, c1["name"], k))

# The selection's narrowing rounds: 150,000 values per column.
big = os.path.join(work, "big")
os.makedirs(big)
m = 150000
zeros = np.zeros(m)
zeros[rng.choice(m, m // 5, replace=False)] = rng.exponential(20.0, m // 5)  # 80% zeros
dfb = pd.DataFrame({
    "cont": rng.normal(0, 1, m) * 1e3,
    "ties": zeros,
    "few": rng.choice([1.5, 2.0, 7.25], m),
    "tiny": rng.normal(1.0, 1e-12, m),  # values that differ in their last digits only
})
dfb.loc[rng.choice(m, 500, replace=False), "cont"] = np.nan
dfb["y"] = dfb["few"] + rng.normal(0, 1, m)
dfb.to_csv(os.path.join(big, "d.csv"), index=False, float_format="%.17g")
# The values exactly as written (pandas' default parser may be one ulp off; hyperfold parses exactly).
dfb = pd.read_csv(os.path.join(big, "d.csv"), float_precision="round_trip")
hftest.write(os.path.join(big, "job.yaml"), """name: big
data: {source: d.csv, target: y}
model: {type: ridge}
output: {dir: out}
""")
for np_ in (1, 3):
    hftest.hyperfold(["describe", "job.yaml"], np=np_, cwd=big)
    with open(os.path.join(big, "out", "big", "describe.json")) as f:
        cols = {c["name"]: c for c in json.load(f)["columns"]}
    for name in ("cont", "ties", "few", "tiny", "y"):
        for q, key in ((0.25, "q25"), (0.5, "median"), (0.75, "q75")):
            want = dfb[name].quantile(q)
            ck.check(cols[name][key] == want,
                     "np=%d %s %s %r vs pandas %r" % (np_, name, key, cols[name][key], want))
ck.done()
