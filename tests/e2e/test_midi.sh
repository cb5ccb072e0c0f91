# Notes and MIDI (docs/midi.md), judged on recorded samples. The deck plays
# tests/e2e/midi/gate.c: its output steps to velocity/256 at a note on's
# sample and to 0 at its note off's, so an onset's frame is exact.
#
# 1. `kanon note` on the dummy backend, in one recording (timeline frames
#    from `record stop --json`'s timeline_frame; 120 bpm: a beat is 24000
#    frames): --at B (B fractional) steps up exactly on B's frame, and its
#    --dur 0.5 back to 0 exactly on the frame of B + 0.5; --quant 1 on a
#    multiple of 24000; OSC /kanon/gate/note iif holds its note for exactly
#    its duration (0.25 beat: 6000 frames).
# 2. Errors, clear: a pitch or velocity out of range, --at with --quant, a
#    note off with --dur, no such deck; routes: add, list (--json), a bad
#    port, remove, remove again; saved in the session file and made again
#    by loading it into a new conductor.
# 3. JACK (a private jackd -d dummy -S, -p 256): ports kanon:midi_in,
#    kanon:midi_in_2 (--midi-ports 2) and kanon:midi_out exist. kn_jack_midi
#    sends notes at chosen server frames into kanon:midi_in and records
#    kanon's output: every step is exactly at its message's server frame +
#    the latency status reports (midi.latency_frames), 0 frames of error;
#    a note off steps to 0 the same way, and a CC, pitch bend (its value:
#    -0.5 and 8191/8192), channel pressure and program change each to the
#    level gate.c makes of it. Routes: with the deck routed to
#    channel 2, a note on channel 1 is not heard and one on channel 2 is;
#    routed --from midi_in_2, a note into kanon:midi_in is not heard and one
#    into kanon:midi_in_2 is. A take the machine disturbed (a missed cycle,
#    an underrun, a late event) is taken again, up to 5 times.
# 4. MIDI out (same takes): gate.c sends each note back with kn_midi_out at
#    its event's sample; kanon:midi_out delivers it on exactly the server
#    frame at which the step leaves kanon's audio port.
# 4b. MIDI learn: `kanon learn gate.lv` waits; the CC sent next (channel 3,
#    CC 21) binds it, and moves gate.lv (0..127: CC value v gives v, which
#    gate.c plays as v/512) on that very CC's frame + L, and so does the
#    next; the same CC on another channel does not; after --forget, nothing.
#    Errors are clear, a learn with no CC times out and says so, and the
#    bindings go into the session file and come back from it (section 2).
# 4c. A control-surface map whose knob is CC 22 on channel 1 and whose
#    momentary button is note 36: the CC moves gate.lv over its range (and
#    the same CC on channel 2 does not), the note holds it at max while down.
# 5. MIDI clock (`kanon up --midi-clock`): ticks (0xF8) exactly 1000 frames
#    apart at 120 bpm (24 a beat of 24000 frames), 1200 after `kanon tempo
#    100`; `kanon down` sends a stop (0xFC) as its last message.
. "$(dirname "$0")/lib.sh"
GATE=$ROOT/tests/e2e/midi/gate.c
BEAT=24000

# --- 1. kanon note and OSC on the dummy backend --------------------------------------------
up
expect 0 kanon play "$GATE" --deck gate --fade 0
wait_for sh -c 'kanon status --json | grep -q "\"state\":\"running\""' || fail "gate did not start"
beat_now() { kanon tempo --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["beat"])'; }
# wait_beat B: until the timeline has passed beat B (bounded: a hang fails)
wait_beat() {
    for _ in $(seq 1 600); do
        python3 -c "import sys; sys.exit(0 if $(beat_now) > $1 else 1)" && return 0
        sleep 0.05
    done
    fail "the timeline did not reach beat $1"
}
# A beat about 2 s ahead, which the deck has not rendered; if the machine
# made the command come later than that (the reply says late: it played at
# once), the recording is made again, up to 5 times.
for n in 1 2 3 4 5; do
    kanon record start "$T/notes.wav" --force >/dev/null || fail "record start"
    # no python between reading the beat and sending the note: its start-up alone can
    # take seconds on a busy machine
    b=$(kanon tempo --json | sed 's/.*"beat":\([0-9]*\).*/\1/')
    at_beat=$((b + 4)).25
    expect 0 kanon note gate 60 100 --at "$at_beat" --dur 0.5 --json
    grep -q '"late":false' "$T/out" && break
    kanon record stop >/dev/null || fail "record stop"
    ok "the machine delayed note --at $at_beat past its beat (take $n): again"
    [ "$n" = 5 ] && fail "5 takes, each note --at delayed past its beat by the machine"
