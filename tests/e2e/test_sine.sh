# Conductor on the dummy backend plays sine.c; a 3 s recording is analysed:
# 440 Hz +- 0.5 Hz, the expected level (0.2 peak: -13.98 dBFS peak, -16.99
# dBFS RMS), no discontinuity, 0 underruns (or
# only those the machine explains: lib.sh underruns_ok), 0 dropped frames; and the live
# recording equals `kanon render` of the same file sample for sample.
. "$(dirname "$0")/lib.sh"
up
kanon play "$ROOT/examples/sine.c" >"$T/play.out" || fail "play: $(cat "$T/play.out")"
grep -q "deck sine: playing" "$T/play.out" || fail "play output: $(cat "$T/play.out")"
# A take the machine disturbed (underruns it explains) cannot equal the
# render: it is reported and taken again, up to 3 takes.
for take in 1 2 3; do
    machine_mark
    kanon record start "$T/live.wav" >/dev/null || fail "record start"
    played_wait 146400 sine # 3.05 s of the deck, all of it recorded
    kanon record stop --json >"$T/stop.json" || fail "record stop"
    underruns_ok sine || fail "underruns"
    [ -z "$DISTURBED" ] && break
    [ $take = 3 ] && { echo "every take disturbed by the machine"; exit 77; }
    echo "  note: take $take disturbed by the machine; again"
done
python3 - "$T/stop.json" <<'PY' || fail "record stop report: $(cat "$T/stop.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["dropped"] == 0, r
assert r["frames"] >= 3 * 48000, r
PY
ok "recorded $(python3 -c "import json;print(json.load(open('$T/stop.json'))['frames'])") frames, 0 dropped"

f=$(wav "$T/live.wav" freq --skip 0.1)
near "$f" 440 0.5 || fail "frequency $f Hz, want 440 +- 0.5"
ok "frequency $f Hz"
peak=$(wav "$T/live.wav" peak_dbfs --skip 0.1)
rms=$(wav "$T/live.wav" rms_dbfs --skip 0.1)
near "$peak" -13.979 0.05 || fail "peak $peak dBFS, want -13.98"
near "$rms" -16.990 0.05 || fail "rms $rms dBFS, want -16.99"
ok "level: peak $peak dBFS, rms $rms dBFS"
# A 440 Hz sine of amplitude 0.2 changes by at most 2*pi*440/48000*0.2 = 0.0115 per sample.
wavtool steps "$T/live.wav" --max 0.0116 >"$T/steps.json" || fail "discontinuity: $(cat "$T/steps.json")"
ok "no discontinuity"

kanon render "$ROOT/examples/sine.c" --seconds 10 -o "$T/render.wav" 2>/dev/null || fail "render"
# at the offset status gives (the deck's epoch, the recording's first
# frame), not one found by a search: a render one frame late fails
off=$(render_offset sine "$T/stop.json") || fail "offset: $off"
wavtool compare "$T/render.wav" "$T/live.wav" --tol 0 --min-overlap 3 --offset "$off" >"$T/cmp.json" ||
    fail "live != render at offset $off: $(cat "$T/cmp.json")"
ok "live recording equals the render bit for bit at the offset status gives ($off frames)"
