#!/usr/bin/env bash
# Periodic retraining with a self-resubmitting job (docs/slurm.md): with HF_RESUBMIT_BEGIN set, a
# successful `hyperfold run` job submits the same script again to begin later as
# `hyperfold retrain RUN_DIR`, which does the same, until the chain is cancelled by name.
. "$HF_SOURCE_DIR/tests/slurm/lib.sh"
hf_e2e_setup

work=$HF_TEST_DIR/work
mkdir -p "$work" && cd "$work" || hf_fail "cd $work"
hf_make_data data.csv 800 5 4
cat >job.yaml <<'YAML'
name: chain
data:
  source: data.csv
  target: y
  task: classification
model:
  type: logistic_regression
  params:
    C: [0.1, 1.0]
output:
  dir: out
slurm:
  ntasks_per_node: 2
YAML
run_dir=$work/out/chain

first=$(HF_RESUBMIT_BEGIN=now+5 hf_submit job.yaml) || exit 1
hf_wait_state "$first" 60 COMPLETED FAILED CANCELLED
[ "$(hf_job_field "$first" JobState)" = COMPLETED ] || hf_fail "the first run ended $(hf_job_field "$first" JobState)"
hf_check_run_dir "$run_dir"
second=$(sed -n 's/.*submitted the next run as job \([0-9]*\) .*/\1/p' "$run_dir/slurm-$first.log")
[ -n "$second" ] || hf_fail "the first job did not submit the next one"
# The next job waits for its begin time, then retrains; it submits a third.
hf_wait_state "$second" 60 COMPLETED FAILED CANCELLED
[ "$(hf_job_field "$second" JobState)" = COMPLETED ] || hf_fail "the retrain job ended $(hf_job_field "$second" JobState)"
grep -q "hyperfold retrain $run_dir\$" "$run_dir/slurm-$second.log" || hf_fail "job $second did not run hyperfold retrain $run_dir"
[ "$(grep -c . "$run_dir/retrain.jsonl")" -ge 1 ] || hf_fail "no retrain was recorded in retrain.jsonl"
third=$(sed -n 's/.*submitted the next run as job \([0-9]*\) .*/\1/p' "$run_dir/slurm-$second.log")
[ -n "$third" ] || hf_fail "the retrain job did not submit the next one"
# Cancelling by name stops the chain.
scancel --name=chain
hf_wait_state "$third" 30 CANCELLED COMPLETED FAILED
sleep 2
[ -z "$(squeue -h -n chain -o %i)" ] || hf_fail "jobs named chain are still queued after scancel --name"
echo PASS
