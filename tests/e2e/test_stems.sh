# Stems and deck taps (`kanon record start DIR --stems`, `--deck X`), end to
# end. Decks play signals locked to the timeline (tests/e2e/stems/*.c: at
# timeline frame T each plays a sawtooth value v(T) that is exact in float,
# and so is v(T) times a gain), so every recorded sample can be checked
# against the frame it was played at:
#   - lo (gain -6, pan -0.5) and hi (gain -3, pan 0.3) play; `record start
#     DIR --stems` into a new DIR creates it (mode 0700) and writes
#     master.wav, lo.wav and hi.wav; a deck started later (late) gets
#     late.wav too; `status --json` shows the mode and the files;
#   - every file has the same number of frames, which `record stop` reports
#     (with the files and 0 dropped);
#   - master.wav equals the float sum of the stems in deck-slot order,
#     sample for sample (the levels stay below the limiter's knee, -6 dBFS,
#     and the master gain is unity, where the master path is exact);
#   - each stem holds v(timeline_frame + i) times one gain per channel,
#     exactly: so every stem starts on the recording's timeline frame; the
#     gains are the mixer's within 0.01 dB (lo: -6 / -12.02 dB, hi: -6.10 /
#     -3 dB, late: 0 dB). A sample that is neither exact nor silent must be
#     part of a ~1 ms fade next to silence (an underrun on a loaded
#     machine, or the stop);
#   - late.wav is silent up to the deck's start_frame (exactly), then late's
#     signal, then after `kanon stop late` a fade and silence to the end;
#   - `record start F --deck lo` records lo alone: the same exact samples
#     and gains as its stem (mode deck in status and stop);
#   - errors: --stems into a regular file, into a directory holding a
#     non-WAV lo.wav (left intact), --deck of an unknown deck (named in the
#     message), --stems with --deck: exit 1, nothing recorded.
. "$(dirname "$0")/lib.sh"
export PYTHONDONTWRITEBYTECODE=1
S=$ROOT/tests/e2e/stems
up
expect 0 kanon play "$S/lo.c"
expect 0 kanon play "$S/hi.c"
expect 0 kanon gain lo -6
expect 0 kanon pan lo -0.5
expect 0 kanon gain hi -3
expect 0 kanon pan hi 0.3
# The gains glide for 10 ms; wait until the meters show both decks settled
# (peak over both channels: lo 0.25 at -6 dB, hi 200/2048 at -3 dB), so no
# glide is in the recordings.
settled() {
    kanon meters --json | python3 -c '
import json, math, sys
d = {x["name"]: x for x in json.load(sys.stdin)["decks"]}
want = {"lo": 20 * math.log10(0.25) - 6, "hi": 20 * math.log10(200 / 2048) - 3}
sys.exit(0 if all(abs(d[k]["peak_db"] - v) < 0.05 for k, v in want.items()) else 1)'
}
wait_for settled || fail "the decks never showed their levels: $(kanon meters)"
rec() { status_field "(s['recording'] or {}).get('$1')"; }
rec_files() { status_field '[f["deck"] for f in s["recording"]["files"]]'; }
frames_over() { python3 -c "import sys; sys.exit(0 if float('$(rec frames)') >= $1 else 1)"; }
tl_now() { status_field 's["tempo"]["frame"]'; }
tl_over() { [ "$(tl_now)" -ge "$1" ]; } # the timeline (frames mixed) has passed frame $1

# --- refusals: nothing is recorded
echo "not a directory" >"$T/afile"
expect 1 kanon record start "$T/afile" --stems
says "afile is not a directory"
mkdir "$T/busy" && echo "my notes" >"$T/busy/lo.wav"
expect 1 kanon record start "$T/busy" --stems
says "lo.wav exists and is not a WAV file; refusing to overwrite it"
[ "$(cat "$T/busy/lo.wav")" = "my notes" ] || fail "the refused stems touched busy/lo.wav"
[ ! -e "$T/busy/master.wav" ] || fail "the refused stems wrote busy/master.wav"
expect 1 kanon record start "$T/x.wav" --deck nosuch
says "no deck named 'nosuch'"
[ ! -e "$T/x.wav" ] || fail "record --deck nosuch created the file"
expect 1 kanon record start "$T/x" --stems --deck lo
says "--stems records every deck and --deck one"
[ "$(status_field 's["recording"]')" = None ] || fail "a refused start left a recording: $(kanon status)"
ok "refused: --stems into a regular file, over a non-WAV lo.wav; --deck nosuch; --stems with --deck"

# --- stems
expect 0 kanon record start "$T/st" --stems
says "recording stems to $T/st (master.wav, lo.wav, hi.wav)"
[ "$(stat -c %a "$T/st")" = 700 ] || fail "DIR was created with mode $(stat -c %a "$T/st"), want 700"
[ "$(rec mode)" = stems ] && [ "$(rec path)" = "$T/st" ] ||
    fail "status shows no stems recording: $(kanon status --json)"
