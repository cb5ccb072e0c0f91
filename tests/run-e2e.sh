#!/usr/bin/env bash
# Runs every tests/e2e/test_*.sh (or those given) one after another, each in
# its own conductor instance. Prints PASS/FAIL/SKIP per test and a closing
# "N passed, N failed" line; exits 1 if any failed.
cd "$(dirname "$0")/.." || exit 2
tests=("$@")
[ ${#tests[@]} -eq 0 ] && tests=(tests/e2e/test_*.sh)
pass=0 failn=0 skip=0
for t in "${tests[@]}"; do
    name=$(basename "$t" .sh)
    start=$(date +%s%N)
    out=$(timeout 240 bash "$t" 2>&1)
    rc=$?
    ms=$((($(date +%s%N) - start) / 1000000))
    secs="$((ms / 1000)).$((ms % 1000 / 100))"
    if [ $rc -eq 0 ]; then
        pass=$((pass + 1)); echo "PASS $name (${secs}s)"
    elif [ $rc -eq 77 ]; then
        skip=$((skip + 1)); echo "SKIP $name: $(echo "$out" | tail -1)"
    else
        failn=$((failn + 1)); echo "FAIL $name (${secs}s, exit $rc)"; echo "$out" | sed 's/^/    /' | tail -40
    fi
done
echo "$pass passed, $failn failed, $skip skipped"
[ $failn -eq 0 ]
