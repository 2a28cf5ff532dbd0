#!/usr/bin/python3
"""Peer test: the out-of-fold predictions of `hyperfold run` (RUN/oof.csv) are those of
scikit-learn's models fitted on the same folds (cross_val_predict), and every number of
results.json's "evaluation" / "holdout_evaluation" is scikit-learn's / numpy's on the same
predictions (1e-12 relative, curves point by point). Regression (ridge), binary and 4-class
logistic regression (one class never predicted); oof.csv and the evaluation identical at 1, 2 and
4 ranks and after a resume; repeated k-fold with a holdout (holdout.csv); `hyperfold evaluate`
against scikit-learn and `predict`, and its refusal of bad labelled input."""
import csv
import json
import os
import sys

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression, Ridge

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
import hftest  # noqa: E402
import evaluation_check  # noqa: E402

ck = hftest.Checker("evaluation_peer")
work = hftest.tempdir("peer-eval-")
rng = np.random.default_rng(2026)


def run(name, spec, ranks):
    path = os.path.join(work, name + ".yaml")
    hftest.write(path, spec)
    hftest.hyperfold(["run", path, "--quiet", "--fresh"], np=ranks, cwd=work)
    d = os.path.join(work, "out", name)
    with open(os.path.join(d, "oof.csv")) as f:
        text = f.read()
    return d, text, hftest.load_results(d)


def read_csv(text):
    rows = list(csv.reader(text.splitlines()))
    return rows[0], rows[1:]


def folds_iter(fold):
    for f in sorted(np.unique(fold)):
        yield f, np.where(fold != f)[0], np.where(fold == f)[0]


# ---------------------------------------------------------------- regression: ridge, predefined
n, p = 2500, 6
X = rng.normal(size=(n, p)) * rng.uniform(0.5, 4, size=p) + rng.normal(size=p)
y = X @ rng.normal(size=p) + 2.0 + rng.normal(scale=1.5, size=n)
fold = rng.integers(0, 5, size=n)
df = pd.DataFrame(X, columns=["x%d" % i for i in range(p)])
df["fold"] = fold
df["y"] = y
df.to_csv(os.path.join(work, "reg.csv"), index=False, float_format="%.17g")
spec = """
name: reg
data: {source: reg.csv, target: y, task: regression}
cv: {strategy: predefined, fold_column: fold}
model: {type: ridge, params: {alpha: [0.01, 10.0, 1000.0]}}
search: {strategy: grid}
objective: {metric: rmse}
output: {dir: out}
"""
texts = {}
for ranks in (1, 2, 4):
    d, texts[ranks], res = run("reg", spec, ranks)
    if ranks == 1:
        evals = {1: res["evaluation"]}
    evals[ranks] = res["evaluation"]
ck.check(texts[1] == texts[2] == texts[4], "regression: oof.csv identical at 1, 2 and 4 ranks")
ck.check(evals[1] == evals[2] == evals[4], "regression: evaluation identical at 1, 2 and 4 ranks")
header, rows = read_csv(texts[1])
ck.check(header == ["row", "repeat", "fold", "target", "prediction"], "regression header %r" % header)
ck.check([int(r[0]) for r in rows] == list(range(n)), "regression: one row per source row, in order")
alpha = res["best"]["params"]["alpha"]
got = np.array([float(r[4]) for r in rows])
want = np.empty(n)
for f, tr, te in folds_iter(fold):
    want[te] = Ridge(alpha=alpha).fit(X[tr], y[tr]).predict(X[te])
    ck.check(all(int(rows[i][2]) == int(f) for i in te), "regression fold %d numbered %d" % (f, f))
err = np.max(np.abs(got - want) / (1 + np.abs(want)))
ck.check(err < 1e-9, "regression: oof predictions equal Ridge(alpha=%g) on the same folds (max rel "
         "err %.3g)" % (alpha, err))
ck.check(all(float(r[3]) == y[int(r[0])] for r in rows), "regression: target column")
evaluation_check.check(ck, res["evaluation"], y, got, None, "regression oof")
ck.check(res["evaluation"]["source"] == "oof", "regression: source oof")

