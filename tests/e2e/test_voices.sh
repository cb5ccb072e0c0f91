# Polyphony (kn_voices) through examples/poly.c, offline: `kanon render
# --events` delivers notes and CCs at exact samples, and the recorded
# samples are analysed (tests/e2e/voices/tones.py: the amplitude of each
# pitch in a window, by a Hann-windowed DFT at the note's frequency).
# poly.c plays sines here (wave=3) with its filter wide open (cutoff=16000),
# demo=0; a voice sustains at level 0.5 * 0.25 * sustain 0.7 * velocity/127.
#   - an 8-note chord with 8 velocities: the 8 pitches, each within 0.2 dB
#     of its expected level, and the semitones between them absent;
#   - steal order on 4 voices: a 5th and a 6th note take the oldest notes'
#     voices (steal=0: 60, then 64 disappear); with steal=1 the quietest
#     (the velocity-40 note) disappears instead, the oldest stays;
#   - release tails: after its note-off a note decays at the release's 120
#     dB/s (30 dB down 0.25 s later, within 2 dB), is still heard 0.1 s
#     after the off, and ends in exact silence (the voice freed);
#   - sustain: with CC 64 down a note-off does not end the note: it holds
#     its sustain level until CC 64 goes to 0, then decays; without the
#     pedal the same note has decayed 1 s after its off;
#   - CC 74: the cutoff follows it (the 10th harmonic of a saw drops more
#     than 15 dB when CC 74 goes from 64 to 0);
#   - mono mode: two overlapping notes never sound together, and the first
#     comes back when the second is let go while it is still held;
#   - onsets land at the exact sample: a note at beat 1.3 (frame 31200 at
#     120 bpm, 48 kHz) renders what a note at beat 0 renders, shifted by
#     exactly 31200 frames (1e-6), with only zeros before it;
#   - the events file's "cc" entries are checked: a controller or value
#     out of 0..127, a fractional value, a missing value, a "value" on a
#     note, each an error naming the entry.
. "$(dirname "$0")/lib.sh"
cd "$T" || fail "cd $T"
POLY=$ROOT/examples/poly.c
SINE=(--set demo=0 --set wave=3 --set cutoff=16000)

# tones FILE T0 T1 NOTE...: "NOTE dBFS" lines
tones() { python3 "$ROOT/tests/e2e/voices/tones.py" "$@" || fail "tones.py $*"; }
# db FILE T0 T1 NOTE: one note's level
db() { tones "$@" | awk '{ print $2 }'; }
# level VEL: a sustained voice's level in dBFS
level() { python3 -c "import math; print(\"%.2f\" % (20 * math.log10(0.5 * 0.25 * 0.7 * $1 / 127)))"; }
render() { # OUT EVENTS ARGS...
    local o=$1 e=$2
    shift 2
    kanon render "$POLY" --events "$e" -o "$o" "$@" >"$T/render.out" 2>&1 || fail "render $o: $(cat "$T/render.out")"
}
present() { # FILE T0 T1 NOTE...: each note above -60 dBFS
    tones "$@" >levels.out
    while read -r n l; do
        python3 -c "import sys; sys.exit(0 if $l > -60 else 1)" || fail "$1: note $n absent at $2..$3 s ($l dBFS)"
    done <levels.out
}
absent() { # FILE T0 T1 NOTE...: each note below -70 dBFS
    tones "$@" >levels.out
    while read -r n l; do
        python3 -c "import sys; sys.exit(0 if $l < -70 else 1)" || fail "$1: note $n heard at $2..$3 s ($l dBFS)"
    done <levels.out
}

# --- an 8-note chord: 8 distinct pitches at their velocities' levels
cat >chord.json <<'EOF'
[{"beat": 0, "note": 55, "velocity": 127, "dur": 4}, {"beat": 0, "note": 59, "velocity": 110, "dur": 4},
 {"beat": 0, "note": 62, "velocity": 100, "dur": 4}, {"beat": 0, "note": 65, "velocity": 90, "dur": 4},
 {"beat": 0, "note": 69, "velocity": 80, "dur": 4}, {"beat": 0, "note": 72, "velocity": 70, "dur": 4},
 {"beat": 0, "note": 76, "velocity": 60, "dur": 4}, {"beat": 0, "note": 79, "velocity": 50, "dur": 4}]