[ "$(rec_files)" = "['master', 'lo', 'hi']" ] ||
    fail "status lists other files: $(kanon status --json)"
wait_for frames_over 24000 || fail "the recording does not advance"
expect 0 kanon play "$S/late.c"
late_start() { status_field '[d["start_frame"] for d in s["decks"] if d["name"] == "late"][0]'; }
wait_for late_start || fail "deck late never started: $(kanon status --json)"
start=$(late_start)
slots=$(status_field '" ".join("%s=%d" % (d["name"], d["slot"]) for d in s["decks"])')
[ "$(rec_files)" = "['master', 'lo', 'hi', 'late']" ] ||
    fail "status does not list late.wav: $(kanon status --json)"
wait_for tl_over $((start + 24000)) || fail "the timeline does not advance"
expect 0 kanon stop late
wait_for python3 -c "
import json, subprocess, sys
s = json.loads(subprocess.check_output(['kanon', 'status', '--json']))
sys.exit('late' in [d['name'] for d in s['decks']])" || fail "deck late still listed after its stop"
gone=$(tl_now)
wait_for tl_over $((gone + 24000)) || fail "the timeline does not advance"
kanon record stop --json >"$T/stop.json" || fail "record stop"
# A deck starved for 250 ms slips to a new place on the timeline (status
# slips): frames it had made for the old place play late, so its samples no
# longer match their frame. That is the machine's doing; such a deck is
# left out of the sample checks (the master is still checked against it).
slipped=$(status_field '",".join(d["name"] for d in s["decks"] if d.get("slips"))')
ok "recorded stems: $(python3 -c "import json; j = json.load(open('$T/stop.json')); print(j['frames'], 'frames:', ', '.join(f['deck'] + '.wav' for f in j['files']))")"

# Every check of the samples, in one pass (float WAVs parsed by hand: the
# wave module reads PCM only). Exit 1 with what differs.
analyse() {
    python3 - "$@" <<'PY'
import json, math, struct, sys
from array import array

def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]