done
at_frame=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["frame"])' "$T/out")
python3 -c "import sys; sys.exit(0 if $at_frame == round($at_beat * $BEAT) else 1)" ||
    fail "note --at $at_beat announced frame $at_frame, want $(python3 -c "print(round($at_beat * $BEAT))")"
wait_beat "$at_beat + 0.6"
expect 0 kanon note gate 62 64 --quant 1 --dur 1 --json
q_frame=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["frame"])' "$T/out")
q_beat=$(python3 -c "print($q_frame / $BEAT)")
wait_beat "$q_beat + 1.1"
S=$(status_field 's["osc_unix"]')
oscsend "osc.unix://$S" /kanon/gate/note iif 67 32 0.25 || fail "oscsend"
wait_beat "$(beat_now) + 1" # the note lands on the deck's next unrendered frame, its off 0.25 beat later
kanon record stop --json >"$T/rec.json" || fail "record stop"
python3 - "$ROOT/tests/e2e/swap" "$T" "$at_beat" "$at_frame" "$q_frame" <<'PY' || fail "notes"
import json, sys
sys.path.insert(0, sys.argv[1])
from swaplib import read_wav
t, at_beat, at_frame, q_frame = sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
BEAT = 24000
t0 = json.load(open(t + "/rec.json"))["timeline_frame"]
rate, (left, right) = read_wav(t + "/notes.wav")
steps, last = [], 0.0
for i, x in enumerate(left):
    if x != last:
        steps.append((t0 + i, x))
        last = x
want = [(at_frame, 100 / 256), (round((at_beat + 0.5) * BEAT), 0.0), (q_frame, 64 / 256), (q_frame + BEAT, 0.0)]
if steps[:4] != want:
    print("FAIL: steps (timeline frame, level) %s, want %s" % (steps[:6], want))
    sys.exit(1)
if q_frame % BEAT:
    print("FAIL: --quant 1 landed on frame %d, not on a beat" % q_frame)
    sys.exit(1)
osc = steps[4:]
if len(osc) != 2 or osc[0][1] != 32 / 256 or osc[1][1] != 0 or osc[1][0] - osc[0][0] != BEAT // 4:
    print("FAIL: the OSC note (velocity 32, 0.25 beat) gave steps %s" % osc)
    sys.exit(1)
print("  ok: note --at %g on frame %d, its --dur 0.5 off on %d; --quant 1 on beat %d; the OSC note held %d frames"
      % (at_beat, at_frame, want[1][0], q_frame // BEAT, osc[1][0] - osc[0][0]))
PY
[ "$(status_field 's["events_late"]')" = 0 ] || ok "(the machine made $(status_field 's["events_late"]') event late)"

# --- 2. errors and routes ------------------------------------------------------------------
expect 1 kanon note gate 128
says "PITCH"
expect 1 kanon note gate 60 200
says "VELOCITY"
expect 1 kanon note gate 60 --at 1 --quant 1
says "not both"
expect 1 kanon note gate 60 0 --dur 1
says "takes no --dur"
expect 1 kanon note nodeck 60
says "no deck named 'nodeck'"
expect 0 kanon midi
says "no MIDI routes"
expect 0 kanon midi gate --channel 2 --json
says '[{"deck":"gate","from":"any","channel":2}]'
expect 1 kanon midi gate --from midi_in_3
says "no MIDI input port 'midi_in_3'"
expect 1 kanon midi gate --channel 17
says "--channel"
expect 0 kanon midi gate --off
expect 1 kanon midi gate --off
says "has no such MIDI route"
ok "note and midi refuse bad input with a clear message; routes are added, listed and removed"
# the session file keeps the routes
expect 0 kanon midi gate --from midi_in --channel 10
expect 0 kanon midi other --channel 3
# MIDI learn's bindings: errors, and kept in the session file
expect 1 kanon learn gate
says "DECK.PARAM"
expect 1 kanon learn nodeck.lv
says "no deck named 'nodeck'"
expect 1 kanon learn gate.nope
says "has no parameter 'nope'"
expect 1 kanon learn gate.lv --cc 128
says "--cc"
expect 1 kanon learn gate.lv --cc 21 --from midi_in_5
says "no MIDI input port 'midi_in_5'"
expect 1 kanon learn gate.lv --timeout 0.3
says "no control change arrived"
expect 0 kanon learn gate.lv --cc 21 --channel 3
says "CC 21  channel 3  midi_in    -> gate.lv"
expect 0 kanon session save "$T/s.json"
python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))["learn"]; sys.exit(0 if m == [{"deck":"gate","param":"lv","from":"midi_in","channel":3,"cc":21,"log":False}] else 1)' "$T/s.json" ||
    fail "session file's learn: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("learn"))' "$T/s.json")"
