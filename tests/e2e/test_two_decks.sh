# Two decks mix: sine.c on deck "sine" and noise.c on deck "hiss" play at once
# on one conductor. The recording (started before either deck, so both onsets
# are in it) is checked sample for sample against offline renders, each deck
# aligned on its own onset:
#   - silence, then sine alone: rec == render(sine) exactly;
#   - once hiss starts: rec == float32(render(sine) + render(noise)) exactly;
#   - after `kanon stop sine`: a short fade-out (<= 10 ms, the sine only
#     shrinks), then rec == render(noise) exactly (the sine is gone, the
#     noise goes on uninterrupted).
# The levels agree: the mix is at the power sum of the two decks, and after
# the stop the level drops to the noise's alone. 0 underruns (a take with underruns
# the machine explains, lib.sh underruns_ok, is skipped) and 0 non-finite
# samples on both decks; 0 frames dropped by the recorder.
. "$(dirname "$0")/lib.sh"
up
kanon render "$ROOT/examples/sine.c" --seconds 12 -o "$T/sine.wav" 2>/dev/null || fail "render sine"
kanon render "$ROOT/examples/noise.c" --seconds 12 -o "$T/noise.wav" 2>/dev/null || fail "render noise"

kanon record start "$T/live.wav" >/dev/null || fail "record start"
recorded_wait 0.1 # some silence before the sine's onset (not required: alignment is searched)
kanon play "$ROOT/examples/sine.c" >"$T/play1.out" 2>&1 || fail "play sine: $(cat "$T/play1.out")"
grep -q "deck sine: playing" "$T/play1.out" || fail "play sine output: $(cat "$T/play1.out")"
played_wait 24000 sine # the analysis needs 0.1 s of the sine alone
kanon play "$ROOT/examples/noise.c" --deck hiss >"$T/play2.out" 2>&1 ||
    fail "play hiss: $(cat "$T/play2.out")"
grep -q "deck hiss: playing" "$T/play2.out" || fail "play hiss output: $(cat "$T/play2.out")"
played_wait 72000 hiss # ... and 1 s of both

kanon status --json >"$T/status.json" || fail "status"
python3 - "$T/status.json" <<'PY' || fail "status with both decks: $(cat "$T/status.json")"
import json, sys
s = json.load(open(sys.argv[1]))
d = {x["name"]: x for x in s["decks"]}
assert sorted(d) == ["hiss", "sine"], sorted(d)
for name, x in d.items():
    assert x["cartridge"]["state"] == "running", (name, x["cartridge"])
    assert x["nonfinite"] == 0, (name, "nonfinite", x["nonfinite"])
    assert x["frames"] > 0, (name, x["frames"])
PY
underruns_ok sine hiss || fail "underruns with both decks"
ok "both decks running, 0 non-finite"

kanon stop sine >"$T/stop.out" 2>&1 || fail "stop sine: $(cat "$T/stop.out")"
wait_for python3 -c "
import json, subprocess
s = json.loads(subprocess.check_output(['kanon', 'status', '--json']))
assert [d['name'] for d in s['decks']] == ['hiss']" || fail "deck sine still listed after stop"
played_wait 48000 hiss # ... and 0.5 s of the noise alone
underruns_ok hiss || fail "hiss underruns after the stop"
[ -n "$DISTURBED" ] && { echo "the machine disturbed the take: no exact comparison"; exit 77; }
kanon record stop --json >"$T/rec.json" || fail "record stop"
python3 -c "import json,sys; r=json.load(open('$T/rec.json')); sys.exit(r['dropped'] != 0)" ||
    fail "recorder dropped frames: $(cat "$T/rec.json")"
ok "sine stopped, hiss played on; recorder dropped 0 frames"

# Exact analysis. Float WAVs are parsed by hand (the wave module reads PCM only).
python3 - "$T/live.wav" "$T/sine.wav" "$T/noise.wav" >"$T/an.txt" 2>&1 <<'PY' ||
import struct, sys
from array import array

