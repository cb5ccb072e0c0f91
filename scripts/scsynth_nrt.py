#!/usr/bin/env python3
"""scsynth_nrt.py - SuperCollider's scsynth as a peer in the nodes-c bench.

bench_nodes.py renders the reference patches P1 and P2 with kanon; this
module renders the same two graphs with scsynth in non-real-time mode, so
that the ratios kanon / scsynth come from one run on one machine. It needs
no sclang: the SynthDefs are written here in the binary SynthDef format
(file type "SCgf", file version 2: big-endian, pascal strings, int32 counts;
docs.supercollider.online, Reference/Synth-Definition-File-Format), and the
score in scsynth's NRT command format (a file of OSC bundles, each preceded
by its int32 size, timetags in seconds: Guides/Non-Realtime-Synthesis).

  Graph                a SynthDef being built: constants, then UGens in the
                       order they are added, which must be the order they
                       run (every input made before it is used)
  p1(), p2()           the two reference graphs (see below)
  Nrt(dir, seconds)    writes both defs and their scores into dir (and
                       an empty score, EMPTY, for the fixed costs);
                       .command(name) is the scsynth command line that
                       renders one, .check(name, log) reads its output back
  level(x)             RMS in dBFS of a second of a channel (to compare
                       with kanon's render of the same patch)
  find()               the scsynth on PATH, or None (MISSING says how to
                       get it: the bench skips its columns then)

The score: at t=0 one bundle with /d_recv (the def as a blob) whose
completion message is /s_new (so the synth starts only once the def is
loaded), and at t=SECONDS a bundle that frees it (/g_freeAll): scsynth renders up to the
last bundle's time, block by block (64 frames, its default -z), runs the
block the bundle falls in (silent: the synth is freed), and stops.

What the graphs are (kanon's bench/p1_*.c and p2_*.c, in SC's UGens):
  P1  64 x SinOsc.ar(110 + 37 i) -> Pan2.ar(pos -1 + 2 i / 63, level 1/64),
      summed per channel by a tree of Sum4 (what sclang's Mix writes),
      Out.ar(0, [L, R]).
  P2  cutoff = 1600 * (4 ** SinOsc.kr(0.2)) at control rate (once per
      block, as kanon's LFO); 16 x Saw.ar(55 * 2 ** (v / 4)) ->
      RLPF.ar(cutoff, rq 0.25) -> Pan2.ar(pos -1 + 2 v / 15, level 2 x 0.04),
      summed by Sum4, Out.ar. SC's Saw is half as loud as kanon's (its
      fundamental is 1/pi, kanon's 2/pi): level 2 x 0.04 gives the same
      sound at the same level.
The amplitudes ride on Pan2's level input (Pan2 multiplies by its gains in
any case): the cheapest graph SC has for the same sound, as kanon's nodes
multiply by the amplitude inside the oscillator's loop. The graphs do the
same work, not the same arithmetic: SC's SinOsc reads a 8192-point table
(kanon: a degree-9 polynomial); SC's Saw is band-limited by a
sine-ratio formula (kanon: polyBLEP); SC's RLPF is a float 2-pole
biquad-style recursion whose coefficients glide across the block when the
cutoff moves (kanon: Simper's state-variable filter, also gliding).
docs/benchmarks.md lists this beside the figures.

Self-check: `python3 scripts/scsynth_nrt.py [--seconds S]` renders both
graphs once and checks them (Nrt.check), and renders a tiny def that proves
the BinaryOpUGen operator numbers used here (pow, *) give 1600 * 4 ** 0.5.
"""
import math
import os
import shutil
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e", "voices"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e", "swap"))
from swaplib import read_wav  # noqa: E402  (a float WAV as (rate, channels))
from tones import amplitude  # noqa: E402  (a Hann-windowed DFT at one frequency)

RATE = 48000
BLOCK = 64  # scsynth's default -z
CONTROL, AUDIO = 1, 2  # UGen calculation rates (0 is scalar)
OP_ADD, OP_MUL, OP_POW = 0, 2, 25  # BinaryOpUGen special indices
MISSING = ("scsynth is not installed: the scsynth columns are skipped "
           "(apt-get install supercollider-server adds them)")


def find():
    return shutil.which("scsynth")


def pstring(s):
    b = s.encode()
    return struct.pack(">B", len(b)) + b


