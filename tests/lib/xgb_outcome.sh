# tests/lib/xgb_outcome.sh - sourced by the scripts that drive tests/mpi/tool_xgb_fail on 2 ranks
# with a failure on one of them (test_xgb_fail_agree.sh, test_xgb_net_fail.sh).
#
# xgb_outcome OUT RC BASE_ITERS LIMIT classifies one run from mpirun's exit status RC and its
# stdout OUT (each rank's line "rank R: rc C iters I msg M"): OUTCOME is "fitted" (both ranks fitted)
# or "failed" (both failed), LINE the ranks' common line (without the "rank R: " the agreement
# puts before another rank's message), and WHY is empty when the run is right, otherwise what is
# wrong: a hang (RC 124 after LIMIT seconds), another mpirun status, not one line per rank, ranks
# that disagree, a fit with other than BASE_ITERS rounds, a failure without a message.
# xgb_show_wrong WHAT OUT ERR prints one wrong run: "FAIL: WHAT", its stdout and the end of its
# stderr.
xgb_show_wrong() {
    echo "FAIL: $1"
    sed 's/^/  | /' "$2"
    tail -5 "$3" | sed 's/^/  ! /'
}

xgb_outcome() {
    local out=$1 rc=$2 base=$3 limit=$4 a b
    OUTCOME="" LINE="" WHY=""
    if [ "$rc" = 124 ]; then
        WHY="hang (killed after $limit s)"
    elif [ "$rc" != 0 ]; then
        WHY="mpirun exited $rc"
    elif [ "$(wc -l <"$out")" != 2 ] || [ "$(grep -c '^rank [01]: rc ' "$out")" != 2 ]; then
        WHY="not one line per rank"
    else
        a=$(sed -n 's/^rank 0: \(.*\)/\1/p' "$out" | sed 's/msg rank [0-9]*: /msg /')
        b=$(sed -n 's/^rank 1: \(.*\)/\1/p' "$out" | sed 's/msg rank [0-9]*: /msg /')
        LINE=$a
        if [ "$a" != "$b" ]; then
            WHY="the ranks disagree"
        elif [[ "$a" == "rc 0 "* ]]; then
            OUTCOME=fitted
            [[ "$a" == "rc 0 iters $base "* ]] || WHY="fitted, but not $base rounds"
        else
            OUTCOME=failed
            [[ "$a" == *"msg "?* ]] || WHY="failed without a message"
        fi
    fi
}
