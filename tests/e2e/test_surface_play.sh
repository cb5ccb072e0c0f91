# Control surfaces that play, end to end, with real OSC packets (oscsend) and
# the controller's displays read by an oscdump listener. The DSP file
# tests/e2e/control/gated.c (a sine 0.2 times its gate) binds its own knobs
# with kn_bind: gate on "button 1 momentary", freq on "knob 1 log", amp on
# "shift knob 1"; `kanon params g --json` shows each one's "bind" (the
# cartridge published them in the parameter segment) and `kanon get` says it.
#   No map (the built-in surface, /surface/...):
#   - a momentary press (/surface/button/1 f 1) takes g.gate to 1 and its
#     release (f 0) back to 0 (`kanon get`); the recording is silent before
#     the press (peak < -100 dBFS), holds the sine 0.2 while pressed (RMS
#     -16.9897 dBFS within 0.01 dB over whole periods), silent again after;
#   - kn_bind puts freq on knob 1: /surface/knob/1 f 0.5 sets g.freq to
#     20*100^0.5 = 200 (log); tilt on the main knob (f 0.75 -> 0.5 of -1..1),
#     whose push resets its default;
#   - shift layer: while /surface/shift is held, knob 1 drives amp
#     (f 0.25 -> 0.25) and freq stays; released, knob 1 drives freq again;
#   - a saved version of the file without kn_bind(freq) takes freq off knob
#     1 (and `kanon params` shows no bind for it);
#   With a map (reply to oscdump) and a second deck h of the same file:
#   - the map overrides kn_bind: its page binds knob 1 to amp, so
#     /m/knob/1 sets amp and not freq; the map's shift layer binds knob 1 to
#     freq; button 1, which the map leaves unbound, keeps the declared gate;
#   - two decks binding the same control: the selected module's deck wins
#     (module g: button 1 gates g only; module h: h only);
#   - module switches show their display: "g playing" / "h playing" when the
#     map loads, with value 1 for the selected switch and 0 for the other;
#     `kanon mute h` turns module 2's display to "h muted"; selecting module
#     2 swaps the values;
#   - a map's "mode": "momentary" button (mute) mutes while held;
#   - `kanon stop h` (the selected module's deck): module 2 shows "h off",
#     and button 1 falls to g's declared gate, shown though its value (0) is
#     the same as h's;
#   - `kn_bind(p, "knob 99")` is refused with a message naming the controls.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control/lib.sh"
P=$(free_port 0)
R=$(free_port 9) # the controller's reply port (oscdump)
up --osc-port "$P"
cp "$CTL/gated.c" "$T/g.c" # played from a copy: a later save drops a kn_bind
kanon play "$T/g.c" --deck g >"$T/play1.out" 2>&1 || fail "play g: $(cat "$T/play1.out")"

ctl() { oscsend 127.0.0.1 "$P" "$@" || fail "oscsend $*"; }
# sync: once the conductor answers a probe, every OSC message sent before it
# has been handled (one socket, handled in order)
sync() { python3 "$CTL/osc.py" call "$P" /nope --expect /kanon/error --timeout 5 >/dev/null || fail "the conductor does not answer OSC"; }
param() { kanon get "$1" --json | json_get 'j["value"]'; }
rel_near() { python3 -c "import sys; sys.exit(0 if abs($1 - $2) <= 1e-6 * abs($2) else 1)"; }
is_param() { # DECK.NAME VALUE: the value now (after a sync), within 1e-6 relative
    local v
    v=$(param "$1")
    rel_near "$v" "$2" || fail "$1 = $v, want $2 ($3)"
}
# turn KNOB X A WANT_A WHY_A B WANT_B WHY_B: the knob to X, then parameter A
# must read WANT_A and B WANT_B (one moved, the other must not have)
turn() {
    ctl "$1" f "$2"
    sync
    is_param "$3" "$4" "$5"
    is_param "$6" "$7" "$8"
}
wait_param() { python3 "$CTL/wait.py" param "$1" "$2" >"$T/w.out" || fail "$3: $(cat "$T/w.out")"; }
below() { python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)" "$1" "$2"; }
W=0.4 # analysis window, seconds: 176 whole periods of 440 Hz

