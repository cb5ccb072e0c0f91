# JACK output: what kanon hands to a JACK server is exactly its render, frame
# for frame, and its deck never runs dry, judged so that a slow or busy
# machine can neither fail the test nor let it pass unchecked.
#
# 1. The machine first. A private jackd (dummy driver, 48000 Hz, realtime
#    -R, synchronous -S) starts at 64-frame periods and a do-nothing client
#    (kn_probe jack) counts the server's xruns for 1 s. Above CLEAN_XRUNS the
#    server is restarted at 256, then 1024 frames; the first period the
#    do-nothing client holds is used, and the figures are printed. If even at
#    1024 it sees more than MAX_XRUNS, the machine's timer cannot keep JACK's
#    time at all: skipped (77), with the figures. (On a busy VM the dummy
#    driver's timer misses 1.3 ms deadlines whatever the clients do.)
#
# 2. Why -S. In JACK's default asynchronous mode an xrun (a cycle whose graph
#    is not done in time; on a busy machine the driver's timer alone causes
#    them) makes the server skip or repeat periods between its clients, so a
#    recorder sees gaps and repeats in kanon's stream that are the server's.
#    In synchronous mode the driver waits for the graph every cycle: a late
#    cycle is late (and still reported as an xrun) but every client runs in
#    every cycle, so the recorder receives every period kanon writes, in
#    order. The data path is immune to xruns, and the check can be strict.
#
# 3. The signal: a 440 Hz sine on the left, computed from the deck's frame
#    index alone (so a revert to a fresh cartridge plays the same frames),
#    and the frame index itself on the right (0.125 + (frame mod 2^22) /
#    2^24: exact in float32, never 0, below the limiter's knee), so every
#    recorded frame names the render frame it must be. kn_jack_rec records
#    the conductor's two ports for 2 s (complete, no frame dropped; its
#    per-cycle log tells where the server's clock was). Every recorded frame
#    must equal, bit for bit on both channels, the frame of `kanon render`
#    its index names, and the indices must run on by exactly 1 over the
#    whole take: one piece, no gap, no repeat, nothing out of order.
#    Garbage, silence, a fade, a wrong frequency, a dropped or repeated
#    block fail whatever the xruns; the verifier names the first bad frames
#    and the cycle they came in. The left channel is also 440 +- 0.5 Hz.
#
# 4. The deck is fed: it never runs dry, never faults and keeps its
#    cartridge (status underruns, cartridge id and state, `kanon log`).
#    That is kanon's promise, with one exception that is the machine's: a
#    cartridge renders at SCHED_FIFO priority 1 and its ring holds one
#    period plus ~10 ms of margin, so when other programs' real-time threads
#    hold every CPU for longer than that, no code of kanon's can run. The
#    session is cut into stretches (before, during and after each take) and
#    every stretch in which the deck was not fed is judged. A dry spell is
#    the machine's only if the cartridge spent at least half the margin
#    runnable but waiting for a CPU (/proc/PID/task/*/schedstat), a
#    do-nothing thread of the same priority beside it (kn_probe rt, waking
#    every 1 ms) woke at least half the margin late in that stretch, and the
#    cartridge itself used under 5% of a CPU (this DSP needs well under 1%).
#    A fault is the machine's only if it was a hang and that thread was
#    stalled for kanon's hang limit (50 ms) too; a deck such a hang left
#    silent is played again. Anything else fails as kanon's, with the
#    figures. A take in a starved stretch is not compared (its recording
#    holds the dry spell) and another is made, up to 5; if none is left,
#    skipped (77) with the figures, never passed.
#
# jackd is stopped at the end and must leave no process and no shared
# memory of its server names. Skipped (77) if jackd is not installed.
. "$(dirname "$0")/lib.sh"
for t in kn_jack_rec kn_probe; do
    [ -x "$TOOLS/$t" ] || fail "$TOOLS/$t is not built (make)"
done
command -v jackd >/dev/null || { echo "jackd not installed"; exit 77; }
command -v jack_lsp >/dev/null || { echo "jack_lsp not installed"; exit 77; }
CLEAN_XRUNS=2 # a do-nothing client may see this many xruns in 1 s at the period chosen
MAX_XRUNS=10  # more than this at 1024 frames (1 cycle in 5): skip
TAKES=5
JBASE="kn-e2e-$$"