# ---------------------------------------------------------------- binary logistic
n, p = 1200, 5
X = rng.normal(size=(n, p))
logit = X @ rng.normal(size=p) * 0.8 + 0.3
lab = np.where(rng.uniform(size=n) < 1 / (1 + np.exp(-logit)), "yes", "no")
fold = rng.integers(0, 4, size=n)
df = pd.DataFrame(X, columns=["x%d" % i for i in range(p)])
df["fold"] = fold
df["label"] = lab
df.to_csv(os.path.join(work, "bin.csv"), index=False, float_format="%.17g")
spec = """
name: bin
data: {source: bin.csv, target: label}
cv: {strategy: predefined, fold_column: fold}
model: {type: logistic_regression, params: {C: [0.01, 1.0], tol: 1.0e-10, max_iter: 10000}}
search: {strategy: grid}
objective: {metric: roc_auc}
output: {dir: out}
"""
texts = {}
for ranks in (1, 4):
    d, texts[ranks], res = run("bin", spec, ranks)
ck.check(texts[1] == texts[4], "binary: oof.csv identical at 1 and 4 ranks")
# A resumed run (every task in the journal) recomputes oof.csv and the evaluation: the same.
os.unlink(os.path.join(d, "oof.csv"))
os.unlink(os.path.join(d, "results.json"))
hftest.hyperfold(["run", os.path.join(work, "bin.yaml"), "--quiet"], np=2, cwd=work)
with open(os.path.join(d, "oof.csv")) as f:
    ck.check(f.read() == texts[1], "binary: a resumed run writes the same oof.csv")
resumed = hftest.load_results(d)
ck.check(resumed["timing"]["resumed_tasks"] > 0 and resumed["evaluation"] == res["evaluation"],
         "binary: a resumed run has the same evaluation")
header, rows = read_csv(texts[1])
ck.check(header == ["row", "repeat", "fold", "target", "prediction", "proba_no", "proba_yes"],
         "binary header %r" % header)
classes = ["no", "yes"]
yi = np.array([classes.index(v) for v in lab])
P = np.array([[float(r[5]), float(r[6])] for r in rows])
ck.check([r[3] for r in rows] == list(lab), "binary: target column")
ck.check([r[4] for r in rows] == [classes[i] for i in np.argmax(P, axis=1)], "binary: prediction column")
C = res["best"]["params"]["C"]
want, sk = np.empty((n, 2)), np.empty((n, 2))
for f, tr, te in folds_iter(fold):
    sk[te] = LogisticRegression(C=C, tol=1e-10, max_iter=10000).fit(X[tr], yi[tr]).predict_proba(X[te])
    want[te] = hftest.LogisticOptimum(X[tr], yi[tr], C=C, gtol=1e-12, check=False).predict_proba(X[te])
# LogisticRegression stops short of the optimum (scipy's ftol; hftest.LogisticOptimum): the
# optimum to 1e-6 (hyperfold stops at tol 1e-10 on the gradient), scikit-learn's own fit to 1e-4.
err, err_sk = np.max(np.abs(P - want)), np.max(np.abs(P - sk))
ck.check(err < 1e-6 and err_sk < 1e-4, "binary: oof probabilities equal the logistic optimum (C=%g) "
         "on the same folds (max abs err %.3g; LogisticRegression %.3g)" % (C, err, err_sk))
evaluation_check.check(ck, res["evaluation"], yi, P, classes, "binary oof")
ck.check(res["evaluation"]["pr"][0]["n_points"] > 1000, "binary: a precision-recall curve long "
         "enough to be thinned (%d points)" % res["evaluation"]["pr"][0]["n_points"])

# ---------------------------------------------------------------- 4 classes, one never predicted
n, p = 400, 4
centres = np.array([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]], dtype=float)
cls = rng.integers(0, 3, size=n)
cls[rng.choice(n, 12, replace=False)] = 3  # class "d": few rows, centred like "a"
X = np.where(cls[:, None] == 3, centres[0], centres[np.minimum(cls, 2)]) + rng.normal(size=(n, p))
names = np.array(["a", "b", "c", "d"])
fold = np.arange(n) % 4
df = pd.DataFrame(X, columns=["x%d" % i for i in range(p)])
df["fold"] = fold
df["kind"] = names[cls]
df.to_csv(os.path.join(work, "multi.csv"), index=False, float_format="%.17g")
spec = """
name: multi
data: {source: multi.csv, target: kind}
cv: {strategy: predefined, fold_column: fold}
model: {type: logistic_regression, params: {C: [0.1, 1.0], tol: 1.0e-10, max_iter: 10000}}
search: {strategy: grid}
objective: {metric: log_loss, report: [accuracy, f1, roc_auc]}
output: {dir: out}
"""
texts = {}
for ranks in (1, 2):
    d, texts[ranks], res = run("multi", spec, ranks)