EOF
render chord.wav chord.json "${SINE[@]}" --seconds 2.5
grep -q "events: 16 applied at their exact frames" render.out || fail "chord: $(cat render.out)"
tones chord.wav 1.0 1.5 55 59 62 65 69 72 76 79 >chord.tones
set -- 127 110 100 90 80 70 60 50
while read -r note got; do
    want=$(level "$1")
    shift
    near "$got" "$want" 0.2 || fail "chord: note $note at $got dBFS, want $want"
done <chord.tones
absent chord.wav 1.0 1.5 57 60 61 64 67 71 74 77 81
ok "8-note chord: 8 pitches at their velocities' levels ($(awk '{ printf "%s ", $2 }' chord.tones)dBFS), nothing between"

# --- steal order, 4 voices
cat >steal.json <<'EOF'
[{"beat": 0, "note": 60, "velocity": 120, "dur": 8}, {"beat": 0, "note": 64, "velocity": 40, "dur": 8},
 {"beat": 0, "note": 67, "velocity": 100, "dur": 8}, {"beat": 0, "note": 71, "velocity": 80, "dur": 8},
 {"beat": 1, "note": 74, "velocity": 100, "dur": 8}, {"beat": 2, "note": 77, "velocity": 100, "dur": 8}]
EOF
render old.wav steal.json "${SINE[@]}" --set voices=4 --set steal=0 --seconds 1.6
present old.wav 0.2 0.45 60 64 67 71
absent old.wav 0.2 0.45 74 77
present old.wav 0.7 0.95 64 67 71 74
absent old.wav 0.7 0.95 60
present old.wav 1.2 1.45 67 71 74 77
absent old.wav 1.2 1.45 60 64
ok "oldest stealing on 4 voices: a 5th note takes 60's voice, a 6th 64's"
render quiet.wav steal.json "${SINE[@]}" --set voices=4 --set steal=1 --seconds 1.6
present quiet.wav 0.7 0.95 60 67 71 74
absent quiet.wav 0.7 0.95 64
present quiet.wav 1.2 1.45 60 67 74 77
absent quiet.wav 1.2 1.45 64 71
ok "quietest stealing on 4 voices: the velocity-40 note goes first, then the velocity-80 one; the oldest stays"

# --- release tails: 0.5 s to -60 dB after the note-off at 0.5 s
echo '[{"beat": 0, "note": 69, "velocity": 127, "dur": 1}]' >tail.json
render tail.wav tail.json "${SINE[@]}" --seconds 3
s0=$(db tail.wav 0.3 0.5 69)
s1=$(db tail.wav 0.6 0.62 69)
s2=$(db tail.wav 0.75 0.77 69)
python3 -c "import sys; sys.exit(0 if $s1 > -60 and $s1 < $s0 - 6 else 1)" || fail "tail: $s1 dBFS 0.1 s after the off (held: $s0)"
near "$(python3 -c "print($s1 - $s2)")" 18 2 || fail "tail: $s1 then $s2 dBFS 0.15 s later: want 18 dB down (120 dB/s)"
[ "$(wav tail.wav peak --skip 2 --length 1)" = 0 ] || fail "tail: not silent 1.5 s after the off"
ok "release tail: heard after the off ($s0 -> $s1 -> $s2 dBFS), 120 dB/s, then exact silence"

# --- sustain: CC 64 holds a note past its off until the pedal lifts
cat >sus.json <<'EOF'
[{"beat": 0, "cc": 64, "value": 127}, {"beat": 0.5, "note": 69, "velocity": 127, "dur": 0.5},
 {"beat": 4, "cc": 64, "value": 0}]
EOF
render sus.wav sus.json "${SINE[@]}" --seconds 3.5
grep -q "events: 4 applied" render.out || fail "sustain: $(cat render.out)"
want=$(level 127)
for w in "1.0 1.2" "1.7 1.95"; do
    # shellcheck disable=SC2086 # two words, meant to split
    got=$(db sus.wav $w 69)
    near "$got" "$want" 0.3 || fail "sustain: $got dBFS at $w s, pedal down: want $want"
done
after=$(db sus.wav 2.24 2.26 69)
near "$(python3 -c "print($want - $after)")" 30 2 || fail "sustain: $after dBFS 0.25 s after the pedal lifts: want 30 dB below $want"
sed 's/"value": 127/"value": 0/' sus.json >nosus.json
render nosus.wav nosus.json "${SINE[@]}" --seconds 3.5
absent nosus.wav 1.5 1.7 69
ok "sustain: the pedal holds the note at $want dBFS for 1.5 s past its off, it decays when CC 64 goes to 0 ($after dBFS 0.25 s later); without the pedal it has ended"

