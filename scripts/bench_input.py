#!/usr/bin/env python3
"""bench_input.py - the audio input's round trip on JACK (`make bench`). Prints markdown.

For each period (64 and 256 frames) a private jackd (-R -S -d dummy, 48000 Hz) runs; a
do-nothing client (tests/tools/kn_probe) counts the server's xruns for 3 s first (the
machine's, not kanon's). Then `kanon up --backend jack --inputs 1 --block 64`, an effect
deck (tests/e2e/input/fx.c: half of its input) and `kanon route in fx`. kn_jack_loop
(tests/tools) writes a one-sample impulse into kanon:in_1 and records kanon's output from
the same server frame, TAKES times: the delay it measures is the latency from kanon's
capture port to its output port, which kanon reports as status input.latency_frames
(ring target and a block ahead of the device, plus one period: docs/input.md). With the
hardware's capture and playback latency (what JACK reports for the ports kanon is
connected to) it is the round trip a musician hears.

`bench_input.py --quick` makes fewer takes.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bin")
TOOLS = os.path.join(ROOT, "build", "tools")
TMP = tempfile.mkdtemp(prefix="kanon-bench-input.")
ENV = dict(os.environ, PATH=BIN + ":" + TOOLS + ":" + os.environ["PATH"],
           KANON_INSTANCE="bench-input", XDG_STATE_HOME=os.path.join(TMP, "state"),
           JACK_NO_AUDIO_RESERVATION="1", JACK_DEFAULT_SERVER="kanon-bench-input")
TAKES = 5 if "--quick" in sys.argv else 20


def run(*args, check=True):
    return subprocess.run(args, env=ENV, capture_output=True, text=True, check=check)


def status():
    return json.loads(run("kanon", "status", "--json").stdout)


def wait(cond, secs=10):
    end = time.time() + secs
    while time.time() < end:
        try:
            if cond():
                return True
        except (subprocess.CalledProcessError, KeyError, IndexError, ValueError):
            pass
        time.sleep(0.05)
    return False


def outputs():
    lines = run("jack_lsp", "-p").stdout.splitlines()
    return [n for n, p in zip(lines[0::2], lines[1::2])
            if n.startswith("kanon") and ":" in n and "output" in p and ":midi_" not in n]


def start_jack(period):
    """A private jackd at `period` frames: (its process, a do-nothing client's xruns in 3 s,
    or None if it did not start). bench_midi.py uses it too."""
    jack = subprocess.Popen(["jackd", "-R", "-S", "-d", "dummy", "-r", "48000", "-p", str(period)],
                            env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not wait(lambda: run("jack_lsp", check=False).returncode == 0):
        return jack, None
    r = run(os.path.join(TOOLS, "kn_probe"), "jack", "--seconds", "3", check=False)
    return jack, json.loads(r.stdout)["xruns"] if r.returncode == 0 else "?"


def one_period(period):
    jack, idle = start_jack(period)
    try:
        if idle is None:
            return "| %d | jackd did not start | | | | | | |" % period
        run("kanon", "up", "--backend", "jack", "--inputs", "1", "--block", "64")
        run("kanon", "play", os.path.join(ROOT, "tests", "e2e", "input", "fx.c"), "--deck", "fx")
        run("kanon", "route", "in", "fx")
        wait(lambda: len(outputs()) == 2 and status()["input"]["live"])
        outs = outputs()
        got, bad = [], 0
        for _ in range(TAKES):
            r = run("kn_jack_loop", "--to", "kanon:in_1", "--from", outs[0], "--impulse", "0.5",
                    "--seconds", "0.3", "--lead", "0.05")
            rep = json.loads(r.stdout)
            if rep["skipped_cycles"] or rep["ports"][0]["value"] != 0.25:
                bad += 1  # a cycle missed, or fx ran dry on the impulse: the machine's
            else:
                got.append(rep["delay"])
        s = status()
        inp = s["input"]
        lat, hw = inp["latency_frames"], inp["hardware_frames"]
        ms = lambda f: f * 1000.0 / 48000
        same = sum(1 for d in got if d == lat)
        return ("| %d (%.2f ms) | %s | %d (%.2f ms) | %s | %d of %d%s | %d (%.2f ms) | %.1f | %d, %d |"
                % (period, ms(period), idle, lat, ms(lat),
                   "%d..%d" % (min(got), max(got)) if got else "-", same, len(got),
                   " (%d disturbed)" % bad if bad else "", lat + hw, ms(lat + hw),
                   (lat + hw) / period, inp["restamps"], s["decks"][0]["underruns"]))
    finally:
        run("kanon", "down", check=False)
        jack.terminate()
        jack.wait()


def main():
    print("## Audio input on JACK: capture port to output port (jackd -R -S -d dummy; "
          "--block 64; %d impulses per period)\n" % TAKES)
    print("reported: status input.latency_frames (period + ring target + block); measured: "
          "kn_jack_loop's impulse through an effect deck, from kanon:in_1 to kanon's output; "
          "with the hardware: plus the capture and playback latency JACK reports for the "
          "ports kanon is connected to (the dummy driver's), the round trip a player hears. "
          "Idle xruns: a do-nothing client, 3 s, before kanon starts.\n")
    if not shutil.which("jackd"):
        print("jackd not installed: skipped\n")
        return
    print("| period | idle xruns / 3 s | reported | measured | = reported | with the hardware "
          "| / period | restamps, fx underruns |")
    print("|---|---|---|---|---|---|---|---|")
    try:
        for period in (64, 256):
            print(one_period(period))
    finally:
        run("kanon", "down", check=False)
        shutil.rmtree(TMP, ignore_errors=True)
    print()


if __name__ == "__main__":
    main()
