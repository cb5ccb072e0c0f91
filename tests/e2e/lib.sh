# tests/e2e/lib.sh - shared harness for end-to-end tests (sourced by each test).
#
# Every test runs against real processes: its own conductor instance on the
# libsoundio dummy backend (or JACK where a test says so), real cartridges,
# real nng sockets. Each test gets:
#   $ROOT   repository root          $T     a private temp dir (removed after)
#   $TOOLS  build/tools (wavtool, kn_jack_rec)
#   KANON_INSTANCE  unique per test, so tests never share a conductor
#   XDG_STATE_HOME  inside $T, so history never lands in $HOME
# and these helpers:
#   fail MSG          print "FAIL: MSG" and exit 1
#   ok MSG            print "  ok: MSG"
#   up [ARGS]         kanon up --backend dummy ARGS (fails the test if it can't)
#   wav FILE FIELD [ARGS]   one field of `wavtool stat` (e.g. freq, rms_dbfs)
#   near A B TOL      succeeds if |A-B| <= TOL (floating point)
#   wait_for CMD...   retries CMD for up to 10 s
#   status_field EXPR python expression on the parsed `kanon status --json` (as s)
#   expect RC CMD...  runs CMD, stdout to $T/out, stderr to $T/err; fails unless it exits RC
#   says TEXT         stdout+stderr of the last `expect` contain TEXT (fixed string)
#   lacks TEXT        ... and do not contain TEXT
#   render_offset DECK STOP_JSON  a recording's offset against the deck's render
#   machine_excuse DECK UNDERFLOWS0  whether the machine's timing explains a failed try
#   played_wait N [DECK]    waits until DECK (default: the first) played N more frames
#   recorded_wait SECS      waits until the recording holds SECS
#   machine_mark      remembers the counters underruns_ok judges from (default: `up`)
#   underruns_ok [DECK...]  0 underruns since the mark, or underruns the machine
#                     explains (the audio thread was late, or the cartridge waited
#                     for a CPU): prints which, and fails only on kanon's own
#                     (machine.py says how it judges); sets DISTURBED to the
#                     explanation when the machine caused some (else empty), so
#                     a test can take its recording again
#   machine_explains [DECK...]  after a failed try (since machine_mark): succeeds,
#                     printing how, only if the machine's timing disturbed it (the
#                     audio thread was late, or DECKs underran and underruns_ok
#                     would put that down to the machine); else prints what it
#                     saw and fails: the failure is kanon's
#   try_failed TRY TRIES WHY [DECK...]  for a check taken again when the machine
#                     disturbed it (machine_mark at the start of each try; DECKs
#                     still playing): prints try TRY's failure WHY and the
#                     machine's part; fails the test unless machine_explains (a
#                     bug that shows once in three tries must fail); after the
#                     last of TRIES, every one disturbed, skips (77), never passes
#   try_judged TRY TRIES WHY RC VERDICT  the same with machine_explains's exit
#                     status and output taken earlier (at the end of the take,
#                     so that what the machine did later excuses nothing)
#   heard_wait FRAME  waits until the recording holds timeline frame FRAME
# Waits are bounded (30 s) only to catch a hang: never a timing floor.
# Exit status of a test: 0 pass, 1 fail, 77 skip.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TOOLS=$ROOT/build/tools
export PATH="$ROOT/build/bin:$TOOLS:$PATH"
T=$(mktemp -d /tmp/kanon-e2e.XXXXXX)
export KANON_INSTANCE="t$$-$(basename "$0" .sh | tr -c 'A-Za-z0-9_\n-' _ | cut -c1-20)"
export XDG_STATE_HOME=$T/state
unset XDG_RUNTIME_DIR

cleanup() {
    kanon down >/dev/null 2>&1
    rm -rf "$T"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "  ok: $*"; }