python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))["midi"]; sys.exit(0 if m == [{"deck":"gate","from":"midi_in","channel":10},{"deck":"other","from":"any","channel":3}] else 1)' "$T/s.json" ||
    fail "session file's midi: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("midi"))' "$T/s.json")"
kanon down >/dev/null 2>&1
up
expect 0 kanon session load "$T/s.json"
expect 0 kanon midi --json
says '[{"deck":"gate","from":"midi_in","channel":10},{"deck":"other","from":"any","channel":3}]'
expect 0 kanon learn --list --json
says '"bindings":[{"deck":"gate","param":"lv","from":"midi_in","channel":3,"cc":21,"log":false}]'
ok "MIDI routes and MIDI learn's bindings are saved in the session file and made again by loading it"
kanon down >/dev/null 2>&1

# --- 3. JACK MIDI in -----------------------------------------------------------------------
command -v jackd >/dev/null || { echo "jackd not installed: the JACK part is skipped"; exit 0; }
command -v jack_lsp >/dev/null || { echo "jack_lsp not installed: the JACK part is skipped"; exit 0; }
[ -x "$TOOLS/kn_jack_midi" ] || fail "$TOOLS/kn_jack_midi is not built (make)"
export JACK_DEFAULT_SERVER="kn-e2e-$$-midi" JACK_NO_AUDIO_RESERVATION=1
JPID=""
trap 'kanon down >/dev/null 2>&1; [ -n "$JPID" ] && stop_jackd; cleanup' EXIT
jack_clean_stale
jackd -R -S -n "$JACK_DEFAULT_SERVER" -d dummy -r 48000 -p 256 >"$T/jackd.log" 2>&1 &
JPID=$!
wait_for jack_lsp || fail "jackd did not start: $(cat "$T/jackd.log")"
kanon up --backend jack --midi-ports 2 --midi-clock >"$T/up.out" 2>&1 || fail "kanon up --backend jack: $(cat "$T/up.out")"
jack_lsp >"$T/ports.txt"
for p in kanon:midi_in kanon:midi_in_2 kanon:midi_out; do
    grep -qx "$p" "$T/ports.txt" || fail "no port $p: $(cat "$T/ports.txt")"
done
[ "$(status_field 's["midi"]["ports"]')" = "['kanon:midi_in', 'kanon:midi_in_2']" ] ||
    fail "status midi.ports: $(status_field 's["midi"]')"
ok "ports kanon:midi_in, kanon:midi_in_2, kanon:midi_out"
expect 0 kanon play "$GATE" --deck gate --fade 0
wait_for sh -c 'kanon status --json | grep -q "\"state\":\"running\""' || fail "gate did not start"
LEFT=$(jack_lsp | grep '^kanon:' | grep -v midi | head -1)
disturbance() { status_field '"%d %d %d" % (s["decks"][0]["underruns"], s["midi"]["late"], s["midi"]["dropped"])'; }

