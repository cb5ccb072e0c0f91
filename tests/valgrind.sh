#!/usr/bin/env bash
# tests/valgrind.sh - `make valgrind`: the release binaries under memcheck.
# (The unit tests run under ASan/UBSan instead; the two do not mix.)
#   - kanon-cartridge render and check, kanon check --json: no error, no
#     definite leak;
#   - kanon-conductor on the dummy backend through a session: play, a
#     save (hot swap), set, a crash of the deck's code (fault and revert),
#     record, down: no invalid read or write, no use of uninitialised
#     memory, no definite leak. nng's worker threads, which it does not
#     join at exit, show as "possibly lost" and are not counted.
# Exits 1 on the first error; prints what ran.
command -v valgrind >/dev/null || { echo "valgrind: apt-get install valgrind"; exit 2; }
. "$(dirname "$0")/e2e/lib.sh" # $T, a private instance, PATH, wait_for, cleanup
cd "$ROOT" || exit 2
VG=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite)
vgfail() { # fail with valgrind's report (less its notes on seccomp's syscall)
    grep -v 'unhandled amd64-linux syscall\|You may be able\|README_MISSING\|Nevertheless we\|bug_reports' \
        "$T/vg.log" 2>/dev/null | head -40
    fail "$@"
}

"${VG[@]}" --log-file="$T/vg.log" kanon-cartridge render examples/drums.c -o "$T/d.wav" --seconds 1 2>/dev/null ||
    vgfail "kanon-cartridge render"
"${VG[@]}" --log-file="$T/vg.log" kanon-cartridge check examples/pad.c >/dev/null || vgfail "kanon-cartridge check"
"${VG[@]}" --log-file="$T/vg.log" kanon check examples/sine.c --json >/dev/null || vgfail "kanon check --json"
echo "  ok: render, check, kanon check --json"

cp examples/sine.c "$T/v.c"
"${VG[@]}" --log-file="$T/vg.log" kanon-conductor --backend dummy --instance "$KANON_INSTANCE" \
    --osc-port 0 >"$T/cond.out" 2>&1 &
vpid=$!
wait_for kanon status || wait_for kanon status || fail "the conductor under valgrind did not answer: $(cat "$T/cond.out")"
kanon play "$T/v.c" >/dev/null || fail "play"
sleep 1
sed -i 's/0\.2f \*/0.25f */' "$T/v.c" # a save: hot swap
sleep 1.5
kanon set v.freq 330 >/dev/null || fail "set"
kanon record start "$T/take.wav" >/dev/null || fail "record start"
# crashes 0.2 s after it starts: past its test render, so it takes over
cat >"$T/v.c" <<'C'
#include <kanon.h>
static uint64_t start;
void process(kn_ctx *k, float **out, int frames) {
    if (!start) start = k->frame + 1;
    if (k->frame > start + 9600) *(volatile int *)0 = 1;
    for (int c = 0; c < k->channels; c++)
        for (int i = 0; i < frames; i++) out[c][i] = 0;
}
C
crashed() { kanon log v 2>/dev/null | grep -q 'SIGSEGV in process(); reverted to version 2'; }
wait_for crashed || wait_for crashed || fail "the crash was not reported: $(kanon log v 2>&1 | tail -5)"
kanon record stop >/dev/null || fail "record stop"
kanon down >/dev/null || fail "down"
wait "$vpid"
rc=$?
[ $rc = 0 ] || vgfail "kanon-conductor under valgrind exited $rc"
echo "  ok: conductor session (play, save, set, crash and revert, record, down)"
echo "valgrind: PASS"
