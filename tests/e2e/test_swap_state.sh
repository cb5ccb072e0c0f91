# A state struct that grows between versions keeps its old fields' values,
# and k->frame runs on across the swaps.
#
# tests/e2e/swap/state_v1.c: struct {double phase; int counter;}, counting
# blocks into counter; state_v2.c appends `float extra` (same sizeof: it
# fills the padding); state_v3.c appends `double pad[7]` (16 -> 72 bytes:
# kn_state moves the region, keeping the common prefix, zero-filling the
# rest). Four channels (conductor --channels 4), every value exact in float:
#   0  0.2*sine from the phase in kn_state (440 Hz in v1, 660 in v2/v3)
#   1  counter/2^16 (+ in v1, - in v2/v3): must be (deck frame / 64) + 1 at
#      every frame, so a counter reset or a lost/repeated block shows
#   2  (k->frame mod 65536)/2^18: must be the deck frame at every frame
#   3  0 in v1, extra/2^16 in v2, -(extra + pad[5])/2^16 in v3: extra counts
#      blocks from its zero fill at v2's takeover, on through v3's resize
# The recording starts before `kanon play`, so its first non-silent frame is
# deck frame 0; each recorded frame is decoded and checked, and compared
# with state_model.c rendered by `kanon render` (one continuous state, the
# versions switching at the recorded takeover frames) within 1e-6.
# Run with --fade 0 and with the default fade (the crossfade windows are
# skipped, except channel 2, which old and new compute identically; after a
# fade the state must be where the old code left it at the takeover, not
# advanced by the outgoing code's snapshot render).
. "$(dirname "$0")/lib.sh"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in tests/e2e/swap
SW=$ROOT/tests/e2e/swap
RATE=48000

