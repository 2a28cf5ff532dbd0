# lib.sh - what test_fuzz.sh and run_long.sh share: the harnesses, their options, the sanitizer
# settings, and running one harness with a summary line. Sourced, not run.

# Every harness: tests/fuzz/fuzz_<name>.c, seeds in tests/fuzz/corpus/<name>/.
HF_FUZZ_HARNESSES="spec csv model_h5 model_h5_struct manifest schema journal task_result study serve_body datetime profile encode_columns etl iam_policy"

# Sanitizers: leaks on (the test environment of tests/CMakeLists.txt turns them off for the other
# suites), the first UB report aborts, libhdf5's cached blocks are not leaks (lsan.supp).
hf_fuzz_env() {
    local here=$1
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:allocator_may_return_null=0:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1"
    export LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    export OPENBLAS_NUM_THREADS=1
}

# libFuzzer options of one harness (besides time, jobs and corpus).
hf_fuzz_opts() {
    local here=$1 name=$2
    local opts="-timeout=10 -rss_limit_mb=2560 -malloc_limit_mb=2048 -print_final_stats=1"
    [ -f "$here/$name.dict" ] && opts="$opts -dict=$here/$name.dict"
    case $name in
    model_h5) opts="$opts -max_len=32768" ;;
    model_h5_struct) opts="$opts -max_len=512" ;;
    *) opts="$opts -max_len=8192" ;;
    esac
    echo "$opts"
}

# Harnesses whose inputs libhdf5 parses as raw bytes: libhdf5 1.10 crashes and hangs on damaged
# files in its own code (docs/testing.md), so they run in libFuzzer's fork mode, which goes on
# after a failure, and their artifacts are sorted by triage.sh: only a failure outside libhdf5 is
# a finding.
HF_FUZZ_TRIAGED="model_h5"

hf_fuzz_triaged() {
    case " $HF_FUZZ_TRIAGED " in *" $1 "*) return 0 ;; esac
    return 1
}

# Executions in the logs given: "stat::number_of_executed_units" of each libFuzzer process, or in
# fork mode (no final stats) the count of the last progress line "#N: cov: ...".
hf_fuzz_execs() {
    local f n total=0
    for f in "$@"; do
        [ -f "$f" ] || continue
        n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$f" | awk '{ s += $1 } END { print s + 0 }')
        if [ "$n" -eq 0 ]; then
            n=$(sed -n 's/^#\([0-9]*\): cov:.*/\1/p' "$f" | tail -1)
        fi
        total=$((total + ${n:-0}))
    done
    echo "$total"
}
