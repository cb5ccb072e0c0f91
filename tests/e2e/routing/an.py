#!/usr/bin/env python3
"""an.py - exact checks of a float32 recording for tests/e2e/test_routing.sh
(python3 stdlib only: the wave module reads PCM only, so the WAV is parsed here).

  an.py FILE CHECKS      runs every check listed in the file CHECKS, one a line,
                         prints "  ok: NAME ..." or "FAIL: NAME ..." for each and
                         exits 1 if any failed.

A check line is `KIND NAME START LENGTH ARGS...` (START and LENGTH in seconds
of the recording; LENGTH "end" means up to the end). Values are python
expressions over f32(x) (x rounded to float32), db(x) (10^(x/20) as the mixer
computes it: in double, then rounded to float32) and mul(a, b) (a float32
product), written without spaces:

  exact NAME S L LEFT RIGHT   every frame of the window is exactly LEFT on
                              channel 0 and RIGHT on channel 1 ("-": any)
  glide NAME S L CH FROM TO MIN MAX STEP
                              channel CH starts exactly at FROM, ends exactly
                              at TO, moves once, monotonically, through
                              MIN..MAX frames strictly between them, never by
                              more than STEP from one frame to the next
  steps NAME S L CH STEP      no step larger than STEP on channel CH
  finite NAME S L             no NaN or Inf in the window (every channel)
  zeros NAME S L CH N         a run of at least N frames of exact 0 on CH
  floor NAME S L CH VALUE     no frame of CH below VALUE (a bed of VALUE with
                              clicks on top: no gap in it)
  clicks NAME S L N           at least N clicks (|x| > 0.25) on channel 0, and
                              channel 1 has its clicks on exactly the same frames
"""
import struct
import sys
from array import array


