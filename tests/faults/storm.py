#!/usr/bin/env python3
"""storm.py - the fault-storm driver of kanon's crash-isolation tests (python3 stdlib only).

Used by tests/e2e/test_faults.sh (every fault 3 times) and tests/soak.sh (~1000 faults).
It talks to the real conductor through the `kanon` CLI ($PATH, $KANON_INSTANCE), injects
faults into the deck "victim" by saving a fault file's content into the deck's watched
file (temp file + rename; a unique comment makes every save a new version), and checks
after each injection what docs/safety.md promises:

  revert   a fault after the takeover: a "fault" event naming the fault in plain words
           and "reverted to version G" (G = the newest version that played >= 1 s without
           a fault, worked out from the log), then the revert's "running" event; the deck
           plays again (status: that cartridge running, version advanced). The next
           takeover waits until the revert has played 1.1 s (the refusals do not: they go
           in between), so every injection starts from a good version.
  refuse   noticed before the takeover (compile, test render): one "error" event naming
           the fault, "refused" or "(the previous version plays on)"; the same cartridge,
           same version, still plays.
  plays    not a fault (the sandbox makes the attempt fail): the version takes over and
           plays on without a fault; file-specific checks from the fault log.
  empty / delete / rename
           the file changes under the deck: nothing is compiled, the deck plays on.
  rules    (--rules-every) a new save faulting soon after a revert; the give-up rule
           (flaky.c); the producer faulting while a save compiles that is then refused
           (trigger.c); a new deck without a good version.
Slow refusals (LANE_TYPES: 2, 10 and 15 s deadlines) go to a second, muted deck "bomb"
in a thread, in parallel. Throughout: the conductor keeps its pid, no zombie children.
A failed check is recorded and the deck is put back on its feet (a save of good.c, or
`kanon stop` + `play` if the deck is stuck); the exit status is 1 if any check failed.

The fault files (fault.h) append "[lane:]what wall-time n pid" to $KANON_FAULT_LOG right
before they misbehave; with the log's event times this gives the timings:
  detect   fault -> the conductor's verdict (the "fault" event; from then on the mixer
           takes nothing more from the deck: silent from its next callback)
  revert   fault -> the reverted version's "running" event (its first block published)
  sound    fault -> the first reverted frame handed to the device: verdict time + the
           conductor's own "request -> first frame read by the mixer" figure for the
           revert (status swap_to_device_ms)
and `analyze` reads the recording (victim panned hard right) for:
  gap      fade-out + silence + fade-in between the faulty version's last frame and the
           revert's first (frames of the recording: exact); plus: no non-finite or
           over-loud sample, every revert resumes the snapshot and fades in, no jump of
           the victim's state but reverts.

  storm.py run --victim FILE --results OUT.json [--rounds N] [--types a,b] [--skip-types a,b]
               [--shuffle SEED] [--rules-every K] [--every NAME=K,...] [-v]
  storm.py analyze --results R.json --recording REC.wav --rec-start EPOCH [--report OUT]
  storm.py channel IN.wav CH OUT.wav      one channel of a float WAV as a mono float WAV
  storm.py procs PID                      the conductor's children: "pid stat comm" lines
"""
import argparse
import array
import json
import os
import random
import re
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FAULT_AFTER = 200  # fault.h: the fault fires on process() call FAULT_AFTER + 1
TEST_BLOCKS = 16  # live.c: process() calls of the test render (scratch copy)
BLOCK_FRAMES = 64  # the conductor's block in the storm (kanon up default)
GOOD_HOLD = 1.1  # seconds a version plays to become the deck's good version (rules)
# seconds a revert plays before the next takeover (KANON_FAULT_HOLD): 1.1 makes every
# injection start from a good version; shorter (make test) chains reverts onto the same
# older good version, which expected_good() accounts for
HOLD = float(os.environ.get("KANON_FAULT_HOLD", GOOD_HOLD))
GOOD_S = 1.0  # faults.c GOOD_AFTER_MS
MOD = 1 << 19  # fault.h: the victim signal encodes n mod 2^19 ...
BASES = (0.0625, 0.25)  # ... above 1/16 (good code, tag 0) or 1/4 (a fault file, tag 1)
VICTIM_MAX = 0.25 + MOD / 4194304.0  # the loudest the victim signal gets
CONT = 2000  # frames: a fade, a dropout or a 20 ms crossfade keeps n within this


class Fail(Exception):
    pass


# ------------------------------------------------------------------ the conductor


