# The master limiter, live, and the deck limit:
#   - a deck at +6 dBFS (a 2.0-amplitude 440 Hz sine): with the limiter
#     (default) the recording never exceeds 0 dBFS and holds no NaN; with
#     `--no-limiter` the same deck is recorded at +6 dBFS (so the first
#     check can fail: the limiter is what keeps it down);
#   - 16 decks play at once, each running with 0 underruns; a 17th is
#     refused (exit 1) with a message that says so, and the 16 play on.
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
    sleep 1
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
sleep 1
status_field 'len(s["decks"]) == 16 and all(d["cartridge"]["state"] == "running" and
    d["underruns"] == 0 for d in s["decks"])' | grep -qx True ||
    fail "16 decks should be running with 0 underruns: $(kanon status)"
ok "16 decks play (0 underruns); the 17th is refused: $(echo "$out" | head -1)"
