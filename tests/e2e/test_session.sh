# Sessions (`kanon session save|load`) and starting decks together
# (`play --at`), checked in recordings. The decks are tests/e2e/session/
# tick*.c: an impulse of height `level` every 4800 of the deck's own frames
# from its first sample (so the first impulse is where its first sample
# landed), some over a constant that shows where a version took over.
#   1. `play --at B` twice: both decks report the same start frame, the frame
#      of beat B, and their impulses fall on the same samples of the
#      recording, the first one on that frame;
#   2. `session save` writes every deck (file, the playing version's text,
#      parameters, fade, quant, mixer), the master, the routes (each deck to
#      the master), the tempo and the control-surface map; it refuses to
#      write over a deck's source;
#   3. `session load` into a new conductor brings all of it back: decks,
#      parameters (the first impulse already has the saved level: no glide),
#      mixer, tempo, quant, map; every deck starts on the same frame (status
#      and the recording agree); it plays the version the session holds,
#      not the file as it has been edited since (and says so);
#   4. `session load` into a running set replaces it on one beat: a changed
#      deck takes over on that frame, a new one starts there, one the session
#      does not name stops there, an unchanged one keeps its cartridge and
#      gets its parameter;
#   5. a session with a mistake (unknown field, missing file, route to an
#      unknown deck, bad number, bad name, code that does not compile) is
#      refused with the place named, exit 1, and the running set is exactly
#      as it was.
# No timing is asserted: where a start could come late (the machine is
# loaded), the test retries with a beat further ahead.
. "$(dirname "$0")/lib.sh"
export PYTHONDONTWRITEBYTECODE=1
S=$ROOT/tests/e2e/session
cp "$S"/tick*.c "$T/"
cp "$S/tick.c" "$T/l.c" # l's own file, edited after the save (tick_right.c includes tick.c)
# py EXPR [FILE]: python over the JSON in FILE (default $T/out) as j; fails unless true
py() {
    python3 -c "import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if ($1) else 1)" "${2:-$T/out}" ||
        fail "$1 does not hold for $(head -c 2000 "${2:-$T/out}")"
}
jq_() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($1)" "${2:-$T/out}"; }
# wait_frame F: until the timeline is past frame F (the device plays on)
past_frame() { [ "$(kanon tempo --json | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["frame"]))')" -gt "$1" ]; }
wait_frame() { wait_for past_frame "$1" || fail "the timeline never reached frame $1"; }
# onsets WAV JSON CH: timeline frames of the impulses (samples above 0.15 on
# channel CH that rise by as much from the sample before)
cat >"$T/onsets.py" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[1])
from swaplib import read_wav
_, chans = read_wav(sys.argv[2])
t0 = json.load(open(sys.argv[3]))["timeline_frame"]
x = chans[int(sys.argv[4])]
print(json.dumps([t0 + i for i in range(len(x)) if x[i] > 0.15 and (i == 0 or x[i] - x[i - 1] > 0.15)]))
PY
onsets() { python3 "$T/onsets.py" "$ROOT/tests/e2e/swap" "$1" "$2" "$3"; }

# ----------------------------------------------------------------- 1. play --at
up
kanon record start "$T/at.wav" >/dev/null || fail "record start"
placed=0
for margin in 8 16 32; do # beats ahead: enough to compile on a loaded machine, more if not
    B=$(kanon tempo --json | python3 -c "import json,math,sys; print(math.ceil(json.load(sys.stdin)['beat']) + $margin)")
    expect 0 kanon play "$T/l.c" --deck l --at "$B" --json
    cp "$T/out" "$T/at_l.json"
    expect 0 kanon play "$T/tick_right.c" --deck r --at "$B" --json
    cp "$T/out" "$T/at_r.json"
    if python3 -c 'import json,sys; sys.exit(any(json.load(open(f))["start_late"] for f in sys.argv[1:]))' \
        "$T/at_l.json" "$T/at_r.json"; then
        placed=1
        break
    fi
    echo "  (a deck was not ready for beat $B: once more, further ahead)"
    kanon stop l >/dev/null
    kanon stop r >/dev/null