ck.check(texts[1] == texts[2], "multiclass: oof.csv identical at 1 and 2 ranks")
header, rows = read_csv(texts[1])
P = np.array([[float(v) for v in r[5:9]] for r in rows])
ck.check(not (np.argmax(P, axis=1) == 3).any(), "multiclass: class d is never predicted")
C = res["best"]["params"]["C"]
want, sk = np.empty((n, 4)), np.empty((n, 4))
for f, tr, te in folds_iter(fold):
    sk[te] = LogisticRegression(C=C, tol=1e-10, max_iter=10000).fit(X[tr], cls[tr]).predict_proba(X[te])
    want[te] = hftest.LogisticOptimum(X[tr], cls[tr], C=C, gtol=1e-12, check=False).predict_proba(X[te])
err, err_sk = np.max(np.abs(P - want)), np.max(np.abs(P - sk))
ck.check(err < 1e-6 and err_sk < 1e-4, "multiclass: oof probabilities equal the logistic optimum "
         "(C=%g) (max abs err %.3g; LogisticRegression %.3g)" % (C, err, err_sk))
ev = res["evaluation"]
evaluation_check.check(ck, ev, cls, P, list(names), "multiclass oof")
ck.check(ev["per_class"][3]["precision"] == 0.0, "multiclass: precision of a never predicted class is 0")

# ---------------------------------------------------------------- repeated k-fold with a holdout
n, p = 300, 4
X = rng.normal(size=(n, p))
y = X @ rng.normal(size=p) + rng.normal(scale=0.5, size=n)
df = pd.DataFrame(X, columns=["x%d" % i for i in range(p)])
df["y"] = y
df.to_csv(os.path.join(work, "rep.csv"), index=False, float_format="%.17g")
spec = """
name: rep
data: {source: rep.csv, target: y, task: regression}
cv: {folds: 3, repeats: 2, seed: 5, holdout: 0.2}
model: {type: ridge, params: {alpha: [0.1, 10.0]}}
search: {strategy: grid}
objective: {metric: r2, report: [mae]}
output: {dir: out}
"""
texts = {}
for ranks in (1, 2, 4):
    d, texts[ranks], res = run("rep", spec, ranks)
ck.check(texts[1] == texts[2] == texts[4], "repeats: oof.csv identical at 1, 2 and 4 ranks")
header, rows = read_csv(texts[1])
with open(os.path.join(d, "holdout.csv")) as f:
    hheader, hrows = read_csv(f.read())
hold = sorted(int(r[0]) for r in hrows)
search = sorted(set(range(n)) - set(hold))
ck.check(len(hold) == 60, "holdout: 60 rows (got %d)" % len(hold))
for rep in (0, 1):
    rr = [int(r[0]) for r in rows if r[1] == str(rep)]
    ck.check(rr == search, "repeat %d: every search row once, sorted" % rep)
alpha = res["best"]["params"]["alpha"]
m = Ridge(alpha=alpha).fit(X[search], y[search])
hp = np.array([float(r[2]) for r in hrows])
err = np.max(np.abs(hp - m.predict(X[[int(r[0]) for r in hrows]])))
ck.check(err < 1e-9, "holdout: predictions of the refit equal Ridge on the search rows (%.3g)" % err)
he = res["holdout_evaluation"]
evaluation_check.check(ck, he, y[[int(r[0]) for r in hrows]], hp, None, "holdout")
ck.check(he["source"] == "holdout", "holdout: source")
for k, v in res["holdout"]["scores"].items():
    ck.check(evaluation_check.close(he["metrics"][k], v), "holdout %s: %r vs results' %r" % (k, he["metrics"][k], v))
r0 = [r for r in rows if r[1] == "0"]
evaluation_check.check(ck, res["evaluation"], np.array([float(r[3]) for r in r0]),
                       np.array([float(r[4]) for r in r0]), None, "repeat 0 oof")
