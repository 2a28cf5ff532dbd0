#!/usr/bin/python3
"""The Wilcoxon signed-rank p-values behind search.pruner (jobs/prune.c) against scipy 1.10's
scipy.stats.wilcoxon(d, alternative, zero_method="zsplit") on 3,000 difference vectors: 1 to 60
differences (exact up to 50 without zeros, the normal approximation beyond and with zeros), with
ties, zeros, all of one sign, both alternatives; to 1e-12. And the pruning rule on fold scores:
prune exactly when n >= startup, p < threshold and the trial's mean is worse than the best's, for
both directions; the fewest folds at which 5-fold cross-validation can prune (4 at p 0.1)."""
import json
import os
import subprocess
import sys
import warnings

import numpy as np
from scipy import stats

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("prune_scipy")
TOOL = os.path.join(os.environ.get("HF_BUILD_DIR", "build"), "tests", "peer_tool_prune")
rng = np.random.default_rng(12)
cases, want = [], []
warnings.simplefilter("ignore")
for i in range(3000):
    n = int(rng.integers(1, 61))
    kind = i % 5
    if kind == 0:
        d = rng.normal(size=n)
    elif kind == 1:  # ties
        d = rng.integers(-4, 5, size=n).astype(float) + 0.5
    elif kind == 2:  # zeros and ties
        d = rng.integers(-3, 4, size=n).astype(float)
        if not np.any(d):
            d[0] = 1.0
    elif kind == 3:  # one sign
        d = -np.abs(rng.normal(size=n)) - 1e-3
    else:  # fold-score-like differences
        d = rng.normal(-0.01, 0.02, size=n)
    less = bool(i % 2)
    if np.all(d == 0):
        continue
    cases.append({"d": [float(x) for x in d], "less": less})
    want.append(float(stats.wilcoxon(d, alternative="less" if less else "greater",
                                      zero_method="zsplit").pvalue))
out = subprocess.run([TOOL], input=json.dumps(cases), capture_output=True, text=True)
if ck.check(out.returncode == 0, "tool_prune ran: %s" % out.stderr):
    got = json.loads(out.stdout)
    bad = [(i, g, w) for i, (g, w) in enumerate(zip(got, want))
           if abs(g - w) > 1e-12 * max(1.0, abs(w))]
    ck.check(not bad, "p-values equal scipy's for %d cases (first differences: %s)" % (
        len(cases), [(len(cases[i]["d"]), g, w) for i, g, w in bad[:3]]))

# The rule.
cases, want = [], []
for i in range(500):
    n = int(rng.integers(1, 16))
    best = rng.uniform(0.7, 0.9, size=n)
    trial = best + rng.normal(-0.02, 0.02, size=n)
    greater = bool(i % 2)
    if not greater:
        trial, best = -trial, -best
    startup = int(rng.integers(1, 4))
    p = float(rng.choice([0.05, 0.1, 0.2]))
    pv = stats.wilcoxon(trial - best, alternative="less" if greater else "greater",
                        zero_method="zsplit").pvalue
    worse = trial.mean() < best.mean() if greater else trial.mean() > best.mean()
    want.append(int(n >= startup and pv < p and worse))
    cases.append({"trial": list(map(float, trial)), "best": list(map(float, best)),
                  "greater": greater, "startup": startup, "p": p})
out = subprocess.run([TOOL], input=json.dumps(cases), capture_output=True, text=True)
got = json.loads(out.stdout)
ck.check(got == want, "pruning decisions: %d of %d as the rule says (%d prune)" % (
    sum(a == b for a, b in zip(got, want)), len(want), sum(want)))
# At p 0.1 with 5 folds only the fifth fold can be saved: 3 worse folds give p = 1/8.
three = stats.wilcoxon([-0.1, -0.2, -0.3], alternative="less").pvalue
four = stats.wilcoxon([-0.1, -0.2, -0.3, -0.4], alternative="less").pvalue
ck.check(three == 0.125 and four == 0.0625, "scipy: 3 folds p %g, 4 folds p %g" % (three, four))
ck.done()
