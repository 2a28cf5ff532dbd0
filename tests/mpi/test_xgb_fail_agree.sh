#!/usr/bin/env bash
# Issue 17: a row_shard xgboost fit with early stopping on 2 ranks (tool_xgb_fail) where one rank
# alone fails its Nth allocation (HF_TEST_FAIL_ALLOC=N on that rank only, Open MPI's MPMD syntax),
# for N over the fit's allocations of that rank (from its count without the fit to its count with
# it: the data matrices, the booster, every round's gathered predictions and metric, the slices),
# on the group leader (rank 0, which runs the Rabit tracker) and on the other rank. Asserts for
# each N: no hang (a 120 s timeout), mpirun exit 0, one line per rank, the same outcome on both
# ranks (the same status and, after the "rank R: " prefix of the agreement, the same one-line
# message; or both fitted with the rounds of the run without a failure). Prints the counts.
set -uo pipefail
: "${HF_BUILD_DIR:?}"
. "$(dirname "$0")/../lib/xgb_outcome.sh"
TOOL="$HF_BUILD_DIR/tests/mpi_tool_xgb_fail"
MPIRUN=${MPIRUN:-mpirun}
STRIDE=${HF_FAIL_STRIDE:-2} # every 2nd allocation by default (the suite's time); 1: every one
LIMIT=${HF_FAIL_TIMEOUT:-120}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hf_xgb_fail.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
fail=0

# The allocation count of rank $1 at exit, with the tool's argument $2 (fit / nofit).
count() {
    local cmd0=("$TOOL" "$2") cmd1=("$TOOL" "$2")
    if [ "$1" = 0 ]; then cmd0=(env HF_TEST_COUNT=1 "${cmd0[@]}"); else cmd1=(env HF_TEST_COUNT=1 "${cmd1[@]}"); fi
    timeout "$LIMIT" "$MPIRUN" --oversubscribe -np 1 "${cmd0[@]}" : -np 1 "${cmd1[@]}" \
        >"$WORK/count.out" 2>"$WORK/count.err" || { echo "FAIL: count run exited $?"; cat "$WORK/count.err"; exit 1; }
    sed -n 's/^hf_test: \([0-9]*\) allocations.*/\1/p' "$WORK/count.err" | head -1
}

timeout 120 "$MPIRUN" --oversubscribe -np 2 "$TOOL" >"$WORK/base.out" 2>"$WORK/base.err" ||
    { echo "FAIL: the run without a failure exited $?"; cat "$WORK/base.err"; exit 1; }
base_iters=$(sed -n 's/^rank 0: rc 0 iters \([0-9.]*\) .*/\1/p' "$WORK/base.out")
if [ -z "$base_iters" ] || [ "$(grep -c "^rank [01]: rc 0 iters $base_iters " "$WORK/base.out")" != 2 ]; then
    echo "FAIL: the run without a failure:"; cat "$WORK/base.out"; exit 1
fi
echo "no failure: both ranks fitted, $base_iters rounds kept"

for bad in 1 0; do
    lo=$(count "$bad" nofit) hi=$(count "$bad" fit)
    if [ -z "$lo" ] || [ -z "$hi" ] || [ "$hi" -le "$lo" ]; then
        echo "FAIL: rank $bad's allocation counts '$lo' (no fit), '$hi' (fit)"; fail=1; continue
    fi
    failed=0 fitted=0 bad_runs=0
    for ((n = lo + 1; n <= hi; n += STRIDE)); do
        cmd0=("$TOOL") cmd1=("$TOOL")
        if [ "$bad" = 0 ]; then cmd0=(env HF_TEST_FAIL_ALLOC=$n "$TOOL"); else cmd1=(env HF_TEST_FAIL_ALLOC=$n "$TOOL"); fi
        timeout "$LIMIT" "$MPIRUN" --oversubscribe -np 1 "${cmd0[@]}" : -np 1 "${cmd1[@]}" \
            >"$WORK/run.out" 2>"$WORK/run.err"
        xgb_outcome "$WORK/run.out" $? "$base_iters" "$LIMIT"
        why=$WHY
        [ "$OUTCOME" = fitted ] && fitted=$((fitted + 1))
        [ "$OUTCOME" = failed ] && failed=$((failed + 1))
        if [ -n "$why" ]; then
            xgb_show_wrong "HF_TEST_FAIL_ALLOC=$n on rank $bad: $why" "$WORK/run.out" "$WORK/run.err"
            bad_runs=$((bad_runs + 1))
            fail=1
        fi
    done
    echo "rank $bad failing allocation $((lo + 1))..$hi (stride $STRIDE): $failed failed on both ranks" \
        "with one message, $fitted fitted on both, $bad_runs wrong"
done
[ $fail = 0 ] && echo "xgb_fail_agree: ok" || echo "xgb_fail_agree: FAILED"
exit $fail
