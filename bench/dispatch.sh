#!/bin/bash
# bench/dispatch.sh - what rank 0 can hand out and collect: the real scheduler (hf_sched_run) driven
# by tests/mpi/tool_sched with synthetic tasks that sleep a known time, every result appended to a
# real journal as a run does. For 2, 4, 8, 16 ranks (oversubscribed on a small machine: the tasks
# sleep, so the ranks mostly wait, but their polling shares the cores) and tasks of 0, 1, 10 and
# 100 ms (spread +-50%), with one id per message (chunk 1, the protocol before chunks) and with
# chunks (chunk 0, the default). Prints per run:
#   ranks R tasks N ms L chunk K done D wall W tasks_per_s X latency_ms Y util U
#   coordinator messages M results R per_message_us A per_result_us B send_us C recv_us D
# and then the same sweeps simulated by bench/sched_sim.py with each run's measured costs, side by
# side, then again with each run's timeline (its task lengths, workers' own time and messages' delay
# measured on it: bench/sched_sim.py worker_us, latency_us; tests/mpi/test_sched_model.py checks the
# same comparison against bands). Per-task timelines (task,worker,handed,start,seconds,received) go to $DISPATCH_OUT
# (default /tmp/hf_dispatch). About 2 minutes. DISPATCH_RANKS / DISPATCH_MS pick a subset;
# DISPATCH_TOOL runs another build's tool_sched (a before/after comparison on the same machine).
set -euo pipefail
source "$(dirname "$0")/env.sh"
TOOL=${DISPATCH_TOOL:-$BUILD/tests/mpi_tool_sched}
OUT=${DISPATCH_OUT:-/tmp/hf_dispatch}
mkdir -p "$OUT"
: > "$OUT/runs.txt"
for np in ${DISPATCH_RANKS:-2 4 8 16}; do
  for ms in ${DISPATCH_MS:-0 1 10 100}; do
    case $ms in
      0) n=20000 ;;
      1) n=$((np * 200)) ;;
      10) n=$((np * 40)) ;;
      *) n=$((np * 8)) ;;
    esac
    for chunk in 1 0; do
      mpirun -np "$np" "$TOOL" --tasks "$n" --ms "$ms" --spread 0.5 --chunk "$chunk" --check \
        --journal "$OUT/journal.jsonl" --timeline "$OUT/timeline_r${np}_ms${ms}_c${chunk}.csv" |
        tee -a "$OUT/runs.txt"
    done
  done
done
rm -f "$OUT/journal.jsonl"
echo
echo "# measured (this machine) vs simulated (bench/sched_sim.py, each run's measured costs)"
"${PYTHON:-/usr/bin/python3}" "$SRC/bench/sched_sim.py" --latency-us 1 --spread 0.5 compare \
  "$OUT/runs.txt"
echo
echo "# the same, each run simulated with its timeline's task lengths, workers' time and messages' delay"
"${PYTHON:-/usr/bin/python3}" "$SRC/bench/sched_sim.py" --latency-us 1 --spread 0.5 compare \
  --timelines "$OUT" "$OUT/runs.txt"
