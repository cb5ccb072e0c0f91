# OSC and other users (issue 10, item 6): UDP carries control only; file
# commands go through the owner-only sockets. The test creates a second unix
# user U (removed at exit) and, as U, with real packets (oscsend, osc.py):
#   - /kanon/play over UDP naming U's own file (whose setup() would write a
#     marker file) is refused: U gets /kanon/error naming the owner-only
#     socket, the conductor's log says who was refused, no deck appears and
#     the marker never does (the same file played by the owner writes it, so
#     the marker check can fail); wrong argument types are refused the same
#     way, without a word about the file;
#   - U cannot reach anything of the owner's: not the runtime directory (ls),
#     not the nng control socket (connect: permission denied, and `kanon
#     status` pointed at the owner's runtime directory fails), not the unix
#     OSC socket (oscsend and sendto fail, even with the runtime directory
#     opened to 0711: the socket itself is 0600), not the log, not the
#     history (state) directory nor the versions in it, not the shared-memory
#     segments (read or write); the owner's files are byte-for-byte the same
#     afterwards;
#   - U can still do what UDP is for: /kanon/DECK/gain and a parameter set
#     change the mix (status, and a recording: 440 Hz, 6 dB down).
# As the owner:
#   - the unix OSC socket is <runtime dir>/<instance>.osc, mode 0600, shown
#     as osc_unix in `kanon status --json`; /kanon/play over it starts a deck
#     that sounds (a recording at 660 Hz, the tone's level), and its errors
#     and /kanon/subscribe feedback come back over the unix socket;
#   - a non-finite value over UDP (f nan, d inf) is refused with "the value
#     is not finite", not "got 'f'", and changes nothing;
#   - `kanon down` removes the unix socket.
# Needs root (to create the user) and useradd/userdel/runuser: else skipped.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control/lib.sh"
[ "$(id -u)" = 0 ] || { echo "skip: creating a second unix user needs root"; exit 77; }
for c in useradd userdel runuser; do
    command -v "$c" >/dev/null || { echo "skip: $c is not installed"; exit 77; }
done

# R: a world-traversable parent, so that what keeps U out is kanon's own
# modes (runtime dir 0700, sockets 0600, history 0700), not a private $T.
R=$(mktemp -d /tmp/knosc-run.XXXXXX) && chmod 755 "$R"
D=$(mktemp -d /tmp/knosc-user.XXXXXX) # U's own directory
users_cleanup() {
    ctl_cleanup
    rm -rf "$R" "$D"
    drop_user
}
trap users_cleanup EXIT
new_user knosc
as_u() { runuser -u "$U" -- env PATH="$PATH" KANON_INSTANCE="$KANON_INSTANCE" "$@"; }
chown "$U" "$D"
chmod 755 "$D"

export XDG_RUNTIME_DIR=$R XDG_STATE_HOME=$R/state
P=$(free_port 0)
up --osc-port "$P"
pid=$(status_field 's["pid"]')
RUN=$R/kanon
S=$RUN/$KANON_INSTANCE.osc
[ "$(status_field 's["osc_unix"]')" = "$S" ] || fail "status osc_unix: $(status_field 's["osc_unix"]'), want $S"
[ -S "$S" ] || fail "$S is not a socket: $(ls -la "$RUN")"
[ "$(stat -c '%a %U' "$S")" = "600 root" ] || fail "$S: mode/owner $(stat -c '%a %U' "$S"), want 600 root"
[ "$(stat -c '%a' "$RUN")" = 700 ] || fail "$RUN: mode $(stat -c '%a' "$RUN"), want 700"
grep -q "osc      udp 127.0.0.1:$P (control only), unix $S (all commands)" "$T/up.out" ||
    fail "kanon up does not show the OSC sockets: $(cat "$T/up.out")"
ok "the unix OSC socket: $S, mode 600, in a 700 runtime directory; status and up show it"

# ------------------------------------------------------------ the owner, over the unix socket
oscsend "osc.unix://$S" /kanon/play ss "$CTL/tone.c" own || fail "oscsend to $S"
python3 "$CTL/wait.py" status '"own" in d and d["own"]["cartridge"]["state"] == "running"' >"$T/w.out" ||
    fail "/kanon/play over the unix socket: $(cat "$T/w.out")"