# jackd_at PERIOD: like lib.sh's start_jackd, plus -S, one server name per
# period (a restarted server never meets the last one's leftovers). Sets JPID.
jackd_at() {
    export JACK_DEFAULT_SERVER="$JBASE-p$1" JACK_NO_AUDIO_RESERVATION=1
    jack_clean_stale
    jackd -R -S -n "$JACK_DEFAULT_SERVER" -d dummy -r 48000 -p "$1" >"$T/jackd-$1.log" 2>&1 &
    JPID=$!
    wait_for jack_lsp || fail "jackd -p $1 did not start: $(cat "$T/jackd-$1.log")"
}
JPID="" PROBE=""
stop_probe() { [ -n "$PROBE" ] && kill "$PROBE" 2>/dev/null && wait "$PROBE" 2>/dev/null; PROBE=; }
# kanon first (it is a JACK client), then the server.
trap 'stop_probe; kanon down >/dev/null 2>&1; [ -n "$JPID" ] && stop_jackd; cleanup' EXIT
jf() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "$1"; }

# --- 1. the machine: the smallest period a do-nothing client holds ---
measured=() period=""
for p in 64 256 1024; do
    jackd_at "$p"
    kn_probe jack --seconds 1 >"$T/idle-$p.json" 2>"$T/idle-$p.err" ||
        fail "kn_probe jack at -p $p: $(cat "$T/idle-$p.json" "$T/idle-$p.err")"
    x=$(jf "$T/idle-$p.json" 'r["xruns"]')
    measured+=("$x xruns/1 s at -p $p ($(jf "$T/idle-$p.json" '"%d of %d" % (r["cycles"], r["expected_cycles"])') cycles)")
    if [ "$x" -le "$CLEAN_XRUNS" ] || { [ "$p" = 1024 ] && [ "$x" -le "$MAX_XRUNS" ]; }; then
        period=$p
        break
    fi
    stop_jackd
    JPID=
done
figures=$(printf '%s, ' "${measured[@]}")
figures=${figures%, }
if [ -z "$period" ]; then
    echo "do-nothing JACK client: $figures"
    echo "this machine cannot keep JACK's time: a do-nothing client sees more than $MAX_XRUNS xruns in 1 s even at -p 1024 ($figures)"
    exit 77
fi
ok "do-nothing client: $figures; testing at -p $period"
bs=$(jack_bufsize 2>/dev/null | head -1)
[ "$bs" = "$period" ] || fail "jack_bufsize says $bs, want $period"
ok "jackd $JACK_DEFAULT_SERVER running (pid $JPID, $(grep -o 'starting in [a-z-]* mode' "$T/jackd-$period.log"), synchronous), buffer size $bs"

# --- 3. the indexed sine and its reference ---
cat >"$T/sine_index.c" <<'C'
/* Left: a 440 Hz sine computed from the frame index alone (no state, so
 * every cartridge of the deck, a revert's too, plays the same frame at the
 * same index). Right: the frame index, 0.125 + (frame mod 2^22) / 2^24. */
#include <kanon.h>

void process(kn_ctx *k, float **out, int frames) {
    for (int i = 0; i < frames; i++) {
        uint64_t n = k->frame + (uint64_t)i;
        double phase = fmod((double)n * 440.0 / k->rate, 1.0);
        out[0][i] = 0.2f * sinf(2 * (float)M_PI * (float)phase);
        out[1][i] = 0.125f + (float)(n & 0x3fffff) * (1.0f / 16777216.0f);
    }
}
C
# The reference first: the deck must be younger than it when the last take ends.
kanon render "$T/sine_index.c" --seconds 60 -o "$T/ref.wav" 2>"$T/render.err" || fail "render: $(cat "$T/render.err")"
f=$(wav "$T/ref.wav" freq --channel 0 --skip 0.05)
near "$f" 440 0.5 || fail "render frequency $f Hz, want 440"

# verify.py REF REC CYCLES: every recorded frame against the render frame its
# index names. Prints one line; exit 0 (one exact piece) or 1.
cat >"$T/verify.py" <<'PY'
import array, struct, sys

def readwav(path):
    b = open(path, "rb").read()
    assert b[:4] == b"RIFF" and b[8:12] == b"WAVE", path
    pos, fmt, data = 12, None, None
    while pos + 8 <= len(b):
        cid, n = b[pos:pos + 4], struct.unpack("<I", b[pos + 4:pos + 8])[0]
        if cid == b"fmt ":
            fmt = b[pos + 8:pos + 8 + n]
        elif cid == b"data":
            data = b[pos + 8:pos + 8 + n]
        pos += 8 + n + (n & 1)
    tag, ch, rate = struct.unpack("<HHI", fmt[:8])
    bits = struct.unpack("<H", fmt[14:16])[0]
    if tag == 0xFFFE:
        tag = struct.unpack("<H", fmt[24:26])[0]
    assert tag == 3 and bits == 32, f"{path}: not float32"
    n = len(data) // 4 * 4
    f, u = array.array("f"), array.array("I")
    f.frombytes(data[:n])
    u.frombytes(data[:n])
    return rate, ch, f, u

