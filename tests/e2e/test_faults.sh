# Crash isolation: a fault in one deck never stops the conductor or the other decks.
#
# Deck "sine" plays examples/sine.c panned hard left; deck "victim" plays
# tests/faults/good.c panned hard right (pans are exact: gain 1 on one side,
# 0 on the other, so the recording's left channel is the sine deck alone and
# the right channel the victim alone). The master is recorded the whole time.
# tests/faults/storm.py then injects every fault of tests/faults/ 3 times into
# the victim, by saving the fault file's content into the victim's watched
# file, and checks each injection (see storm.py and docs/safety.md):
#   - after the takeover (crash, exit, hang, SIGSTOP, 2x slow, NaN/Inf, 1e6,
#     stack overflow, malloc until failure, scribbled shared memory):
#     a "fault" event naming the fault in plain words and "reverted to version
#     G" (G = the last version that played >= 1 s fault-free), the revert
#     takes over and plays (version advanced, cartridge running); a hang is
#     noticed within 250 ms (a heartbeat stalled for 50 ms, or RLIMIT_RTTIME);
#   - before the takeover (compile errors, binary garbage, and crash/hang/NaN/
#     runaway in the test render): one "error" event, "refused" or "(the
#     previous version plays on)", the same cartridge still plays; a test-
#     render hang within 4 s. The slow ones (a macro bomb, test-render hangs:
#     2, 10 and 15 s deadlines) go to a second, muted deck "bomb", in parallel;
#   - not faults (fork/system/execve and sockets refused with EPERM, a
#     denormal storm, closing every fd, a 1 MiB source): the code plays on;
#   - the file emptied, deleted or renamed: the deck plays on;
#   - the recovery rules: a new save faulting soon after a revert (still
#     reverted), the give-up rule (the reverted version fails again within
#     1 s), a fault while a save compiles that is then refused (the deck must
#     come back), a new deck without a good version.
# Throughout: `kanon status` answers, the conductor keeps its pid, no zombie
# children. Afterwards:
#   - the recording's victim channel: no non-finite sample, nothing above
#     the victim signal's own level (no faulty output heard), each revert
#     resumes the state snapshot taken when the faulty version took over and
#     fades in, and the victim's state never jumps without a revert;
#   - the sine channel equals `kanon render` of sine.c sample for sample
#     (wavtool compare --tol 0 over the whole recording), 0 underruns and no
#     event on the sine deck but its start;
#   - exactly 3 cartridges (2 decks + the spare) are the conductor's children,
#     no zombie, the conductor's fd count within 3 of what it was before the
#     storm; after `kanon down` no kanon process of this test and no /dev/shm
#     segment of this instance is left.
# Prints the timings (fault -> verdict / revert running / revert heard, and
# the gap in the recording) at the end. ~1 min (~1.5 min with KANON_FAULT_HOLD=1.1).
# Environment: KANON_FAULT_ROUNDS (default 3), KANON_FAULT_SHUFFLE (a seed: random
# order within each round), KANON_FAULT_RULES_EVERY (the rules after every K-th
# round; default: once, at the end), KANON_FAULT_TYPES (comma-separated storm.py
# type names, for debugging; the rules are then skipped unless
# KANON_FAULT_RULES_EVERY is set), KANON_FAULT_KEEP (a
# directory: the results, report, fault log and recording are copied there).
# KANON_FAULT_HOLD (seconds a revert plays before the next injection; default 0.3 here,
# which chains reverts onto the same older good version; 1.1 makes every injection start
# from a good version: `make faults`, tests/soak.sh), KANON_FAULT_BACKEND=jack (a private
# jackd -d dummy with KANON_FAULT_JACK_PERIOD frames, default 256; for the benchmarks).
# tests/soak.sh sets the first three.
. "$(dirname "$0")/lib.sh"
FAULTS=$ROOT/tests/faults
export KANON_FAULT_HOLD=${KANON_FAULT_HOLD:-0.3}
export KANON_FAULT_LOG=$T/faults.log # the fault files stamp their faults here
rounds=${KANON_FAULT_ROUNDS:-3}
rules=${KANON_FAULT_RULES_EVERY:-$rounds}
[ -n "${KANON_FAULT_TYPES:-}" ] && [ -z "${KANON_FAULT_RULES_EVERY:-}" ] && rules=0
errors=0
bad() { echo "FAIL: $*"; errors=$((errors + 1)); }
save() { cp "$1" "$T/victim.c.tmp" && mv "$T/victim.c.tmp" "$T/victim.c"; }