def read_float_wav(path):
    d = open(path, "rb").read()
    assert d[:4] == b"RIFF" and d[8:12] == b"WAVE", path
    i, fmt, data = 12, None, None
    while i + 8 <= len(d):
        cid, size = d[i:i + 4], struct.unpack("<I", d[i + 4:i + 8])[0]
        body = d[i + 8:i + 8 + size]
        if cid == b"fmt ":
            tag, ch, rate = struct.unpack("<HHI", body[:8])
            bits = struct.unpack("<H", body[14:16])[0]
            if tag == 0xFFFE:
                tag = struct.unpack("<H", body[24:26])[0]
            assert tag == 3 and bits == 32, (path, "not float32", tag, bits)
            fmt = (rate, ch)
        elif cid == b"data":
            data = array("f")
            data.frombytes(body[:len(body) // 4 * 4])
        i += 8 + size + (size & 1)
    assert fmt and data is not None, path
    if sys.byteorder != "little":
        data.byteswap()
    return fmt[0], fmt[1], data


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def db(x):
    return f32(10 ** (x / 20))


def mul(a, b):
    return f32(f32(a) * f32(b))


def value(expr):
    return f32(eval(expr, {"f32": f32, "db": db, "mul": mul}))


def main(path, checks):
    rate, nch, x = read_float_wav(path)
    frames = len(x) // nch
    bad = 0
    for line in open(checks):
        if not line.strip():
            continue
        kind, name, s, l, *args = line.split()
        a = max(0, int(float(s) * rate))
        b = frames if l == "end" else a + int(float(l) * rate)
        if b > frames or a >= b:
            print("FAIL: %s: window %s+%s s is not in the recording (%.3f s)" % (name, s, l, frames / rate))
            bad += 1
            continue
        chan = lambda c: x[a * nch + c:b * nch:nch]
        where = "[%.3f, %.3f) s" % (a / rate, b / rate)
        msg = None
        if kind == "exact":
            info = []
            for c, e in enumerate(args[:2]):
                if e == "-":
                    continue
                want, got = value(e), chan(c)
                off = [i for i, v in enumerate(got) if v != want]
                if off:
                    i = off[0]
                    msg = "channel %d: %d of %d frames differ from %r (%s), the first at %.4f s: %r" % (
                        c, len(off), len(got), want, e, (a + i) / rate, got[i])
                    break
                info.append("ch%d == %r" % (c, want))
            ok = "%s on all %d frames %s" % (", ".join(info), b - a, where)
        elif kind == "glide":
            c, lo, hi = int(args[0]), value(args[1]), value(args[2])
            nmin, nmax, step = int(args[3]), int(args[4]), float(args[5])
            v = chan(c)
            between = [i for i, y in enumerate(v) if min(lo, hi) < y < max(lo, hi)]
            inside = set(between)
            outside = [i for i, y in enumerate(v) if y not in (lo, hi) and i not in inside]
            ms = max(abs(v[i] - v[i - 1]) for i in range(1, len(v)))
            if v[0] != lo or v[-1] != hi:
                msg = "starts at %r, ends at %r: want %r -> %r" % (v[0], v[-1], lo, hi)
            elif outside:
                msg = "%d frames outside [%r, %r], the first at %.4f s: %r" % (
                    len(outside), lo, hi, (a + outside[0]) / rate, v[outside[0]])
            elif between and between[-1] - between[0] + 1 != len(between):
                msg = "the value moves more than once (intermediate frames %.4f..%.4f s, %d of them)" % (
                    (a + between[0]) / rate, (a + between[-1]) / rate, len(between))
            elif not nmin <= len(between) <= nmax:
                msg = "%d frames between the levels, want %d..%d" % (len(between), nmin, nmax)
            elif ms > step:
                msg = "a step of %.3g (limit %.3g)" % (ms, step)
            elif any((v[i] - v[i - 1]) * (hi - lo) < 0 for i in range(1, len(v))):
                msg = "not monotonic"
            ok = "%r -> %r over %d frames at %.4f s, largest step %.3g (limit %.3g)" % (
                lo, hi, len(between), (a + (between[0] if between else 0)) / rate, ms, step)
        elif kind == "steps":
            c, step = int(args[0]), float(args[1])
            v = chan(c)
            ms, at = max((abs(v[i] - v[i - 1]), i) for i in range(1, len(v)))
            if ms > step:
                msg = "a step of %.3g at %.4f s (limit %.3g)" % (ms, (a + at) / rate, step)
            ok = "largest step %.3g %s (limit %.3g)" % (ms, where, step)
        elif kind == "finite":
            w = x[a * nch:b * nch]
            n = sum(1 for v in w if v != v or v in (float("inf"), float("-inf")))
            if n:
                msg = "%d non-finite samples %s" % (n, where)
            ok = "no NaN or Inf %s" % where
        elif kind == "zeros":
            c, want = int(args[0]), int(args[1])
            run = best = 0
            for v in chan(c):
                run = run + 1 if v == 0 else 0
                best = max(best, run)
            if best < want:
                msg = "the longest run of silence is %d frames, want >= %d %s" % (best, want, where)
            ok = "silent for %d frames %s" % (best, where)
        elif kind == "floor":
            c, want = int(args[0]), value(args[1])
            v = chan(c)
            low = [i for i, y in enumerate(v) if not y >= want]
            if low:
                msg = "%d frames below %r, the first at %.4f s: %r" % (
                    len(low), want, (a + low[0]) / rate, v[low[0]])
            ok = "channel %d never below %r %s" % (c, want, where)
        elif kind == "clicks":
            want = int(args[0])
            left = [i for i, v in enumerate(chan(0)) if abs(v) > 0.25]
            right = [i for i, v in enumerate(chan(1)) if abs(v) > 0.25]
            if len(left) < want:
                msg = "%d clicks on the left (dry), want >= %d" % (len(left), want)
            elif left != right:
                offs = sorted(set(r - l for l, r in zip(left, right)))
                msg = "dry clicks at %s, processed at %s (offsets %s frames)" % (
                    [(a + i) for i in left[:4]], [(a + i) for i in right[:4]], offs[:4])
            ok = "%d clicks, dry and processed on the same frames (0 frames apart), first at %.4f s" % (
                len(left), (a + left[0]) / rate if left else 0)
        else:
            msg = "unknown check kind %s" % kind
        if msg:
            print("FAIL: %s: %s" % (name, msg))
            bad += 1
        else:
            print("  ok: %s: %s" % (name, ok))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
