# Parameters, end to end: `kanon set/get/params` on a playing deck, checked in
# the recording.
#   - `kanon set sine.freq 330` retunes the sine: 330 +- 0.5 Hz in a window
#     after the change (440 before);
#   - a set without --ramp is zipper-free: 330 -> 880 Hz leaves no sample step
#     above the 880 Hz sine's own (2*pi*880*0.2/48000); and tone.c's amp, read
#     per sample with kn_smooth, 0.2 -> 0.45 without --ramp steps no more than
#     the sine itself plus a 10 ms linear glide (0.25/480 per sample);
#   - `--ramp 500` glides: the frequency in consecutive 50 ms windows across
#     the change moves monotonically from 880 to 440, the windows inside the
#     glide lie strictly between, and there are about ten of them (500 ms of
#     recorded audio, so this counts audio, not wall-clock time);
#   - values are clamped: 5000 reads back as 2000 (set's reply, get --json,
#     params --json) and the recording plays 2000 Hz;
#   - a parameter the new code no longer declares leaves `kanon params` and
#     comes back with its value when a later version declares it again; a
#     narrower range keeps the value, clamped (330 -> 300, heard as 300 Hz).
#     Every value checked differs from what a fallback to a default would
#     give: freq's default is 250 (in v3's range, so not clamped to 300 as
#     well) and v3's own is 200; depth's is 0.5.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control/lib.sh"
up --osc-port "$(free_port)"
kanon play "$ROOT/examples/sine.c" >"$T/play.out" 2>&1 || fail "play: $(cat "$T/play.out")"

# ------------------------------------------------------------ set, zipper, glide
rec_start "$T/p.wav"
rec_wait 0.3

# settle DECK.NAME VALUE: waits until the deck's cartridge has reached VALUE
# (its `current`: the glide is over)
settle() { python3 "$CTL/wait.py" param "$1" "$2" >"$T/w.out" || fail "$(cat "$T/w.out")"; }
# after: the start of a recorded 0.5 s window, at least 0.5 s on (the cartridge
# renders ahead of the mixer by the ring, ~120 ms), in which no ring ran dry and
# no cartridge was replaced (see wait.py window)
after() { python3 "$CTL/wait.py" window 0.5 0.5; }
# producers: every deck's underrun count and cartridge id. They change when a
# ring runs dry or a producer is replaced (a fault, a revert): the two things
# that put a gap or a jump into the audio that is none of the Control path's
# doing. A change whose every sample is checked must not coincide with one.
# retry U WHAT, after a try begun with producers U (and machine_mark): 1 if
# they did not change (the try counts); 0 to make the change again (up to 3
# tries), only when the machine explains it: a ring that ran dry while the
# audio thread was late or its cartridge waited for a CPU (lib.sh
# try_failed, which prints each failed try). Underruns of kanon's, or a
# cartridge replaced (nothing here should fault), fail at once.
producers() { status_field '[(d["name"], d["underruns"], d["cartridge"]["id"]) for d in s["decks"]]'; }
tries=0
retry() {
    local now
    now=$(producers)
    [ "$1" = "$now" ] && return 1
    tries=$((tries + 1))
    python3 -c 'import ast, sys
a, b = (ast.literal_eval(x) for x in sys.argv[1:])
sys.exit(0 if [(n, c) for n, _, c in a] == [(n, c) for n, _, c in b] else 1)' "$1" "$now" ||
        fail "a cartridge was replaced during $2 (deck, underruns, cartridge: $1 -> $now): $(status_field '[d["last_event"] for d in s["decks"]]')"
    try_failed "$tries" 3 "$2: a ring ran dry (deck, underruns, cartridge: $1 -> $now)"
}

# The changes are made while recording; the recording is analysed once stopped.
b0=$(python3 "$CTL/wait.py" window 0 0.5) || fail "$b0"
kanon set sine.freq 330 >"$T/set.out" 2>&1 || fail "set: $(cat "$T/set.out")"
grep -q "sine.freq = 330" "$T/set.out" || fail "set output: $(cat "$T/set.out")"
settle sine.freq 330
a1=$(after) || fail "$a1"

while :; do
    machine_mark
    u=$(producers)
    m1=$(rec_secs)
    kanon set sine.freq 880 >/dev/null || fail "set 880"
    settle sine.freq 880
    a2=$(after) || fail "$a2"
    retry "$u" "set 880" || break
    kanon set sine.freq 330 >/dev/null && settle sine.freq 330
done

tries=0
while :; do
    machine_mark
    u=$(producers)
    m2=$(rec_secs)
    kanon set sine.freq 440 --ramp 500 --json >"$T/glide.json" || fail "set --ramp 500"
    json_get 'j["value"]' <"$T/glide.json" | grep -qx 440 || fail "set --ramp reply: $(cat "$T/glide.json")"
    settle sine.freq 440
    a3=$(after) || fail "$a3"
    retry "$u" "the glide" || break
    kanon set sine.freq 880 >/dev/null && settle sine.freq 880
done

