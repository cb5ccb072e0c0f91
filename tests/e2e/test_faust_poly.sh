# Polyphonic Faust instruments (issue 16, item 3): a .dsp that declares
# options "[nvoices:N]" becomes N instances driven by kn_voices through
# its freq, gain and gate (Faust's convention), rendered offline with
# `kanon render --events` and analysed (tests/e2e/voices/tones.py):
#   - a 3-note chord: the 3 pitches at gain = velocity/127 times the
#     ADSR's sustain (0.8), within 0.2 dB; the semitones between absent;
#   - the release tail: heard after the note-off, then exact silence (the
#     voice freed when its block peak falls below -80 dB);
#   - stealing with [nvoices:2]: a third note takes the oldest's voice;
#   - a note played again while held restarts its own voice (one voice, at
#     the new velocity: not two copies);
#   - its other sliders stay knobs, in every voice: --set cutoff=150 drops
#     all three notes by more than 10 dB;
#   - onsets: a note at beat 1.3 is the note at beat 0 shifted by exactly
#     31200 frames (120 bpm, 48 kHz);
#   - [nvoices:64] plays 32 and says so;
#   - live, its parameters are the knobs only: cutoff, not freq, gain, gate.
# A program without [nvoices] is one instance with freq/gain/gate knobs,
# as before (test_faust.sh and the corpus test render those unchanged).
. "$(dirname "$0")/lib.sh"
command -v faust >/dev/null || { echo "SKIP: no faust compiler (apt-get install faust)"; exit 77; }
cd "$T" || fail "cd $T"

cat >poly.dsp <<'EOF'
declare options "[midi:on][nvoices:4]";
import("stdfaust.lib");
freq = hslider("freq", 440, 20, 2000, 0.01);
gain = hslider("gain", 0.5, 0, 1, 0.01);
gate = button("gate");
cutoff = hslider("cutoff", 4000, 100, 10000, 1);
process = os.osc(freq) * gain * en.adsr(0.005, 0.1, 0.8, 0.2, gate) : fi.lowpass(2, cutoff) <: _, _;
EOF
sed 's/nvoices:4/nvoices:2/' poly.dsp >poly2.dsp
sed 's/nvoices:4/nvoices:64/' poly.dsp >poly64.dsp

tones() { python3 "$ROOT/tests/e2e/voices/tones.py" "$@" || fail "tones.py $*"; }
db() { tones "$@" | awk '{ print $2 }'; }
render() { # DSP OUT EVENTS-JSON ARGS...
    local d=$1 o=$2
    printf '%s' "$3" >ev.json
    shift 3
    kanon render "$d" --events ev.json -o "$o" "$@" >render.out 2>&1 || fail "render $d $o: $(cat render.out)"
}
below() { python3 -c "import sys; sys.exit(0 if $1 < $2 else 1)"; }

# chord_levels WAV WHAT: $CHORD's three notes each at gain velocity/127 x
# sustain 0.8, within 0.2 dB
chord_levels() {
    set -- "$1" "$2" 127 64 100
    local n got want
    for n in 60 64 67; do
        got=$(db "$1" 0.5 0.9 "$n")
        want=$(python3 -c "import math; print('%.2f' % (20 * math.log10(0.8 * $3 / 127)))")
        near "$got" "$want" 0.2 || fail "$2: note $n at $got dBFS, want $want"
        set -- "$1" "$2" "${@:4}"
    done
}
CHORD='[{"beat": 0, "note": 60, "velocity": 127, "dur": 2}, {"beat": 0, "note": 64, "velocity": 64, "dur": 2},
        {"beat": 0, "note": 67, "velocity": 100, "dur": 2}]'
render poly.dsp chord.wav "$CHORD" --seconds 2
grep -q "events: 6 applied at their exact frames" render.out || fail "chord: $(cat render.out)"
chord_levels chord.wav chord
for n in 61 62 63 65 66 68; do
    l=$(db chord.wav 0.5 0.9 "$n")
    below "$l" -60 || fail "chord: note $n heard at $l dBFS"
done
ok "[nvoices:4]: a 3-note chord plays 3 voices at gain velocity/127 x sustain 0.8"

t=$(db chord.wav 1.02 1.06 60)
below -40 "$t" || fail "tail: note 60 at $t dBFS just after its off"
[ "$(wav chord.wav peak --skip 1.5 --length 0.5)" = 0 ] || fail "tail: not silent 0.5 s after the offs"
ok "release tails: heard after the off ($t dBFS), then exact silence (voices freed)"

render poly2.dsp steal.wav '[{"beat": 0, "note": 60, "dur": 4}, {"beat": 0, "note": 64, "dur": 4},
                            {"beat": 1, "note": 67, "dur": 4}]' --seconds 1.5
l60=$(db steal.wav 0.7 0.95 60)
below "$l60" -60 || fail "[nvoices:2]: note 60 still heard ($l60 dBFS) after a third note"
for n in 64 67; do below -20 "$(db steal.wav 0.7 0.95 "$n")" || fail "[nvoices:2]: note $n absent"; done
ok "[nvoices:2]: a third note steals the oldest's voice (60 gone, 64 and 67 heard)"