if [ "${KANON_FAULT_BACKEND:-dummy}" = jack ]; then # for the benchmarks (scripts/bench.py)
    start_jackd "${KANON_FAULT_JACK_PERIOD:-256}"
    trap 'kanon down >/dev/null 2>&1; stop_jackd; cleanup' EXIT
    up --backend jack --tier tcc
else
    # --tier tcc: the storm is about the tcc builds' faults, and counts the
    # conductor's children and the revert's cartridge id; the cc tier's
    # faults are tests/e2e/test_tier.sh's
    up --tier tcc
fi
cp "$FAULTS/fault.h" "$FAULTS/escape.h" "$T/"
cp "$FAULTS/silent.c" "$T/victim.c"
# Recording first: the sine's onset pins its alignment with the render.
kanon record start "$T/live.wav" >/dev/null || fail "record start"
rec_start=$(date +%s.%N)
kanon play "$ROOT/examples/sine.c" >"$T/play.out" 2>&1 || fail "play sine: $(cat "$T/play.out")"
kanon pan sine -1 >/dev/null || fail "pan sine" # its left gain stays exactly 1
kanon play "$T/victim.c" --deck victim >"$T/play.out" 2>&1 || fail "play victim: $(cat "$T/play.out")"
kanon pan victim 1 >/dev/null || fail "pan victim"
save "$FAULTS/good.c" # heard only now, panned right
victim_v() { status_field '[d["version"] for d in s["decks"] if d["name"] == "victim"][0]'; }
victim_at_v2() { [ "$(victim_v)" = 2 ]; }
wait_for victim_at_v2 || fail "good.c did not take over: $(kanon log victim)"
CPID=$(status_field 's["pid"]')
sleep 1.1 # good.c plays > 1 s: the victim has a good version
fds0=$(ls /proc/"$CPID"/fd | wc -l)
ok "conductor $CPID: sine (left) and victim (right) playing, recording; $fds0 fds"

python3 "$FAULTS/storm.py" run --victim "$T/victim.c" --results "$T/results.json" \
    --rounds "$rounds" ${KANON_FAULT_TYPES:+--types "$KANON_FAULT_TYPES"} --rules-every "$rules" \
    ${KANON_FAULT_SHUFFLE:+--shuffle "$KANON_FAULT_SHUFFLE"} ||
    bad "fault storm: see the failures above"

kanon status >/dev/null || fail "the conductor does not answer after the storm"
[ "$(status_field 's["pid"]')" = "$CPID" ] || fail "the conductor was replaced"
kanon record stop --json >"$T/rec.json" || fail "record stop"
python3 -c "import json,sys; r=json.load(open('$T/rec.json')); sys.exit(r['dropped'] != 0)" ||
    bad "the recorder dropped frames: $(cat "$T/rec.json")"
secs=$(python3 -c "import json; print(int(json.load(open('$T/rec.json'))['seconds']))")
ok "conductor alive, same pid; recorded $secs s"

# Processes and descriptors, once the last cartridges have been reaped.
settled() {
    [ "$(python3 "$FAULTS/storm.py" procs "$CPID" | grep -c .)" = 3 ] &&
        ! python3 "$FAULTS/storm.py" procs "$CPID" | grep -q " Z" &&
        [ "$(status_field 'sum(1 for d in s["decks"] if "next" in d)')" = 0 ]
}
wait_for settled || bad "children of the conductor (want 3 kanon-cartridge: 2 decks + spare): $(python3 "$FAULTS/storm.py" procs "$CPID" | tr '\n' ';')"
others=$(python3 "$FAULTS/storm.py" procs "$CPID" | grep -vc " kanon-cartrid")
[ "$others" = 0 ] || bad "children of the conductor that are not cartridges: $(python3 "$FAULTS/storm.py" procs "$CPID")"
fds1=$(ls /proc/"$CPID"/fd | wc -l)
[ $((fds1 - fds0)) -le 3 ] && [ $((fds0 - fds1)) -le 3 ] ||
    bad "the conductor had $fds0 fds before the storm and $fds1 after"
