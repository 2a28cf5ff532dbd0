#!/usr/bin/python3
"""A full file system at every write stage (issue 18, items 1, 6, 14, 15): a run whose output
directory is a small tmpfs, with the free space set by a filler file to every level from nothing
to just enough (4 KiB apart around the run's outputs), at 1 and 2 ranks. Each run either succeeds
with every output, or fails in one line naming the file and ENOSPC, with the same exit code on
every rank (mpirun's), without hanging, leaving no temporary file and nothing that claims success
(no results.json without model.h5, no job.yaml, results.json and model.h5 of different runs);
then, with the space back, the same command finishes with the results of an unconstrained run.
Needs root (mount)."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("disk_full")
work = hftest.tempdir("diskfull-")
rng = np.random.default_rng(5)
n, p = 3000, 4
X = rng.normal(size=(n, p))
df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
df["y"] = 2 * X[:, 0] + rng.normal(scale=0.1, size=n)
df.to_csv(os.path.join(work, "data.csv"), index=False, float_format="%.6f")
mnt = os.path.join(work, "mnt")
os.makedirs(mnt)
SPEC = """name: full
data: {source: %s/data.csv, target: y}
cv: {folds: 3}
model: {type: ridge, params: {alpha: [0.1, 1.0]}}
output: {dir: %s}
""" % (work, mnt)
hftest.write(os.path.join(work, "job.yaml"), SPEC)
r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt], capture_output=True, text=True)
if r.returncode != 0:
    print("disk_full: cannot mount a tmpfs (%s): this test needs root" % r.stderr.strip())
    sys.exit(1)
try:
    # The reference: the run with room to spare, and how much it writes.
    ref = hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=work)
    run = os.path.join(mnt, "full")
    expected = hftest.comparable(hftest.load_results(run))
    st = os.statvfs(mnt)
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    # The shards' size: the journal is written right after them, in a window of a page or two,
    # which the coarse steps below half the outputs' size may miss (oof.csv and results.json's
    # evaluation made the second half large): 4 KiB steps around it.
    early = sum(os.stat(os.path.join(dp, f)).st_blocks * 512
                for dp, _, fs in os.walk(os.path.join(run, "shards")) for f in fs)
    subprocess.run(["rm", "-rf", run], check=True)
    st = os.statvfs(mnt)
    free0 = st.f_bavail * st.f_frsize
    levels = list(range(0, used // 2, 48 << 10)) + list(range(used // 2, used + (16 << 10), 8 << 10))
    levels = sorted(set(levels) | set(range(max(early - (8 << 10), 0), early + (24 << 10), 4 << 10)))
    stages = set()
    for np_ in (1, 2):
        for level in levels:
            filler = os.path.join(mnt, "filler")
            with open(filler, "wb") as f:
                os.posix_fallocate(f.fileno(), 0, max(free0 - level, 1))
            try:
                pr = hftest.hyperfold(["run", "job.yaml", "--quiet"], np=np_, cwd=work, check=False,
                                      timeout=120)
            except subprocess.TimeoutExpired:
                ck.check(False, "np %d, %d bytes free: the run hung" % (np_, level))
                subprocess.run(["pkill", "-9", "-f", "hyperfold run job.yaml"])
                os.unlink(filler)
                continue
            what = "np %d, %d bytes free" % (np_, level)
            errors = [l for l in pr.stderr.splitlines() if l.startswith("hyperfold: error:")]
            files = os.listdir(run) if os.path.isdir(run) else []
            shards = os.listdir(os.path.join(run, "shards")) if "shards" in files else []
            temps = [f for f in files + shards if ".tmp" in f]
            ck.check(not temps, "%s: no temporary file left (%s)" % (what, temps))
            if pr.returncode == 0:
                ck.check({"results.json", "model.h5", "job.yaml", "trials.csv"} <= set(files),
                         "%s: a successful run has every output (%s)" % (what, files))
            else:
                ck.check(pr.returncode == 1, "%s: exit code 1 (got %d)" % (what, pr.returncode))
                ck.check(len(errors) == 1 and "No space left on device (ENOSPC)" in errors[0],
                         "%s: one line naming ENOSPC: %s" % (what, pr.stderr.strip()[:600]))
                ck.check(not [l for l in pr.stderr.splitlines() if "HDF5" in l and "DIAG" in l],
                         "%s: no HDF5 error stack" % what)
                ck.check("results.json" not in files,
                         "%s: a failed run claims no success (%s)" % (what, files))
                if errors:
                    m = re.search(r"(shards|journal|model|results|trials|training_rows|manifest|job)",
                                  errors[0])
                    stages.add(m.group(1) if m else errors[0])
            os.unlink(filler)
            # With the space back, the same command finishes with the reference's results.
            hftest.hyperfold(["run", "job.yaml", "--quiet"], np=np_, cwd=work)
            got = hftest.comparable(hftest.load_results(run))
            ck.check(hftest.same_trials(got, expected) and got["best"] == expected["best"],
                     "%s: the rerun's results equal the reference" % what)
            subprocess.run(["rm", "-rf", run], check=True)
    print("stages that met a full disk: %s" % sorted(stages))
    ck.check({"shards", "journal", "model"} <= stages,
             "the levels reached the shards, the journal and the model (%s)" % sorted(stages))
finally:
    subprocess.run(["umount", "-l", mnt])
ck.done()
