# The example gallery (examples/*.c, examples/*.dsp): every example
#   - compiles (`kanon check`), renders 4 s with no NaN/Inf, at a sensible
#     level (RMS between -50 and -3 dBFS, peak <= 0 dBFS), and renders the
#     same samples twice (bit-identical data chunks); an effect deck (one
#     with no sound of its own, fed by routes: EFFECTS below) renders
#     exactly silent alone instead, and is heard live, fed by routes (below);
# and, where the example has one:
#   - a pitch: drone at its root (73.4 Hz; 110 Hz with --set note=45), the
#     FM bell's carrier (440 Hz; 220 Hz with --set note=57), the pluck's
#     first string (220 Hz);
#   - a rhythm: at the step times of its pattern (from its tempo), the level
#     in the 20 ms after the step is well above the 20 ms before (acid:
#     gated steps that do not slide; drums: every step with a hit; pluck:
#     every eighth; bell: every second beat; sampler: its forward notes;
#     faust_reverb: every eighth with the input off), and the acid's rests
#     are quiet;
#   - a routing: the feedback delay's first echo arrives at exactly `time`
#     (375 ms) after the blip, out of silence, and a second one on the other
#     side at 750 ms only with feedback; the reverb send's wet-only output
#     is silent with send=0; the LFO filter's level moves with the LFO and
#     is steady with depth=0; the granular cloud is stereo; bytebeat's
#     formulas differ; the sampler is silent without its sample file; the
#     chorus pad driven 24 dB peaks at the limiter's -3 dBFS;
#   - live (conductor on the dummy backend, limiter off): drums.c and
#     granular.c keep groove and state across a comment-only save: the
#     recording across the save equals a render without one (1e-6), with
#     versions 1 and 2 taking over, no underrun, NaN, fault or error;
#   - the effects, live and fed by routes: bus_reverb.c fed by drums.c at
#     -12 dB is heard at a sensible level, and its tail rings on (well above
#     silence) after the drums stop; ducker.c on noise.c passes it through
#     unchanged (same level) with no key, and once beat.c keys its port
#     "side" (--pre) dips at least 10 dB under each kick and comes back
#     (25 ms levels);
#     input_delay.c fed by a deck (the dummy backend has no input) plays
#     it dry and echoed at a sensible level. No NaN anywhere.
# shellcheck disable=SC2046 # $(steps ...) is meant to split into times
. "$(dirname "$0")/lib.sh"
EXD=$ROOT/examples
SW=$ROOT/tests/e2e/swap
cd "$ROOT" || fail "cd $ROOT"


# onsets FILE RISE_DB T1 T2 ...: at each time (s) the RMS of [t+3ms, t+23ms]
# is >= RISE_DB above that of [t-22ms, t-2ms], and above -45 dBFS.
# quiet FILE MAX_DBFS T1 ...: the RMS of [t+3ms, t+23ms] is below MAX_DBFS.
# Options before FILE: --channel C.
levels() {
    python3 - "$SW" "$@" <<'PY'
import math, sys
sys.path.insert(0, sys.argv[1])
from swaplib import read_wav
mode, args = sys.argv[2], sys.argv[3:]
chans = None
if args[0] == "--channel":
    chans, args = [int(args[1])], args[2:]
path, lim, times = args[0], float(args[1]), [float(t) for t in args[2:]]
rate, ch = read_wav(path)
chans = chans if chans is not None else range(len(ch))
def rms(a, b):
    a, b = max(0, int(a * rate)), int(b * rate)
    n = sum(1 for _ in range(a, b)) * len(chans)
    s = sum(ch[c][i] * ch[c][i] for c in chans for i in range(a, b))
    return 10 * math.log10(s / n + 1e-30)
bad = []
for t in times:
    after, before = rms(t + 0.003, t + 0.023), rms(t - 0.022, t - 0.002)
    if mode == "onsets" and not (after >= before + lim and after > -45):
        bad.append("%.4f s: %.1f dB before, %.1f dB after" % (t, before, after))
    if mode == "quiet" and not after < lim:
        bad.append("%.4f s: %.1f dB" % (t, after))
if bad:
    print("%s at %s" % ("no onset" if mode == "onsets" else "not quiet", "; ".join(bad)))
    sys.exit(1)
PY
}
onsets() { levels onsets "$@"; }
quiet() { levels quiet "$@"; }
# steps T0 STEP INDICES...: the times T0 + i*STEP
steps() { python3 -c "import sys; t, s = float(sys.argv[1]), float(sys.argv[2]); print(' '.join('%.6f' % (t + int(i) * s) for i in sys.argv[3:]))" "$@"; }

