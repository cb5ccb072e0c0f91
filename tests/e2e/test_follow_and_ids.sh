# `kanon play FILE --follow` stays in the foreground and prints each
# compile's result as it happens: a save that breaks the code prints the
# error with the user's file and line, the fix prints the takeover. And a
# request resent with the same id (what nng REQ does on reconnect) is
# answered again, not executed twice: one `play`, one cartridge.
. "$(dirname "$0")/lib.sh"
up --osc-port 0
cp "$ROOT/examples/sine.c" "$T/f.c"
kanon play "$T/f.c" --follow >"$T/follow.out" 2>&1 &
FPID=$!
trap 'kill $FPID 2>/dev/null; cleanup' EXIT
wait_for grep -q "took over" "$T/follow.out" || fail "no takeover printed: $(cat "$T/follow.out")"
# line 17 refers to an undeclared name
sed '17s/.*/    double inc = kn_get(freq) \/ k->rate + undeclared_thing;/' "$ROOT/examples/sine.c" >"$T/f.tmp"
mv "$T/f.tmp" "$T/f.c"
wait_for grep -q "f.c:17: error:" "$T/follow.out" || fail "error not printed: $(cat "$T/follow.out")"
ok "--follow printed the error with file and line"
printf '/* fixed */\n' | cat - "$ROOT/examples/sine.c" >"$T/f.tmp"
mv "$T/f.tmp" "$T/f.c"
wait_for sh -c "[ \$(grep -c 'took over' '$T/follow.out') -ge 2 ]" ||
    fail "fix not printed: $(cat "$T/follow.out")"
ok "--follow printed the fix's takeover"
# (a background job of a script ignores SIGINT, so end it as a terminal
# closing would: the follower is only a viewer)
kill -TERM $FPID; wait $FPID 2>/dev/null
[ "$(status_field 's["decks"][0]["cartridge"]["state"]')" = running ] || fail "the deck stopped with --follow"
ok "ending --follow leaves the deck playing"

SOCK=$(status_field 's["socket"]')
REQ='{"cmd":"play","file":"'"$ROOT"'/examples/noise.c","deck":"dup","req":"test-id-42"}'
a=$(nngcat --req --connect "ipc://$SOCK" --data "$REQ" --ascii)
b=$(nngcat --req --connect "ipc://$SOCK" --data "$REQ" --ascii)
[ "$a" = "$b" ] || fail "a resent request got a different reply: $a / $b"
echo "$a" | grep -q '"ok":true' || fail "play refused: $a"
wait_for sh -c "kanon status --json | grep -q '\"name\":\"dup\"'" || fail "deck dup missing"
sleep 0.5
n=$(kanon log dup --json | python3 -c "import json,sys; print(sum(e['kind']=='compiling' for e in json.load(sys.stdin)))")
[ "$n" = 1 ] || fail "the resent play started $n cartridges, want 1"
ok "a resent play (same id) is answered again and runs once"
