#!/usr/bin/env python3
"""machine.py - what the machine did to a test, and waits on the audio clock
instead of fixed sleeps (used by lib.sh: machine_mark, underruns_ok,
machine_explains, try_failed, played_wait, recorded_wait, heard_wait).

Everything goes through `kanon status --json` ($PATH and KANON_INSTANCE as
lib.sh sets them) and /proc.

  machine.py mark FILE             the counters now: status, each deck's cartridge
                                   wait for a CPU (/proc/PID/task/*/schedstat), the
                                   machine's steal time (/proc/stat). lib.sh's
                                   machine_mark writes the same without starting python
                                   (FILE.status: status JSON; FILE.proc: /proc/stat's cpu
                                   line, then "pid PID NS" per process named in status)
  machine.py judge [--since FILE] [DECK...]
                                   underruns on DECKs (default: every deck) since FILE
                                   (either form; default: since `up`). None: prints "0 underruns",
                                   exit 0. Some: prints what the machine did and exits 0
                                   only if it explains them, else 1:
                                     - the conductor's audio thread was late: device
                                       underflows, or frames the device played without it
                                       (device_lost_frames);
                                     - the deck's cartridge waited for a CPU (schedstat)
                                       for at least half the ring's target in all (a ring
                                       runs dry only after its producer is late by about
                                       the whole target), or the VM's steal time did.
                                   Printed as well, not judged: late frames, slips, the
                                   overload state, cpu_wait. A deck that underran while
                                   all of these say kanon had its CPU is kanon's fault.
  machine.py excuse [--since FILE] [DECK...]
                                   for a retry, after a try failed: exit 0 only if the
                                   machine's timing disturbed it, printing how: the audio
                                   thread was late (device underflows, device_lost_frames),
                                   or DECKs underran and `judge` puts that down to the
                                   machine. Exit 1 otherwise, printing what it saw: nothing
                                   disturbed the try (the failure is kanon's), or underruns
                                   `judge` calls kanon's
  machine.py heard FRAME [TIMEOUT] until the recording holds timeline frame FRAME (status
                                   recording.timeline_frame + recording.frames)
  machine.py frames N [DECK] [TIMEOUT] [STATUS]
                                   until DECK (default: the first deck) has played N more
                                   frames than when called (status `frames`), or than in
                                   STATUS (a `kanon status --json` taken by the caller, so
                                   python's start-up is not added to the wait)
  machine.py recorded SECONDS [TIMEOUT]
                                   until the recording holds SECONDS (status
                                   recording.frames); prints what it holds
TIMEOUT (default 30 s) only bounds a hang: it is not a timing assertion.
"""
import glob
import json
import os
import subprocess
import sys
import time


def status():
    for _ in range(50):
        try:
            r = subprocess.run(["kanon", "status", "--json"], capture_output=True, text=True)
            if r.returncode == 0:
                return json.loads(r.stdout)
        except (OSError, ValueError):  # the binary is being rebuilt right now
            pass
        time.sleep(0.1)
    sys.exit("kanon status failed")


def run_delay_ns(pid):
    """Time the process's threads spent runnable but waiting for a CPU, or None."""
    total, seen = 0, False
    for f in glob.glob("/proc/%d/task/*/schedstat" % pid):
        try:
            total += int(open(f).read().split()[1])
            seen = True
        except (OSError, ValueError, IndexError):
            pass
    return total if seen else None


def steal_ns():
    try:
        f = open("/proc/stat").readline().split()
        return int(f[8]) * 1e9 / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0


def snapshot():
    s = status()
    waits = {}
    for d in s["decks"]:
        pid = (d.get("cartridge") or {}).get("pid") or 0
        if pid:
            waits[d["name"]] = [pid, run_delay_ns(pid)]
    return {"status": s, "waits": waits, "steal": steal_ns()}


def load_mark(path):
    """A mark from `mark` (JSON) or from lib.sh's machine_mark (.status + .proc)."""
    if os.path.exists(path):
        return json.load(open(path))
    st = json.load(open(path + ".status"))
    ns, steal = {}, 0
    for line in open(path + ".proc"):
        f = line.split()
        if f[:1] == ["cpu"] and len(f) > 8:
            steal = int(f[8]) * 1e9 / os.sysconf("SC_CLK_TCK")
        elif f[:1] == ["pid"] and len(f) == 3 and f[2].isdigit():
            ns[int(f[1])] = int(f[2])
    waits = {}
    for d in st["decks"]:
        pid = (d.get("cartridge") or {}).get("pid") or 0
        if pid in ns:
            waits[d["name"]] = [pid, ns[pid]]
    return {"status": st, "waits": waits, "steal": steal}