rec_start "$T/own.wav"
rec_wait 1
kanon record stop >/dev/null || fail "record stop"
f=$(wav "$T/own.wav" freq --skip 0.3)
r=$(wav "$T/own.wav" rms_dbfs --skip 0.3)
near "$f" 660 0.5 && near "$r" -16.99 0.1 || fail "the deck played over the unix socket: $f Hz at $r dBFS, want 660 Hz at -16.99 $(diag)"
ok "the owner's /kanon/play over the unix socket: deck 'own' plays $f Hz at $r dBFS"

python3 - "$CTL" "$S" >"$T/unix.txt" 2>&1 <<'PY' || fail "replies over the unix socket: $(cat "$T/unix.txt")"
import sys
sys.path.insert(0, sys.argv[1])
from osc import Client
c = Client(sys.argv[2])
got = c.call("/kanon/play", "s", "relative.c", timeout=5, until="/kanon/error")
assert got and got[-1][0] == "/kanon/error" and "absolute path" in got[-1][2][0], got
got = c.call("/kanon/subscribe", "i", 1, timeout=5, until="/kanon/feedback/own/freq")
assert any(m[0] == "/kanon/subscribed" for m in got), got
assert any(m[0] == "/kanon/feedback/own/freq" and abs(m[2][0] - 660) < 1e-3 for m in got), got
print("errors and feedback come back over the unix socket")
PY
ok "$(cat "$T/unix.txt")"

# ------------------------------------------------------------ NaN and Inf over UDP
python3 - "$CTL" "$P" >"$T/nan.txt" 2>&1 <<'PY' || fail "non-finite values: $(cat "$T/nan.txt")"
import sys
sys.path.insert(0, sys.argv[1])
from osc import Client
c = Client(sys.argv[2])
for addr, t, v in (("/kanon/own/freq", "f", float("nan")), ("/kanon/own/gain", "d", float("inf")),
                   ("/kanon/own/pan", "f", float("-inf"))):
    got = c.call(addr, t, v, timeout=5, until="/kanon/error")
    err = [m[2][0] for m in got if m[0] == "/kanon/error"]
    if not err or "not finite" not in err[0] or "got '" in err[0]:
        sys.exit("%s ,%s %r -> %s (want /kanon/error '...not finite...')" % (addr, t, v, got))
    print("%s ,%s %r -> %s" % (addr, t, v, err[0]))
PY
sed 's/^/    /' "$T/nan.txt"
oscsend 127.0.0.1 "$P" /kanon/own/freq f nan || fail "oscsend"
python3 "$CTL/osc.py" call "$P" /nope --expect /kanon/error --timeout 5 >/dev/null || fail "no reply after f nan"
near "$(kanon get own.freq --json | json_get 'j["value"]')" 660 0 ||
    fail "a NaN changed own.freq: $(kanon get own.freq --json)"
python3 "$CTL/wait.py" status 'd["own"]["mix"]["gain_db"] == 0 and d["own"]["mix"]["pan"] == 0' >"$T/w.out" ||
    fail "a non-finite value changed the mix: $(cat "$T/w.out")"
ok "non-finite values over UDP are refused as 'not finite' and change nothing"

# ------------------------------------------------------------ the other user: file commands
# U's own file, in U's own directory; its setup() leaves a marker if it ever runs.
{
    printf '#include <stdio.h>\n#define MARKER "%s"\n' "$D/pwned"
    sed 's|^void setup(kn_ctx \*k) {|&\n    FILE *f = fopen(MARKER, "w");\n    if (f) fclose(f);|' "$CTL/tone.c"
} >"$D/evil.c"
grep -q 'fopen(MARKER' "$D/evil.c" || fail "could not write the marker DSP"
chown "$U" "$D/evil.c"
# The control: played by the owner (a copy of it, marker in $T), it does write its marker.
sed "s|$D/pwned|$T/marker|" "$D/evil.c" >"$T/control.c"
kanon play "$T/control.c" --deck control --no-watch >"$T/control.out" 2>&1 || fail "play control: $(cat "$T/control.out")"
wait_for test -e "$T/marker" || fail "the marker DSP played by the owner wrote no marker: the check below would mean nothing"
kanon stop control >/dev/null || fail "stop control"
python3 "$CTL/wait.py" status '"control" not in d' >/dev/null || fail "deck control did not stop"
ok "control: the marker DSP, played by the owner, runs its setup() (marker written)"

snapshot() { # what the owner has: every file (not the log, which the conductor writes) and its bytes
    (cd "$R" && find . -path ./kanon/"$KANON_INSTANCE".log -prune -o -print0 | sort -z |
        xargs -0 stat -c '%n %F %a %U %s %Y' && find . -type f ! -name '*.log' -print0 | sort -z | xargs -0 sha256sum)
    find /dev/shm -name "kanon.0.$KANON_INSTANCE.*" -printf '%p %m %u %s\n' | sort
}
snapshot >"$T/before.txt"

