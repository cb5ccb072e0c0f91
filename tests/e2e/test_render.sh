# Offline render, check, help texts, and live parameters:
#   - `kanon render examples/sine.c --seconds 2 --set freq=220 --rate 44100 -o low.wav`
#     (the example of `kanon render --help`) writes 2 s at 44100 Hz of a
#     220 +- 0.5 Hz sine at the sine's level;
#   - rendering is deterministic: the same render twice has bit-identical
#     format and sample data (sine.c with --set, noise.c, pad.c); the files
#     as a whole are not compared, as libsndfile stamps the time into the
#     PEAK chunk;
#   - `kanon check` passes on every example;
#   - every command listed by `kanon --help` answers `--help` with exit 0, a
#     "usage:" and an "example:", without a conductor;
#   - a live recording of noise.c equals its render sample for sample, at
#     the offset status gives (the deck's epoch, the recording's first
#     frame), so a render a frame late fails;
#   - `kanon set sine.freq 330` on a live deck: the recording made once the
#     change has reached the output is a continuous 330 +- 0.5 Hz sine (440
#     before); values outside the declared range [20, 2000] are clamped
#     (5000 -> 2000, 1 -> 20), as `kanon params sine --json` reads back.
. "$(dirname "$0")/lib.sh"

# --- help texts (no conductor needed)
cmds=$(kanon --help | sed -n 's/^  \([a-z][a-z]*\)  .*/\1/p')
for c in up down play stop status record set params render check; do
    echo "$cmds" | grep -qx "$c" || fail "\`kanon --help\` does not list '$c'"
done
for c in $cmds; do
    kanon "$c" --help >"$T/help.out" 2>&1 || fail "kanon $c --help exited $?"
    grep -q "usage:" "$T/help.out" || fail "kanon $c --help has no usage: $(cat "$T/help.out")"
    grep -q "example:" "$T/help.out" || fail "kanon $c --help has no example: $(cat "$T/help.out")"
done
ok "--help of all $(echo "$cmds" | wc -l) commands: exit 0, usage:, example:"

