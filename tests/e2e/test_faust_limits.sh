# Faust programs at kanon's limits, and the words of its refusals:
#   - parameters: misc/matrix.dsp's 64 sliders (+ input) are all parameters
#     of a live deck (the limit was 64), named Input_0 .. Input_7_8;
#   - state: delayEcho/tapiir.dsp needs 25 MB of state: a new deck's 16 MiB
#     segment grows before it first plays (a note in the log says so) and
#     the deck plays; with `kanon up --state-mb 20` it is refused with the
#     bytes it needs, the cap and the --state-mb that would do; `render`
#     does the same with its own --state-mb;
#   - compile time: a save that takes longer than `--compile-timeout` is
#     refused in words (the limit, how to raise it, that faust was at work)
#     and the previous version plays on; meanwhile `kanon status` shows the
#     compile and its seconds, and the log a "still compiling" line;
#     `kanon check --compile-timeout 1` says the same offline, exit 1;
#   - C++ and other platforms: faust-stk's modalBar.dsp (instrument.h, C++)
#     and SAM's echo.dsp (fast_pow2.h, SHARC) are refused naming the header
#     and why, with the .dsp line that names it;
#   - soundfiles: `soundfile` reads files beside the .dsp, exactly (a
#     stereo ramp comes out sample for sample), at the deck's rate (a
#     44.1 kHz 441 Hz sine plays at 441 Hz at 48 kHz), live across a swap
#     that keeps the layout (the DSP's pointer is this process's again);
#     a missing file refuses the version naming it;
#   - a .lib beside the .dsp is imported, offline from another directory and
#     live (where the cartridge compiles the history's copy).
. "$(dirname "$0")/lib.sh"
command -v faust >/dev/null || { echo "SKIP: no faust compiler (apt-get install faust)"; exit 77; }
EX=/usr/share/faust/examples
[ -d "$EX" ] || { echo "SKIP: no $EX (Debian's faust-common)"; exit 77; }

# --- offline refusals in words
expect 1 kanon check "$EX/physicalModeling/faust-stk/modalBar.dsp"
says "modalBar.dsp:19: error: the program needs instrument.h, which is C++ (\`class LookupTable\` at instrument.h:14)"
says "C compiler (tcc)"
expect 1 kanon check "$EX/SAM/echo/echo.dsp"
says "echo.dsp:14: error: the program needs fast_pow2.h, a math header of Analog Devices' SHARC processors"
ok "C++ and SHARC headers refused in words: $(head -c 120 "$T/err")..."
expect 1 kanon check "$EX/physicalModeling/vocalBP.dsp" --compile-timeout 1
says "vocalBP.dsp: error: compiling took longer than its time limit of 1 s (faust was still at work); raise the limit with --compile-timeout SECONDS"
ok "check --compile-timeout 1: $(cat "$T/err")"
expect 1 kanon render "$EX/delayEcho/tapiir.dsp" --seconds 0.1 --state-mb 20 -o "$T/t.wav"
says "25166196 bytes requested"
says "the deck's state would need 25169344 bytes in all, and may have 20971520 at most: kanon render --state-mb 25 allows it"
ok "render --state-mb 20 refuses tapiir naming what it needs and the cap"

# --- soundfiles, offline
mkdir -p "$T/sf/samples"
python3 - "$T/sf/samples" <<'PY'
import math, struct, sys, wave
def w(path, rate, ch, n, f):
    o = wave.open(path, "wb"); o.setnchannels(ch); o.setsampwidth(2); o.setframerate(rate)
    o.writeframes(b"".join(struct.pack("<" + "h" * ch, *[int(f(i, c)) for c in range(ch)])
                           for i in range(n)))
    o.close()
