# lib.sh - helpers for the Slurm tests (sourced; not a test itself).
#
# hf_test_setup starts a private cluster in a fresh temporary directory and arranges for it to be
# stopped and removed when the test exits. Every helper fails the test with a message on timeout.

set -u

HF_TEST_SRC=${HF_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
# shellcheck source=tests/slurm/cluster.sh
. "$HF_TEST_SRC/tests/slurm/cluster.sh"

hf_fail() {
    echo "FAIL: $*" >&2
    exit 1
}

hf_test_cleanup() {
    local rc=$?
    if [ -n "${HF_TEST_DIR:-}" ]; then
        if [ "$rc" -ne 0 ]; then
            echo "--- logs of the failed test (kept in $HF_TEST_DIR) ---" >&2
            for f in "$HF_TEST_DIR"/work*/out/*/slurm-*.log; do
                [ -f "$f" ] && { echo "== $f" >&2; tail -n 40 "$f" >&2; }
            done
            tail -n 20 "$HF_TEST_DIR/cluster/log/slurmctld.log" >&2 2>/dev/null
        fi
        scancel --quiet $(squeue -h -o %i 2>/dev/null) 2>/dev/null
        hf_cluster_stop "$HF_TEST_DIR/cluster"
        [ "$rc" -eq 0 ] && rm -rf "$HF_TEST_DIR"
    fi
    exit "$rc"
}

# Starts the cluster, exports SLURM_CONF and HF_TEST_DIR; checks that HYPERFOLD is usable.
hf_test_setup() {
    [ -n "${HYPERFOLD:-}" ] && [ -x "$HYPERFOLD" ] || hf_fail "HYPERFOLD must name the hyperfold binary"
    HF_TEST_DIR=$(mktemp -d /tmp/hf-slurm-test.XXXXXX) || hf_fail "mktemp"
    export HF_TEST_DIR
    chmod 755 "$HF_TEST_DIR" # munged needs o+x on every directory above its socket
    trap hf_test_cleanup EXIT
    trap 'exit 130' INT TERM
    hf_cluster_start "$HF_TEST_DIR/cluster" || hf_fail "could not start the test cluster"
    eval "$(hf_cluster_env "$HF_TEST_DIR/cluster")"
}

# Fails unless `hyperfold submit` exists in this build.
hf_need_submit() {
    "$HYPERFOLD" submit --help >/dev/null 2>&1 ||
        hf_fail "'$HYPERFOLD submit --help' failed: hf_cmd_submit (slurm/slurm.h) is not wired into coordinator/main.c"
}

# Fails unless `hyperfold run` exists in this build.
hf_need_run() {
    "$HYPERFOLD" run --help >/dev/null 2>&1 ||
        hf_fail "'$HYPERFOLD run --help' failed: hyperfold run is not available in this build"
}

# The start of an end-to-end test of `hyperfold submit` and `run` on the cluster. The batch
# script decides yield_when_idle itself, and the jobs run $HYPERFOLD, not a stand-in.
hf_e2e_setup() {
    hf_test_setup
    hf_need_submit
    hf_need_run
    unset OMPI_MCA_mpi_yield_when_idle HYPERFOLD_BIN
}

# hf_job_field JOBID FIELD: a field of `scontrol show job` (JobState, Restarts, ExitCode, ...).
hf_job_field() {
    scontrol show job -o "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

# hf_wait_state JOBID SECONDS STATE...: waits until the job is in one of the states.
hf_wait_state() {
    local job=$1 secs=$2 i s
    shift 2
    for ((i = 0; i < secs * 5; i++)); do
        s=$(hf_job_field "$job" JobState)
        for want in "$@"; do
            [ "$s" = "$want" ] && return 0
        done
        sleep 0.2
    done
    hf_fail "job $job is '$s' after $secs s, expected one of: $*"
}

# hf_wait_lines FILE N SECONDS: waits until FILE has at least N lines.
hf_wait_lines() {
    local f=$1 n=$2 secs=$3 i
    for ((i = 0; i < secs * 10; i++)); do
        [ -f "$f" ] && [ "$(wc -l <"$f")" -ge "$n" ] && return 0
        sleep 0.1
    done
    hf_fail "$f has fewer than $n lines after $secs s"
}

# hf_submit ARGS...: runs `hyperfold submit`, echoes the job id; fails the test on an error.
hf_submit() {
    local out
    out=$("$HYPERFOLD" submit "$@") || hf_fail "hyperfold submit $* failed"
    echo "$out" >&2
    sed -n 's/^submitted job \([0-9][0-9]*\)$/\1/p' <<<"$out"
}

# hf_make_data FILE ROWS FEATURES SEED: a binary classification CSV (features x0.., target y).
hf_make_data() {
    "$PYTHON" - "$@" <<'PY' || hf_fail "could not generate $1"
import sys
import numpy as np
path, n, p, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(seed)
X = rng.normal(size=(n, p))
y = (X @ rng.normal(size=p) + rng.normal(scale=2.0, size=n) > 0).astype(int)
np.savetxt(path, np.column_stack([X, y]), delimiter=",", fmt=["%.6f"] * p + ["%d"],
           header=",".join([f"x{j}" for j in range(p)] + ["y"]), comments="")
PY
}

# hf_check_run_dir DIR: results.json, model.h5 and trials.csv exist; results.json has best.params.
hf_check_run_dir() {
    local d=$1 f
    for f in results.json model.h5 trials.csv; do
        [ -s "$d/$f" ] || hf_fail "$d/$f is missing"
    done
    "$PYTHON" - "$d/results.json" <<'PY' || hf_fail "$d/results.json has no best.params"
import json, sys
r = json.load(open(sys.argv[1]))
assert isinstance(r["best"]["params"], dict) and r["best"]["params"], r.get("best")
PY
}

# hf_same_results A B: the two results.json agree on everything but timing and placement.
hf_same_results() {
    "$PYTHON" "$HF_TEST_SRC/tests/lib/same_results.py" "$1" "$2" || hf_fail "results differ: $1 vs $2"
}

# hf_check_journal FILE: every task of the header's n_tasks is journaled exactly once.
hf_check_journal() {
    "$PYTHON" - "$1" <<'PY' || hf_fail "journal $1 is not one line per task"
import hashlib, json, sys
from collections import Counter
lines = [l for l in open(sys.argv[1]).read().split("\n") if l.strip()]
header = json.loads(lines[0])
# (each line after the header ends in a tab and 16 hex digits of its SHA-256)
bodies = [l.rpartition("\t") for l in lines[1:]]
assert all(d == hashlib.sha256(b.encode()).hexdigest()[:16] for b, _, d in bodies), "bad checksum"
tasks = Counter(json.loads(b)["task"] for b, _, _ in bodies)
twice = [t for t, c in tasks.items() if c > 1]
assert not twice, f"tasks journaled more than once: {twice[:10]}"
assert sorted(tasks) == list(range(header["n_tasks"])), \
    f"{len(tasks)} distinct tasks journaled, expected {header['n_tasks']}"
PY
}

# hf_preempt_setup NAME: writes $HF_TEST_DIR/preempt/{data.csv,job.yaml} (a 60-trial sweep of
# 180 tasks named NAME) and the uninterrupted reference results.json of a 2-rank mpirun outside
# Slurm under $HF_TEST_DIR/preempt/ref. Every task is its own trial-fold, so a stop lands between
# many small tasks; HF_TEST_TASK_DELAY_MS (exported by the caller) sets how long the sweep runs.
hf_preempt_setup() {
    local src=$HF_TEST_DIR/preempt
    HF_PREEMPT_NAME=$1
    mkdir -p "$src/ref" || hf_fail "mkdir $src"
    hf_make_data "$src/data.csv" 3000 10 5
    cat >"$src/job.yaml" <<YAML
name: $HF_PREEMPT_NAME
data: {source: data.csv, target: y, task: classification}
cv: {folds: 3, seed: 3}
preprocess: {scale: standard}
model:
  type: logistic_regression
  params:
    C: {log_uniform: [1.0e-4, 1.0e2]}
    tol: {log_uniform: [1.0e-5, 1.0e-3]}
    max_iter: 500
search: {strategy: random, trials: 60, seed: 11}
objective: {metric: log_loss}
output: {dir: out}
slurm: {nodes: 1, ntasks_per_node: 2}
YAML
    cp -p "$src/data.csv" "$src/job.yaml" "$src/ref/" || hf_fail "cp"
    (cd "$src/ref" && HF_TEST_TASK_DELAY_MS=0 mpirun -np 2 "$HYPERFOLD" run job.yaml --quiet) ||
        hf_fail "the reference run failed"
}

# hf_preempt_case LAUNCHER HOW: submits the sweep of hf_preempt_setup with HF_LAUNCHER=LAUNCHER
# (srun or mpirun), stops it the way HOW says once some tasks are journaled, and checks that the
# job requeued itself once, resumed from its journal and ended COMPLETED with the reference's
# results.json and every task journaled exactly once. HOW is
#   batch-term  `scancel --batch --signal=TERM`: SIGTERM to the batch shell only (a preemption or
#               an administrator's checkpoint)
#   full-term   `scancel --full --signal=TERM`: SIGTERM to every step, the batch step included
#   time-limit  the warning of `--signal=B:USR1@50` before a 1-minute time limit (the time limit is
#               raised to 5 minutes while the requeued job waits, so the second attempt finishes)
hf_preempt_case() {
    local launcher=$1 how=$2 work=$HF_TEST_DIR/work-$1-$2 job log run_dir sig i
    local args=()
    mkdir -p "$work" && cp -p "$HF_TEST_DIR/preempt/data.csv" "$HF_TEST_DIR/preempt/job.yaml" "$work/" ||
        hf_fail "setting up $work"
    run_dir=$work/out/$HF_PREEMPT_NAME
    sig=TERM
    if [ "$how" = time-limit ]; then
        args=(--time 1 --signal-time 50)
        sig=USR1
    fi
    job=$(cd "$work" && HF_LAUNCHER=$launcher hf_submit job.yaml "${args[@]}") || exit 1
    [ -n "$job" ] || hf_fail "$launcher/$how: no job id"
    log=$run_dir/slurm-$job.log
    hf_wait_lines "$run_dir/journal.jsonl" 10 120
    case "$how" in
    batch-term) scancel --batch --signal=TERM "$job" || hf_fail "scancel --batch --signal=TERM $job" ;;
    full-term) scancel --full --signal=TERM "$job" || hf_fail "scancel --full --signal=TERM $job" ;;
    time-limit)
        # Wait for the requeue (the warning comes within slurmctld's 30 s time-limit check).
        for ((i = 0; i < 600; i++)); do
            [ "$(hf_job_field "$job" JobState)" = PENDING ] && [ "$(hf_job_field "$job" Restarts)" = 1 ] && break
            case "$(hf_job_field "$job" JobState)" in
            COMPLETED | FAILED | CANCELLED | TIMEOUT)
                hf_fail "$launcher/$how: job $job ended $(hf_job_field "$job" JobState) before it was requeued"
                ;;
            esac
            sleep 0.2
        done
        [ "$(hf_job_field "$job" JobState)" = PENDING ] ||
            hf_fail "$launcher/$how: job $job was not requeued within 120 s"
        scontrol update JobId="$job" TimeLimit=5 || hf_fail "scontrol update $job TimeLimit=5"
        ;;
    *) hf_fail "hf_preempt_case: unknown HOW '$how'" ;;
    esac
    hf_wait_state "$job" 240 COMPLETED FAILED CANCELLED TIMEOUT
    [ "$(hf_job_field "$job" JobState)" = COMPLETED ] ||
        hf_fail "$launcher/$how: job $job ended $(hf_job_field "$job" JobState) ($(hf_job_field "$job" ExitCode)), expected COMPLETED after a requeue"
    [ "$(hf_job_field "$job" Restarts)" = 1 ] ||
        hf_fail "$launcher/$how: job $job restarted $(hf_job_field "$job" Restarts) times, expected 1 (did it finish before the signal?)"
    grep -q "got SIG$sig, sending SIGUSR1 to the job step" "$log" ||
        hf_fail "$launcher/$how: the batch shell did not pass SIG$sig on as SIGUSR1"
    grep -q "hyperfold was interrupted (exit 3)" "$log" ||
        hf_fail "$launcher/$how: the launcher did not exit 3 after SIG$sig"
    grep -q "requeued job $job" "$log" || hf_fail "$launcher/$how: the job did not requeue itself"
    grep -q "on .*: $launcher " "$log" || hf_fail "$launcher/$how: the job did not use $launcher"
    hf_check_run_dir "$run_dir"
    hf_check_journal "$run_dir/journal.jsonl"
    "$PYTHON" -c 'import json,sys; t=json.load(open(sys.argv[1]))["timing"]; assert t["resumed_tasks"] > 0, t' \
        "$run_dir/results.json" || hf_fail "$launcher/$how: the second attempt did not resume from the journal"
    hf_same_results "$run_dir/results.json" "$HF_TEST_DIR/preempt/ref/out/$HF_PREEMPT_NAME/results.json"
    echo "ok: $launcher/$how: job $job requeued once, resumed, same results" >&2
}
