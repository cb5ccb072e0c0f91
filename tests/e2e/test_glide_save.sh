# A glide under way when the file is saved continues in the new code from
# where it stood (docs/dsp-api.md: "a new cartridge starts from it"), and
# does not jump to its target.
#
# The deck (--fade 0: a hard switch, so no crossfade smooths a jump over)
# plays its knob v on channel 0 (0.5 * kn_get(v)) and a version marker on
# channel 1 (+0.25 in v1, -0.25 in v2). `kanon set g.v 1 --ramp 20000`
# starts a 20 s glide from 0; once it has passed 0.05 the file is saved.
# In the recording, v is read back as ch0 / (2 |ch1|): a fade of a dry
# spell scales both channels alike, so the ratio is v whatever the machine
# did. At the takeover (the first frame of v2) v must differ from v1's last
# frame by at most one block of the glide (the block advanced between
# them), and v1's last value must lie inside the glide (0.01 .. 0.9), then
# v2 goes on at the glide's own pace: every change of v in v2 is one
# block's step of the 20 s glide (a whole number of them where the machine
# made the mixer drop blocks), not the 10 ms glide a fresh knob would take
# to its target. Only the audio is judged, never time.
. "$(dirname "$0")/lib.sh"
export PYTHONDONTWRITEBYTECODE=1
SW=$ROOT/tests/e2e/swap
RAMP_MS=20000

write() { # MARK: the DSP with channel 1 = MARK
    cat >"$T/g.c.tmp" <<EOF
#include <kanon.h>
static kn_param *v;
void setup(kn_ctx *k) { v = kn_param_decl(k, "v", 0, 1, 0); }
void process(kn_ctx *k, float **out, int frames) {
    (void)k;
    for (int i = 0; i < frames; i++) {
        out[0][i] = 0.5f * (float)kn_get(v);
        out[1][i] = $1f;
    }
}
EOF
    mv "$T/g.c.tmp" "$T/g.c" # as an editor saves: one rename
}
current() { kanon get g.v --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["current"])'; }
past() { python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) >= float(sys.argv[2]) else 1)" "$(current)" "$1"; }

up
write 0.25
kanon play "$T/g.c" --fade 0 >"$T/play.out" 2>&1 || fail "play: $(cat "$T/play.out")"
kanon record start "$T/g.wav" >/dev/null || fail "record start"
kanon set g.v 1 --ramp $RAMP_MS >/dev/null || fail "set g.v 1 --ramp $RAMP_MS"
wait_for past 0.05 || fail "the glide never passed 0.05: $(kanon get g.v)"
write -0.25
python3 "$SW/swaplib.py" wait-version g 2 || fail "v2 never took over: $(kanon log g)"
python3 "$SW/swaplib.py" advance g 9600 || fail "the deck does not play"
kanon record stop >/dev/null || fail "record stop"
kanon status --json >"$T/status.json" || fail "status"

python3 - "$SW" "$T/g.wav" "$RAMP_MS" "$T/status.json" <<'PY' || exit 1
import json, sys
sys.path.insert(0, sys.argv[1])
from swaplib import read_wav
rate, ch = read_wav(sys.argv[2])
ramp = float(sys.argv[3]) * rate / 1000  # frames for the whole glide 0 -> 1
st = json.load(open(sys.argv[4]))
g = [d for d in st["decks"] if d["name"] == "g"][0]
block = st["block"]  # the cartridge steps its glide once per block
def fail(msg):
    print("FAIL: %s (deck g: %d underruns)" % (msg, g["underruns"]))
    sys.exit(1)
# (frame, version, v) wherever the deck is heard
heard = [(i, 1 if m > 0 else 2, ch[0][i] / (2 * abs(m))) for i, m in enumerate(ch[1]) if m != 0]
old = [h for h in heard if h[1] == 1]
new = [h for h in heard if h[1] == 2]
if not old or not new:
    fail("the recording holds %d frames of v1 and %d of v2" % (len(old), len(new)))
if new[0][0] < old[-1][0]:
    fail("v1 heard again after v2 took over (frame %d)" % old[-1][0])
a, b = old[-1][2], new[0][2]
if not 0.01 <= a <= 0.9:
    fail("v1's last value %.6f is not inside the glide 0 -> 1" % a)
# one block of the glide at most (kn_get is constant over a block and
# steps by block / ramp between blocks), and never backwards
step = block / ramp
if not (a <= b <= a + step * 1.001 + 1e-6):
    fail("at the takeover v went %.6f -> %.6f; a continuing glide moves by 0 .. %.6f"
         % (a, b, step))
# v2 at the glide's pace: each change a whole number of block steps (one,
# unless the mixer dropped blocks), and far from the target 0.2 s later
ch2 = [y - x for (_, _, x), (_, _, y) in zip(new, new[1:]) if y != x]
odd = [d for d in ch2 if d < step * 0.999 - 1e-6 or abs(d / step - round(d / step)) > 0.01]
if len(ch2) < 20 or odd:
    fail("in v2 v changed by %s (%d changes); a glide going on at its pace moves by %.6f a block"
         % (["%.6f" % d for d in (odd or ch2)[:6]], len(ch2), step))
if new[-1][2] > b + 0.1:
    fail("v2 reached %.6f within %d frames: the 20 s glide did not go on at its pace"
         % (new[-1][2], len(new)))
print("  ok: the glide continued across the save: %.6f -> %.6f at the takeover "
      "(one block of the glide: %.6f), then on at that pace (%d steps of %.6f)"
      % (a, b, step, len(ch2), step))
PY