w(sys.argv[1] + "/ramp.wav", 48000, 2, 48000, lambda i, c: (i % 1000) * 16 * (1 if c == 0 else -1))
w(sys.argv[1] + "/sine44.wav", 44100, 1, 44100, lambda i, c: 16000 * math.sin(2 * math.pi * 441 * i / 44100))
PY
cat >"$T/sf/sf.dsp" <<'EOF'
import("stdfaust.lib");
s = soundfile("sound[url:{'samples/ramp.wav';'samples/sine44.wav'}]", 2);
idx = +(1) ~ _ : -(1);
process = hslider("part", 0, 0, 1, 1), idx : s : !, !, _, _;
EOF
kanon render "$T/sf/sf.dsp" --seconds 1 -o "$T/sf0.wav" >"$T/r.out" 2>&1 || fail "render sf.dsp: $(cat "$T/r.out")"
kanon render "$T/sf/sf.dsp" --seconds 1 --set part=1 -o "$T/sf1.wav" >"$T/r.out" 2>&1 || fail "render sf.dsp part=1: $(cat "$T/r.out")"
python3 - "$T/sf0.wav" <<'PY' || fail "the soundfile's ramp is not played sample for sample"
import struct, sys
d = open(sys.argv[1], "rb").read()
i = d.find(b"data"); n = struct.unpack("<I", d[i + 4:i + 8])[0]
x = struct.unpack("<%df" % (n // 4), d[i + 8:i + 8 + n])
bad = [k for k in range(48000) if x[2 * k] != (k % 1000) * 16 / 32768 or x[2 * k + 1] != -(k % 1000) * 16 / 32768]
sys.exit(1 if bad else 0)
PY
f=$(wav "$T/sf1.wav" freq)
near "$f" 441 0.5 || fail "a 44.1 kHz 441 Hz soundfile plays at $f Hz at 48 kHz"
ok "soundfile: a stereo ramp sample for sample; a 44.1 kHz part at 48 kHz plays $f Hz"

# --- a .lib of one's own, beside the .dsp
mkdir -p "$T/lib"
printf 'level = 0.25;\n' >"$T/lib/mine.lib"
printf 'import("stdfaust.lib");\nimport("mine.lib");\nprocess = os.osc(440) * level;\n' >"$T/lib/own.dsp"
(cd / && kanon render "$T/lib/own.dsp" --seconds 0.2 -o "$T/own.wav") >"$T/r.out" 2>&1 ||
    fail "render own.dsp from /: $(cat "$T/r.out")"
near "$(wav "$T/own.wav" peak)" 0.25 0.01 || fail "own.dsp: peak $(wav "$T/own.wav" peak), want 0.25"

# --- live
up --compile-timeout 3 --state-mb 20
(cd / && kanon play "$T/lib/own.dsp" --no-watch) >"$T/p.out" 2>&1 || fail "play own.dsp: $(cat "$T/p.out")"
kanon stop own >/dev/null
ok "a .lib beside the .dsp is imported, offline and live"
kanon play "$EX/misc/matrix.dsp" --no-watch >"$T/p.out" 2>&1 || fail "play matrix.dsp: $(cat "$T/p.out")"
n=$(kanon params matrix --json | python3 -c "import json,sys; p=json.load(sys.stdin); print(len(p), p[0]['name'], p[63]['name'])")
[ "$n" = "65 Input_0 Input_7_8" ] || fail "matrix.dsp: parameters $n, want 65 from Input_0 to Input_7_8"
kanon set matrix.Input_7_8 -3 >/dev/null || fail "set matrix.Input_7_8"
ok "matrix.dsp: 65 parameters on a live deck ($n)"
kanon stop matrix >/dev/null

expect 1 kanon play "$EX/delayEcho/tapiir.dsp" --no-watch
says "the deck's state would need 25169344 bytes in all, and may have 20971520 at most: kanon up --state-mb 25 allows it"
ok "tapiir.dsp over the cap: $(grep -o 'state would need.*' "$T/err")"
kanon down >/dev/null
up --compile-timeout 3
kanon play "$EX/delayEcho/tapiir.dsp" --no-watch >"$T/p.out" 2>&1 || fail "play tapiir.dsp: $(cat "$T/p.out")"
kanon log tapiir >"$T/log" 2>&1
grep -q "tapiir.dsp needs 25169344 bytes of state; the deck's state segment grew from 16 to 31 MiB (at most 256: --state-mb); compiling it again" "$T/log" ||
    fail "no growth note: $(cat "$T/log")"
[ "$(status_field '[d["state_bytes"] for d in s["decks"] if d["name"] == "tapiir"][0]')" = 32505856 ] ||
    fail "tapiir's state segment: $(kanon status --json)"
python3 "$ROOT/tests/e2e/swap/swaplib.py" advance tapiir 4800 || fail "tapiir does not play"
ok "tapiir.dsp: the state segment grew to 31 MiB before it first played, and it plays"
kanon stop tapiir >/dev/null

# a save that compiles too long: refused in words, the old version plays on
cp "$EX/generator/osc.dsp" "$T/v.dsp"
kanon play "$T/v.dsp" --deck v >"$T/p.out" 2>&1 || fail "play v.dsp: $(cat "$T/p.out")"
cp "$EX/physicalModeling/vocalBP.dsp" "$T/v.dsp"
wait_for sh -c "kanon status | grep -q 'deck v: cartridge [0-9]* compiling $T/v.dsp for'" ||
    fail "status does not show the long compile: $(kanon status)"
kanon status | grep "deck v: cartridge" >"$T/st"
wait_for sh -c "kanon log v 2>&1 | grep -q 'error: compiling took longer'" || fail "no refusal: $(kanon log v)"
kanon log v >"$T/log" 2>&1
grep -q "cartridge [0-9]* still compiling $T/v.dsp: 1 s so far (limit 3 s)" "$T/log" || fail "no progress line: $(cat "$T/log")"
grep -q "error: compiling took longer than its time limit of 3 s (faust was still at work); raise the limit with \`kanon up --compile-timeout SECONDS\` (the previous version plays on)" "$T/log" ||
    fail "the refusal: $(cat "$T/log")"
[ "$(status_field '[(d["cartridge"]["state"], d["version"]) for d in s["decks"] if d["name"] == "v"][0]')" = "('running', 1)" ] ||
    fail "v1 does not play on: $(kanon status)"
python3 "$ROOT/tests/e2e/swap/swaplib.py" advance v 4800 || fail "v does not play on"
ok "a save over --compile-timeout 3: $(cat "$T/st"); refused in words, v1 plays on"
kanon stop v >/dev/null

# soundfiles live: a swap that keeps the layout, then a missing file
kanon play "$T/sf/sf.dsp" --deck sf >"$T/p.out" 2>&1 || fail "play sf.dsp: $(cat "$T/p.out")"
echo "// a comment: same layout" >>"$T/sf/sf.dsp"
python3 "$ROOT/tests/e2e/swap/swaplib.py" wait-version sf 2 || fail "sf: the comment did not take over: $(kanon log sf)"
python3 "$ROOT/tests/e2e/swap/swaplib.py" advance sf 9600 || fail "sf: v2 does not play"
sed -i 's/ramp.wav/nosuch.wav/' "$T/sf/sf.dsp"
wait_for sh -c "kanon log sf 2>&1 | grep -q 'nosuch'" || fail "no refusal for a missing soundfile: $(kanon log sf)"
kanon log sf 2>&1 | grep -q "sf.dsp: error: soundfile \"sound\": cannot read samples/nosuch.wav (beside the .dsp)" ||
    fail "the refusal: $(kanon log sf 2>&1)"
[ "$(status_field '[(d["version"], d["cartridge"]["state"], d["nonfinite"]) for d in s["decks"] if d["name"] == "sf"][0]')" = "(2, 'running', 0)" ] ||
    fail "sf: v2 should play on: $(kanon status)"
ok "soundfile live: a same-layout swap plays on; a missing file is refused naming it"

# --- a state that grows at a swap: v1 counts its blocks in region "ctr";
# v2 also asks for 20 MB more than the deck's 16 MiB segment holds. The
# segment grows when v2 takes over, and v2 finds v1's count (it plays
# louder once it has seen >= 750 blocks: more than a second of v1).
cat >"$T/grow1.c" <<'C'
#include <kanon.h>
typedef struct { unsigned long blocks; double phase; } S;
static S *s;
void setup(kn_ctx *k) { s = kn_state(k, "ctr", sizeof *s); }
void process(kn_ctx *k, float **out, int frames) {
    s->blocks++;
    for (int i = 0; i < frames; i++) {
        float v = 0.05f * sinf(2 * (float)M_PI * (float)s->phase);
        for (int c = 0; c < k->channels; c++) out[c][i] = v;
        s->phase += 440.0 / k->rate;
        if (s->phase >= 1) s->phase -= 1;
    }
}
C
sed -e 's|s = kn_state(k, "ctr", sizeof \*s);|s = kn_state(k, "ctr", sizeof *s); kn_state(k, "big", 20u << 20);|' \
    -e 's|    s->blocks++;|    static unsigned long found; static int seen; if (!seen) { found = s->blocks; seen = 1; } s->blocks++;|' \
    -e 's|0.05f \* sinf|(found >= 750 ? 0.4f : 0.05f) * sinf|' "$T/grow1.c" >"$T/grow2.c"
grep -q '20u << 20' "$T/grow2.c" && grep -q 'found >= 750' "$T/grow2.c" || fail "grow2.c not made"
cp "$T/grow1.c" "$T/grow.c"
kanon play "$T/grow.c" >"$T/p.out" 2>&1 || fail "play grow.c: $(cat "$T/p.out")"
python3 "$ROOT/tests/e2e/swap/swaplib.py" advance grow 48000 || fail "grow v1 does not play"
cp "$T/grow2.c" "$T/grow.c"
python3 "$ROOT/tests/e2e/swap/swaplib.py" wait-version grow 2 || fail "grow v2 did not take over: $(kanon log grow 2>&1)"
kanon log grow >"$T/log" 2>&1
grep -q "grow.c needs [0-9]* bytes of state; the deck's state segment grows, when this version takes over, from 16 to 2[0-9] MiB" "$T/log" ||
    fail "no growth note at the swap: $(cat "$T/log")"
sb=$(status_field '[d["state_bytes"] for d in s["decks"] if d["name"] == "grow"][0]')
[ "$sb" -gt $((20 << 20)) ] || fail "grow's state segment is $sb bytes after the swap"
python3 "$ROOT/tests/e2e/control/wait.py" status 'd["grow"]["peak_db"] > -12' >"$T/w.out" 2>&1 ||
    fail "v2 did not find v1's count in the grown state (its level stays low): $(cat "$T/w.out"); $(cat "$T/log")"
ok "a swap that needs more state: the segment grew to $sb bytes at the takeover, and v2 continues v1's state"
