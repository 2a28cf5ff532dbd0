#!/usr/bin/env bash
# End to end on a real Slurm cluster: `hyperfold submit` runs a sweep to completion. The job takes
# its task count and partition from the spec's slurm: section while a --time flag overrides the
# spec's time limit; the run directory gets results.json (with best.params), model.h5 and
# trials.csv, and the results equal those of a 1-rank run outside Slurm (ranks do not matter).
. "$HF_SOURCE_DIR/tests/slurm/lib.sh"
hf_e2e_setup

work=$HF_TEST_DIR/work
mkdir -p "$work" "$HF_TEST_DIR/work-ref" && cd "$work" || hf_fail "cd $work"
hf_make_data data.csv 1500 8 1
cat >job.yaml <<'YAML'
name: slurm-sweep
data:
  source: data.csv
  target: y
  task: classification
cv:
  folds: 4
  seed: 5
preprocess:
  scale: standard
model:
  type: logistic_regression
  params:
    C: {log_uniform: [1.0e-3, 1.0e2]}
search:
  strategy: random
  trials: 12
  seed: 9
objective:
  metric: log_loss
output:
  dir: out
slurm:
  partition: debug
  time: "00:20:00"
  nodes: 1
  ntasks_per_node: 2
YAML
cp -p data.csv job.yaml "$HF_TEST_DIR/work-ref/"

job=$(hf_submit job.yaml --time 00:07:00) || exit 1
[ -n "$job" ] || hf_fail "no job id printed"
[ "$(hf_job_field "$job" TimeLimit)" = 00:07:00 ] || hf_fail "--time did not override slurm.time: $(hf_job_field "$job" TimeLimit)"
[ "$(hf_job_field "$job" NumTasks)" = 2 ] || hf_fail "slurm.ntasks_per_node not used: NumTasks=$(hf_job_field "$job" NumTasks)"
[ "$(hf_job_field "$job" Partition)" = debug ] || hf_fail "slurm.partition not used"
[ "$(hf_job_field "$job" JobName)" = slurm-sweep ] || hf_fail "job name is not the spec name"
hf_wait_state "$job" 150 COMPLETED FAILED CANCELLED
[ "$(hf_job_field "$job" JobState)" = COMPLETED ] || hf_fail "job $job ended $(hf_job_field "$job" JobState) ($(hf_job_field "$job" ExitCode))"

run_dir=$work/out/slurm-sweep
hf_check_run_dir "$run_dir"
grep -q "srun --mpi=pmix $HYPERFOLD run $work/job.yaml" "$run_dir/slurm-$job.log" ||
    hf_fail "the job did not launch srun --mpi=pmix hyperfold run"
"$PYTHON" -c 'import json,sys; t=json.load(open(sys.argv[1]))["timing"]; assert t["ranks"] == 2, t' \
    "$run_dir/results.json" || hf_fail "the sweep did not run on 2 ranks"

# The same spec on one rank outside Slurm gives the same results.
(cd "$HF_TEST_DIR/work-ref" && "$HYPERFOLD" run job.yaml --quiet) || hf_fail "1-rank reference run failed"
hf_same_results "$run_dir/results.json" "$HF_TEST_DIR/work-ref/out/slurm-sweep/results.json"
echo PASS
