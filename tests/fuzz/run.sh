#!/usr/bin/env bash
# run.sh - builds and runs kanon's libFuzzer harnesses.
#
#   tests/fuzz/run.sh [SECONDS] [control] [osc]     (default: 20 s, both)
#   tests/fuzz/run.sh build                         (build only)
#   tests/fuzz/run.sh coverage [control] [osc]      (line coverage of the engine
#                                                    by build/fuzz/corpus_*)
#
#   make test -> tests/fuzz/run.sh 20       make fuzz -> tests/fuzz/run.sh 300
#
# Builds build/fuzz/fuzz_control and build/fuzz/fuzz_osc (clang, libFuzzer,
# ASan + UBSan, the real conductor sources except main.c and link_sync.c), then fuzzes each
# target for SECONDS from build/fuzz/corpus_<target>: a copy of the seeds in
# tests/fuzz/corpus_<target> that keeps what the fuzzer finds between runs
# (the committed seeds never grow). Output: build/fuzz/<target>.log; a crash,
# leak or timeout is saved as build/fuzz/crashes/<target>-<kind>-<sha1>.
# One result line per target; exits 1 if any target failed.
#
# Reproduce a crash:   build/fuzz/fuzz_<target> build/fuzz/crashes/<file>
# Env: FUZZ_CC (default clang), FUZZ_JOBS (parallel compiles, default nproc),
#      FUZZ_CFLAGS (extra compiler flags, e.g. -fsanitize-recover=float-cast-overflow
#      to log a known UBSan report and keep fuzzing), FUZZ_ARGS (extra
#      libFuzzer flags). The binaries read FZ_VERBOSE=1 (fuzz_control: print
#      each request and reply), FZ_NO_NETNS=1 (no private network namespace),
#      FZ_NO_FORK=1 (no janitor process; for debuggers). See harness.h.
set -u
{ # read whole before running: editing this file mid-run can't derail a run
cd "$(dirname "$0")/../.." || exit 2

secs=20
build_only=0
coverage=0
case ${1:-} in
build) build_only=1; shift ;;
coverage) coverage=1; shift ;;
'' | *[!0-9]*) ;;
*) secs=$1; shift ;;
esac
targets=${*:-control osc}

out=build/fuzz
cc=${FUZZ_CC:-clang}
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
libs="-lsoundio -ljack -lasound -lnng -llo -lcjson -lsndfile -lsystemd -lpthread -lm"
flags=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
    -fno-omit-frame-pointer -std=c11 -D_GNU_SOURCE -Wall -Wextra -Ishm -Iconductor ${FUZZ_CFLAGS:-})
mkdir -p "$out/obj" "$out/crashes" || exit 2
# One run at a time per checkout: a second `make test` waits for the first
# (they share the objects, binaries, corpora and logs in build/fuzz).
exec 9>"$out/.lock"
if ! flock -n 9; then
    echo "fuzz: waiting for another tests/fuzz/run.sh in this checkout to finish"
    flock 9
