# Control surfaces, end to end: examples/maps/8knob.json (its reply port
# changed to one of this test's) drives decks pad (examples/pad.c) and sine
# over OSC, and the surface's value/display addresses are read with oscdump.
#   - loading the map sends every control's value and display;
#   - a knob turn (/ctl/knob/1 f 0.5, page "sound", module pad) sets pad.cutoff
#     on its log scale: 0.005*(0.5/0.005)^0.5 = 0.05 within 1e-6 relative, and
#     sends /ctl/knob/1/value f 0.5 and /ctl/knob/1/display s "cutoff 0.05";
#   - the page knob (/ctl/page f 0.9 -> page "mix") refreshes every display:
#     all eight knob displays, the buttons' and the page's arrive anew; a mix
#     knob sets a mixer gain linearly (-60..6 dB) and its push resets it (0 dB);
#   - a module switch (/ctl/module/2 -> deck sine) moves the knobs to sine:
#     knob 3 sets sine.freq (log: 20*100^0.5 = 200), knob 1 (cutoff, which
#     sine lacks) no longer touches pad;
#   - a knob push resets the parameter's default (sine.freq 440); the main
#     knob sets the master gain and its push resets it;
#   - a button toggles mute on press (status shows it; its led/display follow),
#     a release does nothing;
#   - values changed from the CLI (kanon set, kanon gain master) show on the
#     surface's value and display addresses;
#   - `kanon map load FILE` (a relative path) loads it; a malformed map (bad
#     JSON, no reply, a page binding without target) is refused (exit 1) with
#     a message that says what is wrong, and the loaded map stays in force.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control/lib.sh"
P=$(free_port 0)
R=$(free_port 9) # the controller's reply port (oscdump)
up --osc-port "$P"
kanon play "$ROOT/examples/pad.c" >"$T/play1.out" 2>&1 || fail "play pad: $(cat "$T/play1.out")"
kanon play "$ROOT/examples/sine.c" >"$T/play2.out" 2>&1 || fail "play sine: $(cat "$T/play2.out")"
dump_start "$R" "$T/surf.txt"

# map_load FILE: `kanon map load FILE` from inside $T (a relative path, as typed)
map_load() { (cd "$T" && kanon map load "$1"); }
mark() { wc -l <"$T/surf.txt"; }
# seen SINCE REGEX: a surface message matching REGEX arrived after line SINCE
seen() {
    for _ in $(seq 1 200); do
        tail -n +$(($1 + 1)) "$T/surf.txt" | grep -Eq -- "$2" && return 0
        sleep 0.05
    done
    return 1
}
ctl() { oscsend 127.0.0.1 "$P" "$@" || fail "oscsend $*"; }
# sync: once the conductor answers a probe, every OSC message sent before it
# has been handled (one socket, handled in order)
sync() { python3 "$CTL/osc.py" call "$P" /nope --expect /kanon/error --timeout 5 >/dev/null || fail "the conductor does not answer OSC"; }
param() { kanon get "$1" --json | json_get 'j["value"]'; }
rel_near() { python3 -c "import sys; sys.exit(0 if abs($1 - $2) <= 1e-6 * abs($2) else 1)"; }

python3 - "$ROOT/examples/maps/8knob.json" "$T/map.json" "$R" <<'PY' || fail "cannot write the map"
import json, sys
m = json.load(open(sys.argv[1]))
m["reply"]["port"] = int(sys.argv[3])
json.dump(m, open(sys.argv[2], "w"), indent=1)
PY
s=$(mark)
map_load map.json >"$T/load.out" 2>&1 || fail "map load: $(cat "$T/load.out")"
grep -q "control surface map loaded: map.json" "$T/load.out" || fail "kanon map load output: $(cat "$T/load.out")"
seen "$s" '/ctl/page/display s "sound / pad"' || fail "no page display after loading: $(cat "$T/surf.txt")"
seen "$s" '/ctl/knob/1/display s "cutoff 0.04"' || fail "no knob 1 display after loading: $(cat "$T/surf.txt")"
seen "$s" '/ctl/knob/2/display s "tempo 96"' || fail "no knob 2 display after loading: $(cat "$T/surf.txt")"
ok "map loaded: the surface shows page 'sound / pad', cutoff 0.04, tempo 96"