log=$(status_field 's["log"]')
as_u oscsend 127.0.0.1 "$P" /kanon/play ss "$D/evil.c" evil || fail "oscsend as $U"
as_u python3 "$CTL/osc.py" call "$P" /kanon/play ss "$D/evil.c" evil2 --expect /kanon/error --timeout 5 >"$T/refused.txt" ||
    fail "$U's /kanon/play over UDP got no /kanon/error: $(cat "$T/refused.txt"); status: $(status_field 'sorted(d["name"] for d in s["decks"])')"
grep -q "file commands are accepted only over the owner-only OSC socket osc.unix://$S or from the kanon CLI, not over UDP" "$T/refused.txt" ||
    fail "$U's /kanon/play over UDP: $(cat "$T/refused.txt")"
as_u python3 "$CTL/osc.py" call "$P" /kanon/play i 3 --expect /kanon/error --timeout 5 >"$T/refused2.txt" ||
    fail "/kanon/play i 3 from $U: no /kanon/error"
grep -q "names a file: file commands are accepted only" "$T/refused2.txt" || fail "/kanon/play i 3 from $U: $(cat "$T/refused2.txt")"
# The replies above came after the conductor handled each play: a deck it
# accepted would exist by now.
[ "$(status_field 'sorted(d["name"] for d in s["decks"])')" = "['own']" ] ||
    fail "$U's /kanon/play over UDP started a deck: $(kanon status)"
grep -Eq "OSC: refused /kanon/play from 127\.0\.0\.1:[0-9]+ over UDP: file commands only over $S or the CLI" "$log" ||
    fail "the log does not report the refusal: $(tail -5 "$log")"
kanon log --json | grep -q evil && fail "the log of events mentions $U's deck: $(kanon log)"
ok "$U's /kanon/play over UDP is refused: $(sed 's/^\["\/kanon\/error", "s", \["//; s/"\]\]$//' "$T/refused.txt" | cut -c1-110)...; logged"

# ------------------------------------------------------------ the other user: the owner's sockets and files
as_u ls "$RUN" >"$T/ls.out" 2>&1 && fail "$U can list the runtime directory $RUN: $(cat "$T/ls.out")"
grep -q "Permission denied" "$T/ls.out" || fail "ls $RUN as $U: $(cat "$T/ls.out")"
sock=$(status_field 's["socket"]')
as_u python3 - "$sock" "$S" >"$T/connect.out" 2>&1 <<'PY' || fail "as $U: $(cat "$T/connect.out")"
import errno, socket, sys
ctl, osc = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(ctl)
    sys.exit("connected to the control socket " + ctl)
except PermissionError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
try:
    s.sendto(b"/kanon/play\0,s\0\0/tmp/x.c\0\0\0", osc)
    sys.exit("sent to the OSC socket " + osc)
except PermissionError:
    pass
print("control socket and OSC socket: permission denied")
PY
as_u kanon status >"$T/ustatus.out" 2>&1 && fail "kanon status as $U succeeded: $(cat "$T/ustatus.out")"
grep -q "conductor pid" "$T/ustatus.out" && fail "kanon status as $U: $(cat "$T/ustatus.out")"
as_u oscsend "osc.unix://$S" /kanon/play ss "$D/evil.c" evil3 >"$T/usend.out" 2>&1 &&
    fail "oscsend to $S as $U succeeded"
as_u cat "$log" >/dev/null 2>&1 && fail "$U can read the log $log"
ok "$U: ls $RUN, connect $sock, sendto/oscsend $S: permission denied; kanon status fails: $(head -1 "$T/ustatus.out")"

# The socket's own mode, with the directory opened (no kanon command runs
# meanwhile: the CLI would close it again).
chmod 711 "$RUN"
as_u oscsend "osc.unix://$S" /kanon/play ss "$D/evil.c" evil4 >"$T/usend2.out" 2>&1
rc=$?
chmod 700 "$RUN"
[ "$rc" != 0 ] || fail "with $RUN at 0711, $U could send to $S (mode $(stat -c %a "$S"))"
ok "with $RUN opened to 0711, $S (0600) still refuses $U: $(cat "$T/usend2.out")"

hist=$(status_field 's["history"]')
[ -d "$hist" ] || fail "no history directory $hist"
for d in "$XDG_STATE_HOME/kanon" "$XDG_STATE_HOME/kanon/history" "$hist"; do
    as_u ls "$d" >/dev/null 2>&1 && fail "$U can list $d ($(stat -c %a "$d"))"