done
[ $placed = 1 ] || fail "play --at: a deck came late three times"
F=$(jq_ 'int(j["start_frame"])' "$T/at_l.json")
py "j['start_frame'] == $F and j['start_beat'] == $B" "$T/at_r.json"
kanon status --json >"$T/st.json"
py "[(d['start_frame'], d['start_beat'], d['epoch']) for d in j['decks']] == [($F, $B, $F)] * 2" "$T/st.json"
# 48 kHz, 120 bpm: beat B is frame 24000 B
[ "$F" = $((B * 24000)) ] || fail "play --at $B started on frame $F, not $((B * 24000))"
wait_frame $((F + 24000))
kanon record stop --json >"$T/at_rec.json" || fail "record stop"
L=$(onsets "$T/at.wav" "$T/at_rec.json" 0)
R=$(onsets "$T/at.wav" "$T/at_rec.json" 1)
python3 - "$L" "$R" "$F" <<'PY' || fail "play --at: the recording"
import json, sys
L, R, F = json.loads(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3])
if len(L) < 3 or L != R or L[0] != F or any(b - a != 4800 for a, b in zip(L, L[1:])):
    print("FAIL: left impulses %s, right %s, want both from frame %d every 4800" % (L[:5], R[:5], F))
    sys.exit(1)
PY
ok "play --at $B: both decks start on frame $F (beat $B), impulse for impulse on the same samples"

# ----------------------------------------------------------------- 2. save
expect 0 kanon set l.level 0.4
expect 0 kanon play "$ROOT/examples/sine.c" --deck c
expect 0 kanon set c.freq 330
expect 0 kanon gain c -4
expect 0 kanon pan c 0.5
expect 0 kanon mute c
expect 0 kanon gain master -6
expect 0 kanon tempo 100 --bar 3
expect 0 kanon quant l 2
expect 0 kanon map load "$ROOT/examples/maps/8knob.json"
expect 0 kanon session save "$T/s.json" --json
py 'j["ok"] and j["decks"] == 3 and j["routes"] == 3 and j["map"]'
# what it wrote
py 'j["kanon_session"] == 1 and j["tempo"] == {"bpm": 100, "bar": 3}
    and j["master"] == {"gain_db": -6, "limiter": True}
    and j["audio"] == {"rate": 48000, "channels": 2, "block": 64}
    and [d["name"] for d in j["decks"]] == ["l", "r", "c"]' "$T/s.json"
TICK_SRC=$(cat "$T/tick.c") python3 - "$T/s.json" "$T" "$ROOT" <<'PY' || fail "session save: the decks"
import json, os, sys
j, t, root = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
d = {x["name"]: x for x in j["decks"]}
want = {
    "l": (t + "/l.c", {"level": 0.4}, 2, {"gain_db": 0, "mute": False, "solo": False, "pan": 0}),
    "r": (t + "/tick_right.c", {"level": 0.5}, 0, {"gain_db": 0, "mute": False, "solo": False, "pan": 0}),
    "c": (root + "/examples/sine.c", {"freq": 330}, 0, {"gain_db": -4, "mute": True, "solo": False, "pan": 0.5}),
}
for name, (f, params, quant, mixer) in want.items():
    x = d[name]
    got = (x["file"], x["params"], x["quant"], x["mixer"], x["fade_ms"], x["watch"])
    if got != (os.path.realpath(f), params, quant, mixer, 20, True):
        print("FAIL: deck %s saved as %s" % (name, got))
        sys.exit(1)
    if x["source"] != open(f).read():
        print("FAIL: deck %s: the source saved is not the version playing" % name)
        sys.exit(1)
routes = sorted((r["src"], r["dst"], r["port"], r["gain_db"], r["pre"]) for r in j["routes"])
if routes != sorted((n, "master", "", 0, False) for n in "lrc"):
    print("FAIL: routes %s" % routes)
    sys.exit(1)
m = j["map"]
if m["path"] != root + "/examples/maps/8knob.json" or m["content"] != json.load(open(m["path"])):
    print("FAIL: map %s" % m["path"])
    sys.exit(1)
PY
ok "session save: 3 decks with their sources, params, quant, mixer; master, routes, tempo, map"
expect 1 kanon session save "$T/l.c"
says "l.c is the source of deck 'l'; refusing to overwrite it"
echo '{"not": "a session"}' >"$T/other.json"
expect 1 kanon session save "$T/other.json"
says "exists and is not a kanon session"
ok "session save refuses a deck's source and a file that is not a session"