up() { kanon up --backend dummy "$@" >"$T/up.out" 2>&1 || { cat "$T/up.out"; fail "kanon up $*"; }; }
wav() { local f=$1 k=$2; shift 2; wavtool stat "$f" --field "$k" "$@"; }
near() { python3 -c "import sys; sys.exit(0 if abs(float('$1')-float('$2')) <= float('$3') else 1)"; }
wait_for() {
    for _ in $(seq 1 200); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done
    return 1
}
expect() {
    local want=$1
    shift
    "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    [ "$rc" = "$want" ] || fail "\`$*\` exited $rc, want $want; stdout: $(cat "$T/out"); stderr: $(cat "$T/err")"
}
says() { cat "$T/out" "$T/err" | grep -qF -- "$1" || fail "message lacks '$1': $(cat "$T/out" "$T/err")"; }
lacks() { cat "$T/out" "$T/err" | grep -qF -- "$1" && fail "message has '$1': $(cat "$T/out" "$T/err")"; return 0; }
# (the start is read before python starts: its start-up, ~0.2 s on a busy
# machine, is then not added to the wait)
played_wait() {
    kanon status --json >"$T/played.json" 2>/dev/null
    python3 "$ROOT/tests/e2e/machine.py" frames "$1" "${2:-}" 30 "$T/played.json" >"$T/played.out" ||
        fail "$(cat "$T/played.out")"
}
recorded_wait() { python3 "$ROOT/tests/e2e/machine.py" recorded "$1" >"$T/recorded.out" || fail "$(cat "$T/recorded.out")"; }
heard_wait() { python3 "$ROOT/tests/e2e/machine.py" heard "$1" >"$T/heard.out" || fail "$(cat "$T/heard.out")"; }
# machine_mark: what machine.py mark saves, without starting python
machine_mark() {
    kanon status --json >"$T/machine.mark.status" || fail "machine_mark: kanon status"
    {
        head -1 /proc/stat
        for p in $(grep -o '"pid": *[0-9]*' "$T/machine.mark.status" | grep -o '[0-9]*$'); do
            echo "pid $p $(cat /proc/"$p"/task/*/schedstat 2>/dev/null | awk '{ s += $2 } END { printf "%d", s }')"
        done
    } >"$T/machine.mark.proc"
}
underruns_ok() {
    local since=() r
    [ -f "$T/machine.mark.status" ] && since=(--since "$T/machine.mark")
    r=$(python3 "$ROOT/tests/e2e/machine.py" judge "${since[@]}" "$@")
    local rc=$?
    echo "  $([ $rc = 0 ] && echo ok || echo underruns): $r"
    DISTURBED=""
    [ $rc = 0 ] && [[ "$r" == *"put down to the machine"* ]] && DISTURBED=$r
    return $rc
}
machine_explains() {
    local since=()
    [ -f "$T/machine.mark.status" ] && since=(--since "$T/machine.mark")
    python3 "$ROOT/tests/e2e/machine.py" excuse "${since[@]}" "$@"
}
try_failed() {
    local m rc
    m=$(machine_explains "${@:4}")
    rc=$?
    try_judged "$1" "$2" "$3" "$rc" "$m"
}
try_judged() {
    local try=$1 tries=$2 why=$3
    [ "$4" = 0 ] || fail "try $try of $tries: $why; $5: a failure the machine does not explain is not retried"
    echo "  note: try $try of $tries failed: $why; $5"
    [ "$try" -lt "$tries" ] || { echo "SKIP: every one of $tries tries was disturbed by the machine"; exit 77; }
    return 0
}
status_field() {
    kanon status --json | python3 -c "import json,sys; s=json.load(sys.stdin); print($1)"
}
# render_offset DECK STOP_JSON: where `kanon render` of the deck's file lines
# up in a recording, for `wavtool compare RENDER REC --offset`: the
# recording's first frame is timeline frame `timeline_frame` (STOP_JSON: the
# output of `record stop --json`) and the deck's frame n plays at timeline
# frame epoch + n (status; epoch = start_frame unless the deck slipped), so
# recording frame i is render frame i + timeline_frame - epoch. Known, not
# searched for: a render one frame late must fail. Needs the conductor.
render_offset() {
    kanon status --json | python3 -c '
import json, sys
s, r = json.load(sys.stdin), json.load(open(sys.argv[2]))
d = [d for d in s["decks"] if d["name"] == sys.argv[1]]
if not d or d[0].get("epoch") is None or r.get("timeline_frame", -1) < 0:
    sys.exit("render_offset: no epoch for deck %s or no timeline_frame" % sys.argv[1])
print(int(r["timeline_frame"]) - int(d[0]["epoch"]))' "$1" "$2"
}
# machine_excuse DECK UNDERFLOWS0: for a retry. Succeeds, printing what
# happened, if the conductor saw the machine's timing disturb DECK (its
# underruns, late_frames or slips, or device underflows above UNDERFLOWS0,
# the count before the try); fails otherwise: a try that failed without
# any of these failed for kanon's reasons and must not be retried away.
machine_excuse() {
    kanon status --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
d = [d for d in s["decks"] if d["name"] == sys.argv[1]]
why = ["device underflows %d -> %d" % (int(sys.argv[2]), s["device_underflows"])] \
    if s["device_underflows"] > int(sys.argv[2]) else []
if d:
    why += ["%s %d" % (k, d[0][k]) for k in ("underruns", "late_frames", "slips") if d[0].get(k)]
print("; ".join(why) or "no underrun, late frame, slip or device underflow")
sys.exit(0 if why else 1)' "$1" "$2"
}
# JACK keeps a server registry in /dev/shm; a jackd that was killed leaves
# its entry behind, and after a few JACK refuses new servers ("Too many
# servers already active"). With no jackd running, all of it is stale.
jack_clean_stale() {
    pgrep -x jackd >/dev/null 2>&1 && return 0
    rm -rf /dev/shm/jack-shm-registry /dev/shm/jack-[0-9]* /dev/shm/jack_* 2>/dev/null
    return 0
}
# A private jackd (dummy driver, 48000 Hz, PERIOD frames; default 64), its
# own server name so parallel runs and other JACK users never meet; realtime
# mode (-R): with --no-realtime the 1.3 ms cycles end in xruns nearly every
# second on a busy 2-core box. Sets JPID; the caller's EXIT trap calls
# stop_jackd (after `kanon down`: kanon is a JACK client). Exits 77 (skip)
# without jackd.
start_jackd() {
    command -v jackd >/dev/null || { echo "jackd not installed"; exit 77; }
    command -v jack_lsp >/dev/null || { echo "jack_lsp not installed"; exit 77; }
    export JACK_DEFAULT_SERVER="kn-e2e-$$" JACK_NO_AUDIO_RESERVATION=1
    jack_clean_stale
    jackd -R -n "$JACK_DEFAULT_SERVER" -d dummy -r 48000 -p "${1:-64}" >"$T/jackd.log" 2>&1 &
    JPID=$!
    wait_for jack_lsp || fail "jackd did not start: $(cat "$T/jackd.log")"
}
stop_jackd() {
    kill "$JPID" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$JPID" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$JPID" 2>/dev/null
    wait "$JPID" 2>/dev/null
}

# same_audio A B: identical "fmt " chunks and bit-identical, non-empty
# "data" chunks (other chunks, such as PEAK with its time stamp, may differ).
same_audio() {
    python3 - "$1" "$2" <<'PY'
import struct, sys
def chunks(path):
    d = open(path, "rb").read()
    if d[:4] != b"RIFF" or d[8:12] != b"WAVE":
        sys.exit(1)
    out, i = {}, 12
    while i + 8 <= len(d):
        cid, size = d[i:i + 4], struct.unpack("<I", d[i + 4:i + 8])[0]
        out[cid] = d[i + 8:i + 8 + size]
        i += 8 + size + (size & 1)
    return out
a, b = chunks(sys.argv[1]), chunks(sys.argv[2])
sys.exit(0 if a[b"fmt "] == b[b"fmt "] and len(a[b"data"]) > 0 and a[b"data"] == b[b"data"] else 1)
PY
}

# new_user PREFIX: a unix user PREFIX<pid> in $U (useradd and userdel retry
# while another test holds /etc/passwd); drop_user removes it again. Needs
# root: callers check and skip first.
new_user() {
    U=$(printf '%s%s' "$1" "$$" | cut -c1-31)
    made_user=0
    for _ in $(seq 1 50); do
        useradd -M -s /usr/sbin/nologin "$U" >"$T/useradd.out" 2>&1 && { made_user=1; return 0; }
        id "$U" >/dev/null 2>&1 && fail "user $U exists already"
        sleep 0.2
    done
    fail "useradd $U: $(cat "$T/useradd.out")"
}
drop_user() {
    [ "${made_user:-0}" = 1 ] || return 0
    for _ in $(seq 1 50); do userdel "$U" >/dev/null 2>&1 && break; sleep 0.2; done
    id "$U" >/dev/null 2>&1 && echo "WARNING: could not remove user $U"
    made_user=0
}
