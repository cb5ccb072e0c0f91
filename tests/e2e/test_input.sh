# The audio input (`kanon up --inputs N`, the routing source `in`) and
# `kanon render --input`:
#
# 1. Offline. `kanon render input/fx.c --input IN.wav` (fx: half of its
#    port "in") writes exactly half of every input sample, bit for bit: a
#    mono file into both channels, a stereo one channel for channel, and
#    silence after the file's end. A file at another rate, or of another
#    channel count, is refused with a message saying why.
# 2. The dummy backend. `kanon up --inputs 1` opens the dummy input (it
#    captures silence): status shows a 1-channel input that is placed on
#    the timeline ("live") and keeps capturing; `kanon route in:2 fx` is
#    refused (a 1-channel input), and so is `kanon route in master` (the
#    input is not a deck: it reaches the master through one); `kanon route
#    in fx` is made, listed, and fx plays it.
# 3. JACK (skipped without jackd), at -p 256 and -p 64 (a period the server
#    cannot run at is left out, with the reason; one of them must run): a
#    private synchronous jackd (dummy driver), `kanon up --backend jack
#    --inputs 2`: ports kanon:in_1 and kanon:in_2 exist. fx plays,
#    `kanon route in fx`. kn_jack_loop writes a single-sample impulse of
#    0.5 into kanon:in_1 and records kanon's output ports from the same
#    frame: the impulse comes back once, as 0.25 (through fx, and nothing
#    else: no dry path), on the left only, exactly latency_frames (status)
#    later, to the frame. A take the machine disturbed (the client missed
#    a cycle, fx ran dry, the input was placed again) is taken again, up to
#    5 times. After `kanon unroute in fx` the impulse does not come back.
#    With `kanon route in:1 fx` (in_1 into both channels), a noise burst
#    played into kanon:in_1 comes back as `kanon render fx.c --input
#    burst.wav`, sample for sample on both channels, latency_frames later.
. "$(dirname "$0")/lib.sh"
[ -x "$TOOLS/kn_jack_loop" ] || fail "$TOOLS/kn_jack_loop is not built (make)"
FX=$ROOT/tests/e2e/input/fx.c
jf() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "$1"; }

# mkwav PATH RATE CHANNELS FRAMES SEED: float32 noise in -0.9..0.9 (exact in float)
mkwav() {
    python3 - "$@" <<'PY'
import random, struct, sys
path, rate, ch, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
random.seed(seed)
data = struct.pack("<%df" % (n * ch), *(round(random.uniform(-0.9, 0.9) * 2**20) / 2**20 for _ in range(n * ch)))
fmt = struct.pack("<HHIIHH", 3, ch, rate, rate * ch * 4, ch * 4, 32)
open(path, "wb").write(b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data)) + b"WAVE"
                       + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data)
