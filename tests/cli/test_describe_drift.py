#!/usr/bin/python3
"""Drift: run writes profile.json (decile edges and counts of the training rows, level counts,
missing counts, the target's); `describe NEW --against RUN_DIR` gives each column's population
stability index, recomputed here in numpy from the stored edges (shares floored at 1e-4), the same
at 1, 2 and 3 ranks; a shifted column is flagged major, a column with new missing values shows
the change in missing share, a new category is reported with its count and examples, the
target's balance change is reported; an unchanged copy of the training data gives PSI 0 on every
column; retrain writes the drift into results.json (retrain.drift); a damaged profile.json is one
line naming the file and the key, exit 2. Unlabeled new data (no target column) and --no-target
give the features' drift without a target; 100,000 old levels are matched by name; a profile.json
that cannot be written is a warning and the run still succeeds."""
import json
import os
import sys

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("describe_drift")
work = hftest.tempdir("describe-drift-")
rng = np.random.default_rng(8)
n = 900
df = pd.DataFrame({
    "a": rng.normal(0, 1, n),
    "b": rng.exponential(1, n),
    "c": rng.integers(0, 4, n).astype(float),  # few values: tied edges, empty bins
    "city": rng.choice(["x", "y", "z"], n, p=[0.5, 0.3, 0.2]),
})
df["y"] = np.where(df["a"] + rng.normal(0, 1, n) > 0, "pos", "neg")
df.to_csv(os.path.join(work, "train.csv"), index=False, float_format="%.17g")
hftest.write(os.path.join(work, "job.yaml"), """name: dr
data: {source: train.csv, target: y}
cv: {folds: 3}
model: {type: logistic_regression, params: {C: [1.0]}}
output: {dir: out}
""")
hftest.hyperfold(["run", "job.yaml", "-q"], np=2, cwd=work)
run_dir = os.path.join(work, "out", "dr")
with open(os.path.join(run_dir, "profile.json")) as f:
    prof = json.load(f)
pc = {c["name"]: c for c in prof["columns"]}
ck.check(prof["rows"] == n and prof["columns"][-1]["name"] == "y" and prof["columns"][-1]["role"] == "target",
         "profile: rows, the target last")
for name in ("a", "b", "c"):
    want = np.quantile(df[name], np.arange(1, 10) / 10)
    ck.check(np.allclose(pc[name]["edges"], want, rtol=1e-12, atol=0), "%s: decile edges as numpy.quantile" % name)
    counts = np.bincount(np.searchsorted(want, df[name], side="left"), minlength=10)
    ck.check(pc[name]["counts"] == counts.tolist(), "%s: bin counts %r vs %r" % (name, pc[name]["counts"], counts.tolist()))
ck.check({e["value"]: e["count"] for e in pc["city"]["levels"]} == dict(df["city"].value_counts()), "city level counts")

EPS = 1e-4


def psi(old, new):
    po, pn = np.asarray(old, float), np.asarray(new, float)
    po, pn = np.maximum(po / po.sum(), EPS), np.maximum(pn / pn.sum(), EPS)
    return float(((pn - po) * np.log(pn / po)).sum())


# New data: a shifted, b with missing values, a new city, more positives.
new = df.copy()
new["a"] = new["a"] + 0.8
new.loc[rng.choice(n, 90, replace=False), "b"] = np.nan
new.loc[rng.choice(n, 40, replace=False), "city"] = "w"
new.loc[rng.choice(n, 5, replace=False), "city"] = "v"
new.loc[new.index[:150], "y"] = "pos"
new.to_csv(os.path.join(work, "new.csv"), index=False, float_format="%.17g")
outs = {}
for np_ in (1, 2, 3):
    p = hftest.hyperfold(["describe", "new.csv", "--against", run_dir, "--json"], np=np_, cwd=work)
    outs[np_] = json.loads(p.stdout)["drift"]
