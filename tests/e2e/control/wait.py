#!/usr/bin/env python3
"""wait.py - polling helpers for the Control tests, one python process per wait
(starting python for every poll would cost more than the poll).

Everything goes through the `kanon` CLI on $PATH (KANON_INSTANCE set by lib.sh).
Each waits up to --timeout seconds (default 20: it only bounds a hang, it is not
a timing assertion), exits 1 with a message on stdout if the condition never
held.

  wait.py record FILE              `kanon record start FILE`, noting the device's frame
                                   count just before it (in $CTL_STATE) for `window`
  wait.py rec-secs                 seconds recorded so far (status recording.frames / rate):
                                   the writer thread may lag behind the audio, so this is
                                   a lower bound of where something heard now lands
  wait.py rec SECONDS              until the recording holds SECONDS; prints rec-secs
  wait.py meters PYEXPR [MARGIN]   until PYEXPR holds on `kanon meters --json` (m; decks
                                   by name in d); prints rec-secs + MARGIN (default 0)
  wait.py param DECK.NAME VALUE [MARGIN]
                                   until the parameter's value and current both equal
                                   VALUE; prints rec-secs + MARGIN (default 0)
  wait.py status PYEXPR            until PYEXPR holds on `kanon status --json` (s; decks
                                   by name in d)
  wait.py window MARGIN LENGTH     a stretch of the recording that starts MARGIN seconds
                                   after anything the mixer has mixed by now, is free of
                                   underruns, and is recorded: prints START such that
                                   [START, START + LENGTH] is in the file and no deck's
                                   underrun count or cartridge changed while it was mixed
                                   (else it tries a later stretch, up to 5 times). "Mixed by now" is
                                   bounded with the device's frame count (status `frames`)
                                   since just before `record` (not with rec-secs, which
                                   lags when the writer thread is starved), so MARGIN
                                   need only cover one device period (~0.11 s on the dummy
                                   backend) plus whatever lies ahead of the mixer (a
                                   deck's ring, ~0.12 s, for a parameter change).
"""
import json
import math
import os
import subprocess
import sys
import time


def kanon_json(*args):
    try:
        r = subprocess.run(["kanon", *args, "--json"], capture_output=True, text=True)
    except OSError:  # the binary is being rebuilt right now: try again
        return None
    if r.returncode != 0:
        return None
    try:
        return json.loads(r.stdout)
    except ValueError:
        return None


STATE = os.environ.get("CTL_STATE", "")


def rec_secs():
    s = kanon_json("status")
    if not s or not s.get("recording"):
        return None
    return s["recording"]["frames"] / s["rate"]


def poll(fn, what, timeout):
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v is not None and v is not False:
            return v
        if time.monotonic() > end:
            print("gave up waiting (%.0f s) for %s" % (timeout, what))
            sys.exit(1)
        time.sleep(0.02)


def by_name(j, key):
    return {x["name"]: x for x in j.get(key, [])} if j else {}


def main(argv):
    timeout = 20.0
    if "--timeout" in argv:
        i = argv.index("--timeout")
        timeout = float(argv[i + 1])
        del argv[i:i + 2]
    cmd, args = argv[1], argv[2:]
    if cmd == "record":
        s = kanon_json("status")
        if not s or not STATE:
            print("no status (or CTL_STATE unset)")
            return 1
        r = subprocess.run(["kanon", "record", "start", args[0]], capture_output=True, text=True)
        if r.returncode != 0:
            print("kanon record start: " + r.stdout + r.stderr)
            return 1
        json.dump({"frames0": s["frames"], "rate": s["rate"]}, open(STATE, "w"))
    elif cmd == "rec-secs":
        v = rec_secs()
        if v is None:
            print("not recording")
            return 1
        print("%.4f" % (math.floor(v * 1e4) / 1e4))  # a lower bound: never rounded up
    elif cmd == "rec":
        want = float(args[0])
        v = poll(lambda: (lambda x: x if x is not None and x >= want else None)(rec_secs()),
                 "the recording to reach %s s" % want, timeout)
        print("%.4f" % v)
    elif cmd == "meters":
        expr = compile(args[0], "meters condition", "eval")
        margin = float(args[1]) if len(args) > 1 else 0.0

        def ok():
            m = kanon_json("meters")
            if not m:
                return None
            try:
                return bool(eval(expr, {}, {"m": m, "d": by_name(m, "decks")}))
            except (KeyError, IndexError, TypeError):
                return None
        poll(ok, "the meters to show %s" % args[0], timeout)
        print("%.4f" % (rec_secs() + margin))
    elif cmd == "param":
        deck_name, value = args[0], float(args[1])
        margin = float(args[2]) if len(args) > 2 else 0.0

        def ok():
            p = kanon_json("get", deck_name)
            return bool(p and p["value"] == value and p["current"] == value)
        poll(ok, "%s to reach %s" % (deck_name, args[1]), timeout)
        r = rec_secs()
        print("%.4f" % (r + margin) if r is not None else "not recording")
    elif cmd == "status":
        expr = compile(args[0], "status condition", "eval")

        def ok():
            s = kanon_json("status")
            try:
                return bool(s and eval(expr, {}, {"s": s, "d": by_name(s, "decks")}))
            except (KeyError, IndexError, TypeError):
                return None
        poll(ok, "status to show %s" % args[0], timeout)
    elif cmd == "window":
        margin, length = float(args[0]), float(args[1])
        base = json.load(open(STATE))

        def snap():
            s = poll(lambda: (lambda j: j if j and j.get("recording") else None)(kanon_json("status")),
                     "a status while recording", timeout)
            # every frame mixed so far lies before this point of the file
            return ((s["frames"] - base["frames0"]) / s["rate"],
                    [(d["name"], d["underruns"], d["cartridge"]["id"]) for d in s["decks"]])
        for attempt in range(5):
            mixed, u0 = snap()
            start = mixed + margin
            poll(lambda: (lambda x: x if x is not None and x >= start + length + 0.05 else None)(rec_secs()),
                 "the recording to reach %.3f s" % (start + length + 0.05), timeout)
            _, u1 = snap()
            if u1 == u0:
                print("%.4f" % start)
                return 0
            print("%s -> %s around %.3f..%.3f s; trying a later window" % (u0, u1, start, start + length),
                  file=sys.stderr)
            margin = 0.15
        print("no stretch of %.2f s without underruns or a cartridge change in 5 tries: %s -> %s" % (length, u0, u1))
        return 1
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