fi
# different flags than the objects were built with: rebuild them all
if [ "$(cat "$out/obj/flags" 2>/dev/null)" != "$cc ${flags[*]}" ]; then
    rm -f "$out"/obj/*.o
    echo "$cc ${flags[*]}" >"$out/obj/flags"
fi

# ------------------------------------------------------------------ build
# Engine objects get -Dfopen=fz_fopen (harness.c: no reads of devices,
# FIFOs, /proc or /sys); each is rebuilt when it or a header changed.
build() {
    local srcs=() objs=() pids=() failed=0 hdr_time
    hdr_time=$(stat -c %Y shm/*.h conductor/*.h tests/fuzz/harness.h | sort -n | tail -1)
    for s in conductor/*.c shm/segment.c shm/input.c; do
        # main.c: the harness is the main; link_sync.c: Ableton Link (C++, the
        # network) stays out, the "link" command only records its request
        case $s in conductor/main.c | conductor/link_sync.c) continue ;; esac
        local o="$out/obj/$(echo "${s%.c}" | tr / _).o"
        objs+=("$o")
        if [ ! -e "$o" ] || [ "$s" -nt "$o" ] || [ "$(stat -c %Y "$o")" -lt "$hdr_time" ]; then
            srcs+=("$s:$o")
        fi
    done
    for so in "${srcs[@]}"; do
        while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 0.1; done
        "$cc" "${flags[@]}" -Dfopen=fz_fopen -c "${so%%:*}" -o "${so##*:}.tmp" &&
            mv "${so##*:}.tmp" "${so##*:}" &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || failed=1; done
    [ $failed = 0 ] || return 1
    "$cc" "${flags[@]}" -DFZ_REPO="\"$PWD\"" -c tests/fuzz/harness.c -o "$out/obj/harness.o" ||
        return 1
    for t in control osc; do
        "$cc" "${flags[@]}" tests/fuzz/fuzz_$t.c "$out/obj/harness.o" "${objs[@]}" \
            -o "$out/fuzz_$t" $libs || return 1
    done
}

# ------------------------------------------------------------- coverage
# Source-based coverage (no sanitizers) of the engine files, from running
# each target once over its corpus in build/fuzz (seeds plus finds).
if [ $coverage = 1 ]; then
    cdir=$out/cov
    mkdir -p "$cdir"
    cflags=(-g -O0 -fprofile-instr-generate -fcoverage-mapping -fsanitize=fuzzer -std=c11
        -D_GNU_SOURCE -Ishm -Iconductor)
    engine=()
    for s in conductor/*.c shm/segment.c shm/input.c; do
        case $s in conductor/main.c | conductor/link_sync.c) ;; *) engine+=("$s") ;; esac
    done
    for t in $targets; do
        objs=()
        for s in "${engine[@]}"; do
            o="$cdir/$(echo "${s%.c}" | tr / _).o"
            "$cc" "${cflags[@]}" -Dfopen=fz_fopen -c "$s" -o "$o" || exit 1
            objs+=("$o")
        done
        "$cc" "${cflags[@]}" -DFZ_REPO="\"$PWD\"" tests/fuzz/harness.c tests/fuzz/fuzz_$t.c \
            "${objs[@]}" -o "$cdir/fuzz_$t" $libs || exit 1
        mkdir -p "$out/corpus_$t"
        cp -n tests/fuzz/corpus_$t/* "$out/corpus_$t"/ 2>/dev/null
        rm -f "$cdir/$t.profraw"
        LLVM_PROFILE_FILE="$cdir/$t.profraw" "$cdir/fuzz_$t" -runs=0 -close_fd_mask=2 \
            "$out/corpus_$t" </dev/null >"$cdir/$t.log" 2>&1
        llvm-profdata merge -o "$cdir/$t.profdata" "$cdir/$t.profraw" || exit 1
        echo "== $t: coverage of the engine by build/fuzz/corpus_$t"
        llvm-cov report "$cdir/fuzz_$t" -instr-profile="$cdir/$t.profdata" "${engine[@]}"
        llvm-cov show "$cdir/fuzz_$t" -instr-profile="$cdir/$t.profdata" -format=html \
            -output-dir="$cdir/html-$t" "${engine[@]}" >/dev/null 2>&1 &&
            echo "   (annotated sources: $cdir/html-$t/index.html)"
    done
    exit 0
fi

if ! build; then
    echo "fuzz: BUILD FAILED (see above; needs clang with libFuzzer: apt-get install clang libclang-rt-14-dev)"
    exit 1
fi
[ $build_only = 1 ] && { echo "fuzz: built $out/fuzz_control $out/fuzz_osc"; exit 0; }

# ------------------------------------------------------------------- run
uid=$(id -u)
tbase=${TMPDIR:-/tmp}
status=0
for t in $targets; do
    bin=$out/fuzz_$t
    corpus=$out/corpus_$t
    log=$out/$t.log
    [ -x "$bin" ] || { echo "fuzz $t: FAIL (no such target)"; status=1; continue; }
    mkdir -p "$corpus"
    cp -n tests/fuzz/corpus_$t/* "$corpus"/ 2>/dev/null
    # -close_fd_mask=2: the conductor logs every event to stderr; libFuzzer
    # and sanitizer reports still reach the log through a duplicate.
    # shellcheck disable=SC2086
    timeout --kill-after=10 $((secs + 120)) "$bin" "$corpus" \
        -dict=tests/fuzz/$t.dict -max_len=4096 -rss_limit_mb=2048 -timeout=30 \
        -max_total_time="$secs" -print_final_stats=1 -close_fd_mask=2 \
        -artifact_prefix="$out/crashes/$t-" ${FUZZ_ARGS:-} </dev/null >"$log" 2>&1 &
    pid=$!
    wait $pid
    rc=$?
    # The fuzzer's own instance (fuzz-<pid>): left only if it died.
    fpid=$(grep -ao 'conductor fuzz-[0-9]* up' "$log" | head -1 | tr -dc 0-9)
    if [ -n "$fpid" ]; then
        rm -f /dev/shm/kanon."$uid".fuzz-"$fpid".* 2>/dev/null
        rm -rf "$tbase"/kanon-fuzz-"$fpid".* 2>/dev/null
    fi
    runs=$(grep -a '^stat::number_of_executed_units:' "$log" | tail -1 | tr -dc 0-9)
    rate=$(grep -a '^stat::average_exec_per_sec:' "$log" | tail -1 | tr -dc 0-9)
    cov=$(grep -ao 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -ao 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    files=$(find "$corpus" -type f | wc -l)
    if [ $rc -eq 0 ]; then
        echo "fuzz $t: PASS ${runs:-?} runs in ${secs}s (${rate:-?} exec/s), cov ${cov:-?} edges, ft ${ft:-?}, corpus $files"
    else
        status=1
        art=$(grep -a 'Test unit written to ' "$log" | tail -1 | sed 's/.*Test unit written to //')
        what=$(grep -a -m1 -oE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer): [a-zA-Z -]+|runtime error: .*|fuzz_(control|osc): .*' "$log")
        echo "fuzz $t: FAIL (exit $rc) ${what:-see the log}; input: ${art:-none saved}; log: $log"
    fi
done
exit $status
}