# take LABEL WANT ARGS...: kn_jack_midi ARGS recording LEFT; WANT: python list of
# (index into sent, level) that must be the recorded steps, each at sent frame + L, the
# latency status reports before and after the take (an underrun grows the ring's
# target, and L with it: the take is made again).
take() {
    local label=$1 want=$2 n d0
    shift 2
    for n in 1 2 3 4 5; do
        d0=$(disturbance) L=$(status_field 's["midi"]["latency_frames"]')
        kn_jack_midi --from "$LEFT" --midi-from kanon:midi_out "$@" --seconds 0.5 >"$T/$label.json" 2>"$T/$label.err" ||
            fail "kn_jack_midi: $(cat "$T/$label.json" "$T/$label.err")"
        if [ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["skipped_cycles"])' "$T/$label.json")" = 0 ] &&
            [ "$(disturbance)" = "$d0" ] && [ "$(status_field 's["midi"]["latency_frames"]')" = "$L" ]; then
            python3 - "$T/$label.json" "$L" "$want" "$label" <<'PY' || fail "$label"
import json, sys
r, L, want, label = json.load(open(sys.argv[1])), int(sys.argv[2]), eval(sys.argv[3]), sys.argv[4]
sent = r["sent"]
steps = [tuple(s) for s in r["ports"][0]["steps"]]
exp = [(sent[i][0] + L, lvl) for i, lvl in want]
if steps != exp:
    print("FAIL: %s: steps (server frame, level) %s, want %s (sent %s, latency %d)" % (label, steps, exp, sent, L))
    sys.exit(1)
echo = [m for m in r["midi"] if m[1] < 0xF0]  # the clock's bytes are not the deck's
want_echo = [[sent[i][0] + L] + sent[i][1:] for i, _ in want if sent[i][1] & 0xE0 == 0x80]  # notes
if echo != want_echo:
    print("FAIL: %s: kanon:midi_out sent %s, want the notes back on their audio steps' frames %s" % (label, echo, want_echo))
    sys.exit(1)
print("  ok: %s: %d step%s, each exactly %d frames after its message's server frame, and its echo from kanon:midi_out on that frame" % (label, len(exp), "" if len(exp) == 1 else "s", L))
PY
            return 0
        fi
        ok "$label: take $n disturbed by the machine (skipped cycles, or underruns/late/dropped $d0 -> $(disturbance)); again"
    done
    fail "$label: 5 takes, each disturbed by the machine"
}

# (each take ends at level 0, so that a take made again starts where the first did)
take "notes" "[(0, 100/256), (1, 64/256), (2, 0.0), (3, 20/512), (4, 0.25 - 0.5/8), (5, 0.25 + 8191/8192/8), (6, 64/1024), (7, 8/2048), (8, 0.0)]" \
    --to kanon:midi_in --send 1000:0x90,60,100 --send 1101:0x93,61,64 --send 3001:0x80,61,0 \
    --send 3500:0xB0,74,20 --send 3600:0xE5,0,32 --send 3700:0xE0,127,127 --send 3800:0xD0,64 \
    --send 3900:0xC0,8 --send 4000:0x80,60,0
[ "$(status_field 's["midi"]["ignored"]')" = 0 ] || fail "MIDI ignored: $(status_field 's["midi"]')"
expect 0 kanon midi gate --channel 2
take "channel 2 only" "[(1, 50/256), (2, 0.0)]" --to kanon:midi_in \
    --send 500:0x90,60,90 --send 900:0x91,60,50 --send 2000:0x81,60,0
expect 0 kanon midi gate --off
expect 0 kanon midi gate --from midi_in_2
take "midi_in ignored" "[]" --to kanon:midi_in --send 700:0x90,60,90
take "from midi_in_2" "[(0, 40/256), (1, 0.0)]" --to kanon:midi_in_2 --send 700:0x90,60,40 \
    --send 900:0x80,60,0
ok "JACK MIDI: every onset at JACK's frame + the reported latency ($L frames), routes by channel and port, MIDI out on the audio's frame"

# --- 4b. MIDI learn ------------------------------------------------------------------------
# (learning hears every port, routed or not: the deck hears only midi_in_2 now)
kanon learn gate.lv --timeout 120 --json >"$T/learn.out" 2>&1 &
LPID=$!
wait_for sh -c 'kanon learn --list --json | grep -q "\"armed\":{"' || fail "kanon learn did not arm: $(cat "$T/learn.out")"
take "learn" "[(0, 64/512), (1, 0.0)]" --to kanon:midi_in --send 600:0xB2,21,64 --send 1500:0xB2,21,0
wait "$LPID" || fail "kanon learn: $(cat "$T/learn.out")"
grep -q '^{"deck":"gate","param":"lv","from":"midi_in","channel":3,"cc":21,"log":false}$' "$T/learn.out" ||
    fail "kanon learn --json printed $(cat "$T/learn.out")"
take "learned CC, another channel" "[]" --to kanon:midi_in --send 600:0xB0,21,100
take "learned CC again" "[(0, 127/512), (1, 0.0)]" --to kanon:midi_in --send 300:0xB2,21,127 --send 1300:0xB2,21,0
expect 0 kanon learn --forget gate.lv
take "forgotten" "[]" --to kanon:midi_in --send 600:0xB2,21,100
ok "MIDI learn: the next CC bound gate.lv, which then moved on each CC's frame + $L; other channels and a forgotten binding move nothing"

