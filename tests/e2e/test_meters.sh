# Meters, end to end: what `kanon meters` (and `kanon status`) report agrees
# with the levels computed from a recording of the same audio.
#   - steady sine.c: five `kanon meters --json` readings, each within 0.5 dB of
#     the recording's peak and RMS (deck and master: one deck at unity, so both
#     equal the recorded master); `kanon status --json` agrees the same way;
#   - after `kanon gain sine -6` and `kanon gain master -3`: the master meter
#     matches the recording, and the deck meter (after the deck's gain, before
#     the master's) matches the recording + 3 dB, both within 0.5 dB;
#   - `kanon meters` (table) names the deck; the JSON of meters and status parses;
#   - `kanon meters --watch` redraws about 20 times a second (10..50 frames
#     counted in 2 s);
#   - `kanon meters --watch` in a terminal (tmux) draws bars (`#`) for the deck,
#     with its peak/RMS figures, and the master; Ctrl-C (SIGINT through the
#     terminal) ends it with exit status 0 and the alternate screen is left.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control/lib.sh"
command -v tmux >/dev/null || { echo "tmux is not installed"; exit 77; }
up --osc-port "$(free_port)"
kanon play "$ROOT/examples/sine.c" >"$T/play.out" 2>&1 || fail "play: $(cat "$T/play.out")"
rec_start "$T/m.wav"
rec_wait 0.8

# sample TAG: five meter and status readings while the recording runs, and
# the stretch of the recording they were taken from (in $T/TAG.win).
# (A stretch during which a deck's ring ran dry or its cartridge was replaced
# is sampled again: the gap would make readings and recording differ.)
# producers: every deck's underrun count and cartridge id
producers() { status_field '[(d["name"], d["underruns"], d["cartridge"]["id"]) for d in s["decks"]]'; }
sample() {
    local tag=$1 a b u try
    for try in 1 2 3; do
        u=$(producers)
        # from a on: everything mixed before this sampling (the change included) is past
        a=$(python3 "$CTL/wait.py" window 0.15 0.05) || fail "$a"
        for i in 1 2 3 4 5; do
            kanon meters --json >"$T/$tag.m$i.json" || fail "meters --json"
            kanon status --json >"$T/$tag.s$i.json" || fail "status --json"
            sleep 0.1
        done
        # up to b: everything the readings were taken from
        b=$(python3 "$CTL/wait.py" window 0.15 0.05) || fail "$b"
        [ "$u" = "$(producers)" ] && break
        [ $try = 3 ] && fail "a ring ran dry or a cartridge was replaced during every try: $u -> $(producers)"
    done
    echo "$a $b" >"$T/$tag.win"
}
# check TAG DECK_OFFSET_DB: every reading of TAG agrees with the recording's
# peak and RMS over its stretch within 0.5 dB (the deck's reading minus
# DECK_OFFSET_DB: the deck is metered before the master gain).
check() {
    local tag=$1 off=$2 a b pk rms
    read -r a b <"$T/$tag.win"
    pk=$(level "$T/m.wav" "$a" "$b" peak_dbfs)
    rms=$(level "$T/m.wav" "$a" "$b" rms_dbfs)
    python3 - "$T" "$tag" "$pk" "$rms" "$off" <<'PY'
import json, sys
T, tag, pk, rms, off = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
worst = 0
for i in range(1, 6):
    m = json.load(open("%s/%s.m%d.json" % (T, tag, i)))
    s = json.load(open("%s/%s.s%d.json" % (T, tag, i)))
    sd = {d["name"]: d for d in s["decks"]}
    md = {d["name"]: d for d in m["decks"]}
    got = [("meters master", m["master"], 0), ("meters sine", md["sine"], off),
           ("status master", s["master"], 0), ("status sine", sd["sine"], off)]
    for what, x, o in got:
        for key, want in (("peak_db", pk), ("rms_db", rms)):
            err = abs(x[key] - o - want)
            worst = max(worst, err)
            if err > 0.5:
                print("%s: reading %d: %s %.3f dB, the recording says %.3f%s" % (
                    tag, i, what + " " + key, x[key], want, " (+%g dB)" % o if o else ""))
                sys.exit(1)
print("recording peak %.3f rms %.3f dBFS; 20 readings within %.3f dB" % (pk, rms, worst))
PY
}