kanon set sine.freq 5000 >"$T/clamp.out" 2>&1 || fail "set 5000: $(cat "$T/clamp.out")"
grep -q "sine.freq = 2000" "$T/clamp.out" || fail "set 5000 output: $(cat "$T/clamp.out")"
kanon get sine.freq --json >"$T/get.json" || fail "get --json"
[ "$(json_get 'j["value"], j["max"]' <"$T/get.json")" = "2000 2000" ] || fail "get after set 5000: $(cat "$T/get.json")"
kanon params sine --json >"$T/params.json" || fail "params --json"
[ "$(json_get '[p["value"] for p in j if p["name"] == "freq"]' <"$T/params.json")" = "[2000]" ] ||
    fail "params after set 5000: $(cat "$T/params.json")"
settle sine.freq 2000
a4=$(after) || fail "$a4"
kanon record stop --json >"$T/stop.json" || fail "record stop"
[ "$(json_get 'j["dropped"]' <"$T/stop.json")" = 0 ] || fail "recorder dropped frames: $(cat "$T/stop.json")"

f0=$(level "$T/p.wav" "$b0" "$(add "$b0" 0.5)" freq)
f1=$(level "$T/p.wav" "$a1" "$(add "$a1" 0.5)" freq)
near "$f0" 440 0.5 || fail "before the set: $f0 Hz, want 440"
near "$f1" 330 0.5 || fail "after kanon set sine.freq 330: $f1 Hz, want 330 +- 0.5"
ok "kanon set sine.freq 330: $f0 Hz before, $f1 Hz after"

f2=$(level "$T/p.wav" "$a2" "$(add "$a2" 0.5)" freq)
near "$f2" 880 0.5 || fail "after set 880: $f2 Hz"
# 880 Hz at amplitude 0.2 moves at most 2*pi*880*0.2/48000 = 0.02304 per sample
wavtool steps "$T/p.wav" --max 0.0231 --skip "$m1" --length "$(add "$(add "$a2" 0.5)" "-$m1")" \
    >"$T/steps1.json" || fail "set 330 -> 880 without --ramp zippers: $(cat "$T/steps1.json")"
ok "330 -> 880 Hz without --ramp: no step above the 880 Hz sine's own ($(json_get 'j["max_step"]' <"$T/steps1.json"))"

python3 - "$T/p.wav" "$(add "$m2" -0.3)" "$(add "$a3" 0.5)" >"$T/glide.txt" 2>&1 <<'PY' || fail "glide: $(cat "$T/glide.txt")"
import subprocess, sys
path, a, b = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
w, f = 0.05, []
t = a
while t + w <= b + 1e-9:
    out = subprocess.check_output(["wavtool", "stat", path, "--skip", "%.4f" % t,
                                   "--length", "%.4f" % w, "--field", "freq"], text=True)
    f.append(float(out))
    t += w
print("50 ms windows:", " ".join("%.1f" % x for x in f))
assert abs(f[0] - 880) < 0.5 and abs(f[-1] - 440) < 0.5, "does not go from 880 to 440"
# monotonic (down): no window above the one before (0.5 Hz: the estimator's noise)
bad = [(i, f[i - 1], f[i]) for i in range(1, len(f)) if f[i] > f[i - 1] + 0.5]
assert not bad, "not monotonic at %s" % bad
inner = [x for x in f if 440 + 1 < x < 880 - 1]
first = next(i for i, x in enumerate(f) if x < 879)
last = max(i for i, x in enumerate(f) if x > 441)
assert all(440 < x < 880 for x in f[first:last + 1]), "a window inside the glide is outside 440..880"
# 500 ms = 10 windows inside the glide, +-2 for the windows that straddle its ends
assert 8 <= len(inner) <= 12, "%d windows inside the glide, want about 10" % len(inner)
print("%d windows strictly between 440 and 880 (500 ms = 10)" % len(inner))
PY
sed "s/^/    /" "$T/glide.txt"
ok "--ramp 500 glides monotonically 880 -> 440: $(tail -1 "$T/glide.txt")"

f4=$(level "$T/p.wav" "$a4" "$(add "$a4" 0.5)" freq)
near "$f4" 2000 0.5 || fail "after set 5000 the sine plays $f4 Hz, want 2000 (clamped)"
ok "set 5000 is clamped: get/params read 2000, the recording plays $f4 Hz"
kanon stop sine >/dev/null || fail "stop sine"

# ------------------------------------------------------------ amp via kn_smooth
kanon play "$CTL/tone.c" >"$T/play2.out" 2>&1 || fail "play tone.c: $(cat "$T/play2.out")"
rec_start "$T/a.wav"
rec_wait 0.3
tries=0
while :; do
    b5=$(python3 "$CTL/wait.py" window 0 0.4) || fail "$b5"
    machine_mark
    u=$(producers)
    m5=$(rec_secs)
    kanon set tone.amp 0.45 >/dev/null || fail "set tone.amp"
    settle tone.amp 0.45
    a5=$(after) || fail "$a5"
    retry "$u" "set amp 0.45" || break
    kanon set tone.amp 0.2 >/dev/null && settle tone.amp 0.2
