# Routing, end to end (docs/routing.md): decks feeding decks, on one
# conductor on the dummy backend, checked in one recording of the master by
# exact float32 arithmetic (tests/e2e/routing/an.py). The sources are
# constants (routing/dc.c: 0.1 on every channel, knob "level"), so every
# level is one exact float32 value, and routing/gain_fx.c (port "in" times
# its knob "gain") is the effect.
#   - a post-fader send: a (0.1) -> fx (gain 2) at -6 dB, `unroute a master`:
#     the master is f32(f32(0.1 * f32(10^(-6/20))) * 2) on every frame, and
#     `kanon routes --json` lists the route (and no a -> master);
#   - a gain change glides: route a fx --gain 0 moves the level once,
#     monotonically, through 400..500 frames (the 10 ms ramp), no step larger
#     than the change / 480 (+5 %), and ends exactly at the new level;
#   - `unroute a fx` glides out and `route a fx` glides in the same way
#     (400..500 frames, no step beyond the level / 480 + 5 %);
#   - post vs --pre: fx (post, panned left) and fx2 (pre, panned right) both
#     fed by a: `kanon gain a -6` moves the left channel only, `kanon mute a`
#     silences the left only; the right stays 0.1 exactly; turning the post
#     send into a --pre one glides from one level to the other (400..500
#     frames), no jump;
#   - the master route: a new deck b is on the master at 0 dB (routes --json
#     and the recording), `unroute b master` silences its direct path
#     exactly, `route b master --gain -6` brings it back at exactly -6 dB;
#   - cycles: a -> b, b -> c, then c -> a is refused with the cycle spelled
#     out ("a -> b -> c -> a"), a -> a too; the table is unchanged after;
#   - a route to a deck that does not play yet is listed, and carries audio
#     once the deck plays;
#   - a sidechain port: side_probe.c plays port "in" on the left and its
#     declared port "side" on the right: b (0.3) -> probe, a (0.1) ->
#     probe:side give exactly 0.3 | 0.1;
#   - OSC: /kanon/route ssf a fx -6 and /kanon/unroute ss change the table;
#     wrong types, a bad gain and a cycle are answered with /kanon/error;
#   - bad input: an unknown option, "master:x", --gain 99, the input without
#     --inputs, a route that does not exist: exit 1 and a message that says
#     what is wrong;
#   - a source swap (a save of the source's file, 0.1 -> 0.3) fades on the
#     route: the effect's output glides once through the crossfade (20 ms:
#     900..1000 frames) with no step beyond 0.2/960 (+5 %);
#   - faults: a source that crashes (routing/crashy.c, SIGSEGV on a knob):
#     its consumer stays running with 0 underruns, fades it out over ~1 ms
#     (no step beyond 0.1/48) and is then exactly silent, no NaN; an effect
#     whose new version outputs NaN (routing/nan_fx.c saved over gain_fx.c):
#     faulted, silent, reverted to version 1 and heard again, while its
#     source's direct path (the other channel) stays exactly 0.1 on every
#     frame and the source has 0 underruns and no fault;
#   - latency compensation: routing/late_fx.c is a pure delay of 300 frames
#     that declares k->latency = 300; a click source routed to it (--pre) and
#     to the master: the dry master route is delayed by 300 (routes --json,
#     status master_delay), and in the recording the dry clicks (panned
#     left) and the processed ones (panned right) fall on the same frames;
#     a bed of 0.1 (dc.c) under them never dips below 0.1 while the
#     compensation comes (late plays) and goes (late stops): the change of
#     delay is crossfaded, no gap, and ends exact.
# Every wait polls a condition (meters, status, routes); the analysis
# windows start after the meters showed the state they check
# (control/wait.py window), so the test is about levels, never timing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control/lib.sh"
R=$ROOT/tests/e2e/routing
P=$(free_port 0)
up --osc-port "$P"
CHECKS=$T/checks.txt
: >"$CHECKS"
W=0.2 # analysis window, seconds