# --- every example: check, render, level, determinism
# Effect decks: no sound of their own, only what routes bring to their
# ports (kn_in). A render has nothing routed to it: they must be silent
# there, and are checked live, fed by routes, at the end.
EFFECTS="bus_reverb ducker input_delay"
n=0
for f in "$EXD"/*.c "$EXD"/*.dsp; do
    name=$(basename "$f")
    stem=${name%.*}
    kanon check "$f" >"$T/check.out" 2>&1 || fail "kanon check $name: $(cat "$T/check.out")"
    kanon render "$f" --seconds 4 -o "$T/$stem.wav" >"$T/render.out" 2>&1 || fail "render $name: $(cat "$T/render.out")"
    grep -q "NaN" "$T/render.out" && fail "render $name: $(cat "$T/render.out")"
    [ "$(wav "$T/$stem.wav" nan)" = 0 ] || fail "$name: $(wav "$T/$stem.wav" nan) non-finite samples"
    if [[ " $EFFECTS " == *" $stem "* ]]; then
        grep -q 'kn_in(k, "in")' "$f" || fail "$name is listed as an effect but reads no input port"
        [ "$(wav "$T/$stem.wav" peak)" = 0 ] || fail "$name: an effect with nothing routed to it is not silent"
        kanon render "$f" --seconds 4 -o "$T/$stem.2.wav" >/dev/null 2>&1 || fail "second render $name"
        same_audio "$T/$stem.wav" "$T/$stem.2.wav" || fail "$name: two renders differ"
        printf '  ok: %-20s an effect: exactly silent alone (heard live, fed by routes, below)\n' "$name"
        n=$((n + 1))
        continue
    fi
    rms=$(wav "$T/$stem.wav" rms_dbfs)
    peak=$(wav "$T/$stem.wav" peak_dbfs)
    python3 -c "import sys; sys.exit(0 if -50 <= $rms <= -3 and $peak <= 0 else 1)" ||
        fail "$name: rms $rms dBFS, peak $peak dBFS: want rms in [-50, -3], peak <= 0"
    kanon render "$f" --seconds 4 -o "$T/$stem.2.wav" >/dev/null 2>&1 || fail "second render $name"
    same_audio "$T/$stem.wav" "$T/$stem.2.wav" || fail "$name: two renders differ"
    printf '  ok: %-20s rms %6.1f dBFS, peak %6.1f dBFS, deterministic\n' "$name" "$rms" "$peak"
    n=$((n + 1))
done
[ $n -ge 12 ] || fail "only $n examples"
ok "$n examples compile, render without NaN at a sensible level, deterministically"

# --- pitch
f=$(wav "$T/drone.wav" freq --skip 0.5 --length 3)
near "$f" 73.42 0.5 || fail "drone: $f Hz, want 73.42 (D2)"
kanon render examples/drone.c --seconds 3 --set note=45 -o "$T/drone45.wav" 2>/dev/null || fail "render drone"
f2=$(wav "$T/drone45.wav" freq --skip 0.5 --length 2.5)
near "$f2" 110 0.5 || fail "drone --set note=45: $f2 Hz, want 110"
ok "drone: root at $f Hz; --set note=45: $f2 Hz"
f=$(wav "$T/fmbell.wav" freq --skip 0.3 --length 1)
near "$f" 440 1 || fail "fmbell: $f Hz, want 440"
kanon render examples/fmbell.c --seconds 2 --set note=57 -o "$T/bell57.wav" 2>/dev/null || fail "render fmbell"
f2=$(wav "$T/bell57.wav" freq --skip 0.3 --length 1)
near "$f2" 220 1 || fail "fmbell --set note=57: $f2 Hz, want 220"
ok "fmbell: carrier $f Hz; --set note=57: $f2 Hz"
f=$(wav "$T/pluck.wav" freq --skip 0.02 --length 0.2)
near "$f" 220 2 || fail "pluck: first string at $f Hz, want 220"
ok "pluck: first string at $f Hz"

# --- rhythm (tempos and patterns are the examples' defaults)
s16=$(python3 -c "print(60 / 125 / 4)") # acid: sixteenths at 125 bpm
# pattern "36x 36- 48X 36x 39xs 41x 36- 46X 36x 36x 48xs 51X 36- 43x 41Xs 39x":
# onsets where a note does not continue a slide; rests quiet
onsets "$T/acid.wav" 10 $(steps 0 "$s16" 2 3 4 7 8 9 10 13 14 16 18 19 20 23 24 25 26 29 30) ||
    fail "acid: onsets"
quiet "$T/acid.wav" -50 $(steps 0 "$s16" 1 6 12 17 22 28) || fail "acid: rests"
ok "acid: onsets on its gated steps at 125 bpm, rests silent"
# drums at 120 bpm: every even sixteenth (hats), and 15 (kick) ; odd steps without a hit are not checked
onsets "$T/drums.wav" 3 $(steps 0 0.125 2 4 6 8 10 12 14 15 16 18 20 22 24 26 28 30 31) || fail "drums: onsets"
ok "drums: an onset at every step with a hit (120 bpm)"
onsets "$T/pluck.wav" 3 $(steps 0 0.25 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15) || fail "pluck: onsets"
ok "pluck: an onset every eighth (120 bpm)"
onsets "$T/fmbell.wav" 6 $(steps 0 "$(python3 -c "print(120 / 90)")" 1 2) || fail "fmbell: onsets"
ok "fmbell: a strike every second beat (90 bpm)"
# sampler, 110 bpm sixteenths: notes on 0 2 3 5 7 8 10 11 13 14, steps 7 and 14 backwards
onsets "$T/sampler.wav" 6 $(steps 0 "$(python3 -c "print(60 / 110 / 4)")" 2 3 5 8 10 11 13 16 18 19 21 24 26 27 29) ||
    fail "sampler: onsets"
ok "sampler: an onset at each forward note (110 bpm)"
kanon render examples/faust_reverb.dsp --seconds 3 --set input=0 --set wet=0 -o "$T/frev_dry.wav" 2>/dev/null ||
    fail "render faust_reverb"
onsets "$T/frev_dry.wav" 6 $(steps 0 "$(python3 -c "print(60 / 96 / 2)")" 1 2 3 4 5 6 7 8) ||
    fail "faust_reverb: onsets"
ok "faust_reverb: mallets on every eighth (96 bpm)"

# --- routing
onsets --channel 0 "$T/feedback_delay.wav" 40 0.375 || fail "feedback_delay: first echo (left) at 375 ms"
quiet --channel 0 "$T/feedback_delay.wav" -100 0.35 || fail "feedback_delay: sound before the first echo"
onsets --channel 1 "$T/feedback_delay.wav" 40 0.75 || fail "feedback_delay: second echo (right) at 750 ms"
kanon render examples/feedback_delay.c --seconds 1 --set feedback=0 -o "$T/fb0.wav" 2>/dev/null || fail "render"
quiet --channel 1 "$T/fb0.wav" -100 0.75 || fail "feedback_delay with feedback=0: a second echo"
ok "feedback_delay: echo at 375 ms (left), 750 ms (right, only with feedback)"
kanon render examples/reverb_send.c --seconds 3 --set dry=0 -o "$T/wet.wav" 2>/dev/null || fail "render"
kanon render examples/reverb_send.c --seconds 3 --set dry=0 --set send=0 -o "$T/wet0.wav" 2>/dev/null || fail "render"
r=$(wav "$T/wet.wav" rms_dbfs)
python3 -c "import sys; sys.exit(0 if $r > -45 else 1)" || fail "reverb_send wet only: rms $r dBFS"
[ "$(wav "$T/wet0.wav" peak)" = 0 ] || fail "reverb_send with send=0, dry=0: not silent"
ok "reverb_send: the return alone is $r dBFS, silent with send=0"
lfo_span() {
    python3 - "$SW" "$1" <<'PY'
import math, sys
sys.path.insert(0, sys.argv[1])
from swaplib import read_wav
rate, ch = read_wav(sys.argv[2])
x, w = ch[0], rate // 4
lv = [10 * math.log10(sum(v * v for v in x[i:i + w]) / w + 1e-30) for i in range(0, len(x) - w + 1, w)]
print("%.2f" % (max(lv) - min(lv)))
PY
}
a=$(lfo_span "$T/lfo_filter.wav")
kanon render examples/lfo_filter.c --seconds 4 --set depth=0 -o "$T/lfo0.wav" 2>/dev/null || fail "render"
b=$(lfo_span "$T/lfo0.wav")
python3 -c "import sys; sys.exit(0 if $a >= 2.5 and $b <= 1 else 1)" ||
    fail "lfo_filter: level span $a dB with the LFO, $b dB with depth=0 (250 ms windows)"
ok "lfo_filter: level moves $a dB over the LFO cycle, $b dB with depth=0"
python3 - "$SW" "$T/granular.wav" <<'PY' || fail "granular: not stereo"
import math, sys
sys.path.insert(0, sys.argv[1])
from swaplib import read_wav
rate, (l, r) = read_wav(sys.argv[2])
d = math.sqrt(sum((a - b) ** 2 for a, b in zip(l, r)) / len(l))
s = math.sqrt(sum(a * a for a in l) / len(l))
sys.exit(0 if d > 0.3 * s else 1)
PY
ok "granular: the grains spread the cloud across the stereo field"
kanon render examples/bytebeat.c --seconds 1 --set formula=2 -o "$T/bb2.wav" 2>/dev/null || fail "render"
kanon render examples/bytebeat.c --seconds 1 -o "$T/bb0.wav" 2>/dev/null || fail "render"
same_audio "$T/bb0.wav" "$T/bb2.wav" && fail "bytebeat: formula=2 sounds like formula 0"
ok "bytebeat: formulas differ"
mkdir -p "$T/nosample" && cp examples/sampler.c "$T/nosample/"
kanon render "$T/nosample/sampler.c" --seconds 1 -o "$T/nos.wav" >"$T/nos.out" 2>&1 || fail "render sampler without sample"
[ "$(wav "$T/nos.wav" peak)" = 0 ] || fail "sampler without its sample file is not silent"
grep -q "cannot read" "$T/nos.out" || fail "sampler without its sample: no message: $(cat "$T/nos.out")"
ok "sampler: without its sample file, silent and says why"
kanon render examples/chorus_pad.c --seconds 3 --set drive=24 -o "$T/pad24.wav" 2>/dev/null || fail "render"
p=$(wav "$T/pad24.wav" peak_dbfs)
python3 -c "import sys; sys.exit(0 if -3.5 <= $p <= -2.999 else 1)" || fail "chorus_pad drive=24: peak $p dBFS, want the limiter's -3"
ok "chorus_pad: driven 24 dB into the limiter, peak $p dBFS (ceiling -3)"

# --- a save on a live deck keeps the groove and the state: the recording
# across a comment-only save equals a render without any save (1e-6).
# Real time on a loaded machine can underrun, which also breaks the
# equality: such a run is retried, up to three attempts, each failed one
# printed with what failed; a failure the machine's timing does not explain
# (the audio thread late, or underruns put down to a starved cartridge:
# lib.sh machine_explains, try_judged) fails at once, so an intermittent bug
# cannot hide behind a retry.
up --no-limiter
# judge: the machine's verdict on the try's deck $deck since the try began
# (while it still plays: its counts go with it), into excuse/excused; then
# the deck is stopped
judge() {
    excuse=$(machine_explains "$deck")
    excused=$?
    kanon stop "$deck" >/dev/null 2>&1
}
live_save() { # EXAMPLE ATTEMPT -> 0, or 1 with the reason in $T/live/why
    local ex=$1 d=$T/live/$1.$2
    mkdir -p "$d"
    deck=$1$2
    machine_mark
    cp "examples/$ex.c" "$d/$ex.c"
    kanon play "$d/$ex.c" --deck "$ex$2" >"$d/play.out" 2>&1 || { echo "play: $(cat "$d/play.out")" >"$T/live/why"; return 1; }
    kanon record start "$d/rec.wav" >/dev/null || { echo "record start" >"$T/live/why"; return 1; }
    python3 "$SW/swaplib.py" advance "$ex$2" 48000 2>"$T/live/why" || return 1
    printf '/* edited while playing */\n' >>"$d/$ex.c"
    python3 "$SW/swaplib.py" wait-version "$ex$2" 2 2>"$T/live/why" || return 1
    python3 "$SW/swaplib.py" advance "$ex$2" 48000 2>"$T/live/why" || return 1
    kanon record stop --json >"$d/stop.json" || { echo "record stop" >"$T/live/why"; return 1; }
    python3 "$SW/swaplib.py" check-deck "$ex$2" 2 >"$T/live/why" 2>&1 || { judge; return 1; }
    # where the render's frame 0 is in the recording, from status: a render
    # (or a swap) one frame off must fail, which a search would forgive
    local off
    off=$(render_offset "$ex$2" "$d/stop.json" 2>"$T/live/why") || { judge; return 1; }
    judge # the deck's counts for the whole take, in case the comparison fails
    secs=$(python3 -c "import json; print(json.load(open('$d/stop.json'))['seconds'])")
    kanon render "examples/$ex.c" --seconds "$(python3 -c "print(round($secs + 3))")" -o "$d/ref.wav" \
        2>/dev/null || { echo "render" >"$T/live/why"; return 1; }
    wavtool compare "$d/ref.wav" "$d/rec.wav" --tol 1e-6 --offset "$off" --min-overlap "$(python3 -c "print($secs - 0.5)")" \
        >"$d/cmp.json" || { echo "the recording across a save differs from a render at offset $off: $(cat "$d/cmp.json")" >"$T/live/why"; return 1; }
    ok "$ex: a save while playing is seamless (recording of $secs s == render, max diff $(python3 -c \
"import json; print(json.load(open('$d/cmp.json'))['max_abs_diff'])"), attempt $2)"
}
for ex in drums granular; do
    mkdir -p "$T/live"
    for attempt in 1 2 3; do
        excuse=""
        live_save "$ex" "$attempt" && break
        # judged in live_save once the take was recorded; before that (a
        # version that never took over, the deck never played on) now
        [ -n "$excuse" ] || judge
        try_judged "$attempt" 3 "$ex: $(cat "$T/live/why")" "$excused" "$excuse"
    done
