#!/usr/bin/env bash
# mutate.sh - proves that the tests catch what they claim (`make mutate`).
#
#   scripts/mutate.sh [--keep] [--baseline] [NAME...]
#
# Each tests/mutations/NAME.patch plants one bug. Its header (the "# "
# lines before the diff) says why the bug matters and names, in lines
#   # test: unit/test_X        (build/unit/test_X, built with sanitizers)
#   # test: e2e/test_Y         (tests/e2e/test_Y.sh)
# the test(s) that must catch it; optional lines
#   # env: VAR=VALUE ...       environment for its tests (narrows a long one)
#   # timeout: SECONDS         per test (default 120 for unit, 300 for e2e)
#
# The working tree's files (tracked and untracked, not ignored) are copied
# into a scratch directory, built there once, and each mutation is then
# applied there (git apply), rebuilt incrementally (make, which knows the
# headers), run against its tests one at a time, and reverted. The real
# tree is never modified. A mutation is caught when every test it names
# fails; a skipped test (exit 77) does not count as catching it.
#
# Prints a table (mutation, test, caught/survived, seconds) and a summary.
# Exits 1 if any mutation survived, no longer applies, or does not build;
# 2 if the scratch copy itself does not build.
#
#   NAME...     only these mutations (file names without .patch)
#   --keep      keep the scratch directory (and its logs) afterwards
#   --baseline  first run each chosen test on the unmutated copy: a test
#               that fails there proves nothing (reported, exit 1)
set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
MDIR=tests/mutations
keep=0 baseline=0 names=()
for a in "$@"; do
    case $a in
    --keep) keep=1 ;;
    --baseline) baseline=1 ;;
    -h | --help)
        sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    -*)
        echo "mutate.sh: unknown option $a" >&2
        exit 2
        ;;
    *) names+=("${a%.patch}") ;;
    esac
