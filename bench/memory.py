#!/usr/bin/python3
"""bench/memory.py - bench/memory.sh's helper.

  memory.py gen ROWS COLS CSV          a regression table of ROWS x COLS numeric features (integers,
                                       short to write and to parse) and a target y
  memory.py run NP DIR [ARGS...]       runs `mpirun -np NP hyperfold run ./job.yaml ARGS` in DIR and
                                       samples every rank's memory while it runs (every 0.05 s;
                                       each task waits 200 ms):
                                       prints one JSON line with the peaks over the samples of the
                                       ranks' summed RSS and summed PSS (/proc/PID/smaps_rollup, in
                                       bytes) and of the largest single rank's RSS, during the
                                       sweep (from the run's "N trials x K splits" line to its last
                                       "tasks T/T" line: the table and the tasks) and over the
                                       whole run (*_all: rank 0's refit, out-of-fold predictions
                                       and report after the sweep too), MemAvailable before the
                                       run and its lowest value during the sweep, and the wall time
"""
import json
import os
import re
import subprocess
import sys
import threading
import time

import numpy as np


def gen(rows, cols, path):
    rng = np.random.default_rng(7)
    w = rng.normal(size=cols)
    chunk = 100000
    with open(path + ".tmp", "w") as f:
        f.write(",".join(["x%d" % j for j in range(cols)] + ["y"]) + "\n")
        for lo in range(0, rows, chunk):
            n = min(chunk, rows - lo)
            X = rng.integers(0, 1000, size=(n, cols))
            y = (X @ w / 100.0 + rng.normal(size=n)).round(3)
            # One format per row through numpy's text writer: ints, then the target.
            np.savetxt(f, np.column_stack([X, y]), fmt=["%d"] * cols + ["%.3f"], delimiter=",")
    os.replace(path + ".tmp", path)


def children(pid):
    """Every descendant of pid (through /proc/PID/task/*/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            for t in os.listdir("/proc/%d/task" % p):
                with open("/proc/%d/task/%s/children" % (p, t)) as f:
                    for c in f.read().split():
                        out.append(int(c))
                        todo.append(int(c))
        except OSError:
            pass
    return out


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


def rollup(pid):
    """(Rss, Pss) of pid in bytes, or None once it is gone."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            v = {}
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0] in ("Rss:", "Pss:"):
                    v[parts[0]] = int(parts[1]) * 1024
            return v.get("Rss:", 0), v.get("Pss:", 0)
    except OSError:
        return None


def mem_available():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def run(np_, d, args):
    avail0 = mem_available()
    t0 = time.time()
    # Every task waits 200 ms (the test hook, docs/architecture.md) so that even the tiny table's
    # sweep lasts long enough to be sampled.
    env = dict(os.environ, HF_TEST_TASK_DELAY_MS="200")
    # "./job.yaml": tests/cli/test_resume.py signals every `hyperfold run job.yaml` on the machine
    # (pkill -f), which would interrupt a benchmark run beside it.
    p = subprocess.Popen(["mpirun", "--oversubscribe", "-np", str(np_), "-x",
                          "HF_TEST_TASK_DELAY_MS", os.environ["HYPERFOLD"], "run", "./job.yaml"] +
                         args, cwd=d, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True)
    phase = {"sweep": False, "done": False}
    err = []

    def read_stderr():
        for line in p.stderr:
            err.append(line)
            if re.search(r"\d+ trials x \d+ splits", line):
                phase["sweep"] = True
            m = re.search(r"tasks (\d+)/(\d+)", line)
            if m and m.group(1) == m.group(2):
                phase["done"] = True

    reader = threading.Thread(target=read_stderr)
    reader.start()
    peak = {k: 0 for k in ("rss_sum", "pss_sum", "rss_max", "rss_sum_all", "pss_sum_all",
                           "rss_max_all", "ranks_seen")}
    avail_min = avail0
    while p.poll() is None:
        ranks = [c for c in children(p.pid) if comm(c) == "hyperfold"]
        rs = [r for r in (rollup(c) for c in ranks) if r]
        in_sweep = phase["sweep"] and not phase["done"]
        if rs:
            v = {"rss_sum": sum(r[0] for r in rs), "pss_sum": sum(r[1] for r in rs),
                 "rss_max": max(r[0] for r in rs)}
            for k, x in v.items():
                peak[k + "_all"] = max(peak[k + "_all"], x)
                if in_sweep:
                    peak[k] = max(peak[k], x)
            peak["ranks_seen"] = max(peak["ranks_seen"], len(rs))
        if in_sweep:
            avail_min = min(avail_min, mem_available())
        time.sleep(0.05)
    p.wait()
    reader.join()
    err = "".join(err)
    if p.returncode != 0:
        sys.stderr.write("hyperfold run failed (%d):\n%s\n" % (p.returncode, err[-2000:]))
        sys.exit(1)
    peak.update(avail_before=avail0, avail_min=avail_min, wall=time.time() - t0,
                shared_line="one copy shared" in err, private_line="shared_table is false" in err)
    print(json.dumps(peak))


if __name__ == "__main__":
    if len(sys.argv) >= 5 and sys.argv[1] == "gen":
        gen(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    elif len(sys.argv) >= 4 and sys.argv[1] == "run":
        run(int(sys.argv[2]), sys.argv[3], sys.argv[4:])
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)