# ----------------------------------------------------------------- 3. load into a new conductor
# the file is edited after the save: the session brings back the version it holds
sed -i 's/#define TICK_DC 0.0f/#define TICK_DC 0.3f/' "$T/l.c"
for try in 1 2 3; do # a new deck's setup() later than its start: only on a very busy machine
    kanon down >/dev/null
    up
    kanon record start "$T/load.wav" >/dev/null || fail "record start (load)"
    expect 0 kanon session load "$T/s.json" --json
    cp "$T/out" "$T/load.json"
    grep -q "was not ready for beat" "$T/load.json" || break
    echo "  (a deck was late for the group's beat: once more)"
    [ $try = 3 ] && fail "session load: a deck was late three times: $(cat "$T/load.json")"
done
says "plays the session's copy of $(realpath "$T/l.c"), which has changed since"
F=$(jq_ 'int(j["start_frame"])' "$T/load.json")
B=$(jq_ 'j["start_beat"]' "$T/load.json")
py "sorted((d['name'], d['action'], d['start_frame'], d['start_beat']) for d in j['decks'])
    == [(n, 'started', $F, $B) for n in 'clr'] and j['stopped'] == []" "$T/load.json"
kanon status --json >"$T/st.json"
py "sorted((d['name'], d['start_frame'], d['start_beat'], d['epoch'], d['start_late'], d['quant'])
    for d in j['decks']) == [('c', $F, $B, $F, False, 0), ('l', $F, $B, $F, False, 2), ('r', $F, $B, $F, False, 0)]
    and j['tempo']['bpm'] == 100 and j['tempo']['bar'] == 3" "$T/st.json"
kanon mix --json >"$T/mix.json"
py "j['master'] == {'gain_db': -6, 'limiter': True} and sorted(
    (d['name'], d['gain_db'], d['mute'], d['solo'], d['pan']) for d in j['decks'])
    == [('c', -4, True, False, 0.5), ('l', 0, False, False, 0), ('r', 0, False, False, 0)]" "$T/mix.json"
kanon params c --json >"$T/pc.json"
py "[(p['name'], p['value'], p['current']) for p in j] == [('freq', 330, 330)]" "$T/pc.json"
kanon params l --json >"$T/pl.json"
py "[(p['name'], p['value'], p['current']) for p in j] == [('level', 0.4, 0.4)]" "$T/pl.json"
kanon map show --json >"$T/map.json"
py "j['map']['path'] == '$ROOT/examples/maps/8knob.json'" "$T/map.json"
wait_frame $((F + 24000))
kanon record stop --json >"$T/load_rec.json" || fail "record stop (load)"
L=$(onsets "$T/load.wav" "$T/load_rec.json" 0)
R=$(onsets "$T/load.wav" "$T/load_rec.json" 1)
python3 - "$ROOT/tests/e2e/swap" "$T" "$L" "$R" "$F" <<'PY' || fail "session load: the recording"
import json, sys
sys.path.insert(0, sys.argv[1])
from swaplib import read_wav
t, L, R, F = sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4]), int(sys.argv[5])
_, (left, right) = read_wav(t + "/load.wav")
t0 = json.load(open(t + "/load_rec.json"))["timeline_frame"]
if len(L) < 3 or L != R or L[0] != F:
    print("FAIL: left impulses %s, right %s: want the same, from frame %d" % (L[:4], R[:4], F))
    sys.exit(1)
# the first impulse already has the saved level (a preset, no glide); the
# left channel holds no constant: the session's version, not the edited file
# (the master is at -6 dB: every sum stays below the limiter's knee)
gm = 10 ** (-6 / 20)
if abs(left[F - t0] - 0.4 * gm) > 1e-6 or abs(right[F - t0] - 0.5 * gm) > 1e-6 or any(
        left[F - t0 + k] != 0 for k in range(1, 4800)):
    print("FAIL: first impulses %g (want 0.4 at -6 dB) and %g (want 0.5 at -6 dB), left after it %s"
          % (left[F - t0], right[F - t0], sorted(set(left[F - t0 + 1:F - t0 + 4800]))[:4]))
    sys.exit(1)
if any(x != 0 for x in left[:F - t0]) or any(x != 0 for x in right[:F - t0]):
    print("FAIL: sound before the start frame %d" % F)
    sys.exit(1)
PY
ok "session load: decks, params, mixer, master, tempo, quant, map back; all 3 start on frame $F (beat $B), the saved version, level 0.4 from the first sample"

