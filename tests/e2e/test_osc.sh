# OSC, end to end, with liblo's oscsend/oscdump and a hand-built client
# (tests/e2e/control/osc.py, which sends from a bound port to read replies).
#   - the listener is bound to 127.0.0.1:PORT only (ss), as status says; an
#     explicit --osc-port that is taken makes `kanon up` fail with the reason;
#   - /kanon/subscribe i PORT -> /kanon/subscribed i PORT, then feedback for
#     every value (/kanon/feedback/sine/freq f ...); meters /kanon/meters/sine ff
#     (and master) keep arriving (10 more are waited for; their rate is
#     `make bench`'s figure, not a test's), at the recorded level; /kanon/unsubscribe stops them;
#   - /kanon/sine/freq f 330 retunes the recorded sine to 330 +- 0.5 Hz and
#     is echoed as feedback; so is a `kanon set` from the CLI;
#   - /kanon/sine/gain f -6, /kanon/sine/mute i 1 (and i 0) show in status and
#     feedback; /kanon/play s FILE s DECK and /kanon/play s FILE, sent to the
#     owner-only unix socket (osc_unix in status), start decks, /kanon/stop s
#     DECK over UDP stops one (status lists the decks);
#   - an unknown address, wrong argument types, a missing argument, an unknown
#     deck or parameter and out-of-range values each get /kanon/error s with a
#     reason (/kanon/play's over the unix socket; over UDP any /kanon/play is
#     refused as a file command), and the conductor keeps answering;
#   - garbage (random bytes, truncated messages, lying sizes, broken bundles)
#     does not crash it: same pid, status answers, OSC still works and the
#     audio still flows (a fresh recording at the set frequency and level);
#   - /kanon/unsubscribe stops meters and feedback;
#   - bundles: one timetagged "immediately" runs all its messages; one
#     timetagged 0.3 s ahead runs too, at its time (test_timeline_osc.sh
#     checks that time to the frame);
#   - subscribing again from the same address and port is acknowledged again
#     (/kanon/subscribed), as a controller that restarted would expect.
# The last two are checked after everything else and reported together.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control/lib.sh"
P=$(free_port 0)
D=$(free_port 7) # oscdump: the subscriber
up --osc-port "$P"
pid=$(status_field 's["pid"]')

# ------------------------------------------------------------ the listener
[ "$(status_field 's["osc_host"], s["osc_port"]')" = "127.0.0.1 $P" ] ||
    fail "status osc_host/osc_port: $(status_field 's["osc_host"], s["osc_port"]'), want 127.0.0.1 $P"
ss -Hulnp "sport = :$P" >"$T/ss.txt" 2>&1 || fail "ss: $(cat "$T/ss.txt")"
grep -q "127.0.0.1:$P " "$T/ss.txt" || fail "not bound to 127.0.0.1:$P: $(cat "$T/ss.txt")"
grep -Eq "(0\.0\.0\.0|\*|\[::\]):$P " "$T/ss.txt" && fail "bound to all addresses: $(cat "$T/ss.txt")"
[ "$(wc -l <"$T/ss.txt")" = 1 ] || fail "more than one socket on port $P: $(cat "$T/ss.txt")"
ok "OSC listens on 127.0.0.1:$P only"
S=$(status_field 's["osc_unix"]') # the owner-only socket: file commands
[ -S "$S" ] || fail "no unix OSC socket: osc_unix is '$S'"

H=$(free_port 13)
python3 "$CTL/osc.py" hold "$H" >"$T/hold.out" &
bg_pid $!
wait_for grep -q held "$T/hold.out" || fail "cannot hold port $H: $(cat "$T/hold.out")"
KANON_INSTANCE=$KANON_INSTANCE-b kanon up --backend dummy --osc-port "$H" >"$T/up2.out" 2>&1 && {
    KANON_INSTANCE=$KANON_INSTANCE-b kanon down >/dev/null 2>&1
    fail "kanon up --osc-port $H started although the port is taken: $(cat "$T/up2.out")"
}
grep -q "cannot listen for OSC on 127.0.0.1:$H" "$T/up2.out" || fail "up on a taken port: $(cat "$T/up2.out")"
ok "an explicit --osc-port that is taken: $(head -1 "$T/up2.out")"

