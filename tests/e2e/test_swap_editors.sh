# Every way an editor saves triggers exactly one takeover, of the final content.
#
# Save styles (each writes a distinct valid version of the watched file):
#   in place      open the existing file O_WRONLY without O_TRUNC, write a
#                 shorter text, ftruncate to its length (python)
#   truncate      shell `>` (O_TRUNC, write, close)
#   chunks        one open, 5 writes with flush+fsync and 50 ms sleeps between
#   rename .swp   write .s.c.swp, rename it over s.c (vim, VS Code)
#   rename .tmp   write s.c.tmp, rename it over s.c
#   backup+new    rename s.c to s.c~, write a new s.c (vim's writebackup)
#   sed -i        (sed writes a temp file and renames it over)
#   cp            cp from another directory
# For each: exactly one new "running" event (and no error), the deck's
# version goes up by one, and that version's history file (`kanon history
# --json` "file") is byte-identical to what was saved. Checked again after
# the deck has played on for a while (a late second takeover would show).
#
# Then a storm: 50 distinct valid versions (the frequency constant changes)
# saved within about a second (0..50 ms apart, truncate and rename mixed,
# so some saves supersede a version still compiling). Afterwards the last one
# plays: history's newest file equals it and a recording's frequency matches
# it; the conductor's children are exactly the deck's cartridge and the
# spare (no leftover cartridge processes); no error events. After
# `kanon down`: no kanon.<uid>.<instance>.* segment in /dev/shm and no live
# process of this instance.
. "$(dirname "$0")/lib.sh"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in tests/e2e/swap
SW=$ROOT/tests/e2e/swap
mkdir -p "$T/ed" "$T/other"
up --tier tcc # the conductor's children are counted: no cc compile may be among them
python3 - "$SW" "$T/ed/s.c" "$T/other" "$T/storm.wav" <<'PY' || fail "editors"
import os, random, subprocess, sys, time
sys.path.insert(0, sys.argv[1])
from swaplib import *
path, other, wav = sys.argv[2], sys.argv[3], sys.argv[4]
name = "s"
TEMPLATE = open(os.path.join(sys.argv[1], "phase440.c")).read()


def make(freq, tag, pad=0):
    src = TEMPLATE.replace("440.0 / k->rate", "%d.0 / k->rate" % freq)
    return ("/* s.c - saved by: %s */\n" % tag + src
            + ("/* %s */\n" % ("x" * pad) if pad else "")).encode()


def check_quiet(n_run, what):
    ev = events(name)
    run = [e for e in ev if e["kind"] == "running"]
    err = [e["kind"] + ": " + e["text"] for e in ev if e["kind"] in ("error", "fault")]
    if err:
        raise Fail("%s: error/fault events: %s" % (what, err))
    if len(run) != n_run:
        raise Fail("%s: %d takeovers, want %d: %s" % (what, len(run), n_run, [e["text"] for e in run[-3:]]))


def sh(cmd):
    subprocess.run(["bash", "-c", cmd], check=True)


def s_in_place(data):
    if len(data) >= os.path.getsize(path):
        raise Fail("test bug: the in-place save must be shorter than the file")
    save_in_place(path, data)


def s_truncate(data):
    open(os.path.join(other, "t.c"), "wb").write(data)
    sh("cat '%s' > '%s'" % (os.path.join(other, "t.c"), path))


def s_backup_new(data):
    os.rename(path, path + "~")
    with open(path, "wb") as f:
        f.write(data)


def s_sed(data):
    # data is what sed's edit must produce (built from the current content below)
    sh("sed -i -e 's|%d.0 / k->rate|%d.0 / k->rate|' -e 's|saved by: [a-z.+]*|saved by: sed -i|' %s"
       % (cur_freq, sed_freq, path))


