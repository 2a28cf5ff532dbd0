#!/usr/bin/python3
"""retrain compares the models on rows neither was trained on. A ridge run on 800 rows (640 search
rows, 160 holdout rows) is retrained on those 800 rows plus 300 new ones: the retrain holdout must
hold no row of the 640 the current model was trained on (they are known by content, even after the
rows are shuffled in the new file), both reported scores must equal scikit-learn's on exactly the
listed rows (the current model's and a Ridge refit on every other row), and a retrain on data that
holds only the current model's training rows keeps the current model and says why. Before this, the holdout was
drawn from all rows and the current model was scored on rows it was trained on."""
import json
import os
import sys

import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "matrix"))
import hfsplits  # noqa: E402  (worker/folds.c's holdout draw, row for row)
import hftest  # noqa: E402

ck = hftest.Checker("retrain_holdout")
work = hftest.tempdir("retrain-holdout-")
rng = np.random.default_rng(11)
n_old, n_new = 800, 300
X = rng.normal(size=(n_old + n_new, 5))
y = X @ [1.0, -2.0, 0.5, 0.0, 3.0] + rng.normal(size=n_old + n_new)
df = pd.DataFrame(X, columns=list("abcde"))
df["y"] = y
old_csv, new_csv = os.path.join(work, "old.csv"), os.path.join(work, "new.csv")
df.iloc[:n_old].to_csv(old_csv, index=False, float_format="%.17g")
# The new table: every old row and the new ones, shuffled.
order = rng.permutation(n_old + n_new)
new_df = df.iloc[order].reset_index(drop=True)
new_df.to_csv(new_csv, index=False, float_format="%.17g")
hftest.write(os.path.join(work, "job.yaml"), """name: rt
data: {source: %s, target: y}
cv: {folds: 3, holdout: 0.2, seed: 3}
model: {type: ridge, params: {alpha: [0.5]}}
output: {dir: out}
""" % old_csv)
hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=work)
run = os.path.join(work, "out", "rt")
ck.check(os.path.getsize(os.path.join(run, "training_rows.bin")) == 16 + 8 * 640,
         "training_rows.bin holds the 640 search rows")

# Which old rows were the current model's training rows: the run's holdout is the complement.
res = hftest.load_results(run)
ck.check(res["data"]["search_rows"] == 640 and res["data"]["holdout_rows"] == 160, "640 + 160 rows")

old_model = os.path.join(work, "old_model.h5")
with open(os.path.join(run, "model.h5"), "rb") as f, open(old_model, "wb") as g:
    g.write(f.read())
p = hftest.hyperfold(["retrain", run, "--data", new_csv], np=2, cwd=work)
rt = hftest.load_results(run)["retrain"]
hold = pd.read_csv(os.path.join(run, "retrain_holdout.csv"))["row"].to_numpy()
ck.check(len(hold) == rt["holdout"]["rows"] == 220, "holdout of 20%% of 1100 rows: %d" % len(hold))
ck.check(rt["holdout"]["new_rows"] == 300 + 160 and rt["holdout"]["rows_seen_by_current_model"] == 640,
         "460 rows the current model did not train on, 640 it did: %s" % rt["holdout"])

# The run's holdout (160 old rows, cv.holdout 0.2 seed 3 as worker/folds.c draws it) is not a
# training row of the current model, so old rows may be in the retrain holdout, but only those.
run_hold = hfsplits.holdout_rows(n_old, 0.2, 3)
ck.check(len(run_hold) == 160, "the run's holdout as hfsplits draws it: %d rows" % len(run_hold))
orig = order[hold]  # row numbers in df
old_in_hold = orig[orig < n_old]
leaked = np.setdiff1d(old_in_hold, run_hold)
ck.check(len(leaked) == 0, "the retrain holdout holds %d of the current model's training rows (%s)"
         % (len(leaked), leaked[:5]))
ck.check(len(old_in_hold) > 0, "old rows the current model did not train on are eligible too")

# Scores: both equal scikit-learn's on exactly the listed rows.
hx, hy = new_df.iloc[hold][list("abcde")].to_numpy(), new_df.iloc[hold]["y"].to_numpy()
train = np.setdiff1d(np.arange(n_old + n_new), hold)
ref = Ridge(alpha=0.5).fit(new_df.iloc[train][list("abcde")].to_numpy(), new_df.iloc[train]["y"].to_numpy())
ck.check(hftest.rel_close(rt["new_score"], r2_score(hy, ref.predict(hx)), 1e-9),
         "new model's r2 %r equals Ridge on the other rows %r" % (rt["new_score"], r2_score(hy, ref.predict(hx))))
hold_csv = os.path.join(work, "hold.csv")
new_df.iloc[hold].to_csv(hold_csv, index=False, float_format="%.17g")
hftest.hyperfold(["predict", "--model", old_model, "--input", hold_csv, "--output",
                  os.path.join(work, "old_pred.csv"), "--quiet"], np=1, cwd=work)
old_pred = pd.read_csv(os.path.join(work, "old_pred.csv"))["prediction"].to_numpy()
ck.check(hftest.rel_close(rt["previous_score"], r2_score(hy, old_pred), 1e-12),
         "current model's r2 %r is its score on the listed rows %r" % (rt["previous_score"], r2_score(hy, old_pred)))
ck.check(rt["train_rows"] == 1100 - 220, "the new model trained on every other row")

# Data that holds only rows the (new) current model was trained on: nothing to compare on; the
# current model stays, the decision is recorded, exit 0 (a periodic retrain of unchanged data).
if rt["promoted"]:
    only_seen = os.path.join(work, "seen.csv")
    new_df.iloc[train].to_csv(only_seen, index=False, float_format="%.17g")
    with open(os.path.join(run, "model.h5"), "rb") as f:
        before = f.read()
    p = hftest.hyperfold(["retrain", run, "--data", only_seen], np=1, cwd=work)
    again = hftest.load_results(run)["retrain"]
    ck.check("no row is left to compare a new model on, kept the current model" in p.stderr,
             "retrain on only training rows says so: %s" % p.stderr)
    ck.check(not again["promoted"] and "no row of the new data is new" in again["reason"]
             and again["holdout"]["rows"] == 0, "recorded as kept: %s" % again)
    with open(os.path.join(run, "model.h5"), "rb") as f:
        ck.check(f.read() == before, "model.h5 unchanged")
else:
    ck.check(False, "the retrained model (more rows) was expected to be promoted: %s" % rt)
ck.done()