ck.check(res["evaluation"]["n_rows"] == len(search), "evaluation: repeat 0's rows only")

# ---------------------------------------------------------------- hyperfold evaluate
# The multiclass model on its own data (with its fold column, ignored), at 1 and 3 ranks: the
# evaluation of the predictions it writes is scikit-learn's, the predictions are predict's.
model = os.path.join(work, "out", "multi", "model.h5")
outs = {}
for ranks in (1, 3):
    e, pp = os.path.join(work, "e%d.json" % ranks), os.path.join(work, "p%d.csv" % ranks)
    r = hftest.hyperfold(["evaluate", "--model", model, "--input", "multi.csv", "--output", e,
                          "--predictions", pp], np=ranks, cwd=work)
    with open(e) as f, open(pp) as g:
        outs[ranks] = (json.load(f), g.read(), r.stdout)
ev, ptext, stdout = outs[1]
ck.check(outs[1][:2] == outs[3][:2], "evaluate: the same output at 1 and 3 ranks")
ck.check("confusion matrix" in stdout and "macro avg" in stdout and "log_loss" in stdout,
         "evaluate prints the metrics, the report and the confusion matrix:\n%s" % stdout)
header, prow = read_csv(ptext)
ck.check(header == ["row", "target", "prediction", "proba_a", "proba_b", "proba_c", "proba_d"],
         "evaluate --predictions header %r" % header)
ck.check([int(r[0]) for r in prow] == list(range(len(cls))) and [r[1] for r in prow] == list(names[cls]),
         "evaluate --predictions: rows and targets in input order")
P = np.array([[float(v) for v in r[3:7]] for r in prow])
evaluation_check.check(ck, ev, cls, P, list(names), "evaluate")
ck.check(ev["source"] == "multi.csv", "evaluate: source is the input (%r)" % ev["source"])
hftest.hyperfold(["predict", "--model", model, "--input", "multi.csv", "--output", "pred.csv"],
                 np=2, cwd=work)
with open(os.path.join(work, "pred.csv")) as f:
    _, qrow = read_csv(f.read())
ck.check(qrow == [r[2:] for r in prow], "evaluate's predictions are predict's")
# Rows of one class only: the curves and roc_auc of the absent classes are null where
# scikit-learn's are NaN, the rest still scikit-learn's.
df = pd.read_csv(os.path.join(work, "multi.csv"))
df[df["kind"] == "b"].to_csv(os.path.join(work, "only_b.csv"), index=False, float_format="%.17g")
e = os.path.join(work, "only_b.json")
hftest.hyperfold(["evaluate", "--model", model, "--input", "only_b.csv", "--output", e,
                  "--predictions", "only_b_pred.csv"], np=2, cwd=work)
with open(e) as f, open(os.path.join(work, "only_b_pred.csv")) as g:
    ev1, (_, prow1) = json.load(f), read_csv(g.read())
evaluation_check.check(ck, ev1, np.ones(len(prow1), dtype=int),
                       np.array([[float(v) for v in r[3:7]] for r in prow1]), list(names), "one class")
ck.check(ev1["metrics"]["roc_auc"] is None and ev1["roc"][1]["auc"] is None,
         "one class: roc_auc undefined (null)")
# Bad input: one line naming the problem, exit code 2, no output written.
df = pd.read_csv(os.path.join(work, "multi.csv"))
df.drop(columns=["kind"]).to_csv(os.path.join(work, "nolabel.csv"), index=False)
df.loc[7, "kind"] = "zebra"
df.to_csv(os.path.join(work, "badlabel.csv"), index=False)
for bad, word in (("nolabel.csv", "kind"), ("badlabel.csv", "zebra")):
    out = os.path.join(work, "bad.json")
    r = hftest.hyperfold(["evaluate", "--model", model, "--input", bad, "--output", out],
                         np=2, cwd=work, check=False)
    lines = [l for l in r.stderr.splitlines() if l.startswith("hyperfold")]
    ck.check(r.returncode == 2 and len(lines) == 1 and word in lines[0] and not os.path.exists(out),
             "evaluate %s: exit %d, stderr %r" % (bad, r.returncode, r.stderr))
ck.done()
