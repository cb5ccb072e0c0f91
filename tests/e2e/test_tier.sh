# Tiered compilation (docs/hot-swap.md, "The second tier"), with the real
# conductor, cartridges, libtcc and the system C compiler:
#   - speed: bench/p2_plain.c on two decks of one conductor, "fast" (the
#     default, --tier auto) and "held" (`play --tier tcc`): fast reaches the
#     cc tier (status "tier": "cc", a "tier" event "v1 runs its cc build"),
#     held stays on tcc and never optimizes; over 12 load windows of both
#     decks side by side, fast's median DSP load is at most 0.6 of held's
#     (cc at least 1.67x faster; the ratio is printed). The issue's goal,
#     at most half, is a timing figure: `make bench` (section tier)
#     measures it, 0.48 on the 2-core VM; p2_plain.c's filters are a
#     recursion that gcc cannot make more than ~2x faster than tcc, so a
#     test holding 0.5 would fail on a busy machine by chance;
#   - bit-exact: every example that makes sound alone, whose tcc and cc
#     renders are bit-identical offline, swaps tiers live with the log saying
#     "takeover without a fade", and the deck's stem recorded across the
#     swap (the recording starts before the deck) equals `kanon render` of
#     the file sample for sample (--tol 0, at the offset and start beat
#     status gives), batches of 5 decks with 0 underruns;
#   - cancel and compiler bomb (tier/cc_bomb.c: a macro bomb only cc sees):
#     a save while its cc compile runs cancels it ("cancelled: a newer version
#     came", the compiler's whole process group gone), the new version plays
#     on tcc, and its own cc compile is stopped by the sandbox's limits ("no
#     cc tier for v2: the C compiler ...; its tcc build plays on") while the
#     deck plays on, tier tcc, no fault, no underrun;
#   - a crash of cc-tier code (tier/cc_crash.c: NULL dereference only under
#     __OPTIMIZE__, after the takeover): a fault event reverting to version 1
#     "(its tcc build", the deck plays again on tcc and is not optimized again.
. "$(dirname "$0")/lib.sh"
export PYTHONDONTWRITEBYTECODE=1
SW=$ROOT/tests/e2e/swap
TD=$ROOT/tests/e2e/tier
command -v "${KANON_CC:-cc}" >/dev/null || { echo "SKIP: no C compiler (cc) for the second tier"; exit 77; }
mkdir -p "$T/src"

# ---------------------------------------------------------------- speed
mkdir -p "$T/tmp"
TMPDIR=$T/tmp up --compile-timeout 3 # the cc builds' private directories go in $T/tmp
cp "$ROOT/bench/p2_plain.c" "$T/src/fast.c"
cp "$ROOT/bench/p2_plain.c" "$T/src/held.c"
kanon play "$T/src/held.c" --tier tcc >/dev/null || fail "play held"
kanon play "$T/src/fast.c" >/dev/null || fail "play fast"
python3 - "$SW" <<'PY' || fail "speed"
import statistics, sys, time
sys.path.insert(0, sys.argv[1])
from swaplib import *
try:
    wait_until(lambda: deck("fast")["tier"] == "cc", "deck fast to reach the cc tier", 60)
    if not [e for e in events("fast") if e["kind"] == "tier" and "v1 runs its cc build" in e["text"]]:
        raise Fail("no 'v1 runs its cc build' event: %s" % events("fast"))
    loads = {"fast": [], "held": []}
    for _ in range(12):  # a load window is 0.5 s of the conductor's: one new figure each
        advance("fast", 24000)
        for name in loads:
            d = deck(name)
            loads[name].append(d["load"])
    held = deck("held")
    if held["tier"] != "tcc" or held["optimizing"] is not None or held["tier_auto"]:
        raise Fail("deck held (--tier tcc): tier %s, optimizing %s" % (held["tier"], held["optimizing"]))
    if [e for e in events("held") if e["kind"] == "tier"]:
        raise Fail("deck held (--tier tcc) has tier events: %s" % events("held"))
    mf, mh = statistics.median(loads["fast"]), statistics.median(loads["held"])
    if not mf <= 0.6 * mh:
        raise Fail("cc tier not 1.67x faster: median DSP load %.2f%% (cc) against %.2f%% (tcc): %s" % (mf, mh, loads))
    print("  ok: p2_plain.c reached the cc tier; median DSP load %.2f%% (cc) against %.2f%% (tcc held): %.2fx"
          % (mf, mh, mh / mf if mf else 0))