# ------------------------------------------------------------ subscribe, feedback
kanon play "$ROOT/examples/sine.c" >"$T/play.out" 2>&1 || fail "play: $(cat "$T/play.out")"
dump_start "$D" "$T/dump.txt"
oscsend 127.0.0.1 "$P" /kanon/subscribe i "$D" || fail "oscsend"
dump_wait "$T/dump.txt" "^[0-9a-f.]+ /kanon/subscribed i $D\$" || fail "no /kanon/subscribed: $(head "$T/dump.txt")"
dump_wait "$T/dump.txt" "/kanon/feedback/sine/freq f 440.000000" || fail "no initial freq feedback: $(head "$T/dump.txt")"
ok "subscribed: /kanon/subscribed i $D, then the current values"

rec_start "$T/o.wav"
rec_wait 0.3
# analysis windows: recorded, at least 0.5 s after the change, no underrun in them
window() { python3 "$CTL/wait.py" window "$1" 0.5; }
b0=$(window 0) || fail "$b0"
oscsend 127.0.0.1 "$P" /kanon/sine/freq f 330 || fail "oscsend"
dump_wait "$T/dump.txt" "/kanon/feedback/sine/freq f 330.000000" || fail "no feedback for freq 330: $(grep -v meters "$T/dump.txt")"
python3 "$CTL/wait.py" param sine.freq 330 >"$T/w.out" || fail "$(cat "$T/w.out")"
a=$(window 0.5) || fail "$a"
a330=$a # analysed once the recording is stopped, below
ok "/kanon/sine/freq f 330: feedback f 330 arrived, the deck plays it (the recording is checked below)"
kanon set sine.freq 550 >/dev/null || fail "set"
dump_wait "$T/dump.txt" "/kanon/feedback/sine/freq f 550.000000" || fail "a CLI set is not echoed: $(grep -v meters "$T/dump.txt")"
ok "kanon set sine.freq 550 is echoed as /kanon/feedback/sine/freq f 550"

# meters keep coming: 10 more (the rate, ~30 a second, is make bench's figure)
n0=$(grep -c " /kanon/meters/sine ff " "$T/dump.txt") t0=$(date +%s%N)
meters_more() { [ "$(grep -c " /kanon/meters/sine ff " "$T/dump.txt")" -ge $((n0 + 10)) ]; }
wait_for meters_more || wait_for meters_more ||
    fail "only $(($(grep -c " /kanon/meters/sine ff " "$T/dump.txt") - n0)) /kanon/meters/sine messages in 20 s, want 10"
n1=$(grep -c " /kanon/meters/sine ff " "$T/dump.txt") ms=$((($(date +%s%N) - t0) / 1000000))
grep -q " /kanon/meters/master ff " "$T/dump.txt" || fail "no /kanon/meters/master"
last=$(grep " /kanon/meters/sine ff " "$T/dump.txt" | tail -1)
set -- $last
near "$4" -13.98 0.5 && near "$5" -16.99 0.5 || fail "meters message '$last', want peak -13.98, rms -16.99 dB"
ok "$((n1 - n0)) /kanon/meters/sine in $ms ms, e.g. '${last#* }'"

# ------------------------------------------------------------ mixer, play, stop
oscsend 127.0.0.1 "$P" /kanon/sine/gain f -6 || fail "oscsend"
python3 "$CTL/wait.py" status 'd["sine"]["mix"]["gain_db"] == -6' >"$T/w.out" || fail "/kanon/sine/gain f -6: $(cat "$T/w.out")"
dump_wait "$T/dump.txt" "/kanon/feedback/sine/gain f -6.000000" || fail "no gain feedback"
oscsend 127.0.0.1 "$P" /kanon/sine/mute i 1 || fail "oscsend"
python3 "$CTL/wait.py" status 'd["sine"]["mix"]["mute"] is True' >"$T/w.out" || fail "/kanon/sine/mute i 1: $(cat "$T/w.out")"
dump_wait "$T/dump.txt" "/kanon/feedback/sine/mute i 1" || fail "no mute feedback"
meter_wait 'd["sine"]["peak_db"] <= -119' || fail "muted over OSC, but the meters show $(kanon meters)"
oscsend 127.0.0.1 "$P" /kanon/sine/mute i 0 || fail "oscsend"
oscsend 127.0.0.1 "$P" /kanon/sine/gain f 0 || fail "oscsend"
python3 "$CTL/wait.py" status 'd["sine"]["mix"]["mute"] is False and d["sine"]["mix"]["gain_db"] == 0' >"$T/w.out" ||
    fail "/kanon/sine/mute i 0: $(cat "$T/w.out")"