# --- 4c. a control-surface map with MIDI controls: a knob on CC 22 (channel 1), a
# momentary button on note 36 (any channel), both on gate.lv
cat >"$T/midimap.json" <<'EOF'
{"name": "midi test", "reply": {"host": "127.0.0.1", "port": 9},
 "knobs": [{"midi": {"cc": 22, "channel": 1}}],
 "buttons": [{"midi": {"note": 36}, "in": "/b/1"}],
 "pages": [{"name": "one", "knobs": ["gate.lv"], "buttons": [{"target": "gate.lv", "mode": "momentary"}]}]}
EOF
expect 0 kanon map load "$T/midimap.json"
lv_near() { kanon get gate.lv --json | python3 -c 'import json,sys; sys.exit(0 if abs(json.load(sys.stdin)["value"] - float(sys.argv[1])) < 1e-9 else 1)' "$1"; }
received() { status_field 's["midi"]["received"]'; }
send() { kn_jack_midi --to kanon:midi_in "$@" --seconds 0.1 >"$T/send.out" 2>&1 || fail "kn_jack_midi: $(cat "$T/send.out")"; }
send --send 100:0xB0,22,127
wait_for lv_near 127 || fail "CC 22 = 127 on the map's MIDI knob: gate.lv is $(kanon get gate.lv)"
r0=$(received)
send --send 100:0xB0,22,64 --send 200:0xB1,22,0
wait_for sh -c "[ \"\$(kanon status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"midi\"][\"received\"])')\" -ge $((r0 + 2)) ]" ||
    fail "the two CCs were not received"
lv_near 64 || fail "CC 22 = 64 on channel 1, then 0 on channel 2: gate.lv is $(kanon get gate.lv), want 64 (channel 2 is not the knob's)"
send --send 100:0x95,36,100
wait_for lv_near 127 || fail "note 36 pressed on the map's momentary MIDI button: gate.lv is $(kanon get gate.lv)"
send --send 100:0x85,36,0
wait_for lv_near 0 || fail "note 36 released: gate.lv is $(kanon get gate.lv)"
echo '{"reply": {"port": 9}, "knobs": [{"midi": {"cc": 200}}], "pages": [{}]}' >"$T/badmap.json"
expect 1 kanon map load "$T/badmap.json"
says '"midi" is {"cc": 0..127}'
ok "a map's MIDI controls: a knob on CC 22 (channel 1 only) moves gate.lv over its range, a momentary button on note 36 holds it at max while down"

# --- 5. MIDI clock -------------------------------------------------------------------------
# ticks BPM: a take of kanon:midi_out; its clock ticks are 28.8e6/BPM/24 frames apart exactly
ticks() {
    kn_jack_midi --midi-from kanon:midi_out --seconds 0.6 >"$T/clock.json" 2>"$T/clock.err" ||
        fail "kn_jack_midi: $(cat "$T/clock.err")"
    python3 - "$T/clock.json" "$1" <<'PY' || fail "clock at $1 bpm"
import json, sys
r, bpm = json.load(open(sys.argv[1])), float(sys.argv[2])
t = [m[0] for m in r["midi"] if m[1] == 0xF8]
gaps = sorted(set(b - a for a, b in zip(t, t[1:])))
want = 48000 * 60 / bpm / 24
if len(t) < 10 or gaps != [want]:
    print("FAIL: %d ticks in 0.6 s, gaps %s, want every %g frames" % (len(t), gaps[:8], want))
    sys.exit(1)
print("  ok: %d clock ticks at %g bpm, every one %g frames after the last (24 a beat)" % (len(t), bpm, want))
PY
}
ticks 120
expect 0 kanon tempo 100
for _ in $(seq 1 200); do # until the change (landed past every deck's frontier) has played
    status_field '0 if s["tempo"]["bpm"] == 100 else 1/0' >/dev/null 2>&1 && break
    sleep 0.05
done
ticks 100
kn_jack_midi --midi-from kanon:midi_out --lead 0 --seconds 4 >"$T/down.json" 2>"$T/down.err" &
REC=$!
wait_for sh -c 'jack_lsp -c | grep -A1 "^kanon:midi_out$" | grep -q "^ .*kn_jack_midi:midi"' || fail "the recorder did not connect"
kanon down >/dev/null 2>&1
wait "$REC" || fail "kn_jack_midi: $(cat "$T/down.err")"
python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))["midi"]; sys.exit(0 if m and m[-1][1:] == [0xFC] and [x for x in m if x[1] == 0xF8] else 1)' "$T/down.json" ||
    fail "kanon down did not end the clock with a stop: $(head -c 600 "$T/down.json")"
ok "kanon down ends the MIDI clock with a stop (0xFC)"