# ------------------------------------------------ kn_bind through shared memory
kanon params g --json >"$T/params.json" || fail "params g"
b=$(json_get '" / ".join("%s=%s" % (p["name"], p.get("bind")) for p in j)' <"$T/params.json")
[ "$b" = "gate=button 1 momentary / freq=knob 1 log / amp=shift knob 1 / tilt=main" ] ||
    fail "kanon params g --json does not show the kn_bind codes the cartridge published: $b"
kanon get g.freq >"$T/get.out" || fail "get g.freq"
grep -q "on the surface's knob 1 log" "$T/get.out" || fail "kanon get g.freq: $(cat "$T/get.out")"
ok "the cartridge published its kn_bind bindings in the parameter segment: $b"

# ------------------------------------------------ momentary gate, no map
rec_start "$T/g.wav"
rec_wait 0.5
t0=$(python3 "$CTL/wait.py" window 0 $W) || fail "$t0"
ctl /surface/button/1 f 1
wait_param g.gate 1 "a momentary press (/surface/button/1 f 1) did not open g.gate"
meter_wait 'abs(d["g"]["rms_db"] + 16.99) < 0.2' || fail "the meters never showed the gated sine: $(kanon meters)"
t1=$(python3 "$CTL/wait.py" window 0.25 $W) || fail "$t1"
sync
is_param g.gate 1 "still held: nothing has released it"
ctl /surface/button/1 f 0
wait_param g.gate 0 "the release (/surface/button/1 f 0) did not close g.gate"
meter_wait 'd["g"]["peak_db"] <= -119' || fail "the meters never showed the gate closed: $(kanon meters)"
t2=$(python3 "$CTL/wait.py" window 0.25 $W) || fail "$t2"
rec_wait "$(add "$t2" $W)"
kanon record stop --json >"$T/stop.json" || fail "record stop"
[ "$(json_get 'j["dropped"]' <"$T/stop.json")" = 0 ] || fail "the recorder dropped frames: $(cat "$T/stop.json")"
pk0=$(level "$T/g.wav" "$t0" "$(add "$t0" $W)" peak_dbfs)
rms1=$(level "$T/g.wav" "$t1" "$(add "$t1" $W)" rms_dbfs)
pk2=$(level "$T/g.wav" "$t2" "$(add "$t2" $W)" peak_dbfs)
below "$pk0" -100 || fail "before the press the recording is not silent: peak $pk0 dBFS at $t0 s"
near "$rms1" -16.98970 0.01 || fail "while pressed the recording is not the sine 0.2: RMS $rms1 dBFS at $t1 s, want -16.9897"
below "$pk2" -100 || fail "after the release the recording is not silent: peak $pk2 dBFS at $t2 s"
ok "built-in /surface/button/1 (kn_bind \"button 1 momentary\"): press -> gate 1, RMS $rms1 dBFS; release -> gate 0; peaks $pk0 / $pk2 dBFS around it"

# ------------------------------------------------ kn_bind's knob, no map
ctl /surface/knob/1 f 0.5
sync
is_param g.freq "20 * 100 ** 0.5" "/surface/knob/1 f 0.5 with kn_bind(freq, \"knob 1 log\")"
ok "no map: kn_bind puts g.freq on knob 1 (f 0.5 -> 200 Hz, log)"

ctl /surface/main f 0.75
sync
is_param g.tilt 0.5 "/surface/main f 0.75 with kn_bind(tilt, \"main\") (-1..1)"
ctl /surface/main/push i 1
sync
is_param g.tilt 0 "/surface/main/push resets tilt's default"
ok "no map: kn_bind puts g.tilt on the main knob (f 0.75 -> 0.5); its push resets 0"