ok "/kanon/sine/gain f -6 and /kanon/sine/mute i 1/0: status, meters and feedback follow"

oscsend "osc.unix://$S" /kanon/play ss "$CTL/tone.c" second || fail "oscsend"
python3 "$CTL/wait.py" status '"second" in d and d["second"]["cartridge"]["state"] == "running"' >"$T/w.out" ||
    fail "/kanon/play s FILE s second: $(cat "$T/w.out")"
oscsend "osc.unix://$S" /kanon/play s "$CTL/tone.c" || fail "oscsend"
python3 "$CTL/wait.py" status '"tone" in d and d["tone"]["cartridge"]["state"] == "running"' >"$T/w.out" ||
    fail "/kanon/play s FILE (deck named after the file): $(cat "$T/w.out")"
oscsend 127.0.0.1 "$P" /kanon/stop s second || fail "oscsend"
oscsend 127.0.0.1 "$P" /kanon/stop s tone || fail "oscsend"
python3 "$CTL/wait.py" status 'sorted(d) == ["sine"]' >"$T/w.out" || fail "/kanon/stop s DECK: $(cat "$T/w.out")"
ok "/kanon/play s FILE s DECK, /kanon/play s FILE (unix socket) and /kanon/stop s DECK (UDP) start and stop decks"

# ------------------------------------------------------------ errors
python3 - "$CTL" "$P" "$CTL/tone.c" "$S" >"$T/errors.txt" 2>&1 <<'PY' || fail "error replies: $(cat "$T/errors.txt")"
import sys
sys.path.insert(0, sys.argv[1])
from osc import Client
udp, unix = Client(sys.argv[2]), Client(sys.argv[4])
refused = "names a file: file commands are accepted only over the owner-only OSC socket"
cases = [  # (address, types, args, a word the error must contain[, over the unix socket])
    ("/nope", "f", [1], "unknown address"),
    ("/kanon", "", [], "unknown address"),
    ("/kanon/sine/freq/extra", "f", [1], "unknown address"),
    ("/kanon/sine/freq", "s", ["loud"], "one number"),
    ("/kanon/sine/freq", "", [], "one number"),
    ("/kanon/sine/freq", "ff", [1, 2], "one number"),
    ("/kanon/nodeck/freq", "f", [300], "no deck named 'nodeck'"),
    ("/kanon/sine/nosuch", "f", [1], "no parameter 'nosuch'"),
    ("/kanon/sine/gain", "f", [99], "gain_db"),
    ("/kanon/sine/pan", "f", [2], "pan"),
    ("/kanon/master/mute", "i", [1], "only a gain"),
    ("/kanon/play", "i", [3], refused),
    ("/kanon/play", "ss", [sys.argv[3], "udp"], refused),
    ("/kanon/play", "i", [3], "wrong argument types", 1),
    ("/kanon/play", "s", ["relative/tone.c"], "absolute path", 1),
    ("/kanon/play", "ss", [sys.argv[3], "bad deck name!"], "deck", 1),
    ("/kanon/stop", "", [], "wrong argument types"),
    ("/kanon/stop", "s", ["nodeck"], "nodeck"),
    ("/kanon/subscribe", "s", ["x"], "wrong argument types"),
    ("/kanon/subscribe", "i", [0], "port number"),
    ("/kanon/subscribe", "i", [70000], "port number"),
]
bad = []
for addr, types, args, word, *over_unix in cases:
    c = unix if over_unix else udp
    got = c.call(addr, types, *args, timeout=3, until="/kanon/error")
    err = [m for m in got if m[0] == "/kanon/error"]
    if not err or err[0][1] != "s" or word not in err[0][2][0]:
        bad.append("%s ,%s %s -> %s (want /kanon/error s '...%s...')" % (addr, types, args, got, word))
    else:
        print("%s ,%s%s -> %s" % (addr, types, " (unix)" if over_unix else "", err[0][2][0]))
if bad:
    print("\n".join(bad))
    sys.exit(1)
PY
sed 's/^/    /' "$T/errors.txt"
[ "$(status_field 's["pid"]')" = "$pid" ] || fail "the conductor changed pid"
python3 "$CTL/wait.py" status 'sorted(d) == ["sine"] and d["sine"]["mix"]["gain_db"] == 0 and not d["sine"]["mix"]["mute"]' >"$T/w.out" ||
    fail "a refused message changed something: $(cat "$T/w.out")"
