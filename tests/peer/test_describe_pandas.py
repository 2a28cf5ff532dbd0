#!/usr/bin/python3
"""hyperfold describe DATA (no job spec) against pandas, numpy, scipy and scikit-learn on the same
file, at 1, 2 and 3 ranks (the same JSON at each): count, missing, mean, std, min, quartiles, max
(df.describe()), nunique(), skew(), zeros, 1.5 IQR outliers, value_counts(); the association with a
classification target (per-class means, the correlation ratio from its formula, Cramér's V as
scipy.stats.contingency.association(method="cramer"), mutual_info_score) and with a regression
target (Pearson as pandas' corr, the correlation ratio of a categorical column); a HyperLogLog
estimate within three standard errors on a column with more distinct values than --max-distinct;
the ranking by association."""
import json
import math
import os
import sys

import numpy as np
import pandas as pd
from scipy.stats.contingency import association
from sklearn.metrics import mutual_info_score

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("describe_pandas")
work = hftest.tempdir("describe-pandas-")
rng = np.random.default_rng(11)
n = 4000
df = pd.DataFrame({
    "a": rng.normal(10, 3, n),
    "b": rng.exponential(2.0, n),
    "code": rng.integers(1, 6, n),
    "city": rng.choice(["Paris", "Lyon", "Nice", "Lille"], n, p=[0.4, 0.3, 0.2, 0.1]),
    "many": np.round(rng.uniform(0, 1e6, n), 3),  # ~4000 distinct: more than --max-distinct
    "z": np.where(rng.random(n) < 0.3, 0.0, rng.normal(0, 1, n)),
})
df.loc[rng.choice(n, 200, replace=False), "a"] = np.nan
df.loc[rng.choice(n, 60, replace=False), "city"] = np.nan
logit = 0.4 * (df["a"].fillna(10) - 10) + 0.6 * (df["city"] == "Paris") - 0.3 * df["code"]
df["y"] = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "churn", "stay")
df["t"] = 2 * df["a"].fillna(10) - df["b"] + 3 * (df["city"] == "Nice") + rng.normal(0, 1, n)
path = os.path.join(work, "d.csv")
df.to_csv(path, index=False, float_format="%.17g")
df = pd.read_csv(path, float_precision="round_trip")

MAXD = 1000


def run(args, np_):
    p = hftest.hyperfold(["describe", "d.csv", "--json", "--max-distinct", str(MAXD)] + args, np=np_, cwd=work)
    return json.loads(p.stdout)


def close(a, b, rtol=1e-9, atol=1e-12):
    if a is None or b is None or (isinstance(b, float) and math.isnan(b)):
        return a is None and (b is None or math.isnan(b))
    return abs(a - b) <= atol + rtol * abs(b)


outs = {np_: run(["--target", "y", "--columns", "t=numeric"], np_) for np_ in (1, 2, 3)}
def same(x, y):
    """Equal JSON, floats up to 1e-11 relative (sums in another order)."""
    if isinstance(y, float) and isinstance(x, (int, float)):
        return close(x, y, 1e-11)
    if isinstance(y, dict):
        return isinstance(x, dict) and list(x) == list(y) and all(same(x[k], y[k]) for k in y)
    if isinstance(y, list):
        return isinstance(x, list) and len(x) == len(y) and all(same(u, v) for u, v in zip(x, y))
    return x == y


for np_ in (1, 3):
    a, b = outs[np_], outs[2]
    for c1, c2 in zip(a["columns"], b["columns"]):
        for k, v in c2.items():
            ck.check(same(c1.get(k), v), "np=%d vs 2: %s %s %r vs %r" % (np_, c2["name"], k, c1.get(k), v))
    ck.check([e["column"] for e in a["association"]] == [e["column"] for e in b["association"]],
             "np=%d vs 2: the same ranking" % np_)

