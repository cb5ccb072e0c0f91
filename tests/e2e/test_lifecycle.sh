# Conductor lifecycle and isolation:
#   - `kanon up` prints backend, rate, block, latency and socket;
#     `kanon up --backend dummy --block 128 --rate 44100` shows in status --json;
#   - the control socket is mode 0600 in a 0700 directory owned by the user;
#   - while a deck plays, its shared memory is three anonymous memfds mapped
#     by the conductor (ring, state, param: "memfd:kanon.*" in its maps) and
#     no name in /dev/shm at all (nothing another process could open);
#   - `kanon down` leaves nothing: no segment, no conductor or cartridge
#     process of the instance (spare included), no socket;
#   - `kill -9` of the conductor takes its cartridges with it (PR_SET_PDEATHSIG)
#     and, with them, every segment (a memfd lives as long as its last
#     holder); the socket stays behind, and the next `kanon up` takes it over
#     and plays (a clean 440 Hz recording);
#   - names squatted in /dev/shm (the old segment names, pre-created for
#     every deck) do not stop a play: kanon names nothing there;
#   - KANON_INSTANCE and --instance address separate conductors: two run at
#     once, each with its own deck, pid, socket and segments, each recording
#     holding only its own deck's sound (bit-exact with its render at the
#     offset its status gives, not a searched one).
. "$(dirname "$0")/lib.sh"
I2="${KANON_INSTANCE}-b"
trap 'kanon --instance "$I2" down >/dev/null 2>&1; cleanup' EXIT
uid=$(id -u)
# Old-style names of the instance in /dev/shm: there must never be any.
names() { ls /dev/shm 2>/dev/null | grep -F "kanon.$uid.${1:-$KANON_INSTANCE}." ; }
# The segments the instance's conductor maps ("kanon.ring" ...). Reading
# another process's maps needs root (the conductor is not dumpable).
cpid_of() { KANON_INSTANCE=${1:-$KANON_INSTANCE} kanon status --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])' 2>/dev/null; }
segs() {
    local p
    p=$(cpid_of "$@") || return 0
    [ -n "$p" ] && grep -o 'memfd:kanon\.[a-z]*' "/proc/$p/maps" 2>/dev/null | sort -u
}
no_segs() { [ -z "$(segs "$@")" ] && [ -z "$(names "$@")" ]; }
can_see_maps=1
[ "$(id -u)" = 0 ] || { can_see_maps=0; echo "  skip: the conductor's maps need root to read (not dumpable); segment counts unchecked"; }
# Processes of this instance: the conductor and every child of it (live
# cartridges and the spare), as "pid" lines.
family() { echo "$1"; pgrep -P "$1"; }
# alive PID: exists and is not a zombie.
alive() { [ -d "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
none_alive() { for p in "$@"; do alive "$p" && return 1; done; return 0; }
# Any process running kanon-conductor/kanon-cartridge with this instance on its command line.
by_cmdline() {
    for d in /proc/[0-9]*; do
        { tr '\0' ' ' <"$d/cmdline"; } 2>/dev/null | grep -qE "kanon-(conductor|cartridge) .*--instance $1( |$)" &&
            echo "${d#/proc/}"
    done
}

# --- up prints what it opened
up
for k in "backend  dummy" "rate     48000 Hz" "block    64 frames" "latency  device" "socket   /"; do
    grep -qF "$k" "$T/up.out" || fail "\`kanon up\` output lacks '$k': $(cat "$T/up.out")"
done
sock=$(status_field 's["socket"]')
grep -qF "socket   $sock" "$T/up.out" || fail "up printed another socket than status's $sock"
ok "kanon up printed backend, rate, block, latency, socket"
kanon down >/dev/null || fail "down"

up --block 128 --rate 44100
python3 -c "
import json, subprocess
s = json.loads(subprocess.check_output(['kanon', 'status', '--json']))
assert (s['backend'], s['rate'], s['block']) == ('dummy', 44100, 128), s" ||
    fail "status does not show --backend dummy --block 128 --rate 44100: $(kanon status)"
grep -qF "rate     44100 Hz" "$T/up.out" && grep -qF "block    128 frames" "$T/up.out" ||
    fail "up output: $(cat "$T/up.out")"
ok "--backend dummy --block 128 --rate 44100 reflected in status --json"

# --- permissions
sock=$(status_field 's["socket"]')
[ -S "$sock" ] || fail "no socket at $sock"
[ "$(stat -c %a "$sock")" = 600 ] || fail "socket mode $(stat -c %a "$sock"), want 600"
dir=$(dirname "$sock")
[ "$(stat -c %a "$dir")" = 700 ] || fail "socket directory mode $(stat -c %a "$dir"), want 700"
[ "$(stat -c %u "$dir")" = "$uid" ] || fail "socket directory not owned by uid $uid"
ok "socket $sock is 0600, its directory 0700"

# Squatters: every name the segments once had, taken before the first play.
for d in $(seq -w 0 15); do
    for k in ring state param snap; do : >"/dev/shm/kanon.$uid.$KANON_INSTANCE.d$d.$k"; done
done
# as root, owned by another user, as a squatter's would be
[ "$uid" = 0 ] && chown 65534:65534 /dev/shm/kanon."$uid"."$KANON_INSTANCE".d*
kanon play "$ROOT/examples/sine.c" >"$T/play.out" 2>&1 || fail "play beside squatted names: $(cat "$T/play.out")"
rm -f /dev/shm/kanon."$uid"."$KANON_INSTANCE".d*
ok "a play is not stopped by 64 squatted /dev/shm names"
if [ $can_see_maps = 1 ]; then
    for k in ring state param; do
        n=$(segs | grep -c "kanon\.$k\$")
        [ "$n" = 1 ] || fail "want the conductor to map a $k memfd, have: $(segs)"
    done
fi
[ -z "$(names)" ] || fail "named segments in /dev/shm: $(names)"
ok "deck segments are memfds ($(segs | tr '\n' ' ')), no name in /dev/shm"

# --- down leaves nothing
cpid=$(status_field 's["pid"]')
procs=$(family "$cpid")
[ "$(echo "$procs" | wc -l)" -ge 3 ] || fail "expected conductor + cartridge + spare, have: $procs"
kanon down >"$T/down.out" 2>&1 || fail "down: $(cat "$T/down.out")"
# `kanon down` returns once the conductor released its lock, which it does
# after killing and reaping its cartridges and removing segments and socket:
# all of that is checked at once. The conductor process itself may still be
# exiting, so only it is waited for.
children=$(echo "$procs" | grep -vx "$cpid")
none_alive $children || fail "cartridges left after down: $(ps -o pid,stat,args -p "$(echo $children | tr ' ' ,)")"
no_segs || fail "segments left after down: $(segs)"
[ ! -e "$sock" ] || fail "socket $sock left after down"
wait_for none_alive "$cpid" || fail "conductor $cpid still running after down"
[ -z "$(by_cmdline "$KANON_INSTANCE")" ] || fail "instance processes after down: $(by_cmdline "$KANON_INSTANCE")"
expect_no=$(kanon status 2>&1)
[ $? = 2 ] || fail "status after down: $expect_no"
ok "after down: no segment, no process (of $(echo $procs | wc -w)), no socket"

# --- kill -9: cartridges follow, the next up reclaims
up --tier tcc # its cartridge pid is checked among the family: no tier swap may replace it
kanon play "$ROOT/examples/sine.c" >/dev/null || fail "play"
cpid=$(status_field 's["pid"]')
cart=$(status_field 's["decks"][0]["cartridge"]["pid"]')
procs=$(family "$cpid")
echo "$procs" | grep -qx "$cart" || fail "cartridge $cart is not a child of conductor $cpid"
kill -9 "$cpid"
wait_for none_alive $procs || fail "still alive after kill -9 of the conductor: $(ps -o pid,stat,args -p "$(echo $procs | tr ' ' ,)")"
ok "kill -9 conductor $cpid: its cartridges ($(echo $procs | wc -w) processes in all) died too"
no_segs || fail "a killed conductor left shared memory behind: $(segs) $(names)"
[ -S "$sock" ] || fail "precondition: a killed conductor should leave its socket behind"
stale=$sock
up
[ "$(status_field 's["pid"]')" != "$cpid" ] || fail "status answered by the dead conductor?"
kanon play "$ROOT/examples/sine.c" >/dev/null || fail "play after reclaim"
kanon record start "$T/after.wav" >/dev/null || fail "record after reclaim"
recorded_wait 1.2
kanon record stop >/dev/null || fail "record stop"
f=$(wav "$T/after.wav" freq --skip 0.1)
near "$f" 440 0.5 || fail "after reclaim: frequency $f"
ok "nothing of the killed conductor's shared memory was left; the next up took over the socket ($stale), plays $f Hz"

# --- two instances at once
kanon --instance "$I2" up --backend dummy >"$T/up2.out" 2>&1 || fail "up $I2: $(cat "$T/up2.out")"
grep -qF "instance $I2" "$T/up2.out" || fail "up $I2 output: $(cat "$T/up2.out")"
KANON_INSTANCE=$I2 kanon play "$ROOT/examples/noise.c" --deck hiss >/dev/null || fail "play hiss on $I2"
s1=$(kanon status --json) || fail "status 1"
s2=$(kanon --instance "$I2" status --json) || fail "status $I2"
[ "$(KANON_INSTANCE=$I2 kanon status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')" = \
  "$(echo "$s2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')" ] ||
    fail "KANON_INSTANCE=$I2 and --instance $I2 reach different conductors"
python3 - "$s1" "$s2" "$KANON_INSTANCE" "$I2" <<'PY' || fail "two instances: $s1 /// $s2"
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert a["instance"] == sys.argv[3] and b["instance"] == sys.argv[4], (a["instance"], b["instance"])
assert a["pid"] != b["pid"] and a["socket"] != b["socket"], "same conductor"
assert [d["name"] for d in a["decks"]] == ["sine"], a["decks"]
assert [d["name"] for d in b["decks"]] == ["hiss"], b["decks"]
PY
[ $can_see_maps = 0 ] || { [ -n "$(segs "$I2")" ] && [ -n "$(segs)" ]; } || fail "segments: $(segs) / $(segs "$I2")"
ok "two conductors: $KANON_INSTANCE plays sine, $I2 plays hiss, separate pids, sockets, segments"
kanon record start "$T/a.wav" >/dev/null || fail "record A"
kanon --instance "$I2" record start "$T/b.wav" >/dev/null || fail "record B"
# each recording against its deck's render at the offset its own status
# gives (render_offset), not one found by a search
recorded_wait 1.5
kanon record stop --json >"$T/a.json" || fail "record stop A"
offa=$(render_offset sine "$T/a.json") || fail "offset A: $offa"
KANON_INSTANCE=$I2 recorded_wait 1.5
kanon --instance "$I2" record stop --json >"$T/b.json" || fail "record stop B"
offb=$(KANON_INSTANCE=$I2 render_offset hiss "$T/b.json") || fail "offset B: $offb"
secs=$(python3 -c "import json; print(max(json.load(open('$T/' + f))['seconds'] for f in ('a.json', 'b.json')))")
kanon render "$ROOT/examples/sine.c" --seconds "$(python3 -c "print(round(($offa + 48000) / 48000 + $secs + 1))")" -o "$T/sine.wav" 2>/dev/null || fail "render sine"
kanon render "$ROOT/examples/noise.c" --seconds "$(python3 -c "print(round(($offb + 48000) / 48000 + $secs + 1))")" -o "$T/noise.wav" 2>/dev/null || fail "render noise"
wavtool compare "$T/sine.wav" "$T/a.wav" --tol 0 --min-overlap 1 --offset "$offa" >"$T/ca.json" ||
    fail "instance A's recording is not sine.c alone at offset $offa: $(cat "$T/ca.json")"
wavtool compare "$T/noise.wav" "$T/b.wav" --tol 0 --min-overlap 1 --offset "$offb" >"$T/cb.json" ||
    fail "instance B's recording is not noise.c alone at offset $offb: $(cat "$T/cb.json")"
ok "each instance records only its own deck (bit-exact with its render at the offset its status gives: $offa, $offb frames)"
kanon --instance "$I2" down >/dev/null || fail "down $I2"
wait_for no_segs "$I2" || fail "segments of $I2 after its down: $(segs "$I2")"
[ $can_see_maps = 0 ] || [ -n "$(segs)" ] || fail "down of $I2 removed the other instance's segments"
[ "$(status_field '[d["name"] for d in s["decks"]]')" = "['sine']" ] || fail "instance A hurt by B's down"
ok "down of $I2 leaves $KANON_INSTANCE playing"
