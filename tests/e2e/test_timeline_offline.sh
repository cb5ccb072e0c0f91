# The timeline, offline (`kanon render --bpm --bar --start --events`):
#   - a timed parameter event at beat 1.01 changes kn_target at frame 24240
#     exactly at 48 kHz and 120 bpm (the sample before still has the old
#     value), and at frame 32320 at 90 bpm; --start 1 moves it to render
#     frame 240, and --start 2 (after the event) applies it at frame 0 and
#     says it was before --start;
#   - k->beat, kn_beat_at, k->bpm, k->bar and k->now - k->frame, written
#     out by a small file, are the timeline's at every sample (--bpm 90
#     --bar 3 --start 4: the first sample is beat 4 exactly);
#   - note events with "dur" reach event() as NOTE_ON at the note's beat and
#     NOTE_OFF `dur` beats later, trig events at theirs, with the velocity,
#     channel and value given, on exact frames;
#   - examples/beat.c hits every beat at 120 and at 90 bpm (onsets where the
#     beats fall), and examples/arp.c plays the chord its events hold, step
#     by step, at the tempo given;
#   - files that do not use the timeline render bit-identically whatever the
#     timeline (--bpm 90 --bar 3 --start 5.5) and with note and trigger
#     events they do not handle: every example that does not use it. With
#     KANON_BASE_BIN=DIR (the build/bin of a kanon from before the
#     timeline), every example also renders bit-identically to that build;
#   - bad events files (unreadable, not JSON, not an array, an unknown
#     param, a missing beat or value, a negative beat, an unknown key, a key
#     of another kind) exit 1 with "FILE: error: ..." naming the entry, and
#     write nothing (no output, no temporary file).
. "$(dirname "$0")/lib.sh"
cd "$T" || fail "cd $T"
SW=$ROOT/tests/e2e/swap

# sample FILE CH FRAME: one sample, as python prints a float
sample() {
    python3 - "$SW" "$@" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
from swaplib import read_wav
rate, ch = read_wav(sys.argv[2])
print(repr(ch[int(sys.argv[3])][int(sys.argv[4])]))
PY
}
# first FILE CH: the first frame that is not 0 (-1 if none)
first() {
    python3 - "$SW" "$1" "$2" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
from swaplib import read_wav
rate, ch = read_wav(sys.argv[2])
print(next((i for i, v in enumerate(ch[int(sys.argv[3])]) if v != 0), -1))
PY
}

# --- a parameter event on its exact frame
cat >target.c <<'EOF'
#include <kanon.h>
static kn_param *v;
void setup(kn_ctx *k) { v = kn_param_decl(k, "v", 0, 1, 0); }
void process(kn_ctx *k, float **out, int frames) {
    (void)k;
    for (int i = 0; i < frames; i++) out[0][i] = (float)kn_target(v);
}
EOF
echo '[{"beat": 1.01, "param": "v", "value": 0.3}]' >ev.json
expect 0 kanon render target.c --bpm 120 --events ev.json --seconds 1 -o t120.wav
says "events: 1 applied at their exact frames"
f=$(first t120.wav 0)
[ "$f" = 24240 ] || fail "beat 1.01 at 120 bpm: first changed frame $f, want 24240"
[ "$(sample t120.wav 0 24239)" = 0.0 ] || fail "frame 24239 is $(sample t120.wav 0 24239), want 0"
near "$(sample t120.wav 0 24240)" 0.3 1e-7 || fail "frame 24240 is $(sample t120.wav 0 24240), want 0.3"
ok "beat 1.01 at 120 bpm, 48 kHz: kn_target changes at frame $f exactly"
expect 0 kanon render target.c --bpm 90 --events ev.json --seconds 1 -o t90.wav
f=$(first t90.wav 0)
[ "$f" = 32320 ] || fail "beat 1.01 at 90 bpm: frame $f, want 32320"
ok "at 90 bpm: frame $f (1.01 beats of 32000 frames)"
expect 0 kanon render target.c --events ev.json --start 1 --seconds 1 -o s1.wav
f=$(first s1.wav 0)
[ "$f" = 240 ] || fail "--start 1: frame $f, want 240"
expect 0 kanon render target.c --events ev.json --start 2 --seconds 0.1 -o s2.wav --json
python3 -c "import json; r = json.load(open('$T/out')); assert r['late'] == 1 and r['events'] == 1 and r['start'] == 2, r" ||
    fail "--start 2 --json: $(cat "$T/out")"
[ "$(first s2.wav 0)" = 0 ] || fail "--start 2: the event before the start is not at frame 0"
expect 0 kanon render target.c --events ev.json --start 2 --seconds 0.1 -o s2.wav
says "1 of them before --start"
ok "--start 1 moves it to frame 240; --start 2 applies it at frame 0 and counts it late"

