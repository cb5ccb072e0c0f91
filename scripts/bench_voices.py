#!/usr/bin/env python3
"""bench_voices.py - the cost of polyphony (`make bench`). Prints markdown.

examples/poly.c (kn_voices; per voice a polyBLEP saw, an ADSR and an SVF
low-pass, each at gcc -O2 in nodes-c, glued by tcc) is rendered for
--seconds of audio (default 20 s at 48 kHz stereo, block 64) holding 0, 1,
8 and 32 notes (a chord given with `kanon render --events`, every note held
to the end; `--set voices=32 demo=0`, so no note is stolen). For each:

  CPU      CPU seconds (user + system, getrusage RUSAGE_CHILDREN) of the
           whole `kanon render` per audio second: includes process start,
           compile and WAV writing, the same for every count
  process  seconds spent in process() and event() per audio second (the
           render's own clock: 1 / process_x of `render --json`): what a
           live deck spends on the audio path

each the median of --runs runs (default 3). Per voice is the CPU slope
between 1 and 32 voices; voices per core is how many voices one core
renders in real time: (1 - the 0-voice render's CPU) / the per-voice CPU.

  python3 scripts/bench_voices.py [--runs N] [--seconds S] [--quick]

The machine may be shared: compare figures measured in the same run.
"""
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile

from benchargs import QUICK, arg

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KANON = os.path.join(ROOT, "build", "bin", "kanon")
POLY = os.path.join(ROOT, "examples", "poly.c")
TMP = tempfile.mkdtemp(prefix="kanon-bench-voices.")
COUNTS = (0, 1, 8, 32)


RUNS = arg("--runs", 1 if QUICK else 3)
SECONDS = arg("--seconds", 4.0 if QUICK else 20.0)


def events(n):
    """n notes, spread over 5 octaves from C2, held to the end."""
    path = os.path.join(TMP, "chord%d.json" % n)
    with open(path, "w") as f:
        json.dump([{"beat": 0, "note": 36 + (i * 7) % 60, "velocity": 100,
                    "dur": SECONDS * 4} for i in range(n)], f)
    return path


def run(n):
    """(CPU s, process s) per audio second of one render holding n notes."""
    cmd = [KANON, "render", POLY, "--seconds", str(SECONDS), "--set", "voices=32",
           "--set", "demo=0", "--events", events(n), "--json", "-o",
           os.path.join(TMP, "out.wav")]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu / SECONDS, 1 / json.loads(out)["process_x"]


def main():
    got = {}
    for n in COUNTS:
        runs = [run(n) for _ in range(RUNS)]
        got[n] = (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))
    print("## Polyphony: kn_voices with examples/poly.c (%g s at 48 kHz stereo, block 64; "
          "median of %d)\n" % (SECONDS, RUNS))
    print("| voices | CPU s per audio s (whole render) | process() s per audio s | "
          "% of one core in process() |")
    print("|---:|---:|---:|---:|")
    for n in COUNTS:
        print("| %d | %.4f | %.5f | %.2f |" % (n, got[n][0], got[n][1], got[n][1] * 100))
    per = (got[32][0] - got[1][0]) / 31
    per_proc = (got[32][1] - got[1][1]) / 31
    fit = (1 - got[0][0]) / per if per > 0 else float("inf")
    print()
    print("Per voice (slope from 1 to 32 voices): %.5f CPU s per audio s (%.2f%% of a core; "
          "%.1f ns per sample, %.2f us per 64-frame block); %.5f s per audio s by process()'s "
          "clock, which a busy machine inflates (it counts time the render waited for a CPU). "
          "Voices that fit in one core in real time: about %d ((1 - the 0-voice render's CPU) / "
          "the per-voice CPU; nothing else on the core). One kn_voices holds at most 32."
          % (per, per * 100, per / 48000 * 1e9, per * 64 / 48000 * 1e6, per_proc, fit))
    print()


main()
