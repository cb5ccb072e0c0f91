# A takeover that lands while the previous takeover's crossfade is still
# running must not click.
#
# The deck plays tests/e2e/swap/phase440.c (0.2 sine, phase in kn_state)
# with --fade 500. Twenty saves alternate between 660 Hz and 440 Hz; each
# waits until the previous one took over and the deck played 100 ms more
# (4800 frames, far less than the 24000-frame crossfade), so every takeover
# after the first starts inside the previous one's crossfade. Everything
# audible is then a linear mix of 0.2-amplitude sines of at most 660 Hz,
# which never changes by more than 2*pi*660/48000*0.2 (+ the fade's slope,
# 0.4/24000) per sample and never exceeds 0.2. The recording must show
# neither a larger step nor a larger peak; 0 underruns, no fault or error,
# all 21 versions took over.
. "$(dirname "$0")/lib.sh"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in tests/e2e/swap
SW=$ROOT/tests/e2e/swap
up
cp "$SW/phase440.c" "$T/ov.c"
kanon record start "$T/ov.wav" >/dev/null || fail "record start"
kanon play "$T/ov.c" --fade 500 >"$T/play.out" 2>&1 || fail "play: $(cat "$T/play.out")"
python3 - "$SW" "$T/ov.c" <<'PY' || fail "saves"
import sys
sys.path.insert(0, sys.argv[1])
from swaplib import *
p = open(sys.argv[1] + "/phase440.c").read()
try:
    wait_version("ov", 1)
    advance("ov", 24000)
    for i in range(20):
        freq = 660 if i % 2 == 0 else 440
        text = p.replace("440.0 / k->rate", "%d.0 / k->rate" % freq).replace(
            "#include", "/* save %d */\n#include" % i, 1)
        save_truncate(sys.argv[2], text.encode())
        wait_version("ov", i + 2)
        advance("ov", 4800)  # inside the 24000-frame crossfade that just started
    wait_idle("ov")
    advance("ov", 48000)
    check_deck("ov", 21, 500)
    print("  ok: 20 takeovers, each 4800+ frames into the previous one's 24000-frame crossfade;"
          " 0 underruns, no fault")
except Fail as e:
    print("FAIL:", e)
    sys.exit(1)
PY
kanon record stop >/dev/null || fail "record stop"
peak=$(wav "$T/ov.wav" peak)
python3 -c "import sys; sys.exit(0 if $peak <= 0.2 + 1e-6 else 1)" || fail "peak $peak > 0.2"
ok "peak $peak <= 0.2"
max=$(python3 -c "import math; print(2 * math.pi * 660 / 48000 * 0.2 + 0.4 / 24000 + 1e-5)")
wavtool steps "$T/ov.wav" --max "$max" >"$T/steps.json" 2>"$T/steps.err" ||
    fail "clicks: $(python3 -c "import json; r = json.load(open('$T/steps.json')); \
print('%d steps above %.5f, the largest %.4f at recorded frame %d' % (r['violations'], r['limit'], r['max_step'], r['max_step_frame']))")"
ok "no step above $max through the overlapping crossfades"