# --- CC 74 moves the cutoff: the 10th harmonic of a saw at note 48
echo '[{"beat": 0, "note": 48, "dur": 8}, {"beat": 2, "cc": 74, "value": 0}]' >cc74.json
render cc74.wav cc74.json --set demo=0 --seconds 2
bright=$(db cc74.wav 0.6 0.9 48:10)
dark=$(db cc74.wav 1.4 1.7 48:10)
python3 -c "import sys; sys.exit(0 if $dark < $bright - 15 else 1)" || fail "CC 74: 10th harmonic $bright then $dark dBFS"
near "$(db cc74.wav 0.6 0.9 48)" "$(db cc74.wav 1.4 1.7 48)" 1 || fail "CC 74 changed the fundamental (cutoff 2400 -> 300 Hz, 131 Hz)"
ok "CC 74 follows: 10th harmonic $bright -> $dark dBFS, the fundamental kept"

# --- mono: one voice, last-note priority
echo '[{"beat": 0, "note": 60, "dur": 4}, {"beat": 1, "note": 67, "dur": 2}]' >mono.json
render mono.wav mono.json "${SINE[@]}" --set mode=1 --seconds 2
present mono.wav 0.2 0.45 60
present mono.wav 0.7 0.95 67
absent mono.wav 0.7 0.95 60
present mono.wav 1.7 1.95 60
absent mono.wav 1.7 1.95 67
ok "mono: the new note replaces the held one, which returns when the new one is let go"

# --- onsets at the exact sample
echo '[{"beat": 0, "note": 69, "dur": 2}]' >at0.json
echo '[{"beat": 1.3, "note": 69, "dur": 2}]' >at13.json
render at0.wav at0.json --set demo=0 --seconds 2
render at13.wav at13.json --set demo=0 --seconds 2
a=$(wav at0.wav first_nonsilent)
b=$(wav at13.wav first_nonsilent)
[ $((b - a)) = 31200 ] || fail "onset: first sound at frame $b, want $((a + 31200)) (a note at beat 0 sounds from $a)"
wavtool compare at13.wav at0.wav --offset 31200 --tol 1e-6 --min-overlap 1 >cmp.json ||
    fail "onset: the note at beat 1.3 is not the note at beat 0 shifted by 31200 frames: $(cat cmp.json)"
ok "onset: a note at beat 1.3 is the note at beat 0 shifted by exactly 31200 frames"

# --- bad "cc" entries
bad() { # WANT JSON
    printf '%s' "$2" >bad.json
    expect 1 kanon render "$POLY" --events bad.json --seconds 1 -o bad.wav
    says "bad.json: error: entry 1"
    says "$1"
    [ ! -e bad.wav ] || fail "events $2: wrote bad.wav"
}
bad '"cc" must be a whole number 0..127' '[{"beat": 1, "cc": 128, "value": 1}]'
bad '"value" must be a whole number 0..127' '[{"beat": 1, "cc": 64, "value": 200}]'
bad '"value" must be a whole number 0..127' '[{"beat": 1, "cc": 64, "value": 1.5}]'
bad '"cc" needs a "value" (0..127)' '[{"beat": 1, "cc": 64}]'
bad '"value" belongs to a "param" or "cc" event' '[{"beat": 1, "note": 60, "value": 3}]'
bad 'has more than one of "param", "note", "trig" and "cc"' '[{"beat": 1, "note": 60, "cc": 3, "value": 1}]'
bad '"channel" must be a whole number 0..15' '[{"beat": 1, "cc": 64, "value": 1, "channel": 16}]'
ok "bad \"cc\" entries: 7 kinds of mistake, each an error naming the entry, nothing written"

# --- drum_kit.c: General MIDI notes to samples
KIT=$ROOT/examples/drum_kit.c
kit() { # OUT EVENTS-JSON [ARGS...]
    local o=$1
    printf '%s' "$2" >kit.json
    shift 2
    kanon render "$KIT" --set demo=0 --events kit.json -o "$o" "$@" >"$T/render.out" 2>&1 ||
        fail "render drum_kit $o: $(cat "$T/render.out")"
}
for n in 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 56 57 59; do
    kit "n$n.wav" "[{\"beat\": 0, \"note\": $n}]" --seconds 1
    p=$(wav "n$n.wav" peak_dbfs)
    python3 -c "import sys; sys.exit(0 if -40 < $p <= 0 else 1)" || fail "drum_kit: note $n peaks at $p dBFS"