def assess(argv):
    """What the machine did since the mark (argv: [--since FILE] [DECK...]): a dict
    with names, under (underruns per deck), audio (the audio thread's late frames,
    described), machine (what explains underruns), facts (printed, not judged),
    told (the underruns, described) and missing (decks not in status)."""
    since = None
    if argv[:1] == ["--since"]:
        since, argv = load_mark(argv[1]), argv[2:]
    now = snapshot()
    s = now["status"]
    s0 = since["status"] if since else {}
    decks0 = {d["name"]: d for d in s0.get("decks", [])}
    names = argv or [d["name"] for d in s["decks"]]
    decks = {d["name"]: d for d in s["decks"]}
    r = {"names": names, "missing": [n for n in names if n not in decks], "under": {},
         "audio": [], "machine": [], "facts": [], "told": ""}
    if r["missing"]:
        return r

    def delta(d, k):
        return (d.get(k) or 0) - (decks0.get(d["name"], {}).get(k) or 0)

    under = r["under"] = {n: delta(decks[n], "underruns") for n in names}
    uf = s["device_underflows"] - s0.get("device_underflows", 0)
    lost = s.get("device_lost_frames", 0) - s0.get("device_lost_frames", 0)
    if uf > 0:
        r["audio"].append("%d device underflows" % uf)
    if lost > 0:
        r["audio"].append("the device played %d frames (%.0f ms) without the audio thread" %
                          (lost, lost * 1000.0 / s["rate"]))
    if not any(under.values()):
        return r
    steal = (now["steal"] - since["steal"]) / 1e6 if since else 0
    half_ring = s["ring_target_ms"] / 2
    machine, facts = r["machine"], r["facts"]
    machine += r["audio"]
    if steal >= half_ring:
        machine.append("the VM lost %.0f ms to steal time" % steal)
    for n in names:
        d = decks[n]
        if not under[n]:
            continue
        pid, w = now["waits"].get(n, [0, None])
        if w is not None:
            old = since["waits"].get(n) if since else None
            base = old[1] if old and old[0] == pid and old[1] is not None else 0
            waited = (w - base) / 1e6
            what = "%s's cartridge %d waited %.0f ms for a CPU%s" % (
                n, pid, waited, "" if base else " (in its life)")
            (machine if waited >= half_ring else facts).append(what)
        for k in ("late_frames", "slips", "inputs_missed"):
            if delta(d, k):
                facts.append("%s %s %d" % (n, k, delta(d, k)))
        if d.get("cpu_wait") is not None:
            facts.append("%s cpu_wait %.1f%%" % (n, d["cpu_wait"]))
    ov = s.get("overload") or {}
    facts.append("overload %s%s" % (ov.get("state"), (": " + ov["why"]) if ov.get("why") else ""))
    facts.append("ring %.0f ms" % s["ring_target_ms"])
    r["told"] = "; ".join("%s %d underruns" % (n, u) for n, u in under.items() if u)
    return r


def underruns_blamed(r):
    """Underruns were told: (0, why) if the machine explains them, else (1, why)."""
    if r["machine"]:
        return 0, "%s, put down to the machine: %s (%s)" % (r["told"], "; ".join(r["machine"]),
                                                            "; ".join(r["facts"]))
    return 1, ("%s while the audio thread kept time (0 device underflows, 0 frames lost) and no "
               "cartridge waited long for a CPU (%s)" % (r["told"], "; ".join(r["facts"])))


def judge(argv):
    r = assess(argv)
    if r["missing"]:
        print("no deck %s in status" % ", ".join(r["missing"]))
        return 1
    if not any(r["under"].values()):
        print("0 underruns (%s)" % ", ".join(r["names"]))
        return 0
    rc, why = underruns_blamed(r)
    print(why if rc == 0 else why + ": kanon's fault")
    return rc


def excuse(argv):
    """For a retry: 0 only if the machine's timing disturbed the try (see the doc)."""
    r = assess(argv)
    if r["missing"]:
        print("no deck %s in status: cannot tell what the machine did" % ", ".join(r["missing"]))
        return 1
    if any(r["under"].values()):
        rc, why = underruns_blamed(r)
        print(("the machine: " if rc == 0 else "not the machine: ") + why)
        return rc
    if r["audio"]:
        print("the machine: the audio thread was late: %s" % "; ".join(r["audio"]))
        return 0
    print("not the machine: 0 underruns (%s), 0 device underflows, 0 frames played without "
          "the audio thread" % ", ".join(r["names"]))
    return 1


def poll(ok, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r = ok()
        if r is not None:
            return r
        time.sleep(0.05)
    return None


def main(argv):
    cmd = argv[0] if argv else ""
    if cmd == "mark":
        json.dump(snapshot(), open(argv[1], "w"))
        return 0
    if cmd == "judge":
        return judge(argv[1:])
    if cmd == "excuse":
        return excuse(argv[1:])
    if cmd == "frames":
        n = int(float(argv[1]))
        name = argv[2] if len(argv) > 2 and argv[2] else None
        timeout = float(argv[3]) if len(argv) > 3 else 30

        def frames(s=None):
            ds = (s or status())["decks"]
            d = [x for x in ds if x["name"] == name] if name else ds[:1]
            return d[0]["frames"] if d else None
        f0 = None
        if len(argv) > 4:
            try:
                f0 = frames(json.load(open(argv[4])))
            except (OSError, ValueError, KeyError):
                pass
        f0 = f0 if f0 is not None else poll(frames, timeout)
        if f0 is None:
            print("no deck %s" % (name or ""))
            return 1
        if poll(lambda: True if (frames() or 0) >= f0 + n else None, timeout) is None:
            print("deck %s did not play %d frames in %g s (%s -> %s)" %
                  (name or "", n, timeout, f0, frames()))
            return 1
        return 0
    if cmd == "heard":
        want, timeout = int(float(argv[1])), float(argv[2]) if len(argv) > 2 else 30

        def upto():  # the timeline frame after the recording's last
            r = status().get("recording") or {}
            return r["timeline_frame"] + r["frames"] if r.get("timeline_frame", -1) >= 0 else None
        if poll(lambda: True if (upto() or 0) > want else None, timeout) is None:
            print("the recording did not reach timeline frame %d in %g s (it holds up to %s)" %
                  (want, timeout, upto()))
            return 1
        return 0
    if cmd == "recorded":
        want, timeout = float(argv[1]), float(argv[2]) if len(argv) > 2 else 30

        def held():
            s = status()
            return s["recording"]["frames"] / s["rate"] if s.get("recording") else 0
        got = poll(lambda: held() if held() >= want else None, timeout)
        if got is None:
            print("the recording did not reach %g s in %g s (%g s)" % (want, timeout, held()))
            return 1
        print("%.3f" % got)
        return 0
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