except Fail as e:
    print("FAIL:", e)
    sys.exit(1)
PY
kanon stop fast >/dev/null && kanon stop held >/dev/null || fail "stop"

# ----------------------------------------------------------- bit-exact
EFFECTS="bus_reverb ducker input_delay" # no sound alone (test_examples.sh)
agree=() differ=()
for f in "$ROOT"/examples/*.c; do
    n=$(basename "$f" .c)
    [[ " $EFFECTS " == *" $n "* ]] && continue
    kanon render "$f" --seconds 1 -o "$T/$n.cc.wav" 2>"$T/render.err" || fail "render $n: $(cat "$T/render.err")"
    kanon render "$f" --seconds 1 --tier tcc -o "$T/$n.tcc.wav" 2>/dev/null || fail "render $n --tier tcc"
    grep -q "cc tier" "$T/render.err" || fail "render $n did not use the cc tier: $(cat "$T/render.err")"
    if cmp -s "$T/$n.cc.wav" "$T/$n.tcc.wav"; then agree+=("$n"); else differ+=("$n"); fi
done
ok "${#agree[@]} examples render bit-identical on both tiers; differ: ${differ[*]:-none}"
[ ${#agree[@]} -ge 10 ] || fail "fewer than 10 examples agree across the tiers: ${differ[*]}"

batch() { # NAMES...: record stems, play (tcc), across their tier swaps, compare
    rm -rf "$T/stems"
    machine_mark
    # recording first: each stem holds the deck's whole life (a new deck
    # starts on its tcc build), tier swap included
    kanon record start "$T/stems" --stems >/dev/null || fail "record start"
    for n in "$@"; do
        kanon play "$ROOT/examples/$n.c" --deck "$n" --no-watch >/dev/null || fail "play $n"
    done
    python3 - "$SW" "$@" <<'PY' || fail "tier swaps"
import sys
sys.path.insert(0, sys.argv[1])
from swaplib import *
try:
    for n in sys.argv[2:]:
        wait_until(lambda: deck(n)["tier"] == "cc", "deck %s to reach the cc tier" % n, 60)
        t = [e["text"] for e in events(n) if e["kind"] == "tier"]
        if not any("takeover without a fade" in x for x in t):
            raise Fail("deck %s: no fadeless takeover in %s" % (n, t))
    # the last deck started last: once it has played 0.75 s more, every
    # stem holds more than the 0.6 s the comparison needs after the swap
    advance(sys.argv[-1], 36000)
except Fail as e:
    print("FAIL:", e)
    sys.exit(1)
PY
    kanon record stop --json >"$T/stop.json" || fail "record stop"
    underruns_ok "$@" || fail "underruns during the tier swaps"
    for n in "$@"; do
        local off secs beat
        off=$(render_offset "$n" "$T/stop.json") || fail "$n: offset: $off"
        secs=$(python3 -c "import json; print(json.load(open('$T/stop.json'))['seconds'])")
        # the render on the deck's timeline: its first frame at the deck's start beat
        beat=$(status_field "[d for d in s['decks'] if d['name'] == '$n'][0]['start_beat']")
        kanon render "$ROOT/examples/$n.c" --start "$beat" --seconds "$(python3 -c "print(round($secs + 3))")" \
            -o "$T/$n.render.wav" 2>/dev/null || fail "render $n"
        wavtool compare "$T/$n.render.wav" "$T/stems/$n.wav" --tol 0 --offset "$off" \
            --min-overlap 0.6 >"$T/$n.cmp.json" ||
            fail "$n: the stem across the tier swap != render: $(cat "$T/$n.cmp.json")"
        kanon stop "$n" >/dev/null || fail "stop $n"
    done
    ok "tier swaps bit-exact against the render: $*"
}
i=0
while [ $i -lt ${#agree[@]} ]; do
    batch "${agree[@]:$i:5}"
    i=$((i + 5))
done

# ------------------------------------------------ cancel, compiler bomb
cp "$TD/cc_bomb.c" "$T/src/bomb.c"
kanon play "$T/src/bomb.c" >/dev/null || fail "play bomb"
machine_mark
python3 - "$SW" "$T/src/bomb.c" <<'PY' || fail "cancel and bomb"
import os, sys
sys.path.insert(0, sys.argv[1])
from swaplib import *
path = sys.argv[2]
def group_gone(pid):
    try:
        os.killpg(pid, 0)
        return False
    except ProcessLookupError:
        return True
try:
    o = wait_until(lambda: (deck("bomb")["optimizing"] or {}).get("pid"), "deck bomb's cc compile to start", 30)
    save_rename(path, open(path, "rb").read() + b"/* a newer version */\n")
    wait_version("bomb", 2)
    t = [e["text"] for e in events("bomb") if e["kind"] == "tier"]
    if not any("cc compile of v1 cancelled: a newer version came" in x for x in t):
        raise Fail("no cancellation of v1's cc compile: %s" % t)
    wait_until(lambda: group_gone(o), "the cancelled compiler's process group %d to go" % o, 15)
    # v2's own compile runs into the limits; the tcc build plays on
    wait_until(lambda: any("no cc tier for v2: the C compiler" in e["text"] for e in events("bomb")),
               "v2's cc compile to be stopped by its limits", 60)
    advance("bomb", 12000)
    d = deck("bomb")
    t = [e["text"] for e in events("bomb") if e["kind"] == "tier"]
    if d["tier"] != "tcc" or d["optimizing"] is not None or d["version"] != 2:
        raise Fail("deck bomb: tier %s, optimizing %s, version %d" % (d["tier"], d["optimizing"], d["version"]))
    if not any("its tcc build plays on" in x for x in t):
        raise Fail("the refusal does not say the tcc build plays on: %s" % t)
    check_deck("bomb", 2)
    print("  ok: a save cancelled the cc compile (group %d gone); the bomb's compile was stopped: %s"
          % (o, [x for x in t if "v2" in x][-1]))