ref_rate, ch, rf, ru = readwav(sys.argv[1])
rate, rch, f, u = readwav(sys.argv[2])
assert (rate, rch) == (ref_rate, ch) == (48000, 2), (rate, rch, ref_rate, ch)
nref, n = len(rf) // ch, len(f) // ch
# frame frames frame_time usecs xruns
cycles = [tuple(map(int, l.split())) for l in open(sys.argv[3]) if not l.startswith("#")]
starts = {c[0] for c in cycles}

def cycle_of(i):
    j = max(k for k, c in enumerate(cycles) if c[0] <= i)
    return f"cycle {j} (server frame time {cycles[j][2]}, {cycles[j][4]} xruns so far)"

def index(i):  # the render frame recorded frame i names, or None
    k = (f[i * ch + 1] - 0.125) * 16777216.0
    return int(k) if k == int(k) and k >= 0 else None

nbad, first_bad, ndisc, disc, idx, beyond = 0, [], 0, [], [None] * n, 0
for i in range(n):
    k = index(i)
    if k is not None and k >= nref:
        beyond += 1
        k = None
    if k is None or any(ru[k * ch + c] != u[i * ch + c] for c in range(ch)):
        nbad += 1
        if len(first_bad) < 3:
            want = f" where the render has {rf[k * ch]!r}, {rf[k * ch + 1]!r}" if k is not None else ""
            first_bad.append(f"frame {i} holds {f[i * ch]!r}, {f[i * ch + 1]!r}{want}, in {cycle_of(i)}")
        continue
    idx[i] = k
    if i and idx[i - 1] is not None and k != idx[i - 1] + 1:
        ndisc += 1
        if len(disc) < 5:
            disc.append(f"frame {i}: render frame {idx[i - 1]} then {k} "
                        f"({'at the start of' if i in starts else 'inside'} {cycle_of(i)})")
if nbad or ndisc:
    print(f"{nbad} of {n} frames are not the render frame their index names"
          + (f" ({beyond} beyond the {nref}-frame render)" if beyond else "")
          + (": " + "; ".join(first_bad) if first_bad else "")
          + f"; {ndisc} discontinuities" + (": " + "; ".join(disc) if disc else ""))
    sys.exit(1)
print(f"{n} frames = render frames {idx[0]}..{idx[-1]} ({idx[0] / rate:.2f} s into the deck's "
      f"life), bit-exact on both channels, one piece")
PY

# --- kanon on JACK ---
kanon up --backend jack >"$T/up.out" 2>&1 || fail "up on jack: $(cat "$T/up.out")"
grep -q "backend  jack" "$T/up.out" || fail "not on jack: $(cat "$T/up.out")"
kanon status --json >"$T/status.json" || fail "status"
[ "$(jf "$T/status.json" 'r["backend"]')" = jack ] || fail "status backend: $(kanon status)"
[ "$(jf "$T/status.json" 'r["rate"]')" = 48000 ] || fail "status rate: $(kanon status)"
[ "$(jf "$T/status.json" 'r["channels"]')" = 2 ] || fail "status channels: $(kanon status)"
ok "kanon up --backend jack: $(grep -E '^ *(backend|latency) ' "$T/up.out" | sed 's/^ *//' | tr -s ' ' | paste -sd ';')"
# What the ring holds beyond the device's period: how long a cartridge may go without a CPU.
margin=$(jf "$T/status.json" 'round(r["ring_target_ms"] - r["device_latency_ms"], 1)')

# --- 4. a do-nothing thread of the cartridge's priority, beside the deck ---
: >"$T/rt.log"
kn_probe rt --prio 1 --threshold-ms 2 --log "$T/rt.log" >"$T/rt.json" 2>"$T/rt.err" &
PROBE=$!
# feed.py snap: one line of JSON about the deck now: wall time t, underruns,
#   the cartridge's id, state, pid, CPU time and time spent runnable but
#   waiting for a CPU (ms, /proc/PID/task/*/schedstat), the last event's
#   sequence number. Before the deck exists: a baseline.
# feed.py judge A B: was the deck fed from snap A to snap B (no underrun, no
#   fault, the same cartridge, still running), and if not, whose fault? Prints
#   "fed", or "machine: ..." (exit 0), or "kanon: ..." (exit 1).
cat >"$T/feed.py" <<'PY'
import glob, json, subprocess, sys, time
MARGIN, LOG = float(sys.argv[2]), sys.argv[3]
HUNG_MS = 50  # kanon kills a cartridge that made no progress for 50 ms