render poly.dsp again.wav '[{"beat": 0, "note": 60, "velocity": 127, "dur": 4}, {"beat": 1, "note": 60, "velocity": 50, "dur": 4}]' --seconds 1.5
got=$(db again.wav 0.8 1.2 60)
want=$(python3 -c "import math; print('%.2f' % (20 * math.log10(0.8 * 50 / 127)))")
near "$got" "$want" 0.2 || fail "a note played again: $got dBFS, want $want (one voice at velocity 50)"
ok "a note played again while held restarts its voice at the new velocity ($got dBFS), no second copy"

render poly.dsp dark.wav "$CHORD" --seconds 2 --set cutoff=150
for n in 60 64 67; do
    a=$(db chord.wav 0.5 0.9 "$n") b=$(db dark.wav 0.5 0.9 "$n")
    below "$b" "$a - 10" || fail "--set cutoff=150: note $n at $b dBFS, $a with the default cutoff"
done
ok "the cutoff slider stays a knob and reaches every voice (all three notes > 10 dB down at 150 Hz)"

render poly.dsp at0.wav '[{"beat": 0, "note": 69, "dur": 2}]' --seconds 1.5
render poly.dsp at13.wav '[{"beat": 1.3, "note": 69, "dur": 2}]' --seconds 1.5
[ $(($(wav at13.wav first_nonsilent) - $(wav at0.wav first_nonsilent))) = 31200 ] ||
    fail "onset: $(wav at13.wav first_nonsilent) vs $(wav at0.wav first_nonsilent): want 31200 apart"
wavtool compare at13.wav at0.wav --offset 31200 --tol 1e-6 --min-overlap 0.8 >cmp.json ||
    fail "onset: not the same note shifted by 31200 frames: $(cat cmp.json)"
ok "onset: a note at beat 1.3 is the note at beat 0 shifted by exactly 31200 frames"

render poly64.dsp p64.wav "$CHORD" --seconds 0.5
grep -q "poly64.dsp: note: \[nvoices:64\]: kanon plays at most 32 voices; it plays 32" render.out ||
    fail "[nvoices:64]: $(cat render.out)"
ok "[nvoices:64] plays 32 voices and says so"

up
kanon play "$T/poly.dsp" --deck fpoly --no-watch >play.out 2>&1 || fail "play poly.dsp: $(cat play.out)"
kanon params fpoly --json | python3 -c '
import json, sys
names = [q["name"] for q in json.load(sys.stdin)]
sys.exit(0 if names == ["cutoff"] else print("FAIL: parameters", names) or 1)' ||
    fail "live: the polyphonic deck's parameters are not just [cutoff]"
ok "live: the polyphonic deck's knobs are its other sliders (cutoff); freq, gain and gate are the voices'"

# --voices N: the polyphony of a program that does not declare it, or in
# place of what it declares (render and play alike)
grep -v '^declare options' poly.dsp >plain.dsp
render plain.dsp plain.wav "$CHORD" --seconds 2 --voices 4
chord_levels plain.wav "render --voices 4"
render poly.dsp v2.wav '[{"beat": 0, "note": 60, "dur": 4}, {"beat": 0, "note": 64, "dur": 4},
                        {"beat": 1, "note": 67, "dur": 4}]' --seconds 1.5 --voices 2
l60=$(db v2.wav 0.7 0.95 60)
below "$l60" -60 || fail "[nvoices:4] --voices 2: note 60 still heard ($l60 dBFS) after a third note"
ok "render --voices N: a plain program plays a 3-note chord on 4 voices; --voices 2 overrides [nvoices:4] (a third note steals)"
kanon play "$T/plain.dsp" --deck fv --voices 4 --no-wait >play.out 2>&1 || fail "play --voices 4: $(cat play.out)"
wait_for sh -c 'kanon status --json | grep -q "\"name\":\"fv\".*\"state\":\"running\""' || fail "fv did not start: $(kanon log fv)"
kanon params fv --json | python3 -c '
import json, sys
names = [q["name"] for q in json.load(sys.stdin)]
sys.exit(0 if names == ["cutoff"] else print("FAIL: parameters", names) or 1)' ||
    fail "live --voices 4: the deck's parameters are not just [cutoff]"
kanon record start "$T/fv.wav" >/dev/null || fail "record start"
expect 0 kanon note fv 69 100 --dur 2
python3 "$ROOT/tests/e2e/swap/swaplib.py" advance fv 24000 || fail "fv does not play"
kanon record stop >/dev/null || fail "record stop"
p=$(wav "$T/fv.wav" peak)
python3 -c "import sys; sys.exit(0 if $p > 0.3 else 1)" || fail "live --voices 4: kanon note 69 gave a peak of $p"
expect 1 kanon play "$T/plain.dsp" --deck fw --voices 40
says "--voices"
ok "live: kanon play --voices 4 makes a plain program polyphonic (knobs: cutoff; kanon note sounds, peak $p)"