def read(path):
    d = open(path, "rb").read()
    assert d[:4] == b"RIFF" and d[8:12] == b"WAVE", path + ": not a WAV"
    i, ch, data = 12, None, None
    while i + 8 <= len(d):
        cid, size = d[i:i + 4], struct.unpack("<I", d[i + 4:i + 8])[0]
        body = d[i + 8:i + 8 + size]
        if cid == b"fmt ":
            tag, ch = struct.unpack("<HH", body[:4])
            if tag == 0xFFFE:
                tag = struct.unpack("<H", body[24:26])[0]
            assert tag == 3 and struct.unpack("<H", body[14:16])[0] == 32, path + ": not float32"
        elif cid == b"data":
            data = array("f")
            data.frombytes(body[:len(body) // 4 * 4])
        i += 8 + size + (size & 1)
    if sys.byteorder != "little":
        data.byteswap()
    return ch, data

SIG = {"lo": (256, 1024), "hi": (200, 2048), "late": (300, 4096)}  # period, divisor

def v(deck, t):
    p, div = SIG[deck]
    return (t % p + 1) / div

FADE = 64  # the mixer's fades last rate / 1000 = 48 frames

def stem(deck, x, ch, n, tf):
    """Classifies each frame as silent, exact (v(T) times the gain) or
    other; other frames must be fades next to silence. Returns the gains,
    the exact and silent frame counts and the first non-silent frame."""
    p, div = SIG[deck]
    g = None
    for i in range(n):  # where v is 1/16 the product is exact both ways
        if (tf + i) % p + 1 == div // 16 and x[i * ch] != 0:
            g = [x[i * ch + c] * 16 for c in range(ch)]
            break
    assert g, deck + ": never heard"
    silent, exact, other = [], 0, []
    for i in range(n):
        f = x[i * ch:(i + 1) * ch]
        if all(s == 0 for s in f):
            silent.append(i)
        elif all(f[c] == f32(v(deck, tf + i) * g[c]) for c in range(ch)):
            exact += 1
        else:
            other.append(i)
    # a fade (an underrun's, or the stop's) lies next to silence
    near, k = set(), 0
    for i in other:
        while k < len(silent) and silent[k] < i - FADE:
            k += 1
        assert k < len(silent) and silent[k] <= i + FADE, \
            "%s: frame %d is neither silent, nor v(T) x gain, nor a fade next to silence: %r (want %r)" % (
                deck, i, list(x[i * ch:(i + 1) * ch]), [f32(v(deck, tf + i) * gc) for gc in g])
    return g, exact, len(silent), (min(set(range(n)) - set(silent)) if len(silent) < n else n)

def db(x):
    return 20 * math.log10(x)

def check_gains(deck, g, want):
    for c, (gc, w) in enumerate(zip(g, want)):
        assert abs(db(gc) - w) <= 0.01, "%s channel %d: gain %.4f dB, want %.4f" % (deck, c, db(gc), w)

WANT = {"lo": (-6, -6 + db(0.5)), "hi": (-3 + db(0.7), -3), "late": (0, 0)}
mode = sys.argv[1]
if mode == "stems":
    d, stop, start, gains = sys.argv[2], json.load(open(sys.argv[3])), int(sys.argv[4]), sys.argv[6]
    slots = dict(kv.split("=") for kv in sys.argv[5].split())
    slipped = sys.argv[7].split(",") if len(sys.argv) > 7 and sys.argv[7] else []
    assert stop["mode"] == "stems" and stop["path"] == d, stop
    assert stop["dropped"] == 0, "dropped %d frames" % stop["dropped"]
    names = [f["deck"] for f in stop["files"]]
    assert names == ["master", "lo", "hi", "late"], names
    n, tf = stop["frames"], stop["timeline_frame"]
    x = {}
    for f in stop["files"]:
        assert f["path"] == "%s/%s.wav" % (d, f["deck"]) and f["frames"] == n, f
        ch, x[f["deck"]] = read(f["path"])
        assert len(x[f["deck"]]) == n * ch, "%s.wav has %d frames, want %d" % (f["deck"], len(x[f["deck"]]) // ch, n)
    print("4 files of %d frames (%.2f s) from timeline frame %d" % (n, n / 48000, tf))
    # the master is the sum of the stems, float by float, in slot order
    order = sorted(["lo", "hi", "late"], key=lambda k: int(slots[k]))
    M, bad = x["master"], 0
    for j in range(n * ch):
        s = 0.0
        for k in order:
            s = f32(s + x[k][j])
        bad += s != M[j]
    assert bad == 0, "master differs from the sum of the stems in %d samples" % bad
    print("master.wav == the float sum of the stems (slots %s), sample for sample" % " + ".join(order))
    for k in ("lo", "hi"):
        if k in slipped:
            print("%s.wav: not checked sample by sample: the deck slipped (a starved machine)" % k)
            continue
        g, exact, silent, first = stem(k, x[k], ch, n, tf)
        check_gains(k, g, WANT[k])
        assert exact >= n * 0.8, "%s: only %d of %d frames exact" % (k, exact, n)
        print("%s.wav: %d frames exactly v(timeline_frame + i) x gain (%s dB), %d silent" % (
            k, exact, " / ".join("%.3f" % db(gc) for gc in g), silent))
    g, exact, silent, first = stem("late", x["late"], ch, n, tf)
    check_gains("late", g, WANT["late"])
    assert first == start - tf, "late.wav is first heard at frame %d, but late started at timeline frame %d = file frame %d" % (first, start, start - tf)
    assert exact >= 24000 * 0.8, "late: only %d frames exact" % exact
    tail = 0
    while tail < n and all(s == 0 for s in x["late"][(n - 1 - tail) * ch:(n - tail) * ch]):
        tail += 1
    assert tail >= 24000 * 0.8, "late.wav: only %d silent frames after its stop" % tail
    print("late.wav: silent for %d frames (to its start_frame), then %d frames exact, %d silent at the end" % (first, exact, tail))
    if "lo" not in slipped:
        json.dump({"lo": stem("lo", x["lo"], ch, n, tf)[0]}, open(gains, "w"))
else:  # deck: the file and lo's gains from its stem
    stop, gains = json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
    assert stop["mode"] == "deck" and stop["deck"] == "lo" and stop["dropped"] == 0, stop
    assert [f["deck"] for f in stop["files"]] == ["lo"], stop["files"]
    ch, x = read(stop["path"])
    n, tf = stop["frames"], stop["timeline_frame"]
    assert len(x) == n * ch and n > 0, (len(x), n)
    g, exact, silent, first = stem("lo", x, ch, n, tf)
    assert g == gains["lo"], "gains %r, the stem's %r" % (g, gains["lo"])
    assert exact >= n * 0.8, "only %d of %d frames exact" % (exact, n)
    print("--deck lo: %d frames, %d exactly v(timeline_frame + i) x lo's gains (as its stem), %d silent" % (n, exact, silent))
PY
}
analyse stems "$T/st" "$T/stop.json" "$start" "$slots" "$T/gains.json" "$slipped" >"$T/an.txt" 2>&1 ||
    { cat "$T/an.txt"; fail "stems analysis ($(kanon status --json | python3 -c 'import json,sys; print([(d["name"], d["underruns"]) for d in json.load(sys.stdin)["decks"]])'))"; }
sed 's/^/  ok: /' "$T/an.txt"

# --- one deck
expect 0 kanon record start "$T/lo_only.wav" --deck lo
says "recording deck lo to $T/lo_only.wav"
[ "$(rec mode)" = deck ] && [ "$(rec deck)" = lo ] || fail "status shows no deck recording: $(kanon status --json)"
wait_for frames_over 24000 || fail "the deck recording does not advance"
kanon record stop --json >"$T/stop_deck.json" || fail "record stop"
analyse deck "$T/stop_deck.json" "$T/gains.json" >"$T/an.txt" 2>&1 || { cat "$T/an.txt"; fail "deck analysis"; }
sed 's/^/  ok: /' "$T/an.txt"