# ------------------------------------------------ shift layer, no map
ctl /surface/shift i 1
turn /surface/knob/1 0.25 g.amp 0.25 "shift held: knob 1 is amp (kn_bind \"shift knob 1\")" \
    g.freq 200 "shift held: knob 1 must not move freq"
ctl /surface/shift i 0
turn /surface/knob/1 1 g.freq 2000 "shift released: knob 1 is freq again" \
    g.amp 0.25 "shift released: knob 1 must not move amp"
ok "shift layer: held, knob 1 drives amp (0.25) and not freq; released, freq (2000) and not amp"

# ------------------------------------------------ a save without the kn_bind
sed 's/    kn_bind(freq, "knob 1 log");//' "$CTL/gated.c" >"$T/g.c.tmp" && mv "$T/g.c.tmp" "$T/g.c"
python3 -c "
import sys; sys.path.insert(0, '$ROOT/tests/e2e/swap')
from swaplib import *
try:
    wait_version('g', 2)
except Fail as e:
    sys.exit(str(e))" || fail "deck g never reached version 2 after the save: $(kanon log g)"
turn /surface/knob/1 0 g.freq 2000 "v2 dropped kn_bind(freq): knob 1 must no longer move it" \
    g.amp 0.25 "v2: knob 1 is bound to nothing"
b=$(kanon params g --json | json_get '[p.get("bind") for p in j if p["name"] == "freq"]')
[ "$b" = "[None]" ] || fail "v2 dropped kn_bind(freq), but kanon params still shows $b"
ok "a saved version without kn_bind(freq) takes freq off knob 1 (knob 1 f 0: freq stays 2000)"

# ------------------------------------------------ a map, two decks
kanon play "$CTL/gated.c" --deck h >"$T/play2.out" 2>&1 || fail "play h: $(cat "$T/play2.out")"
dump_start "$R" "$T/surf.txt"
mark() { wc -l <"$T/surf.txt"; }
seen() { # SINCE REGEX: a surface message matching REGEX arrived after line SINCE
    for _ in $(seq 1 200); do
        tail -n +$(($1 + 1)) "$T/surf.txt" | grep -Eq -- "$2" && return 0
        sleep 0.05
    done
    return 1
}
since() { tail -n +$(($1 + 1)) "$T/surf.txt"; }
python3 - "$T/map.json" "$R" <<'PY' || fail "cannot write the map"
import json, sys
c = lambda a, **k: dict({"in": a, "value": a + "/value", "display": a + "/display"}, **k)
json.dump({
    "reply": {"port": int(sys.argv[2])},
    "knobs": [c("/m/knob/1"), c("/m/knob/2")],
    "buttons": [c("/m/button/1"), c("/m/button/2")],
    "shift": c("/m/shift"),
    "modules": [c("/m/module/1", deck="g"), c("/m/module/2", deck="h")],
    "pages": [{"name": "p", "knobs": ["amp"], "buttons": [None, {"target": "mute", "mode": "momentary"}],
               "shift": {"knobs": [{"target": "freq", "scale": "log"}]}}],
}, open(sys.argv[1], "w"))
PY
s=$(mark)
kanon map load "$T/map.json" >"$T/load.out" 2>&1 || fail "map load: $(cat "$T/load.out")"
for want in '/m/module/1/display s "g playing"' '/m/module/2/display s "h playing"' \
    '/m/module/1/value f 1.0' '/m/module/2/value f 0.0' '/m/knob/1/display s "amp 0.25"' \
    '/m/button/1/display s "g.gate 0"'; do
    seen "$s" "$want" || fail "after loading the map: no $want: $(since "$s")"
done
ok "map loaded: module displays \"g playing\" (value 1) and \"h playing\" (value 0); knob 1 shows the map's amp, button 1 the declared g.gate"

s=$(mark)
kanon mute h >/dev/null || fail "mute h"
seen "$s" '/m/module/2/display s "h muted"' || fail "kanon mute h: module 2's display did not follow: $(since "$s")"
kanon unmute h >/dev/null || fail "unmute h"
seen "$s" '/m/module/2/display s "h playing"' || fail "kanon unmute h: module 2's display did not follow: $(since "$s")"
ok "module 2's display follows its deck: \"h muted\", then \"h playing\""