# --- the timeline fields, sample by sample
cat >clock.c <<'EOF'
#include <kanon.h>
void process(kn_ctx *k, float **out, int frames) {
    for (int i = 0; i < frames; i++) {
        out[0][i] = (float)kn_beat_at(k, i);
        out[1][i] = (float)k->bpm;
        out[2][i] = (float)k->bar;
        out[3][i] = (float)(double)(k->now - k->frame);
        out[4][i] = (float)(k->beat - kn_beat_at(k, 0)); /* 0: k->beat is the first sample's */
    }
}
EOF
expect 0 kanon render clock.c --bpm 90 --bar 3 --start 4 --channels 5 --seconds 2 --block 100 -o clock.wav
python3 - "$SW" "$T/clock.wav" <<'PY' || fail "timeline fields"
import sys
sys.path.insert(0, sys.argv[1])
from swaplib import read_wav
rate, ch = read_wav(sys.argv[2])
start = 4 * 60 * 48000 / 90  # 128000
for i in range(0, len(ch[0]), 997):
    want = (start + i) * 90 / 60 / 48000
    assert abs(ch[0][i] - want) <= 4e-7 * want, (i, ch[0][i], want)
assert ch[0][0] == 4.0, ch[0][0]
assert set(ch[1]) == {90.0} and set(ch[2]) == {3.0} and set(ch[3]) == {start}, "bpm, bar, now"
assert set(ch[4]) == {0.0}, "k->beat"
PY
ok "k->beat, kn_beat_at, k->bpm, k->bar, k->now: the timeline's (90 bpm, bar 3, first sample on beat 4)"

# --- notes and triggers reach event() on their frames
cat >notes.c <<'EOF'
#include <kanon.h>
typedef struct { float level, trig; int channel; } S;
static S *s;
void setup(kn_ctx *k) { s = kn_state(k, "s", sizeof *s); }
void event(kn_ctx *k, const kn_event *e) {
    (void)k;
    if (e->type == KN_EV_NOTE_ON) s->level = (float)e->velocity / 127 + (float)e->note / 1000, s->channel = e->channel;
    if (e->type == KN_EV_NOTE_OFF) s->level = 0;
    if (e->type == KN_EV_TRIG) s->trig = (float)e->value, s->channel = e->channel;
}
void process(kn_ctx *k, float **out, int frames) {
    (void)k;
    for (int i = 0; i < frames; i++) {
        out[0][i] = s->level;
        out[1][i] = s->trig;
        out[2][i] = (float)s->channel;
        s->trig = 0;
    }
}
EOF
cat >notes.json <<'EOF'
[{"beat": 2, "note": 60, "velocity": 100, "dur": 0.5},
 {"beat": 3, "trig": 0.75, "channel": 5},
 {"beat": 3.5, "note": 62, "channel": 9},
 {"beat": 3.75, "note": 62, "velocity": 0}]
EOF
expect 0 kanon render notes.c --events notes.json --channels 3 --seconds 2 -o notes.wav
says "events: 5 applied"
a=$(first notes.wav 0)
b=$(python3 - "$SW" "$T/notes.wav" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
from swaplib import read_wav
rate, ch = read_wav(sys.argv[2])
x = ch[0]
runs, i = [], 0
while i < len(x):
    if x[i] != 0:
        j = i
        while j < len(x) and x[j] == x[i]: j += 1
        runs.append((i, j, x[i]))
        i = j
    else:
        i += 1
print(" ".join("%d-%d:%.4f" % r for r in runs))
trig = [i for i, v in enumerate(ch[1]) if v != 0]
print("trig", trig, ch[1][trig[0]] if trig else None, "channel", ch[2][72000], ch[2][84000])
PY
)
want="48000-60000:0.8474 84000-90000:0.8494
trig [72000] 0.75 channel 5.0 9.0"
[ "$b" = "$want" ] || fail "notes: got
$b
want
$want"
ok "NOTE_ON at beat 2 (frame $a) and NOTE_OFF 0.5 beats later (60000), trig at 72000, channels, velocity 0 = off"

# --- the examples on the timeline
onsets() { # FILE T1 T2 ...: the level rises by 10 dB at each time (s)
    python3 - "$SW" "$@" <<'PY'
import math, sys
sys.path.insert(0, sys.argv[1])
from swaplib import read_wav
rate, ch = read_wav(sys.argv[2])
def rms(a, b):
    a, b = max(0, int(a * rate)), int(b * rate)
    s = sum(ch[0][i] ** 2 for i in range(a, b))
    return 10 * math.log10(s / (b - a) + 1e-30)
bad = ["%.4f" % t for t in map(float, sys.argv[3:]) if not rms(t + 0.001, t + 0.02) > rms(t - 0.021, t - 0.002) + 10]
if bad:
    print("no onset at", bad)
    sys.exit(1)
PY
}
beats() { python3 -c "import sys; b = float(sys.argv[1]); print(' '.join('%.6f' % (i * 60 / b) for i in range(1, int(sys.argv[2]))))" "$@"; }
expect 0 kanon render "$ROOT/examples/beat.c" --seconds 4 -o beat120.wav
onsets beat120.wav $(beats 120 8) || fail "beat.c at 120 bpm: onsets"
expect 0 kanon render "$ROOT/examples/beat.c" --bpm 90 --bar 3 --seconds 4 -o beat90.wav
onsets beat90.wav $(beats 90 6) || fail "beat.c at 90 bpm: onsets"
ok "beat.c: a kick on every beat at 120 and at 90 bpm"
cat >chords.json <<'EOF'
[{"beat": 0, "note": 62, "dur": 4}, {"beat": 0, "note": 65, "dur": 4},
 {"beat": 0, "note": 69, "velocity": 60, "dur": 4}, {"beat": 4, "note": 60, "dur": 4}]