except Fail as e:
    print("FAIL:", e)
    sys.exit(1)
PY
underruns_ok bomb || fail "underruns while the bomb compiled"
kanon stop bomb >/dev/null || fail "stop bomb"

# --------------------------------------------------- a crash in cc code
cp "$TD/cc_crash.c" "$T/src/crash.c"
kanon play "$T/src/crash.c" >/dev/null || fail "play crash"
python3 - "$SW" <<'PY' || fail "cc crash"
import sys
sys.path.insert(0, sys.argv[1])
from swaplib import *
try:
    wait_until(lambda: [e for e in events("crash") if e["kind"] == "fault"], "the cc build to crash", 60)
    f = [e["text"] for e in events("crash") if e["kind"] == "fault"]
    if "SIGSEGV" not in f[0] or "reverted to version 1 (its tcc build" not in f[0]:
        raise Fail("fault event: %s" % f)
    if not [e for e in events("crash") if e["kind"] == "tier" and "v1 runs its cc build" in e["text"]]:
        raise Fail("the crash came before the cc build ran: %s" % events("crash"))
    wait_until(lambda: deck("crash")["cartridge"]["state"] == "running" and deck("crash")["version"] == 2,
               "the revert to play", 15)
    advance("crash", 48000)  # a second: a cc build would have come and crashed by now
    d = deck("crash")
    if d["tier"] != "tcc" or d["optimizing"] is not None or len(f) != 1:
        raise Fail("after the revert: tier %s, optimizing %s, faults %s" % (d["tier"], d["optimizing"], f))
    if len([e for e in events("crash") if e["kind"] == "fault"]) != 1:
        raise Fail("more faults: %s" % events("crash"))
    print("  ok: %s" % f[0])
except Fail as e:
    print("FAIL:", e)
    sys.exit(1)
PY
kanon down >/dev/null || fail "down"
[ -z "$(ls -A "$T/tmp")" ] || fail "cc build directories were left: $(ls -A "$T/tmp")"
ok "no cc build directory left"
exit 0
