# Bad saves are refused and the old code plays on, without a glitch.
#
# A deck plays tests/e2e/swap/phase440.c (0.2 sine, phase in kn_state) while
# recording. Then, in order:
#   1. a save with an undeclared identifier: an "error" event in
#      `kanon log --json` names FILE:LINE: error: (the line tcc reports for
#      an undeclared identifier is the line of its use); the deck stays on
#      version 1 with the same cartridge, and `kanon status` (JSON and
#      table) shows the error as the last event, and the deck's handover
#      state is back to "playing";
#   2. the fix (phase660.c) swaps in: version 2;
#   3. three versions whose test render produces NaN/Inf: NaN after 300
#      frames (0/0), NaN at once (sqrtf of a negative), +Inf (1/0). Each is
#      refused before takeover: an "error" event mentioning NaN, version
#      stays 2, history keeps only versions 1 and 2.
# The recording proves the old code played on: from the deck's frame 0 it
# equals tests/e2e/swap/phase_model.c rendered by `kanon render` (440 Hz
# until the fix's takeover frame, a linear 20 ms crossfade, then 660 Hz
# continuing the 440 Hz code's phase) within 1e-6; so through the syntax
# error it is continuous 440 Hz, and the NaN versions' test renders (on a
# scratch copy of the state) did not disturb the phase. No NaN in the
# recording, no 10 ms window below RMS 0.08 (no dropout), no step beyond a
# 660 Hz sine's, 0 non-finite samples counted, 0 underruns.
. "$(dirname "$0")/lib.sh"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in tests/e2e/swap
SW=$ROOT/tests/e2e/swap
up
F="$T/er.c"
cp "$SW/phase440.c" "$F"
kanon record start "$T/er.wav" >/dev/null || fail "record start"
kanon play "$F" >"$T/play.out" 2>&1 || fail "play: $(cat "$T/play.out")"
python3 - "$SW" er "$F" <<'PY' || fail "errors"
import sys
sys.path.insert(0, sys.argv[1])
from swaplib import *
sw, name, path = sys.argv[1:4]
p440 = open(sw + "/phase440.c").read()
p660 = open(sw + "/phase660.c").read()


def errors():
    return [e for e in events(name) if e["kind"] == "error"]


def refuse(text, why, want):
    """Save text, wait for its error event; the deck stays as it was."""
    before = deck(name)
    n = len(errors())
    save_truncate(path, text.encode())
    e = wait_until(lambda: len(errors()) > n and errors()[n], "an error event for " + why)
    if want not in e["text"]:
        raise Fail("%s: error event %r does not contain %r" % (why, e["text"], want))
    after = deck(name)
    for k in ("version",):
        if after[k] != before[k]:
            raise Fail("%s: %s changed from %r to %r" % (why, k, before[k], after[k]))
    if after["cartridge"]["id"] != before["cartridge"]["id"] or after["cartridge"]["state"] != "running":
        raise Fail("%s: the playing cartridge changed: %s -> %s" % (why, before["cartridge"], after["cartridge"]))
    print("  ok: %s refused, v%d plays on: %s" % (why, after["version"], e["text"].splitlines()[0]))