def kanon(*args):
    return json.loads(subprocess.run(["kanon", *args, "--json"], capture_output=True, text=True,
                                     check=True).stdout)

def snap():
    t = time.time()
    decks, seq = kanon("status")["decks"], max((e["seq"] for e in kanon("log")), default=0)
    if not decks:
        return dict(t=t, underruns=0, cart=None, state="running", pid=0, cpu_ms=0, wait_ms=0,
                    seq=seq, event="")
    d = decks[0]
    pid, cpu, wait = d["cartridge"]["pid"], 0, 0
    for f in glob.glob(f"/proc/{pid}/task/*/schedstat") if pid else []:
        try:
            c, w = open(f).read().split()[:2]
            cpu, wait = cpu + int(c), wait + int(w)
        except (OSError, ValueError):
            pass
    return dict(t=t, underruns=d["underruns"], cart=d["cartridge"]["id"],
                state=d["cartridge"]["state"], pid=pid, cpu_ms=cpu / 1e6, wait_ms=wait / 1e6,
                seq=seq, event=d["last_event"])

def judge(a, b):
    dry = b["underruns"] - a["underruns"]
    faults = [e["text"] for e in kanon("log")
              if e["kind"] == "fault" and a["seq"] < e["seq"] <= b["seq"]]
    replaced = a["cart"] is not None and a["cart"] != b["cart"]
    if not (dry or faults or replaced or b["state"] != "running"):
        print("fed")
        return 0
    late = max((float(l.split()[1]) for l in open(LOG)
                if l.strip() and a["t"] <= float(l.split()[0]) <= b["t"] + 0.2), default=0.0)
    probe = f"a do-nothing SCHED_FIFO 1 thread beside it woke up to {late:.1f} ms late"
    if faults or replaced or b["state"] != "running":
        what = (f"cartridge {a['cart']}, then {b['cart']} ({b['state']}): "
                f"{'; '.join(faults) or b['event']}; {dry} underruns; {probe}")
        if faults and all(" hung" in t for t in faults) and late >= HUNG_MS:
            print(f"machine: {what}: the machine stalled real-time threads for kanon's "
                  f"hang limit ({HUNG_MS} ms) too")
            return 0
        print(f"kanon: {what} (the machine's only for a hang while that thread was stalled "
              f"{HUNG_MS} ms too)")
        return 1
    secs = b["t"] - a["t"]
    wait, cpu = b["wait_ms"] - a["wait_ms"], b["cpu_ms"] - a["cpu_ms"]
    what = (f"the deck ran dry {dry} times in {secs:.1f} s; its cartridge ran {cpu:.1f} ms and "
            f"waited {wait:.1f} ms for a CPU; {probe} (the ring's margin is {MARGIN} ms)")
    # Starved: it waited for a CPU, so did the probe, and it was not busy itself
    # (this deck's DSP costs well under 1% of a CPU).
    if wait >= MARGIN / 2 and late >= MARGIN / 2 and cpu < 0.05 * secs * 1000:
        print(f"machine: {what}: other programs' real-time threads held the CPUs")
        return 0
    print(f"kanon: {what}")
    return 1

if sys.argv[1] == "snap":
    print(json.dumps(snap()))
else:
    sys.exit(judge(json.loads(sys.argv[4]), json.loads(sys.argv[5])))
PY
snap() { python3 "$T/feed.py" snap "$margin" "$T/rt.log"; }
judge() { python3 "$T/feed.py" judge "$margin" "$T/rt.log" "$1" "$2"; }

s_prev=$(snap) || fail "status"
kanon play "$T/sine_index.c" >"$T/play.out" || fail "play: $(cat "$T/play.out")"
# The conductor's output ports: audio outputs of a client whose name starts with "kanon"
# (its MIDI port kanon:midi_out is not one).
ports() {
    jack_lsp -p | python3 -c '
import sys
lines = sys.stdin.read().splitlines()
for name, props in zip(lines[0::2], lines[1::2]):
    if name.startswith("kanon") and ":" in name and "output" in props and ":midi_" not in name:
        print(name)'
}
has_ports() { [ "$(ports | wc -l)" = 2 ]; }
wait_for has_ports || fail "want 2 kanon output ports, jack_lsp -p: $(jack_lsp -p)"
mapfile -t P < <(ports)
ok "conductor ports: ${P[0]} | ${P[1]}"