# ------------------------------------------------------------ knob turn (log)
s=$(mark)
ctl /ctl/knob/1 f 0.5
sync
v=$(param pad.cutoff)
rel_near "$v" "0.005 * (0.5 / 0.005) ** 0.5" || fail "/ctl/knob/1 f 0.5: pad.cutoff = $v, want 0.05 (log scale)"
seen "$s" '/ctl/knob/1/value f 0.500000' || fail "no value feedback for knob 1: $(tail -n +$((s + 1)) "$T/surf.txt")"
seen "$s" '/ctl/knob/1/display s "cutoff 0.05"' || fail "no display feedback for knob 1: $(tail -n +$((s + 1)) "$T/surf.txt")"
ok "/ctl/knob/1 f 0.5: pad.cutoff = $v; value f 0.5 and display \"cutoff 0.05\" sent back"

# ------------------------------------------------------------ page switch
s=$(mark)
ctl /ctl/page f 0.9
seen "$s" '/ctl/page/display s "mix / pad"' || fail "no page display after /ctl/page f 0.9: $(tail -n +$((s + 1)) "$T/surf.txt")"
sleep 0.2
for k in 1 2 3 4 5 6 7 8; do
    seen "$s" "/ctl/knob/$k/display s " || fail "page switch: knob $k's display was not refreshed: $(tail -n +$((s + 1)) "$T/surf.txt")"
done
for want in '/ctl/knob/1/display s "pad.gain 0.0 dB"' '/ctl/knob/2/display s "sine.gain 0.0 dB"' \
    '/ctl/knob/3/display s "-"' '/ctl/knob/5/display s "pad.pan 0"' '/ctl/knob/6/display s "sine.pan 0"' \
    '/ctl/button/1/display s "pad.mute off"' '/ctl/button/2/display s "sine.mute off"'; do
    seen "$s" "$want" || fail "page switch: no $want: $(tail -n +$((s + 1)) "$T/surf.txt")"
done
ok "/ctl/page f 0.9: page 'mix'; all 8 knob displays, the buttons' and the page's were sent"
ctl /ctl/knob/2 f 0.5
python3 "$CTL/wait.py" status 'd["sine"]["mix"]["gain_db"] == -27' >"$T/w.out" ||
    fail "mix page knob 2 f 0.5: want sine.gain -60 + 0.5*66 = -27 dB: $(cat "$T/w.out"); $(kanon mix)"
ctl /ctl/knob/2/push i 1
python3 "$CTL/wait.py" status 'd["sine"]["mix"]["gain_db"] == 0' >"$T/w.out" ||
    fail "mix page knob 2 push: sine.gain not reset to 0 dB: $(kanon mix)"
ok "mix page: knob 2 f 0.5 sets sine.gain -27 dB (linear), its push resets 0 dB"

# ------------------------------------------------------------ module switch
s=$(mark)
ctl /ctl/page f 0.0
seen "$s" '/ctl/page/display s "sound / pad"' || fail "back to page sound: $(tail -n +$((s + 1)) "$T/surf.txt")"
s=$(mark)
ctl /ctl/module/2 f 1
seen "$s" '/ctl/page/display s "sound / sine"' || fail "no page display after /ctl/module/2: $(tail -n +$((s + 1)) "$T/surf.txt")"
seen "$s" '/ctl/knob/3/display s "freq 440 Hz"' || fail "module sine: knob 3 does not show sine.freq: $(tail -n +$((s + 1)) "$T/surf.txt")"
seen "$s" '/ctl/knob/1/display s "-"' || fail "module sine: knob 1 (cutoff) should show '-': $(tail -n +$((s + 1)) "$T/surf.txt")"
s=$(mark)
ctl /ctl/knob/3 f 0.5
ctl /ctl/knob/1 f 0.9
sync
python3 "$CTL/wait.py" param sine.freq 200 >"$T/w.out" || fail "module sine, /ctl/knob/3 f 0.5: $(cat "$T/w.out")"
v=$(param sine.freq)
rel_near "$v" "20 * (2000 / 20) ** 0.5" || fail "sine.freq = $v, want 200 (log)"
seen "$s" '/ctl/knob/3/display s "freq 200 Hz"' || fail "no display for knob 3: $(tail -n +$((s + 1)) "$T/surf.txt")"
v1=$(param pad.cutoff)
rel_near "$v1" 0.05 || fail "module sine: /ctl/knob/1 still changed pad.cutoff to $v1"
ok "/ctl/module/2: knob 3 sets sine.freq = $v (log), knob 1 no longer touches pad (cutoff $v1)"

# ------------------------------------------------------------ pushes
ctl /ctl/knob/3/push i 1
python3 "$CTL/wait.py" param sine.freq 440 >"$T/w.out" || fail "knob 3 push: sine.freq not reset to its default: $(cat "$T/w.out")"
ok "/ctl/knob/3/push: sine.freq back to its default 440"
ctl /ctl/main f 0.5
python3 "$CTL/wait.py" status 's["master"]["gain_db"] == -27' >"$T/w.out" ||
    fail "/ctl/main f 0.5: master gain not -27 dB: $(kanon mix)"