try:
    wait_version(name, 1)
    advance(name, 24000)  # 0.5 s of 440 Hz first
    # 1. undeclared identifier
    lines = p440.split("\n")
    ln = next(i for i, l in enumerate(lines) if "float v = 0.2f * sinf" in l)
    lines[ln] = lines[ln].replace("0.2f * sinf", "gain_not_declared * sinf")
    refuse("\n".join(lines), "undeclared identifier", "%s:%d: error:" % (path, ln + 1))
    # kanon status shows it too: the deck's last event, and its text table
    want = "%s:%d: error:" % (path, ln + 1)
    if want not in deck(name)["last_event"] or want not in kanon("status"):
        raise Fail("kanon status does not show %r: %r" % (want, deck(name)["last_event"]))
    advance(name, 24000)  # the old code keeps playing through the error
    if deck(name)["version"] != 1:
        raise Fail("version changed after the error")
    if deck(name)["handover"] != "playing":  # the refused successor is gone
        raise Fail("handover state %r after a refusal, want 'playing'" % deck(name)["handover"])
    # 2. the fix
    save_truncate(path, p660.encode())
    wait_version(name, 2)
    advance(name, 24000)
    # 3. NaN / Inf in the test render
    body = "        float v = 0.2f * sinf(2 * (float)M_PI * (float)s->phase);\n"
    if body not in p660:
        raise Fail("phase660.c changed: update this test")
    late = p660.replace("static Sine *s;\n", "static Sine *s;\nstatic int n;\nstatic float zero;\n").replace(
        body, body + "        if (++n > 300) v = zero / zero; /* NaN after 300 frames */\n")
    now = p660.replace(body, body + "        v += sqrtf(-1.0f - (float)s->phase); /* NaN at once */\n")
    inf = p660.replace(body, body + "        v += 1.0f / (float)(s->phase - s->phase); /* +Inf */\n")
    for text, why in ((late, "NaN after 300 frames"), (now, "NaN at once"), (inf, "+Inf")):
        refuse(text, why, "NaN")
        advance(name, 12000)
    advance(name, 24000)
    check_deck(name, 2, errors=4)  # v1, v2 took over; 0 underruns, 0 non-finite, no fault
    h = history(name)
    if [v["version"] for v in h["versions"]] != [1, 2] or open(h["versions"][1]["file"]).read() != p660:
        raise Fail("history: %s" % h["versions"])
    errs = errors()
    if len(errs) != 4:
        raise Fail("%d error events, want 4: %s" % (len(errs), [e["text"] for e in errs]))
    print("  ok: 4 refusals, 2 takeovers (play, fix), history v1..v2, 0 non-finite, 0 underruns")
except Fail as e:
    print("FAIL:", e)
    sys.exit(1)
PY
kanon record stop --json >"$T/stop.json" || fail "record stop"
kanon down >/dev/null 2>&1 # the analysis below needs no conductor
nan=$(wav "$T/er.wav" nan)
[ "$nan" = 0 ] || fail "$nan non-finite samples in the recording"
secs=$(python3 -c "import json; print(round(json.load(open('$T/stop.json'))['seconds'] + 1))")
kanon render "$SW/phase_model.c" --seconds "$secs" -o "$T/old.wav" 2>/dev/null || fail "render model"
python3 - "$SW" "$T/er.wav" "$T/old.wav" >"$T/s" <<'PY' || fail "$(cat "$T/s")"
import sys
sys.path.insert(0, sys.argv[1])
from swaplib import *
try:
    rate, live = read_wav(sys.argv[2])
    _, (old, _new) = read_wav(sys.argv[3])
    print(*find_takeover(live[0], old))
except Fail as e:
    print(e)
    sys.exit(1)
PY
read -r base S <"$T/s"
kanon render "$SW/phase_model.c" --set start="$S" --seconds "$secs" -o "$T/model.wav" 2>/dev/null ||
    fail "render model"
python3 - "$SW" "$T/er.wav" "$T/model.wav" "$base" "$S" 960 <<'PY' || fail "recording"
import sys
sys.path.insert(0, sys.argv[1])
from swaplib import *
try:
    rate, live = read_wav(sys.argv[2])
    _, (old, new) = read_wav(sys.argv[3])
    base, S, F = (int(v) for v in sys.argv[4:7])
    if S < rate:
        raise Fail("the fix took over at deck frame %d, before the syntax error's second of 440 Hz" % S)
    est, worst = check_handover(live[0], old, new, base, S, F, rate)
    print("  ok: recording = 440 Hz code exactly for deck frames 0..%d (through the syntax error), a linear"
          " crossfade, then the 660 Hz code exactly (through the NaN/Inf refusals); min 10 ms RMS %.3f"
          % (S - 1, worst))
except Fail as e:
    print("FAIL:", e)
    sys.exit(1)
PY
f=$(wav "$T/er.wav" freq --skip "$(python3 -c "print(($base + 1) / 48000 + 0.01)")" \
    --length "$(python3 -c "print($S / 48000 - 0.05)")")
near "$f" 440 0.5 || fail "before the fix: $f Hz, want 440"
f2=$(wav "$T/er.wav" freq --skip "$(python3 -c "print(($base + $S + 960) / 48000 + 0.01)")")
near "$f2" 660 0.5 || fail "after the fix: $f2 Hz, want 660"
ok "$f Hz through the syntax error, $f2 Hz after the fix"
wavtool steps "$T/er.wav" --max 0.0177 >"$T/steps.json" || fail "discontinuity: $(cat "$T/steps.json")"
ok "no step above 0.0177 (a 660 Hz 0.2 sine + the crossfade's slope), no NaN in the recording"
