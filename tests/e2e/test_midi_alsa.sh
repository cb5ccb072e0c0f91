# MIDI in through the ALSA sequencer (off JACK; docs/midi.md): kanon's
# conductor on the dummy backend is a sequencer client named "kanon" that
# `aconnect -l` lists, with a port midi_in; a note sent to it with aseqsend
# reaches the deck (tests/e2e/midi/gate.c steps to velocity/256: the
# recording holds that level), and status counts it as delivered.
#
# Skipped (77) where the machine has no /dev/snd/seq (no sequencer in the
# kernel, as on CI machines and containers) or no aconnect/aseqsend
# (alsa-utils); the JACK path (test_midi.sh) always runs.
. "$(dirname "$0")/lib.sh"
[ -e /dev/snd/seq ] || { echo "no /dev/snd/seq: this machine has no ALSA sequencer (modprobe snd-seq)"; exit 77; }
command -v aconnect >/dev/null || { echo "aconnect not installed (alsa-utils)"; exit 77; }
command -v aseqsend >/dev/null || { echo "aseqsend not installed (alsa-utils 1.2.11 or later)"; exit 77; }
up
[ "$(status_field 's["midi"]["backend"]')" = alsa ] || fail "status midi: $(status_field 's["midi"]')"
aconnect -l | grep -q "client $(status_field 's["midi"]["alsa_client"]'): 'kanon'" ||
    fail "aconnect -l does not list kanon: $(aconnect -l)"
ok "aconnect -l lists the client kanon"
expect 0 kanon play "$ROOT/tests/e2e/midi/gate.c" --deck gate --fade 0
wait_for sh -c 'kanon status --json | grep -q "\"state\":\"running\""' || fail "gate did not start"
kanon record start "$T/alsa.wav" >/dev/null || fail "record start"
aseqsend -p "$(status_field 's["midi"]["alsa_client"]'):0" 90 3C 60 || fail "aseqsend"
wait_for sh -c "kanon status --json | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)[\"midi\"][\"delivered\"] >= 1 else 1)'" ||
    fail "the note was not delivered: $(status_field 's["midi"]')"
played_wait 48000 gate
kanon record stop --json >"$T/rec.json" || fail "record stop"
python3 - "$ROOT/tests/e2e/swap" "$T/alsa.wav" <<'PY' || fail "the note from the sequencer"
import sys
sys.path.insert(0, sys.argv[1])
from swaplib import read_wav
rate, (left, right) = read_wav(sys.argv[2])
if 0x60 / 256 not in left:
    print("FAIL: no sample at the note's level %g in the recording" % (0x60 / 256))
    sys.exit(1)
print("  ok: a note sent through the ALSA sequencer played on the deck (level %g)" % (0x60 / 256))
PY