done

# --- the effects, live, fed by routes (the conductor of the saves above)
live_level() { # FILE FROM TO: rms dBFS of [FROM, TO) s
    wavtool level "$1" --seconds-from "$2" --seconds-to "$3" --field rms_dbfs
}
rec_for() { # FILE SECONDS: records the master for that long (of audio)
    kanon record start "$1" >/dev/null || fail "record start $1"
    recorded_wait "$2"
    kanon record stop >/dev/null || fail "record stop $1"
}
kanon play examples/drums.c --deck fxdrums >"$T/p.out" 2>&1 || fail "play drums: $(cat "$T/p.out")"
kanon play examples/bus_reverb.c --deck verb >"$T/p.out" 2>&1 || fail "play bus_reverb: $(cat "$T/p.out")"
kanon route fxdrums verb --gain -12 >"$T/r.out" 2>&1 || fail "route: $(cat "$T/r.out")"
kanon unroute fxdrums master >"$T/r.out" 2>&1 || fail "unroute: $(cat "$T/r.out")"
sleep 1 # the reverb builds up
rec_for "$T/verb.wav" 1.5
r=$(live_level "$T/verb.wav" 0.2 1.4)
python3 -c "import sys; sys.exit(0 if -50 <= $r <= -3 else 1)" || fail "bus_reverb fed by drums at -12 dB: rms $r dBFS"
kanon stop fxdrums >/dev/null || fail "stop drums"
wait_for sh -c '! kanon status | grep -q fxdrums' || fail "drums did not stop"
sleep 0.3
rec_for "$T/tail.wav" 0.5
t=$(live_level "$T/tail.wav" 0 0.4)
python3 -c "import sys; sys.exit(0 if $t > -80 else 1)" || fail "bus_reverb: no tail after the drums stopped ($t dBFS)"
[ "$(wav "$T/verb.wav" nan)" = 0 ] && [ "$(wav "$T/tail.wav" nan)" = 0 ] || fail "bus_reverb: NaN"
ok "bus_reverb: drums sent at -12 dB come back as $r dBFS of reverb; the tail rings on at $t dBFS after they stop"
kanon stop verb >/dev/null || fail "stop verb"