# check KIND NAME START LENGTH ARGS...: an exact check of the recording (an.py), run at the end
check() { echo "$*" >>"$CHECKS"; }
# settle PYEXPR: waits until the meters show PYEXPR, prints the start of a recorded window
# (length $W) mixed after that (or why not: at=$(settle ...) || fail "$at")
settle() {
    meter_wait "$1" || { echo "the meters never showed $1: $(kanon meters --json)"; return 1; }
    python3 "$CTL/wait.py" window 0.15 "$W"
}
# upto FROM AT: the length of [FROM, AT + W), seconds
upto() { awk -v a="$1" -v b="$2" -v w="$W" 'BEGIN { printf "%.4f\n", b + w - a }'; }
# dbfs X: 20 log10(X), for meter conditions
dbfs() { python3 -c "import math; print('%.4f' % (20 * math.log10($1)))"; }
# at_db WHO X: PYEXPR "WHO's peak is at X (linear) within 0.01 dB"
at_db() { echo "abs($1['peak_db'] - $(dbfs "$2")) < 0.01"; }
silent_db() { echo "$1['peak_db'] <= -119"; }
routes_has() { # PYEXPR on `kanon routes --json` (r: the list; by (src, dst, port) in k)
    kanon routes --json >"$T/routes.json" || fail "routes --json"
    python3 -c "
import json, sys
r = json.load(open('$T/routes.json'))
k = {(x['src'], x['dst'], x['port']): x for x in r}
sys.exit(0 if ($1) else 1)" || fail "kanon routes --json does not show $1: $(cat "$T/routes.json")"
}
routes_wait() { wait_for routes_has "$1" || routes_has "$1"; } # polls up to 10 s
play() { # FILE DECK
    kanon play "$1" --deck "$2" >"$T/play.out" 2>&1 || fail "play $2: $(cat "$T/play.out")"
}
run() { "$@" >"$T/out" 2>&1 || fail "$*: $(cat "$T/out")"; }
status_wait() { python3 "$CTL/wait.py" status "$1" >"$T/w.out" || fail "$(cat "$T/w.out"): $(kanon status)"; }

rec_start "$T/r.wav"

# ------------------------------------------------------------ a post-fader send
play "$R/dc.c" a
play "$R/gain_fx.c" fx
run kanon set fx.gain 2
run kanon route a fx --gain -6
run kanon unroute a master
routes_has 'k[("a", "fx", "in")] == {"src": "a", "dst": "fx", "port": "in", "gain_db": -6, "pre": False, "delay": 0}
  and ("a", "master", "") not in k and k[("fx", "master", "")]["gain_db"] == 0'
ok "route a fx --gain -6; unroute a master: routes --json lists a -> fx:in -6 dB post, no a -> master"
SEND='mul(mul(0.1,db(-6)),2)'
at=$(settle "$(at_db 'm["master"]' 0.1002374)") || fail "$at"
check exact post-send "$at" $W "$SEND" "$SEND"

# ------------------------------------------------------------ a gain change glides
t0=$(rec_secs)
run kanon route a fx --gain 0
at=$(settle "$(at_db 'm["master"]' 0.2)") || fail "$at"
check glide route-gain-glide "$t0" "$(upto "$t0" "$at")" 0 "$SEND" 'mul(0.1,2)' 400 500 \
    "$(python3 -c "print((0.2 - 0.1002374) / 480 * 1.05)")"

# ------------------------------------------------------------ an unroute glides out, a route glides in
t0=$(rec_secs)
run kanon unroute a fx
at=$(settle "$(silent_db 'm["master"]')") || fail "$at"
check glide unroute-glides-out "$t0" "$(upto "$t0" "$at")" 0 'mul(0.1,2)' 0 400 500 \
    "$(python3 -c "print(0.2 / 480 * 1.05)")"
