# The master limiter, live, and the deck limit:
#   - a deck at +6 dBFS (a 2.0-amplitude 440 Hz sine): with the limiter
#     (default) the recording never exceeds 0 dBFS and holds no NaN; with
#     `--no-limiter` the same deck is recorded at +6 dBFS (so the first
#     check can fail: the limiter is what keeps it down);
#   - 16 decks play at once, each running with 0 underruns (but those the
#     machine explains: lib.sh underruns_ok); a 17th is
#     refused (exit 1) with a message that says so, and the 16 play on;
#   - --latency 50 shrinks the device buffer and the ring;
#   - a playing cartridge sleeps while its ring is full (< 20 % of a core);
#   - user code may include system headers next to kanon.h.
. "$(dirname "$0")/lib.sh"
cat >"$T/hot.c" <<'C'
#include <kanon.h>
typedef struct { double phase; } S;
static S *s;
void setup(kn_ctx *k) { s = kn_state(k, "s", sizeof *s); }
void process(kn_ctx *k, float **out, int frames) {
    for (int i = 0; i < frames; i++) {
        float v = 2.0f * sinf(2 * (float)M_PI * (float)s->phase);
        for (int c = 0; c < k->channels; c++) out[c][i] = v;
        s->phase += 440 / k->rate;
        if (s->phase >= 1) s->phase -= 1;
    }
}
C
# peak_of ARGS...: a conductor with ARGS plays hot.c; the recording's peak (dBFS)
peak_of() {
    up "$@"
    kanon play "$T/hot.c" >/dev/null || fail "play hot.c"
    kanon record start "$T/hot.wav" >/dev/null || fail "record start"
    recorded_wait 1 >&2
    kanon record stop >/dev/null || fail "record stop"
    [ "$(wav "$T/hot.wav" nan)" = 0 ] || fail "NaN in the recording"
    wav "$T/hot.wav" peak_dbfs
    kanon down >/dev/null
}
with=$(peak_of)
without=$(peak_of --no-limiter)
python3 -c "import sys; sys.exit(0 if float('$with') <= 0.0 else 1)" ||
    fail "with the limiter the master reached $with dBFS"
near "$without" 6.02 0.1 || fail "--no-limiter: the +6 dBFS deck was recorded at $without dBFS"
ok "a +6 dBFS deck: $with dBFS with the limiter, $without dBFS with --no-limiter"

up
for i in $(seq 1 16); do
    kanon play "$ROOT/examples/sine.c" --deck "d$i" --no-watch >/dev/null 2>&1 || fail "play deck $i of 16"
done
out=$(kanon play "$ROOT/examples/sine.c" --deck d17 --no-watch 2>&1)
rc=$?
[ $rc = 1 ] || fail "a 17th deck: exit $rc, want 1 ($out)"
echo "$out" | grep -q "16 decks" || fail "a 17th deck: the message should say all 16 decks are in use: $out"
all16() { status_field 'len(s["decks"]) == 16 and all(d["cartridge"]["state"] == "running" for d in s["decks"])' | grep -qx True; }
wait_for all16 || fail "16 decks should be running: $(kanon status)"
played_wait 24000 d16
underruns_ok || fail "16 decks should play without underruns of kanon's: $(kanon status)"
ok "16 decks play; the 17th is refused: $(echo "$out" | head -1)"
kanon down >/dev/null

# --- --latency sets the device buffer (the ring's target follows it)
up --latency 50 --tier tcc # its cartridge's CPU is read by pid below: no tier swap may replace it
kanon status --json >"$T/lat.json" || fail "status"
python3 - "$T/lat.json" <<'PY' || fail "--latency 50: $(cat "$T/lat.json")"
import json, sys
s = json.load(open(sys.argv[1]))
lat, ring = s["device_latency_ms"], s["ring_target_ms"]
# the dummy backend rounds to its period; the default is 100 ms and a 120 ms ring
assert 40 <= lat <= 70, ("device latency", lat)
assert ring < 120, ("ring target", ring)
print("  ok: --latency 50: device %.1f ms, ring %.1f ms" % (lat, ring))
PY

# --- a cartridge that keeps its ring full sleeps: a sine deck's cartridge
# uses a small share of a core (a busy-wait would take all of it)
kanon play "$ROOT/examples/sine.c" >/dev/null || fail "play sine"
played_wait 24000 sine
pid=$(status_field 's["decks"][0]["cartridge"]["pid"]')
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
t0=$(ticks)
played_wait 96000 sine # its CPU time per 2 s of audio made (however long that took)
used=$(($(ticks) - t0)) hz=$(getconf CLK_TCK)
python3 -c "import sys; sys.exit(0 if $used / $hz / 2 < 0.2 else 1)" ||
    fail "the sine cartridge used $used ticks of $hz/s for 2 s of audio: busy-waiting?"
ok "a playing sine cartridge used $used/$((2 * hz)) ticks of a core for 2 s of audio"

# --- user code may include system headers (kanon.h's declarations agree)
cat >"$T/sys.c" <<'C'
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <kanon.h>
static char name[16];
void setup(kn_ctx *k) { snprintf(name, sizeof name, "%d", k->channels); }
void process(kn_ctx *k, float **out, int frames) {
    for (int c = 0; c < k->channels; c++) {
        memset(out[c], 0, (size_t)frames * sizeof(float));
        for (int i = 0; i < frames; i++)
            out[c][i] = 0.25f * sinf(2 * (float)M_PI * 441 * (float)((k->frame + (uint64_t)i) % 48000) / 48000);
    }
    (void)abs(atoi(name));
}
C
kanon check "$T/sys.c" >/dev/null 2>"$T/sys.err" || fail "a file with system headers: $(cat "$T/sys.err")"
kanon render "$T/sys.c" --seconds 1 -o "$T/sys.wav" 2>/dev/null || fail "render sys.c"
near "$(wav "$T/sys.wav" freq)" 441 1 || fail "sys.c: $(wav "$T/sys.wav" freq) Hz, want 441"
ok "a file including <math.h> <stdint.h> <stdio.h> <stdlib.h> <string.h> compiles and plays 441 Hz"