ok "children: $(python3 "$FAULTS/storm.py" procs "$CPID" | awk '{print $3}' | sort | uniq -c | xargs); fds $fds0 -> $fds1"

# The victim's channel: what was heard of each fault and each revert; timings.
python3 "$FAULTS/storm.py" analyze --results "$T/results.json" --recording "$T/live.wav" \
    --report "$T/report.json" --rec-start "$rec_start" || bad "victim channel: see above"

# The sine deck, next door the whole time: untouched.
sine_faults=$(kanon log sine --json | python3 -c "
import json, sys
print('; '.join(e['text'] for e in json.load(sys.stdin) if e['kind'] not in ('compiling', 'running') or e['version'] > 1))")
[ -z "$sine_faults" ] || bad "events on the sine deck, where no fault was injected: $sine_faults$(
    case "$sine_faults" in *hung*) echo " (a healthy cartridge taken for hung: the 50 ms heartbeat limit under CPU load, see docs/safety.md, Known gaps)" ;; esac)"
u=$(status_field '[d["underruns"] for d in s["decks"] if d["name"] == "sine"][0]')
[ "$u" = 0 ] || bad "sine deck underruns: $u"
kanon render "$ROOT/examples/sine.c" --seconds $((secs + 20)) -o "$T/render.wav" 2>/dev/null || fail "render"
python3 "$FAULTS/storm.py" channel "$T/live.wav" 0 "$T/live_left.wav" || fail "channel"
python3 "$FAULTS/storm.py" channel "$T/render.wav" 0 "$T/render_left.wav" || fail "channel"
if wavtool compare "$T/render_left.wav" "$T/live_left.wav" --tol 0 --min-overlap $((secs - 1)) \
    >"$T/cmp.json"; then
    ok "sine deck: $secs s equal to the render sample for sample, 0 underruns"
else
    bad "sine deck != render: $(python3 -c "
import json; c = json.load(open('$T/cmp.json'))
print('max diff %s, first differing frame %s (%.3f s into the recording), overlap %.1f s' % (
    c['max_abs_diff'], c['first_diff_frame'], (c['first_diff_frame'] - c['offset']) / 48000.0,
    c['overlap_seconds']))")"
fi

if [ -n "${KANON_FAULT_KEEP:-}" ]; then
    mkdir -p "$KANON_FAULT_KEEP" && cp "$T"/results.json "$T"/report.json "$KANON_FAULT_LOG" \
        "$T"/live.wav "$KANON_FAULT_KEEP"/ 2>/dev/null
fi

# Nothing left behind. Kanon processes are recognised by their environment (they
# inherit this test's KANON_FAULT_LOG from the conductor), not by pid: other
# tests' cartridges may reuse the pids of ours.
kanon down >/dev/null || fail "down"
left=""
for p in /proc/[0-9]*; do
    case "$(cat "$p/comm" 2>/dev/null)" in kanon-cartrid* | kanon-conduct*) ;; *) continue ;; esac
    tr '\0' '\n' 2>/dev/null <"$p/environ" | grep -qxF "KANON_FAULT_LOG=$KANON_FAULT_LOG" &&
        left="$left ${p#/proc/}"
done
[ -z "$left" ] || bad "kanon processes of this test left after kanon down:$left"
shm=$(ls /dev/shm | grep -F "kanon.$(id -u).$KANON_INSTANCE." || true)
[ -z "$shm" ] || bad "shared memory left after kanon down: $shm"
[ -z "$left$shm" ] && ok "after kanon down: no kanon process, no shared memory left"
[ "$errors" = 0 ] || fail "$errors check(s) failed"
