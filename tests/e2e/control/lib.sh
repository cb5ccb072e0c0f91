# tests/e2e/control/lib.sh - helpers shared by the Control tests (params, mixer,
# meters, osc, surface). Source it after tests/e2e/lib.sh:
#   . "$(dirname "$0")/lib.sh"; . "$(dirname "$0")/control/lib.sh"
#
#   $CTL                    this directory (tone.c: a test DSP; osc.py: OSC client;
#                           wait.py: polling)
#   bg_pid PID              kill PID when the test ends (before `kanon down`)
#   free_port OFFSET        a free UDP port on 127.0.0.1, searched from
#                           20000 + ($$ % 20000) + OFFSET (unique per test process)
#   dump_start PORT FILE    `oscdump -L PORT > FILE` in the background (killed at exit)
#   dump_wait FILE REGEX    waits (up to 10 s) until a line of FILE matches REGEX
#   rec_start FILE          kanon record start FILE (noting where the device stood,
#                           for wait.py window)
#   rec_secs                seconds recorded so far (`recording.frames` of status):
#                           a lower bound for where a change made now lands in the file
#   rec_wait SECONDS        waits until the recording holds SECONDS (up to 20 s)
#   meter_wait PYEXPR       waits until PYEXPR holds for the parsed `kanon meters
#                           --json` (as m; decks by name in d)
#   wait.py                 the polling behind these, also usable directly (see it)
#   level FILE FROM TO FIELD [ARGS]   one wavtool stat field of the window [FROM, TO) s
#   json_get PYEXPR         PYEXPR on the JSON read from stdin (as j)
#   diag                    context for a failed audio check (underruns, events, load)
CTL=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export CTL_STATE=$T/ctl_state.json
CTL_PIDS=()
CTL_TMUX=""

bg_pid() { CTL_PIDS+=("$1"); }

ctl_cleanup() {
    local p
    for p in "${CTL_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    [ -n "$CTL_TMUX" ] && tmux -L "$CTL_TMUX" kill-server >/dev/null 2>&1
    # the harness's cleanup runs `kanon down` once; a binary being rebuilt at
    # that moment (exit 126) would leave the conductor running: retry first
    for _ in 1 2 3 4 5; do kanon down >/dev/null 2>&1 && break; sleep 1; done
    cleanup
}
trap ctl_cleanup EXIT

free_port() { python3 "$CTL/osc.py" free-port $((20000 + $$ % 20000 + ${1:-0})); }

dump_start() {
    oscdump -L "$1" >"$2" 2>&1 &
    bg_pid $!
    # oscdump prints nothing until a message arrives: wait until it is bound
    wait_for sh -c "ss -Huln 'sport = :$1' | grep -q ." || fail "oscdump did not bind port $1"
}

dump_wait() {
    local f=$1 re=$2
    for _ in $(seq 1 200); do grep -Eq -- "$re" "$f" 2>/dev/null && return 0; sleep 0.05; done
    return 1
}

rec_start() { python3 "$CTL/wait.py" record "$1" >"$T/rec_start.out" || fail "$(cat "$T/rec_start.out")"; }
rec_secs() { python3 "$CTL/wait.py" rec-secs; }
rec_wait() { python3 "$CTL/wait.py" rec "$1" >"$T/rec_wait.out" || fail "$(cat "$T/rec_wait.out")"; }
meter_wait() { python3 "$CTL/wait.py" meters "$1" >/dev/null; }

level() {
    local f=$1 a=$2 b=$3 k=$4
    shift 4
    wavtool stat "$f" --skip "$a" --length "$(add "$b" "-$a")" --field "$k" "$@"
}

# diag: one line of context for a failed audio check: each deck's cartridge,
# version and underruns, the device's underflows, the last events, the load
diag() {
    echo "[$(kanon status --json 2>/dev/null | python3 -c '
import json, sys
s = json.load(sys.stdin)
print("; ".join("deck %s: cartridge %s v%s, %d underruns" % (d["name"], d["cartridge"]["id"], d["version"], d["underruns"])
                for d in s["decks"]) + "; device underflows %d" % s["device_underflows"])' 2>&1);" \
        "log: $(kanon log 2>/dev/null | tail -n 4 | tr '\n' '|') load: $(cut -d' ' -f1-3 /proc/loadavg)]"
}

# Every failure of these tests says what the conductor was doing.
fail() {
    echo "FAIL: $*"
    echo "  context: $(diag)"
    exit 1
}

json_get() { python3 -c "import json, sys; j = json.load(sys.stdin); print($1)"; }

# a + b (floating point), for window arithmetic in the shell; an empty or
# non-numeric operand (a failed lookup) fails rather than counting as 0
add() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        n = "^[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?$"
        if (a !~ n || b !~ n) { print "add: not a number: \"" a "\" + \"" b "\"" > "/dev/stderr"; exit 1 }
        printf "%.4f\n", a + b }'
}
