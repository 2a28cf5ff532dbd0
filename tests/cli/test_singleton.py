#!/usr/bin/python3
"""A command started without mpirun (an MPI singleton: validate, predict, describe, a 1-rank run) starts
no Open MPI daemon (common/comm.c sets OMPI_MCA_ess_singleton_isolated=1 unless the user set it).
Open MPI 4.1's singleton otherwise starts `orted` and, at MPI_Finalize, now and then calls into a
component it has already unloaded: a SIGSEGV after the command's work was done (seen in
serve.lifecycle's predict, in cli.torture's predict runs and in a bare MPI_Init/MPI_Finalize loop).

How it is checked: the daemon inherits the singleton's environment, so a marker variable given to
a 1-rank `hyperfold run` (its tasks slowed by HF_TEST_TASK_DELAY_MS, so it is still running when
looked at) shows up in another process's /proc/PID/environ exactly when a daemon was started. With the user's own OMPI_MCA_ess_singleton_isolated=0 the daemon must appear (the check
can fail, and the user's setting wins); without it, none. Then `predict` as a singleton, 10
times: every run exits 0 with the same predictions."""
import os
import re
import subprocess
import sys
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("singleton")
work = hftest.tempdir("singleton-")
hftest.write(os.path.join(work, "data.csv"), "a,b,y\n" + "".join(
    "%d,%d,%d\n" % (i, (i * 7) % 11, 3 * i - (i * 7) % 11) for i in range(40)))
hftest.write(os.path.join(work, "new.csv"), "a,b\n1,2\n3,4\n")
hftest.write(os.path.join(work, "job.yaml"), """name: s
data: {source: data.csv, target: y}
cv: {folds: 3, seed: 1}
model: {type: ridge, params: {alpha: [1.0]}}
objective: {metric: r2}
output: {dir: out}
""")
hftest.hyperfold(["run", "job.yaml", "--quiet"], cwd=work)
model = os.path.join(work, "out", "s", "model.h5")


def holders(marker, me):
    """PIDs other than `me` whose environment holds marker."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        try:
            with open("/proc/%s/environ" % d, "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(d))
        except OSError:
            pass
    return found


def daemons_of_run(extra):
    marker = "HF_SINGLETON_MARK=%s" % uuid.uuid4().hex
    e = hftest.env()
    e.pop("OMPI_MCA_ess_singleton_isolated", None)
    e.update(extra)
    e["HF_SINGLETON_MARK"] = marker.split("=", 1)[1]
    e["HF_TEST_TASK_DELAY_MS"] = "1500"
    p = subprocess.Popen([hftest.HYPERFOLD, "run", "job.yaml", "--fresh"], cwd=work, env=e,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    # The sweep's line comes after MPI_Init: a daemon, if any, was started before it.
    seen = []
    for line in p.stderr:
        seen.append(line)
        if re.search(r"\d+ trials x \d+ splits", line):
            break
    found = holders(marker, p.pid)
    seen.append(p.stderr.read())
    try:
        rc = p.wait(120)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = None
    return found, rc, "".join(seen)[-300:]


found, rc, err = daemons_of_run({"OMPI_MCA_ess_singleton_isolated": "0"})
ck.check(rc == 0, "run with the user's ess_singleton_isolated=0 exited 0 (rc %r): %s" % (rc, err))
ck.check(len(found) >= 1, "with the user's ess_singleton_isolated=0 Open MPI started its daemon "
         "(processes with the marker: %r)" % found)
found, rc, err = daemons_of_run({})
ck.check(rc == 0, "run exited 0 (rc %r): %s" % (rc, err))
ck.check(found == [], "no daemon was started by the singleton (processes with the marker: %r)"
         % found)

want = None
for i in range(10):
    out = os.path.join(work, "pred-%d.csv" % i)
    p = subprocess.run([hftest.HYPERFOLD, "predict", "--model", model, "--input", "new.csv",
                        "--output", out, "--quiet"], cwd=work, env=hftest.env(),
                       capture_output=True, text=True, timeout=120)
    got = open(out).read() if p.returncode == 0 else None
    want = want or got
    ck.check(p.returncode == 0 and got == want, "predict run %d: exit %d, %s" % (
        i, p.returncode, p.stderr[-300:]))
ck.done()