PY
}
# halves IN OUT [SHIFT]: OUT frame i + SHIFT is half of IN frame i on every channel (a mono IN
# into each), OUT is silent everywhere else; prints a summary, exit 1 otherwise
cat >"$T/halves.py" <<'PY'
import struct, sys
def read(path):
    b = open(path, "rb").read()
    pos, fmt, data = 12, None, None
    while pos + 8 <= len(b):
        cid, n = b[pos:pos + 4], struct.unpack("<I", b[pos + 4:pos + 8])[0]
        if cid == b"fmt ": fmt = b[pos + 8:pos + 8 + n]
        if cid == b"data": data = b[pos + 8:pos + 8 + n]
        pos += 8 + n + (n & 1)
    ch = struct.unpack("<H", fmt[2:4])[0]
    v = struct.unpack("<%df" % (len(data) // 4), data)
    return ch, [v[i:i + ch] for i in range(0, len(v), ch)]
ich, inp = read(sys.argv[1])
och, out = read(sys.argv[2])
shift = int(sys.argv[3]) if len(sys.argv) > 3 else 0
bad = []
for j, fr in enumerate(out):
    i = j - shift
    for c in range(och):
        want = struct.unpack("<f", struct.pack("<f", 0.5 * inp[i][c if ich > 1 else 0]))[0] \
            if 0 <= i < len(inp) else 0.0
        if fr[c] != want and len(bad) < 3:
            bad.append(f"frame {j} channel {c}: {fr[c]!r}, want {want!r}")
if bad:
    print("; ".join(bad))
    sys.exit(1)
print(f"{len(out)} frames: input frame i as half of it at frame i + {shift}, silence elsewhere")
PY

# --- 1. offline: render --input -------------------------------------------------------------
mkwav "$T/mono.wav" 48000 1 4800 1
mkwav "$T/stereo.wav" 48000 2 4800 2
mkwav "$T/at44.wav" 44100 1 100 3
mkwav "$T/three.wav" 48000 3 100 4
for f in mono stereo; do
    expect 0 kanon render "$FX" --input "$T/$f.wav" --seconds 0.2 -o "$T/r-$f.wav"
    says "input: $T/$f.wav, 4800 frames"
    v=$(python3 "$T/halves.py" "$T/$f.wav" "$T/r-$f.wav") || fail "render --input $f.wav: $v"
    ok "render --input $f.wav: $v"
done
kanon render "$FX" --input "$T/mono.wav" --seconds 0.2 -o "$T/r.wav" --json >"$T/r.json" ||
    fail "render --json"
[ "$(jf "$T/r.json" '(r["input_frames"], r["input_channels"])')" = "(4800, 1)" ] ||
    fail "render --json: $(cat "$T/r.json")"
expect 1 kanon render "$FX" --input "$T/at44.wav" --seconds 0.2 -o "$T/x.wav"
says "it is 44100 Hz and the render 48000 Hz"
expect 1 kanon render "$FX" --input "$T/three.wav" --seconds 0.2 -o "$T/x.wav"
says "it has 3 channels and the render 2"
expect 1 kanon render "$FX" --input "$T/none.wav" --seconds 0.2 -o "$T/x.wav"
says "--input $T/none.wav"
[ ! -e "$T/x.wav" ] || fail "a refused render wrote its output"
ok "render --input refuses another rate, another channel count, a missing file"

# A session whose deck reads the input renders with --input too, through the
# same route arithmetic: equal to the one-file render, sample for sample.
cat >"$T/s.json" <<JSON
{"kanon_session": 1, "audio": {"rate": 48000, "channels": 2, "block": 64},
 "master": {"gain_db": 0, "limiter": true},
 "decks": [{"name": "fx", "file": "$FX"}],
 "routes": [{"src": "in", "dst": "fx", "port": "in", "gain_db": 0, "pre": false},
            {"src": "fx", "dst": "master", "port": "", "gain_db": 0, "pre": false}]}
JSON
expect 0 kanon render "$T/s.json" --input "$T/mono.wav" --seconds 0.2 -o "$T/rs.wav"
kanon render "$FX" --input "$T/mono.wav" --seconds 0.2 -o "$T/r1.wav" >/dev/null || fail "render"
same_audio "$T/rs.wav" "$T/r1.wav" || fail "a session's render --input differs from the file's"
expect 1 kanon render "$T/s.json" --seconds 0.2 -o "$T/x.wav"
says "give the render one with --input IN.wav"
ok "render SESSION.json --input: equal to the file's render; without --input, refused"

# --- 2. the dummy backend -----------------------------------------------------------------
up --inputs 1
grep -q "input    1 ch from" "$T/up.out" || fail "kanon up does not show the input: $(cat "$T/up.out")"
input_live() { [ "$(status_field 's["input"]["live"]')" = True ]; }
wait_for input_live || fail "the input never went live: $(kanon status --json)"
kanon status --json >"$T/s.json"
[ "$(jf "$T/s.json" 'r["input"]["channels"]')" = 1 ] || fail "input channels: $(cat "$T/s.json")"
[ "$(jf "$T/s.json" 'r["input"]["clock"]')" = device ] || fail "input clock: $(cat "$T/s.json")"
f0=$(jf "$T/s.json" 'r["input"]["frames"]')
more_frames() { [ "$(status_field 's["input"]["frames"]')" -gt "$f0" ]; }
wait_for more_frames || fail "the input captures nothing: $(kanon status --json)"
kanon status >"$T/status.txt"
grep -q "^input: 1 ch from .*; latency [0-9]* frames" "$T/status.txt" || fail "status: $(cat "$T/status.txt")"
ok "dummy: $(grep '^input:' "$T/status.txt")"
expect 0 kanon play "$FX" --deck fx
expect 1 kanon route in:2 fx
says "the input has only 1 channel"
expect 1 kanon route in master
says "the device input is not a deck"
expect 1 kanon unroute in master
says "never on the master"
expect 0 kanon route in fx
kanon routes --json >"$T/routes.json"
[ "$(jf "$T/routes.json" '[(x["src"], x["dst"], x["port"]) for x in r if x["src"] == "in"]')" = "[('in', 'fx', 'in')]" ] ||
    fail "routes: $(cat "$T/routes.json")"
fx_running() { [ "$(status_field '[d["cartridge"]["state"] for d in s["decks"] if d["name"] == "fx"][0]')" = running ]; }
wait_for fx_running || fail "fx: $(kanon status)"
played_wait 14400 fx # fx reads the silent input a while: it must neither fault nor run dry
underruns_ok fx || fail "fx ran dry reading the input: $(kanon status)"
expect 0 kanon unroute in fx
ok "dummy: route in:2 and in -> master refused, route in fx made, played and removed"
kanon down >/dev/null || fail "down"

# --- 3. JACK ---------------------------------------------------------------------------------
command -v jackd >/dev/null || { echo "jackd not installed: the JACK part is skipped"; exit 0; }
command -v jack_lsp >/dev/null || { echo "jack_lsp not installed: the JACK part is skipped"; exit 0; }
JBASE="kn-e2e-$$" JPID=""
trap 'kanon down >/dev/null 2>&1; [ -n "$JPID" ] && stop_jackd; cleanup' EXIT
# jackd_at PERIOD: a private jackd, synchronous (-S: every client runs in every cycle, however
# late), one server name per period. Sets JPID; 1 if it does not start.
jackd_at() {
    export JACK_DEFAULT_SERVER="$JBASE-p$1" JACK_NO_AUDIO_RESERVATION=1
    jack_clean_stale
    jackd -R -S -n "$JACK_DEFAULT_SERVER" -d dummy -r 48000 -p "$1" >"$T/jackd-$1.log" 2>&1 &
    JPID=$!
    wait_for jack_lsp
}
outputs() { # kanon's output ports
    jack_lsp -p | python3 -c '
import sys
lines = sys.stdin.read().splitlines()
for name, props in zip(lines[0::2], lines[1::2]):
    if name.startswith("kanon") and ":" in name and "output" in props and ":midi_" not in name:
        print(name)'
}
deck_underruns() { status_field '[d["underruns"] for d in s["decks"] if d["name"] == "fx"][0]'; }
restamps() { status_field 's["input"]["restamps"]'; }

latency() { status_field 's["input"]["latency_frames"]'; }

# take LABEL ARGS...: kn_jack_loop into kanon:in_1 and from kanon's outputs (its report in
# $T/LABEL.json), again while the machine disturbed it: the client missed a cycle, fx ran dry,
# the input was placed again (its latency may have changed). Sets lat, the latency it had.
take() {
    local label=$1 n u0 r0
    shift
    for n in 1 2 3 4 5; do
        u0=$(deck_underruns) r0=$(restamps) lat=$(latency)
        kn_jack_loop --to kanon:in_1 --from "${P[0]}" --from "${P[1]}" "$@" >"$T/$label.json" \
            2>"$T/$label.err" || fail "kn_jack_loop: $(cat "$T/$label.json" "$T/$label.err")"
        if [ "$(jf "$T/$label.json" 'r["skipped_cycles"]')" = 0 ] && [ "$(deck_underruns)" = "$u0" ] &&
            [ "$(restamps)" = "$r0" ] && [ "$(latency)" = "$lat" ]; then
            return 0
        fi
        ok "$label: take $n disturbed (skipped cycles $(jf "$T/$label.json" 'r["skipped_cycles"]'), fx underruns $u0 -> $(deck_underruns), restamps $r0 -> $(restamps)); again"
    done
    fail "$label: 5 takes, each disturbed by the machine"
}

mkwav "$T/burst.wav" 48000 1 2400 5
measured=()
for period in 256 64; do
    if ! jackd_at "$period"; then
        echo "jackd -p $period does not start here: $(tail -3 "$T/jackd-$period.log")"
        stop_jackd
        JPID=
        continue
    fi
    kanon up --backend jack --inputs 2 >"$T/up.out" 2>&1 || fail "up on jack: $(cat "$T/up.out")"
    wait_for input_live || fail "the input never went live: $(kanon status --json)"
    jack_lsp >"$T/ports.txt"
    grep -qx "kanon:in_1" "$T/ports.txt" && grep -qx "kanon:in_2" "$T/ports.txt" ||
        fail "no ports kanon:in_1, kanon:in_2: $(cat "$T/ports.txt")"
    kanon status --json >"$T/s.json"
    [ "$(jf "$T/s.json" 'r["input"]["clock"]')" = jack ] || fail "input clock: $(cat "$T/s.json")"
    [ "$(jf "$T/s.json" 'r["input"]["ports"]')" = "['kanon:in_1', 'kanon:in_2']" ] ||
        fail "input ports: $(cat "$T/s.json")"
    kanon play "$FX" --deck fx >/dev/null || fail "play fx"
    has_outputs() { [ "$(outputs | wc -l)" = 2 ]; }
    wait_for has_outputs || fail "want 2 kanon output ports: $(jack_lsp -p)"
    mapfile -t P < <(outputs)
    wait_for fx_running || fail "fx: $(kanon status)"
    expect 0 kanon route in fx

    take impulse --impulse 0.5 --seconds 0.5
    got=$(jf "$T/impulse.json" '(r["delay"], [(p["first"], p["value"], p["nonzero"]) for p in r["ports"]])')
    [ "$got" = "($lat, [($lat, 0.25, 1), (-1, 0, 0)])" ] ||
        fail "-p $period: the impulse came back as $got (delay, per port: first, value, nonzero frames); want ($lat, [($lat, 0.25, 1), (-1, 0, 0)]): latency_frames $lat: $(cat "$T/impulse.json")"
    ok "-p $period: an impulse into kanon:in_1 comes back through fx once, 0.25, $lat frames later: the reported latency_frames ($(status_field 'round(s["input"]["latency_ms"], 2)') ms)"
    measured+=("-p $period: $lat frames")

    expect 0 kanon unroute in fx
    take unrouted --impulse 0.5 --seconds 0.3
    [ "$(jf "$T/unrouted.json" 'r["delay"]')" = -1 ] || fail "after unroute, the impulse still comes back: $(cat "$T/unrouted.json")"
    ok "-p $period: unrouted, it does not come back"

    expect 0 kanon route in:1 fx
    take burst --play "$T/burst.wav" --seconds 0.3 -o "$T/live-$period.wav"
    kanon render "$FX" --input "$T/burst.wav" --seconds 0.1 -o "$T/render-$period.wav" 2>"$T/render.err" ||
        fail "render: $(cat "$T/render.err")"
    v=$(python3 "$T/halves.py" "$T/burst.wav" "$T/live-$period.wav" "$lat") ||
        fail "-p $period: live input through fx is not half of the burst $lat frames later: $v"
    v=$(python3 - "$T/render-$period.wav" "$T/live-$period.wav" "$lat" <<'PY'
import struct, sys
def frames(path):
    b = open(path, "rb").read()
    pos = 12
    while pos + 8 <= len(b):
        cid, n = b[pos:pos + 4], struct.unpack("<I", b[pos + 4:pos + 8])[0]
        if cid == b"data":
            d = b[pos + 8:pos + 8 + n]
            return [d[i:i + 8] for i in range(0, len(d), 8)]
        pos += 8 + n + (n & 1)
r, l, lat = frames(sys.argv[1]), frames(sys.argv[2]), int(sys.argv[3])
bad = [i for i in range(len(r)) if l[lat + i] != r[i]]
print(f"{len(bad)} of {len(r)} frames differ, the first at {bad[0]}" if bad else f"{len(r)} frames bit-identical")
sys.exit(1 if bad else 0)
PY
) || fail "-p $period: live and render differ: $v"
    ok "-p $period: a noise burst into kanon:in_1 through fx (in:1) is \`kanon render fx.c --input\`: $v"

    kanon down >/dev/null || fail "down"
    stop_jackd
    JPID=
done
[ ${#measured[@]} -gt 0 ] || fail "jackd ran at no period"
ok "measured = reported: ${measured[*]}"
