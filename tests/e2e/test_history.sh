# Version history and revert.
#
# Three versions of a deck (440, 550, 660 Hz: play + two saves) are listed
# by `kanon history DECK --json` as versions 1..3 in order, with times in
# order and files holding each version's exact bytes (origins play, save,
# save). `kanon revert DECK 1` plays version 1 again: a recording's
# frequency goes back to 440 Hz, and the history gains version 4, byte-
# identical to version 1, whose origin mentions the revert. `kanon revert
# DECK` (no N) goes to the version before the current one (v3: 660 Hz, as
# version 5). Reverting to a version that does not exist exits 1 with a
# message naming it, and changes nothing. No underruns but those the
# machine explains (lib.sh underruns_ok).
. "$(dirname "$0")/lib.sh"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in tests/e2e/swap
SW=$ROOT/tests/e2e/swap
mkdir -p "$T/h"
F=$T/h/h.c
up
src() { # FREQ: phase440.c with another frequency, and a line naming it
    sed "s|440.0 / k->rate|$1.0 / k->rate|; 1s|^|/* history test: $1 Hz */\n|" "$SW/phase440.c"
}
src 440 >"$T/v1.c"
src 550 >"$T/v2.c"
src 660 >"$T/v3.c"
grep -q "550.0 / k->rate" "$T/v2.c" || fail "test bug: sed did not change the frequency"
ver() { python3 "$SW/swaplib.py" wait-version h "$1" || fail "version $1 never took over: $(kanon log h)"; }
rec_freq() { # NAME: record 1 s of the deck, print its frequency
    kanon record start "$T/$1.wav" >/dev/null || fail "record start"
    python3 "$SW/swaplib.py" advance h 48000 || fail "the deck does not play"
    kanon record stop >/dev/null || fail "record stop"
    wav "$T/$1.wav" freq --skip 0.3 # the ring may still hold the previous version's audio
}

cp "$T/v1.c" "$F"
kanon play "$F" >"$T/play.out" 2>&1 || fail "play: $(cat "$T/play.out")"
ver 1
cp "$T/v2.c" "$F"
ver 2
python3 "$SW/swaplib.py" wait-idle h || fail "idle"
cp "$T/v3.c" "$F"
ver 3
python3 "$SW/swaplib.py" wait-idle h || fail "idle"
f=$(rec_freq v3)
near "$f" 660 0.5 || fail "v3 plays $f Hz, want 660"

kanon history h --json >"$T/h3.json" || fail "history"
python3 - "$T/h3.json" "$T" <<'PY' || fail "history after 3 versions: $(cat "$T/h3.json")"
import json, sys
h = json.load(open(sys.argv[1]))
vs = h["versions"]
assert [v["version"] for v in vs] == [1, 2, 3], vs
assert h["current"] == 3, h
times = [v["time"] for v in vs]
assert all(t for t in times) and times == sorted(times), times
assert [v["origin"] for v in vs] == ["play", "save", "save"], vs
for i, v in enumerate(vs):
    assert open(v["file"], "rb").read() == open("%s/v%d.c" % (sys.argv[2], i + 1), "rb").read(), v
PY
ok "history lists v1..v3 in order, times in order, origins play/save/save, files = each version's bytes"

kanon revert h 1 >"$T/revert1.out" 2>&1 || fail "revert h 1: $(cat "$T/revert1.out")"
ver 4
python3 "$SW/swaplib.py" wait-idle h || fail "idle"
f=$(rec_freq r1)
near "$f" 440 0.5 || fail "after revert to v1: $f Hz, want 440"
kanon history h --json >"$T/h4.json" || fail "history"
python3 - "$T/h4.json" "$T" <<'PY' || fail "history after revert 1: $(cat "$T/h4.json")"
import json, sys
h = json.load(open(sys.argv[1]))
vs = h["versions"]
assert [v["version"] for v in vs] == [1, 2, 3, 4] and h["current"] == 4, h
assert "revert" in vs[3]["origin"] and "1" in vs[3]["origin"], vs[3]
assert open(vs[3]["file"], "rb").read() == open(sys.argv[2] + "/v1.c", "rb").read(), vs[3]
PY
ok "revert h 1: 440 Hz again ($f Hz); history v4 = v1's bytes, origin '$(python3 -c \
"import json; print(json.load(open('$T/h4.json'))['versions'][3]['origin'])")'"

kanon revert h >"$T/revert.out" 2>&1 || fail "revert h: $(cat "$T/revert.out")"
ver 5
python3 "$SW/swaplib.py" wait-idle h || fail "idle"
f=$(rec_freq r0)
near "$f" 660 0.5 || fail "after revert to the previous version (v3): $f Hz, want 660"
kanon history h --json >"$T/h5.json" || fail "history"
python3 - "$T/h5.json" "$T" <<'PY' || fail "history after revert: $(cat "$T/h5.json")"
import json, sys
h = json.load(open(sys.argv[1]))
vs = h["versions"]
assert [v["version"] for v in vs] == [1, 2, 3, 4, 5] and h["current"] == 5, h
assert "revert" in vs[4]["origin"] and "3" in vs[4]["origin"], vs[4]
assert open(vs[4]["file"], "rb").read() == open(sys.argv[2] + "/v3.c", "rb").read(), vs[4]
PY
ok "revert h (no N): the version before the current one, v3 (660 Hz: $f Hz), as v5"

kanon revert h 99 >"$T/revert99.out" 2>&1
rc=$?
[ $rc = 1 ] || fail "revert h 99 exited $rc, want 1: $(cat "$T/revert99.out")"
grep -q "no version 99" "$T/revert99.out" || fail "revert h 99 says: $(cat "$T/revert99.out")"
python3 - "$SW" <<'PY' || fail "after revert 99"
import sys
sys.path.insert(0, sys.argv[1])
from swaplib import *
d = deck("h")
vs = history("h")["versions"]
assert d["version"] == 5 and len(vs) == 5 and "next" not in d, (d, vs)
assert not [e for e in events("h") if e["kind"] in ("error", "fault")], events("h")
assert [e["version"] for e in running_events("h")] == [1, 2, 3, 4, 5], events("h")
assert d["nonfinite"] == 0, d
PY
underruns_ok h || fail "underruns"
ok "revert h 99: exit 1, '$(head -1 "$T/revert99.out")'; still v5, history unchanged"
kanon history h >"$T/h.txt" || fail "history (text)"
grep -q '^\* v5 ' "$T/h.txt" || fail "text history does not mark v5 as playing: $(cat "$T/h.txt")"
ok "text history marks v5 as playing"
