# OSC bundles with a time tag in the future land on the timeline frame of
# that time, at the exact sample, on every deck they name.
#   Deck a (tests/e2e/timeline/level.c) holds its parameter v on the left
#   channel (and 0.25 on the right), deck b (level_right.c) on the right.
#   Levels stay under the limiter's knee (0.5), so every sample is exact. Three bundles, each
#   setting a.v and b.v together, are sent 0.4 to 0.9 s ahead of their
#   (random) time tags over UDP. In the recording (timeline frames from
#   `record stop --json`), each pair of changes falls on one frame; not
#   every frame is a block edge (a multiple of 64). How close a frame comes
#   to the time tag's is the device clock's business: `make bench` measures
#   it.
#   A bundle whose time tag has passed applies at once and is counted in
#   status's events_late; a plain message applies at once as before.
#   /kanon/tempo f changes the tempo (status tempo.bpm, `kanon tempo`); an
#   out-of-range one is refused with /kanon/error.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control/lib.sh"
export PYTHONDONTWRITEBYTECODE=1
TL=$ROOT/tests/e2e/timeline
P=$(free_port 30)
up --osc-port "$P"
kanon record start "$T/osc.wav" >/dev/null || fail "record start"
expect 0 kanon play "$TL/level.c" --deck a
expect 0 kanon play "$TL/level_right.c" --deck b
sleep 0.5
python3 - "$CTL" "$P" >"$T/sent.txt" <<'PY' || fail "sending bundles: $(cat "$T/sent.txt")"
import random, struct, sys, time
sys.path.insert(0, sys.argv[1])
from osc import Client, encode
c = Client(sys.argv[2])
for value in (0.2, 0.05, 0.15):
    when = time.time() + random.uniform(0.4, 0.9)
    t = when + 2208988800  # NTP seconds
    tt = struct.pack(">II", int(t), int(t % 1 * 2**32))
    body = b""
    for m in (encode("/kanon/a/v", "f", [value]), encode("/kanon/b/v", "f", [value])):
        body += struct.pack(">i", len(m)) + m
    c.send_raw(b"#bundle\0" + tt + body)
    print(value, repr(when))
    time.sleep(when - time.time() + 0.2)
# a time tag already past: at once, counted late
t = time.time() - 1 + 2208988800
m = encode("/kanon/a/v", "f", [0.125])
c.send_raw(b"#bundle\0" + struct.pack(">II", int(t), int(t % 1 * 2**32)) + struct.pack(">i", len(m)) + m)
print(c.replies(0.3))
PY
python3 "$CTL/wait.py" --timeout 5 param a.v 0.125 >/dev/null || fail "a late bundle did not apply at once"
late=$(kanon status --json | json_get 'j["events_late"]')
[ "$late" -ge 1 ] || fail "a bundle whose time had passed was not counted late (events_late $late)"
# /kanon/tempo f: every deck's tempo, shown by `kanon tempo` and status
python3 - "$CTL" "$P" >"$T/tempo.txt" <<'PY' || fail "sending /kanon/tempo: $(cat "$T/tempo.txt")"
import sys
sys.path.insert(0, sys.argv[1])
from osc import Client, encode
c = Client(sys.argv[2])
c.send_raw(encode("/kanon/tempo", "f", [97.5]))
c.send_raw(encode("/kanon/tempo", "f", [5000]))  # out of range: refused, said to the sender
print(c.replies(0.5))
PY
grep -q "tempo must be" "$T/tempo.txt" || fail "/kanon/tempo 5000 was not refused: $(cat "$T/tempo.txt")"
# the change lands at the frontier, a ring's lead ahead: wait for it
python3 "$CTL/wait.py" --timeout 10 status 's["tempo"]["bpm"] == 97.5' >/dev/null
bpm=$(kanon status --json | json_get 'j["tempo"]["bpm"]')
[ "$bpm" = 97.5 ] || fail "after /kanon/tempo 97.5, status tempo.bpm is $bpm"
kanon tempo | grep -q "^97.5 bpm" || fail "kanon tempo: $(kanon tempo)"
ok "/kanon/tempo 97.5 reaches status and kanon tempo; 5000 is refused with a reason"
kanon record stop --json >"$T/rec.json" || fail "record stop"
python3 - "$ROOT/tests/e2e/swap" "$T" <<'PY' || fail "bundle timing"
import json, sys
sys.path.insert(0, sys.argv[1])
from swaplib import read_wav
rate, (left, right) = read_wav(sys.argv[2] + "/osc.wav")
t0 = json.load(open(sys.argv[2] + "/rec.json"))["timeline_frame"]
def first(ch, want, base=0.0):
    return next((t0 + i for i, x in enumerate(ch) if abs(x - base - want) < 1e-6), None)
frames = []
for v in (0.2, 0.05, 0.15):
    fa, fb = first(left, v), first(right, v, 0.25)  # right: a's constant 0.25 + b's v
    if fa is None or fb is None:
        print("FAIL: a.v or b.v never became %g (left %s, right %s)" % (v, fa, fb))
        sys.exit(1)
    if fa != fb:
        print("FAIL: one bundle, two frames: a.v at %d, b.v at %d" % (fa, fb))
        sys.exit(1)
    frames.append(fa)
if all(f % 64 == 0 for f in frames):
    print("FAIL: every bundle landed on a block edge: %s" % frames)
    sys.exit(1)
print("  ok: three bundles, each changing two decks on one frame: %s (mod 64: %s)"
      % (frames, [f % 64 for f in frames]))
PY
ok "OSC bundles with future time tags land on one frame per bundle, at the sample"
