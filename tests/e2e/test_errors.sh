# Error paths: each is checked for its exit code and its message, and the
# conductor is shown to survive it.
#   - no conductor: `kanon status` / `kanon play` exit 2 and say "kanon up";
#   - a second `kanon up` exits 1, says "already running" with the running pid;
#   - a compile error (undeclared identifier on line 7): `kanon check` and
#     `kanon play` exit 1 with "FILE:7: error:" (that line only), `kanon render`
#     exits 1 with the same message and writes no WAV; the failed first play
#     leaves no deck, no shared memory and no live cartridge behind; a failed
#     play onto a playing deck leaves the old cartridge playing;
#   - a missing file: play/check/render exit 1 naming the file;
#   - `kanon record start /nonexistent-dir/x.wav` exits 1 naming the path, and
#     the conductor plays on (a later recording is a clean 440 Hz sine);
#   - an unknown command and `kanon stop nosuchdeck` exit 1 with a message;
#   - malformed raw requests over nng (not JSON, not an object, no cmd, a
#     non-string cmd, an unknown cmd, play with a relative path, play of a
#     missing file, set with a non-numeric value) each get
#     {"ok":false,"error":"..."}, and the conductor keeps answering.
. "$(dirname "$0")/lib.sh"

# Shared memory of the instance: old-style /dev/shm names (never any), and
# the memfd segments its conductor ($pid) maps (readable as root only).
# A deck's own segments (state, param, snap). The slots' rings and the
# routes segment are the conductor's for its whole life (routing: every
# deck may read every other, docs/architecture.md#segments), so they stay.
shm_of_instance() {
    ls /dev/shm 2>/dev/null | grep -F "kanon.$(id -u).$KANON_INSTANCE."
    grep -o 'memfd:kanon\.[a-z]*' "/proc/${pid:-0}/maps" 2>/dev/null | sort -u |
        grep -v -e 'kanon\.ring$' -e 'kanon\.routes$' -e 'kanon\.input$'
}
no_shm() { [ -z "$(shm_of_instance)" ]; }

# --- no conductor
expect 2 kanon status
says "kanon up"
expect 2 kanon play "$ROOT/examples/sine.c"
says "kanon up"
ok "no conductor: status and play exit 2 and say \`kanon up\`"

up --tier tcc # the producer's cartridge id is compared below: no tier swap may change it
pid=$(status_field 's["pid"]')
expect 1 kanon up --backend dummy
says "already running"
says "pid $pid"
[ "$(status_field 's["pid"]')" = "$pid" ] || fail "the first conductor was replaced"
ok "second \`kanon up\` exits 1: $(head -1 "$T/err")"

# --- compile errors
cat >"$T/bad.c" <<'EOF'
/* bad.c: an undeclared identifier on line 7 */
#include <kanon.h>

void process(kn_ctx *k, float **out, int frames) {
    float y;
    (void)k; (void)out; (void)frames;
    y = undeclared_thing;
    (void)y;
}
EOF
# only_line7: every "bad.c:N:" diagnostic in $T/err names line 7.
only_line7() {
    local lines
    lines=$(grep -o 'bad\.c:[0-9]*:' "$T/err" | sort -u)
    [ "$lines" = "bad.c:7:" ] || fail "diagnostics name lines other than 7: $(cat "$T/err")"
}
expect 1 kanon check "$T/bad.c"
says "$T/bad.c:7: error:"
says "undeclared_thing"
only_line7
ok "check: $(head -1 "$T/err")"

expect 1 kanon play "$T/bad.c"
says "$T/bad.c:7: error:"
says "undeclared_thing"
only_line7
ok "play: exit 1, $(head -1 "$T/err")"
[ "$(status_field 'len(s["decks"])')" = 0 ] || fail "a failed first play left a deck: $(kanon status)"
wait_for no_shm || fail "a failed first play left shared memory: $(shm_of_instance)"
# A cartridge at work maps the deck's segments; the idle spare maps none.
live_carts() {
    for p in $(pgrep -P "$pid"); do
        grep -qF "memfd:kanon.ring" "/proc/$p/maps" 2>/dev/null && echo "$p"
    done
}
no_live_carts() { [ -z "$(live_carts)" ]; }
wait_for no_live_carts || fail "a failed first play left a cartridge running: $(live_carts)"
ok "the failed first play left no deck, no shared memory, no cartridge"