t0=$(rec_secs)
run kanon route a fx
at=$(settle "$(at_db 'm["master"]' 0.2)") || fail "$at"
check glide route-glides-in "$t0" "$(upto "$t0" "$at")" 0 0 'mul(0.1,2)' 400 500 \
    "$(python3 -c "print(0.2 / 480 * 1.05)")"

# ------------------------------------------------------------ post vs pre
play "$R/gain_fx.c" fx2
run kanon route a fx2 --pre
routes_has 'k[("a", "fx2", "in")]["pre"] is True and k[("a", "fx", "in")]["pre"] is False'
run kanon pan fx -1
run kanon pan fx2 1
at=$(settle "$(at_db 'd["fx"]' 0.2) and $(at_db 'd["fx2"]' 0.1)") || fail "$at"
check exact post-pre-unity "$at" $W 'mul(0.1,2)' 0.1
run kanon gain a -6
at=$(settle "$(at_db 'd["fx"]' 0.1002374) and $(at_db 'd["fx2"]' 0.1)") || fail "$at"
check exact post-follows-gain "$at" $W "$SEND" 0.1
t0=$(rec_secs) # the tap of an existing route changes: crossfaded, no jump
run kanon route a fx --pre
at=$(settle "$(at_db 'd["fx"]' 0.2)") || fail "$at"
check glide tap-post-to-pre "$t0" "$(upto "$t0" "$at")" 0 "$SEND" 'mul(0.1,2)' 400 500 \
    "$(python3 -c "print((0.2 - 0.1002374) / 480 * 1.05)")"
run kanon route a fx
at=$(settle "$(at_db 'd["fx"]' 0.1002374)") || fail "$at"
run kanon mute a
at=$(settle "$(silent_db 'd["fx"]') and $(at_db 'd["fx2"]' 0.1)") || fail "$at"
check exact post-follows-mute "$at" $W 0 0.1
run kanon unmute a
run kanon gain a 0
ok "post and pre sends set up; gain and mute of the source (the recording is checked at the end)"

# ------------------------------------------------------------ the master route
run kanon mute fx # the master carries b alone from here
run kanon mute fx2
play "$R/dc.c" b
run kanon set b.level 0.3
routes_has 'k[("b", "master", "")] == {"src": "b", "dst": "master", "port": "", "gain_db": 0, "pre": False, "delay": 0}'
at=$(settle "$(at_db 'm["master"]' 0.3)") || fail "$at"
check exact master-default "$at" $W 0.3 0.3
run kanon unroute b master
routes_has '("b", "master", "") not in k'
at=$(settle "$(silent_db 'm["master"]') and $(at_db 'd["b"]' 0.3)") || fail "$at"
check exact master-unrouted "$at" $W 0 0
run kanon route b master --gain -6
routes_has 'k[("b", "master", "")]["gain_db"] == -6'
at=$(settle "$(at_db 'm["master"]' 0.1503563)") || fail "$at"
check exact master-minus-6 "$at" $W 'mul(0.3,db(-6))' 'mul(0.3,db(-6))'
run kanon unroute b master
ok "every deck on the master by default; unroute b master, route b master --gain -6 (checked at the end)"

# ------------------------------------------------------------ cycles
run kanon route a b
run kanon route b c
expect 1 kanon route c a
says "a -> b -> c -> a"
says "cycle"
expect 1 kanon route a a
says "itself"
expect 1 kanon route c a:side
says "a -> b -> c -> a"
routes_has '("c", "a", "in") not in k and ("a", "a", "in") not in k and ("c", "a", "side") not in k'
run kanon unroute a b
run kanon unroute b c
ok "a cycle is refused and named: $(head -1 "$T/err" | cut -c1-150)"

# ------------------------------------------------------------ a route to a deck not playing yet
run kanon route a later
routes_has 'k[("a", "later", "in")]["gain_db"] == 0 and not any(x["src"] == "later" for x in r)'
play "$R/gain_fx.c" later
at=$(settle "$(at_db 'm["master"]' 0.1)") || fail "$at"
check exact route-before-play "$at" $W 0.1 0.1
run kanon stop later
ok "a route to a deck that does not play yet is kept, and carries a once the deck plays"

