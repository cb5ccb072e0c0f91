# Device loss: the conductor plays through JACK; the JACK server goes away
# (SIGTERM: it shuts down and disconnects its clients);
# the conductor fails over to the dummy backend and keeps running, the deck
# keeps playing (frames advance, 0 underruns after the switch but those the
# machine explains: lib.sh underruns_ok), and a fresh
# recording after the failover is still the same 440 Hz sine, bit-exact with
# the offline render at the offset status gives (the deck's epoch, the
# recording's first frame: the timeline runs on across the failover), not
# one found by a search.
. "$(dirname "$0")/lib.sh"
command -v jackd >/dev/null || { echo "jackd not installed"; exit 77; }
export JACK_DEFAULT_SERVER="kn-fo-$$" JACK_NO_AUDIO_RESERVATION=1
jack_clean_stale
jackd --no-realtime -n "$JACK_DEFAULT_SERVER" -d dummy -r 48000 -p 64 >"$T/jackd.log" 2>&1 &
JPID=$!
trap 'kill $JPID 2>/dev/null; wait $JPID 2>/dev/null; cleanup' EXIT
wait_for jack_lsp || fail "jackd did not start: $(cat "$T/jackd.log")"
kanon up --backend jack >"$T/up.out" 2>&1 || fail "up on jack: $(cat "$T/up.out")"
grep -q "backend  jack" "$T/up.out" || fail "not on jack: $(cat "$T/up.out")"
kanon play "$ROOT/examples/sine.c" >/dev/null || fail "play"
played_wait 24000 sine # it plays on JACK
kill -TERM $JPID
wait $JPID 2>/dev/null
wait_for sh -c '[ "$(kanon status --json | python3 -c "import json,sys; print(json.load(sys.stdin)[\"backend\"])")" = dummy ]' ||
    fail "no failover: $(kanon status)"
ok "failed over to dummy: $(status_field 's["failovers"]') failover"
# 2 s played and recorded on the dummy (a stalled deck fails played_wait);
# no new underruns but those the machine explains, whose take is taken again
for take in 1 2 3; do
    machine_mark
    kanon record start "$T/after.wav" >/dev/null || fail "record after failover"
    played_wait 96000 sine
    recorded_wait 2
    kanon record stop --json >"$T/stop.json" || fail "record stop"
    underruns_ok sine || fail "underruns after failover"
    [ -z "$DISTURBED" ] && break
    [ $take = 3 ] && { echo "every take disturbed by the machine"; exit 77; }
    echo "  note: take $take disturbed by the machine; again"
done
ok "deck plays on after the failover: 2 s played and recorded"
f=$(wav "$T/after.wav" freq --skip 0.2)
near "$f" 440 0.5 || fail "frequency after failover: $f"
kanon render "$ROOT/examples/sine.c" --seconds 30 -o "$T/ref.wav" 2>/dev/null
off=$(render_offset sine "$T/stop.json") || fail "offset: $off"
wavtool compare "$T/ref.wav" "$T/after.wav" --tol 0 --min-overlap 1.5 --offset "$off" >"$T/cmp.json" ||
    fail "after failover != render at offset $off (slips $(status_field 's["decks"][0]["slips"]')): $(cat "$T/cmp.json")"
ok "recording after failover equals the render at the offset status gives ($off frames)"