sample steady
kanon meters >"$T/table.txt" || fail "kanon meters"
grep -Eq '^sine +-14\.0 +-17\.0' "$T/table.txt" || fail "kanon meters table: $(cat "$T/table.txt")"
grep -Eq '^master +-14\.0 +-17\.0' "$T/table.txt" || fail "kanon meters table: $(cat "$T/table.txt")"
ok "kanon meters prints the deck and the master"

kanon gain sine -6 >/dev/null || fail "gain sine -6"
kanon gain master -3 >/dev/null || fail "gain master -3"
meter_wait 'd["sine"]["rms_db"] < -21 and m["master"]["rms_db"] < -24' ||
    fail "the meters never showed the gain change: $(kanon meters)"
sample gain
kanon record stop >/dev/null || fail "record stop"
out=$(check steady 0) || fail "$out"
ok "steady sine: $out"
out=$(check gain 3) || fail "$out"
ok "after gain sine -6, master -3: $out (deck readings less 3 dB)"

# --watch, in a real terminal
CTL_TMUX=kanon-meters-$$
tmux -L "$CTL_TMUX" new-session -d -x 120 -y 20 \
    "kanon meters --watch 2>$T/watch.err; echo exit=\$? >$T/watch.rc; sleep 60" ||
    fail "cannot start tmux"
screen() { tmux -L "$CTL_TMUX" capture-pane -p >"$T/screen.txt"; }
wait_for sh -c "tmux -L '$CTL_TMUX' capture-pane -p | grep -Eq '^master +\[#+'" ||
    fail "meters --watch drew no master bar: $(tmux -L "$CTL_TMUX" capture-pane -p)"
screen
grep -Eq '^sine +\[#+=*\|? *\] +-20\.0 +-23\.0 ' "$T/screen.txt" ||
    fail "meters --watch: no bar for deck sine with -20.0/-23.0 dBFS: $(cat "$T/screen.txt")"
grep -Eq '^master +\[#+=*\|? *\] +-23\.0 +-26\.0 ' "$T/screen.txt" ||
    fail "meters --watch: no master bar at -23.0/-26.0 dBFS: $(cat "$T/screen.txt")"
ok "meters --watch draws bars: $(grep '^sine' "$T/screen.txt" | tr -s ' ')"
[ -e "$T/watch.rc" ] && fail "meters --watch ended by itself: $(cat "$T/watch.rc" "$T/watch.err")"
tmux -L "$CTL_TMUX" send-keys C-c
wait_for test -s "$T/watch.rc" || fail "meters --watch did not quit on Ctrl-C"
[ "$(cat "$T/watch.rc")" = exit=0 ] || fail "meters --watch after Ctrl-C: $(cat "$T/watch.rc"): $(cat "$T/watch.err")"
screen
grep -q '\[#' "$T/screen.txt" && fail "meters --watch left its bars on the screen: $(cat "$T/screen.txt")"

# the redraw rate: "about 20 a second" -- each frame starts with cursor-home.
# The bounds are wide (a loaded machine draws late, never early): 2 s must
# hold at least 10 frames (not a 1 Hz poll) and at most 50 (not a busy loop).
timeout -s INT 2 kanon meters --watch >"$T/frames.bin" 2>&1
frames=$(python3 -c "import sys; print(open(sys.argv[1], 'rb').read().count(b'\x1b[H'))" "$T/frames.bin")
[ "$frames" -ge 10 ] && [ "$frames" -le 50 ] || fail "meters --watch drew $frames frames in 2 s, want about 40"
ok "meters --watch redraws $frames times in 2 s"
ok "Ctrl-C ends meters --watch with exit status 0 and restores the screen"