expect 1 kanon render "$T/bad.c" --seconds 1 -o "$T/bad.wav"
says "$T/bad.c:7: error:"
only_line7
[ ! -e "$T/bad.wav" ] || fail "render of a broken file wrote $T/bad.wav"
ok "render: exit 1, same message, no WAV written"

# --- missing file
expect 1 kanon play "$T/missing.c"
says "missing.c"
expect 1 kanon check "$T/missing.c"
says "missing.c"
expect 1 kanon render "$T/missing.c" --seconds 1 -o "$T/missing.wav"
says "missing.c"
ok "missing file: play, check, render exit 1 naming it ($(head -1 "$T/err"))"

# --- with a deck playing
kanon play "$ROOT/examples/sine.c" >/dev/null || fail "play sine"
cart=$(status_field 's["decks"][0]["cartridge"]["id"]')
expect 1 kanon play "$T/bad.c" --deck sine
says "$T/bad.c:7: error:"
python3 -c "
import json, subprocess, sys
s = json.loads(subprocess.check_output(['kanon', 'status', '--json']))
d = s['decks']
sys.exit(not (len(d) == 1 and d[0]['name'] == 'sine' and d[0]['cartridge']['id'] == $cart
              and d[0]['cartridge']['state'] == 'running'))" ||
    fail "a failed play onto deck sine disturbed it: $(kanon status)"
ok "a failed play onto a playing deck leaves its cartridge $cart playing"

expect 1 kanon record start /nonexistent-dir/x.wav
says "/nonexistent-dir/x.wav"
says "error"
ok "record to a missing directory: exit 1, $(head -1 "$T/err")"
[ "$(status_field 's["recording"]')" = None ] || fail "a failed record start left a recording: $(kanon status)"

expect 1 kanon bogus
says "unknown command 'bogus'"
expect 1 kanon stop nosuchdeck
says "nosuchdeck"
ok "unknown command and unknown deck exit 1 ($(head -1 "$T/err"))"

# --- malformed raw requests
command -v nngcat >/dev/null || fail "nngcat (nng-utils) is not installed"
sock=$(status_field 's["socket"]')
raw() { nngcat --req --connect "ipc://$sock" --data "$1" --ascii --recv-timeout 5 2>&1; }
# refused JSON SUBSTRING: the raw request gets ok:false and an error containing SUBSTRING.
refused() {
    local reply
    reply=$(raw "$1") || fail "no reply to $1: $reply"
    python3 - "$reply" "$2" <<'PY' || fail "request $1: reply $reply, want ok:false with '$2'"
import json, sys
r = json.loads(sys.argv[1])
assert r["ok"] is False, r
assert isinstance(r["error"], str) and sys.argv[2] in r["error"], r
PY
    # still responsive after each one
    raw '{"cmd":"ping"}' | grep -qF '"ok":true' || fail "conductor stopped answering after $1"
}
refused 'this is not json' 'malformed'
refused '[1,2,3]' 'malformed'
refused '{"deck":"sine"}' 'cmd'
refused '{"cmd":42}' 'cmd'
refused '{"cmd":"frobnicate"}' 'frobnicate'
refused '{"cmd":"play","file":"examples/sine.c","deck":"rel"}' 'absolute'
refused "{\"cmd\":\"play\",\"file\":\"$T/missing.c\",\"deck\":\"gone\"}" 'missing.c'
refused '{"cmd":"set","deck":"sine","name":"freq","value":"loud"}' 'value'
refused '{"cmd":"record_start","path":"rel.wav"}' 'absolute'
ok "9 malformed raw requests each got {\"ok\":false,\"error\":...}; ping answered after each"

# --- the conductor is unharmed: same pid, deck sine still playing, recording works
[ "$(status_field 's["pid"]')" = "$pid" ] || fail "conductor pid changed"
[ "$(status_field '[d["name"] for d in s["decks"]]')" = "['sine']" ] ||
    fail "decks after the errors: $(kanon status)"
kanon record start "$T/after.wav" >/dev/null || fail "record start after the errors"
recorded_wait 1.2
kanon record stop >/dev/null || fail "record stop"
f=$(wav "$T/after.wav" freq --skip 0.1)
near "$f" 440 0.5 || fail "after the errors: frequency $f Hz, want 440"
wavtool steps "$T/after.wav" --max 0.0116 >"$T/steps.json" || fail "discontinuity: $(cat "$T/steps.json")"
ok "conductor $pid plays on: a later recording is a continuous $f Hz sine"