ok "/ctl/main f 0.5: master gain -27 dB (linear -60..6)"

# ------------------------------------------------------------ button
s=$(mark)
ctl /ctl/button/1 f 1
python3 "$CTL/wait.py" status 'd["sine"]["mix"]["mute"] is True' >"$T/w.out" || fail "button 1 press: sine not muted: $(cat "$T/w.out")"
seen "$s" '/ctl/button/1/led f 1.000000' || fail "no led for button 1: $(tail -n +$((s + 1)) "$T/surf.txt")"
seen "$s" '/ctl/button/1/display s "mute on"' || fail "no display for button 1: $(tail -n +$((s + 1)) "$T/surf.txt")"
ctl /ctl/button/1 f 0
sync
[ "$(status_field '[d["mix"]["mute"] for d in s["decks"] if d["name"] == "sine"]')" = "[True]" ] ||
    fail "button 1 release toggled mute again"
ctl /ctl/button/1 f 1
python3 "$CTL/wait.py" status 'd["sine"]["mix"]["mute"] is False' >"$T/w.out" || fail "button 1 second press: sine still muted"
ok "/ctl/button/1: a press mutes sine (led 1, \"mute on\"), a release does nothing, a press unmutes"

# ------------------------------------------------------------ CLI -> surface
s=$(mark)
kanon set sine.freq 1000 >/dev/null || fail "set"
seen "$s" '/ctl/knob/3/value f 0.849485' || fail "kanon set sine.freq 1000 not on knob 3's value (want log(50)/log(100)): $(tail -n +$((s + 1)) "$T/surf.txt")"
seen "$s" '/ctl/knob/3/display s "freq 1.00 kHz"' || fail "kanon set sine.freq 1000 not on knob 3's display: $(tail -n +$((s + 1)) "$T/surf.txt")"
kanon gain master -6 >/dev/null || fail "gain master"
seen "$s" '/ctl/main/value f 0.818182' || fail "kanon gain master -6 not on the main knob's value: $(tail -n +$((s + 1)) "$T/surf.txt")"
seen "$s" '/ctl/main/display s "master.gain -6.0 dB"' || fail "kanon gain master -6 not on the main display: $(tail -n +$((s + 1)) "$T/surf.txt")"
ok "CLI changes reach the surface: knob 3 \"freq 1.00 kHz\" (0.849485), main \"master.gain -6.0 dB\" (0.818182)"

# ------------------------------------------------------------ malformed maps
printf '{"reply": {"port": %s}, "pages": [' "$R" >"$T/bad1.json"
python3 - "$T" "$R" <<'PY'
import json, sys
T, R = sys.argv[1], int(sys.argv[2])
knob = {"in": "/x/knob/1", "value": "/x/knob/1/value"}
json.dump({"knobs": [knob], "pages": [{"name": "p", "knobs": ["freq"]}]}, open(T + "/bad2.json", "w"))
json.dump({"reply": {"port": R}, "knobs": [knob],
           "pages": [{"name": "p", "knobs": [{"scale": "log"}]}]}, open(T + "/bad3.json", "w"))
PY
for x in "bad1 not valid JSON" "bad2 \"reply\" needs {\"host\": IPv4 address" "bad3 page 'p': a binding needs \"target\""; do
    f=${x%% *} want=${x#* }
    map_load "$f.json" >"$T/$f.out" 2>&1
    rc=$?
    [ $rc = 0 ] && fail "the malformed map $f.json was accepted: $(cat "$T/$f.json")"
    [ $rc = 1 ] || fail "kanon map load $f.json: exit $rc, want 1: $(cat "$T/$f.out")"
    grep -q "^kanon map: error: .*$want" "$T/$f.out" || fail "$f.json refused without a clear message: $(cat "$T/$f.out")"
    echo "    $f.json: $(cat "$T/$f.out")"
done
ctl /ctl/knob/3 f 0
python3 "$CTL/wait.py" param sine.freq 20 >"$T/w.out" || fail "after the refused maps the loaded one no longer works: $(cat "$T/w.out")"
ok "malformed maps are refused with a reason; the loaded map stays in force"

# ------------------------------------------------------------ main push
kanon gain master -27 >/dev/null || fail "gain master"
ctl /ctl/main/push i 1
python3 "$CTL/wait.py" --timeout 5 status 's["master"]["gain_db"] == 0' >"$T/w.out" ||
    fail "/ctl/main/push (in the map) does not reset master.gain to 0 dB: $(kanon mix | head -1)"
ok "/ctl/main/push resets the master gain to 0 dB"