kanon play examples/noise.c --deck hiss >"$T/p.out" 2>&1 || fail "play noise: $(cat "$T/p.out")"
kanon play examples/beat.c --deck kick >"$T/p.out" 2>&1 || fail "play beat: $(cat "$T/p.out")"
kanon play examples/ducker.c --deck duck >"$T/p.out" 2>&1 || fail "play ducker: $(cat "$T/p.out")"
kanon route hiss duck >"$T/r.out" 2>&1 || fail "route hiss duck: $(cat "$T/r.out")"
kanon unroute hiss master >"$T/r.out" 2>&1 || fail "unroute hiss master: $(cat "$T/r.out")"
kanon unroute kick master >"$T/r.out" 2>&1 || fail "unroute kick master: $(cat "$T/r.out")" # the key alone
sleep 0.3
rec_for "$T/nokey.wav" 1.2
kanon route kick duck:side --pre >"$T/r.out" 2>&1 || fail "route kick duck:side: $(cat "$T/r.out")"
sleep 0.3
rec_for "$T/key.wav" 1.2
kanon render examples/noise.c --seconds 2 -o "$T/noise_ref.wav" 2>/dev/null || fail "render noise"
a=$(live_level "$T/nokey.wav" 0.1 1.1)
ref=$(live_level "$T/noise_ref.wav" 0.5 1.5)
near "$a" "$ref" 0.5 || fail "ducker without a key: $a dBFS, want its input's $ref dBFS"
# keyed: the 25 ms levels over 1 s (two kicks at 120 bpm) dip and come back
read -r lo hi < <(python3 - "$SW" "$T/key.wav" <<'PY'
import math, sys
sys.path.insert(0, sys.argv[1])
from swaplib import read_wav
rate, ch = read_wav(sys.argv[2])
x, w = ch[0], rate // 40
lv = [10 * math.log10(sum(v * v for v in x[i:i + w]) / w + 1e-30)
      for i in range(int(0.1 * rate), int(1.1 * rate) - w, w)]
print("%.2f %.2f" % (min(lv), max(lv)))
PY
)
python3 -c "import sys; sys.exit(0 if $a - $lo >= 10 and $a - $hi <= 1.5 else 1)" ||
    fail "ducker keyed by beat.c: 25 ms levels $lo..$hi dBFS, want a dip >= 10 dB below $a and a return within 1.5 dB"
