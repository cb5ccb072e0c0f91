"""swaplib.py - shared helpers for the hot-swap end-to-end tests (python3 stdlib only).

Imported by the python parts of tests/e2e/test_swap_*.sh and test_history.sh
(`sys.path.insert(0, "$ROOT/tests/e2e/swap")`). Everything talks to the real
conductor through the `kanon` CLI on $PATH (lib.sh puts build/bin there and
sets KANON_INSTANCE), and reads recordings with a small RIFF parser.

  Fail(msg)                      raised by every check; tests print "FAIL: msg"
  kanon(*args)                   run the CLI, return stdout (Fail on non-zero exit)
  status() / deck(name)          parsed `kanon status --json` / one deck of it
  events(deck) / history(deck)   parsed `kanon log DECK --json` / `kanon history DECK --json`
  running_events(deck)           the "running" events of a deck (takeovers)
  wait_until(fn, what, timeout)  poll fn() until it returns something truthy
  wait_version(deck, v)          until status says the deck plays version >= v
  advance(deck, frames)          until the deck has played `frames` more frames
  wait_idle(deck)                until no successor is compiling or waiting
  check_deck(deck, v[, fade])    plays v after takeovers 1..v; no underrun, NaN, fault, error
  read_wav(path)                 (rate, [channel arrays of float])
  save_*(path, data)             the ways editors save a file (see each)
  find_takeover, check_handover  a recording against a reference render (see below)
Also a small command line for the shell parts (see the end of the file).
"""
import array
import json
import os
import struct
import subprocess
import time


class Fail(Exception):
    pass