class Graph:
    """A SynthDef under construction. An input is a number (a constant)
    or the (ugen index, output index) pair a UGen returned."""

    def __init__(self, name):
        self.name, self.consts, self.ugens = name, [], []

    def _input(self, x):
        if isinstance(x, tuple):
            return x
        c = struct.unpack(">f", struct.pack(">f", x))[0]  # as the file will hold it
        if c not in self.consts:
            self.consts.append(c)
        return (-1, self.consts.index(c))

    def ugen(self, cls, rate, *inputs, outputs=1, special=0):
        """Adds a UGen; returns its output (outputs=1) or list of outputs."""
        self.ugens.append((cls, rate, [self._input(x) for x in inputs], outputs, special))
        k = len(self.ugens) - 1
        return (k, 0) if outputs == 1 else [(k, j) for j in range(outputs)]

    def encode(self):
        """The whole .scsyndef file (one def, no parameters, no variants)."""
        b = [b"SCgf", struct.pack(">iH", 2, 1), pstring(self.name),
             struct.pack(">i", len(self.consts))]
        b += [struct.pack(">f", c) for c in self.consts]
        b.append(struct.pack(">iii", 0, 0, len(self.ugens)))  # params, param names, ugens
        for cls, rate, ins, outs, special in self.ugens:
            b += [pstring(cls), struct.pack(">biih", rate, len(ins), outs, special)]
            b += [struct.pack(">ii", u, j) for u, j in ins]
            b.append(struct.pack(">b", rate) * outs)
        b.append(struct.pack(">h", 0))  # variants
        return b"".join(b)