# --- check every example
for f in "$ROOT"/examples/*.c; do
    kanon check "$f" >"$T/check.out" 2>&1 || fail "kanon check $f: $(cat "$T/check.out")"
    grep -q "ok" "$T/check.out" || fail "kanon check $f output: $(cat "$T/check.out")"
done
ok "kanon check passes on $(ls "$ROOT"/examples/*.c | wc -l) examples"

# --- the render example
(cd "$ROOT" && kanon render examples/sine.c --seconds 2 --set freq=220 --rate 44100 -o "$T/low.wav") \
    >"$T/render.out" 2>&1 || fail "render: $(cat "$T/render.out")"
[ "$(wav "$T/low.wav" rate)" = 44100 ] || fail "rate $(wav "$T/low.wav" rate)"
[ "$(wav "$T/low.wav" frames)" = 88200 ] || fail "frames $(wav "$T/low.wav" frames), want 2 s = 88200"
f=$(wav "$T/low.wav" freq)
near "$f" 220 0.5 || fail "render frequency $f, want 220"
p=$(wav "$T/low.wav" peak_dbfs)
near "$p" -13.979 0.05 || fail "render peak $p dBFS, want -13.98 (0.2)"
ok "render: 88200 frames at 44100 Hz, $f Hz, peak $p dBFS"

# --- deterministic
(cd "$ROOT" && kanon render examples/sine.c --seconds 2 --set freq=220 --rate 44100 -o "$T/low2.wav") \
    >/dev/null 2>&1 || fail "second render"
same_audio "$T/low.wav" "$T/low2.wav" || fail "two renders of sine.c differ"
for ex in noise pad; do
    kanon render "$ROOT/examples/$ex.c" --seconds 2 -o "$T/$ex.1.wav" 2>/dev/null || fail "render $ex"
    kanon render "$ROOT/examples/$ex.c" --seconds 2 -o "$T/$ex.2.wav" 2>/dev/null || fail "render $ex"
    same_audio "$T/$ex.1.wav" "$T/$ex.2.wav" || fail "two renders of $ex.c differ"
    [ "$(wav "$T/$ex.1.wav" peak)" != 0 ] || fail "render of $ex.c is silent"
done
ok "renders are bit-identical run to run (sine with --set, noise, pad)"

# --- live noise == render
up
kanon play "$ROOT/examples/noise.c" --deck hiss >/dev/null || fail "play noise"
kanon record start "$T/noise.live.wav" >/dev/null || fail "record"
recorded_wait 2
kanon record stop --json >"$T/noise.stop.json" || fail "record stop"
off=$(render_offset hiss "$T/noise.stop.json") || fail "offset: $off"
kanon render "$ROOT/examples/noise.c" --seconds 10 -o "$T/noise.ref.wav" 2>/dev/null || fail "render noise"
wavtool compare "$T/noise.ref.wav" "$T/noise.live.wav" --tol 0 --min-overlap 1.5 --offset "$off" >"$T/cmp.json" ||
    fail "live noise != render at offset $off: $(cat "$T/cmp.json")"
ok "live noise.c equals its render sample for sample at the offset status gives ($off frames)"
kanon stop hiss >/dev/null || fail "stop hiss"

# --- live parameter change
kanon play "$ROOT/examples/sine.c" >/dev/null || fail "play sine"
deck_frames() { status_field '[d["frames"] for d in s["decks"] if d["name"] == "sine"][0]'; }
frames_past() { [ "$(deck_frames)" -gt "$1" ]; }
# Frames the mixer may still take from the ring that were rendered before a
# change: the ring's target fill plus a few blocks in flight.
backlog=$(status_field 'int(s["ring_target_ms"] * s["rate"] / 1000 + 4 * s["block"])')
kanon record start "$T/before.wav" >/dev/null || fail "record"
recorded_wait 1.2
kanon record stop >/dev/null || fail "record stop"
f=$(wav "$T/before.wav" freq --skip 0.1)
near "$f" 440 0.5 || fail "before set: $f Hz, want 440"
kanon set sine.freq 330 >"$T/set.out" 2>&1 || fail "set: $(cat "$T/set.out")"
grep -qx "sine.freq = 330" "$T/set.out" || fail "set output: $(cat "$T/set.out")"
goal=$(($(deck_frames) + backlog))
wait_for frames_past "$goal" || fail "deck did not advance past frame $goal"
kanon record start "$T/after.wav" >/dev/null || fail "record"
recorded_wait 1.2
kanon record stop >/dev/null || fail "record stop"
f=$(wav "$T/after.wav" freq --skip 0.05)
near "$f" 330 0.5 || fail "after \`set sine.freq 330\`: $f Hz, want 330"
# 330 Hz at amplitude 0.2 moves at most 2*pi*330/48000*0.2 = 0.00864 per sample.
wavtool steps "$T/after.wav" --max 0.0087 >"$T/steps.json" || fail "discontinuity: $(cat "$T/steps.json")"
ok "set sine.freq 330: recording goes from 440 Hz to $f Hz, continuous"

param() { kanon params sine --json | python3 -c "import json,sys; print([p['$1'] for p in json.load(sys.stdin) if p['name'] == 'freq'][0])"; }
kanon set sine.freq 5000 --json >"$T/set.json" || fail "set 5000"
python3 -c "import json; assert json.load(open('$T/set.json'))['value'] == 2000" ||
    fail "set 5000 answered $(cat "$T/set.json"), want value 2000"
[ "$(param value)" = 2000 ] || fail "params after set 5000: value $(param value), want 2000"
kanon set sine.freq 1 >/dev/null || fail "set 1"
[ "$(param value)" = 20 ] || fail "params after set 1: value $(param value), want 20"
[ "$(param min)/$(param max)/$(param default)" = "20/2000/440" ] ||
    fail "declared range $(param min)/$(param max)/$(param default), want 20/2000/440"
ok "clamped to the declared range: 5000 -> 2000, 1 -> 20"