done
kanon record stop >/dev/null || fail "record stop (tone)"
p0=$(level "$T/a.wav" "$b5" "$(add "$b5" 0.4)" peak)
p1=$(level "$T/a.wav" "$a5" "$(add "$a5" 0.5)" peak)
near "$p0" 0.2 0.001 || fail "tone peak before: $p0, want 0.2"
near "$p1" 0.45 0.001 || fail "tone peak after set amp 0.45: $p1, want 0.45"
# 660 Hz at 0.45 moves 2*pi*660*0.45/48000 = 0.03888 per sample; the 10 ms glide adds 0.25/480
wavtool steps "$T/a.wav" --max 0.0395 --skip "$m5" --length "$(add "$(add "$a5" 0.5)" "-$m5")" \
    >"$T/steps2.json" || fail "amp 0.2 -> 0.45 without --ramp zippers: $(cat "$T/steps2.json")"
ok "amp 0.2 -> 0.45 (kn_smooth, no --ramp): peak $p0 -> $p1, no step above the sine's own + the 10 ms glide"
kanon stop tone >/dev/null || fail "stop tone"

# ------------------------------------------------------------ versions
version() { # DECK N: waits until the deck plays version N
    python3 -c "
import sys; sys.path.insert(0, '$ROOT/tests/e2e/swap')
from swaplib import *
try:
    wait_version('$1', $2)
except Fail as e:
    sys.exit(str(e))" || fail "deck $1 never reached version $2: $(kanon log "$1")"
}
write_version() { # DECKFILE DECLARATIONS: a sine whose frequency is the knob "freq"
    cat >"$1.tmp" <<EOF
#include <kanon.h>
typedef struct { double phase; } S;
static S *s;
static kn_param *freq, *depth;
void setup(kn_ctx *k) {
    s = kn_state(k, "s", sizeof *s);
    $2
}
void process(kn_ctx *k, float **out, int frames) {
    double inc = kn_get(freq) / k->rate;
    for (int i = 0; i < frames; i++) {
        float v = 0.2f * sinf(2 * (float)M_PI * (float)s->phase);
        for (int c = 0; c < k->channels; c++) out[c][i] = v;
        s->phase += inc;
        if (s->phase >= 1) s->phase -= 1;
    }
}
EOF
    mv "$1.tmp" "$1"
}
param_names() { kanon params v --json | json_get '" ".join(sorted(p["name"] for p in j))'; }
param_value() { kanon params v --json | json_get "[p['value'] for p in j if p['name'] == '$1']"; }

write_version "$T/v.c" 'freq = kn_param_decl(k, "freq", 20, 2000, 250); depth = kn_param_decl(k, "depth", 0, 1, 0.5);'
kanon play "$T/v.c" >"$T/play3.out" 2>&1 || fail "play v.c: $(cat "$T/play3.out")"
kanon set v.depth 0.7 >/dev/null || fail "set v.depth"
kanon set v.freq 330 >/dev/null || fail "set v.freq"
[ "$(param_names)" = "depth freq" ] || fail "v1 params: $(param_names)"

write_version "$T/v.c" 'freq = kn_param_decl(k, "freq", 20, 2000, 250); (void)depth;'
version v 2
[ "$(param_names)" = "freq" ] || fail "after v2 (no depth) kanon params lists: $(param_names)"
[ "$(param_value freq)" = "[330]" ] || fail "freq under v2 is $(param_value freq), want 330 kept (its default is 250)"
kanon params v >"$T/params2.txt" || fail "params v"
grep -q depth "$T/params2.txt" && fail "removed parameter still in \`kanon params v\`: $(cat "$T/params2.txt")"
ok "v2 no longer declares depth: kanon params lists only freq"

write_version "$T/v.c" 'freq = kn_param_decl(k, "freq", 20, 300, 200); depth = kn_param_decl(k, "depth", 0, 1, 0.5);'
version v 3
[ "$(param_names)" = "depth freq" ] || fail "after v3 kanon params lists: $(param_names)"
[ "$(param_value depth)" = "[0.7]" ] || fail "depth came back as $(param_value depth), want 0.7 (its value before v2); params: $(kanon params v --json); log: $(kanon log v | tail -n 5)"
ok "v3 declares depth again: it is back with its value 0.7"
[ "$(param_value freq)" = "[300]" ] || fail "freq under v3's range 20..300 is $(param_value freq), want 330 clamped to 300 (a default would give 250 or 200)"
kanon get v.freq --json >"$T/getv.json" || fail "get v.freq"
[ "$(json_get 'j["min"], j["max"], j["default"]' <"$T/getv.json")" = "20 300 200" ] ||
    fail "v3's range not published: $(cat "$T/getv.json")"
rec_start "$T/v.wav"
settle v.freq 300
a6=$(after) || fail "$a6"
kanon record stop >/dev/null || fail "record stop (v)"
f6=$(level "$T/v.wav" "$a6" "$(add "$a6" 0.5)" freq)
near "$f6" 300 0.5 || fail "v3 plays $f6 Hz, want 300 (330 clamped to the new range)"
ok "v3 narrows freq to 20..300: the value 330 is kept, clamped to 300 (heard: $f6 Hz)"
