# lib.sh - what test_fuzz.sh and run_long.sh share: the harnesses, their options, the sanitizer
# settings, and running one harness with a summary line. Sourced, not run.

# Every harness: tests/fuzz/fuzz_<name>.c, seeds in tests/fuzz/corpus/<name>/.
HF_FUZZ_HARNESSES="spec csv model_h5 model_h5_struct manifest schema journal task_result"

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
    local opts="-timeout=10 -rss_limit_mb=2048 -print_final_stats=1"
    [ -f "$here/$name.dict" ] && opts="$opts -dict=$here/$name.dict"
    case $name in
    model_h5) opts="$opts -max_len=32768" ;;
    model_h5_struct) opts="$opts -max_len=512" ;;
    *) opts="$opts -max_len=8192" ;;
    esac
    echo "$opts"
}

# Sums "stat::number_of_executed_units" over the logs given (one per libFuzzer process).
hf_fuzz_execs() {
    cat "$@" 2>/dev/null | sed -n 's/^stat::number_of_executed_units: *//p' |
        awk '{ s += $1 } END { print s + 0 }'
}