# ------------------------------------------------------------ a sidechain port
play "$R/side_probe.c" probe
run kanon route b probe
run kanon route a probe:side
routes_has 'k[("a", "probe", "side")]["gain_db"] == 0 and k[("b", "probe", "in")]["gain_db"] == 0'
at=$(settle "$(at_db 'm["master"]' 0.3) and $(at_db 'd["probe"]' 0.3)") || fail "$at"
# the left is port "in" (b alone), the right port "side" (a alone)
check exact sidechain "$at" $W 0.3 0.1
run kanon stop probe
ok "side_probe.c: port in <- b, port side <- a (checked at the end)"

# ------------------------------------------------------------ OSC
oscsend 127.0.0.1 "$P" /kanon/route ssf a fx -6 || fail "oscsend"
routes_wait 'k[("a", "fx", "in")]["gain_db"] == -6 and k[("a", "fx", "in")]["pre"] is False'
oscsend 127.0.0.1 "$P" /kanon/route ssfi a fx2 -3 1 || fail "oscsend"
oscsend 127.0.0.1 "$P" /kanon/unroute ss a fx || fail "oscsend"
routes_wait '("a", "fx", "in") not in k and k[("a", "fx2", "in")]["gain_db"] == -3 and k[("a", "fx2", "in")]["pre"] is True'
ok "oscsend /kanon/route ssf a fx -6, /kanon/route ssfi a fx2 -3 1 and /kanon/unroute ss a fx change the routes"
run kanon route a b
run kanon route b c
python3 - "$CTL" "$P" >"$T/oscerr.txt" 2>&1 <<'PY' || fail "OSC errors: $(cat "$T/oscerr.txt")"
import sys
sys.path.insert(0, sys.argv[1])
from osc import Client
c = Client(int(sys.argv[2]))
def err(addr, types, args, want):
    got = c.call(addr, types, *args, timeout=3, until="/kanon/error")
    text = [m[2][0] for m in got if m[0] == "/kanon/error" and m[1] == "s"]
    assert text and want in text[0], (addr, types, args, got, want)
    print("%s ,%s %s -> %s" % (addr, types, args, text[0]))
err("/kanon/route", "ss", ["a", "fx"], "wants s SOURCE s DESTINATION")
err("/kanon/route", "sfs", ["a", 1.0, "fx"], "wants s SOURCE s DESTINATION")
err("/kanon/route", "ssf", ["a", "fx", 99.0], "-120..24 dB")
err("/kanon/route", "ssf", ["a", "master:x", 0.0], "the master has no ports")
err("/kanon/route", "ssf", ["c", "a", 0.0], "a -> b -> c -> a")
err("/kanon/unroute", "s", ["a"], "wrong argument types")
err("/kanon/unroute", "ss", ["a", "nowhere"], "no route a -> nowhere:in")
PY
sed 's/^/  ok: OSC error: /' "$T/oscerr.txt"
run kanon unroute a b
run kanon unroute b c

# ------------------------------------------------------------ bad input
expect 1 kanon route a fx --bogus
says "unknown option '--bogus'"
expect 1 kanon route a master:x
says "the master has no ports"
expect 1 kanon route a fx --gain 99
says "--gain"
says "24"
expect 1 kanon route in fx
says "no audio input"
says "kanon up --inputs"
expect 1 kanon route in:0 fx
says "'in', 'in:N' or 'in:N-M'"
expect 1 kanon unroute a nowhere
says "no route a -> nowhere:in"
expect 1 kanon route a
says "needs SRC and DST"
expect 1 kanon route "a b" fx
says "source 'a b'"
ok "bad input is refused with a reason: unknown option, master:x, --gain 99, in without --inputs, ..."