# ----------------------------------------------------------------- 4. load into a running set
ids=$(python3 -c 'import json,sys; print(" ".join("%s=%d" % (d["name"], d["cartridge"]["id"]) for d in json.load(open(sys.argv[1]))["decks"]))' "$T/st.json")
python3 - "$T/s.json" "$T/s2.json" "$T" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
t = sys.argv[3]
d = {x["name"]: x for x in j["decks"]}
l = {"name": "l", "file": t + "/tick_dc.c", "fade_ms": 0}   # changed: a constant 0.1 from its takeover
c = dict(d["c"], params={"freq": 550})                       # the same version, a new value
n = {"name": "n", "file": "tick_dc_right.c", "params": {"level": 0.25}}  # new, beside the session
j["decks"] = [l, c, n]                                        # r is not in it: it stops
j["routes"] = [{"src": x, "dst": "master"} for x in "lcn"]
json.dump(j, open(sys.argv[2], "w"), indent=1)
PY
kanon record start "$T/swap.wav" >/dev/null || fail "record start (swap)"
expect 0 kanon session load "$T/s2.json" --lead 1500 --json # setup() has 1.5 s, however busy
cp "$T/out" "$T/swap.json"
F=$(jq_ 'int(j["start_frame"])' "$T/swap.json")
B=$(jq_ 'j["start_beat"]' "$T/swap.json")
py "sorted((d['name'], d['action']) for d in j['decks']) == [('c', 'unchanged'), ('l', 'swapped'), ('n', 'started')]
    and j['stopped'] == ['r']" "$T/swap.json"
gone_r() { status_field '"r" not in [d["name"] for d in s["decks"]]' | grep -qx True; }
wait_for gone_r || fail "deck r did not stop"
wait_frame $((F + 24000))
kanon record stop --json >"$T/swap_rec.json" || fail "record stop (swap)"
kanon status --json >"$T/st2.json"
python3 - "$T/st2.json" "$ids" "$F" "$B" <<'PY' || fail "session load into a running set: status"
import json, sys
s, ids, F, B = json.load(open(sys.argv[1])), dict(x.split("=") for x in sys.argv[2].split()), int(sys.argv[3]), float(sys.argv[4])
d = {x["name"]: x for x in s["decks"]}
if sorted(d) != ["c", "l", "n"]:
    print("FAIL: decks %s, want c, l, n" % sorted(d))
    sys.exit(1)
if d["c"]["cartridge"]["id"] != int(ids["c"]) or d["l"]["cartridge"]["id"] == int(ids["l"]):
    print("FAIL: c should keep cartridge %s (has %d), l should have a new one (has %d)"
          % (ids["c"], d["c"]["cartridge"]["id"], d["l"]["cartridge"]["id"]))
    sys.exit(1)
if (d["n"]["start_frame"], d["n"]["start_beat"]) != (F, B):
    print("FAIL: n started on frame %d (beat %g), the group on %d (beat %g)" % (d["n"]["start_frame"], d["n"]["start_beat"], F, B))
    sys.exit(1)
PY
kanon params c --json >"$T/pc.json"
py "[(p['name'], p['value']) for p in j] == [('freq', 550)]" "$T/pc.json"
python3 - "$ROOT/tests/e2e/swap" "$T" "$F" <<'PY' || fail "session load into a running set: the recording"
import json, sys
sys.path.insert(0, sys.argv[1])
from swaplib import read_wav
t, F = sys.argv[2], int(sys.argv[3])
_, (left, right) = read_wav(t + "/swap.wav")
t0 = json.load(open(t + "/swap_rec.json"))["timeline_frame"]
i = F - t0
gm = 10 ** (-6 / 20)  # the master; every level stays below the limiter's knee
near = lambda x, *want: min(abs(x - w * gm) for w in want) < 1e-6
if i < 4800:
    print("FAIL: the recording starts at frame %d, too close to the group's frame %d" % (t0, F))
    sys.exit(1)
# l: the old version (impulses only) up to F, the new one's constant from F on
lv = [x for x in left[:i] if x != 0]
if not lv or any(not near(x, 0.4) for x in lv) or not near(left[i], 0.1, 0.5):
    print("FAIL: left around the group's frame: before %s, at it %g" % (sorted(set(lv))[:4], left[i]))
    sys.exit(1)
if any(not near(x, 0.1, 0.5) for x in left[i:i + 9600]):
    print("FAIL: l's new version is not heard from frame %d on: %s" % (F, sorted(set(left[i:i + 9600]))[:4]))
    sys.exit(1)
# r stops on F (its last impulse before it), n's constant starts exactly there
if right[i - 1] != 0 or right[i] < 0.2 * gm - 1e-6:
    print("FAIL: right channel %g before the group's frame, %g on it (n must start there)" % (right[i - 1], right[i]))
    sys.exit(1)
