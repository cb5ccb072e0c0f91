# Without the right to real-time scheduling, kanon plays at normal
# priority and says so; it never fails for want of it.
#   A second unix user (RLIMIT_RTPRIO 0, as for a desktop user without an
#   audio group) runs `kanon up` and plays examples/sine.c: the deck plays
#   (status: running, a level, no underrun needed to pass); status says
#   "audio_rt": granted false, via "none", cartridge_via "none"; the log
#   says the audio thread runs at normal priority and why, including what
#   rtkit answered (here there is no system D-Bus, so rtkit cannot be
#   reached: that path is tried and reported, not exercised further).
# Needs root (to create the user) and useradd/userdel/runuser: else skipped.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "skip: creating a second unix user needs root"; exit 77; }
for c in useradd userdel runuser prlimit; do
    command -v "$c" >/dev/null || { echo "skip: $c is not installed"; exit 77; }
done
R=$(mktemp -d /tmp/knrt-run.XXXXXX) && chmod 755 "$R"
rt_cleanup() {
    [ -n "${U:-}" ] && runuser -u "$U" -- env PATH="$PATH" XDG_RUNTIME_DIR="$R/u" \
        KANON_INSTANCE="$KANON_INSTANCE" kanon down >/dev/null 2>&1
    drop_user
    rm -rf "$R" "$T"
}
trap rt_cleanup EXIT
new_user knrt
mkdir -p "$R/u" "$R/state" && chown "$U" "$R/u" "$R/state" && chmod 700 "$R/u"
cp "$ROOT/examples/sine.c" "$R/sine.c" && chmod 644 "$R/sine.c"
as_u() {
    runuser -u "$U" -- prlimit --rtprio=0:0 env PATH="$PATH" XDG_RUNTIME_DIR="$R/u" \
        XDG_STATE_HOME="$R/state" KANON_INSTANCE="$KANON_INSTANCE" "$@"
}
as_u kanon up --backend dummy >"$T/up.out" 2>&1 || fail "kanon up as $U: $(cat "$T/up.out")"
as_u kanon play "$R/sine.c" >"$T/play.out" 2>&1 || fail "play as $U: $(cat "$T/play.out")"
sleep 1
as_u kanon status --json >"$T/s.json" || fail "status as $U"
python3 - "$T/s.json" <<'PY' || fail "status: $(cat "$T/s.json")"
import json, sys
s = json.load(open(sys.argv[1]))
rt = s["audio_rt"]
assert rt["granted"] is False and rt["via"] == "none" and rt["cartridge_via"] == "none", rt
d = s["decks"][0]
assert d["cartridge"]["state"] == "running", d
assert d["peak_db"] > -20, ("the sine is not heard", d["peak_db"])
print("  ok: no real-time rights: audio_rt %s; the sine plays at %.1f dBFS" % (rt, d["peak_db"]))
PY
log=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["log"])' "$T/s.json")
grep -q "audio thread: normal priority" "$log" || fail "the log does not say normal priority: $(cat "$log")"
grep -q "rtkit\|D-Bus" "$log" || fail "the log does not say what rtkit answered: $(cat "$log")"
ok "without real-time rights kanon plays at normal priority and says why ($(grep -o 'audio thread: [^;]*D-Bus[^)]*)\|audio thread: rtkit[^\n]*' "$log" | head -1))"
