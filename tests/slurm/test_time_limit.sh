#!/usr/bin/env bash
# End to end on a real Slurm cluster, with each launcher (srun, mpirun): a sweep submitted with a
# 1-minute time limit and `--signal-time 50` gets the time limit's warning (SIGUSR1 to the batch
# shell from --signal=B:USR1@50), checkpoints, exits 3, requeues itself, resumes from its journal
# and ends COMPLETED with the results.json of an uninterrupted run.
. "$HF_SOURCE_DIR/tests/slurm/lib.sh"
hf_e2e_setup
hf_preempt_setup slurm-time-limit
# 180 tasks of 450 ms on 2 ranks: about 40 s uninterrupted, longer than the up to 30 s slurmctld
# takes to notice that the warning is due.
export HF_TEST_TASK_DELAY_MS=450
for launcher in srun mpirun; do
    hf_preempt_case "$launcher" time-limit
done
echo PASS
