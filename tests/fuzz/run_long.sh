#!/usr/bin/env bash
# The long fuzzing run (docs/testing.md, "Fuzzing"): builds the harnesses (tests/fuzz/build.sh) and
# runs each harness as libFuzzer -jobs=J -workers=W: J jobs one after another (W at a time), each
# for S seconds or R executions, whichever comes first; a job that finds something leaves its
# input in DIR/artifacts/<harness>/ and the next job goes on. Every job starts from the seed corpus
# and the corpus the earlier jobs grew (DIR/corpus/<harness>, kept between runs).
#
# Usage: tests/fuzz/run_long.sh [-d DIR] [-s S] [-r R] [-j J] [-w W] [HARNESS...]
#   DIR  build and work directory (default: build-fuzz under the checkout)
#   S    seconds per job (default 600), R executions per job (default: no limit)
#   J    jobs per harness (default 1), W parallel workers (default 1: the machine is shared)
#   HARNESS  default: every harness (lib.sh)
# fuzz_model_h5 (raw bytes to libhdf5) runs in fork mode instead, for J x S seconds, and
# triage.sh sorts its artifacts: libhdf5's own failures are not findings (docs/testing.md).
# Prints per harness the executions (summed over its jobs' logs, DIR/logs/<harness>/fuzz-*.log)
# and the findings; appends a line per harness to DIR/long-runs.tsv (date, harness, seconds,
# executions, findings). Exits 1 if anything was found.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
. "$here/lib.sh"
dir=$src/build-fuzz secs=600 runs="" jobs=1 workers=1
while getopts "d:s:r:j:w:" o; do
    case $o in
    d) dir=$OPTARG ;;
    s) secs=$OPTARG ;;
    r) runs=$OPTARG ;;
    j) jobs=$OPTARG ;;
    w) workers=$OPTARG ;;
    *) sed -n '2,16p' "$0" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
harnesses=${*:-$HF_FUZZ_HARNESSES}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
"$here/build.sh" "$dir"
hf_fuzz_env "$here"
found=0
for h in $harnesses; do
    work="$dir/corpus/$h" art="$dir/artifacts/$h" logs="$dir/logs/$h"
    mkdir -p "$work" "$art" "$logs"
    rm -f "$logs"/fuzz-*.log
    before=$(find "$art" -maxdepth 1 -type f | wc -l)
    t0=$(date +%s)
    if hf_fuzz_triaged "$h"; then
        # Fork mode (W processes), going on after failures, for the jobs' time together; then
        # triage.sh moves libhdf5's own failures to $art/libhdf5/.
        # shellcheck disable=SC2046
        (cd "$logs" && nice -n 10 "$dir/build/fuzz_$h" $(hf_fuzz_opts "$here" "$h") \
            -fork="$workers" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
            -max_total_time=$((secs * jobs)) ${runs:+-runs=$((runs * jobs))} \
            -artifact_prefix="$art/" "$work" "$src/tests/fuzz/corpus/$h" >"$logs/fuzz-0.log" 2>&1) ||
            true
        "$here/triage.sh" "$dir/build/fuzz_$h" "$art" >"$logs/triage.log" 2>&1 || true
        echo "run_long: $h: $(grep -c '^triage: libhdf5' "$logs/triage.log") inputs on which" \
            "libhdf5 failed by itself (moved to $art/libhdf5)"
    else
        # -jobs writes fuzz-<job>.log in the current directory.
        # shellcheck disable=SC2046
        (cd "$logs" && nice -n 10 "$dir/build/fuzz_$h" $(hf_fuzz_opts "$here" "$h") \
            -jobs="$jobs" -workers="$workers" -max_total_time="$secs" ${runs:+-runs="$runs"} \
            -artifact_prefix="$art/" "$work" "$src/tests/fuzz/corpus/$h" >"$logs/driver.log" \
            2>&1) || true
    fi
    n=$(hf_fuzz_execs "$logs"/fuzz-*.log)
    new=$(($(find "$art" -maxdepth 1 -type f | wc -l) - before))
    el=$(($(date +%s) - t0))
    printf '%s\t%s\t%s\t%s\t%s\n' "$(date -u +%Y-%m-%dT%H:%MZ)" "$h" "$el" "$n" "$new" \
        >>"$dir/long-runs.tsv"
    if [ "$new" -gt 0 ]; then
        found=1
        echo "run_long: $h: $n executions in $el s, $new FINDINGS in $art:"
        find "$art" -maxdepth 1 -type f -newermt "@$t0" | sed 's/^/  /'
    else
        echo "run_long: $h: $n executions in $el s, no finding"
    fi
done
exit "$found"
