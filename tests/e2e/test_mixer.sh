# The mixer, end to end: `kanon mute/unmute/gain/pan/solo/unsolo/mix` on
# playing decks, checked in one recording of the master.
#   - mute: the sine drops to silence (below -100 dBFS after the 10 ms ramp);
#     unmute restores its level;
#   - levels are exact where the path is (a deck at unity into the master
#     below the limiter's knee is bit-exact, and each window spans whole
#     periods of both tones): one sine 0.2 is -16.9897 dBFS RMS, two decks
#     -13.9794, within 0.001 dB, fine enough to see a gain of 0.999
#     (-0.0087 dB) anywhere on the path;
#   - gain sine -6: RMS 6.000 +- 0.001 dB below the unity level;
#   - pan sine 1: the left channel is silent, the right one is unchanged (its
#     RMS equals the centred level: the pan law keeps unity at centre);
#   - two decks (sine 440 Hz, tests/e2e/control/tone.c 660 Hz, both 0.2):
#     solo sine -> only 440 Hz at one deck's level; solo tone (after unsolo
#     sine) -> only 660 Hz; unsolo -> both (power sum, +3.01 dB);
#   - gain master -12: the mix drops by 12.000 +- 0.001 dB, to -25.9794;
#   - every change is ramped: no sample step in the recording beyond the
#     signal's own per-sample change plus a 10 ms linear gain ramp
#     (one sine: 2*pi*440*0.2/48000 + 0.2/480; two: the sum of both);
#   - `kanon mix --json` parses and shows each setting as it is made.
# Each analysis window starts 0.25 s after the meters showed the change, so
# it holds the settled result (the meters sit where the recorder taps), and is
# one in which no deck's ring ran dry (an underrun's gap is not the mixer's).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control/lib.sh"
up --osc-port "$(free_port)"
kanon play "$ROOT/examples/sine.c" >"$T/play.out" 2>&1 || fail "play: $(cat "$T/play.out")"
rec_start "$T/m.wav"
rec_wait 0.8

W=0.4 # analysis window, seconds
# change PYEXPR CMD...: runs CMD (output in $T/out), waits until the meters show
# PYEXPR, then sets $at to the start of a recorded window of W seconds, at least
# 0.25 s later, in which the change is settled (and no ring ran dry).
change() {
    local expr=$1
    shift
    "$@" >"$T/out" 2>&1 || fail "$*: $(cat "$T/out")"
    python3 "$CTL/wait.py" meters "$expr" >"$T/w.out" || fail "after '$*': $(cat "$T/w.out"): $(kanon meters)"
    at=$(python3 "$CTL/wait.py" window 0.25 $W) || fail "$at"
}
win() { level "$T/m.wav" "$1" "$(add "$1" $W)" "${@:2}"; } # START FIELD [ARGS]
mix_check() { # PYEXPR on `kanon mix --json` (j; decks by name in d)
    kanon mix --json >"$T/mix.json" || fail "mix --json"
    python3 -c "
import json, sys
j = json.load(open('$T/mix.json'))
d = {x['name']: x for x in j['decks']}
sys.exit(0 if ($1) else 1)" || fail "kanon mix --json does not show $1: $(cat "$T/mix.json")"
}
near1() { python3 -c "import sys; sys.exit(0 if abs(($1) - ($2)) <= $3 else 1)"; }
# A < B as numbers; an empty or non-numeric A (a wavtool error) fails.
below() { python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)" "$1" "$2"; }
# What one sine 0.2 and two uncorrelated ones measure, and how close an
# exact path comes: the windows hold whole periods, so only float rounding
# is left (~1e-6 dB); a 0.999 gain is 0.0087 dB.
ONE=-16.98970 TWO=-13.97940 EXACT=0.001

base=$(python3 "$CTL/wait.py" window 0 $W) || fail "$base"
mix_check 'd["sine"] == {"name": "sine", "gain_db": 0, "mute": False, "solo": False, "pan": 0} and j["master"]["gain_db"] == 0'

change 'd["sine"]["peak_db"] <= -119' kanon mute sine
grep -q "deck sine: .*, muted" "$T/out" || fail "mute output: $(cat "$T/out")"
mix_check 'd["sine"]["mute"] is True'
t_mute=$at
change 'abs(d["sine"]["rms_db"] + 16.99) < 0.2' kanon unmute sine
mix_check 'd["sine"]["mute"] is False'
t_unmute=$at
change 'abs(d["sine"]["rms_db"] + 22.99) < 0.2' kanon gain sine -6
mix_check 'd["sine"]["gain_db"] == -6'
t_gain=$at
kanon gain sine 0 >/dev/null || fail "gain sine 0"
change 'abs(d["sine"]["rms_db"] + 20.0) < 0.2' kanon pan sine 1
mix_check 'd["sine"]["pan"] == 1 and d["sine"]["gain_db"] == 0'
t_pan=$at
change 'abs(d["sine"]["rms_db"] + 16.99) < 0.2' kanon pan sine 0

