#!/usr/bin/env bash
# Runs every tests/e2e/test_*.sh (or those given), each in its own conductor
# instance, KANON_E2E_JOBS at a time (default 2). Tests are isolated
# (KANON_INSTANCE, a private temp dir, a private jackd name), and most of
# their time is spent listening in real time, so two run side by side
# without disturbing each other (with more, beside another `make test` on
# two cores, the fault storm's good-version verdicts moved). The longest (test_faults) starts first and
# the CPU-heavy ones (Faust and gcc builds, renders of every example, 16
# decks at once) come last, so that they do not run beside the fault
# storm: on a busy 2-core machine a cartridge starved for 50 ms looks hung
# to the storm's checks. The ones that overload the machine on purpose
# (real-time busy loops) run at the very end, alone.
# Prints PASS/FAIL/SKIP per test as each ends and a closing
# "N passed, N failed" line; exits 1 if any failed.
cd "$(dirname "$0")/.." || exit 2
tests=("$@")
[ ${#tests[@]} -eq 0 ] && tests=(tests/e2e/test_*.sh)
jobs=${KANON_E2E_JOBS:-2}
out=$(mktemp -d /tmp/kanon-e2e-run.XXXXXX)
trap 'rm -rf "$out"' EXIT

# test_faults first: it is a quarter of the whole run; the heavy ones last.
first="test_faults" last="test_faust test_faust_corpus test_faust_limits test_examples test_tier test_limits test_install"
alone="test_overload test_starved"
ordered=() solo=()
for t in "${tests[@]}"; do [[ " $first " == *" $(basename "$t" .sh) "* ]] && ordered+=("$t"); done
for t in "${tests[@]}"; do
    [[ " $first $last $alone " == *" $(basename "$t" .sh) "* ]] || ordered+=("$t")
done
for t in "${tests[@]}"; do [[ " $last " == *" $(basename "$t" .sh) "* ]] && ordered+=("$t"); done
for t in "${tests[@]}"; do [[ " $alone " == *" $(basename "$t" .sh) "* ]] && solo+=("$t"); done

run_one() { # test -> $out/NAME.{log,rc,ms}
    local t=$1 name start
    name=$(basename "$t" .sh)
    start=$(date +%s%N)
    timeout 240 bash "$t" >"$out/$name.log" 2>&1
    echo $? >"$out/$name.rc.tmp"
    echo $((($(date +%s%N) - start) / 1000000)) >"$out/$name.ms"
    mv "$out/$name.rc.tmp" "$out/$name.rc"
}

pass=0 failn=0 skip=0
report() { # name: print its line once it has ended
    local name=$1 rc ms secs
    rc=$(cat "$out/$name.rc") ms=$(cat "$out/$name.ms")
    secs="$((ms / 1000)).$((ms % 1000 / 100))"
    if [ "$rc" -eq 0 ]; then
        pass=$((pass + 1)); echo "PASS $name (${secs}s)"
    elif [ "$rc" -eq 77 ]; then
        skip=$((skip + 1)); echo "SKIP $name: $(tail -1 "$out/$name.log")"
    else
        failn=$((failn + 1)); echo "FAIL $name (${secs}s, exit $rc)"
        sed 's/^/    /' "$out/$name.log" | tail -40
    fi
}

running=()
reap() { # report every running test that has ended; keep the rest
    local still=() name
    for name in "${running[@]}"; do
        if [ -f "$out/$name.rc" ]; then report "$name"; else still+=("$name"); fi
    done
    running=("${still[@]}")
}
# While the fault storm runs, one test beside it at most: it judges time
# (hang verdicts, the 1 s a version must play to count as good), and more
# neighbours on two cores move its verdicts. Then $jobs at a time.
limit() {
    local r
    for r in "${running[@]}"; do [ "$r" = test_faults ] && { echo 2; return; }; done
    echo "$jobs"
}
for t in "${ordered[@]}"; do
    while [ ${#running[@]} -ge "$(limit)" ]; do wait -n 2>/dev/null; reap; done
    run_one "$t" &
    running+=("$(basename "$t" .sh)")
done
while [ ${#running[@]} -gt 0 ]; do wait -n 2>/dev/null; reap; done
for t in "${solo[@]}"; do
    run_one "$t"
    report "$(basename "$t" .sh)"
done
echo "$pass passed, $failn failed, $skip skipped"
[ $failn -eq 0 ]