if any(not near(x, 0.2, 0.45) for x in right[i + 96:i + 9600]):
    print("FAIL: after the group's frame the right channel is not n alone: %s" % sorted(set(right[i + 96:i + 9600]))[:4])
    sys.exit(1)
if any(x != 0 and not near(x, 0.5) for x in right[:i]) or not any(near(x, 0.5) for x in right[:i]):
    print("FAIL: before the group's frame the right channel is not r alone")
    sys.exit(1)
PY
ok "session load into a running set, on beat $B (frame $F): l swapped there, n started there, r stopped there, c kept with freq 550"

# ----------------------------------------------------------------- 5. refusals
kanon status --json | python3 -c 'import json,sys; print(sorted((d["name"], d["cartridge"]["id"], d["version"]) for d in json.load(sys.stdin)["decks"]))' >"$T/before"
kanon tempo --json | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["bpm"], j["bar"])' >>"$T/before"
unchanged() {
    kanon status --json | python3 -c 'import json,sys; print(sorted((d["name"], d["cartridge"]["id"], d["version"]) for d in json.load(sys.stdin)["decks"]))' >"$T/after"
    kanon tempo --json | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["bpm"], j["bar"])' >>"$T/after"
    cmp -s "$T/before" "$T/after" || fail "$1 changed the running set: $(cat "$T/before") -> $(cat "$T/after")"
}
# bad NAME 'PYTHON EDIT OF j' 'MESSAGE'
bad() {
    python3 - "$T/s.json" "$T/$1.json" "$2" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
j["tempo"] = {"bpm": 77, "bar": 5}   # would change, if anything were applied
exec(sys.argv[3])
json.dump(j, open(sys.argv[2], "w"))
PY
    expect 1 kanon session load "$T/$1.json"
    says "kanon session: error: $T/$1.json: $3"
    unchanged "$1"
}
bad unknown 'j["decks"][0]["colour"] = "red"' 'decks[0].colour: unknown field (a deck has name, file,'
bad unknown_top 'j["extra"] = 1' 'extra: unknown field (a session has kanon_session,'
bad missing 'j["decks"][1]["file"] = "/nonexistent/x.c"' 'decks[1].file: /nonexistent/x.c does not exist'
bad route 'j["routes"] = [{"src": "l", "dst": "ghost", "port": "", "gain_db": 0, "pre": False}]' \
    "routes[0].dst: 'ghost' is not a deck of the session, nor \"master\""
bad number 'j["decks"][2]["mixer"]["gain_db"] = 99' 'decks[2].mixer.gain_db: must be a number of dB, -120..24 (got 99)'
bad number2 'j["decks"][0]["fade_ms"] = "slow"' 'decks[0].fade_ms: must be a number of milliseconds, 0..1000 (got "slow")'
bad tempo 'j["tempo"]["bpm"] = 0' 'tempo.bpm: must be a number of bpm, 1..1000 (got 0)'
bad name 'j["decks"][1]["name"] = "no/slash"' "decks[1].name: deck name 'no/slash' may contain only letters"
bad twice 'j["decks"][1]["name"] = "l"' "decks[1].name: deck 'l' is named twice"
bad version 'j["kanon_session"] = 2' 'kanon_session: version 2 is not one this kanon reads'
# without routing in the conductor (no `routes` command yet) only the
# default routes load (every deck to the master at 0 dB)
if ! kanon routes --help >/dev/null 2>&1; then
    bad noroute 'j["routes"][0]["gain_db"] = -6' 'routes: this conductor cannot route'
fi
printf '{"kanon_session": 1,\n "decks": [],\n "tempo": {bpm: 100}\n}\n' >"$T/broken.json"
expect 1 kanon session load "$T/broken.json"
says "$T/broken.json: not valid JSON (line 3)"
# code that does not compile: held versions are discarded, nothing changes
printf '#include <kanon.h>\nvoid process(kn_ctx *k, float **out, int n) { int x = y; }\n' >"$T/broken.c"
bad compile "j['decks'][1]['file'] = '$T/broken.c'; del j['decks'][1]['source']" \
    "decks[1] (r) does not play:"
says "broken.c:2: error:"
says "nothing was changed"
kanon log >"$T/log.txt" 2>&1
grep -q "discarded: its group did not start" "$T/log.txt" || fail "the held versions were not discarded: $(tail -5 "$T/log.txt")"
ok "refused before anything changed: unknown fields, a missing file, a route to an unknown deck, bad numbers, names, version, JSON, code"