t_two=$(rec_secs) # the tone cannot be in the file before this
change '"tone" in d and abs(m["master"]["rms_db"] + 13.98) < 0.2' kanon play "$CTL/tone.c"
t_both=$at
change 'd["tone"]["peak_db"] <= -119 and abs(d["sine"]["rms_db"] + 16.99) < 0.2' kanon solo sine
mix_check 'd["sine"]["solo"] is True and d["tone"]["solo"] is False'
t_solo_sine=$at
kanon unsolo sine >/dev/null || fail "unsolo sine"
change 'd["sine"]["peak_db"] <= -119 and abs(d["tone"]["rms_db"] + 16.99) < 0.2' kanon solo tone
mix_check 'd["sine"]["solo"] is False and d["tone"]["solo"] is True'
t_solo_tone=$at
change 'abs(m["master"]["rms_db"] + 13.98) < 0.2' kanon unsolo tone
t_unsolo=$at
change 'abs(m["master"]["rms_db"] + 25.98) < 0.2' kanon gain master -12
grep -q "master: gain -12.0 dB" "$T/out" || fail "gain master output: $(cat "$T/out")"
mix_check 'j["master"]["gain_db"] == -12 and all(not x["mute"] and not x["solo"] for x in j["decks"])'
t_master=$at
kanon record stop --json >"$T/stop.json" || fail "record stop"
kanon status --json >"$T/status_end.json" || fail "status"
[ "$(json_get 'j["dropped"]' <"$T/stop.json")" = 0 ] || fail "recorder dropped frames: $(cat "$T/stop.json")"
ok "kanon mix --json parses and showed every setting as it was made"

r0=$(win "$base" rms_dbfs)
near "$r0" $ONE $EXACT || fail "unity level $r0 dBFS, want $ONE"
p=$(win "$t_mute" peak_dbfs)
below "$p" -100 || fail "muted: peak $p dBFS, want < -100"
r=$(win "$t_unmute" rms_dbfs)
near "$r" $ONE $EXACT || fail "unmuted: rms $r dBFS, want $r0"
ok "mute: peak $p dBFS; unmute: back to $r dBFS"
r=$(win "$t_gain" rms_dbfs)
near1 "$r0 - $r" 6.0 $EXACT || fail "gain -6: rms $r dBFS vs $r0: a drop of $(python3 -c "print($r0 - $r)") dB, want 6.0 +- $EXACT"
ok "gain sine -6: rms $r0 -> $r dBFS"
l=$(win "$t_pan" peak_dbfs --channel 0)
r1=$(win "$t_pan" rms_dbfs --channel 1)
rb=$(win "$base" rms_dbfs --channel 1)
below "$l" -100 || fail "pan 1: left peak $l dBFS, want silence"
near "$r1" $ONE $EXACT && near "$rb" $ONE $EXACT || fail "pan 1: right rms $r1 dBFS, want unchanged $rb"
ok "pan sine 1: left $l dBFS, right $r1 dBFS (centred: $rb)"
r=$(win "$t_both" rms_dbfs)
near "$r" $TWO $EXACT || fail "two decks: rms $r dBFS, want $TWO (power sum)"
for x in "t_solo_sine 440" "t_solo_tone 660"; do
    set -- $x
    f=$(win "${!1}" freq)
    r=$(win "${!1}" rms_dbfs)
    near "$f" "$2" 0.5 || fail "${1#t_}: the mix plays $f Hz, want only $2 Hz"
    near "$r" $ONE $EXACT || fail "${1#t_}: rms $r dBFS, want one deck's $ONE"
    ok "${1#t_}: only $f Hz is heard, rms $r dBFS"
done
ru=$(win "$t_unsolo" rms_dbfs)
near "$ru" $TWO $EXACT || fail "unsolo: rms $ru dBFS, want both decks ($TWO)"
rm_=$(win "$t_master" rms_dbfs)
near1 "$ru - $rm_" 12.0 $EXACT && near1 "$rm_" "$TWO - 12" $EXACT ||
    fail "gain master -12: rms $ru -> $rm_ dBFS, want a 12.0 +- $EXACT dB drop"
ok "unsolo: both decks ($ru dBFS); gain master -12: $rm_ dBFS"

# No clicks: one sine moves 2*pi*440*0.2/48000 = 0.01152 per sample, a 10 ms
# ramp of its gain adds at most 0.2/480 = 0.00042; with the tone (660 Hz,
# 0.2) too: 0.01152 + 0.01728 + 0.4/480.
# context for a failure: where the step is, where the changes were, underruns
context() {
    json_get '"step %.4g at %.4f s" % (j["max_step"], j["first_violation_frame"] / 48000)' <"$1"
    echo "; changes settled by: mute $t_mute, unmute $t_unmute, gain $t_gain, pan $t_pan,"
    echo "two decks $t_two, solo $t_solo_sine/$t_solo_tone, unsolo $t_unsolo, master $t_master;"
    json_get '"underruns: " + ", ".join("%s %d" % (d["name"], d["underruns"]) for d in j["decks"])' <"$T/status_end.json"
}
wavtool steps "$T/m.wav" --max 0.0120 --length "$t_two" >"$T/steps1.json" ||
    fail "a step in the one-deck part (mute/unmute/gain/pan): $(context "$T/steps1.json")"
wavtool steps "$T/m.wav" --max 0.0297 --skip "$t_two" >"$T/steps2.json" ||
    fail "a step in the two-deck part (solo/unsolo/master gain): $(context "$T/steps2.json")"
ok "every change ramped: max steps $(json_get 'j["max_step"]' <"$T/steps1.json") (one deck), $(json_get 'j["max_step"]' <"$T/steps2.json") (two)"