one_run() { # NAME FADE_MS [play args...]
    local name=$1 fade=$2
    shift 2
    up --channels 4
    cp "$SW/state_v1.c" "$T/$name.c"
    kanon record start "$T/$name.wav" >/dev/null || fail "record start"
    kanon play "$T/$name.c" "$@" >"$T/play.out" 2>&1 || fail "play: $(cat "$T/play.out")"
    python3 "$SW/swaplib.py" advance "$name" 19200 || fail "$name: the deck does not play"
    cp "$SW/state_v2.c" "$T/$name.c"
    python3 "$SW/swaplib.py" wait-version "$name" 2 ||
        fail "$name: v2 never took over: $(kanon log "$name")"
    python3 "$SW/swaplib.py" advance "$name" 19200 || fail "$name: the deck does not play"
    cp "$SW/state_v3.c" "$T/$name.c"
    python3 "$SW/swaplib.py" wait-version "$name" 3 ||
        fail "$name: v3 never took over: $(kanon log "$name")"
    python3 "$SW/swaplib.py" advance "$name" 28800 || fail "$name: the deck does not play"
    kanon record stop --json >"$T/$name.stop.json" || fail "record stop"
    python3 "$SW/swaplib.py" check-deck "$name" 3 "$fade" || fail "$name: status/log"
    kanon down >/dev/null 2>&1 # the analysis below needs no conductor
    local F=$((fade * RATE / 1000)) secs
    secs=$(python3 -c "import json; print(round(json.load(open('$T/$name.stop.json'))['seconds'] + 1))")
    # pass 1: the takeover frames, from the marker channel
    python3 - "$SW" "$T/$name.wav" "$F" >"$T/$name.s" <<'PY' || fail "$name: $(cat "$T/$name.s")"
import sys
sys.path.insert(0, sys.argv[1])
from swaplib import *
try:
    rate, ch = read_wav(sys.argv[2])
    if len(ch) != 4:
        raise Fail("%d channels recorded, want 4" % len(ch))
    n = len(ch[0])
    onset = next((r for r in range(n) if any(c[r] != 0 for c in ch)), None)
    if onset is None:
        raise Fail("silent recording")
    m = ch[3]
    a = next((r for r in range(onset, n) if m[r] != 0), None)
    if a is None:
        raise Fail("v2 never reached the recording")
    S2 = 64 * ((a - onset) // 64)
    want = lambda f: (((f - S2) // 64) + 1) / 65536.0
    # v3's takeover: the marker leaves v2's count (at once, or one frame into a fade)
    b = next((r for r in range(onset + S2 + int(sys.argv[3]) + 64, n) if m[r] != want(r - onset) and m[r] != 0), None)
    if b is None:
        raise Fail("v3 never reached the recording")
    print(onset, S2, 64 * ((b - onset) // 64))
except Fail as e:
    print(e)
    sys.exit(1)
PY
    read -r onset S2 S3 <"$T/$name.s"
    kanon render "$SW/state_model.c" --channels 4 --set v2at="$S2" --set v3at="$S3" --seconds "$secs" \
        -o "$T/$name.model.wav" 2>/dev/null || fail "render model"
    python3 - "$SW" "$T/$name.wav" "$T/$name.model.wav" "$onset" "$S2" "$S3" "$F" <<'PY' || fail "$name: state"
import sys
sys.path.insert(0, sys.argv[1])
from swaplib import *
try:
    rate, ch = read_wav(sys.argv[2])
    _, model = read_wav(sys.argv[3])
    onset, S2, S3, F = (int(v) for v in sys.argv[4:8])
    n = len(ch[0]) - onset
    if not (0 < S2 < S3 and S3 + F + rate // 4 < n):
        raise Fail("takeovers at %d and %d, recording %d frames" % (S2, S3, n))
    if any(c[r] != 0 for c in ch for r in range(onset)):
        raise Fail("sound before deck frame 0")
    in_fade = lambda f: S2 <= f < S2 + F or S3 <= f < S3 + F
    for f in range(n):
        r = onset + f
        frame = ch[2][r] * 262144.0
        if frame != f % 65536:
            raise Fail("deck frame %d: k->frame channel says %r (mod 65536): k->frame is not continuous"
                       % (f, frame))
        if in_fade(f):
            continue
        c = ch[1][r] * 65536.0
        want = f // 64 + 1
        if abs(c) != want or (c > 0) != (f < S2):
            raise Fail("deck frame %d: counter %r, want %s%d (takeovers at %d, %d): the counter did not carry over"
                       % (f, c, "+" if f < S2 else "-", want, S2, S3))
        e = ch[3][r] * 65536.0
        we = 0 if f < S2 else (f - S2) // 64 + 1
        if f >= S3:
            we = -we
        if e != we:
            raise Fail("deck frame %d: extra %r, want %d (v2 at %d, v3 at %d): the new field was not zero "
                       "at v2's takeover or lost its value (or pad was not zero) at v3's" % (f, e, we, S2, S3))
        for k in range(4):
            if abs(ch[k][r] - model[k][f]) > 1e-6:
                raise Fail("deck frame %d channel %d: %r, the model says %r" % (f, k, ch[k][r], model[k][f]))
    print("  ok: takeovers at deck frames %d (v2, struct +float) and %d (v3, 16 -> 72 bytes); at all %d frames"
          "%s: k->frame continuous, counter = blocks played, extra zero at v2 and kept through v3, "
          "phase continuing: equal to the model" % (S2, S3, n, " outside the %d-frame crossfades" % F if F else ""))
except Fail as e:
    print("FAIL:", e)
    sys.exit(1)
PY
    if [ "$F" = 0 ]; then
        wavtool compare "$T/$name.model.wav" "$T/$name.wav" --tol 1e-6 --min-overlap 1.4 >"$T/$name.cmp.json" ||
            fail "$name: recording != model render: $(cat "$T/$name.cmp.json")"
        ok "$name: wavtool compare: recording equals the model render (offset $(python3 -c \
"import json; print(json.load(open('$T/$name.cmp.json'))['offset'])") frames)"
    fi
}

one_run sthard 0 --fade 0
one_run stfade 20