ck.check(outs[1] == outs[2] == outs[3], "the same drift at 1, 2 and 3 ranks")
d = outs[2]
dc = {c["name"]: c for c in d["columns"]}
for name in ("a", "b", "c"):
    vals = new[name].dropna()
    counts = np.bincount(np.searchsorted(pc[name]["edges"], vals, side="left"), minlength=10)
    want = psi(pc[name]["counts"], counts)
    ck.check(abs(dc[name]["psi"] - want) <= 1e-12 + 1e-9 * want, "%s PSI %r vs numpy %r" % (name, dc[name]["psi"], want))
ck.check(dc["a"]["drift"] == "major" and d["columns"][0]["name"] == "a", "a shifted: major, first (%r)" % dc["a"]["drift"])
ck.check(abs(dc["b"]["missing_share_change"] - 0.1) < 1e-12, "b: missing share +0.1 (%r)" % dc["b"]["missing_share_change"])
old_levels = [e["value"] for e in pc["city"]["levels"]]
lv = {e["value"]: e["count"] for e in pc["city"]["levels"]}
vc = new["city"].value_counts()
want = psi([lv[k] for k in old_levels] + [0, 0], [vc.get(k, 0) for k in old_levels] + [vc["v"], vc["w"]])
ck.check(abs(dc["city"]["psi"] - want) <= 1e-12, "city PSI %r vs numpy %r" % (dc["city"]["psi"], want))
u = dc["city"]["new_categories"]
ck.check(u["count"] == 2 and u["rows"] == 45 and sorted(u["examples"]) == ["v", "w"], "city: new categories %r" % u)
t = d["target"]
bal = {e["value"]: e for e in t["balance"]}
ck.check(abs(bal["pos"]["share_new"] - (new["y"] == "pos").mean()) < 1e-12 and
         abs(bal["pos"]["share_old"] - (df["y"] == "pos").mean()) < 1e-12, "target balance old and new")
p = hftest.hyperfold(["describe", "new.csv", "--against", run_dir], np=2, cwd=work)
ck.check("drift of 900 new rows from the 900 training rows" in p.stdout and "major" in p.stdout, "drift table printed")

# An unchanged copy: PSI 0 everywhere.
same = hftest.hyperfold(["describe", "train.csv", "--against", run_dir, "--json"], np=3, cwd=work)
sd = json.loads(same.stdout)["drift"]
ck.check(all(c["psi"] == 0 and c["drift"] == "none" for c in sd["columns"]) and sd["target"]["psi"] == 0,
         "unchanged data: PSI 0 on every column: %r" % [(c["name"], c["psi"]) for c in sd["columns"]])

# Unlabeled data (no y): the run's target is not in the header, so nothing is read in its place;
# the features' drift is the same as with the labels, and there is no "target".
new.drop(columns=["y"]).to_csv(os.path.join(work, "scoring.csv"), index=False, float_format="%.17g")
for np_ in (1, 2):
    p = hftest.hyperfold(["describe", "scoring.csv", "--against", run_dir, "--json"], np=np_, cwd=work)
    ud = json.loads(p.stdout)["drift"]
    ck.check("target" not in ud and ud["rows_new"] == n, "unlabeled, np=%d: no target, %r rows" % (np_, ud["rows_new"]))
    ck.check({c["name"]: c["psi"] for c in ud["columns"]} == {c["name"]: c["psi"] for c in d["columns"]},
             "unlabeled, np=%d: the features' PSI as with the labels" % np_)
p = hftest.hyperfold(["describe", "new.csv", "--against", run_dir, "--no-target", "--json"], np=2, cwd=work)
nt = json.loads(p.stdout)
ck.check(nt["target"] is None and "association" not in nt["columns"][0],
         "--no-target: nothing associated (target %r)" % nt["target"])
p = hftest.hyperfold(["describe", "new.csv", "--target", "y", "--no-target"], cwd=work, check=False)
err = p.stderr.strip().splitlines()
ck.check(p.returncode == 2 and len(err) == 1 and "--no-target" in err[0], "--target with --no-target: %r" % err)

# 100,000 old levels against 20,000 new ones (half never seen): looked up by name, not k x n.
big = json.loads(json.dumps(prof))
m = 100000
big["columns"].insert(len(big["columns"]) - 1, {
    "name": "code", "role": "feature", "type": "categorical", "count": m, "missing": 0,
    "levels": [{"value": "k%06d" % i, "count": 1} for i in range(m)]})