try:
    with open(path, "wb") as f:
        f.write(make(440, "first", 1500))
    kanon("play", path, "--deck", name)
    wait_version(name, 1)
    check_quiet(1, "play")
    styles = [
        ("in place", s_in_place, 0),
        ("truncate", s_truncate, 1500),
        ("chunks", lambda b: save_chunks(path, b, chunks=5, pause=0.05), 800),
        ("rename .swp", lambda b: save_rename(path, b, ".s.c.swp"), 200),
        ("rename .tmp", lambda b: save_rename(path, b, "s.c.tmp"), 1200),
        ("backup+new", s_backup_new, 600),
        ("sed -i", s_sed, None),
        ("cp", lambda b: save_cp(path, b, other), 50),
    ]
    cur_freq = 440
    for i, (tag, saver, pad) in enumerate(styles):
        v = 2 + i
        freq = 450 + 10 * i
        if pad is None:  # sed: the edit of the current content
            sed_freq = freq
            cur = open(path, "rb").read().decode()
            data = (cur.replace("%d.0 / k->rate" % cur_freq, "%d.0 / k->rate" % freq)
                    .replace(cur.split("saved by: ")[1].split(" */")[0], "sed -i", 1)).encode()
        else:
            data = make(freq, tag, pad)
        check_quiet(v - 1, "before " + tag)
        saver(data)
        if open(path, "rb").read() != data:
            raise Fail("test bug: %s saved something else" % tag)
        wait_version(name, v)
        wait_idle(name)
        dk = deck(name)
        if dk["version"] != v:
            raise Fail("%s: version %d, want %d" % (tag, dk["version"], v))
        check_quiet(v, tag)
        run = running_events(name)[-1]
        h = [x for x in history(name)["versions"] if x["version"] == v]
        if run["version"] != v or "save)" not in run["text"] or len(h) != 1:
            raise Fail("%s: takeover %s, history %s" % (tag, run["text"], h))
        if open(h[0]["file"], "rb").read() != data:
            raise Fail("%s: history v%d (%s) is not the saved content" % (tag, v, h[0]["file"]))
        print("  ok: %-11s -> exactly one takeover (v%d), history file identical" % (tag, v))
        cur_freq = freq
    advance(name, 12000)  # let a late duplicate show up
    check_quiet(1 + len(styles), "after the editor saves")
    print("  ok: still exactly %d takeovers, no errors, after the deck played on" % (1 + len(styles)))

    # --- the storm
    v0 = deck(name)["version"]
    last = None
    gaps = random.Random(50)  # ~1 s in all; back-to-back saves supersede compiling ones
    for i in range(50):
        last_freq = 200 + 7 * i
        last = make(last_freq, "storm %d" % i, i)
        (save_truncate if i % 2 else save_rename)(path, last)
        time.sleep(gaps.choice([0, 0, 0.001, 0.005, 0.02, 0.04, 0.05]))
    wait_until(lambda: open(history(name)["versions"][-1]["file"], "rb").read() == last,
               "the storm's last save to take over", timeout=30)
    wait_idle(name)
    dk = deck(name)
    h = history(name)
    if h["current"] != dk["version"] or h["versions"][-1]["version"] != dk["version"]:
        raise Fail("storm: playing v%d, history current v%d newest v%d"
                   % (dk["version"], h["current"], h["versions"][-1]["version"]))
    ev = events(name)
    if [e for e in ev if e["kind"] in ("error", "fault")]:
        raise Fail("storm: error/fault events: %s" % [e["text"] for e in ev if e["kind"] in ("error", "fault")])
    n_storm = dk["version"] - v0
    print("  ok: storm of 50 saves -> %d takeovers, the last save's content plays (v%d)" % (n_storm, dk["version"]))
    kanon("record", "start", wav)
    advance(name, 48000)
    kanon("record", "stop")
    f = float(subprocess.run(["wavtool", "stat", wav, "--field", "freq", "--skip", "0.2"],
                             capture_output=True, text=True, check=True).stdout)
    if abs(f - last_freq) > 0.5:
        raise Fail("storm: recording at %.2f Hz, the last save says %d" % (f, last_freq))
    print("  ok: recording after the storm: %.2f Hz = the last save's %d Hz" % (f, last_freq))

    # --- processes: the conductor's children are the deck's cartridge and the spare
    st = status()
    cpid = st["pid"]

    def children():
        out = []
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                stat = open("/proc/%s/stat" % p).read()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[1]) == cpid:
                try:
                    cmd = open("/proc/%s/cmdline" % p, "rb").read().split(b"\0")
                except OSError:
                    cmd = []
                out.append((int(p), fields[0], [c.decode() for c in cmd if c]))
        return out

    kids = wait_until(lambda: (lambda k: len(k) == 2 and k)(children()),
                      "the conductor to have exactly 2 children (has %s)" % children(), timeout=15)
    pid = deck(name)["cartridge"]["pid"]
    kinds = sorted("deck" if k[0] == pid else "spare" if k[2][1:] == ["spare"] else "?" for k in kids)
    if kinds != ["deck", "spare"] or any(not k[2][0].endswith("kanon-cartridge") for k in kids):
        raise Fail("conductor's children: %s (deck cartridge pid %d)" % (kids, pid))
    print("  ok: conductor %d has exactly 2 children: the deck's cartridge %d and the spare" % (cpid, pid))
    with open(os.path.join(os.path.dirname(wav), "pids"), "w") as f:
        f.write(" ".join(str(p) for p in [cpid] + [k[0] for k in kids]))
except Fail as e:
    print("FAIL:", e)
    sys.exit(1)
PY
kanon down >"$T/down.out" 2>&1 || fail "kanon down: $(cat "$T/down.out")"
python3 - "$T/pids" "$KANON_INSTANCE" <<'PY' || fail "leftovers after kanon down"
import os, sys
pids = [int(p) for p in open(sys.argv[1]).read().split()]
inst = sys.argv[2]
left = []
shm = [f for f in os.listdir("/dev/shm") if f.startswith("kanon.%d.%s." % (os.getuid(), inst))]
if shm:
    left.append("shared memory: %s" % shm)


def state(p):
    try:
        s = open("/proc/%d/stat" % p).read()
        return s[s.rindex(")") + 2:].split()[0]
    except OSError:
        return None


for p in pids:  # the conductor and its last children (a zombie holds nothing)
    if state(p) not in (None, "Z"):
        left.append("process %d still runs (state %s)" % (p, state(p)))
# Any kanon process started for this instance (spares get their job on stdin,
# so find them by the KANON_INSTANCE they inherited from `kanon up`).
for p in os.listdir("/proc"):
    if p.isdigit() and state(int(p)) not in (None, "Z"):
        try:
            cmd = open("/proc/%s/cmdline" % p, "rb").read().split(b"\0")
            env = open("/proc/%s/environ" % p, "rb").read().split(b"\0")
        except OSError:
            continue
        if os.path.basename(cmd[0]) in (b"kanon-conductor", b"kanon-cartridge") and \
                (b"KANON_INSTANCE=" + inst.encode() in env or inst.encode() in cmd):
            left.append("process %s: %s" % (p, b" ".join(cmd).decode(errors="replace")))
if left:
    print("FAIL:", "; ".join(left))
    sys.exit(1)
print("  ok: after kanon down: no kanon.%d.%s.* in /dev/shm, conductor and cartridges gone" % (os.getuid(), inst))
PY
