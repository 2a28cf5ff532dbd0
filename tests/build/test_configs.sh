#!/usr/bin/env bash
# ctest build.configs: the build configurations a user or packager may choose. hyperfold is built
# in Release, RelWithDebInfo and Debug with gcc and with clang, each under -Werror (HF_WERROR=ON:
# the warnings -Wall -Wextra give must stay clean in every configuration, since -O2/-O3 turn on
# the flow analyses behind -Wmaybe-uninitialized), and a plain Release build without HF_WERROR
# (what a user gets) is checked to carry no -Werror. Each Release binary then runs a real job:
# validate, a 5-fold ridge sweep on the diabetes example and predict, and the best score must be
# the same for both compilers (to 1e-9: the same BLAS, different code generation).
set -euo pipefail
src=${HF_SOURCE_DIR:?}
root=${HF_BUILD_DIR:?}/build-configs
mkdir -p "$root"
fail=0
declare -A best
for cc in gcc clang; do
    for type in Release RelWithDebInfo Debug; do
        dir="$root/$cc-$type"
        if ! cmake -S "$src" -B "$dir" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE="$type" \
            -DHF_WERROR=ON >"$dir.configure.log" 2>&1; then
            echo "FAIL $cc $type: configure"; tail -20 "$dir.configure.log"; fail=1; continue
        fi
        if ! cmake --build "$dir" -j"$(nproc)" >"$dir.build.log" 2>&1; then
            echo "FAIL $cc $type: build"; grep -E 'error|warning' "$dir.build.log" | head -20
            fail=1; continue
        fi
        if grep -q 'warning:' "$dir.build.log"; then
            echo "FAIL $cc $type: warnings"; grep 'warning:' "$dir.build.log" | head; fail=1
        fi
        echo "ok   $cc $type: built clean under -Werror"
        [ "$type" = Release ] || continue
        work=$(mktemp -d "$root/run-$cc.XXXXXX")
        sed "s#source: examples/data/diabetes.csv#source: $src/examples/data/diabetes.csv#" "$src/examples/diabetes-ridge.yaml" \
            >"$work/spec.yaml"
        (cd "$work" && "$dir/hyperfold" validate spec.yaml >validate.out 2>&1 &&
            "$dir/hyperfold" run spec.yaml --quiet >run.out 2>&1 &&
            "$dir/hyperfold" predict --model runs/diabetes-ridge/model.h5 \
                --input "$src/examples/data/diabetes.csv" --output pred.csv --quiet >predict.out 2>&1) ||
            { echo "FAIL $cc Release: the example job"; cat "$work"/*.out | tail -20; fail=1; continue; }
        rows=$(($(wc -l <"$work/pred.csv") - 1))
        want=$(($(wc -l <"$src/examples/data/diabetes.csv") - 1))
        [ "$rows" = "$want" ] || { echo "FAIL $cc Release: $rows predictions for $want rows"; fail=1; }
        best[$cc]=$("${PYTHON:-/usr/bin/python3}" -c 'import json,sys; print(json.load(open(sys.argv[1]))["best"]["score"])' \
            "$work/runs/diabetes-ridge/results.json")
        echo "ok   $cc Release: example job ran, best cv score ${best[$cc]}"
    done
done
# A user's Release build: no -Werror unless asked for.
user="$root/user-Release"
cmake -S "$src" -B "$user" -DCMAKE_BUILD_TYPE=Release >/dev/null
if ! find "$user" -name flags.make | grep -q .; then
    echo "FAIL a user's Release build: no flags.make to read"; fail=1
elif find "$user" -name flags.make -exec grep -l -- '-Werror' {} + | grep -q .; then
    echo "FAIL a user's Release build gets -Werror"; fail=1
else
    echo "ok   a user's Release build has no -Werror"
fi
if [ -n "${best[gcc]:-}" ] && [ -n "${best[clang]:-}" ]; then
    "${PYTHON:-/usr/bin/python3}" -c 'import sys; a,b=map(float,sys.argv[1:]); sys.exit(0 if abs(a-b)<=1e-9*max(1,abs(a)) else 1)' \
        "${best[gcc]}" "${best[clang]}" || { echo "FAIL gcc and clang disagree: ${best[gcc]} ${best[clang]}"; fail=1; }
fi
exit $fail