[ "$(wav "$T/key.wav" nan)" = 0 ] || fail "ducker: NaN"
ok "ducker: noise.c passes at $a dBFS (its own $ref) unkeyed; keyed by beat.c it dips to $lo and comes back to $hi dBFS"
for d in hiss kick duck; do kanon stop "$d" >/dev/null || fail "stop $d"; done

kanon play examples/hello.c --deck voice >"$T/p.out" 2>&1 || fail "play hello: $(cat "$T/p.out")"
kanon play examples/input_delay.c --deck echo >"$T/p.out" 2>&1 || fail "play input_delay: $(cat "$T/p.out")"
kanon route voice echo >"$T/r.out" 2>&1 || fail "route voice echo: $(cat "$T/r.out")"
kanon unroute voice master >"$T/r.out" 2>&1 || fail "unroute: $(cat "$T/r.out")"
sleep 0.5
rec_for "$T/echo.wav" 1.2
e=$(live_level "$T/echo.wav" 0.1 1.1)
python3 -c "import sys; sys.exit(0 if -50 <= $e <= -3 else 1)" || fail "input_delay fed by hello.c: rms $e dBFS"
[ "$(wav "$T/echo.wav" nan)" = 0 ] || fail "input_delay: NaN"
ok "input_delay: fed by a deck (no input device here), dry and echoes at $e dBFS"
