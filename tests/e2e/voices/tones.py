#!/usr/bin/env python3
"""tones.py - the level of given pitches in a window of a recording, for
test_voices.sh.

  tones.py FILE T0 T1 NOTE[:HARMONIC] ...

prints one line per NOTE (MIDI number; :H for its H-th harmonic): the note
and its amplitude in dBFS on channel 0 over [T0, T1) seconds: a
Hann-windowed DFT evaluated at exactly that frequency (A440 tuning), scaled
so that a steady sine of amplitude a reads 20 log10(a). With windows of
0.2 s or more (5 Hz resolution) neighbouring semitones above 100 Hz are
far apart, and a note that is absent reads at the floor of the Hann
window's leakage (below -100 dB relative to a present one)."""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "swap"))
from swaplib import read_wav  # noqa: E402


def amplitude(x, rate, f):
    n = len(x)
    w = [0.5 - 0.5 * math.cos(2 * math.pi * i / n) for i in range(n)]
    step = 2 * math.pi * f / rate
    re = sum(w[i] * x[i] * math.cos(step * i) for i in range(n))
    im = sum(w[i] * x[i] * math.sin(step * i) for i in range(n))
    return 2 * math.hypot(re, im) / sum(w)


def main():
    path, t0, t1 = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    rate, ch = read_wav(path)
    a, b = int(round(t0 * rate)), int(round(t1 * rate))
    if not 0 <= a < b <= len(ch[0]):
        sys.exit("tones.py: window %g..%g s is outside %s" % (t0, t1, path))
    x = ch[0][a:b]
    for spec in sys.argv[4:]:
        note, _, h = spec.partition(":")
        f = 440 * 2 ** ((float(note) - 69) / 12) * (int(h) if h else 1)
        amp = amplitude(x, rate, f)
        print("%s %.2f" % (spec, 20 * math.log10(amp + 1e-12)))


if __name__ == "__main__":
    main()
