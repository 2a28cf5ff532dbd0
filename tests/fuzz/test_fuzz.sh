#!/usr/bin/env bash
# ctest fuzz.fuzz: builds the libFuzzer harnesses (tests/fuzz/build.sh, clang, ASan+UBSan) in
# $HF_BUILD_DIR/fuzz-build, then runs each harness for HF_FUZZ_SECONDS seconds (default 20; 15
# harnesses, HF_FUZZ_JOBS = 2 at a time, so about 2.5 minutes besides the build) on its seed
# corpus and the corpus earlier runs in this build tree grew. Prints the executions of each
# harness. Fails if the build fails or any harness finds anything (a crash, a leak, undefined
# behaviour, a broken invariant, a timeout, an out-of-memory); the input is left in
# $HF_BUILD_DIR/fuzz-build/artifacts/<harness>/ and the log is printed.
#
# Every seed runs first, so each finding's reproducer (kept in the corpus) is checked each time.
# fuzz_model_h5 hands raw bytes to libhdf5, which fails on damaged files in its own code: it runs
# in fork mode and its artifacts are sorted by triage.sh; only failures outside libhdf5 count.
# The long run is tests/fuzz/run_long.sh (docs/testing.md, "Fuzzing").
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=${HF_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
dir=${HF_BUILD_DIR:?}/fuzz-build
secs=${HF_FUZZ_SECONDS:-20}
. "$here/lib.sh"

if ! command -v clang >/dev/null; then
    echo "fuzz: clang (with libFuzzer) is needed: scripts/install-deps.sh installs it" >&2
    exit 1
fi
t0=$(date +%s)
"$here/build.sh" "$dir"
echo "fuzz: harnesses built in $(($(date +%s) - t0)) s"

hf_fuzz_env "$here"
# One harness: runs it, then writes its report lines to $dir/logs/$h.out and "rc executions" to
# $dir/logs/$h.rc. HF_FUZZ_JOBS harnesses (default 2, one a core) run at a time: each still gets
# its $secs seconds of one core.
fuzz_one() {
    local h=$1 work="$dir/corpus/$1" art="$dir/artifacts/$1" log="$dir/logs/$1.log" mode="" rc n note=""
    mkdir -p "$work" "$art" "$(dirname "$log")"
    hf_fuzz_triaged "$h" && mode="-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1"
    # shellcheck disable=SC2046,SC2086
    if (cd "$art" && nice -n 10 "$dir/build/fuzz_$h" $(hf_fuzz_opts "$here" "$h") $mode \
        -max_total_time="$secs" -artifact_prefix="$art/" "$work" "$src/tests/fuzz/corpus/$h" \
        >"$log" 2>&1); then
        rc=0
    else
        rc=$?
    fi
    n=$(hf_fuzz_execs "$log")
    if [ -n "$mode" ]; then
        # Fork mode went on after failures: only those outside libhdf5 count.
        if "$here/triage.sh" "$dir/build/fuzz_$h" "$art" >"$log.triage" 2>&1; then
            rc=0
        else
            rc=1
        fi
        k=$(grep -c '^triage: libhdf5' "$log.triage" || true)
        note=" ($k inputs libhdf5 failed on by itself, in $art/libhdf5)"
    fi
    {
        if [ "$rc" -ne 0 ] || [ "$n" -eq 0 ]; then
            echo "fuzz: $h: FINDING (exit $rc) after $n executions; input in $art:"
            grep -v '^#[0-9]' "$log" | tail -60
            if [ -f "$log.triage" ]; then grep '^triage: hyperfold' "$log.triage" || true; fi
        else
            echo "fuzz: $h: $n executions in $secs s, no finding$note"
        fi
    } >"$dir/logs/$h.out"
    echo "$rc $n" >"$dir/logs/$h.rc"
}
jobs_max=${HF_FUZZ_JOBS:-2}
mkdir -p "$dir/logs"
running=0
for h in $HF_FUZZ_HARNESSES; do
    rm -f "$dir/logs/$h.rc" "$dir/logs/$h.out"
    if [ "$running" -ge "$jobs_max" ]; then
        wait -n || true
        running=$((running - 1))
    fi
    fuzz_one "$h" &
    running=$((running + 1))
done
wait || true
failed=0 total=0
for h in $HF_FUZZ_HARNESSES; do
    if [ ! -f "$dir/logs/$h.rc" ]; then
        echo "fuzz: $h: the harness's runner ended without a result"
        failed=1
        continue
    fi
    cat "$dir/logs/$h.out"
    read -r rc n <"$dir/logs/$h.rc"
    total=$((total + n))
    if [ "$rc" -ne 0 ] || [ "$n" -eq 0 ]; then
        failed=1
    fi
done
echo "fuzz: $total executions in all, $(($(date +%s) - t0)) s with the build"
exit "$failed"