ok "$(wc -l <"$T/errors.txt") bad messages each got /kanon/error s with the reason; nothing changed"

# ------------------------------------------------------------ garbage
python3 - "$CTL" "$P" >"$T/garbage.txt" 2>&1 <<'PY' || fail "garbage: $(cat "$T/garbage.txt")"
import random, struct, sys
sys.path.insert(0, sys.argv[1])
from osc import Client, encode
c = Client(sys.argv[2])
rnd = random.Random(1234)
good = encode("/kanon/sine/freq", "f", [500])
pkts = [b"", b"/", b"\0", b"/kanon", b"/kanon/sine/freq\0\0\0\0", b"/kanon/sine/freq\0\0\0\0,f\0\0",
        b"/kanon/sine/freq\0\0\0\0,f\0\0\0\0", b"/kanon/sine/freq\0\0\0\0,s\0\0abc", b",f\0\0\0\0\0\0",
        encode("/kanon/play", "s", ["/x"])[:-4], b"/kanon/sine/freq\0\0\0\0,b\0\0\x7f\xff\xff\xff",
        b"/kanon/sine/freq\0\0\0\0,b\0\0\xff\xff\xff\xf0abcd", b"/kanon/sine/freq\0\0\0\0,zzzz\0\0\0\x01\x02\x03\x04",
        b"#bundle\0" + b"\0" * 8, b"#bundle\0" + b"\0" * 8 + struct.pack(">i", 1000) + good,
        b"#bundle\0" + b"\0" * 8 + struct.pack(">i", -4) + good,
        b"#bundle\0" + b"\0" * 8 + struct.pack(">i", 3) + good,
        b"#bundle\0" + b"\0" * 8 + struct.pack(">i", len(good) + 20) + b"#bundle\0" + b"\0" * 8 + struct.pack(">i", 0x7fffffff),
        b"#bundle\0", b"#bund", b"\xff" * 64, b"/" * 4096, b"/kanon/" + b"a" * 60000]
for n in range(400):  # random bytes, and random corruptions of a good message
    if n % 2:
        pkts.append(bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 200))))
    else:
        b = bytearray(good)
        for _ in range(rnd.randint(1, 4)):
            b[rnd.randrange(len(b))] = rnd.getrandbits(8)
        pkts.append(bytes(b[:rnd.randint(1, len(b))]))
replies = 0
for p in pkts:
    c.send_raw(p)
    replies += len(c.replies(0.005))
replies += len(c.replies(1.0))
print("%d packets sent, %d replies" % (len(pkts), replies))
PY
[ "$(status_field 's["pid"]')" = "$pid" ] || fail "the conductor died on garbage"
ok "garbage: $(cat "$T/garbage.txt"); the conductor (pid $pid) still answers"
oscsend 127.0.0.1 "$P" /kanon/sine/freq f 440 || fail "oscsend"
python3 "$CTL/wait.py" param sine.freq 440 >"$T/w.out" || fail "OSC no longer works after the garbage: $(cat "$T/w.out")"
dump_wait "$T/dump.txt" "/kanon/feedback/sine/freq f 440.000000" || fail "no feedback after the garbage"
a=$(window 0.5) || fail "$a"
kanon record stop --json >"$T/stop.json" || fail "record stop"
f0=$(level "$T/o.wav" "$b0" "$(add "$b0" 0.5)" freq)
f1=$(level "$T/o.wav" "$a330" "$(add "$a330" 0.5)" freq)
near "$f0" 440 0.5 || fail "before /kanon/sine/freq: $f0 Hz"
near "$f1" 330 0.5 || fail "after /kanon/sine/freq f 330 the recording plays $f1 Hz, want 330"
ok "/kanon/sine/freq f 330: the recording goes $f0 -> $f1 Hz"
f=$(level "$T/o.wav" "$a" "$(add "$a" 0.5)" freq)
r=$(level "$T/o.wav" "$a" "$(add "$a" 0.5)" rms_dbfs)
near "$f" 440 0.5 && near "$r" -16.99 0.05 || fail "after the garbage the recording has $f Hz at $r dBFS, want 440 Hz at -16.99"
u=$(status_field 's["decks"][0]["underruns"]')
ok "after the garbage: OSC sets and echoes, the audio flows ($f Hz, $r dBFS), $u underruns"