done
v=$(find "$hist" -type f | head -1)
[ -n "$v" ] || fail "no versions in $hist"
as_u cat "$v" >/dev/null 2>&1 && fail "$U can read $v"
# Shared memory: sealed memfds with no name anywhere; the other user can
# reach them neither by a /dev/shm name nor through the conductor's /proc
# entries (it is not dumpable).
segs=$(ls /dev/shm | grep "^kanon\.0\.$KANON_INSTANCE\." | head -4)
[ -z "$segs" ] || fail "named segments of instance $KANON_INSTANCE in /dev/shm: $segs"
nfd=$(ls "/proc/$pid/fd" | wc -l)
[ "$nfd" -gt 3 ] || fail "cannot list the conductor's descriptors as root"
as_u ls "/proc/$pid/fd" >/dev/null 2>&1 && fail "$U can list the conductor's descriptors"
as_u sh -c "cat /proc/$pid/maps >/dev/null" 2>/dev/null && fail "$U can read the conductor's maps"
as_u sh -c ": <>/proc/$pid/mem" 2>/dev/null && fail "$U can open the conductor's memory"
segs="no named segments; /proc/$pid/fd, maps and mem closed"
ok "$U can read neither the history ($hist, $(stat -c %a "$hist")) nor the shared memory ($segs)"

python3 "$CTL/osc.py" call "$P" /nope --expect /kanon/error --timeout 5 >/dev/null || fail "the conductor does not answer OSC"
snapshot >"$T/after.txt"
diff "$T/before.txt" "$T/after.txt" >"$T/diff.txt" || fail "the owner's files changed while $U tried: $(cat "$T/diff.txt")"
[ -e "$D/pwned" ] && fail "$U's file ran: $D/pwned exists"
[ "$(status_field 's["pid"]')" = "$pid" ] || fail "the conductor changed pid"
ok "the owner's files and segments are unchanged ($(wc -l <"$T/before.txt") entries); $D/pwned never appeared"

# ------------------------------------------------------------ the other user: control over UDP
as_u oscsend 127.0.0.1 "$P" /kanon/own/gain f -6 || fail "oscsend as $U"
as_u oscsend 127.0.0.1 "$P" /kanon/own/freq f 440 || fail "oscsend as $U"
python3 "$CTL/wait.py" status 'd["own"]["mix"]["gain_db"] == -6' >"$T/w.out" || fail "/kanon/own/gain f -6 from $U: $(cat "$T/w.out")"
python3 "$CTL/wait.py" param own.freq 440 >"$T/w.out" || fail "/kanon/own/freq f 440 from $U: $(cat "$T/w.out")"
rec_start "$T/ctl.wav"
rec_wait 1
kanon record stop >/dev/null || fail "record stop"
f=$(wav "$T/ctl.wav" freq --skip 0.3)
r=$(wav "$T/ctl.wav" rms_dbfs --skip 0.3)
near "$f" 440 0.5 && near "$r" -22.99 0.1 || fail "after $U's UDP control: $f Hz at $r dBFS, want 440 Hz at -22.99 $(diag)"
ok "$U's UDP control works: /kanon/own/gain f -6 and /kanon/own/freq f 440 -> $f Hz at $r dBFS"

kanon down >/dev/null || fail "kanon down"
[ -e "$S" ] && fail "kanon down left $S behind"
ok "kanon down removes $S"

# ------------------------------------------------------------ --osc-trust-udp
# The owner's explicit opt-in: then UDP takes file commands too.
export KANON_INSTANCE=$KANON_INSTANCE-t
up --osc-port "$P" --osc-trust-udp
grep -q "osc      udp 127.0.0.1:$P (all commands: --osc-trust-udp)" "$T/up.out" || fail "kanon up --osc-trust-udp: $(cat "$T/up.out")"
[ "$(status_field 's["osc_trust_udp"]')" = True ] || fail "status osc_trust_udp: $(status_field 's["osc_trust_udp"]')"
oscsend 127.0.0.1 "$P" /kanon/play ss "$CTL/tone.c" trusted || fail "oscsend"
python3 "$CTL/wait.py" status '"trusted" in d and d["trusted"]["cartridge"]["state"] == "running"' >"$T/w.out" ||
    fail "/kanon/play over UDP with --osc-trust-udp: $(cat "$T/w.out")"
ok "with --osc-trust-udp, /kanon/play over UDP plays (status shows osc_trust_udp true)"