out = outs[2]
cols = {c["name"]: c for c in out["columns"]}
ck.check(out["rows"] == n and out["target"] == "y" and out["task"] == "classification", "rows, target, task")
ok = df.dropna(subset=["y"])
for name in ("a", "b", "code", "many", "z", "t"):
    c, s = cols[name], df[name]
    d = s.describe()
    ck.check(c["type"] == "numeric", "%s numeric" % name)
    ck.check(c["count"] == d["count"] and c["missing"] == s.isna().sum(), "%s count/missing" % name)
    ck.check(close(c["missing_share"], s.isna().mean()), "%s missing share" % name)
    for key, pk in (("mean", "mean"), ("std", "std"), ("min", "min"), ("q25", "25%"), ("median", "50%"),
                    ("q75", "75%"), ("max", "max")):
        ck.check(close(c[key], d[pk], 1e-10), "%s %s %r vs pandas %r" % (name, key, c[key], d[pk]))
    ck.check(close(c["skew"], s.skew(), 1e-8), "%s skew %r vs pandas %r" % (name, c["skew"], s.skew()))
    ck.check(c["zeros"] == (s == 0).sum(), "%s zeros %r vs %r" % (name, c["zeros"], (s == 0).sum()))
    q1, q3 = s.quantile(0.25), s.quantile(0.75)
    want = ((s < q1 - 1.5 * (q3 - q1)) | (s > q3 + 1.5 * (q3 - q1))).sum()
    ck.check(c["outliers"] == want, "%s outliers %r vs %r" % (name, c["outliers"], want))
    if s.nunique() <= MAXD:
        ck.check(c["distinct"] == s.nunique() and not c["distinct_approximate"],
                 "%s distinct %r vs nunique %r" % (name, c["distinct"], s.nunique()))
    else:  # HyperLogLog: within three standard errors
        ck.check(c["distinct_approximate"] and abs(c["distinct"] - s.nunique()) <= 3 * c["distinct_stderr"] * s.nunique(),
                 "%s distinct ~%r vs nunique %r" % (name, c["distinct"], s.nunique()))
    # Per-class means and the correlation ratio eta = sqrt(SS_between / SS_total) over the rows
    # where both are present.
    if name != "t":
        pr = ok[[name, "y"]].dropna()
        means = pr.groupby("y")[name].mean()
        for cls, m in means.items():
            ck.check(close(c["class_means"][cls], m, 1e-10), "%s mean of class %s %r vs %r" % (name, cls, c["class_means"][cls], m))
        x = pr[name].to_numpy()
        ssb = sum(len(g) * (g.mean() - x.mean()) ** 2 for _, g in pr.groupby("y")[name])
        eta = math.sqrt(ssb / ((x - x.mean()) ** 2).sum())
        ck.check(c["association"]["measure"] == "correlation_ratio" and close(c["association"]["value"], eta, 1e-8),
                 "%s eta %r vs %r" % (name, c["association"]["value"], eta))
# HyperLogLog on a column with more distinct values than --max-distinct.
many = cols["many"]
true = df["many"].nunique()
ck.check(many["distinct_approximate"] and abs(many["distinct_stderr"] - 1.04 / 128) < 1e-12, "many: approximate, stderr 1.04/sqrt(m)")
ck.check(abs(many["distinct"] - true) <= 3 * many["distinct_stderr"] * true,
         "many: HyperLogLog %r within 3 standard errors of %r" % (many["distinct"], true))
# Under the default limit every count is exact.
exact = {c["name"]: c for c in json.loads(hftest.hyperfold(
    ["describe", "d.csv", "--json", "--target", "y"], np=3, cwd=work).stdout)["columns"]}
for name in ("a", "b", "code", "many", "z", "t", "city", "y"):
    ck.check(exact[name]["distinct"] == df[name].nunique() and not exact[name]["distinct_approximate"],
             "default limit: %s distinct %r vs nunique %r" % (name, exact[name]["distinct"], df[name].nunique()))
# Categorical: levels, nunique, value_counts, Cramér's V, mutual information.
city = cols["city"]
vc = df["city"].value_counts()
ck.check(city["type"] == "categorical" and city["distinct"] == df["city"].nunique() and city["missing"] == 60,
         "city type/distinct/missing")
ck.check([(e["value"], e["count"]) for e in city["top"]] == list(zip(vc.index, vc.values)), "city top values in order")
pr = ok[["city", "y"]].dropna()
tab = pd.crosstab(pr["city"], pr["y"]).to_numpy()
v = association(tab, method="cramer")
ck.check(city["association"]["measure"] == "cramers_v" and close(city["association"]["value"], v, 1e-10),
         "city Cramér's V %r vs scipy %r" % (city["association"]["value"], v))
mi = mutual_info_score(pr["city"], pr["y"])
ck.check(close(city["mutual_info"], mi, 1e-10), "city mutual information %r vs sklearn %r" % (city["mutual_info"], mi))
# The target's class balance.
yc = df["y"].value_counts()
ck.check({e["value"]: e["count"] for e in cols["y"]["classes"]} == dict(yc), "class balance")
# Ranking: strongest association first.
vals = [e["value"] for e in out["association"] if e["value"] is not None]
ck.check(vals == sorted(vals, reverse=True), "association list sorted: %r" % vals)

# Regression target: Pearson as pandas' corr (pairwise complete), the correlation ratio of a
# categorical column, a numeric column's leak above 0.999.
reg = run(["--target", "t"], 2)
rc = {c["name"]: c for c in reg["columns"]}
ck.check(reg["task"] == "regression", "t: regression")
for name in ("a", "b", "code", "z"):
    want = df[[name, "t"]].dropna().corr().iloc[0, 1]
    ck.check(rc[name]["association"]["measure"] == "pearson" and close(rc[name]["association"]["value"], want, 1e-9),
             "%s pearson %r vs pandas %r" % (name, rc[name]["association"]["value"], want))
pr = df[["city", "t"]].dropna()
tt = pr["t"].to_numpy()
ssb = sum(len(g) * (g.mean() - tt.mean()) ** 2 for _, g in pr.groupby("city")["t"])
eta = math.sqrt(ssb / ((tt - tt.mean()) ** 2).sum())
ck.check(close(rc["city"]["association"]["value"], eta, 1e-9), "city eta on t %r vs %r" % (rc["city"]["association"]["value"], eta))
ck.check(rc["t"]["role"] == "target" and close(rc["t"]["skew"], df["t"].skew(), 1e-8), "target t described, skew")
ck.done()
