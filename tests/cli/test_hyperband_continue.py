#!/usr/bin/python3
"""A promotion continues a booster (xgboost under search.strategy hyperband and asha): every rank
logs how many fits continued a kept booster; at 1 and 2 ranks, with row sampling and with early
stopping, some fits continue, and the study is the one with continuation off
(HF_XGB_NO_CONTINUE=1): Hyperband's results.json trials identical (parameters, per-split scores,
n_iter, best), ASHA's (whose trials depend on timing) every trial that both runs made scores
the same on every split."""
import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("hyperband_continue")
work = hftest.tempdir("hbcont-")
hftest.interaction_table(os.path.join(work, "data.csv"), 5)

HEAD = """name: study
data: {source: %s/data.csv, target: y}
cv: {strategy: stratified, folds: 3, seed: 1}
objective: {metric: log_loss, report: [accuracy]}
output: {dir: out}
""" % work
MODELS = {
    "sampling": """model:
  type: xgboost
  params:
    n_estimators: 27
    learning_rate: {log_uniform: [0.02, 0.5]}
    max_depth: {int_uniform: [2, 6]}
    subsample: {uniform: [0.6, 1]}
    n_jobs: 1
""",
    "early_stopping": """model:
  type: xgboost
  params:
    n_estimators: 27
    learning_rate: {log_uniform: [0.05, 0.8]}
    max_depth: {int_uniform: [2, 6]}
    early_stopping_rounds: 2
    n_jobs: 1
"""}
SEARCH = {"hyperband": "{strategy: hyperband, seed: 4, min_resource: 1}",
          "asha": "{strategy: asha, seed: 6, trials: 31, eta: 3, min_resource: 1}"}
LINE = re.compile(r"xgboost: (\d+) fits continued earlier work \((\d+) n_estimators not redone\)")


def run(name, model, search, np_, off):
    d = os.path.join(work, name)
    os.makedirs(d)
    hftest.write(os.path.join(d, "job.yaml"), HEAD + MODELS[model] + "search: %s\n" % SEARCH[search])
    if off:
        os.environ["HF_XGB_NO_CONTINUE"] = "1"
    try:
        p = hftest.hyperfold(["run", "job.yaml"], np=np_, cwd=d)
    finally:
        os.environ.pop("HF_XGB_NO_CONTINUE", None)
    counts = [(int(a), int(b)) for a, b in LINE.findall(p.stderr)]
    return hftest.load_results(os.path.join(d, "out", "study")), counts


def by_params(r):
    return {json.dumps(t["params"], sort_keys=True): t for t in r["trials"]}


for search in ("hyperband", "asha"):
    for model in MODELS:
        for np_ in (1, 2):
            tag = "%s, %s, %d rank(s)" % (search, model, np_)
            on, c_on = run("%s-%s-np%d" % (search, model, np_), model, search, np_, False)
            off, c_off = run("%s-%s-np%d-off" % (search, model, np_), model, search, np_, True)
            fits = sum(a for a, _ in c_on)
            ck.check(len(c_on) == np_ and fits > 0 and all(b >= a for a, b in c_on),
                     "%s: every rank logs its continued fits (%s), some continued" % (tag, c_on))
            ck.check(len(c_off) == np_ and all(a == 0 and b == 0 for a, b in c_off),
                     "%s: HF_XGB_NO_CONTINUE=1 continues none (%s)" % (tag, c_off))
            if search == "hyperband":
                ck.check(hftest.same_trials(on, off) and on["best"] == off["best"],
                         "%s: the study equals the one with continuation off" % tag)
            else:
                a, b = by_params(on), by_params(off)
                common = [k for k in a if k in b]
                same = all(a[k]["fold_scores"] == b[k]["fold_scores"] and
                           a[k]["n_iter"] == b[k]["n_iter"] for k in common)
                promoted = sum(1 for k in common if json.loads(k)["n_estimators"] > 1)
                ck.check(same and len(common) >= on["n_trials"] // 2 and promoted > 0,
                         "%s: the %d trials both runs made (%d promoted) score the same" % (
                             tag, len(common), promoted))
ck.done()
