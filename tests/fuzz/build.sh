#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz/fuzz_*.c) with clang, ASan and UBSan into DIR
# (default: build-fuzz under the checkout); the binaries are DIR/build/fuzz_<name>.
#
# hfcore is built from a copy of the product sources (DIR/src) with the fixes in
# tests/fuzz/findings/*.patch applied that are not on this branch yet (fixes of files the fuzzing
# work does not own, waiting for their owners): a patch that is already in the checkout is
# skipped, one that applies is applied to the copy, one that does neither fails the build. So the
# harnesses run the product as it will be once the pending fixes land, and each finding's
# reproducer in the corpus keeps testing its fix.
#
# Usage: tests/fuzz/build.sh [DIR]    (env: CC, default clang; JOBS, default nproc)
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
dir=${1:-$src/build-fuzz}
cc=${CC:-clang}
jobs=${JOBS:-$(nproc)}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

# Stage the product sources with the pending patches, then update DIR/src from the stage where
# the content changed (unchanged files keep their time stamps, so rebuilds are incremental).
stage="$dir/stage"
rm -rf "$stage"
mkdir -p "$stage" "$dir/src"
(cd "$src" && git ls-files -co --exclude-standard -- CMakeLists.txt common jobs shards coordinator \
    worker slurm) | while read -r f; do
    [ -f "$src/$f" ] || continue
    mkdir -p "$stage/$(dirname "$f")"
    cp -p "$src/$f" "$stage/$f"
done
: >"$dir/patches.txt"
for p in "$src"/tests/fuzz/findings/*.patch; do
    [ -e "$p" ] || continue
    name=$(basename "$p")
    if patch -p1 -R --dry-run -s -f -d "$src" <"$p" >/dev/null 2>&1; then
        echo "merged  $name" >>"$dir/patches.txt"
    elif patch -p1 --dry-run -s -f -d "$stage" <"$p" >/dev/null 2>&1; then
        patch -p1 -s -f -d "$stage" <"$p" >/dev/null
        echo "pending $name" >>"$dir/patches.txt"
    else
        echo "build.sh: $name neither applies to nor is already in the sources" >&2
        exit 1
    fi
done
(cd "$stage" && find . -type f) | while read -r f; do
    if ! cmp -s "$stage/$f" "$dir/src/$f"; then
        mkdir -p "$dir/src/$(dirname "$f")"
        cp -p "$stage/$f" "$dir/src/$f"
        touch "$dir/src/$f"
    fi
done
(cd "$dir/src" && find . -type f) | while read -r f; do
    [ -e "$stage/$f" ] || rm -f "$dir/src/$f"
done
rm -rf "$stage"

cmake -S "$src/tests/fuzz" -B "$dir/build" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_C_FLAGS_DEBUG="-O1" -DHF_ROOT="$dir/src" >"$dir/configure.log" 2>&1 ||
    { tail -30 "$dir/configure.log"; exit 1; }
cmake --build "$dir/build" --target fuzz_all -j"$jobs" >"$dir/build.log" 2>&1 ||
    { grep -E 'error|warning' "$dir/build.log" | head -40; tail -20 "$dir/build.log"; exit 1; }
sed 's/^/build.sh: /' "$dir/patches.txt"
