#!/usr/bin/env bash
# The batch script's machinery on a real Slurm cluster, with a stand-in for `hyperfold run` (so it
# does not depend on the coordinator): `hyperfold submit` submits; SIGUSR1 sent to the batch shell
# (what --signal=B:USR1@N does before the time limit) reaches every task through srun, the job
# requeues itself on exit code 3 and resumes from the journal without redoing a task; a user's
# scancel is not undone by a requeue; other exit codes pass through; the mpirun launcher works;
# sbatch refusing the job or missing is one clear line and exit code 1.
. "$HF_SOURCE_DIR/tests/slurm/lib.sh"
hf_test_setup
hf_need_submit

work=$HF_TEST_DIR/work
mkdir -p "$work" && cd "$work" || hf_fail "cd $work"
cat >job.yaml <<'EOF'
name: stub-sweep
data:
  source: data.csv
  target: y
model:
  type: ridge
  params:
    alpha: [0.1, 1.0]
output:
  dir: out
slurm:
  nodes: 1
  ntasks_per_node: 2
EOF

# The stand-in: every rank checks the command line; rank 0 "runs" STUB_TASKS tasks of 0.1 s,
# appending one journal line per task and skipping the tasks already journaled; SIGUSR1/SIGTERM
# make it finish the current task and exit 3, like hyperfold run.
cat >stub-hyperfold <<'EOF'
#!/usr/bin/env bash
rank=${OMPI_COMM_WORLD_RANK:-${PMIX_RANK:-${SLURM_PROCID:-0}}}
run_dir=$PWD/out/stub-sweep
stop=
trap 'stop=1' USR1 TERM
echo "stub rank $rank: $* yield=${OMPI_MCA_mpi_yield_when_idle:-unset} blas=${OPENBLAS_NUM_THREADS:-unset}" >&2
[ "$1" = run ] && [ "$2" = "$STUB_SPEC" ] || { echo "stub: bad command line: $*" >&2; exit 9; }
mkdir -p "$run_dir"
if [ "$rank" != 0 ]; then
    while [ ! -e "$run_dir/finished" ] && [ -z "$stop" ]; do sleep 0.05; done
    [ -n "$stop" ] && exit 3
    exit 0
fi
touch "$run_dir/journal.jsonl"
for ((t = 0; t < STUB_TASKS; t++)); do
    grep -qx "{\"task\":$t}" "$run_dir/journal.jsonl" && continue
    if [ -n "$stop" ]; then echo "stub: interrupted before task $t" >&2; exit 3; fi
    sleep 0.1
    echo "{\"task\":$t}" >>"$run_dir/journal.jsonl"
done
[ "${STUB_EXIT:-0}" = 0 ] && touch "$run_dir/done"
touch "$run_dir/finished"
exit "${STUB_EXIT:-0}"
EOF
chmod +x stub-hyperfold
export HYPERFOLD_BIN=$work/stub-hyperfold STUB_SPEC=$work/job.yaml
# The test environment sets yield_when_idle for everything; the batch script must decide itself.
unset OMPI_MCA_mpi_yield_when_idle
run_dir=$work/out/stub-sweep
journal=$run_dir/journal.jsonl

reset_run() {
    rm -rf "$run_dir"
}

# 1. Interrupted with SIGUSR1 to the batch shell: requeued, resumed, every task exactly once.
export STUB_TASKS=60
job=$(hf_submit job.yaml) || exit 1
[ -n "$job" ] || hf_fail "no job id printed"
[ -f "$run_dir/submit.sbatch" ] || hf_fail "submit.sbatch not written to the run directory"
hf_wait_lines "$journal" 10 60
scancel --batch --signal=USR1 "$job" || hf_fail "scancel --signal=USR1 $job"
hf_wait_state "$job" 120 COMPLETED FAILED CANCELLED
log=$run_dir/slurm-$job.log
[ "$(hf_job_field "$job" JobState)" = COMPLETED ] || hf_fail "job $job ended $(hf_job_field "$job" JobState)"
[ "$(hf_job_field "$job" Restarts)" = 1 ] || hf_fail "job $job restarted $(hf_job_field "$job" Restarts) times, expected 1"
grep -q "got SIGUSR1, sending SIGUSR1 to the job step" "$log" || hf_fail "the batch script did not see SIGUSR1"
grep -q "stub: interrupted before task" "$log" || hf_fail "SIGUSR1 did not reach hyperfold run"
grep -q "requeued job $job" "$log" || hf_fail "the job did not requeue itself"
[ "$(grep -c '^stub rank 1:' "$log")" = 2 ] || hf_fail "rank 1 did not run in both attempts"
lines=$(wc -l <"$journal")
uniq_lines=$(sort -u "$journal" | wc -l)
[ "$lines" = "$STUB_TASKS" ] && [ "$uniq_lines" = "$STUB_TASKS" ] ||
    hf_fail "journal has $lines lines, $uniq_lines distinct, expected $STUB_TASKS tasks once each"