def kanon(*args, ok=True):
    r = subprocess.run(["kanon", *args], capture_output=True, text=True)
    if ok and r.returncode != 0:
        raise Fail("kanon %s: exit %d: %s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
    return r.stdout


def status():
    return json.loads(kanon("status", "--json"))


def deck(name):
    for d in status()["decks"]:
        if d["name"] == name:
            return d
    raise Fail("no deck %s in `kanon status`" % name)


def events(name=None):
    args = ["log"] + ([name] if name else []) + ["--json"]
    return json.loads(kanon(*args))


def running_events(name):
    return [e for e in events(name) if e["kind"] == "running"]


def history(name):
    return json.loads(kanon("history", name, "--json"))


def wait_until(fn, what, timeout=15.0, every=0.02):
    """Polls fn() until it returns a truthy value (returned). Fail after timeout s:
    the timeout only bounds a hang, it is not a timing assertion."""
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > end:
            raise Fail("gave up waiting (%.0f s) for %s" % (timeout, what))
        time.sleep(every)


def _recent(name, n=6):
    """The deck's state and last events, for failure messages."""
    try:
        d = deck(name)
        ev = events(name)[-n:]
        return " [deck: version %s, cartridge %s, next %s; last events: %s]" % (
            d["version"], d["cartridge"], d.get("next"),
            " | ".join("%s %s" % (e["kind"], e["text"]) for e in ev))
    except Fail as e:
        return " [%s]" % e


def wait_version(name, v, timeout=15.0):
    try:
        return wait_until(lambda: (lambda d: d["version"] >= v and d)(deck(name)),
                          "deck %s to play version %d" % (name, v), timeout)
    except Fail as e:
        raise Fail(str(e) + _recent(name))


def advance(name, frames, timeout=30.0):
    """Until the deck has played `frames` more frames (deck["frames"] counts the
    frames the mixer took from its ring, i.e. what a recording holds): a
    condition on the audio clock instead of a sleep."""
    n0 = deck(name)["frames"]
    try:
        return wait_until(lambda: deck(name)["frames"] >= n0 + frames,
                          "deck %s to play %d more frames" % (name, frames), timeout, every=0.02)
    except Fail as e:
        raise Fail(str(e) + _recent(name))


def wait_idle(name, timeout=15.0):
    """Until the deck has no successor compiling or waiting."""
    try:
        return wait_until(lambda: "next" not in deck(name), "deck %s to be idle" % name, timeout)
    except Fail as e:
        raise Fail(str(e) + _recent(name))


def check_deck(name, version, fade=None, errors=0):
    """The deck plays `version`, reached by takeovers of versions 1..version in
    order; 0 underruns, 0 non-finite samples, no fault, `errors` error events
    (and `fade_ms` == fade if given). Returns the deck's status."""
    d = deck(name)
    ev = events(name)
    texts = ["%s: %s" % (e["kind"], e["text"]) for e in ev if e["kind"] not in ("compiling", "running")]
    if [e for e in ev if e["kind"] == "fault"]:
        raise Fail("deck %s faulted: %s" % (name, texts))
    if len([e for e in ev if e["kind"] == "error"]) != errors:
        raise Fail("deck %s: want %d error events: %s" % (name, errors, texts))
    run = [e["version"] for e in ev if e["kind"] == "running"]
    if run != list(range(1, version + 1)):
        raise Fail("deck %s: takeovers of versions %s, want 1..%d (%s)" % (name, run, version, texts))
    if d["version"] != version or d["underruns"] or d["nonfinite"]:
        raise Fail("deck %s: version %d (want %d), underruns %d, nonfinite %d"
                   % (name, d["version"], version, d["underruns"], d["nonfinite"]))
    if fade is not None and d["fade_ms"] != fade:
        raise Fail("deck %s: fade_ms %s, want %s" % (name, d["fade_ms"], fade))
    return d


def read_wav(path):
    """A float32 WAV as (rate, [array('f') per channel])."""
    with open(path, "rb") as f:
        b = f.read()
    if b[:4] != b"RIFF" or b[8:12] != b"WAVE":
        raise Fail("%s: not a RIFF/WAVE file" % path)
    pos, fmt, data = 12, None, None
    while pos + 8 <= len(b):
        cid = b[pos:pos + 4]
        size = struct.unpack_from("<I", b, pos + 4)[0]
        body = b[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            fmt = body
        elif cid == b"data":
            data = body
        pos += 8 + size + (size & 1)
    if fmt is None or data is None:
        raise Fail("%s: no fmt or data chunk" % path)
    tag, ch, rate, _, _, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == 0xFFFE:
        tag = struct.unpack_from("<H", fmt, 24)[0]
    if tag != 3 or bits != 32:
        raise Fail("%s: not float32 (format %d, %d bits)" % (path, tag, bits))
    a = array.array("f")
    a.frombytes(data[:len(data) // (4 * ch) * 4 * ch])
    return rate, [a[c::ch] for c in range(ch)]


# ---- the ways editors and tools save a file -------------------------------

def _write_all(fd, data):
    while data:
        n = os.write(fd, data)
        data = data[n:]


def save_truncate(path, data):
    """Truncate and write (shell `>`, most simple editors): O_TRUNC, write, close."""
    with open(path, "wb") as f:
        f.write(data)


def save_in_place(path, data):
    """Open the existing file O_WRONLY without truncating, overwrite, then cut it
    to the new length (editors that rewrite in place)."""
    fd = os.open(path, os.O_WRONLY)
    try:
        _write_all(fd, data)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


def save_chunks(path, data, chunks=4, pause=0.02):
    """One open, several writes with a flush and a short sleep between them."""
    with open(path, "wb") as f:
        step = max(1, (len(data) + chunks - 1) // chunks)
        for i in range(0, len(data), step):
            f.write(data[i:i + step])
            f.flush()
            os.fsync(f.fileno())
            time.sleep(pause)


def save_rename(path, data, tmpname=None):
    """Write a temporary file in the same directory, then rename it over the
    original (vim, VS Code, emacs): the inode changes."""
    d, base = os.path.split(path)
    tmp = os.path.join(d, tmpname or ("." + base + ".swp"))
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


def save_cp(path, data, srcdir):
    """`cp` from a file elsewhere (O_TRUNC on the destination, write, close)."""
    src = os.path.join(srcdir, "cp-source.c")
    with open(src, "wb") as f:
        f.write(data)
    subprocess.run(["cp", src, path], check=True)


SAVERS = [save_truncate, save_in_place, save_rename, save_chunks]


# ---- a recording against a reference render -------------------------------
# Both helpers take mono sample sequences: x (a recorded channel), and the
# reference renders `old` (the outgoing code as if it never stopped) and
# `new` (the incoming code from the takeover on, starting from the state the
# outgoing code left). Deck frame f is recorded at x[base + f].

def find_takeover(x, old, tol=1e-6):
    """(base, S): base = the recording index of deck frame 0 (the sample before
    the first non-silent one: the recording starts before `kanon play`, and
    these programs output 0 at frame 0); S = the first deck frame where x
    leaves `old`, rounded down to a block boundary (64)."""
    onset = next((i for i, v in enumerate(x) if abs(v) > 1e-6), None)
    if onset is None or onset < 1:
        raise Fail("no silent lead-in before the deck started (onset %s)" % onset)
    base = onset - 1
    f1 = next((f for f in range(min(len(x) - base, len(old))) if abs(x[base + f] - old[f]) > tol), None)
    if f1 is None:
        raise Fail("the recording never leaves the old code")
    return base, 64 * ((f1 - 1) // 64)


def f32(v):
    """v rounded to a C float."""
    return struct.unpack("f", struct.pack("f", v))[0]


def check_handover(x, old, new, base, S, F, rate, tol=1e-6):
    """Frames < S equal old, frames >= S+F equal new (within tol); in between a
    linear crossfade old + g*(new-old), g ~ (f-S)/F, never louder than the
    louder of the two; no 10 ms window quieter than RMS 0.08 (no dropout, no
    silent crossfade). Returns (crossfade gains checked, lowest window RMS)."""
    import math
    n = len(x) - base
    if n < S + F + rate // 4 or len(old) < n or len(new) < n:
        raise Fail("recording ends %d frames after the takeover (or the reference is short)" % (n - S))
    if any(x[i] != 0 for i in range(base + 1)):
        raise Fail("sound before the deck's frame 0")
    for f in range(S):
        if abs(x[base + f] - old[f]) > tol:
            raise Fail("deck frame %d (before the takeover at %d): %r, want the old code's %r"
                       % (f, S, x[base + f], old[f]))
    for f in range(S + F, n):
        if abs(x[base + f] - new[f]) > tol:
            raise Fail("deck frame %d (after the takeover at %d, fade %d): %r, want the new code's %r"
                       % (f, S, F, x[base + f], new[f]))
    est = 0
    for f in range(S, S + F):
        y, a, b = x[base + f], old[f], new[f]
        # the successor's crossfade (live.c), in float: old + g * (new - old), g = (f-S)/F
        exact = f32(a + f32(f32(f32(f - S) / f32(F)) * f32(b - a)))
        if abs(y - exact) > tol:
            raise Fail("crossfade frame %d: %r, want %r = old %r + %d/%d of (new %r - old): the "
                       "crossfade is not old and new code at this very frame" %
                       (f, y, exact, a, f - S, F, b))
        if abs(y) > max(abs(a), abs(b)) + tol:
            raise Fail("crossfade frame %d: |%r| exceeds both signals (%r, %r)" % (f, y, a, b))
        if abs(b - a) > 0.02:
            g, want = (y - a) / (b - a), (f - S) / F
            if abs(g - want) > 2.0 / F + 1e-3:
                raise Fail("crossfade frame %d: gain %.4f, want a linear %.4f" % (f, g, want))
            est += 1
    if F and est < F // 4:
        raise Fail("only %d crossfade frames could be checked" % est)
    win = rate // 100
    worst = min(math.sqrt(sum(v * v for v in x[i:i + win]) / win)
                for i in range(base + 1, len(x) - win, win // 2))
    if worst < 0.08:
        raise Fail("a 10 ms window has RMS %.4f: a dropout or a silent crossfade" % worst)
    if F:
        xf = math.sqrt(sum(v * v for v in x[base + S:base + S + F]) / F)
        if xf < 0.08:
            raise Fail("crossfade region RMS %.4f: silent" % xf)
    return est, worst


if __name__ == "__main__":
    # For shell tests: swaplib.py wait-version DECK V | advance DECK FRAMES | wait-idle DECK |
    #                  check-deck DECK VERSION [FADE_MS]
    import sys
    try:
        cmd, name = sys.argv[1], sys.argv[2]
        if cmd == "wait-version":
            wait_version(name, int(sys.argv[3]))
        elif cmd == "advance":
            advance(name, int(sys.argv[3]))
        elif cmd == "wait-idle":
            wait_idle(name)
        elif cmd == "check-deck":
            d = check_deck(name, int(sys.argv[3]), float(sys.argv[4]) if len(sys.argv) > 4 else None)
            print("  ok: deck %s plays v%d after takeovers 1..%d; 0 underruns, 0 non-finite, no fault or error"
                  % (name, d["version"], d["version"]))
        else:
            raise Fail("unknown command %s" % cmd)
    except Fail as e:
        print("FAIL:", e, file=sys.stderr)
        sys.exit(1)
