#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz/fuzz_*.c) with clang, ASan and UBSan into DIR
# (default: build-fuzz under the checkout); the binaries are DIR/build/fuzz_<name>. hfcore is
# built from the checkout's own sources with -fsanitize=fuzzer-no-link,address,undefined (a
# CMake project of its own, tests/fuzz/CMakeLists.txt; the product's build is untouched). Every
# finding's fix is in the product sources and its reproducer in tests/fuzz/corpus (finding-*).
#
# Usage: tests/fuzz/build.sh [DIR]    (env: CC, default clang; JOBS, default nproc)
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
dir=${1:-$src/build-fuzz}
cc=${CC:-clang}
jobs=${JOBS:-$(nproc)}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
cmake -S "$src/tests/fuzz" -B "$dir/build" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_C_FLAGS_DEBUG="-O1" -DHF_ROOT="$src" >"$dir/configure.log" 2>&1 ||
    { tail -30 "$dir/configure.log"; exit 1; }
cmake --build "$dir/build" --target fuzz_all -j"$jobs" >"$dir/build.log" 2>&1 ||
    { grep -E 'error|warning' "$dir/build.log" | head -40; tail -20 "$dir/build.log"; exit 1; }