grep -q 'yield=unset blas=1' "$log" || hf_fail "2 ranks on 2 CPUs: expected no yield, one BLAS thread"

# 2. A user's scancel (SIGTERM to everything) stops the run but does not requeue it.
reset_run
job=$(hf_submit job.yaml) || exit 1
hf_wait_lines "$journal" 5 60
scancel "$job"
hf_wait_state "$job" 60 CANCELLED COMPLETED FAILED
sleep 1
[ "$(hf_job_field "$job" JobState)" = CANCELLED ] || hf_fail "cancelled job is $(hf_job_field "$job" JobState)"
[ "$(hf_job_field "$job" Restarts)" = 0 ] || hf_fail "a cancelled job was requeued"
[ ! -e "$run_dir/done" ] || hf_fail "the cancelled run finished anyway"

# 3. Direct use of the template (sbatch slurm/hyperfold.sbatch job.yaml): any other exit code
#    passes through, and 4 ranks on 2 CPUs (--overcommit) get yield_when_idle.
reset_run
export STUB_TASKS=3 STUB_EXIT=5
job=$(sbatch --parsable -n 4 --overcommit "$HF_SOURCE_DIR/slurm/hyperfold.sbatch" "$STUB_SPEC") ||
    hf_fail "sbatch of the template failed"
hf_wait_state "$job" 60 FAILED COMPLETED CANCELLED
log=$work/hyperfold-$job.log
[ "$(hf_job_field "$job" JobState)" = FAILED ] || hf_fail "exit 5 gave $(hf_job_field "$job" JobState)"
[ "$(hf_job_field "$job" ExitCode)" = 5:0 ] || hf_fail "ExitCode $(hf_job_field "$job" ExitCode), expected 5:0"
[ "$(hf_job_field "$job" Restarts)" = 0 ] || hf_fail "a failed job was requeued"
[ "$(grep -c 'yield=1' "$log")" = 4 ] || hf_fail "4 ranks on 2 CPUs without yield_when_idle"
unset STUB_EXIT

# 4. The mpirun launcher also forwards SIGUSR1 and requeues.
reset_run
export STUB_TASKS=40
job=$(HF_LAUNCHER=mpirun hf_submit job.yaml) || exit 1
hf_wait_lines "$journal" 5 60
scancel --batch --signal=USR1 "$job"
hf_wait_state "$job" 120 COMPLETED FAILED CANCELLED
[ "$(hf_job_field "$job" JobState)" = COMPLETED ] || hf_fail "mpirun job ended $(hf_job_field "$job" JobState)"
[ "$(hf_job_field "$job" Restarts)" = 1 ] || hf_fail "mpirun job was not requeued once"
grep -q "on .*: mpirun " "$run_dir/slurm-$job.log" || hf_fail "HF_LAUNCHER=mpirun did not use mpirun"
[ "$(sort -u "$journal" | wc -l)" = 40 ] && [ "$(wc -l <"$journal")" = 40 ] || hf_fail "mpirun journal wrong"

# 5. sbatch refusing the job: one line, exit code 1.
err=$("$HYPERFOLD" submit job.yaml --partition nosuchpartition 2>&1 >/dev/null)
rc=$?
[ "$rc" = 1 ] || hf_fail "a refused job exited $rc, expected 1"
[ "$(printf '%s\n' "$err" | wc -l)" = 1 ] || hf_fail "expected one error line, got: $err"
grep -qi "invalid partition" <<<"$err" || hf_fail "sbatch's reason is missing from: $err"

# 6. sbatch missing: one line, exit code 1.
err=$(PATH=/nonexistent "$HYPERFOLD" submit job.yaml 2>&1 >/dev/null)
rc=$?
[ "$rc" = 1 ] || hf_fail "missing sbatch exited $rc, expected 1"
[ "$(printf '%s\n' "$err" | wc -l)" = 1 ] && grep -q "cannot run sbatch" <<<"$err" ||
    hf_fail "unclear error for a missing sbatch: $err"

# 7. A bad flag: exit code 2, nothing submitted.
"$HYPERFOLD" submit job.yaml --nodes=zero >/dev/null 2>&1
rc=$?
[ "$rc" = 2 ] || hf_fail "a bad flag exited $rc, expected 2"
echo "PASS"