os.makedirs(os.path.join(work, "big"), exist_ok=True)
with open(os.path.join(work, "big", "profile.json"), "w") as f:
    json.dump(big, f)
nb = 20000
codes = ["k%06d" % (2 * i) if i % 2 else "new%06d" % i for i in range(nb)]
bigdf = pd.DataFrame({"a": rng.normal(0, 1, nb), "code": codes, "y": rng.choice(["pos", "neg"], nb)})
bigdf.to_csv(os.path.join(work, "big.csv"), index=False)
p = hftest.hyperfold(["describe", "big.csv", "--against", os.path.join(work, "big"), "--json"], np=2, cwd=work)
bd = {c["name"]: c for c in json.loads(p.stdout)["drift"]["columns"]}
uc = bd["code"]["new_categories"]
ck.check(uc["count"] == nb // 2 and uc["rows"] == nb // 2, "100,000 levels: %r new levels" % uc["count"])
po = np.ones(m + nb // 2) * 0
po[:m] = 1
pn = np.zeros(m + nb // 2)
pn[[2 * i for i in range(1, nb, 2)]] = 1
pn[m:] = 1
want = psi(po, pn)
ck.check(abs(bd["code"]["psi"] - want) <= 1e-9 * want, "100,000 levels: PSI %r vs numpy %r" % (bd["code"]["psi"], want))

# retrain records the drift.
p = hftest.hyperfold(["retrain", run_dir, "--data", "new.csv"], np=2, cwd=work)
ck.check("drift from the training data: a PSI" in p.stderr, "retrain prints the moved columns: %r" % p.stderr[-400:])
res = hftest.load_results(run_dir)
rd = res["retrain"]["drift"]
ck.check({c["name"]: c["psi"] for c in rd["columns"]} == {c["name"]: c["psi"] for c in d["columns"]},
         "retrain.drift in results.json equals describe --against")

with open(os.path.join(run_dir, "report.html")) as f:
    page = f.read()
sec = page[page.find('id="drift"'):]
sec = sec[:sec.find("</section>")]
ck.check("Drift of the retrain data" in sec and "<td>city</td><td>categorical</td>" in sec and
         "<td>major</td>" in sec and "<td>2 (v, w)</td>" in sec,
         "report.html shows the drift (city's new categories v and w)")

# A damaged profile: one line naming the file and the key.
bad = dict(prof)
bad["columns"] = [dict(c) for c in prof["columns"]]
bad["columns"][0]["edges"] = list(reversed(bad["columns"][0]["edges"]))
os.makedirs(os.path.join(work, "bad"), exist_ok=True)
with open(os.path.join(work, "bad", "profile.json"), "w") as f:
    json.dump(bad, f)
p = hftest.hyperfold(["describe", "new.csv", "--against", os.path.join(work, "bad")], cwd=work, check=False)
err = p.stderr.strip().splitlines()
ck.check(p.returncode == 2 and len(err) == 1 and "profile.json" in err[0] and "columns[0].edges" in err[0],
         "damaged profile: exit %d %r" % (p.returncode, err))
# profile.json that cannot be written (a directory in its place): a warning, the run succeeds and
# its results are written; retrain then has no profile to compare with.
hftest.write(os.path.join(work, "job2.yaml"), open(os.path.join(work, "job.yaml")).read().replace("name: dr", "name: dr2"))
run2 = os.path.join(work, "out", "dr2")
os.makedirs(os.path.join(run2, "profile.json", "blocker"))
p = hftest.hyperfold(["run", "job2.yaml", "-q"], np=2, cwd=work, check=False)
ck.check(p.returncode == 0 and "profile.json not written" in p.stderr and
         os.path.exists(os.path.join(run2, "results.json")),
         "unwritable profile.json: a warning, the run succeeds (rc %d, %r)" % (p.returncode, p.stderr[-300:]))
# The run's own reading of its data: describe --against takes the run's data.columns and
# data.datetime_formats (an integer code read as categorical, a dd/mm/YYYY date), so the new data
# is typed as the training data was: no "type changed", the date's parts compared, the class
# balance of the target reported; unlabeled new data too (the pseudo-target is not the date).
w2 = os.path.join(work, "typed")
os.makedirs(w2)
m = 500
def typed(k, shift):
    x = rng.normal(shift, 1, k)
    t = pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, k), unit="D")
    return pd.DataFrame({"x": x, "code": rng.integers(1, 4, k), "when": t.strftime("%d/%m/%Y"),
                         "y": np.where(x + rng.normal(0, 1, k) > 0, "yes", "no")})
typed(m, 0.0).to_csv(os.path.join(w2, "train.csv"), index=False)
nt = typed(300, 1.0)
nt.to_csv(os.path.join(w2, "new.csv"), index=False)
nt.drop(columns=["y"]).to_csv(os.path.join(w2, "unl.csv"), index=False)
hftest.write(os.path.join(w2, "job.yaml"), """name: ty
data: {source: train.csv, target: y, columns: {code: categorical}, datetime_formats: {when: "%d/%m/%Y"}}
cv: {folds: 3}
model: {type: logistic_regression, params: {C: [1.0]}}
output: {dir: out}
""")
hftest.hyperfold(["run", "job.yaml", "-q"], np=2, cwd=w2)
rd2 = os.path.join(w2, "out", "ty")
for data, labelled in (("new.csv", True), ("unl.csv", False)):
    p = hftest.hyperfold(["describe", data, "--against", rd2, "--json"], np=2, cwd=w2)
    dd = json.loads(p.stdout)["drift"]
    cols = {c["name"]: c for c in dd["columns"] + dd.get("trend", [])}
    ck.check(cols.get("code", {}).get("type") == "categorical" and isinstance(cols["code"].get("psi"), float),
             "%s: code read as the run read it (categorical): %s" % (data, cols.get("code")))
    ck.check(all(isinstance(cols.get("when." + part, {}).get("psi"), float)
                 for part in ("month", "day", "dayofweek", "elapsed_days")),
             "%s: the date's parts compared: %s" % (data, sorted(cols)))
    ck.check(("balance" in (dd.get("target") or {})) == labelled,
             "%s: the target's class balance %s" % (data, "reported" if labelled else "absent"))
# Unlabeled data whose last column has missing values: every column a feature, drift without a
# target (no column is read in the target's place, so a missing value there is fine).
u2 = nt.drop(columns=["y"])[["code", "when", "x"]].copy()
u2.loc[::7, "x"] = np.nan
u2.to_csv(os.path.join(w2, "unl2.csv"), index=False)
for np_ in (1, 2):
    p = hftest.hyperfold(["describe", "unl2.csv", "--against", rd2, "--json"], np=np_, cwd=w2, check=False)
    ck.check(p.returncode == 0, "unl2.csv np=%d: exit %d (%s)" % (np_, p.returncode, p.stderr.strip()))
    if p.returncode:
        continue
    out = json.loads(p.stdout)
    cols = {c["name"]: c for c in out["columns"]}
    ck.check(out["target"] is None and "association" not in out and all(c["role"] == "feature" for c in out["columns"]),
             "unl2.csv np=%d: no target, every column a feature" % np_)
    ck.check(cols["x"]["missing"] == u2["x"].isna().sum() and cols["x"]["count"] == u2["x"].count() and
             abs(cols["x"]["mean"] - u2["x"].mean()) <= 1e-10 * abs(u2["x"].mean()),
             "unl2.csv np=%d: x (last, with missing values) as pandas: %r" % (np_, cols["x"]))
    dd = out["drift"]
    dcols = {c["name"]: c for c in dd["columns"] + dd.get("trend", [])}
    ck.check("target" not in dd and isinstance(dcols.get("x", {}).get("psi"), float) and dd["rows_new"] == len(u2),
             "unl2.csv np=%d: drift without a target, x compared: %r" % (np_, dcols.get("x")))

ck.done()
