# A swap that changes the frequency (440 -> 660 Hz, phase in kn_state) is
# seamless: with --fade 0 the waveform has no step beyond a 660 Hz sine's
# normal per-sample change; with the default fade (20 ms) the level never
# exceeds the larger of the two sines (peak <= 0.2), the crossfade region is
# not silent, and there is no step either. After the swap: 660 +- 0.5 Hz.
#
# The recording starts before `kanon play`, so the deck's frame 0 is the
# sample before the recording's first non-silent one (a deck's first start
# is exact). That maps every recorded sample to its deck frame, and the
# recording is checked against tests/e2e/swap/phase_model.c rendered by
# `kanon render` (ch0: the 440 Hz code as if it never stopped; ch1: the
# 660 Hz code from the takeover frame S on, starting from the phase the
# 440 Hz code left in kn_state):
#   frames < S:          recording == old                      (within 1e-6)
#   S <= f < S+fade:     recording == old + g*(new-old), g ~ (f-S)/fade, |out| <= max(|old|,|new|)
#   frames >= S+fade:    recording == new                      (within 1e-6)
# S is the first frame that differs from the 440 Hz code, rounded down to a
# block boundary (64 frames).
. "$(dirname "$0")/lib.sh"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in tests/e2e/swap
SW=$ROOT/tests/e2e/swap
RATE=48000

one_run() { # NAME FADE_MS [play args...]
    local name=$1 fade=$2
    shift 2
    up
    cp "$T/p440.c" "$T/$name.c"
    kanon record start "$T/$name.wav" >/dev/null || fail "record start"
    kanon play "$T/$name.c" "$@" >"$T/play.out" 2>&1 || fail "play: $(cat "$T/play.out")"
    python3 "$SW/swaplib.py" advance "$name" 24000 || fail "$name: the deck does not play" # 0.5 s of 440 Hz
    cp "$T/p660.c" "$T/$name.c"
    python3 "$SW/swaplib.py" wait-version "$name" 2 ||
        fail "$name: version 2 never took over: $(kanon log "$name")"
    python3 "$SW/swaplib.py" advance "$name" 48000 || fail "$name: the deck does not play" # >= 0.8 s of 660 Hz
    kanon record stop --json >"$T/$name.stop.json" || fail "record stop"
    python3 "$SW/swaplib.py" check-deck "$name" 2 "$fade" || fail "$name: status/log"
    kanon down >/dev/null 2>&1 # the analysis below needs no conductor
    kanon render "$T/p_model.c" --seconds "$(python3 -c \
        "import json; print(round(json.load(open('$T/$name.stop.json'))['seconds'] + 1))")" \
        -o "$T/$name.old.wav" 2>/dev/null || fail "render model"
    # pass 1: where does the recording leave the 440 Hz code?
    python3 - "$SW" "$T/$name.wav" "$T/$name.old.wav" >"$T/$name.s" <<'PY' || fail "$name: $(cat "$T/$name.s")"
import sys
sys.path.insert(0, sys.argv[1])
from swaplib import *
try:
    rate, live = read_wav(sys.argv[2])
    _, (old, _new) = read_wav(sys.argv[3])
    if any(a != b for a, b in zip(live[0], live[1])):
        raise Fail("the two channels differ")
    print(*find_takeover(live[0], old))
except Fail as e:
    print(e)
    sys.exit(1)
PY
    read -r base S <"$T/$name.s"
    [ "$S" -ge 24000 ] || fail "$name: takeover at deck frame $S, before the save"
    kanon render "$T/p_model.c" --set start="$S" \
        --seconds "$(python3 -c "import json; print(round(json.load(open('$T/$name.stop.json'))['seconds'] + 1))")" \
        -o "$T/$name.model.wav" 2>/dev/null || fail "render model"
    local F=$((fade * RATE / 1000))
    python3 - "$SW" "$T/$name.wav" "$T/$name.model.wav" "$base" "$S" "$F" <<'PY' || fail "$name: handover"
import sys
sys.path.insert(0, sys.argv[1])
from swaplib import *
try:
    rate, live = read_wav(sys.argv[2])
    _, (old, new) = read_wav(sys.argv[3])
    base, S, F = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
    est, worst = check_handover(live[0], old, new, base, S, F, rate)
    print("  ok: takeover at deck frame %d (a block boundary): the old code exactly before it, the new code"
          " exactly from frame %d on, continuing the old phase%s; min 10 ms RMS %.3f"
          % (S, S + F, "; %d-frame linear crossfade (%d gains checked), never above the larger signal"
             % (F, est) if F else " (hard switch)", worst))
except Fail as e:
    print("FAIL:", e)
    sys.exit(1)
PY
    local amp=0.2 fmax=660
    # the largest per-sample change of a 0.2-amplitude 660 Hz sine, plus the
    # crossfade's own slope (0.4 over the fade) and float rounding
    local maxstep
    maxstep=$(python3 -c "import math; print(2*math.pi*$fmax/$RATE*$amp + ($F and 0.4/$F) + 1e-5)")
    wavtool steps "$T/$name.wav" --max "$maxstep" >"$T/$name.steps.json" ||
        fail "$name: discontinuity: $(cat "$T/$name.steps.json")"
    ok "$name: no step above $maxstep ($(wavtool steps "$T/$name.wav" --max 1 --field max_step))"
    local peak
    peak=$(wav "$T/$name.wav" peak)
    python3 -c "import sys; sys.exit(0 if $peak <= 0.2 + 1e-6 else 1)" || fail "$name: peak $peak > 0.2"
    ok "$name: peak $peak <= 0.2"
    local pre post f
    pre=$(python3 -c "print(($base + 1) / $RATE + 0.01)")
    f=$(wav "$T/$name.wav" freq --skip "$pre" --length "$(python3 -c "print($S / $RATE - 0.05)")")
    near "$f" 440 0.5 || fail "$name: before the swap $f Hz, want 440"
    post=$(python3 -c "print(($base + $S + $F) / $RATE + 0.01)")
    f=$(wav "$T/$name.wav" freq --skip "$post")
    near "$f" 660 0.5 || fail "$name: after the swap $f Hz, want 660 +- 0.5"
    ok "$name: 440 Hz before, $f Hz after the swap"
}

# With a tremolo read from k->frame (TREM), so that a code rendered at the
# wrong frame, in the crossfade too, differs from the model.
for f in 440 660 _model; do { echo "#define TREM 0.1f"; cat "$SW/phase$f.c"; } >"$T/p$f.c"; done
one_run phhard 0 --fade 0
one_run phfade 20