# ------------------------------------------------------------ unsubscribe
oscsend 127.0.0.1 "$P" /kanon/unsubscribe i "$D" || fail "oscsend"
python3 "$CTL/osc.py" call "$P" /nope --expect /kanon/error --timeout 3 >/dev/null || fail "no reply after unsubscribe"
sleep 0.2 # anything already in flight lands
n0=$(grep -c " /kanon/meters/" "$T/dump.txt")
kanon set sine.freq 600 >/dev/null || fail "set"
sleep 0.5
n1=$(grep -c " /kanon/meters/" "$T/dump.txt")
[ "$n1" = "$n0" ] || fail "$((n1 - n0)) meter messages after /kanon/unsubscribe"
grep -q "/kanon/feedback/sine/freq f 600" "$T/dump.txt" && fail "feedback after /kanon/unsubscribe"
ok "/kanon/unsubscribe i $D: no more meters or feedback"

# ------------------------------------------------------------ bundles, re-subscribe
later=() # failures reported together at the end
python3 - "$CTL" "$P" >"$T/bundle.txt" 2>&1 <<'PY' || fail "bundle: $(cat "$T/bundle.txt")"
import struct, sys
sys.path.insert(0, sys.argv[1])
from osc import Client, encode
c = Client(sys.argv[2])
b = b"#bundle\0" + struct.pack(">Q", 1)  # timetag 1: immediately
for m in (encode("/kanon/sine/freq", "f", [480]), encode("/kanon/sine/pan", "f", [-0.5])):
    b += struct.pack(">i", len(m)) + m
c.send_raw(b)
print(c.replies(0.3))
PY
python3 "$CTL/wait.py" --timeout 5 status 'd["sine"]["mix"]["pan"] == -0.5' >"$T/w.out" ||
    fail "an immediate bundle's /kanon/sine/pan did not run: $(cat "$T/w.out" "$T/bundle.txt")"
python3 "$CTL/wait.py" --timeout 5 param sine.freq 480 >"$T/w.out" ||
    fail "an immediate bundle's /kanon/sine/freq did not run: $(cat "$T/w.out")"
ok "a bundle timetagged 'immediately' runs both its messages"
python3 - "$CTL" "$P" >"$T/bundle2.txt" 2>&1 <<'PY' || fail "bundle: $(cat "$T/bundle2.txt")"
import struct, sys, time
sys.path.insert(0, sys.argv[1])
from osc import Client, encode
c = Client(sys.argv[2])
t = time.time() + 2208988800 + 0.3  # NTP time, 0.3 s from now
m = encode("/kanon/sine/freq", "f", [520])
c.send_raw(b"#bundle\0" + struct.pack(">II", int(t), int(t % 1 * 2**32)) + struct.pack(">i", len(m)) + m)
print(c.replies(0.3))
PY
python3 "$CTL/wait.py" --timeout 5 param sine.freq 520 >"$T/w.out" &&
    ok "a bundle timetagged 0.3 s ahead runs" ||
    later+=("a bundle timetagged 0.3 s in the future never runs (5 s later sine.freq is $(kanon get sine.freq --json | json_get 'j["value"]'), no /kanon/error: $(cat "$T/bundle2.txt"))")

S2=$(free_port 21)
python3 - "$CTL" "$P" "$S2" >"$T/resub.txt" 2>&1 <<'PY' && ok "a second /kanon/subscribe from the same port is acknowledged again" ||
import socket, sys
sys.path.insert(0, sys.argv[1])
from osc import Client
c = Client(sys.argv[2])
c.sock.close()  # receive on a fixed port of our choosing: subscribe with it
c.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.sock.bind(("127.0.0.1", int(sys.argv[3])))
port = int(sys.argv[3])
for n in (1, 2):
    got = c.call("/kanon/subscribe", "i", port, timeout=3, until="/kanon/subscribed")
    if not any(m[0] == "/kanon/subscribed" for m in got):
        print("subscribe #%d from 127.0.0.1:%d got no /kanon/subscribed (got %d other messages)" % (n, port, len(got)))
        sys.exit(1)
c.call("/kanon/unsubscribe", "i", port, timeout=0.1)
PY
    later+=("$(cat "$T/resub.txt")")
[ "$(status_field 's["pid"]')" = "$pid" ] || fail "the conductor changed pid"
[ ${#later[@]} -eq 0 ] || fail "$(printf '%s; ' "${later[@]}")"