def read_float_wav(path):
    d = open(path, "rb").read()
    assert d[:4] == b"RIFF" and d[8:12] == b"WAVE", path
    i, fmt, data = 12, None, None
    while i + 8 <= len(d):
        cid, size = d[i:i + 4], struct.unpack("<I", d[i + 4:i + 8])[0]
        body = d[i + 8:i + 8 + size]
        if cid == b"fmt ":
            tag, ch, rate = struct.unpack("<HHI", body[:8])
            bits = struct.unpack("<H", body[14:16])[0]
            if tag == 0xFFFE:
                tag = struct.unpack("<H", body[24:26])[0]
            assert tag == 3 and bits == 32, (path, "not float32", tag, bits)
            fmt = (rate, ch)
        elif cid == b"data":
            data = array("f")
            data.frombytes(body[:len(body) // 4 * 4])
        i += 8 + size + (size & 1)
    assert fmt and data is not None, path
    if sys.byteorder != "little":
        data.byteswap()
    return fmt[0], fmt[1], data

rate, ch, rec = read_float_wav(sys.argv[1])
rs, cs, S = read_float_wav(sys.argv[2])
rn, cn, N = read_float_wav(sys.argv[3])
assert rate == rs == rn and ch == cs == cn, "rates/channels differ"
nrec, nS, nN = len(rec) // ch, len(S) // ch, len(N) // ch

def frame(a, i):
    return a[i * ch:(i + 1) * ch]

def first_nonsilent(a, n):
    for i in range(n):
        if any(x != 0 for x in frame(a, i)):
            return i
    return -1

def f32sum(a, b):
    return array("f", map(float.__add__, a, b))  # float64 sum rounded once: exact float32 add

f = first_nonsilent(rec, nrec)
assert f >= 0, "recording is silent"
# Sine: its render starts at frame 0; align its first sound with the recording's.
s0 = f - first_nonsilent(S, nS)
assert s0 >= 0
assert all(x == 0 for x in rec[:s0 * ch]), "noise before the sine's onset"
# Sine alone until the first difference: that is where hiss comes in.
n0 = s0
step = 4096
while n0 < nrec:
    m = min(step, nrec - n0)
    if rec[n0 * ch:(n0 + m) * ch] == S[(n0 - s0) * ch:(n0 - s0 + m) * ch]:
        n0 += m
        continue
    while frame(rec, n0) == frame(S, n0 - s0):
        n0 += 1
    break
assert n0 < nrec, "the recording never differs from the sine alone: no noise in it"
assert n0 - f >= rate // 10, "sine-alone stretch is only %d frames" % (n0 - f)
print("sine onset at recording frame %d: rec == render(sine) exactly for %d frames before hiss"
      % (f, n0 - s0 - (f - s0)))

# Noise: aligned on its own onset (try the few frames around the first difference).
def mix_matches(i0, n):
    return rec[i0 * ch:(i0 + n) * ch] == f32sum(S[(i0 - s0) * ch:(i0 - s0 + n) * ch],
                                                 N[(i0 - nz) * ch:(i0 - nz + n) * ch])
fn = first_nonsilent(N, nN)
nz = None
for cand in range(n0 - fn - 2, n0 - fn + 3):
    nz = cand
    if cand >= 0 and mix_matches(n0, 4096):
        break
else:
    raise AssertionError("live mix != render(sine) + render(noise) at hiss onset, frame %d" % n0)
assert all(frame(rec, i) == frame(S, i - s0) for i in range(f, nz + fn)), "noise started early"
# Both decks until the first difference: the sine's stop.
t = n0
while t < nrec:
    m = min(step, nrec - t)
    if mix_matches(t, m):
        t += m
        continue
    while mix_matches(t, 1):
        t += 1
    break
assert t < nrec, "the mix never changes: `kanon stop sine` had no effect"
assert t - n0 >= rate, "both decks together for only %d frames" % (t - n0)
print("hiss onset at recording frame %d: rec == float32(render(sine) + render(noise)) exactly "
      "for %d frames (%.2f s)" % (nz + fn, t - n0, (t - n0) / rate))
# After the stop: noise alone, exactly, once the fade is over.
u = nrec
while u > t and frame(rec, u - 1) == frame(N, u - 1 - nz):
    u -= 1
fade = u - t
assert fade <= rate // 100, "sine still audible %d frames after its stop began" % fade
for i in range(t, u):
    for c in range(ch):
        s, n, r = S[(i - s0) * ch + c], N[(i - nz) * ch + c], rec[i * ch + c]
        assert abs(r - n) <= abs(s) + 1e-6, ("fade-out larger than the sine", i, r, n, s)
assert nrec - u >= rate // 2, "only %d frames of noise after the stop" % (nrec - u)
print("sine stop at recording frame %d: %d-frame fade-out, then rec == render(noise) exactly "
      "for %d frames (%.2f s)" % (t, fade, nrec - u, (nrec - u) / rate))
# Windows for the level checks (seconds): both decks, noise alone.
print("WINDOWS %.6f %.6f %.6f %.6f" % ((n0 + rate // 20) / rate, (t - rate // 20) / rate,
                                       (u + rate // 20) / rate, nrec / rate))
PY
    { cat "$T/an.txt"; fail "exact comparison with the renders"; }
grep -v '^WINDOWS' "$T/an.txt" | sed 's/^/  ok: /'
read -r _ b0 b1 q0 q1 < <(grep '^WINDOWS' "$T/an.txt")

# Levels: the mix is at the power sum of the decks; after the stop, at the noise's.
rs=$(wav "$T/sine.wav" rms_dbfs --skip 0.1)
rn=$(wav "$T/noise.wav" rms_dbfs --skip 0.1)
want_mix=$(python3 -c "import math; print(10*math.log10(10**($rs/10) + 10**($rn/10)))")
mix=$(wavtool level "$T/live.wav" --seconds-from "$b0" --seconds-to "$b1" --field rms_dbfs) || fail "level"
alone=$(wavtool level "$T/live.wav" --seconds-from "$q0" --seconds-to "$q1" --field rms_dbfs) || fail "level"
near "$mix" "$want_mix" 0.3 || fail "mix level $mix dBFS, want $want_mix (sine $rs + noise $rn)"
near "$alone" "$rn" 0.5 || fail "level after stopping sine: $alone dBFS, want the noise's $rn"
python3 -c "import sys; sys.exit(0 if $mix - $alone > 10 else 1)" || fail "no level drop: $mix -> $alone"
ok "levels: both decks $mix dBFS (want $want_mix), noise alone $alone dBFS (want $rn)"
f=$(wavtool level "$T/live.wav" --seconds-from "$b0" --seconds-to "$b1" --field freq)
near "$f" 440 0.5 || fail "the mix's strongest partial is $f Hz, want the sine's 440"
ok "the mix's spectrum peaks at $f Hz"