EOF
expect 0 kanon render "$ROOT/examples/arp.c" --bpm 128 --events chords.json --seconds 4 -o arp.wav
got=""
for st in 0 1 2 3 4 6 16 17; do
    got="$got $(wav arp.wav freq --skip "$(python3 -c "print($st * 60 / 128 / 4 + 0.01)")" --length 0.09 |
        python3 -c "import sys, math; print(round(69 + 12 * math.log2(float(sys.stdin.read()) / 440)))")"
done
[ "$got" = " 62 65 69 74 77 62 60 72" ] || fail "arp.c: notes$got, want 62 65 69 74 77 62 60 72"
ok "arp.c: steps through the chord its note events hold (notes$got) at 128 bpm"

# --- files that do not use the timeline: bit-identical, whatever it is
cat >noop.json <<'EOF'
[{"beat": 0.3, "note": 60, "velocity": 100, "dur": 0.5}, {"beat": 1.2, "trig": 1}]
EOF
n=0
for f in "$ROOT"/examples/*.c "$ROOT"/examples/*.dsp; do
    grep -qE 'kn_beat_at|->(now|beat|bpm|bar)\b|\bevent\(' "$f" && continue
    s=$(basename "$f")
    kanon render "$f" --seconds 2 -o "a.$s.wav" >/dev/null 2>&1 || fail "render $s"
    kanon render "$f" --seconds 2 --bpm 90 --bar 3 --start 5.5 -o "b.$s.wav" >/dev/null 2>&1 || fail "render $s --bpm"
    kanon render "$f" --seconds 2 --events noop.json -o "c.$s.wav" >/dev/null 2>&1 || fail "render $s --events"
    same_audio "a.$s.wav" "b.$s.wav" || fail "$s: --bpm 90 --bar 3 --start 5.5 changes its samples"
    same_audio "a.$s.wav" "c.$s.wav" || fail "$s: note events it does not handle change its samples"
    if [ -n "${KANON_BASE_BIN:-}" ]; then
        "$KANON_BASE_BIN/kanon" render "$f" --seconds 2 -o "o.$s.wav" >/dev/null 2>&1 || fail "old render $s"
        same_audio "a.$s.wav" "o.$s.wav" || fail "$s: differs from the build in $KANON_BASE_BIN"
    fi
    n=$((n + 1))
done
[ $n -ge 15 ] || fail "only $n examples compared"
ok "$n examples without the timeline: the same samples with another tempo, bar, start, and with events${KANON_BASE_BIN:+, and as the build in $KANON_BASE_BIN}"

# --- bad events files: an error naming the entry, nothing written
bad() { # WANT JSON-TEXT | WANT --missing
    if [ "$2" = --missing ]; then ev=missing.json; else printf '%s' "$2" >bad.json; ev=bad.json; fi
    mkdir -p outdir && rm -f outdir/* outdir/.[!.]* 2>/dev/null
    expect 1 kanon render target.c --events "$ev" --seconds 1 -o outdir/x.wav
    says "$ev"
    says "error:"
    says "$1"
    [ -z "$(ls -A outdir)" ] || fail "events $2: wrote $(ls -A outdir)"
}
bad "cannot read the events file" --missing
bad "not valid JSON" '[{"beat": 1, "trig": 1},'
bad "must be a JSON array" '{"beat": 1}'
bad 'entry 2 {"beat":2,"param":"vv","value":1}: unknown param "vv" (the file declares v)' \
    '[{"beat": 1, "param": "v", "value": 1}, {"beat": 2, "param": "vv", "value": 1}]'
bad 'entry 1 {"param":"v","value":1}: no "beat"' '[{"param": "v", "value": 1}]'
bad '"param" needs a "value"' '[{"beat": 1, "param": "v"}]'
bad 'negative "beat" (-1)' '[{"beat": -1, "trig": 1}]'
bad 'unknown key "velo"' '[{"beat": 1, "note": 60, "velo": 3}]'
bad '"dur" belongs to a "note" event' '[{"beat": 1, "trig": 1, "dur": 2}]'
bad 'needs one of "param", "note", "trig" or "cc"' '[{"beat": 1}]'
bad '"note" must be a whole number 0..127' '[{"beat": 1, "note": 128}]'
bad "entry 1 1: not an object" '[1]'
expect 1 kanon render target.c --events bad.json --seconds 1 -o outdir/x.wav --json
python3 -c "import json; r = json.load(open('$T/out')); assert r['ok'] is False and 'not an object' in r['error'], r" ||
    fail "--json error: $(cat "$T/out")"
ok "bad events files: 12 kinds of mistake, each a FILE: error naming the entry, nothing written"
