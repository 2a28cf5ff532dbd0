#!/usr/bin/env bash
# The scheduler with chunks (hf_sched_opts.max_chunk 0) and with one id per message (1) at 1 to 6
# ranks, tasks of uneven lengths (0.1 to 1.9 ms, so chunks are used and shrink at the end): every
# task reported exactly once with its own score or its failure (every 7th trial fails), each
# result as rank 0 decodes it equal bit for bit to what its JSON line reads back as (tool_sched
# --check), the timeline read back here, fewer messages with chunks; and a stop request: the sweep says it was interrupted, no task
# is reported twice, and the tasks already handed out are finished.
set -euo pipefail
: "${HF_BUILD_DIR:?}" "${PYTHON:?}"
TOOL="$HF_BUILD_DIR/tests/mpi_tool_sched"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hf_sched.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
N=500
for np in 1 2 3 4 5 6; do
  for chunk in 0 1; do
    mpirun --oversubscribe -np "$np" "$TOOL" --tasks $N --ms 1 --spread 0.9 --chunk $chunk --check \
      --fail-every 7 --timeline "$WORK/t_${np}_${chunk}.csv" > "$WORK/out_${np}_${chunk}.txt"
    cat "$WORK/out_${np}_${chunk}.txt"
  done
  for stop in 37 260; do
    mpirun --oversubscribe -np "$np" "$TOOL" --tasks $N --ms 1 --spread 0.9 --check \
      --stop-after $stop --timeline "$WORK/s_${np}_${stop}.csv" > "$WORK/stop_${np}_${stop}.txt"
    cat "$WORK/stop_${np}_${stop}.txt"
  done
done
"$PYTHON" - "$WORK" $N <<'PY'
import csv, glob, os, re, sys
work, n = sys.argv[1], int(sys.argv[2])
bad = []
def rows(path):
    return list(csv.DictReader(open(path)))
def summary(path):
    text = open(path).read()
    kv = dict(zip(text.split()[0::2], text.split()[1::2]))
    msgs = int(re.search(r"coordinator messages (\d+)", text).group(1))
    return kv, msgs
for np_ in range(1, 7):
    msgs = {}
    for chunk in (0, 1):
        r = rows(f"{work}/t_{np_}_{chunk}.csv")
        ids = sorted(int(x["task"]) for x in r)
        if ids != list(range(n)):
            bad.append(f"np {np_} chunk {chunk}: tasks reported {len(ids)}, distinct "
                       f"{len(set(ids))}, expected each of {n} once")
        if any(not 0 <= int(x["worker"]) < np_ for x in r):
            bad.append(f"np {np_} chunk {chunk}: a worker outside 0..{np_ - 1}")
        if any(float(x["received"]) + 1e-6 < float(x["handed"]) for x in r):
            bad.append(f"np {np_} chunk {chunk}: a result before its hand-out")
        msgs[chunk] = summary(f"{work}/out_{np_}_{chunk}.txt")[1]
    if np_ >= 3 and not msgs[0] < 0.75 * msgs[1]:
        bad.append(f"np {np_}: {msgs[0]} messages with chunks, {msgs[1]} with one id per message")
    for stop in (37, 260):
        kv, _ = summary(f"{work}/stop_{np_}_{stop}.txt")
        r = rows(f"{work}/s_{np_}_{stop}.csv")
        ids = [int(x["task"]) for x in r]
        if len(ids) != len(set(ids)) or len(ids) != int(kv["done"]):
            bad.append(f"np {np_} stop {stop}: {len(ids)} rows, {len(set(ids))} distinct, "
                       f"done {kv['done']}")
        if not stop <= len(ids) < n:
            bad.append(f"np {np_} stop {stop}: {len(ids)} tasks ran, expected {stop}..{n - 1}")
for b in bad:
    print("FAIL:", b)
sys.exit(1 if bad else 0)
PY
echo ok