def mix(g, voices, voice):
    """Sums voice(v) (an [L, R] pair) over voices, four at a time per
    channel, depth first: each group is summed as soon as it is made, so
    few wire buffers are live at once (scsynth has 64 by default)."""
    if len(voices) == 1:
        return voice(voices[0])
    n = len(voices)
    quarters = [voices[k * n // 4:(k + 1) * n // 4] for k in range(4)]
    parts = [mix(g, q, voice) for q in quarters if q]
    if len(parts) == 2:
        return [g.ugen("BinaryOpUGen", AUDIO, parts[0][c], parts[1][c], special=OP_ADD)
                for c in range(2)]
    return [g.ugen("Sum%d" % len(parts), AUDIO, *(p[c] for p in parts)) for c in range(2)]


def p1():
    g = Graph("kanon_p1")
    n = 64

    def voice(i):
        osc = g.ugen("SinOsc", AUDIO, 110.0 + 37.0 * i, 0.0)
        return g.ugen("Pan2", AUDIO, osc, -1.0 + 2.0 * i / (n - 1), 1.0 / n, outputs=2)

    g.ugen("Out", AUDIO, 0.0, *mix(g, list(range(n)), voice), outputs=0)
    return g


def p2():
    g = Graph("kanon_p2")
    n = 16
    lfo = g.ugen("SinOsc", CONTROL, 0.2, 0.0)
    cutoff = g.ugen("BinaryOpUGen", CONTROL,
                    g.ugen("BinaryOpUGen", CONTROL, 4.0, lfo, special=OP_POW), 1600.0,
                    special=OP_MUL)

    def voice(v):
        saw = g.ugen("Saw", AUDIO, 55.0 * 2.0 ** (v / 4.0))
        lp = g.ugen("RLPF", AUDIO, saw, cutoff, 0.25)
        return g.ugen("Pan2", AUDIO, lp, -1.0 + 2.0 * v / (n - 1), 2 * 0.04, outputs=2)

    g.ugen("Out", AUDIO, 0.0, *mix(g, list(range(n)), voice), outputs=0)
    return g


def powcheck():
    """K2A(1600 * 4 ** 0.5) on both channels: 3200 if the operator numbers hold."""
    g = Graph("kanon_powcheck")
    x = g.ugen("BinaryOpUGen", CONTROL,
               g.ugen("BinaryOpUGen", CONTROL, 4.0, g.ugen("DC", CONTROL, 0.5), special=OP_POW),
               1600.0, special=OP_MUL)
    a = g.ugen("K2A", AUDIO, x)
    g.ugen("Out", AUDIO, 0.0, a, a, outputs=0)
    return g


# ---- OSC and the NRT score -------------------------------------------------

def osc_str(s):
    b = s.encode() + b"\0"
    return b + b"\0" * (-len(b) % 4)


def osc_msg(addr, *args):
    tags, data = ",", b""
    for a in args:
        if isinstance(a, int):
            tags, data = tags + "i", data + struct.pack(">i", a)
        elif isinstance(a, str):
            tags, data = tags + "s", data + osc_str(a)
        else:  # bytes: a blob
            tags, data = tags + "b", data + struct.pack(">i", len(a)) + a + b"\0" * (-len(a) % 4)
    return osc_str(addr) + osc_str(tags) + data


def osc_bundle(seconds, *msgs):
    """In NRT mode a timetag is seconds from the score's start (32.32 fixed point)."""
    b = b"#bundle\0" + struct.pack(">Q", int(round(seconds * 2 ** 32)))
    return b + b"".join(struct.pack(">i", len(m)) + m for m in msgs)


def score(g, seconds):
    """g None: an empty score (no synth), for scsynth's fixed costs."""
    bundles = []
    if g:
        start = osc_msg("/s_new", g.name, 1000, 0, 0)  # node 1000, head of the root group
        bundles.append(osc_bundle(0.0, osc_msg("/d_recv", g.encode(), start)))
    bundles.append(osc_bundle(seconds, osc_msg("/g_freeAll", 0)))  # the end
    return b"".join(struct.pack(">i", len(b)) + b for b in bundles)


# ---- rendering and checking --------------------------------------------------

GRAPHS = {"P1": p1, "P2": p2, "POW": powcheck, "EMPTY": lambda: None}


class Fail(Exception):
    pass


class Nrt:
    """Scores for the graphs in `dir`, rendering `seconds` of audio each."""

    def __init__(self, dir, seconds, scsynth=None):
        self.dir, self.seconds, self.scsynth = dir, seconds, scsynth or find()
        for name, make in GRAPHS.items():
            with open(self.path(name, "osc"), "wb") as f:
                f.write(score(make(), seconds))

    def path(self, name, ext):
        return os.path.join(self.dir, "scsynth_%s.%s" % (name.lower(), ext))

    def command(self, name):
        """-D 0: no synthdef directory to load; -o 2: stereo out; no input file."""
        return [self.scsynth, "-D", "0", "-o", "2", "-N", self.path(name, "osc"), "_",
                self.path(name, "wav"), str(RATE), "WAV", "float"]

    def check(self, name, log):
        """Fails loudly unless scsynth rendered the graph: no error in its
        log, the expected length, sound, and the graph's signature."""
        for bad in ("FAILURE", "ERROR", "not found", "exceeded", "error"):
            if bad in log:
                raise Fail("scsynth %s: %r in its output:\n%s" % (name, bad, log))
        rate, (left, right) = read_wav(self.path(name, "wav"))
        # the blocks before the last bundle's frame, and the block it
        # falls in (the synth freed at its start: silent)
        want = (int(round(self.seconds * RATE)) // BLOCK + 1) * BLOCK
        if rate != RATE or len(left) != want:
            raise Fail("scsynth %s: %d frames at %d Hz, expected %d at %d" %
                       (name, len(left), rate, want, RATE))
        {"P1": check_p1, "P2": check_p2, "POW": check_pow, "EMPTY": check_empty}[name](left,
                                                                                     right)
        return left, right


def near(what, got, want, tol):
    if abs(got - want) > tol * abs(want):
        raise Fail("scsynth %s: %.5g, expected %.5g (within %d%%)" % (what, got, want, tol * 100))


def window(x):
    """A second of audio from 0.5 s in (the first 0.5 s if shorter)."""
    a = RATE // 2 if len(x) >= RATE * 3 // 2 else 0
    return x[a:a + RATE]


def level(x):
    """RMS in dBFS over window(x)."""
    w = window(x)
    return 10 * math.log10(sum(v * v for v in w) / len(w) + 1e-30)


def check_p1(left, right):
    """Voice 0 (110 Hz) is panned hard left, voice 63 (2441 Hz) hard right,
    each at amplitude 1/64; the other side holds (almost) none of it."""
    for f, here, there in ((110, left, right), (2441, right, left)):
        near("P1 %d Hz" % f, amplitude(window(here), RATE, f), 1 / 64, 0.05)
        if amplitude(window(there), RATE, f) > 1e-3 / 64:
            raise Fail("scsynth P1: %d Hz on the wrong channel" % f)


def check_p2(left, right):
    """Voice 0 (a 55 Hz saw of peak 0.04 in kanon's terms, hard left) comes
    through the low-pass (cutoff 400 Hz and up) with its fundamental at
    0.04 * 2 / pi, as in kanon's render."""
    near("P2 55 Hz", amplitude(window(left), RATE, 55), 0.04 * 2 / 3.14159265, 0.2)
    if amplitude(window(right), RATE, 55) > 1e-3:
        raise Fail("scsynth P2: 55 Hz on the right channel")


def check_pow(left, right):
    for x in (left[0], right[0]):
        near("1600 * 4 ** 0.5", x, 3200.0, 1e-6)


def check_empty(left, right):
    if any(left) or any(right):
        raise Fail("scsynth EMPTY: sound from an empty score")


def render(nrt, name):
    """One render, checked: scsynth's log (stdout and stderr)."""
    r = subprocess.run(nrt.command(name), capture_output=True, text=True)
    if r.returncode != 0:
        raise Fail("scsynth %s: exit %d\n%s%s" % (name, r.returncode, r.stdout, r.stderr))
    nrt.check(name, r.stdout + r.stderr)
    return r.stdout + r.stderr


def main():
    import tempfile
    from benchargs import arg
    if not find():
        sys.exit(MISSING)
    seconds = arg("--seconds", 2.0)
    with tempfile.TemporaryDirectory(prefix="kanon-scsynth.") as d:
        nrt = Nrt(d, seconds)
        for name in GRAPHS:
            render(nrt, name)
            print("scsynth %s: %g s rendered and checked" % (name, seconds))


if __name__ == "__main__":
    main()
