#!/usr/bin/env bash
# No cluster: what a user of `mpirun -np 2 hyperfold run job.yaml` gets from each stop signal sent
# to mpirun (docs/slurm.md, "Signals outside Slurm"). Open MPI's mpirun forwards SIGUSR1 to every
# rank and exits with the ranks' code 3; on SIGTERM or SIGINT (Ctrl-C) it sends the ranks SIGCONT,
# then SIGTERM odls_base_sigkill_timeout seconds later (default 1), then SIGKILL as long again
# after that, and exits 1 whatever the ranks did. Each case checks that hyperfold printed its one
# "interrupted" line, that the journal holds only whole tasks, and that running the same command
# again resumes and ends with the results.json of an uninterrupted run.
. "$HF_SOURCE_DIR/tests/slurm/lib.sh"
[ -n "${HYPERFOLD:-}" ] && [ -x "$HYPERFOLD" ] || hf_fail "HYPERFOLD must name the hyperfold binary"
HF_TEST_DIR=$(mktemp -d /tmp/hf-mpirun-signals.XXXXXX) || hf_fail "mktemp"
trap 'rc=$?; [ "$rc" -eq 0 ] && rm -rf "$HF_TEST_DIR" || echo "kept $HF_TEST_DIR" >&2; exit $rc' EXIT
hf_preempt_setup mpirun-signals
ref=$HF_TEST_DIR/preempt/ref/out/mpirun-signals/results.json

# stop_case NAME SIGNAL WANT_RC DELAY_MS [MCA_TIMEOUT]
stop_case() {
    local name=$1 sig=$2 want=$3 delay=$4 timeout=${5:-} d=$HF_TEST_DIR/$1 pid rc n
    mkdir -p "$d" && cp -p "$HF_TEST_DIR/preempt/data.csv" "$HF_TEST_DIR/preempt/job.yaml" "$d/" ||
        hf_fail "$name: setup"
    local journal=$d/out/mpirun-signals/journal.jsonl
    (
        cd "$d" || exit 1
        [ -n "$timeout" ] && export OMPI_MCA_odls_base_sigkill_timeout=$timeout
        # A background job of a non-interactive shell ignores SIGINT; mpirun must not inherit that.
        trap - INT
        HF_TEST_TASK_DELAY_MS=$delay exec mpirun -np 2 "$HYPERFOLD" run job.yaml --quiet 2>err.txt
    ) &
    pid=$!
    hf_wait_lines "$journal" 20 60
    kill -s "$sig" "$pid"
    wait "$pid"
    rc=$?
    [ "$rc" = "$want" ] || hf_fail "$name: mpirun exited $rc after SIG$sig, expected $want; stderr: $(cat "$d/err.txt")"
    n=$(grep -c '^hyperfold: error: interrupted: .* tasks done and journaled in ' "$d/err.txt")
    [ "$n" = 1 ] || hf_fail "$name: expected one 'interrupted' line after SIG$sig, got $n: $(cat "$d/err.txt")"
    n=$(($(wc -l <"$journal") - 1))
    [ "$n" -gt 0 ] && [ "$n" -lt 180 ] || hf_fail "$name: $n of 180 tasks journaled, expected a part"
    (cd "$d" && HF_TEST_TASK_DELAY_MS=0 mpirun -np 2 "$HYPERFOLD" run job.yaml --quiet) ||
        hf_fail "$name: the rerun failed"
    hf_check_journal "$journal"
    "$PYTHON" -c 'import json,sys; t=json.load(open(sys.argv[1]))["timing"]; assert t["resumed_tasks"] == int(sys.argv[2]), t' \
        "$d/out/mpirun-signals/results.json" "$n" || hf_fail "$name: the rerun did not resume the $n journaled tasks"
    hf_same_results "$d/out/mpirun-signals/results.json" "$ref"
    echo "ok: $name: SIG$sig -> exit $rc, one 'interrupted' line, $n tasks resumed, same results" >&2
}

# Short tasks finish within the second between mpirun's SIGTERM to the ranks and its SIGKILL.
stop_case sigterm TERM 1 100
stop_case sigint INT 1 100
# The clean way: SIGUSR1 reaches every rank at once, mpirun exits with their code 3.
stop_case sigusr1 USR1 3 100
# Tasks longer than that second need a longer odls_base_sigkill_timeout (here 5 s: SIGTERM 5 s
# after the signal, SIGKILL 5 s later).
stop_case sigterm-long-tasks TERM 1 1500 5
echo PASS
