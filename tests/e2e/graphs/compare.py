#!/usr/bin/env python3
"""compare.py LIVE.wav RENDER.wav OFFSET MIN_FRAMES: the live recording from
frame OFFSET on equals the render from its frame 0, sample for sample (bit
for bit), over their whole overlap, which must be at least MIN_FRAMES.
Prints the first difference."""
import struct
import sys
from array import array


def samples(path):
    d = open(path, "rb").read()
    if d[:4] != b"RIFF" or d[8:12] != b"WAVE":
        sys.exit("%s: not a WAV file" % path)
    i, fmt, data = 12, None, None
    while i + 8 <= len(d):
        cid, size = d[i:i + 4], struct.unpack("<I", d[i + 4:i + 8])[0]
        if cid == b"fmt ":
            fmt = struct.unpack("<HHIIHH", d[i + 8:i + 24])
        elif cid == b"data":
            data = d[i + 8:i + 8 + size]
        i += 8 + size + (size & 1)
    if not fmt or fmt[5] != 32 or data is None:
        sys.exit("%s: not float32" % path)
    a = array("f")
    a.frombytes(data[: len(data) // 4 * 4])
    return fmt[1], a


live_ch, live = samples(sys.argv[1])
ren_ch, ren = samples(sys.argv[2])
off, need = int(sys.argv[3]), int(sys.argv[4])
if live_ch != ren_ch:
    sys.exit("channels differ: %d live, %d rendered" % (live_ch, ren_ch))
ch = live_ch
if off < 0:
    sys.exit("the recording began after the session started (offset %d)" % off)
frames = min(len(live) // ch - off, len(ren) // ch)
if frames < need:
    sys.exit("only %d frames overlap (need %d)" % (frames, need))
a = live[off * ch:(off + frames) * ch].tobytes()
b = ren[: frames * ch].tobytes()
if a != b:
    x, y = live[off * ch:(off + frames) * ch], ren[: frames * ch]
    k = next(i for i in range(len(x)) if x[i] != y[i] and not (x[i] != x[i] and y[i] != y[i]))
    sys.exit("differ at frame %d channel %d: live %r, render %r" % (k // ch, k % ch, x[k], y[k]))
peak = max(abs(v) for v in ren[: frames * ch]) if frames else 0
print("%d frames equal (peak %.4f)" % (frames, peak))
