# A conductor that never answers does not hold `kanon up` (or the
# instance): a jackd that is stopped (SIGSTOP) takes the conductor's JACK
# client with it, so `kanon up --backend jack` gets no ready line. It exits
# 3 after its 10 s wait saying it stopped the conductor, no conductor of
# the instance is left, and the next `kanon up` (once jackd runs again)
# starts normally.
. "$(dirname "$0")/lib.sh"
start_jackd
kill -STOP "$JPID"
trap 'kill -CONT "$JPID" 2>/dev/null; stop_jackd; cleanup' EXIT
conductors() { pgrep -f -- "kanon-conductor.*--instance $KANON_INSTANCE( |$)"; }
expect 3 timeout 60 kanon up --backend jack
says "had not answered within 10 s: stopped"
[ -z "$(conductors)" ] || fail "a conductor of the instance is left: $(conductors)"
ok "kanon up with a stuck backend: $(head -1 "$T/err")"
kill -CONT "$JPID"
wait_for jack_lsp || fail "jackd did not resume"
expect 0 kanon up --backend jack
says "backend"
kanon down >/dev/null || fail "down"
ok "the instance is free: the next kanon up starts"
