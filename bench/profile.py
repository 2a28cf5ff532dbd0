#!/usr/bin/python3
"""bench/profile.py - where the time of the ridge and logistic sweeps of bench/run.sh goes.

Runs each sweep (the same data and job spec as the benchmark, shards already ingested) under
`mpirun -np 2 perf record` (one perf.data per rank) and prints the functions with the most samples
(self time, all ranks together), grouped by library. Needs `perf` (Debian: linux-perf) and a
kernel that allows it (`perf stat -e instructions true` works). Environment as for bench/run.sh
(BENCH_QUICK, BENCH_DIR); PROFILE_TOP=N rows per sweep (default 15)."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

TOP = int(os.environ.get("PROFILE_TOP", "15"))


def perf_top(files):
    """(percent, dso, symbol) of the hottest symbols over all files, merged by sample counts."""
    counts = {}
    total = 0
    for f in files:
        p = subprocess.run(["perf", "report", "-i", f, "--stdio", "--no-children", "-n",
                            "--sort", "dso,symbol", "-g", "none", "--percent-limit", "0"],
                           capture_output=True, text=True)
        for line in p.stdout.splitlines():
            m = re.match(r"\s*([0-9.]+)%\s+(\d+)\s+(\S+)\s+\[[.k]\]\s+(.*)$", line)
            if m:
                sym = re.sub(r"(\s+-)+\s*$", "", m.group(4)).strip()
                if re.match(r"0x[0-9a-f]+$", sym):
                    sym = "(no symbol: stripped code of %s)" % m.group(3)
                key = (m.group(3), sym)
                counts[key] = counts.get(key, 0) + int(m.group(2))
                total += int(m.group(2))
    rows = sorted(counts.items(), key=lambda kv: -kv[1])
    return [(100.0 * c / max(total, 1), dso, sym) for (dso, sym), c in rows], total


def main():
    bench.ONLY[:] = ["ridge", "logistic"]
    bench.snapshot_binary()
    data = bench.ensure_data()
    for key in ("ridge", "logistic"):
        work = os.path.join(bench.SCRATCH, "profile_" + key)
        spec = bench.sweep_spec(key, data[key], work)
        bench.run_hyperfold(spec, 2, work, args=("--fresh", "--quiet"))  # ingest once
        for f in os.listdir(work):
            if f.startswith("perf.") and f.endswith(".data"):
                os.unlink(os.path.join(work, f))
        cmd = ["mpirun", "-np", "2", "sh", "-c",
               'exec perf record -q -F 1999 -o "perf.$OMPI_COMM_WORLD_RANK.data" -- "$0" "$@"',
               bench.HYPERFOLD, "run", spec, "--fresh", "--quiet"]
        p = subprocess.run(cmd, cwd=work, env=bench.hf_env(), capture_output=True, text=True)
        if p.returncode != 0:
            sys.stderr.write("profile: %s failed (%d)\n%s\n" % (" ".join(cmd), p.returncode,
                                                                 p.stderr))
            raise SystemExit(1)
        files = [os.path.join(work, f) for f in sorted(os.listdir(work))
                 if f.startswith("perf.") and f.endswith(".data")]
        rows, total = perf_top(files)
        by_dso = {}
        for pct, dso, _ in rows:
            by_dso[dso] = by_dso.get(dso, 0.0) + pct
        print("\n## %s sweep (%d samples, 2 ranks)\n" % (key, total))
        print("by library: " + ", ".join("%s %.1f%%" % (d, v) for d, v in
                                         sorted(by_dso.items(), key=lambda kv: -kv[1])[:8]))
        print("\n| self % | library | function |")
        print("|---:|---|---|")
        for pct, dso, sym in rows[:TOP]:
            print("| %.1f | %s | `%s` |" % (pct, dso, sym))


if __name__ == "__main__":
    main()
