# 200 hot swaps of equivalent code while recording are inaudible: the
# recording equals `kanon render` of the file within 1e-6, sample for sample,
# at the offset status gives (the deck's epoch and the recording's first
# frame; not searched for, so a render or a swap one frame off fails).
#
# The program (tests/e2e/swap/equiv_gen.py) is a sine (phase in kn_state) +
# one-pole-filtered xorshift noise (seed and filter in kn_state) x a tremolo
# computed from k->frame, so a lost or repeated frame, a state glitch or a
# wrong k->frame at any of the 200 takeovers changes the output. The 201
# versions differ in comments, formatting and how the same math is written
# (exact rewrites only; the test first renders all of them offline and
# checks they are bit-identical, so a difference live is the swap's doing).
# Each is saved with one of five editor styles (truncate+write, in place,
# temp+rename, chunks, cp) and the next save waits until status shows the
# version took over, so all 200 really swap. Run twice: default fade (20 ms:
# the old code, rendering on a state snapshot, crossfades into identical new
# code) and --fade 0. Also: 200 "running" events from saves in
# `kanon log --json` (versions 2..201 in order), no error or fault event,
# 0 underruns, 0 non-finite samples, and the history's newest version is
# byte-identical to the last save.
. "$(dirname "$0")/lib.sh"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in tests/e2e/swap
SW=$ROOT/tests/e2e/swap
N=200
mkdir -p "$T/src" "$T/cp" "$T/check"

# The test's own premise first: all N+1 versions render bit-identical audio
# offline, so any difference in the live recording is the swap's doing.
python3 - "$SW" "$N" "$T/check" <<'PY' || fail "the versions are not equivalent (a bug in equiv_gen.py)"
import subprocess, sys
sys.path.insert(0, sys.argv[1])
from swaplib import read_wav
from equiv_gen import variant
n, d = int(sys.argv[2]), sys.argv[3]
ref = None
for i in range(n + 1):
    src, out = "%s/v%03d.c" % (d, i), "%s/v%03d.wav" % (d, i)
    open(src, "wb").write(variant(i))
    r = subprocess.run(["kanon", "render", src, "--seconds", "0.3", "-o", out], capture_output=True, text=True)
    if r.returncode:
        sys.exit("version %d: render failed: %s" % (i, r.stderr))
    a = read_wav(out)
    if ref is None:
        ref = a
    elif a != ref:
        sys.exit("version %d renders differently from version 0" % i)
print("  ok: the %d versions render bit-identical offline" % (n + 1))
PY

one_run() { # NAME FADE_MS [play args...]
    local name=$1 fade=$2
    shift 2
    up
    python3 -c "import sys; sys.path.insert(0, '$SW'); from equiv_gen import variant; \
open('$T/src/$name.c', 'wb').write(variant(0))"
    kanon play "$T/src/$name.c" "$@" >"$T/play.out" 2>&1 || fail "play: $(cat "$T/play.out")"
    kanon record start "$T/$name.wav" >/dev/null || fail "record start"
    python3 - "$SW" "$name" "$T/src/$name.c" "$N" "$T/cp" <<'PY' || fail "$name: swaps"
import sys
sys.path.insert(0, sys.argv[1])
from swaplib import *
from swaplib import _recent
from equiv_gen import variant
name, path, n, cpdir = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
savers = [save_truncate, save_in_place, save_rename,
          lambda p, d: save_chunks(p, d, chunks=3, pause=0.002),
          lambda p, d: save_cp(p, d, cpdir)]
try:
    v0 = wait_version(name, 1)["version"]
    if v0 != 1:
        raise Fail("first version is %d" % v0)
    for i in range(1, n + 1):
        savers[i % len(savers)](path, variant(i))
        d = wait_version(name, 1 + i)
        if d["version"] != 1 + i:
            raise Fail("save %d: deck jumped to version %d, want %d%s" % (i, d["version"], 1 + i, _recent(name, 8)))
    wait_idle(name)
except Fail as e:
    print("FAIL:", e)
    sys.exit(1)
PY
    python3 "$SW/swaplib.py" advance "$name" 24000 || fail "$name: the deck does not play" # audio after the last takeover
    kanon record stop --json >"$T/$name.stop.json" || fail "record stop"
    python3 - "$SW" "$name" "$T/src/$name.c" "$N" "$T/$name.stop.json" "$fade" <<'PY' || fail "$name: log/status checks"
import json, sys
sys.path.insert(0, sys.argv[1])
from swaplib import *
from equiv_gen import variant
name, path, n, stop, fade = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], float(sys.argv[6])
try:
    r = json.load(open(stop))
    if r["dropped"] != 0:
        raise Fail("recording dropped %d frames" % r["dropped"])
    # versions 1..n+1 took over in order; no underrun, NaN, fault or error
    d = check_deck(name, n + 1, fade)
    saves = [e for e in running_events(name) if "save)" in e["text"]]
    if len(saves) != n:
        raise Fail("%d running events from saves, want %d" % (len(saves), n))
    h = history(name)
    last = h["versions"][-1]
    if last["version"] != n + 1 or open(last["file"], "rb").read() != variant(n):
        raise Fail("history's newest (v%d) is not the last save" % last["version"])
    print("  ok: %s (fade %g ms): %d takeovers from saves (v2..v%d), 0 errors, 0 underruns, 0 non-finite, %d frames recorded"
          % (name, fade, len(saves), n + 1, r["frames"]))
except Fail as e:
    print("FAIL:", e)
    sys.exit(1)
PY
    local secs off
    off=$(render_offset "$name" "$T/$name.stop.json") || fail "$name: offset: $off"
    kanon down >/dev/null 2>&1 # the comparison below needs no conductor
    secs=$(python3 -c "import json; print(json.load(open('$T/$name.stop.json'))['seconds'])")
    kanon render "$T/src/$name.c" --seconds "$(python3 -c "print(round($secs + 5))")" \
        -o "$T/$name.render.wav" 2>/dev/null || fail "render"
    wavtool compare "$T/$name.render.wav" "$T/$name.wav" --tol 1e-6 --offset "$off" \
        --min-overlap "$(python3 -c "print($secs - 0.2)")" >"$T/$name.cmp.json" ||
        fail "$name: recording != render: $(cat "$T/$name.cmp.json")"
    ok "$name: the $secs s recording across $N swaps equals the render (max diff $(python3 -c \
"import json; print(json.load(open('$T/$name.cmp.json'))['max_abs_diff'])"), offset $(python3 -c \
"import json; print(json.load(open('$T/$name.cmp.json'))['offset'])") frames)"
}

one_run eqfade 20
one_run eqhard 0 --fade 0
