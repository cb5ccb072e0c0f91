#!/usr/bin/env bash
# run-unit.sh - runs each unit-test binary given as an argument.
#
#   tests/run-unit.sh build/unit/test_a build/unit/test_b ...
#
# Each binary gets at most 120 s (KANON_UNIT_TIMEOUT overrides). A binary
# passes only if it exits 0 in time; a failing one has its output shown.
# The last line is exactly "N passed, N failed" (the form CI reads), and
# the exit status is 1 if anything failed or no test was given.
set -u

timeout_s=${KANON_UNIT_TIMEOUT:-120}
passed=0
failed=0
out=$(mktemp "${TMPDIR:-/tmp}/kanon-unit.XXXXXX")
trap 'rm -f "$out"' EXIT

for bin in "$@"; do
    name=$(basename "$bin")
    start=$(date +%s.%N)
    # --kill-after: a test that ignores SIGTERM still can't hang the run.
    timeout --kill-after=5 "$timeout_s" "$bin" >"$out" 2>&1
    rc=$?
    secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        echo "PASS $name (${secs}s)"
    else
        failed=$((failed + 1))
        case $rc in
        124) why="timed out after ${timeout_s}s" ;;
        137) why="killed (SIGKILL, or still running ${timeout_s}s + 5s on)" ;;
        *) why="exit status $rc" ;;
        esac
        echo "FAIL $name ($why, ${secs}s)"
        sed 's/^/    /' "$out"
    fi
done

echo "$passed passed, $failed failed"
if [ $# -eq 0 ]; then
    echo "run-unit.sh: no test binaries given" >&2
    exit 1
fi
[ "$failed" -eq 0 ]
