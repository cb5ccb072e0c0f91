# --json everywhere, the offline commands' JSON, shell completion and where
# the OSC listener binds:
#   - `kanon check --json` and `kanon render --json` print one object with
#     the facts of their text line; a compile error gives exit 1 and the
#     diagnostic split into file, line and message (the line is the user's);
#   - up, play, revert, gain, mute, unmute, solo, unsolo, pan, map load,
#     stop and down each print one JSON object that says what they did
#     (checked field by field, not just parsed);
#   - scripts/kanon-completion.bash registers `complete -F _kanon kanon`,
#     completes `kanon pl` to play and `kanon stop ` to the running decks;
#   - OSC feedback follows a `kanon set --ramp` glide (values in between,
#     not just the end; their rate is `make bench`'s figure); a playing deck's DSP load is above 0 %;
#   - `kanon up --json` with --backend auto names every backend it tried,
#     in order, each with the reason it was refused, up to the one it took;
#   - the OSC listener is on 127.0.0.1 by default (ss), and on the address
#     `--osc-host` names.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control/lib.sh"
trap 'kanon --instance "$KANON_INSTANCE-w" down >/dev/null 2>&1; kanon --instance "$KANON_INSTANCE-a" down >/dev/null 2>&1; ctl_cleanup' EXIT
# py EXPR < JSON: exits 1 (and says so) unless EXPR holds for the object j
py() { python3 -c "import json,os,sys; j=json.load(sys.stdin); E=os.environ; sys.exit(0 if ($1) else 1)"; }
expect() { # expect 'EXPR' CMD...: CMD prints one JSON object for which EXPR holds
    local e=$1 out
    shift
    out=$("$@") || fail "$* exited $?: $out"
    echo "$out" | py "$e" || fail "$*: $out does not satisfy $e"
}

# --- offline: check and render
printf '#include <kanon.h>\nvoid process(kn_ctx *k, float **out, int n) {\n    int x = y;\n}\n' >"$T/bad.c"
out=$(cd "$T" && kanon check bad.c --json)
[ $? -eq 1 ] || fail "check --json of a broken file should exit 1"
echo "$out" | py 'not j["ok"] and j["diagnostics"][0]["file"]=="bad.c" and j["diagnostics"][0]["line"]==3
    and j["diagnostics"][0]["kind"]=="error" and "y" in j["diagnostics"][0]["message"]' ||
    fail "check --json of bad.c: $out"
expect 'j["ok"] and j["setup"] and 0 < j["compile_ms"] < 1000' kanon check "$ROOT/examples/sine.c" --json
expect 'j["ok"] and not j["setup"]' kanon check --json "$ROOT/examples/hello.c"
expect 'j["ok"] and j["frames"]==22050 and j["rate"]==44100 and j["channels"]==1 and j["nonfinite"]==0
    and j["realtime_x"] > 1 and j["output"].endswith("/s.wav")' \
    kanon render "$ROOT/examples/sine.c" --seconds 0.5 --rate 44100 --channels 1 -o "$T/s.wav" --json
[ "$(wav "$T/s.wav" frames)" = 22050 ] || fail "render --json: the file does not hold 22050 frames"
out=$(kanon render "$T/bad.c" --json -o "$T/x.wav")
[ $? -eq 1 ] && echo "$out" | py 'not j["ok"] and j["diagnostics"][0]["line"]==3' ||
    fail "render --json of a broken file: $out"
ok "check and render --json"

# --- the live commands
export P=$(free_port 0)
expect 'j["ok"] and j["backend"]=="dummy" and j["rate"]==48000 and j["osc"]=="127.0.0.1:"+E["P"]' \
    kanon up --backend dummy --osc-port "$P" --json
# --tier tcc (the deck keeps it): no tier swap takes a cartridge id between these
expect 'j["deck"]=="sine" and j["id"]==1' kanon play "$ROOT/examples/sine.c" --tier tcc --json
expect 'j["deck"]=="sine" and j["id"]==2' kanon play "$ROOT/examples/sine.c" --deck sine --json
expect 'j["deck"]=="sine" and j["id"]==3' kanon revert sine 1 --json
expect 'j["name"]=="sine" and j["gain_db"]==-6' kanon gain sine -6 --json
expect 'j["name"]=="sine" and j["mute"]' kanon mute sine --json
expect 'j["name"]=="sine" and not j["mute"]' kanon unmute sine --json
expect 'j["name"]=="sine" and j["solo"]' kanon solo sine --json
expect 'j["name"]=="sine" and not j["solo"]' kanon unsolo sine --json
expect 'j["name"]=="sine" and j["pan"]==0.5 and j["gain_db"]==-6' kanon pan sine 0.5 --json
expect 'j["ok"]' kanon map load "$ROOT/examples/maps/8knob.json" --json
ok "up, play, revert, gain, mute, unmute, solo, unsolo, pan, map load --json"

