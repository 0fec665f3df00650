#!/bin/sh
# run.sh BUILD - run every test program and sum their results into one
# closing line "N passed, M failed". Exits non-zero if anything failed.
build=${1:-build}
passed=0
failed=0
tally() {
    # the last "N passed, M failed" line of a program's output
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
    if [ -z "$line" ]; then
        echo "run.sh: $2 printed no result line"
        failed=$((failed + 1))
        return
    fi
    p=${line%% passed*}
    f=${line#*, }
    f=${f%% failed*}
    passed=$((passed + p))
    failed=$((failed + f))
}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

echo "== unit, model, concurrency, crash and space tests"
"$build/test/larch_test" | tee "$out"
tally "$out" larch_test

echo "== amalgamation"
"$build/test/amalg_test" | tee "$out"
tally "$out" amalg_test

echo "== dbutil"
bash "$(dirname "$0")/test_dbutil.sh" "$build" | tee "$out"
tally "$out" test_dbutil.sh

echo "== linking and installing"
bash "$(dirname "$0")/test_install.sh" "$build" | tee "$out"
tally "$out" test_install.sh

echo "== exported symbols"
sh "$(dirname "$0")/symbols.sh" "$build" | tee "$out"
tally "$out" symbols.sh

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
