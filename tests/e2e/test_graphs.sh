# Parallel equals sequential (issue 13, the scheduler rule of the brief):
# random route graphs - 2 to 12 decks from the pool in tests/e2e/graphs
# (oscillators, gain, echo, filter, a sidechain ducker, a look-ahead stage
# that declares its latency), random sends, gains, pre/post taps, sidechains,
# decks off the master, mixer settings - are each
#   1. loaded live (`kanon session load`, every deck starting on one frame)
#      and recorded,
#   2. saved (`kanon session save`) and rendered offline from the saved file
#      (`kanon render SESSION.json`: one process, one deck after another),
# and the recording from the session's first frame must equal the render
# sample for sample. KANON_GRAPHS graphs (default 30; `make soak` runs more),
# seeds from KANON_GRAPH_SEED (default: the time), printed with every graph
# and on failure.
. "$(dirname "$0")/lib.sh"
up --tier tcc # routing is judged here; that the cc tier plays the same samples is test_tier's (and a gcc build of every deck of 30 graphs would double the time)
N=${KANON_GRAPHS:-30}
SEED0=${KANON_GRAPH_SEED:-$(date +%s)}
POOL="$ROOT/tests/e2e/graphs"
echo "  graphs $N, seeds from $SEED0 (rerun one: KANON_GRAPH_SEED=S KANON_GRAPHS=1)"

# Every deck of the session running, and the timeline past its first frame
# by $1 frames; prints the session's first frame (the decks' common one).
started() {
    python3 - "$1" <<'PY'
import json, subprocess, sys, time
need = int(sys.argv[1])
end = time.time() + 30
while time.time() < end:
    s = json.loads(subprocess.run(["kanon", "status", "--json"], capture_output=True,
                                  text=True).stdout or "{}")
    decks = s.get("decks", [])
    starts = {d.get("start_frame") for d in decks}
    if decks and None not in starts and all(d["cartridge"]["state"] == "running" for d in decks):
        if len(starts) != 1:
            sys.exit("decks started on different frames: %s" % sorted(starts))
        first = starts.pop()
        if s["tempo"]["frame"] >= first + need:
            print(int(first))
            sys.exit(0)
    time.sleep(0.05)
sys.exit("the session did not start: %s" % json.dumps(s)[:2000])
PY
}

no_decks() {
    kanon status --json | python3 -c 'import json,sys; sys.exit(1 if json.load(sys.stdin)["decks"] else 0)'
}

stop_all() {
    for d in $(kanon status --json | python3 -c 'import json,sys; print(" ".join(d["name"] for d in json.load(sys.stdin)["decks"]))'); do
        kanon stop "$d" >/dev/null 2>&1
    done
    wait_for no_decks || fail "the decks did not go after kanon stop"

    # routes are kept by name for decks to come: the next graph starts clean
    kanon routes --json | python3 -c 'import json,sys; [print(r["src"], r["dst"] + (":" + r["port"] if r["port"] else "")) for r in json.load(sys.stdin)]' |
        while read -r src dst; do kanon unroute "$src" "$dst" >/dev/null || fail "unroute $src $dst"; done
}

# What the machine did to the set while it played: underruns, frames
# dropped as late, slips, blocks rendered without a late source, frames the
# recorder lost. Empty if nothing.
disturbed() {
    kanon status --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
bad = ["%s: %s" % (d["name"], ", ".join("%s %d" % (k, d[k]) for k in
       ("underruns", "late_frames", "slips", "inputs_missed") if d.get(k)))
       for d in s["decks"] if any(d.get(k) for k in ("underruns", "late_frames", "slips", "inputs_missed"))]
print("; ".join(bad))'
}

# One graph: 0 equal; 1 not equal while the machine disturbed it (printed);
# exits the test when not equal on an undisturbed run.
one_graph() {
    local seed=$1 g="$T/g$2" desc first rec rfirst out why
    desc=$(python3 "$POOL/gen.py" "$seed" "$POOL" "$g.json") || fail "generator, seed $seed"
    rm -f "$g".*.wav
    kanon record start "$g.live.wav" >/dev/null || fail "record start (seed $seed)"
    kanon session load "$g.json" --lead 200 >"$g.load.out" 2>&1 || fail "session load, seed $seed: $(cat "$g.load.out")"
    first=$(started 14400) || fail "seed $seed ($desc): $first"
    rec=$(kanon record stop --json) || fail "record stop (seed $seed)"
    rfirst=$(echo "$rec" | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["timeline_frame"]))')
    why=$(disturbed)
    kanon session save "$g.saved.json" >/dev/null || fail "session save (seed $seed)"
    kanon render "$g.saved.json" --seconds 0.5 -o "$g.render.wav" >/dev/null 2>"$g.render.err" ||
        fail "render of the saved session, seed $seed: $(cat "$g.render.err")"
    if out=$(python3 "$POOL/compare.py" "$g.live.wav" "$g.render.wav" $((first - rfirst)) 14400); then
        ok "$desc: $out"
        return 0
    fi
    [ -n "$why" ] || fail "seed $seed ($desc): live != render, the machine did not disturb it: $out"
    echo "  seed $seed: live != render ($out) while the machine disturbed it: $why"
    return 1
}

retried=0
for k in $(seq 0 $((N - 1))); do
    seed=$((SEED0 + k))
    if ! one_graph "$seed" "$k"; then
        # once: a second disturbance of the same graph fails the test
        retried=$((retried + 1))
        stop_all
        one_graph "$seed" "$k" || fail "seed $seed: live != render twice (see above)"
    fi
    stop_all
done
echo "  $N graphs equal; $retried retried after the machine disturbed them"
