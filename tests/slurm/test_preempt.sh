#!/usr/bin/env bash
# End to end on a real Slurm cluster, with each launcher (srun, mpirun): a running sweep stopped
# by SIGTERM - `scancel --batch --signal=TERM` (the batch shell only, as an administrator's or a
# preemption's signal) and `scancel --full --signal=TERM` (every process of the batch step and of
# the job step) - checkpoints, exits 3, requeues itself, resumes from its journal and ends
# COMPLETED with the results.json of an uninterrupted run (docs/slurm.md, "Signals").
. "$HF_SOURCE_DIR/tests/slurm/lib.sh"
hf_e2e_setup
hf_preempt_setup slurm-preempt
# 180 tasks of 100 ms on 2 ranks: about 9 s uninterrupted.
export HF_TEST_TASK_DELAY_MS=100
for launcher in srun mpirun; do
    for how in batch-term full-term; do
        hf_preempt_case "$launcher" "$how"
    done
done
echo PASS