# ------------------------------------------------------------ a source swap fades on the route
for d in fx fx2; do run kanon stop "$d"; done # a and b are routed nowhere now: silent
save() { cp "$1" "$2.tmp" && mv "$2.tmp" "$2"; } # as an editor saves
sed 's/(float)kn_target(level)/0.1f/' "$R/dc.c" >"$T/sw.c"
play "$T/sw.c" sw
play "$R/gain_fx.c" swfx
run kanon route sw swfx
run kanon unroute sw master
at=$(settle "$(at_db 'm["master"]' 0.1)") || fail "$at"
check exact swap-before "$at" $W 0.1 0.1
t0=$(rec_secs)
sed 's/0\.1f/0.3f/' "$T/sw.c" >"$T/sw2.c"
save "$T/sw2.c" "$T/sw.c"
status_wait 'd["sw"]["version"] == 2 and d["sw"]["cartridge"]["state"] == "running" and "next" not in d["sw"]'
at=$(settle "$(at_db 'm["master"]' 0.3)") || fail "$at"
check glide swap-crossfade "$t0" "$(upto "$t0" "$at")" 0 0.1 0.3 900 1000 \
    "$(python3 -c "print(0.2 / 960 * 1.05)")"
run kanon stop swfx
run kanon stop sw
ok "sw.c saved (0.1 -> 0.3) while swfx reads it (the crossfade on the route is checked at the end)"

# ------------------------------------------------------------ faults: a source crashes
cp "$R/gain_fx.c" "$T/nfx.c" # the effect of the next part starts now: its version 1 must be good
play "$T/nfx.c" nfx
nfx_t0=$(date +%s.%N)
run kanon mute nfx
play "$R/crashy.c" cr
play "$R/gain_fx.c" crfx
run kanon route cr crfx
run kanon unroute cr master
at=$(settle "$(at_db 'm["master"]' 0.1)") || fail "$at"
check exact crash-before "$at" $W 0.1 0.1
t0=$(rec_secs)
run kanon set cr.crash 1
wait_for sh -c 'kanon log cr | grep -q SIGSEGV' || fail "no crash in the log of cr: $(kanon log cr)"
at=$(settle "$(silent_db 'm["master"]') and $(silent_db 'd["crfx"]')") || fail "$at"
check exact crash-silent-after "$at" $W 0 0
check steps crash-fades-out "$t0" "$(upto "$t0" "$at")" 0 \
    "$(python3 -c "print(0.1 / 48 * 1.05)")"
status_wait 'd["crfx"]["cartridge"]["state"] == "running" and d["crfx"]["underruns"] == 0 and d["crfx"]["nonfinite"] == 0 and d["crfx"]["version"] == 1'
kanon log crfx --json >"$T/crfx.json" || fail "log crfx"
# (its own tier swap, "tier" events, is its own business, not its source's)
json_get '"; ".join(e["text"] for e in j if e["kind"] not in ("compiling", "running", "tier"))' <"$T/crfx.json" >"$T/crfx.txt"
grep -q . "$T/crfx.txt" && fail "events on crfx, whose source crashed: $(cat "$T/crfx.txt")"
ok "cr crashed ($(kanon log cr | grep SIGSEGV | tail -1 | cut -c1-120)); crfx plays on: running, 0 underruns, silent"

# ------------------------------------------------------------ faults: an effect outputs NaN
run kanon stop crfx
run kanon stop cr
run kanon route a nfx --pre
run kanon route a master
run kanon pan a -1 # the left: a's own path; the right: nfx
run kanon pan nfx 1
run kanon unmute nfx
at=$(settle "$(at_db 'd["a"]' 0.1) and $(at_db 'd["nfx"]' 0.1)") || fail "$at"
check exact nan-before "$at" $W 0.1 0.1
t_a=$at # from here on, the left channel is a alone, untouched
# nfx's version 1 is good to revert to once it played 1 s fault-free (GOOD_AFTER_MS)
python3 -c "import time; time.sleep(max(0, 1.3 - (time.time() - $nfx_t0)))"
t0=$(rec_secs)
save "$R/nan_fx.c" "$T/nfx.c"
wait_for sh -c 'kanon log nfx | grep -q "reverted to version 1"' ||
    fail "nfx was not reverted to version 1: $(kanon log nfx)"