# the map overrides kn_bind; its shift layer too
turn /m/knob/1 0.5 g.amp 0.5 "the map binds knob 1 to amp" \
    g.freq 2000 "the map's knob 1 must not move the declared freq"
ctl /m/shift f 1
turn /m/knob/1 0 g.freq 20 "the map's shift layer binds knob 1 to freq" \
    g.amp 0.5 "shift: the map's knob 1 must not move amp"
ctl /m/shift f 0
ok "the map overrides kn_bind: knob 1 is amp (0.5), freq untouched; its shift layer makes knob 1 freq (20)"

# button 1: unbound in the map, so the declared gate; the selected deck wins
ctl /m/button/1 f 1
wait_param g.gate 1 "module g, /m/button/1 pressed: g.gate"
is_param h.gate 0 "module g selected: h's kn_bind of button 1 must lose"
ctl /m/button/1 f 0
wait_param g.gate 0 "module g, /m/button/1 released: g.gate"
s=$(mark)
ctl /m/module/2 i 1
seen "$s" '/m/module/2/value f 1.0' || fail "module 2 selected: its value is not 1: $(since "$s")"
seen "$s" '/m/module/1/value f 0.0' || fail "module 2 selected: module 1's value is not 0: $(since "$s")"
ctl /m/button/1 f 1
wait_param h.gate 1 "module h, /m/button/1 pressed: h.gate"
is_param g.gate 0 "module h selected: g's kn_bind of button 1 must lose"
ctl /m/button/1 f 0
wait_param h.gate 0 "module h, /m/button/1 released: h.gate"
ok "two decks bind button 1: the selected module's deck wins (g, then h); module values follow the selection"

# a map's momentary mute
ctl /m/button/2 f 1
python3 "$CTL/wait.py" status 'd["h"]["mix"]["mute"] is True' >"$T/w.out" || fail "/m/button/2 (momentary mute) press: h not muted: $(cat "$T/w.out")"
ctl /m/button/2 f 0
python3 "$CTL/wait.py" status 'd["h"]["mix"]["mute"] is False' >"$T/w.out" || fail "/m/button/2 release: h still muted: $(cat "$T/w.out")"
ok "a map's \"mode\": \"momentary\" mute: muted while held, unmuted on release"

# stopping the selected deck: its switch shows "h off", and button 1, still
# declared by g, moves to g (same value 0: shown because the target changed)
s=$(mark)
kanon stop h >"$T/stop.out" 2>&1 || fail "stop h: $(cat "$T/stop.out")"
seen "$s" '/m/module/2/display s "h off"' || fail "kanon stop h: module 2 does not show \"h off\": $(since "$s")"
seen "$s" '/m/button/1/display s "g.gate 0"' || fail "kanon stop h: button 1 does not show g's declared gate: $(since "$s")"
ctl /m/button/1 f 1
wait_param g.gate 1 "h stopped: /m/button/1 plays g's gate"
ctl /m/button/1 f 0
wait_param g.gate 0 "h stopped: /m/button/1 released"
ok "kanon stop h: module 2 shows \"h off\"; button 1 falls to g (display \"g.gate 0\", press opens g.gate)"

# ------------------------------------------------ a bad control name
sed 's/"knob 1 log"/"knob 99"/' "$CTL/gated.c" >"$T/bad.c"
kanon play "$T/bad.c" --deck bad >"$T/bad.out" 2>&1 && fail "kn_bind(freq, \"knob 99\") was accepted"
grep -q 'kn_bind(freq, "knob 99"): not a control; say "knob N", "button N" (N = 1..16) or "main"' "$T/bad.out" ||
    fail "kn_bind with a bad control: no clear message: $(cat "$T/bad.out")"
ok "kn_bind(freq, \"knob 99\") is refused: $(grep -o 'kn_bind(freq.*' "$T/bad.out" | head -c 90)..."