# --- a ramp is fed back while it glides; the DSP load is measured
D=$(free_port 7)
dump_start "$D" "$T/dump.txt"
oscsend 127.0.0.1 "$P" /kanon/subscribe i "$D" || fail "oscsend"
dump_wait "$T/dump.txt" "/kanon/feedback/sine/freq f 440.000000" || fail "no initial freq feedback"
kanon set sine.freq 880 --ramp 600 >/dev/null || fail "set --ramp"
dump_wait "$T/dump.txt" "/kanon/feedback/sine/freq f 880.000000" || fail "the ramp's end is not fed back"
steps=$(grep -c '/kanon/feedback/sine/freq f \(4[4-9][0-9]\|[5-7][0-9][0-9]\|8[0-7][0-9]\)\.' "$T/dump.txt")
# not just the end: values in between (how many, ~30 a second, is make bench's figure)
[ "$steps" -ge 2 ] || fail "a 600 ms ramp 440 -> 880 should be fed back as it glides: $steps values in between"
status_field 's["decks"][0]["load"]' | py 'isinstance(j,(int,float)) and 0 < j < 100' ||
    fail "a playing deck's load should be a percentage above 0: $(status_field 's["decks"][0]')"
ok "a 600 ms ramp fed back as $steps intermediate values; load $(status_field 's["decks"][0]["load"]') %"

# --- shell completion, against this conductor
comp=$(bash -c '
    . "$1/scripts/kanon-completion.bash"
    complete -p kanon
    COMP_WORDS=(kanon pl); COMP_CWORD=1; COMP_LINE="kanon pl"; COMP_POINT=${#COMP_LINE}
    _kanon kanon pl kanon; echo "play? ${COMPREPLY[*]}"
    COMP_WORDS=(kanon stop ""); COMP_CWORD=2; COMP_LINE="kanon stop "; COMP_POINT=${#COMP_LINE}
    _kanon kanon "" stop; echo "decks? ${COMPREPLY[*]}"' _ "$ROOT" 2>&1)
echo "$comp" | grep -q -- '-F _kanon kanon$' || fail "completion is not registered: $comp"
echo "$comp" | grep -qx 'play? play' || fail "kanon pl<TAB> should give play: $comp"
echo "$comp" | grep -qx 'decks? sine' || fail "kanon stop <TAB> should give the deck sine: $comp"
ok "completion: registered, commands, deck names"

# --- where OSC listens: 127.0.0.1 by default, --osc-host otherwise
ss -lnu | grep -q "127.0.0.1:$P " || fail "OSC should listen on 127.0.0.1:$P: $(ss -lnu)"
W=$(free_port 3)
kanon --instance "$KANON_INSTANCE-w" up --backend dummy --osc-port "$W" --osc-host 0.0.0.0 >/dev/null ||
    fail "up --osc-host 0.0.0.0"
ss -lnu | grep -q "0.0.0.0:$W " || fail "--osc-host 0.0.0.0 should listen on 0.0.0.0:$W: $(ss -lnu)"
kanon --instance "$KANON_INSTANCE-w" status --json | py 'j["osc_host"]=="0.0.0.0"' ||
    fail "status should show osc_host 0.0.0.0"
expect 'j["was_running"]' kanon --instance "$KANON_INSTANCE-w" down --json
ok "OSC on 127.0.0.1 by default, on 0.0.0.0 when asked"

# --- --backend auto says what it tried: every backend before the one it
# picked, each with its reason (on a machine without sound: dummy, last)
A="$KANON_INSTANCE-a"
kanon --instance "$A" up --osc-port 0 --json >"$T/auto.json" || fail "up (auto): $(cat "$T/auto.json")"
kanon --instance "$A" down >/dev/null
py 'j["backend_choice"].split("; ")[-1] == j["backend"] + ": ok" and
    [x.split(":")[0] for x in j["backend_choice"].split("; ")] ==
    ["jack", "pulseaudio", "alsa", "dummy"][:len(j["backend_choice"].split("; "))] and
    all(": " in x for x in j["backend_choice"].split("; "))' <"$T/auto.json" ||
    fail "up --json (auto) should say what it tried: $(cat "$T/auto.json")"
ok "auto: $(python3 -c 'import json,sys; print(json.load(sys.stdin)["backend_choice"])' <"$T/auto.json")"

expect 'j["deck"]=="sine" and j["stopped"]' kanon stop sine --json
expect 'j["instance"]==E["KANON_INSTANCE"] and j["was_running"]' kanon down --json
ok "stop, down --json"
