#!/usr/bin/env python3
"""bench_midi.py - MIDI in -> first sample on JACK (`make bench`). Prints markdown.

For each period (64 and 256 frames) a private jackd (-R -S -d dummy, 48000 Hz) runs; a
do-nothing client (tests/tools/kn_probe) counts the server's xruns for 3 s first (the
machine's, not kanon's). Then `kanon up --backend jack --block 64` and a deck playing
tests/e2e/midi/gate.c (its output steps to velocity/256 on a note on's sample, and it sends
the note back with kn_midi_out on that sample). kn_jack_midi (tests/tools) sends a note on
into kanon:midi_in at a known server frame and records kanon's output port and
kanon:midi_out, TAKES times: the delay from the note to the first sample that carries it is
MIDI in -> first sample, which kanon reports as status midi.latency_frames (period + ring
target + block + 15 ms for the control thread: docs/midi.md); the echo's frame minus the
step's is MIDI out's error against the audio (0).

`bench_midi.py --quick` makes fewer takes.
"""
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_input as bi  # noqa: E402  (its private jackd, kanon instance and helpers)

ROOT, run, status, wait = bi.ROOT, bi.run, bi.status, bi.wait
TAKES = 5 if "--quick" in sys.argv else 20


def one_take(left):
    """(delay, echo error) of one note, or None if the machine disturbed the take."""
    before = status()["midi"]
    r = run("kn_jack_midi", "--to", "kanon:midi_in", "--midi-from", "kanon:midi_out", "--from",
            left, "--send", "200:0x90,60,100", "--send", "4000:0x80,60,0", "--seconds", "0.3",
            "--lead", "0.05", check=False)
    after = status()["midi"]
    if r.returncode or after["late"] != before["late"]:
        return None
    rep = json.loads(r.stdout)
    steps = rep["ports"][0]["steps"]
    echo = [m for m in rep["midi"] if m[1] == 0x90]
    if rep["skipped_cycles"] or not steps or not echo:
        return None
    return steps[0][0] - rep["sent"][0][0], echo[0][0] - steps[0][0]


def one_period(period):
    jack, idle = bi.start_jack(period)
    try:
        if idle is None:
            return "| %d | jackd did not start | | | | |" % period
        run("kanon", "up", "--backend", "jack", "--block", "64")
        run("kanon", "play", os.path.join(ROOT, "tests", "e2e", "midi", "gate.c"), "--deck", "gate")
        wait(lambda: status()["decks"][0]["cartridge"]["state"] == "running")
        left = [p for p in run("jack_lsp").stdout.splitlines()
                if p.startswith("kanon:") and "midi" not in p][0]
        got, bad = [], 0
        for _ in range(TAKES):
            t = one_take(left)
            if t is None:
                bad += 1
            else:
                got.append(t)
        lat = status()["midi"]["latency_frames"]
        ms = lambda f: f * 1000.0 / 48000
        delays = [d for d, _ in got]
        same = sum(1 for d in delays if d == lat)
        echo = sorted(set(e for _, e in got))
        return ("| %d (%.2f ms) | %s | %d (%.2f ms) | %s | %d of %d%s | %s |"
                % (period, ms(period), idle, lat, ms(lat),
                   "%d..%d" % (min(delays), max(delays)) if delays else "-", same, len(got),
                   " (%d disturbed)" % bad if bad else "", echo if echo else "-"))
    finally:
        run("kanon", "down", check=False)
        jack.terminate()
        jack.wait()


def main():
    print("## MIDI in -> first sample on JACK (jackd -R -S -d dummy; --block 64; %d notes per "
          "period)\n" % TAKES)
    print("reported: status midi.latency_frames (period + ring target + block + 15 ms); "
          "measured: kn_jack_midi's note on from its server frame to the first sample of "
          "kanon's output that carries it; MIDI out vs audio: the frame at which the deck's "
          "kn_midi_out echo leaves kanon:midi_out minus the frame of that first sample. Idle "
          "xruns: a do-nothing client, 3 s, before kanon starts.\n")
    if not shutil.which("jackd"):
        print("jackd not installed: skipped\n")
        return
    print("| period | idle xruns / 3 s | reported | measured | = reported | MIDI out vs audio |")
    print("|---|---|---|---|---|---|")
    try:
        for period in (64, 256):
            print(one_period(period))
    finally:
        run("kanon", "down", check=False)
        shutil.rmtree(bi.TMP, ignore_errors=True)
    print()


if __name__ == "__main__":
    main()
