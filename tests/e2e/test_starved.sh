# A starved cartridge is not hung; a stopped one is (issue 10, item 15).
#
# A deck that needs 20% of a core (tests/e2e/overload/burn.c) plays; its
# cartridge is then starved: moved to normal priority and to CPU 0, where a
# busy loop runs at SCHED_FIFO 2 for 1 s (below every conductor's audio
# thread). It stays runnable but gets almost no CPU, so its heartbeat
# stalls and its ring runs dry (the deck underruns: the starvation bit). Hang detection judges by the scheduler,
# not the wall clock: no "hung", no fault, the same cartridge plays on once
# the CPU is free again. Then the same cartridge is stopped (SIGSTOP):
# that is a hang, killed and reverted as before.
# Needs chrt and taskset (util-linux) and the right to real-time
# scheduling (else skipped); the busy loop is ours, ended by pid (and by
# `timeout` at the latest).
. "$(dirname "$0")/lib.sh"
command -v chrt >/dev/null && command -v taskset >/dev/null || { echo "no chrt/taskset"; exit 77; }
hogs=()
end_hogs() {
    for h in "${hogs[@]}"; do kill "$h" 2>/dev/null; done
    for h in "${hogs[@]}"; do wait "$h" 2>/dev/null; done
    hogs=()
}
trap 'end_hogs; cleanup' EXIT

up --tier tcc # the cartridge is starved by pid: no tier swap may replace it
{ echo "#define BURN 0.2"; cat "$ROOT/tests/e2e/overload/burn.c"; } >"$T/sine.c"
kanon play "$T/sine.c" >"$T/play.out" 2>&1 || fail "play: $(cat "$T/play.out")"
sleep 1.5 # a good version, with a full ring
read -r id pid under < <(status_field '" ".join(str(x) for x in (s["decks"][0]["cartridge"]["id"], s["decks"][0]["cartridge"]["pid"], s["decks"][0]["underruns"]))')
[ "$pid" -gt 0 ] || fail "no cartridge pid"

chrt -f 2 true 2>/dev/null || { echo "no right to real-time scheduling"; exit 77; }
chrt -o -p 0 "$pid" >/dev/null || fail "chrt on the cartridge"
taskset -p -c 0 "$pid" >/dev/null || fail "taskset"
timeout 5 taskset -c 0 chrt -f 2 sh -c 'while :; do :; done' &
hogs+=($!)
sleep 1
end_hogs
sleep 1 # it catches up
kanon status --json >"$T/s.json"
kanon log --json >"$T/ev.json"
python3 - "$T/s.json" "$T/ev.json" "$id" "$under" <<'PY' || fail "starved cartridge: $(kanon log)"
import json, sys
s, ev = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
id_, under = int(sys.argv[3]), int(sys.argv[4])
d = s["decks"][0]
bad = [e["text"] for e in ev if e["kind"] in ("fault", "shed") or "hung" in e["text"]]
assert not bad, ("a starved cartridge was judged", bad)
# the setup worked: the cartridge really was starved (its ring ran dry)
assert d["underruns"] > under, ("not starved: no underrun", d["underruns"])
assert d["cartridge"]["id"] == id_ and d["cartridge"]["state"] == "running", d["cartridge"]
print("  ok: starved for 1 s (%d underruns): not hung, cartridge %d plays on" %
      (d["underruns"] - under, id_))
PY

kill -STOP "$pid"
python3 - <<'PY' || fail "a stopped cartridge was not judged hung: $(kanon log)"
import json, re, subprocess, sys, time
deadline = time.time() + 30
while time.time() < deadline:
    ev = json.loads(subprocess.check_output(["kanon", "log", "--json"]))
    f = [e["text"] for e in ev if e["kind"] == "fault"]
    if f:
        assert re.match(r"cartridge \d+ hung( in process\(\))? \(no progress for \d+ ms\); killed; "
                        r"reverted to version 1", f[0]), f
        print("  ok: " + f[0])
        sys.exit(0)
    time.sleep(0.1)
sys.exit(1)
PY