done
for n in 34 60 100; do
    kit "n$n.wav" "[{\"beat\": 0, \"note\": $n}]" --seconds 0.5
    [ "$(wav "n$n.wav" peak)" = 0 ] || fail "drum_kit: note $n is not a GM drum but sounds"
done
kick=$(wav n36.wav freq --length 0.3)
hat=$(wav n42.wav freq --length 0.05)
python3 -c "import sys; sys.exit(0 if $kick < 100 and $hat > 3000 else 1)" || fail "drum_kit: kick at $kick Hz, closed hat at $hat Hz"
toms=()
for n in 41 43 45 47 48 50; do toms+=("$(wav "n$n.wav" freq --skip 0.1 --length 0.2)"); done
python3 -c "import sys; t = [float(x) for x in sys.argv[1:]]; sys.exit(0 if all(a < b for a, b in zip(t, t[1:])) and 60 < t[0] and t[-1] < 200 else 1)" "${toms[@]}" ||
    fail "drum_kit: toms 41..50 at ${toms[*]} Hz: want rising"
ok "drum_kit: the 20 GM notes of the kit sound, others do not; kick at $kick Hz, closed hat at $hat Hz, toms rising: ${toms[*]} Hz"
kit v127.wav '[{"beat": 0, "note": 38, "velocity": 127}]' --seconds 0.5
kit v64.wav '[{"beat": 0, "note": 38, "velocity": 64}]' --seconds 0.5
near "$(python3 -c "print($(wav v64.wav peak) / $(wav v127.wav peak))")" "$(python3 -c "print(64 / 127)")" 1e-5 ||
    fail "drum_kit: velocity 64 peaks at $(wav v64.wav peak), velocity 127 at $(wav v127.wav peak)"
kit k0.wav '[{"beat": 0, "note": 36}]' --seconds 1
kit k13.wav '[{"beat": 1.3, "note": 36}]' --seconds 1
[ $(($(wav k13.wav first_nonsilent) - $(wav k0.wav first_nonsilent))) = 31200 ] ||
    fail "drum_kit: kick at beat 1.3 first sounds at $(wav k13.wav first_nonsilent)"
wavtool compare k13.wav k0.wav --offset 31200 --tol 1e-6 --min-overlap 0.3 >cmp.json ||
    fail "drum_kit: the kick at beat 1.3 is not the kick at beat 0 shifted by 31200 frames: $(cat cmp.json)"
ok "drum_kit: velocity scales the hit (64/127), a kick at beat 1.3 is the kick at beat 0 shifted by exactly 31200 frames"
kit open.wav '[{"beat": 0, "note": 46}]' --seconds 1
kit choked.wav '[{"beat": 0, "note": 46}, {"beat": 0.5, "note": 42}]' --seconds 1
o=$(wav open.wav rms_dbfs --skip 0.4 --length 0.1)
if [ "$(wav choked.wav peak --skip 0.4 --length 0.1)" != 0 ] || ! python3 -c "import sys; sys.exit(0 if $o > -70 else 1)"; then
    fail "drum_kit: open hat at 0.4..0.5 s: $o dBFS alone, peak $(wav choked.wav peak --skip 0.4 --length 0.1) after a closed hat at 0.25 s"
fi
ok "drum_kit: a closed hat chokes the open hat (silent 0.15 s later; $o dBFS without it)"
# your own sample: kit/kick.wav next to the file replaces the synthesized kick
mkdir -p own/kit
cp "$KIT" own/drum_kit.c
kanon render "$ROOT/examples/sine.c" --seconds 0.5 --channels 1 --rate 44100 -o own/kit/kick.wav >/dev/null 2>&1 || fail "render sine.c"
kanon render own/drum_kit.c --set demo=0 --events <(echo '[{"beat": 0, "note": 36}]') --seconds 0.5 -o own.wav >"$T/render.out" 2>&1 ||
    fail "render own/drum_kit.c: $(cat render.out)"
want=$(wav own/kit/kick.wav freq)
got=$(wav own.wav freq --skip 0.05 --length 0.4)
near "$got" "$want" 1 || fail "drum_kit with kit/kick.wav: note 36 at $got Hz, want the file's $want Hz"
ok "drum_kit: a kit/kick.wav next to the file is played for note 36 ($got Hz, resampled from 44.1 kHz)"
