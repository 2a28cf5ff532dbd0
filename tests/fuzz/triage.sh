#!/usr/bin/env bash
# Sorts the artifacts of a harness that parses files with libhdf5 into libhdf5's own failures and
# hyperfold's: reruns each input and looks at where the report puts the failure, the first stack
# frame that is neither the sanitizer runtime, libFuzzer nor libc.
#   libhdf5    the frame is inside libhdf5 (its parsing of a damaged file: a crash, a hang or an
#              allocation it asked for; not hyperfold's to fix, see docs/testing.md) - the input
#              moves to ARTDIR/libhdf5/
#   hyperfold  anything else (a hyperfold frame, a broken invariant, undefined behaviour, a report
#              without a stack) - the input stays, and the exit status is 1
#   stale      it does not fail when run again - the input moves to ARTDIR/stale/
#
# Usage: tests/fuzz/triage.sh BINARY ARTDIR   (environment as lib.sh hf_fuzz_env sets it)
set -uo pipefail
bin=$1 art=$2
status=0
mkdir -p "$art/libhdf5" "$art/stale"
for f in "$art"/crash-* "$art"/timeout-* "$art"/oom-* "$art"/leak-* "$art"/slow-unit-*; do
    [ -f "$f" ] || continue
    report=$(timeout 120 "$bin" -timeout=10 -rss_limit_mb=4096 -malloc_limit_mb=2048 "$f" 2>&1)
    frame=$(printf '%s\n' "$report" | grep -E '^ +#[0-9]+ 0x' |
        grep -vE 'libclang_rt|compiler-rt|fuzzer::|libc\.so|libstdc\+\+|sysdeps/| in __[a-z_]| in (main|malloc|calloc|realloc|free|memcpy|memmove|memset|strdup|strlen|operator) ' |
        head -1)
    case $frame in
    *libhdf5*) kind=libhdf5 ;;
    *) kind=hyperfold ;;
    esac
    what=$(printf '%s\n' "$report" | grep -m1 -E 'ERROR:|runtime error|fuzz finding' | cut -c1-150)
    echo "triage: $kind $(basename "$f"): ${what:-no report (it no longer fails?)}"
    if [ -z "$what" ]; then
        mv "$f" "$art/stale/" # it did not fail again (an RSS peak of a busy machine)
    elif [ "$kind" = libhdf5 ]; then
        mv "$f" "$art/libhdf5/"
    else
        status=1
    fi
done
exit $status