done
if [ ${#names[@]} -eq 0 ]; then
    for p in "$MDIR"/*.patch; do names+=("$(basename "$p" .patch)"); done
fi
for n in "${names[@]}"; do
    [ -f "$MDIR/$n.patch" ] || {
        echo "mutate.sh: no mutation $MDIR/$n.patch" >&2
        exit 2
    }
done

header() { # patch field -> values of "# field: ..." lines, one per line
    sed -n '/^\(diff \|--- \)/q; s/^# '"$2"': *//p' "$1"
}

S=$(mktemp -d "${TMPDIR:-/tmp}/kanon-mutate.XXXXXX")
if [ $keep -eq 1 ]; then
    trap 'echo "scratch copy kept: $S"' EXIT
else
    trap 'rm -rf "$S"' EXIT
fi
echo "scratch copy: $S"
if git rev-parse --git-dir >/dev/null 2>&1; then
    git ls-files -z -co --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$S"
else
    tar --exclude=./build -cf - . | tar -xf - -C "$S"
fi
mkdir -p "$S/.mutate"
LOG=$S/.mutate

J=${KANON_MUTATE_JOBS:-2}
build() { # targets... -> 0 if built; the log in $LOG/build.log
    make -C "$S" -j"$J" "$@" >"$LOG/build.log" 2>&1
}

# What each mutation needs built: `all` for e2e tests, the unit binaries.
targets_of() {
    local t need_all=0 out=()
    for t in $(header "$1" test); do
        case $t in
        unit/*) out+=("build/unit/${t#unit/}") ;;
        e2e/*) need_all=1 ;;
        esac
    done
    [ $need_all -eq 1 ] && out=(all "${out[@]}")
    echo "${out[@]}"
}

# Runs one test of the scratch copy; prints its exit status. The log goes
# to $LOG/$2.log.
run_test() { # test logname env...
    local t=$1 log=$LOG/$2.log to
    shift 2
    case $t in
    unit/*)
        to=${TIMEOUT:-120}
        # On a terminal (script(1)) stdout is line-buffered, so the
        # "check failed" lines are not lost when LeakSanitizer ends the
        # process with _exit after a test that returned early.
        if command -v script >/dev/null; then
            env "$@" timeout --kill-after=5 "$to" script -qefc "$S/build/unit/${t#unit/}" /dev/null \
                </dev/null 2>&1 | tr -d '\r' >"$log"
            return "${PIPESTATUS[0]}"
        fi
        env "$@" timeout --kill-after=5 "$to" "$S/build/unit/${t#unit/}" >"$log" 2>&1
        ;;
    e2e/*)
        to=${TIMEOUT:-300}
        (cd "$S" && env "$@" timeout --kill-after=10 "$to" bash "tests/e2e/${t#e2e/}.sh") >"$log" 2>&1
        ;;
    *)
        echo "unknown test kind: $t" >"$log"
        return 99
        ;;
    esac
}

# The first line of a log that says why a test failed.
why() {
    { grep -m1 -E '^FAIL|check failed|ERROR:' "$1" || grep -v '^ *$' "$1" | tail -1; } 2>/dev/null |
        cut -c1-90
}

secs() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

t_all=$(date +%s.%N)
rows=() survived=() broken=() basefail=()

# Every chosen patch must still apply to the copy before anything runs.
for n in "${names[@]}"; do
    [ -n "$(header "$MDIR/$n.patch" test)" ] || {
        echo "mutation $n names no test (a '# test: unit/NAME' or '# test: e2e/NAME' line)"
        broken+=("$n: names no test")
        continue
    }
    (cd "$S" && git apply --check "$ROOT/$MDIR/$n.patch" 2>"$LOG/$n.apply") ||
        broken+=("$n: no longer applies: $(head -1 "$LOG/$n.apply")")
done

printf 'building the scratch copy ... '
t0=$(date +%s.%N)
if ! build all; then
    echo "failed"
    tail -30 "$LOG/build.log"
    exit 2
fi
echo "$(secs "$t0") s"

if [ $baseline -eq 1 ]; then
    declare -A seen=()
    for n in "${names[@]}"; do
        p=$MDIR/$n.patch
        read -ra tg <<<"$(targets_of "$p")"
        [ ${#tg[@]} -gt 0 ] && build "${tg[@]}"
        mapfile -t envs < <(header "$p" env)
        read -ra ev <<<"${envs[*]:-}"
        to=$(header "$p" timeout | head -1)
        for t in $(header "$p" test); do
            key="$t ${ev[*]:-}"
            [ -n "${seen[$key]:-}" ] && continue
            seen[$key]=1
            t0=$(date +%s.%N)
            TIMEOUT=$to run_test "$t" "baseline.${t//\//.}" "${ev[@]}"
            rc=$?
            printf '  baseline %-28s %s (%s s)\n' "$t" "$([ $rc -eq 0 ] && echo pass || echo "FAILS (exit $rc)")" "$(secs "$t0")"
            [ $rc -eq 0 ] || basefail+=("$t fails on the unmutated tree (${ev[*]:-})")
        done
    done
fi

fmt='%-26s %-24s %-9s %7s  %s\n'
for n in "${names[@]}"; do
    p=$MDIR/$n.patch
    case " ${broken[*]:-} " in *" $n: "*) continue ;; esac
    printf '%s: ' "$n"
    (cd "$S" && git apply "$ROOT/$p") || {
        broken+=("$n: does not apply")
        echo "does not apply"
        continue
    }
    read -ra tg <<<"$(targets_of "$p")"
    t0=$(date +%s.%N)
    if ! build "${tg[@]}"; then
        cp "$LOG/build.log" "$LOG/$n.build.log"
        broken+=("$n: does not build (see $LOG/$n.build.log with --keep)")
        echo "does not build: $(grep -m1 'error' "$LOG/build.log")"
        (cd "$S" && git apply -R "$ROOT/$p")
        continue
    fi
    printf 'built (%s s)' "$(secs "$t0")"
    mapfile -t envs < <(header "$p" env)
    read -ra ev <<<"${envs[*]:-}"
    to=$(header "$p" timeout | head -1)
    all_caught=1
    for t in $(header "$p" test); do
        t0=$(date +%s.%N)
        TIMEOUT=$to run_test "$t" "$n.${t//\//.}" "${ev[@]}"
        rc=$?
        s=$(secs "$t0")
        if [ $rc -eq 0 ]; then
            verdict=survived all_caught=0 detail=""
        elif [ $rc -eq 77 ]; then
            verdict=skipped all_caught=0 detail="$(tail -1 "$LOG/$n.${t//\//.}.log")"
        else
            verdict=caught detail="exit $rc: $(why "$LOG/$n.${t//\//.}.log")"
        fi
        printf ', %s %s' "$t" "$verdict"
        # shellcheck disable=SC2059
        rows+=("$(printf "$fmt" "$n" "$t" "$verdict" "$s" "$detail")")
    done
    echo
    [ $all_caught -eq 1 ] || survived+=("$n")
    (cd "$S" && git apply -R "$ROOT/$p") || {
        echo "mutate.sh: cannot revert $n in the scratch copy" >&2
        exit 2
    }
done

echo
# shellcheck disable=SC2059
printf "$fmt" mutation test result seconds detail
printf '%s\n' "${rows[@]}"
echo
ran=${#names[@]}
echo "$ran mutations, $((ran - ${#survived[@]} - ${#broken[@]})) caught, ${#survived[@]} survived, ${#broken[@]} broken; $(secs "$t_all") s in all"
for n in "${survived[@]}"; do echo "SURVIVED $n (tests: $(header "$MDIR/$n.patch" test | tr '\n' ' '))"; done
for b in "${broken[@]}"; do echo "BROKEN $b"; done
for b in "${basefail[@]}"; do echo "BASELINE $b"; done
[ ${#survived[@]} -eq 0 ] && [ ${#broken[@]} -eq 0 ] && [ ${#basefail[@]} -eq 0 ]
