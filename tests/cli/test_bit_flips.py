#!/usr/bin/python3
"""Bit flips in every file a run reads back (issue 18, "keep it closed"; model.h5 has its own
test, cli.model_damage): in a shard, in manifest.json and in journal.jsonl, one bit at a time at
positions spread over the whole file (the header, the data, the checksums, line ends). Each flip
is detected or harmless: the rerun either refuses in one line (exit 2), or notices it (a damaged
manifest or shard is ingested again, a damaged journal line and the ones after it run again) and
ends with exactly the results of the undamaged run. Never a crash, a hang or other results."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("bit_flips")
work = hftest.tempdir("bitflips-")
rng = np.random.default_rng(9)
n, p = 300, 4
X = rng.normal(size=(n, p))
df = pd.DataFrame(X, columns=["x%d" % i for i in range(p)])
df["y"] = X @ rng.normal(size=p) + rng.normal(scale=0.5, size=n)
df.to_csv(os.path.join(work, "data.csv"), index=False)
SPEC = """name: b
data: {source: %s/data.csv, target: y}
cv: {folds: 3, seed: 1}
model: {type: elastic_net, params: {alpha: {log_uniform: [1.0e-3, 1.0]}, l1_ratio: [0.2, 0.8]}}
search: {strategy: random, trials: 6, seed: 4}
objective: {metric: r2}
output: {dir: out}
""" % work
ref = os.path.join(work, "ref")
os.makedirs(ref)
hftest.write(os.path.join(ref, "job.yaml"), SPEC)
hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=ref)
run_ref = os.path.join(ref, "out", "b")
expected = hftest.load_results(run_ref)
stats = {"refused": 0, "noticed": 0, "harmless": 0}

for name in ("shards/part-00000.h5", "shards/manifest.json", "journal.jsonl"):
    size = os.path.getsize(os.path.join(run_ref, name))
    positions = sorted(set([0, 1, size // 2, size - 2, size - 1] +
                           [int(x) for x in np.linspace(0, size - 1, 14)]))
    for pos in positions:
        bit = pos % 8
        what = "%s byte %d bit %d" % (name, pos, bit)
        d = os.path.join(work, "flip")
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(ref, d)
        path = os.path.join(d, "out", "b", name)
        with open(path, "r+b") as f:
            f.seek(pos)
            b = f.read(1)[0]
            f.seek(pos)
            f.write(bytes([b ^ (1 << bit)]))
        try:
            pr = hftest.hyperfold(["run", "job.yaml"], np=2, cwd=d, check=False, timeout=120)
        except subprocess.TimeoutExpired:
            ck.check(False, "%s: the rerun hung" % what)
            subprocess.run(["pkill", "-9", "-f", "hyperfold run job.yaml"])
            continue
        errors = [l for l in pr.stderr.splitlines() if l.startswith("hyperfold: error:")]
        if pr.returncode != 0:
            ck.check(pr.returncode == 2 and len(errors) == 1,
                     "%s: refused in one line with exit 2 (%d: %s)" % (what, pr.returncode,
                                                                        pr.stderr[-400:]))
            stats["refused"] += 1
            continue
        got = hftest.load_results(os.path.join(d, "out", "b"))
        ck.check(hftest.same_trials(got, expected) and got["best"] == expected["best"],
                 "%s: the rerun's results equal the undamaged run's" % what)
        noticed = "ingesting again" in pr.stderr or "damaged line" in pr.stderr or \
            "ingested" in pr.stderr
        stats["noticed" if noticed else "harmless"] += 1
print("bit flips: %s" % stats)
ck.check(stats["noticed"] > 0, "some flips were noticed and repaired (%s)" % stats)
ck.done()