kanon log nfx | grep -q "NaN" || fail "the log does not say nfx produced NaN: $(kanon log nfx)"
status_wait 'd["nfx"]["version"] >= 3 and d["nfx"]["cartridge"]["state"] == "running"'
at=$(settle "$(at_db 'd["a"]' 0.1) and $(at_db 'd["nfx"]' 0.1)") || fail "$at"
check exact nan-after-revert "$at" $W 0.1 0.1
check exact nan-source-untouched "$t_a" "$(upto "$t_a" "$at")" 0.1 -
check zeros nan-silenced "$t0" "$(upto "$t0" "$at")" 1 48
status_wait 'd["a"]["underruns"] == 0 and d["a"]["cartridge"]["state"] == "running" and d["a"]["version"] == 1'
kanon log a --json >"$T/a.json" || fail "log a"
json_get '"; ".join(e["text"] for e in j if e["kind"] not in ("compiling", "running", "tier"))' <"$T/a.json" >"$T/a.txt"
grep -q . "$T/a.txt" && fail "events on a, whose consumer faulted: $(cat "$T/a.txt")"
ok "nfx faulted ($(kanon log nfx | grep NaN | tail -1 | cut -c1-110)...), reverted and heard again; a played on untouched"

# ------------------------------------------------------------ latency compensation
for d in a b nfx; do run kanon stop "$d"; done
play "$R/click.c" click
run kanon pan click -1 # the dry click on the left
play "$R/dc.c" bed     # and a bed of 0.1 under everything: a gap would show
at=$(settle "$(at_db 'd["click"]' 0.3) and $(at_db 'd["bed"]' 0.1)") || fail "$at"
t_bed=$at
play "$R/late_fx.c" late
run kanon pan late 1 # the delayed click on the right
run kanon route click late --pre
status_wait 'd["late"]["latency"] == 300 and d["click"]["master_delay"] == 300 and d["bed"]["master_delay"] == 300 and d["late"]["master_delay"] == 0'
routes_has 'k[("click", "master", "")]["delay"] == 300 and k[("late", "master", "")]["delay"] == 0 and k[("click", "late", "in")]["delay"] == 0'
at=$(settle "$(at_db 'd["click"]' 0.3) and $(at_db 'd["late"]' 0.3)") || fail "$at"
at=$(python3 "$CTL/wait.py" window 0.15 1) || fail "$at"
check clicks latency-aligned "$at" 1 8
run kanon stop late # and the compensation goes again
status_wait 'd["click"]["master_delay"] == 0 and d["bed"]["master_delay"] == 0'
at=$(settle "$(at_db 'd["bed"]' 0.1)") || fail "$at"
check floor latency-no-gap-left "$t_bed" "$(upto "$t_bed" "$at")" 0 0.1
check floor latency-no-gap-right "$t_bed" "$(upto "$t_bed" "$at")" 1 0.1
ok "late_fx.c declares 300 frames: click -> master (and bed -> master) delayed by 300 (routes --json, status master_delay)"

# ------------------------------------------------------------ the recording
kanon record stop --json >"$T/rec.json" || fail "record stop"
[ "$(json_get 'j["dropped"]' <"$T/rec.json")" = 0 ] || fail "the recorder dropped frames: $(cat "$T/rec.json")"
check finite no-nan 0 end
python3 "$R/an.py" "$T/r.wav" "$CHECKS" >"$T/an.out" 2>&1
rc=$?
cat "$T/an.out"
[ $rc = 0 ] || fail "the recording: see above"