def kanon(*args, ok=True, timeout=20):
    r = subprocess.run(["kanon", *args], capture_output=True, text=True, timeout=timeout)
    if ok and r.returncode != 0:
        raise Fail("kanon %s: exit %d: %s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
    return r.stdout


def status():
    return json.loads(kanon("status", "--json"))


def deck(name, s=None):
    for d in (s or status())["decks"]:
        if d["name"] == name:
            return d
    return None


def log(name):
    return json.loads(kanon("log", name, "--json"))


def new_events(name, seq):
    return [e for e in log(name) if e["seq"] > seq]


def last_seq(name):
    ev = log(name)
    return ev[-1]["seq"] if ev else 0


def wait_for(fn, timeout, every=0.01):
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > end:
            return None
        time.sleep(every)


def children(pid):
    """The conductor's children as (pid, stat, comm)."""
    out = subprocess.run(["ps", "-o", "pid=,stat=,comm=", "--ppid", str(pid)],
                         capture_output=True, text=True).stdout
    return [tuple(l.split(None, 2)) for l in out.splitlines() if l.strip()]


def zombies(pid):
    return [c for c in children(pid) if c[1].startswith("Z")]


def cpu_share(pid, seconds):
    """The share of one core that process pid used over the next `seconds`."""
    def ticks():
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    hz = os.sysconf("SC_CLK_TCK")
    t0, c0 = time.time(), ticks()
    time.sleep(seconds)
    return (ticks() - c0) / hz / (time.time() - t0)


class Waits(threading.Thread):
    """How long kanon's processes waited for a CPU: each thread of the
    conductor and of its children (every 50 ms: /proc/PID/task/TID/schedstat, the time runnable
    but not running), summed into one running total (a thread that goes away keeps
    what it had). waited(t0, t1): the total's growth over wall times [t0, t1], in s,
    an upper bound of any one thread's wait. A verdict that comes late, or a run
    whose length is near GOOD_S, is judged against it: time the machine took from
    kanon (two other busy programs on the cores) is the machine's, not kanon's."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.last, self.total = pid, {}, 0
        self.samples = []  # (wall time, total ns)
        self.lock = threading.Lock()
        self.sample()

    def kids(self):
        """The conductor's children, from /proc/*/stat (every 10th sample)."""
        out = []
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open("/proc/%s/stat" % d) as f:
                        if int(f.read().rsplit(")", 1)[1].split()[1]) == self.pid:
                            out.append(int(d))
                except (OSError, ValueError, IndexError):
                    pass
        return out

    def tids(self):
        self.n = getattr(self, "n", 0) + 1
        if self.n % 10 == 1:
            self.children = self.kids()
        for p in [self.pid] + self.children:
            try:
                for t in os.listdir("/proc/%d/task" % p):
                    yield "%d/%s" % (p, t), "/proc/%d/task/%s/schedstat" % (p, t)
            except OSError:
                pass

    def sample(self):
        for key, path in self.tids():
            try:
                with open(path) as f:
                    w = int(f.read().split()[1])
            except (OSError, ValueError, IndexError):
                continue
            self.total += max(0, w - self.last.get(key, w if key in self.last else 0))
            self.last[key] = w
        with self.lock:
            self.samples.append((time.time(), self.total))
            del self.samples[:-30000]  # 10 minutes

    def run(self):
        while True:
            time.sleep(0.05)
            self.sample()

    def at(self, t):
        with self.lock:
            before = [n for (ts, n) in self.samples if ts <= t]
            return before[-1] if before else (self.samples[0][1] if self.samples else 0)

    def waited(self, t0, t1):
        return (self.at(t1 + 0.05) - self.at(t0)) / 1e9


WAITS = None  # started by cmd_run


def late_ok(t0, t1, allowed):
    """Was t1 - t0 over `allowed` explained by kanon waiting for a CPU? (ok, why)"""
    late = t1 - t0 - allowed
    w = WAITS.waited(t0, t1) if WAITS else 0
    return late <= w, "kanon's processes waited %.0f ms for a CPU in it" % (w * 1000)


# ------------------------------------------------------------------ the fault log


class Marks:
    """Lines the fault DSP files append to $KANON_FAULT_LOG: "[lane:]what time n pid".
    take(lane) returns the new lines of one deck's lane (thread-safe)."""

    def __init__(self, path):
        self.path = path
        self.pos = 0
        self.queues = {}
        self.lock = threading.Lock()

    def take(self, lane=""):
        with self.lock:
            try:
                with open(self.path) as f:
                    f.seek(self.pos)
                    data = f.read()
                    self.pos = f.tell()
            except FileNotFoundError:
                data = ""
            for line in data.splitlines():
                p = line.split()
                if len(p) < 4:
                    continue
                what = " ".join(p[:-3])
                ln, _, rest = what.partition(":") if re.match(r"^\w+:", what) else ("", "", what)
                self.queues.setdefault(ln, []).append(
                    {"what": rest, "t": float(p[-3]), "n": int(p[-2]), "pid": int(p[-1])})
            return self.queues.pop(lane, [])


# ------------------------------------------------------------------ fault types


def src(name, prefix=""):
    with open(os.path.join(HERE, name + ".c")) as f:
        return prefix + f.read()


def big_source():
    """Valid C of just over 1 MiB: a table of 110,000 floats the DSP reads."""
    rnd = random.Random(1)
    out = ["/* bigsource.c - generated by storm.py: a 1 MiB table */", '#include "fault.h"',
           "static const float table[] = {"]
    n = 0
    while n < (1 << 20):
        line = " ".join("%.6f," % rnd.uniform(-1, 1) for _ in range(10))
        out.append(line)
        n += len(line) + 1
    out.append("};")
    out.append("void setup(kn_ctx *k) { victim_setup(k); }")
    out.append("void process(kn_ctx *k, float **out, int frames) {\n    victim(k, out, frames);\n"
               "    out[0][0] += table[k->frame % (sizeof table / sizeof *table)] * 0;\n}")
    return "\n".join(out) + "\n"


def garbage(nul):
    rnd = random.Random(7 if nul else 8)
    b = bytes(rnd.randrange(256) for _ in range(4096))
    return b if nul else b.replace(b"\0", b"\x01")


P = r"cartridge \d+ "
# a hang: the heartbeat check, or RLIMIT_RTTIME when the render loop runs at real-time
# priority (a loop that never sleeps for 100 ms of CPU gets SIGXCPU)
HUNG = (r"(hung in %s\(\) \(no progress for \d+ ms\); killed|"
        r"killed by SIGXCPU( \([^)]*\))? in %s\(\))")
HUNG = HUNG.replace("%s", "%(f)s")
HANG_WITHIN = 0.25  # s from the fault to the verdict: 50 ms of stalled heartbeat (or 100 ms
#                    of CPU for RLIMIT_RTTIME) + scheduling margin
CRASH = ["segv_process", "segv_setup", "abort", "exit", "divzero", "stack"]
HANG = ["loop_process", "loop_setup", "sigstop", "malloc"]


def spec(name, kind, text, **kw):
    d = {"name": name, "kind": kind, "text": text, "file": kw.pop("file", name), "prefix": "",
         "timeout": 2.5, "snap": "process", "hold": 0.6, "check": None, "content": None,
         "within": None, "blocked": []}
    d.update(kw)
    return d


def check_malloc(marks):
    m = [x for x in marks if x["what"].startswith("malloc_failed_at_mib=")]
    if not m:
        return "no malloc_failed_at_mib line in the fault log (the test render's allocation)"
    mib = int(m[0]["what"].split("=")[1])
    if not 0 < mib < 1024:
        return "malloc failed only at %d MiB: RLIMIT_AS (1 GiB) not in force" % mib
    return None


def check_fork(marks):
    m = [x["what"] for x in marks if x["what"].startswith("fork=")]
    if not m:
        return "no fork= line in the fault log"
    g = re.match(r"fork=(-?\d+)/(\d+) system=(-?\d+) execve=(-?\d+)/(\d+)", m[0])
    if not g or g.group(1) != "-1" or g.group(2) != "1" or g.group(4) != "-1" or g.group(5) != "1" \
            or g.group(3) not in ("-1", "32512"):
        return "fork/system/execve were not all refused with EPERM: %s" % m[0]
    return None


def check_socket(marks):
    m = [x["what"] for x in marks if x["what"].startswith("socket=")]
    if not m:
        return "no socket= line in the fault log"
    if m[0] != "socket=-1/1,-1/1,-1/1":
        return "socket() was not refused with EPERM: %s" % m[0]
    return None


def check_denormal(marks):
    m = [x["what"] for x in marks if x["what"].startswith("denormal")]
    if not m:
        return "no denormal line in the fault log"
    if m[0] != "denormal ftz=1":
        return "subnormals are not flushed to zero in the cartridge: %s" % m[0]
    return None


def check_routes_escape(marks):
    """escape_routes saw the read-only mappings it attacks, and reached none."""
    if not any(x["what"] == "routes_maps_found" for x in marks):
        return "escape_routes found no read-only kanon.ring mapping to attack"
    return check_escape("routes")(marks)


def check_escape(*kinds):
    """Every attempt of the escape_<kind> lines failed (R = -1)."""
    def check(marks):
        for kind in kinds:
            m = [x["what"] for x in marks if x["what"].startswith("escape_%s " % kind)]
            if not m:
                return "no escape_%s line in the fault log" % kind
            won = [a for a in m[0].split()[1:] if not a.split("=")[1].startswith("-1/")]
            if won:
                return "escape_%s: these attempts succeeded: %s" % (kind, " ".join(won))
        return None
    return check


SIGNAL_CALLS = ["kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_open",
                "pidfd_send_signal", "sched_setscheduler", "setpriority", "sched_setaffinity"]
if os.uname().machine == "x86_64":
    SIGNAL_CALLS.append("an x32 call")
SYSTEM_CALLS = ["prctl", "unshare", "setns", "mount", "umount2", "chroot", "keyctl", "add_key",
                "bpf", "perf_event_open", "userfaultfd", "personality", "init_module", "ioctl"]
# clone and clone3 fail too (escape_system checks), but untold: sandbox.c DENY_QUIETLY

TYPES = [
    # faults after the takeover: silent, then reverted to the last good version
    spec("segv_process", "revert", P + r"killed by SIGSEGV in process\(\)"),
    spec("segv_setup", "revert", P + r"killed by SIGSEGV in setup\(\)", snap="setup"),
    spec("abort", "revert", P + r"killed by SIGABRT in process\(\)"),
    spec("exit", "revert", P + r"exited with status 0 in process\(\)"),
    spec("divzero", "revert", P + r"killed by SIGFPE in process\(\)"),
    spec("stack", "revert", P + r"killed by SIGSEGV in process\(\)"),
    spec("loop_process", "revert", P + HUNG % {"f": "process"}, within=HANG_WITHIN),
    spec("loop_setup", "revert", P + HUNG % {"f": "setup"}, snap="setup", within=HANG_WITHIN),
    spec("sigstop", "revert", P + HUNG % {"f": "process"}, within=HANG_WITHIN),
    spec("malloc", "revert", P + HUNG % {"f": "process"}, check=check_malloc,
         within=HANG_WITHIN),
    spec("slow", "revert", P + r"(too slow: DSP load \d+% of real time; killed|"
                                r"killed by SIGXCPU( \([^)]*\))? in process\(\))", timeout=3.0),
    spec("nan", "revert", P + r"produced NaN/Inf"),
    spec("inf", "revert", P + r"produced NaN/Inf"),
    spec("runaway", "revert", P + r"produced output above \+60 dBFS"),
    spec("scribble", "revert", P + r"(corrupted its ring|exited with status \d+|killed by SIG\w+)"),
    # noticed before the takeover: refused, the old version plays on
    spec("syntax", "refuse", r"victim\.c:\d+: error: "),
    spec("garbage", "refuse", r"victim\.c:1: error: not C source \(the file contains NUL bytes\)",
         content=lambda: garbage(True)),
    spec("garbage_text", "refuse", r"victim\.c:\d+: error: ", content=lambda: garbage(False)),
    spec("macrobomb", "refuse", r"\w+\.c: error: compiling took longer than its time limit of "
         r"10 s \(the C compiler was still at work\); raise the limit with `kanon up "
         r"--compile-timeout SECONDS` \(the previous version plays on\)", timeout=17.0),
    spec("segv_process@test", "refuse", P + r"killed by SIGSEGV in its test render; refused",
         file="segv_process", prefix="#define FAULT_AFTER 0\n"),
    spec("segv_setup@test", "refuse", P + r"killed by SIGSEGV in its test render; refused",
         file="segv_setup", prefix="#define FAULT_SETUP 1\n"),
    spec("abort@test", "refuse", P + r"killed by SIGABRT in its test render; refused",
         file="abort", prefix="#define FAULT_AFTER 0\n"),
    spec("exit@test", "refuse", P + r"exited with status 0 in its test render; refused",
         file="exit", prefix="#define FAULT_AFTER 0\n"),
    spec("divzero@test", "refuse", P + r"killed by SIGFPE in its test render; refused",
         file="divzero", prefix="#define FAULT_AFTER 0\n"),
    spec("stack@test", "refuse", P + r"killed by SIGSEGV in its test render; refused",
         file="stack", prefix="#define FAULT_AFTER 0\n"),
    spec("loop_process@test", "refuse",
         P + r"took too long in its test render \(2 s limit: a hang\?\); refused",
         file="loop_process", prefix="#define FAULT_AFTER 0\n", timeout=5.0),
    spec("loop_setup@test", "refuse", P + r"(took too long|took more than \d+ s)\b.*; refused",
         file="loop_setup", prefix="#define FAULT_SETUP 1\n", timeout=17.0, within=4.0),
    spec("sigstop@test", "refuse", P + r"(took too long|took more than \d+ s)\b.*; refused",
         file="sigstop", prefix="#define FAULT_AFTER 0\n", timeout=17.0, within=4.0),
    spec("nan@test", "refuse", r"refused: process\(\) produced NaN or Inf in its test render",
         file="nan", prefix="#define FAULT_AFTER 0\n"),
    spec("inf@test", "refuse", r"refused: process\(\) produced NaN or Inf in its test render",
         file="inf", prefix="#define FAULT_AFTER 0\n"),
    spec("runaway@test", "refuse",
         r"refused: process\(\) produced output above \+60 dBFS in its test render",
         file="runaway", prefix="#define FAULT_AFTER 0\n"),
    # not faults: the sandbox says no and the code plays on
    spec("fork", "plays", None, check=check_fork),
    spec("socket", "plays", None, check=check_socket),
    spec("denormal", "plays", None, check=check_denormal),
    spec("closefds", "plays", None),
    spec("bigsource", "plays", None, content=big_source, hold=0.4),
    # hostile code: every attempt fails, the sandbox names each refused call
    spec("escape_shm", "plays", None, check=check_escape("shm_setup", "shm"), blocked=["shmget"]),
    spec("escape_signal", "plays", None, check=check_escape("signal"), blocked=SIGNAL_CALLS),
    spec("escape_routes", "plays", None, check=check_routes_escape),
    spec("escape_uring", "plays", None, check=check_escape("uring"),
         blocked=["io_uring_setup", "io_uring_enter", "io_uring_register"]),
    spec("escape_memory", "plays", None, check=check_escape("memory"),
         blocked=["ptrace", "process_vm_writev", "process_vm_readv", "kcmp", "pidfd_getfd"]),
    spec("escape_system", "plays", None, check=check_escape("system"), blocked=SYSTEM_CALLS),
    spec("escape_files", "plays", None, check=check_escape("files")),
    # the file changes under the deck
    spec("empty", "empty", None),
    spec("deleted", "delete", None),
    spec("renamed", "rename", None),
]
BY_NAME = {t["name"]: t for t in TYPES}


# ------------------------------------------------------------------ the storm

TAKES_OVER = ("revert", "plays", "delete", "rename")
# slow refusals (deadlines of 2, 10 and 15 s): on a second deck, in parallel
LANE_TYPES = ("macrobomb", "loop_process@test", "loop_setup@test", "sigstop@test")


class Storm:
    """Injects into one deck, `name`, whose watched file is `victim`."""

    def __init__(self, victim, marks, name="victim", lane=""):
        self.victim = victim
        self.name = name
        self.lane = lane  # FAULT_LANE of this deck's fault files ("" for the victim)
        self.marks = marks
        self.results = []
        self.nsave = 0
        self.cond_pid = status()["pid"]
        self.seen_pids = set()
        self.good_at = 0.0  # no takeover before this wall time: the last revert is not good yet
        self.pending = None  # the last revert: its timings and checks are finished later

    # --- files
    def write(self, content):
        """A save: the whole new content appears at once (temp file + rename)."""
        self.nsave += 1
        if isinstance(content, str):
            content = content.encode()
        if self.lane and b"\0" not in content:
            content = b'#define FAULT_LANE "%s:"\n' % self.lane.encode() + content
        tail = ("\n/* storm save %d */\n" % self.nsave).encode()
        tmp = self.victim + ".tmp"
        with open(tmp, "wb") as f:
            f.write(content + (tail if b"\0" not in content else b""))
        os.replace(tmp, self.victim)

    def good_content(self):
        return src("good")

    # --- the deck's runs and its good version, from the log
    def expected_good(self, evs, t):
        """Versions kanon may revert to at time t: the newest version whose run (running
        event to the next takeover/fault/stop; to the token's handover, for a successor
        that then hung in setup()) lasted >= 1 s, plus newer ones whose run is
        within 60 ms of 1 s (the conductor checks every loop iteration, <= 20 ms apart),
        widened by however long kanon's processes waited for a CPU around that 1 s
        mark (a late loop iteration is the machine's). Empty: no good version."""
        good, border = None, []

        def slack(start, end):
            return 0.06 + (WAITS.waited(start + GOOD_S - 0.1, end) if WAITS else 0)
        cur = None
        for e in evs:
            if e["time"] > t:
                break
            if e["kind"] in ("running", "fault", "stop"):
                if cur:
                    end = e["time"]
                    # a successor that hung in setup() took the token from this
                    # version when the watch started: its run ended then
                    m = re.search(r"hung in setup\(\) \(no progress for (\d+) ms\)", e["text"])
                    if e["kind"] == "fault" and m:
                        end -= int(m.group(1)) / 1000.0
                    dur, b = end - cur[1], slack(cur[1], end)
                    if dur >= GOOD_S + b:
                        good, border = cur[0], []
                    elif dur >= GOOD_S - b:
                        border.append(cur[0])
                cur = (e["version"], e["time"]) if e["kind"] == "running" else None
                if e["kind"] == "stop" or (e["kind"] == "fault" and "failed again" in e["text"]):
                    good, border = None, []
        if cur:
            dur, b = t - cur[1], slack(cur[1], t)
            if dur >= GOOD_S + b:
                good, border = cur[0], []
            elif dur >= GOOD_S - b:
                border.append(cur[0])
        return ([good] if good else []) + border

    def runs_text(self, evs, t, last=6):
        """The deck's last runs before t, as expected_good sees them: version, seconds
        played, the slack it allows, and what ended it (for a failure's message)."""
        runs, cur = [], None
        for e in evs:
            if e["time"] > t:
                break
            if e["kind"] in ("running", "fault", "stop"):
                if cur:
                    b = 0.06 + (WAITS.waited(cur[1] + GOOD_S - 0.1, e["time"]) if WAITS else 0)
                    runs.append("v%d %.3f s (slack %.3f) to %s" % (cur[0], e["time"] - cur[1], b,
                                                                    e["kind"]))
                cur = (e["version"], e["time"]) if e["kind"] == "running" else None
        return "; ".join(runs[-last:])

    def version_tag(self, v):
        """0 if version v of the deck is good code (VICTIM_GOOD), 1 for a fault file."""
        try:
            for x in json.loads(kanon("history", self.name, "--json"))["versions"]:
                if x["version"] == v:
                    with open(x["file"], "rb") as f:
                        return 0 if b"#define VICTIM_GOOD" in f.read() else 1
        except (Fail, OSError, KeyError, ValueError):
            pass
        return 0

    def deck_ok(self):
        d = deck(self.name)
        return d and d["cartridge"]["state"] == "running" and "next" not in d

    def swap_list(self):
        return status().get("swap_to_device_ms", [])

    def wait_kind(self, seq, kinds, timeout):
        return wait_for(lambda: [e for e in new_events(self.name, seq) if e["kind"] in kinds],
                        timeout)

    def wait_good(self):
        left = self.good_at - time.time()
        if left > 0:
            time.sleep(left)

    # --- recovery: a healthy deck playing good.c, good for 1 s
    def recover(self, rec, why):
        rec["recovered"] = why
        if self.pending:  # the last revert's drops, up to now: a restart below resets them
            p, d = self.pending[0], deck(self.name)
            if d and "late0" in p and "late1" not in p:
                p["late1"] = d["late_frames"]
        seq = last_seq(self.name)
        self.write(self.good_content())
        run = self.wait_kind(seq, ("running",), 3)
        if not run or not self.deck_ok():
            # the deck is stuck: start it again (silent first, panned, then good.c)
            rec["recovered"] = why + "; the deck was stuck: kanon stop + play"
            self.restart()
            seq = last_seq(self.name)
            self.write(self.good_content())
            run = self.wait_kind(seq, ("running",), 5)
            if not run:
                raise Fail("cannot bring deck %s back: %s" % (self.name, deck(self.name)))
        self.good_at = run[0]["time"] + GOOD_HOLD
        self.pending = None
        self.wait_good()
        self.marks.take(self.lane)

    def start(self, pan=None, mute=False):
        """Plays silent.c on the deck, sets its pan/mute, then saves good.c: the deck is
        heard only once it is where it belongs in the mix."""
        self.write(src("silent"))
        kanon("play", self.victim, "--deck", self.name)
        if pan is not None:
            kanon("pan", self.name, str(pan))
        if mute:
            kanon("mute", self.name)
        self.mix = (pan, mute)

    def restart(self):
        kanon("stop", self.name, ok=False)
        wait_for(lambda: deck(self.name) is None, 5)
        self.start(*self.mix)

    # --- the last revert, finished once the revert has played 1 s
    def finish_pending(self):
        if not self.pending:
            return
        rec, swaps0, run = self.pending
        self.pending = None
        new = new_swaps(swaps0, self.swap_list())
        if new and "detect_ms" in rec:
            rec["sound_ms"] = rec["detect_ms"] + new[-1]
        d = deck(self.name)
        if d and "late0" in rec:
            rec["late1"] = d["late_frames"]  # what the mixer dropped, up to 1 s into the revert
        if d and "mark_t" in rec and d.get("silenced_rt", 0) >= rec["mark_t"]:
            # the audio thread's own stamp of the faded-out chunk
            rec["silence_ms"] = (d["silenced_rt"] - rec["mark_t"]) * 1000
        late = [e["kind"] + ": " + e["text"] for e in new_events(self.name, run["seq"])
                if e["kind"] == "fault"]
        if late:
            rec["problems"].append("the reverted version did not play on: %s" % late)
            rec["ok"] = False
            print_rec(rec)
            self.recover(rec, "after a failed check")

    # --- one injection
    def inject(self, t, rnd):
        rec = {"type": t["name"], "kind": t["kind"], "round": rnd, "problems": [],
               "deck": self.name}
        prob = rec["problems"].append
        if t["kind"] in TAKES_OVER:
            self.wait_good()
            self.finish_pending()
        if not self.deck_ok():
            self.recover(rec, "deck not running before the injection")
            rec.pop("recovered")
        self.results.append(rec)
        before = deck(self.name)
        if t["kind"] == "revert":
            rec["late0"] = before["late_frames"]
        seq = last_seq(self.name)
        swaps0 = self.swap_list()
        self.marks.take(self.lane)
        rec["t_save"] = t0 = time.time()
        if t["kind"] in ("revert", "refuse", "plays"):
            self.write(t["content"]() if t["content"] else src(t["file"], t["prefix"]))
        try:
            getattr(self, "do_" + t["kind"])(t, rec, prob, seq, before, swaps0, t0)
        except Fail as e:
            prob(str(e))
        s = status()
        if s["pid"] != self.cond_pid:
            raise Fail("the conductor changed pid: %s -> %s" % (self.cond_pid, s["pid"]))
        if zombies(self.cond_pid):
            time.sleep(0.2)
            z = zombies(self.cond_pid)
            if z:
                prob("zombie children of the conductor: %s" % z)
        for c in children(self.cond_pid):
            self.seen_pids.add(int(c[0]))
        rec["ok"] = not rec["problems"]
        if not rec["ok"]:
            self.pending = None
            self.recover(rec, "after a failed check")
        rec["t_end"] = time.time()
        return rec

    def do_revert(self, t, rec, prob, seq, before, swaps0, t0):
        # the fault, or a deck left silent without one (give up 0.5 s after that is seen)
        stuck_since = [None]

        def outcome():
            evs = [e for e in new_events(self.name, seq) if e["kind"] in ("fault", "error")]
            if evs:
                return evs
            d = deck(self.name)
            if d["cartridge"]["state"] == "none" and time.time() - t0 > 0.3:
                stuck_since[0] = stuck_since[0] or time.time()
                if time.time() - stuck_since[0] > 0.5:
                    return "stuck"
            else:
                stuck_since[0] = None
            return None

        got = wait_for(outcome, t["timeout"])
        evs = new_events(self.name, seq)
        rec["events"] = [e["kind"] + ": " + e["text"] for e in evs]
        if not got or got == "stuck":
            d = deck(self.name)
            prob("%s within %.1f s of the save: no fault event; status: cartridge %s %s, next %s, "
                 "load %.0f%%, underruns %d; events: %s" %
                 ("deck silent, no cartridge" if got == "stuck" else "nothing noticed",
                  time.time() - t0, d["cartridge"]["id"], d["cartridge"]["state"], d.get("next"),
                  d["load"], d["underruns"], rec["events"]))
            return
        e = got[0]
        if e["kind"] == "error":
            prob("refused before the takeover instead of a fault after it: %s" % e["text"])
            return
        rec["fault"] = e["text"]
        if not re.search(t["text"], e["text"]):
            prob("fault message %r does not say /%s/" % (e["text"], t["text"]))
        ran = [x for x in evs if x["kind"] == "running" and x["seq"] < e["seq"]]
        if t["snap"] == "process" and not ran:
            prob("the faulty version never took over (the fault should come after the takeover)")
        m = re.search(r"reverted to version (\d+)", e["text"])
        expect = self.expected_good(log(self.name), e["time"] - 1e-6)
        if not m:
            prob("no revert: %r (good version(s): %s)" % (e["text"], expect or "none"))
            return
        v = int(m.group(1))
        if v not in expect:
            prob("reverted to version %d, want the last good version %s; runs: %s" % (
                v, expect, self.runs_text(log(self.name), e["time"])))
        run = wait_for(lambda: [x for x in new_events(self.name, e["seq"])
                                if x["kind"] == "running" and
                                "revert to v%d after a fault" % v in x["text"]], 5)
        if not run:
            prob("the revert to v%d never took over: %s" % (v, [x["text"] for x in
                                                              new_events(self.name, e["seq"])]))
            return
        run = run[0]
        rec["revert_version"] = run["version"]
        rec["run_t"] = run["time"]
        rec["revert_tag"] = self.version_tag(v)
        cid = int(re.search(r"\(cartridge (\d+),", run["text"]).group(1))
        d = deck(self.name)
        if d["cartridge"]["state"] != "running" or d["cartridge"]["id"] != cid:
            prob("after the revert status says cartridge %s %s, want %d running" %
                 (d["cartridge"]["id"], d["cartridge"]["state"], cid))
        if d["version"] != run["version"] or run["version"] <= before["version"]:
            prob("version %s after the revert, want %s (> %s)" % (d["version"], run["version"],
                                                                 before["version"]))
        errs = [x["text"] for x in new_events(self.name, seq) if x["kind"] == "error"]
        if errs:
            prob("error events: %s" % errs)
        marks = self.marks.take(self.lane)
        rec["marks"] = [x["what"] for x in marks]
        if t["check"]:
            p = t["check"](marks)
            if p:
                prob(p)
        mk = [x for x in marks if x["what"] == t["file"]]
        if mk:
            m0 = mk[0]
            rec["mark_t"], rec["mark_n"] = m0["t"], m0["n"]
            rec["snap_n"] = m0["n"] - ((FAULT_AFTER - TEST_BLOCKS) * 64 if t["snap"] == "process"
                                       else 0)
            rec["detect_ms"] = (e["time"] - m0["t"]) * 1000
            rec["revert_ms"] = (run["time"] - m0["t"]) * 1000
            if t["within"] and e["time"] - m0["t"] > t["within"]:
                fine, why = late_ok(m0["t"], e["time"], t["within"])
                if not fine:
                    prob("noticed %.0f ms after the fault; a hang is a heartbeat stalled for 50 "
                         "ms (%s)" % (rec["detect_ms"], why))
                else:
                    rec["note"] = "noticed after %.0f ms: the machine (%s)" % (rec["detect_ms"], why)
        else:
            prob("the fault file left no line in the fault log")
        self.good_at = run["time"] + HOLD
        self.pending = (rec, swaps0, run)

    def do_refuse(self, t, rec, prob, seq, before, swaps0, t0):
        got = self.wait_kind(seq, ("error", "fault", "running"), t["timeout"])
        evs = new_events(self.name, seq)
        rec["events"] = [e["kind"] + ": " + e["text"] for e in evs]
        if not got:
            prob("nothing refused within %.1f s: %s" % (t["timeout"], rec["events"]))
            return
        e = got[0]
        if e["kind"] != "error":
            prob("not refused before the takeover: %s: %s" % (e["kind"], e["text"]))
            return
        rec["fault"] = e["text"]
        if not re.search(t["text"], e["text"]):
            prob("error message %r does not say /%s/" % (e["text"], t["text"]))
        if "(the previous version plays on)" not in e["text"] and "refused" not in e["text"]:
            prob("error message says neither \"refused\" nor \"(the previous version plays "
                 "on)\": %r" % e["text"])
        rec["detect_ms"] = (e["time"] - t0) * 1000
        if t["within"] and e["time"] - t0 > t["within"]:
            fine, why = late_ok(t0, e["time"], t["within"])
            if not fine:
                prob("refused only %.1f s after the save (the test render's deadline is 2 s; "
                     "%s)" % (e["time"] - t0, why))
            else:
                rec["note"] = "refused after %.1f s: the machine (%s)" % (e["time"] - t0, why)
        time.sleep(0.2)
        errs = [x["text"] for x in new_events(self.name, seq) if x["kind"] == "error"]
        cid = re.search(r"cartridge (\d+)", e["text"])
        mine = [x for x in errs if cid and re.search(r"cartridge %s\b" % cid.group(1), x)]
        if len(mine) > 1:
            prob("%d error events for one refused cartridge: %s" % (
                len(mine), "; ".join(sorted(set(mine)))))
        d = deck(self.name)
        if d["cartridge"]["id"] != before["cartridge"]["id"] or \
                d["cartridge"]["state"] != "running" or d["version"] != before["version"]:
            prob("the old version does not play on: cartridge %s %s v%s (was %s v%s)" %
                 (d["cartridge"]["id"], d["cartridge"]["state"], d["version"],
                  before["cartridge"]["id"], before["version"]))
        other = [x for x in new_events(self.name, seq) if x["kind"] in ("fault", "running")]
        if other:
            prob("unexpected events: %s" % [x["text"] for x in other])

    def check_blocked(self, t, seq, cid, prob):
        """The log names the deck's cartridge and every call the sandbox refused."""
        said = set()
        for e in new_events(self.name, seq):
            g = re.match(r"cartridge (\d+) tried (.+); refused by the sandbox$", e["text"])
            if e["kind"] == "sandbox" and g and int(g.group(1)) == cid:
                said.add(g.group(2))
        missing = [x for x in t["blocked"] if x not in said]
        if missing:
            prob("the log does not name these refused calls of cartridge %d: %s" % (cid, missing))

    def do_plays(self, t, rec, prob, seq, before, swaps0, t0):
        got = self.wait_kind(seq, ("running", "error", "fault"), t["timeout"])
        if not got or got[0]["kind"] != "running":
            prob("did not take over: %s" % [e["kind"] + ": " + e["text"]
                                            for e in new_events(self.name, seq)])
            return
        run = got[0]
        time.sleep(t["hold"])
        evs = new_events(self.name, run["seq"])
        bad = [e["kind"] + ": " + e["text"] for e in evs if e["kind"] in ("fault", "error")]
        if bad:
            prob("not played on: %s" % bad)
        d = deck(self.name)
        cid = int(re.search(r"\(cartridge (\d+),", run["text"]).group(1))
        if d["cartridge"]["state"] != "running" or d["cartridge"]["id"] != cid:
            prob("status: cartridge %s %s, want %d running" % (d["cartridge"]["id"],
                                                              d["cartridge"]["state"], cid))
        marks = self.marks.take(self.lane)
        rec["marks"] = [x["what"] for x in marks]
        if t["name"] == "denormal":
            rec["load"] = d["load"]
            if d["load"] > 50:
                prob("DSP load %.0f%% during the denormal storm" % d["load"])
        if t["check"]:
            p = t["check"](marks)
            if p:
                prob(p)
        if t["blocked"]:
            self.check_blocked(t, seq, cid, prob)
        if t["name"] == "closefds":
            # its report pipe is closed: the conductor must not spin on it
            # (poll reports the hang-up for ever), which would hold a core at
            # real-time priority and starve everything else on the machine
            busy = cpu_share(self.cond_pid, 0.5)
            rec["conductor_cpu"] = busy
            if busy > 0.5:
                prob("the conductor used %.0f%% of a core after the cartridge closed its fds"
                     % (busy * 100))
            # a cartridge without any file descriptor still hands the deck over
            seq2 = last_seq(self.name)
            self.write(self.good_content())
            if not self.wait_kind(seq2, ("running",), 3):
                prob("after closing its fds the cartridge did not hand over to the next save")

    def do_empty(self, t, rec, prob, seq, before, swaps0, t0):
        with open(self.victim, "wb"):
            pass  # truncated to 0 bytes and closed: IN_CLOSE_WRITE
        time.sleep(0.3)
        self.check_untouched(rec, prob, seq, before)

    def do_delete(self, t, rec, prob, seq, before, swaps0, t0):
        os.unlink(self.victim)
        if not self.wait_kind(seq, ("note",), 2):
            prob("no note about the deleted file")
        time.sleep(0.1)
        self.check_untouched(rec, prob, seq, before)
        seq2 = last_seq(self.name)
        self.write(self.good_content())  # the file comes back: followed again
        if not self.wait_kind(seq2, ("running",), 3):
            prob("the re-created file was not played")

    def do_rename(self, t, rec, prob, seq0, before0, swaps0, t0):
        seq = last_seq(self.name)
        self.write(self.good_content())
        if not self.wait_kind(seq, ("running",), 3):
            prob("good.c did not take over before the rename")
            return
        before = deck(self.name)
        seq = last_seq(self.name)
        os.rename(self.victim, self.victim + ".moved")
        if not self.wait_kind(seq, ("note",), 2):
            prob("no note about the renamed file")
        os.rename(self.victim + ".moved", self.victim)  # back, unchanged: nothing to compile
        time.sleep(0.3)
        self.check_untouched(rec, prob, seq, before)

    def check_untouched(self, rec, prob, seq, before):
        evs = new_events(self.name, seq)
        rec["events"] = [e["kind"] + ": " + e["text"] for e in evs]
        bad = [e for e in evs if e["kind"] != "note"]
        if bad:
            prob("the deck reacted: %s" % [e["text"] for e in bad])
        for e in evs:
            if e["kind"] == "note" and not re.search(r"was deleted or renamed; the deck plays on",
                                                     e["text"]):
                prob("note %r" % e["text"])
        d = deck(self.name)
        if d["cartridge"]["id"] != before["cartridge"]["id"] or d["cartridge"]["state"] != "running":
            prob("the deck does not play on: cartridge %s %s (was %s)" %
                 (d["cartridge"]["id"], d["cartridge"]["state"], before["cartridge"]["id"]))

    # --- the recovery rules, once
    def _rule(self, name):
        self.wait_good()
        self.finish_pending()
        if not self.deck_ok():
            self.recover({}, "before the rule")
        rec = {"type": name, "kind": "rule", "round": 0, "problems": [], "deck": self.name,
               "t_save": time.time()}
        self.results.append(rec)
        return rec, rec["problems"].append

    def _rule_end(self, rec):
        rec["ok"] = not rec["problems"]
        if not rec["ok"]:
            self.recover(rec, "after the rule")
        rec["t_end"] = time.time()
        return rec

    def rule_quick_second(self):
        """A new version that faults within 1 s of a revert must still be reverted: the
        last good version has not failed (only the reverted version failing again within
        1 s may make kanon give up)."""
        rec, prob = self._rule("rule_second_fault_soon_after_revert")
        seq = last_seq(self.name)
        self.write(src("segv_process"))
        run = wait_for(lambda: [x for x in new_events(self.name, seq) if x["kind"] == "running"
                                and "after a fault" in x["text"]], 4)
        if not run:
            prob("first fault was not reverted: %s" % [x["text"] for x in
                                                       new_events(self.name, seq)])
            return self._rule_end(rec)
        first = [x for x in new_events(self.name, seq) if x["kind"] == "fault"][0]
        good = int(re.search(r"reverted to version (\d+)", first["text"]).group(1))
        seq2 = run[0]["seq"]
        self.write(src("segv_process"))  # a new save, faulting ~0.15 s after its takeover
        f = wait_for(lambda: [x for x in new_events(self.name, seq2) if x["kind"] == "fault"], 3)
        if not f:
            prob("second fault not noticed")
            return self._rule_end(rec)
        rec["fault"] = f[0]["text"]
        rec["after_revert_s"] = f[0]["time"] - run[0]["time"]
        if "reverted to version %d" % good not in f[0]["text"]:
            prob("a new version that faults %.2f s after a revert: %r; want \"reverted to "
                 "version %d\" (that good version never failed: only the reverted version "
                 "failing again may make kanon give up)" % (rec["after_revert_s"], f[0]["text"],
                                                           good))
        run2 = wait_for(lambda: [x for x in new_events(self.name, f[0]["seq"])
                                 if x["kind"] == "running"], 3)
        if run2:
            self.good_at = run2[0]["time"] + HOLD
        return self._rule_end(rec)

    def rule_give_up(self):
        """The reverted version itself fails within 1 s: silent until the next save."""
        rec, prob = self._rule("rule_give_up")
        poison = os.environ["KANON_FAULT_LOG"] + ".poison"
        seq = last_seq(self.name)
        self.write(src("flaky"))
        run = self.wait_kind(seq, ("running",), 3)
        if not run:
            prob("flaky.c did not take over")
            return self._rule_end(rec)
        time.sleep(max(0, run[0]["time"] + GOOD_HOLD - time.time()))  # flaky.c: the good version
        open(poison, "w").close()
        try:
            seq = last_seq(self.name)
            self.write(src("segv_process"))
            f = wait_for(lambda: [x for x in new_events(self.name, seq) if x["kind"] == "fault"
                                  and "silent until" in x["text"]], 4)
            rec["events"] = [x["kind"] + ": " + x["text"] for x in new_events(self.name, seq)]
            if not f:
                prob("no give-up: %s" % rec["events"])
            else:
                rec["fault"] = f[0]["text"]
                if "the version reverted to failed again: silent until the next save" \
                        not in f[0]["text"]:
                    prob("give-up message %r" % f[0]["text"])
                time.sleep(0.4)
                d = deck(self.name)
                late = [x["text"] for x in new_events(self.name, f[0]["seq"])
                        if x["kind"] != "note"]
                if d["cartridge"]["state"] != "none" or late or d["peak_db"] > -100:
                    prob("not silent until the next save: cartridge %s, peak %s dBFS, events %s"
                         % (d["cartridge"]["state"], d["peak_db"], late))
        finally:
            os.unlink(poison)
        seq = last_seq(self.name)
        self.write(self.good_content())
        run = self.wait_kind(seq, ("running",), 3)
        if not run:
            prob("the next save did not play after the give-up")
        else:
            self.good_at = run[0]["time"] + GOOD_HOLD
        return self._rule_end(rec)

    def rule_fault_while_compiling(self):
        """The producer faults while a newer save is still compiling: the revert comes
        first (the deck plays again at once, whatever becomes of the save); the save is
        then compiled again and, refused, leaves the revert playing."""
        rec, prob = self._rule("rule_fault_while_a_save_compiles")
        trig = os.environ["KANON_FAULT_LOG"] + ".trigger"
        seq = last_seq(self.name)
        self.write(src("trigger"))
        run = self.wait_kind(seq, ("running",), 3)
        if not run:
            prob("trigger.c did not take over")
            return self._rule_end(rec)
        time.sleep(max(0, run[0]["time"] + GOOD_HOLD - time.time()))  # trigger.c: the good version
        seq = last_seq(self.name)
        self.write(src("loop_process", "#define FAULT_AFTER 0\n"))  # refused after 2 s
        time.sleep(0.1)
        open(trig, "w").close()
        try:
            f = wait_for(lambda: [x for x in new_events(self.name, seq) if x["kind"] == "fault"],
                         2)
        finally:
            os.unlink(trig)
        if not f:
            prob("the playing version did not fault: %s" % [x["text"] for x in
                                                            new_events(self.name, seq)])
            return self._rule_end(rec)
        rec["fault"] = f[0]["text"]
        if not re.search(r"reverted to version \d+; cartridge \d+ \(in progress\) restarts "
                         r"after it", f[0]["text"]):
            prob("fault while a save compiled: %r; want \"reverted to version G; cartridge N "
                 "(in progress) restarts after it\"" % f[0]["text"])
        back = wait_for(lambda: [x for x in new_events(self.name, f[0]["seq"])
                                 if x["kind"] == "running"], 1.5)
        if not back:
            prob("no revert after the fault (the save in progress must not hold it up)")
            return self._rule_end(rec)
        err = wait_for(lambda: [x for x in new_events(self.name, back[0]["seq"])
                                if x["kind"] == "error"], 5)
        if not err:
            prob("the save, compiled again after the revert, was not refused")
        elif "(the previous version plays on)" not in err[0]["text"]:
            prob("refusal without \"(the previous version plays on)\": %r" % err[0]["text"])
        d = deck(self.name)
        if d["cartridge"]["state"] != "running" or d["version"] != back[0]["version"]:
            prob("after the refusal the revert does not play on: cartridge %s, version %s "
                 "(revert: version %s)" % (d["cartridge"], d["version"], back[0]["version"]))
        self.good_at = back[0]["time"] + HOLD
        return self._rule_end(rec)

    def rule_no_good(self):
        """A deck whose first version faults has no good version: silent until a save."""
        rec, prob = self._rule("rule_no_good_version")
        fresh = Storm(os.path.join(os.path.dirname(self.victim), "fresh.c"), self.marks,
                      name="fresh", lane="fresh")
        fresh.start(mute=True)
        seq = last_seq("fresh")
        fresh.write(src("segv_process"))  # silent.c played < 1 s: no good version
        f = wait_for(lambda: [x for x in new_events("fresh", seq) if x["kind"] == "fault"], 3)
        if not f:
            prob("no fault on the fresh deck: %s" % [x["text"] for x in new_events("fresh", seq)])
        else:
            rec["fault"] = f[0]["text"]
            if "no good version to revert to: silent until the next save" not in f[0]["text"]:
                prob("fresh deck: %r" % f[0]["text"])
            time.sleep(0.3)
            d = deck("fresh")
            if d["cartridge"]["state"] != "none":
                prob("fresh deck not silent: %s" % d["cartridge"])
        seq = last_seq("fresh")
        fresh.write(src("silent"))
        if not wait_for(lambda: [x for x in new_events("fresh", seq) if x["kind"] == "running"],
                        3):
            prob("the fresh deck did not play the next save")
        kanon("stop", "fresh")
        wait_for(lambda: deck("fresh") is None, 3)
        return self._rule_end(rec)


class Lane(threading.Thread):
    """The slow refusals (each costs a 10 s or 2 s deadline) on a second, muted deck, in
    parallel with the storm: two faulty decks at once."""

    def __init__(self, storm, rounds, types):
        super().__init__(daemon=True)
        self.s = Storm(os.path.join(os.path.dirname(storm.victim), "bomb.c"), storm.marks,
                       name="bomb", lane="bomb")
        self.s.start(mute=True)
        self.rounds, self.types = rounds, types
        self.error = None

    def run(self):
        try:
            for r in range(1, self.rounds + 1):
                for t in self.types:
                    print_rec(self.s.inject(t, r))
        except Exception as e:  # reported by the main thread
            self.error = e


def print_rec(rec):
    if VERBOSE or not rec.get("ok"):
        print("  %s %-18s r%d %s%s%s" % (
            "ok  " if rec.get("ok") else "FAIL", rec["type"], rec["round"],
            "[%s] " % rec["deck"] if rec.get("deck") not in (None, "victim") else "",
            rec.get("fault", "") or "",
            "" if rec.get("ok") else "\n      " + "\n      ".join(rec["problems"]) +
            ("\n      (%s)" % rec["recovered"] if rec.get("recovered") else "")), flush=True)


VERBOSE = False


def new_swaps(before, after):
    """Entries appended to status swap_to_device_ms (newest last, at most 256 kept)."""
    for k in range(0, 6):
        keep = len(after) - k
        if keep < 0:
            break
        if after[:keep] == before[len(before) - keep:] if keep else True:
            if k == 0:
                return []
            return after[keep:]
    return after[-1:] if after != before else []


def interleave(reverts, others):
    """Each revert is followed by a refusal while the revert earns its 1 s of good standing."""
    out = []
    while reverts or others:
        if reverts:
            out.append(reverts.pop(0))
        if others:
            out.append(others.pop(0))
    return out


def cmd_run(a):
    global VERBOSE
    VERBOSE = a.verbose
    chosen = [t for t in TYPES if (not a.types or t["name"] in a.types.split(","))
              and t["name"] not in (a.skip_types or "").split(",")]
    marks = Marks(os.environ["KANON_FAULT_LOG"])
    marks.take()
    storm = Storm(a.victim, marks)
    storm.mix = (1, False)
    global WAITS
    WAITS = Waits(storm.cond_pid)
    WAITS.start()
    lane_types = [t for t in chosen if t["name"] in LANE_TYPES]
    main_types = [t for t in chosen if t["name"] not in LANE_TYPES]
    rnd = random.Random(a.shuffle) if a.shuffle is not None else None
    t_start = time.time()
    lane = None
    if lane_types:
        lane = Lane(storm, a.rounds, lane_types)
        lane.start()
    try:
        for r in range(1, a.rounds + 1):
            ts = [t for t in main_types if not (a.every and t["name"] in a.every
                                                and r % a.every[t["name"]])]
            if rnd:
                rnd.shuffle(ts)
            order = interleave([t for t in ts if t["kind"] == "revert"],
                               [t for t in ts if t["kind"] == "refuse"])
            order += [t for t in ts if t["kind"] not in ("revert", "refuse")]
            for t in order:
                print_rec(storm.inject(t, r))
            if a.rules_every and r % a.rules_every == 0:
                for f in (storm.rule_quick_second, storm.rule_give_up,
                          storm.rule_fault_while_compiling, storm.rule_no_good):
                    print_rec(f())
        storm.wait_good()
        storm.finish_pending()
        if lane:
            lane.join()
            if lane.error:
                raise lane.error
    finally:
        results = storm.results + (lane.s.results if lane else [])
        try:
            vlog = log(storm.name)
        except Exception:  # the conductor is gone: the results say why
            vlog = []
        out = {"results": results, "seconds": time.time() - t_start, "log": vlog,
               "conductor_pid": storm.cond_pid,
               "seen_pids": sorted(storm.seen_pids | (lane.s.seen_pids if lane else set()))}
        with open(a.results, "w") as f:
            json.dump(out, f, indent=1)
    if lane:
        kanon("stop", "bomb")
        wait_for(lambda: deck("bomb") is None, 3)
    failed = [x for x in results if not x.get("ok")]
    # the handover's own check (decks.c): its state always agrees with the cartridges
    for e in vlog:
        if e.get("kind") == "bug":
            failed.append({"ok": False, "why": e.get("text")})
            print("storm: the conductor found a bug of its own: %s" % e.get("text"))
    print("storm: %d injections in %.0f s, %d failed" % (len(results), time.time() - t_start,
                                                       len(failed)))
    return 1 if failed else 0


# ------------------------------------------------------------------ recordings


def read_wav(path):
    with open(path, "rb") as f:
        d = f.read()
    if d[:4] != b"RIFF" or d[8:12] != b"WAVE":
        raise Fail("%s: not a WAV file" % path)
    i, fmt, data = 12, None, None
    while i + 8 <= len(d):
        cid, size = d[i:i + 4], struct.unpack("<I", d[i + 4:i + 8])[0]
        body = d[i + 8:i + 8 + size]
        if cid == b"fmt ":
            tag, ch, rate = struct.unpack("<HHI", body[:8])
            bits = struct.unpack("<H", body[14:16])[0]
            if tag == 0xFFFE:
                tag = struct.unpack("<H", body[24:26])[0]
            if tag != 3 or bits != 32:
                raise Fail("%s: not float32" % path)
            fmt = (rate, ch)
        elif cid == b"data":
            data = array.array("f")
            data.frombytes(body[:len(body) // 4 * 4])
        i += 8 + size + (size & 1)
    if sys.byteorder != "little":
        data.byteswap()
    return fmt[0], fmt[1], data


def write_wav(path, rate, data):
    with open(path, "wb") as f:
        n = len(data) * 4
        f.write(b"RIFF" + struct.pack("<I", 36 + n) + b"WAVE")
        f.write(b"fmt " + struct.pack("<IHHIIHH", 16, 3, 1, rate, rate * 4, 4, 32))
        f.write(b"data" + struct.pack("<I", n))
        f.write(data.tobytes())


def cmd_channel(a):
    rate, ch, data = read_wav(a.input)
    write_wav(a.output, rate, data[a.ch::ch])
    return 0


def segments(x):
    """Maximal runs of the victim signal: (r_start, r_end, k_start, k_end, tag), where k is
    the state counter n mod 2^19 and tag 0 = good code, 1 = a fault file."""
    segs = []
    start = prev = ptag = None
    scale = 4194304.0
    for r, v in enumerate(x):
        k = tag = None
        if v >= 0.0625:
            tag = 1 if v >= 0.25 else 0
            q = (v - BASES[tag]) * scale
            if q == int(q) and q < MOD:
                k = int(q)
            else:
                tag = None
        if k is not None and prev is not None and tag == ptag and k == (prev + 1) % MOD:
            prev = k
            continue
        if start is not None:
            segs.append((start, r - 1, kstart, prev, ptag))
            start = None
        if k is not None:
            start, kstart, prev, ptag = r, k, k, tag
        else:
            prev = ptag = None
    if start is not None:
        segs.append((start, len(x) - 1, kstart, prev, ptag))
    return [sg for sg in segs if sg[1] - sg[0] >= 3]


def pct(v, p):
    v = sorted(v)
    if not v:
        return None
    return v[min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))]


def cmd_analyze(a):
    res = json.load(open(a.results))
    rate, ch, data = read_wav(a.recording)
    x = data[1::ch]
    problems = []
    peak = max(abs(v) for v in x) if x else 0
    nonfinite = sum(1 for v in x if v != v or v in (float("inf"), float("-inf")))
    if nonfinite:
        problems.append("%d non-finite samples on the victim's channel" % nonfinite)
    if peak > VICTIM_MAX:
        problems.append("victim channel peak %.6g: more than the victim signal (%.4f): a "
                        "faulty output was heard" % (peak, VICTIM_MAX))
    segs = segments(x)
    recs = res["results"]
    for r in recs:  # a fresh analysis (analyze writes its findings back into the results)
        for k in ("rec_problems", "seg", "gap_frames", "gap_ms", "skip_ms", "resumed_n_off"):
            r.pop(k, None)
    used = set()
    for r in recs:
        if "run_t" not in r and "mark_t" in r and "revert_ms" in r:
            r["run_t"] = r["mark_t"] + r["revert_ms"] / 1000
    # Each revert is found near where its "running" event predicts it: frames advance at
    # the rate from the last revert found (the device's clock drifts from the wall clock
    # under load, but only by a few ms between two reverts).
    anchor = (0, a.rec_start)
    for rec in sorted((r for r in recs if r["kind"] == "revert" and "snap_n" in r
                       and "run_t" in r), key=lambda r: r["run_t"]):
        rp = rec.setdefault("rec_problems", [])
        snap = rec["snap_n"] % MOD
        # The revert is the good version's code (good.c, or a fault file that played 1 s
        # without its fault) resuming at the snapshot, plus its fade-in, plus whatever the
        # mixer dropped before it played it again; the faulty file's sound is before.
        want = anchor[0] + (rec["run_t"] - anchor[1]) * rate
        cands = [i for i, sg in enumerate(segs) if i not in used
                 and sg[4] == rec.get("revert_tag", 0)
                 and (sg[2] - snap) % MOD < 48000
                 and abs(sg[0] - want) < (0.6 if anchor[0] else 3.0) * rate]
        hit = min(cands, key=lambda i: abs(segs[i][0] - want)) if cands else None
        if hit is None:
            rp.append("the revert (resuming at state n=%d) is not in the recording near %.2f s"
                      % (rec["snap_n"], want / rate))
            continue
        used.add(hit)
        rec["seg"] = hit
        sg = segs[hit]
        anchor = (sg[0], rec["run_t"])
        rec["resumed_n_off"] = (sg[2] - snap) % MOD  # 48 (the fade-in) when nothing is lost
        rec["skip_ms"] = max(0, rec["resumed_n_off"] - 48) * 1000.0 / rate
        # The revert resumes at its snapshot: every frame of state it skipped is one the
        # mixer dropped as late (status late_frames, read before the save and 1 s into the
        # revert; other drops in that window only loosen this), give or take one block.
        if "late1" in rec:
            dropped = rec["late1"] - rec["late0"]
            if rec["resumed_n_off"] - 48 > dropped + BLOCK_FRAMES:
                rp.append("the revert resumed %d frames past its snapshot (skip %.1f ms), but "
                          "the mixer dropped only %d: it did not restore the snapshot" %
                          (rec["resumed_n_off"] - 48, rec["skip_ms"], dropped))
        else:  # the deck was gone when the revert's drops were to be read (printed below)
            rec["skip_unchecked"] = True
        if hit == 0:
            continue
        p = segs[hit - 1]
        rec["gap_frames"] = sg[0] - p[1] - 1  # fade-out + silence + fade-in
        rec["gap_ms"] = rec["gap_frames"] * 1000.0 / rate
        if p[4] == 1 and rec["type"] != "slow" and (p[3] - rec["mark_n"]) % MOD < MOD // 2:
            rp.append("the faulty version was heard past its fault (n=%d, fault at n=%d)" %
                      (p[3], rec["mark_n"] % MOD))
        if rec["gap_frames"] == 0:
            rp.append("no fade-in: the revert is spliced at full level straight after the faulty "
                      "version's last frame (%.3f s into the recording)" % (sg[0] / rate))
    # Every jump of the victim's state must be a revert of an injection; refusals and
    # accepted versions must not disturb what plays. Jumps and pauses (the same state
    # going on after a dry ring) are placed in wall time: recording start + frame / rate
    # (+- the device and ring latency, ~0.25 s); an injection's window is from its save to
    # the end of its checks, +- 0.5 s.
    vrecs = [r for r in recs if r.get("deck", "victim") == "victim" and "t_save" in r]
    # Recording frame -> wall time. The dummy device's frame clock drifts from the wall
    # clock under load (~0.5%), so the matched reverts are the anchors: a revert's first
    # frame was mixed right after its "running" event (within one device period).
    anchors = sorted((segs[r["seg"]][0], r["run_t"]) for r in recs if "seg" in r and "run_t" in r)
    anchors = [(0, a.rec_start)] + [x for x in anchors if x[0] > 0]

    def wall(r):
        lo = max((x for x in anchors if x[0] <= r), default=anchors[0])
        hi = min((x for x in anchors if x[0] > r), default=None)
        if hi is None or hi[0] == lo[0]:
            return lo[1] + (r - lo[0]) / rate
        return lo[1] + (hi[1] - lo[1]) * (r - lo[0]) / (hi[0] - lo[0])

    def during(r):
        t = wall(r)
        return [x for x in vrecs if x["t_save"] - 0.5 <= t <= x.get("t_end", x["t_save"]) + 0.5]

    jumps, pauses, excused = 0, [], []
    for i in range(1, len(segs)):
        p, s = segs[i - 1], segs[i]
        adv = (s[2] - p[3]) % MOD
        win = during(s[0])
        names = ",".join(sorted(set(x["type"] for x in win))) or "no injection"
        if 0 < adv <= CONT:
            if p[4] == s[4]:  # the same code went on after a dry ring: a dropout
                pauses.append("%.2f s (%s)" % (s[0] / rate, names))
            continue  # (or a crossfade between good code and a fault file: a takeover)
        jumps += 1
        if i in used:
            continue
        if any(not x.get("ok") or x["kind"] == "rule" or x.get("recovered") for x in win):
            excused.append("%.2f s (%s)" % (s[0] / rate, names))
            continue
        t = wall(s[0])
        why = [e["text"] for e in res.get("log", []) if e["kind"] == "fault"
               and t - 1.0 <= e["time"] <= t + 0.3]
        problems.append("the victim's sound jumped (state n=%d -> n=%d) at %.2f s of the "
                        "recording, during: %s%s" % (p[3], s[2], s[0] / rate, names,
                                                    "; the conductor logged: " + "; ".join(why)
                                                    if why else ""))
    spliced = [r for r in recs if any(p.startswith("no fade-in") for p in
                                      r.get("rec_problems", []))]
    reverts = [r for r in recs if "gap_frames" in r]
    if spliced:
        problems.append("no fade-in for %d of %d reverts: the reverted version was spliced at "
                        "full level straight after the faulty version's last frame (a click; "
                        "the audio thread never saw the deck FAULTED): %s" % (
                            len(spliced), len(reverts),
                            ", ".join("%s r%d" % (r["type"], r["round"]) for r in spliced)))
    for rec in recs:
        for p in rec.get("rec_problems", []):
            if not p.startswith("no fade-in"):
                problems.append("%s (round %s): %s" % (rec["type"], rec["round"], p))
    report = {"problems": problems, "segments": len(segs), "jumps": jumps,
              "excused_jumps": excused, "pauses": pauses, "victim_peak": peak,
              "timings": timings(recs)}
    if a.report:
        json.dump(report, open(a.report, "w"), indent=1)
        json.dump(res, open(a.results, "w"), indent=1)
    print_summary(res, report, rate)
    for p in problems:
        print("FAIL: " + p)
    return 1 if problems else 0


GROUPS = [("crash", CRASH), ("hang", HANG), ("NaN/Inf", ["nan", "inf"]),
          ("runaway", ["runaway"]), ("slow", ["slow"]), ("corrupt", ["scribble"])]


def timings(recs):
    out = {}
    for g, names in GROUPS:
        rs = [r for r in recs if r["type"] in names and r.get("ok") is not None]
        row = {"n": len(rs)}
        for k in ("detect_ms", "silence_ms", "revert_ms", "sound_ms", "gap_ms", "skip_ms"):
            v = [r[k] for r in rs if k in r]
            row[k] = {"n": len(v), "p50": pct(v, 50), "p99": pct(v, 99), "max": max(v) if v else
                      None}
        out[g] = row
    return out


def fmt(v):
    return "-" if v is None else "%.0f" % v if abs(v) >= 10 else "%.1f" % v


def print_summary(res, report, rate):
    recs = res["results"]
    by = {}
    for r in recs:
        by.setdefault(r["type"], []).append(r)
    print("%d injections in %.0f s (ok/total per fault type; the first problem of a failing one):"
          % (len(recs), res.get("seconds", 0)))
    good = []
    for name, rs in by.items():
        ok = [r for r in rs if r.get("ok") and not r.get("rec_problems")]
        if len(ok) == len(rs):
            good.append("%s %d/%d" % (name, len(ok), len(rs)))
            continue
        first = [p for r in rs for p in r.get("problems", []) + r.get("rec_problems", [])]
        msg = first[0] if first else "?"
        print("  %-20s %d/%d  %s" % (name, len(ok), len(rs), msg[:170] +
                                    ("..." if len(msg) > 170 else "")))
    for i in range(0, len(good), 7):
        print("  " + ", ".join(good[i:i + 7]))
    print("timings in ms, p50/p99/max; n (fault = the fault file's own clock stamp):")
    print("  %-8s %-20s %-20s %-20s %-20s %-20s" % (
        "", "fault->verdict", "fault->silent", "fault->revert runs", "fault->revert heard",
        "gap (recording)"))
    for g, row in report["timings"].items():
        if not row["n"]:
            continue
        cells = []
        for k in ("detect_ms", "silence_ms", "revert_ms", "sound_ms", "gap_ms"):
            c = row[k]
            cells.append("%s/%s/%s;%3d" % (fmt(c["p50"]), fmt(c["p99"]), fmt(c["max"]), c["n"])
                         if c["n"] else "-")
        print("  %-8s %-20s %-20s %-20s %-20s %-20s" % (g, *cells))
    print("  (silent: the audio thread's stamp of the chunk that faded the deck out, the first "
          "callback after\n   the verdict; heard: handed to the device; the gap is fade-out + "
          "silence + fade-in, exact to the frame)")
    sk = [r["skip_ms"] for r in res["results"] if "skip_ms" in r]
    if sk:
        print("reverts resume at the snapshot + p50 %.0f ms, p99 %.0f ms, max %.0f ms of the "
              "reverted version's audio (n=%d; what the mixer dropped before playing it)" %
              (pct(sk, 50), pct(sk, 99), max(sk), len(sk)))
    un = sum(1 for r in res["results"] if r.get("skip_unchecked"))
    if un:
        print("note: %d revert(s) whose skip was not checked: the deck was gone when the drops "
              "were to be read" % un)
    print("victim channel: peak %.4f; %d state jumps (reverts; %d during failed checks, "
          "rules or recoveries); %d dropouts (victim underruns)%s" %
          (report["victim_peak"], report["jumps"], len(report["excused_jumps"]),
           len(report["pauses"]), (": " + ", ".join(report["pauses"][:6]) +
                                   (" ..." if len(report["pauses"]) > 6 else ""))
           if report["pauses"] else ""))


def cmd_procs(a):
    for c in children(a.pid):
        print(" ".join(c))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--victim", required=True)
    r.add_argument("--results", required=True)
    r.add_argument("--rounds", type=int, default=3)
    r.add_argument("--types")
    r.add_argument("--skip-types")
    r.add_argument("--shuffle", type=int)
    r.add_argument("--rules-every", type=int, default=0,
                   help="the recovery rules after every K-th round (0: never)")
    r.add_argument("--every", type=lambda s: {k: int(v) for k, v in
                                              (x.split("=") for x in s.split(","))},
                   help="NAME=K,...: inject NAME only every K-th round")
    r.add_argument("-v", "--verbose", action="store_true")
    an = sub.add_parser("analyze")
    an.add_argument("--results", required=True)
    an.add_argument("--recording", required=True)
    an.add_argument("--report")
    an.add_argument("--rec-start", type=float, required=True,
                    help="wall time (s) at which the recording started")
    c = sub.add_parser("channel")
    c.add_argument("input")
    c.add_argument("ch", type=int)
    c.add_argument("output")
    p = sub.add_parser("procs")
    p.add_argument("pid", type=int)
    a = ap.parse_args()
    try:
        return {"run": cmd_run, "analyze": cmd_analyze, "channel": cmd_channel,
                "procs": cmd_procs}[a.cmd](a)
    except Fail as e:
        print("FAIL: %s" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