# --- the takes; every stretch of time between two snaps is judged ---
# between A B LABEL: fails unless the deck was fed from A to B or the machine
# starved it; prints what happened otherwise. Returns 1 if it was starved. A
# deck the machine's hang left silent (no good version to revert to yet) is
# played again; `fresh` is then a snap taken after that (else empty).
between() {
    local v
    fresh=""
    v=$(judge "$1" "$2") || fail "$3: ${v#kanon: }: kanon's fault"
    [ "$v" = fed ] && return 0
    echo "  note: $3: not fed, ${v#machine: }: the machine's doing, not compared"
    if [ "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["state"])' "$2")" != running ]; then
        kanon play "$T/sine_index.c" >"$T/replay.out" || fail "play again: $(cat "$T/replay.out")"
        ok "the deck, left silent, is played again"
        fresh=$(snap) || fail "status"
    fi
    return 1
}
clean="" excused=()
for n in $(seq 1 $TAKES); do
    s0=$(snap) || fail "status"
    if ! between "$s_prev" "$s0" "before take $n"; then
        excused+=("before take $n")
        s0=${fresh:-$s0}
    fi
    kn_jack_rec --port "${P[0]}" --port "${P[1]}" --seconds 2 -o "$T/jack$n.wav" --cycles "$T/cycles$n.txt" \
        >"$T/rec$n.json" 2>"$T/rec$n.err" || fail "kn_jack_rec: $(cat "$T/rec$n.json" "$T/rec$n.err")"
    s1=$(snap) || fail "status"
    s_prev=$s1
    python3 - "$T/rec$n.json" "$bs" <<'PY' || fail "kn_jack_rec report: $(cat "$T/rec$n.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["complete"] is True and r["dropped"] == 0, r
assert r["channels"] == 2 and r["rate"] == 48000 and r["frames"] == 96000, r
assert r["buffer_size"] == int(sys.argv[2]), r
PY
    ok "take $n: 96000 frames in $(jf "$T/rec$n.json" 'r["cycles"]') cycles; the server reported $(jf "$T/rec$n.json" 'r["xruns"]') xruns, the recorder missed $(jf "$T/rec$n.json" 'r["skipped_cycles"]') cycles"
    if ! between "$s0" "$s1" "take $n"; then
        excused+=("take $n")
        s_prev=${fresh:-$s1}
        continue # the recording cannot be the render; judged above
    fi
    python3 "$T/verify.py" "$T/ref.wav" "$T/jack$n.wav" "$T/cycles$n.txt" >"$T/verify$n.out" ||
        fail "take $n: kanon's output is not its render: $(cat "$T/verify$n.out")"
    ok "take $n: $(cat "$T/verify$n.out")"
    clean=$n
    break
done
if [ -z "$clean" ]; then
    stop_probe
    echo "probe: $(cat "$T/rt.json")"
    list=$(printf '%s; ' "${excused[@]}")
    echo "no take in $TAKES with the deck fed: real-time threads of other programs starved this machine's SCHED_FIFO 1 class each time (${list%; })"
    exit 77
fi

f=$(wav "$T/jack$clean.wav" freq --channel 0 --skip 0.05)
near "$f" 440 0.5 || fail "JACK frequency $f Hz, want 440"
ok "frequency $f Hz"
[ "$(status_field 's["backend"]')" = jack ] || fail "no longer on jack: $(kanon status)"
s_end=$(snap) || fail "status"
between "$s_prev" "$s_end" "after take $clean" || excused+=("after take $clean")
stop_probe
u=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["underruns"])' "$s_end")
xr=$(status_field 's["device_underflows"]')
probe="a SCHED_FIFO 1 thread beside it was at most $(jf "$T/rt.json" 'r["max_late_ms"]') ms late"
if [ "$u" = 0 ]; then
    ok "0 underruns (kanon saw $xr xruns; $probe)"
else
    list=$(printf '%s, ' "${excused[@]}")
    ok "$u underruns, none in take $clean, all in stretches the machine starved (${list%, }); kanon saw $xr xruns; $probe"
fi

kanon down >/dev/null || fail "down"
stop_jackd
! kill -0 "$JPID" 2>/dev/null || fail "jackd $JPID still running"
[ -z "$(pgrep -f -- "jackd .*-n $JBASE-")" ] || fail "a jackd of $JBASE is left"
[ -z "$(pgrep -f -- "kanon-(conductor|cartridge) .*--instance $KANON_INSTANCE( |\$)")" ] || fail "kanon processes left"
left=$(ls /dev/shm | grep -F "$JBASE-")
[ -z "$left" ] || fail "JACK shared memory left: $left"
ok "jackd stopped: no process, no shared memory left"
