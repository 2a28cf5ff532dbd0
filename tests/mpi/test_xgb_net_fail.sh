#!/usr/bin/env bash
# Issue 17: libxgboost's own Rabit sockets broken from inside, where no hyperfold code runs. A
# row_shard xgboost fit with early stopping on 2 ranks (tool_xgb_fail) where one rank alone runs
# with netfail (tests/mpi/netfail.c, LD_PRELOAD): its Nth send/recv called from libxgboost fails
# (HF_TEST_NET_MODE reset: ECONNRESET; eof: the peer closed), and every later one on that socket.
# N goes over the join (the tracker's handshake, the links between the ranks) and the training
# (the allreduces of the data matrix and of every round), on the group leader (rank 0, which runs
# the tracker) and on the other rank. Asserts for each run: no hang (60 s), mpirun exit 0, one line
# per rank, the same outcome on both ranks (the same status and one-line message, or both fitted
# the rounds of the run without a failure), that the shim broke a call, and that both the join and
# the training failed somewhere. Before the fix (worker/rabit.c: the tracker's recvall on a closed
# connection, the join's watchdog) a failure in the join hung both ranks forever.
set -uo pipefail
: "${HF_BUILD_DIR:?}"
. "$(dirname "$0")/../lib/xgb_outcome.sh"
TOOL="$HF_BUILD_DIR/tests/mpi_tool_xgb_fail"
SHIM="$HF_BUILD_DIR/tests/libmpi_netfail.so"
MPIRUN=${MPIRUN:-mpirun}
LIMIT=60
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hf_xgb_net.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
[ -f "$SHIM" ] || { echo "FAIL: $SHIM is missing (build the tests)"; exit 1; }
# In an ASan build the shim goes first all the same (ASan's own send/recv interceptors would
# otherwise call it, and hide libxgboost as the caller): ASan is told not to insist on coming first.
ASAN_SHIM=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
# Every rank waits at most 3 s for a missing peer (the join's watchdog, Rabit's own timeout).
export HF_RABIT_TIMEOUT=3
fail=0

run() { # bad-rank N mode [count]: one 2-rank fit, rank $1 with the shim; output in $WORK/run.*
    local shim=(env LD_PRELOAD="$SHIM" ASAN_OPTIONS="$ASAN_SHIM" HF_TEST_NET_FAIL="$2"
        HF_TEST_NET_MODE="$3")
    [ "${4:-}" = count ] && shim=(env LD_PRELOAD="$SHIM" ASAN_OPTIONS="$ASAN_SHIM" HF_TEST_NET_COUNT=1)
    local cmd0=("$TOOL") cmd1=("$TOOL")
    if [ "$1" = 0 ]; then cmd0=("${shim[@]}" "$TOOL"); else cmd1=("${shim[@]}" "$TOOL"); fi
    timeout "$LIMIT" "$MPIRUN" --oversubscribe -np 1 "${cmd0[@]}" : -np 1 "${cmd1[@]}" \
        >"$WORK/run.out" 2>"$WORK/run.err"
}

run 1 0 reset count || { echo "FAIL: the count run exited $?"; cat "$WORK/run.err"; exit 1; }
base_iters=$(sed -n 's/^rank 0: rc 0 iters \([0-9.]*\) .*/\1/p' "$WORK/run.out")
if [ -z "$base_iters" ] || [ "$(grep -c "^rank [01]: rc 0 iters $base_iters " "$WORK/run.out")" != 2 ]; then
    echo "FAIL: the run without a failure:"; cat "$WORK/run.out"; exit 1
fi
for bad in 1 0; do
    run "$bad" 0 reset count
    calls=$(sed -n 's/^netfail: \([0-9]*\) calls$/\1/p' "$WORK/run.err" | head -1)
    if [ -z "$calls" ] || [ "$calls" -lt 30 ]; then
        echo "FAIL: rank $bad made '$calls' send/recv calls from libxgboost in a fit"; exit 1
    fi
    echo "no failure: both ranks fitted, $base_iters rounds kept; rank $bad: $calls calls from libxgboost"
    points="1 2 3 4 6 8 10 12 15 20 25 $((calls / 8)) $((calls / 2)) $((calls - 2))"
    for mode in reset eof; do
        join_failed=0 train_failed=0 fitted=0 wrong=0
        for n in $points; do
            run "$bad" "$n" "$mode"
            xgb_outcome "$WORK/run.out" $? "$base_iters" "$LIMIT"
            why=$WHY
            if [ -z "$why" ] && ! grep -q "^netfail: breaking call $n " "$WORK/run.err"; then
                why="the shim broke no call"
            elif [ -z "$why" ] && [ "$OUTCOME" = fitted ]; then
                fitted=$((fitted + 1))
            elif [ -z "$why" ] && [[ "$LINE" != *"msg xgboost: "?* ]]; then
                why="failed without an xgboost message"
            elif [ -z "$why" ] && [[ "$LINE" == *"joining the group's Rabit tracker"* ]]; then
                join_failed=$((join_failed + 1))
            elif [ -z "$why" ]; then
                train_failed=$((train_failed + 1))
            fi
            if [ -n "$why" ]; then
                xgb_show_wrong "rank $bad, call $n, $mode: $why" "$WORK/run.out" "$WORK/run.err"
                wrong=$((wrong + 1))
                fail=1
            fi
        done
        echo "rank $bad, $mode, calls $points: $join_failed failed in the join and $train_failed" \
            "in the training on both ranks with one message, $fitted fitted on both, $wrong wrong"
        if [ "$join_failed" = 0 ] || [ "$train_failed" = 0 ]; then
            echo "FAIL: rank $bad, $mode: the points did not reach both the join and the training"
            fail=1
        fi
    done
done
[ $fail = 0 ] && echo "xgb_net_fail: ok" || { echo "xgb_net_fail: FAILED"; exit 1; }
