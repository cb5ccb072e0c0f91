#!/usr/bin/env python3
"""osc.py - a tiny OSC 1.0 client for kanon's end-to-end tests (python3 stdlib only).

OSC is simple: a message is the address (a NUL-terminated string padded to a
multiple of 4 bytes), a type tag string (",ifs..." padded the same way), then
the arguments, big-endian (i int32, f float32, d float64, h int64, s padded
string, b int32 size + bytes padded; T F N carry no data).

Used as a module (encode / decode / Client) or from the shell:

  osc.py free-port START            first UDP port >= START free on 127.0.0.1
  osc.py call PORT ADDR [TYPES [ARG...]] [--timeout S] [--expect ADDR]
        sends one message to 127.0.0.1:PORT from a socket bound to a free port
        and prints every reply that arrives within the timeout, one per line as
        JSON [address, types, [args...]]; exit 1 if none arrived (or none with
        address --expect). PORT may be the path of a unix datagram socket (the
        conductor's owner-only OSC socket): then it sends from an autobound
        (abstract) unix socket, which the conductor can answer.
  osc.py raw PORT HEX               sends raw bytes (hex) and prints the replies
  osc.py hold PORT                  binds 127.0.0.1:PORT (UDP) and sleeps until killed;
                                    prints "held" once bound, exits 3 if the port is taken
"""
import json
import select
import socket
import struct
import sys
import time


def _pad(b):
    return b + b"\0" * (4 - len(b) % 4)  # always at least one NUL


def _str(s):
    return _pad(s.encode() if isinstance(s, str) else s)


def encode(address, types="", args=()):
    """One OSC message. types is the tag string without the comma."""
    out = _str(address) + _str("," + types)
    args = list(args)
    for t in types:
        if t in "TFNI":
            continue
        a = args.pop(0)
        if t == "i":
            out += struct.pack(">i", int(a))
        elif t == "f":
            out += struct.pack(">f", float(a))
        elif t == "d":
            out += struct.pack(">d", float(a))
        elif t == "h":
            out += struct.pack(">q", int(a))
        elif t == "s":
            out += _str(a)
        elif t == "b":
            a = a.encode() if isinstance(a, str) else a
            out += struct.pack(">i", len(a)) + a + b"\0" * (-len(a) % 4)
        else:
            raise ValueError("type %r not supported" % t)
    return out


def _read_str(data, at):
    end = data.index(b"\0", at)
    s = data[at:end].decode("utf-8", "replace")
    return s, (end + 4) & ~3


def decode(data):
    """(address, types, [args]) of one message (bundles are not expected as replies)."""
    addr, at = _read_str(data, 0)
    types, at = _read_str(data, at) if at < len(data) else (",", at)
    types = types[1:]
    args = []
    for t in types:
        if t == "i":
            args.append(struct.unpack_from(">i", data, at)[0]); at += 4
        elif t == "f":
            args.append(struct.unpack_from(">f", data, at)[0]); at += 4
        elif t == "d":
            args.append(struct.unpack_from(">d", data, at)[0]); at += 8
        elif t == "h":
            args.append(struct.unpack_from(">q", data, at)[0]); at += 8
        elif t == "s":
            s, at = _read_str(data, at); args.append(s)
        elif t == "T":
            args.append(True)
        elif t == "F":
            args.append(False)
        elif t == "N":
            args.append(None)
        else:
            args.append("?" + t)
    return addr, types, args


class Client:
    """A UDP socket bound to 127.0.0.1 (a free port), talking to the conductor;
    or, when port is a path, a unix datagram socket talking to that socket."""

    def __init__(self, port, host="127.0.0.1"):
        if str(port).startswith("/"):
            self.to = str(port)
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.sock.bind("")  # Linux autobind: an abstract address, so replies arrive
            self.port = None
            return
        self.to = (host, int(port))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def send_raw(self, data):
        self.sock.sendto(data, self.to)

    def send(self, address, types="", *args):
        self.send_raw(encode(address, types, args))

    def replies(self, timeout=1.0, until=None):
        """Messages received within timeout; stops early once one has address `until`."""
        out, end = [], time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return out
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                return out
            data, _ = self.sock.recvfrom(65536)
            try:
                msg = decode(data)
            except Exception as e:  # a reply we cannot parse is itself a finding
                msg = ("<undecodable>", "", [repr(e), data.hex()])
            out.append(msg)
            if until and msg[0] == until:
                return out

    def call(self, address, types="", *args, timeout=2.0, until=None):
        self.send(address, types, *args)
        return self.replies(timeout, until)

    def close(self):
        self.sock.close()


def free_port(start):
    for p in range(int(start), 65000):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            continue
        finally:
            s.close()
        return p
    raise SystemExit("no free UDP port from %s" % start)


def _args(types, words):
    out = []
    for t, w in zip([t for t in types if t not in "TFNI"], words):
        out.append(w)
    return out


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd = argv[1]
    if cmd == "free-port":
        print(free_port(argv[2]))
        return 0
    if cmd == "hold":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(("127.0.0.1", int(argv[2])))
        except OSError as e:
            print("taken: %s" % e, flush=True)
            return 3
        print("held", flush=True)
        while True:
            time.sleep(3600)
    timeout, expect, rest = 1.0, None, []
    i = 2
    while i < len(argv):
        if argv[i] == "--timeout":
            timeout = float(argv[i + 1]); i += 2
        elif argv[i] == "--expect":
            expect = argv[i + 1]; i += 2
        else:
            rest.append(argv[i]); i += 1
    c = Client(rest[0])
    if cmd == "call":
        addr = rest[1]
        types = rest[2] if len(rest) > 2 else ""
        c.send(addr, types, *_args(types, rest[3:]))
    elif cmd == "raw":
        c.send_raw(bytes.fromhex(rest[1]))
    else:
        print("unknown command %s" % cmd, file=sys.stderr)
        return 2
    got = c.replies(timeout, expect)
    for m in got:
        print(json.dumps(list(m)))
    if expect:
        return 0 if any(m[0] == expect for m in got) else 1
    return 0 if got else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
