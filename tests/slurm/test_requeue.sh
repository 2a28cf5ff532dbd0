#!/usr/bin/env bash
# End to end on a real Slurm cluster: a sweep submitted with `hyperfold submit` and signalled in
# the middle the way Slurm does before the time limit (SIGUSR1 to the batch shell, from
# --signal=B:USR1@N; here `scancel --batch --signal=USR1`) stops with exit code 3, requeues itself,
# resumes from its journal and finishes with the same results.json as an uninterrupted run; the
# journal holds every task exactly once.
. "$HF_SOURCE_DIR/tests/slurm/lib.sh"
hf_e2e_setup

work=$HF_TEST_DIR/work
ref=$HF_TEST_DIR/work-ref
mkdir -p "$work" "$ref" && cd "$work" || hf_fail "cd $work"
hf_make_data data.csv 10000 20 2
cat >job.yaml <<'YAML'
name: slurm-requeue
data:
  source: data.csv
  target: y
  task: classification
cv:
  folds: 5
  seed: 3
preprocess:
  scale: standard
model:
  type: logistic_regression
  params:
    C: {log_uniform: [1.0e-4, 1.0e2]}
    # differing in more than C, every trial is its own task (many small tasks to interrupt)
    tol: {log_uniform: [1.0e-5, 1.0e-3]}
    max_iter: 500
search:
  strategy: random
  trials: 200
  seed: 11
objective:
  metric: log_loss
output:
  dir: out
slurm:
  nodes: 1
  ntasks_per_node: 2
YAML
cp -p data.csv job.yaml "$ref/"

# The uninterrupted reference, outside Slurm.
(cd "$ref" && mpirun -np 2 "$HYPERFOLD" run job.yaml --quiet) || hf_fail "reference run failed"

run_dir=$work/out/slurm-requeue
job=$(hf_submit job.yaml) || exit 1
hf_wait_lines "$run_dir/journal.jsonl" 100 120
scancel --batch --signal=USR1 "$job" || hf_fail "scancel --signal=USR1 $job"
hf_wait_state "$job" 170 COMPLETED FAILED CANCELLED
log=$run_dir/slurm-$job.log
[ "$(hf_job_field "$job" JobState)" = COMPLETED ] || hf_fail "job $job ended $(hf_job_field "$job" JobState) ($(hf_job_field "$job" ExitCode))"
[ "$(hf_job_field "$job" Restarts)" = 1 ] ||
    hf_fail "job $job restarted $(hf_job_field "$job" Restarts) times, expected 1 (did it finish before the signal?)"
grep -q "hyperfold was interrupted (exit 3)" "$log" || hf_fail "hyperfold run did not exit 3 on SIGUSR1"
grep -q "requeued job $job" "$log" || hf_fail "the job did not requeue itself"

hf_check_run_dir "$run_dir"
hf_check_journal "$run_dir/journal.jsonl"
"$PYTHON" -c 'import json,sys; t=json.load(open(sys.argv[1]))["timing"]; assert t["resumed_tasks"] > 0, t' \
    "$run_dir/results.json" || hf_fail "the second attempt did not resume from the journal"
hf_same_results "$run_dir/results.json" "$ref/out/slurm-requeue/results.json"
echo PASS
