#!/usr/bin/env python3
"""bench.py - kanon's benchmarks (`make bench`). Prints a markdown report.

Everything runs for real: kanon-cartridge compiles with libtcc, the
conductor plays on the libsoundio dummy backend (JACK for the latency
figure), saves go through inotify. Figures are medians and p99s over
repeated runs, with references measured in the same run on the same
machine (a gcc -O2 rebuild of the same file, a bare process start), since
the machine is shared and noisy: compare ratios, not absolute numbers.

  compile     libtcc compile + relocate of each example (in-process time)
  render      offline render speed of each example, x real time
  cpu         conductor CPU (% of one core) playing 1 and 8 decks
  swap        save -> takeover, save -> first new frame at the device,
              compile share; 100 swaps with 1 deck and with 8 decks
  jack        output latency (ring + device) at --block 64 on JACK
  faults      fault -> verdict / silence / revert running / revert heard, p50 and
              p99, for crashes, hangs and NaN (tests/e2e/test_faults.sh with a
              subset of tests/faults/, N rounds), on the dummy backend and JACK
  overload    K decks that each need 15% of a core, 112% of the machine in all
              (tests/e2e/overload/burn.c): device underflows, deck underruns,
              decks faulted, and `kanon status` round trips, with the audio
              thread real-time (default) and not (KANON_AUDIO_RT=0), shedding
              off; then the default with shedding. KANON_BENCH_BASELINE=DIR
              adds a row for another build's bin/ (e.g. before a change).

  params      a cartridge's per-block parameter work (read the targets, advance
              the smoothing) for 0, 64, 256 and 1024 knobs, at rest and gliding,
              and the declarations setup() makes (bench/param_cost.c)
  rates       the figures the e2e tests no longer hold as floors (docs/architecture.md,
              Testing): OSC meter messages per second (test_osc), a 600 ms ramp's
              feedback values (test_cli_json), on a quiet machine and beside two
              busy loops (`yes`), with the underruns and device underflows meanwhile
  link        two conductors joined by Ableton Link (tests/e2e/test_link.sh, its
              network namespaces; root): how often B's tempo map is corrected
              while idle, and how long `kanon tempo` on A takes to reach B's map
              and output, on a quiet machine and beside two busy loops (test_link
              checks only what holds on any machine: no tempo change, no jump)
  tier        the second tier: CPU s per audio s of bench/p1_plain.c, p2_plain.c and
              every example rendered on the tcc and on the cc tier (`kanon render
              --tier tcc|auto`), their ratio, and whether the builds agree sample for
              sample; live, save -> tcc takeover and save -> cc build running (p50,
              p99) over N saves of p2_plain.c, the tier swaps' fades and underruns
  faust       every example of the installed Faust corpus rendered for 0.5 s
              (tests/e2e/test_faust_corpus.sh's list, a 120 s compile limit):
              the pass rate, the median and slowest compile times

`bench.py --quick` runs fewer rounds; `bench.py --only overload` one section.
"""
import glob
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bin")
ENV = dict(os.environ, PATH=BIN + ":" + os.environ["PATH"], KANON_INSTANCE="bench")
TMP = tempfile.mkdtemp(prefix="kanon-bench.")
ENV["XDG_STATE_HOME"] = os.path.join(TMP, "state")
EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "examples", "*.c")))  # .dsp: see docs/faust.md
QUICK = "--quick" in sys.argv
ONLY = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None


def run(*args, check=True, **kw):
    return subprocess.run(args, env=ENV, capture_output=True, text=True, check=check, **kw)


def kanon(*args, check=True):
    return run(os.path.join(BIN, "kanon"), *args, check=check)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def fmt(xs):
    return "%.2f / %.2f / %.2f" % (statistics.median(xs), pct(xs, 99), max(xs))


def timed(*args):
    t = time.perf_counter()
    subprocess.run(args, env=ENV, capture_output=True, check=True)
    return (time.perf_counter() - t) * 1000


def bench_compile(n):
    print("## Compile time (ms: median / p99 / max over %d runs; processes: median of 9)\n" % n)
    print("*kanon compile*: libtcc in the cartridge, as a deck compiles. *`kanon check`*: the "
          "whole command as a process (it compiles in the `kanon` process itself), against a "
          "bare `tcc -c` of the same file with the same include path, timed alike, alternating; "
          "the ratio is the median of the 9 pairs (goal: check / tcc -c <= 1.5x).\n")
    print("| example | kanon compile | `kanon check` process | `tcc -c` process | check / tcc -c "
          "| `gcc -O2 -shared` process |")
    print("|---|---|---|---|---|---|")
    inc = os.path.join(ROOT, "cartridge", "include")
    nodes = "-I" + os.path.join(ROOT, "nodes-c", "include")
    ratios = []
    for f in EXAMPLES:
        ms = []
        for _ in range(n):
            out = run(os.path.join(BIN, "kanon-cartridge"), "check", f).stdout
            ms.append(float(re.search(r"compiled in ([0-9.]+) ms", out).group(1)))
        check, tcc = [], []
        for _ in range(9):
            check.append(timed(os.path.join(BIN, "kanon"), "check", f))
            tcc.append(timed("tcc", "-I" + inc, nodes, "-c", f, "-o", os.path.join(TMP, "x.o")))
        gcc = [timed("gcc", "-O2", "-shared", "-fPIC", "-I" + inc, nodes, f, "-o",
                     os.path.join(TMP, "x.so")) for _ in range(5)]
        r = statistics.median(c / t for c, t in zip(check, tcc))  # pairs: a load swing hits both
        ratios.append(r)
        print("| %s | %s | %.2f | %.2f | %.2fx | %.1f |" % (
            os.path.basename(f), fmt(ms), statistics.median(check), statistics.median(tcc), r,
            statistics.median(gcc)))
    print("\n`kanon check` / `tcc -c`: median %.2fx, worst %.2fx over %d examples (goal <= 1.5x: %s)\n"
          % (statistics.median(ratios), max(ratios), len(ratios),
             "met" if max(ratios) <= 1.5 else "NOT met"))


def bench_render(seconds):
    print("## Offline render speed (%d s of audio, 48 kHz stereo, block 64)\n" % seconds)
    print("| example | x real time (wall) | x real time (process() only) |")
    print("|---|---|---|")
    for f in EXAMPLES:
        err = run(os.path.join(BIN, "kanon"), "render", f, "--seconds", str(seconds), "-o",
                  os.path.join(TMP, "r.wav")).stderr
        m = re.search(r"([0-9.]+)x real time \(process ([0-9.]+)x\)", err)
        print("| %s | %s | %s |" % (os.path.basename(f), m.group(1), m.group(2)))
    print()


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def children(pid):
    out = run("pgrep", "-P", str(pid), check=False).stdout.split()
    return [int(p) for p in out]


def status():
    return json.loads(kanon("status", "--json").stdout)


def up(*args):
    kanon("down", check=False)
    kanon("up", "--backend", "dummy", *args)
    return status()["pid"]


def play_decks(n):
    for i in range(n):
        kanon("play", os.path.join(ROOT, "examples", "sine.c"), "--deck", "d%d" % i, "--no-watch")


def bench_cpu(secs):
    print("## CPU while playing (dummy backend, default latency; %% of one core over %d s)\n" % secs)
    print("| decks | conductor | all cartridges | underruns |")
    print("|---|---|---|---|")
    hz = os.sysconf("SC_CLK_TCK")
    for n in (1, 8):
        pid = up()
        play_decks(n)
        time.sleep(1)
        kids = [p for p in children(pid)]
        c0, k0 = cpu_ticks(pid), sum(cpu_ticks(p) for p in kids)
        time.sleep(secs)
        c1, k1 = cpu_ticks(pid), sum(cpu_ticks(p) for p in kids)
        under = sum(d["underruns"] for d in status()["decks"])
        print("| %d | %.1f %% | %.1f %% | %d |" % (n, 100 * (c1 - c0) / hz / secs,
                                                100 * (k1 - k0) / hz / secs, under))
    kanon("down", check=False)
    print()


def bench_routes(secs):
    print("## Routing cost (dummy backend; %% of one core over %d s)\n" % secs)
    print("16 decks, no routes: 16 sine decks, each on the master. 16 decks, 32 routes: 8 sine "
          "decks (off the master) each sent to 4 of 8 gain decks (tests/e2e/routing/gain_fx.c), "
          "which are on the master. The conductor's work does not grow with routes (consumers "
          "read their sources' rings themselves); the cartridges' does, by the copies.\n")
    print("| configuration | conductor | all cartridges | underruns |")
    print("|---|---|---|---|")
    hz = os.sysconf("SC_CLK_TCK")
    sine = os.path.join(ROOT, "examples", "sine.c")
    fx = os.path.join(ROOT, "tests", "e2e", "routing", "gain_fx.c")
    for routed in (0, 1):
        pid = up()
        for i in range(16):
            f = fx if routed and i >= 8 else sine
            kanon("play", f, "--deck", "d%d" % i, "--no-watch")
        if routed:
            for i in range(8):
                kanon("unroute", "d%d" % i, "master")
                for j in range(4):
                    kanon("route", "d%d" % i, "d%d" % (8 + (i + j) % 8), "--gain", "-12")
        time.sleep(1)
        kids = children(pid)
        c0, k0 = cpu_ticks(pid), sum(cpu_ticks(p) for p in kids)
        u0 = sum(d["underruns"] for d in status()["decks"])
        time.sleep(secs)
        c1, k1 = cpu_ticks(pid), sum(cpu_ticks(p) for p in kids)
        under = sum(d["underruns"] for d in status()["decks"]) - u0
        print("| %s | %.1f %% | %.1f %% | %d |" % (
            "16 decks, 32 routes" if routed else "16 decks, no routes",
            100 * (c1 - c0) / hz / secs, 100 * (k1 - k0) / hz / secs, under))
    kanon("down", check=False)
    print()


def bench_graphs(n):
    print("## Routing property test rate\n")
    env = dict(ENV, KANON_GRAPHS=str(n), KANON_GRAPH_SEED="1000", KANON_INSTANCE="bench-graphs")
    t0 = time.time()
    r = subprocess.run(["bash", os.path.join(ROOT, "tests", "e2e", "test_graphs.sh")], env=env,
                       capture_output=True, text=True)
    dt = time.time() - t0
    ok = r.returncode == 0
    print("tests/e2e/test_graphs.sh, %d random graphs (seeds 1000..%d), each loaded live, "
          "recorded, saved, rendered and compared: %s in %.1f s, **%.1f graphs per minute**.\n"
          % (n, 999 + n, "all equal" if ok else "FAILED", dt, 60 * n / dt))


def bench_swap(n):
    print("## Hot swap (%d saves each; ms: median / p99 / max)\n" % n)
    print("save -> takeover: from the inotify event to the new cartridge taking the token; "
          "save -> device: to the audio thread reading the new code's first frame "
          "(it is heard one device buffer later). The default tier: each save's cc build takes "
          "over ~60 ms later, bringing no new sound, so it is not measured here (the tier "
          "section compares save -> takeover with a deck held at `--tier tcc`).\n")
    print("| decks playing | save -> takeover | save -> device | compile | compile share |")
    print("|---|---|---|---|---|")
    src = open(os.path.join(ROOT, "examples", "sine.c")).read()
    for decks in (1, 8):
        up()
        play_decks(decks - 1)
        path = os.path.join(TMP, "swap.c")
        with open(path, "w") as f:
            f.write(src)
        kanon("play", path, "--deck", "swap")
        for i in range(n):
            s0 = status()
            v0 = [d for d in s0["decks"] if d["name"] == "swap"][0]["version"]
            a0 = len(s0["swap_to_device_ms"])
            with open(path, "w") as f:
                f.write("/* save %d */\n%s" % (i, src))
            for _ in range(400):  # until it took over and its first frame was played
                s1 = status()
                d = [d for d in s1["decks"] if d["name"] == "swap"][0]
                if d["version"] > v0 and len(s1["swap_to_device_ms"]) > a0:
                    break
                time.sleep(0.005)
        s = status()
        ev = json.loads(kanon("log", "swap", "--json").stdout)
        runs = [e for e in ev if e["kind"] == "running" and "save" in e["text"]]
        swap = [e["swap_ms"] for e in runs]
        comp = [e["compile_ms"] for e in runs]
        dev = s["swap_to_device_ms"][-len(runs):] or [float("nan")]
        under = sum(d["underruns"] for d in s["decks"])
        print("| %d | %s | %s | %s | %.0f %% |%s" % (
            decks, fmt(swap), fmt(dev), fmt(comp),
            100 * statistics.median(comp) / statistics.median(swap),
            "" if under == 0 else " (%d underruns!)" % under))
    kanon("down", check=False)
    print()


def jack_server(period, env):
    """jackd -R -d dummy at `period` frames; returns the process once a client can connect."""
    jack = subprocess.Popen(["jackd", "-R", "-d", "dummy", "-r", "48000", "-p", str(period)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        if subprocess.run(["jack_lsp"], env=env, capture_output=True).returncode == 0:
            break
        time.sleep(0.1)
    return jack


def bench_jack():
    print("## Output latency on JACK (jackd -R -d dummy; --block 64; one deck playing 3 s)\n")
    print("ring: the cartridge's ring target (adaptive: lean at first, a block more after an "
          "underrun); device: JACK's period x 2 as libsoundio reports it; a do-nothing JACK "
          "client (tests/tools/kn_probe) is measured first for 3 s on the same server: its "
          "xruns are the machine's, not kanon's. Goal: ring + device <= 4 periods where that "
          "client sees no xruns.\n")
    if not shutil.which("jackd"):
        print("jackd not installed: skipped\n")
        return
    print("| period | do-nothing client xruns / 3 s | ring | device | total | total / period "
          "| RT: audio thread, cartridges | ring grown | deck underruns / 3 s |")
    print("|---|---|---|---|---|---|---|---|---|")
    env = dict(ENV, JACK_NO_AUDIO_RESERVATION="1", JACK_DEFAULT_SERVER="kanon-bench")
    probe = os.path.join(ROOT, "build", "tools", "kn_probe")
    for period in (64, 256):
        jack = jack_server(period, env)
        try:
            r = subprocess.run([probe, "jack", "--seconds", "3"], env=env, capture_output=True,
                               text=True)
            client = json.loads(r.stdout) if r.returncode == 0 else {"xruns": "?"}
            kanon("down", check=False)
            subprocess.run([os.path.join(BIN, "kanon"), "up", "--backend", "jack", "--block", "64"],
                           env=env, capture_output=True, check=True)
            play_decks(1)
            time.sleep(3)
            s = status()
            rt = s.get("audio_rt", {})
            ring, dev = s["ring_target_ms"], s["device_latency_ms"]
            per = period * 1000.0 / 48000
            print("| %d (%.2f ms) | %s | %.2f ms | %.2f ms | %.2f ms | %.1f | %s %s, %s %s | %d | %d |"
                  % (period, per, client.get("xruns"), ring, dev, ring + dev, (ring + dev) / per,
                     rt.get("policy"), rt.get("priority"), rt.get("cartridge_policy"),
                     rt.get("cartridge_priority"), s.get("ring_grown", 0),
                     s["decks"][0]["underruns"]))
        finally:
            kanon("down", check=False)
            jack.terminate()
            jack.wait()
    print()


def bench_timeline(n):
    """Timed events and quantized takeovers: where they land against where they were due."""
    print("## Timeline (dummy backend, 48 kHz, 120 bpm)\n")
    kanon("down", check=False)
    up()
    tl = os.path.join(ROOT, "tests", "e2e", "timeline")
    wav = os.path.join(TMP, "tl.wav")
    kanon("record", "start", wav)
    src = os.path.join(TMP, "lv.c")
    shutil.copy(os.path.join(tl, "level.c"), src)
    shutil.copy(os.path.join(tl, "level.c"), os.path.join(TMP, "level.c"))  # level2.c's include
    kanon("play", src, "--deck", "lv", "--fade", "0")
    time.sleep(0.5)
    due, values = [], []
    b0 = json.loads(kanon("tempo", "--json").stdout)["beat"] + 0.5
    t_start = time.time()
    for i in range(n):  # timed sets 0.05 beat apart, each ~0.5 beat ahead when sent
        v = 0.12 + 0.27 * ((i * 37) % 100) / 100.0  # distinct, never the default 0.1
        beat = b0 + 0.05 * i
        r = json.loads(kanon("set", "lv.v", "%.6f" % v, "--at", "%.4f" % beat, "--json").stdout)
        due.append(int(r["frame"]))
        values.append(float("%.6f" % v))
        time.sleep(max(0.0, 0.025 * (i + 1) - (time.time() - t_start)))
    time.sleep(1.0)
    kanon("quant", "lv", "1")
    takeovers = []
    for k in range(5):
        shutil.copy(os.path.join(tl, "level2.c" if k % 2 == 0 else "level.c"), src + ".tmp")
        os.rename(src + ".tmp", src)
        time.sleep(1.2)
    st = status()
    rec = json.loads(kanon("record", "stop", "--json").stdout)
    sys.path.insert(0, os.path.join(ROOT, "tests", "e2e", "swap"))
    from swaplib import read_wav
    _, (left, right) = read_wav(wav)
    t0 = rec["timeline_frame"]
    errs = []
    for f, v in zip(due, values):  # every value is set once: where it first appears
        i = next((k for k in range(len(left)) if abs(left[k] - v) < 1e-6), None)
        if i is not None:
            errs.append(abs(t0 + i - f))
        else:
            print("(value %g due at frame %d never appeared)" % (v, f))
    prev = right[0]
    for j in range(1, len(right)):
        if right[j] != prev and right[j] in (0.25, 0.4000000059604645) and prev in (0.25, 0.4000000059604645):
            takeovers.append((t0 + j) % 24000)
        prev = right[j]
    kanon("down", check=False)
    late = st["events_late"]
    print("| what | n | error, frames: p50 / max | late |")
    print("|---|---|---|---|")
    print("| `set --at BEAT` (about 0.5 beat ahead) | %d | %s / %s | %d |" % (
        len(errs), pct(errs, 50) if errs else "-", max(errs) if errs else "-", late))
    print("| quantized takeover (`quant 1`): distance from a beat | %d | %s / %s | |\n" % (
        len(takeovers), pct(takeovers, 50) if takeovers else "-",
        max(takeovers) if takeovers else "-"))


FAULT_TYPES = ("segv_process,abort,divzero,exit,loop_process,loop_setup,sigstop,nan,inf,"
               "runaway,scribble")
FAULT_GROUPS = ("crash", "hang", "NaN/Inf", "runaway", "corrupt")


def bench_faults(rounds):
    print("## Faults\n")
    print("%d rounds of: %s.\n" % (rounds, FAULT_TYPES.replace(",", ", ")))
    print("One deck faults while another plays (tests/e2e/test_faults.sh). *fault* is the fault "
          "file's own clock stamp right before it misbehaves; *verdict* the conductor's fault "
          "event; *silent* the audio thread's stamp of the chunk that faded the deck out; "
          "*revert runs* the revert's first block published; *revert heard* its first frame "
          "handed to the device. ms, p50 / p99.\n")
    print("| backend | fault (n) | fault -> verdict | fault -> silent | fault -> revert runs | "
          "fault -> revert heard |")
    print("|---|---|---|---|---|---|")
    for backend in ("dummy", "jack"):
        if backend == "jack" and not shutil.which("jackd"):
            print("| jack | jackd not installed: skipped | | | | |")
            continue
        keep = os.path.join(TMP, "faults-" + backend)
        env = dict(os.environ, KANON_FAULT_TYPES=FAULT_TYPES, KANON_FAULT_ROUNDS=str(rounds),
                   KANON_FAULT_BACKEND=backend, KANON_FAULT_KEEP=keep)
        r = subprocess.run(["bash", os.path.join(ROOT, "tests", "e2e", "test_faults.sh")],
                           env=env, capture_output=True, text=True)
        try:
            rep = json.load(open(os.path.join(keep, "report.json")))
        except (OSError, ValueError):
            print("| %s | the fault storm failed: %s | | | | |" % (
                backend, (r.stdout + r.stderr).strip().splitlines()[-1:]))
            continue
        label = backend if backend == "dummy" else "jack (-p 256)"
        for g in FAULT_GROUPS:
            row = rep["timings"].get(g)
            if not row or not row["n"]:
                continue
            cells = []
            for k in ("detect_ms", "silence_ms", "revert_ms", "sound_ms"):
                c = row.get(k, {"n": 0})
                cells.append("%.0f / %.0f" % (c["p50"], c["p99"]) if c["n"] else "-")
            print("| %s | %s (%d) | %s |" % (label, g, row["n"], " | ".join(cells)))
        if r.returncode:
            print("| %s | (the run reported failures: %s) | | | | |" % (
                backend, " ".join(l.strip() for l in r.stdout.splitlines() if "FAIL" in l)[:200]))
    print()


def overload_run(bindir, env, k, secs, burn, settle=False):
    """K burning decks on a conductor from bindir: the figures over secs (from 2 s after
    the last play, or with settle, from when nothing was shed for 4 s)."""
    env = dict(ENV, KANON_INSTANCE="bench-overload", **env)
    cli = os.path.join(bindir, "kanon")

    def k_(*a, check=False):
        return subprocess.run((cli,) + a, env=env, capture_output=True, text=True, check=check)

    def st():
        return json.loads(k_("status", "--json", check=True).stdout)

    k_("down")
    k_("up", "--backend", "dummy", check=True)
    t_play = time.time()
    for i in range(k):
        k_("play", burn, "--deck", "b%d" % i, "--no-watch")
    time.sleep(2)
    last, t_end = time.time(), time.time() + 60
    while settle and time.time() < t_end:
        ev = json.loads(k_("log", "--json", check=True).stdout)
        shed = [e["time"] for e in ev if e["kind"] == "shed"]
        if shed:
            last = max(shed)
        if shed and time.time() - last >= 4:
            break
        time.sleep(0.5)
    s0, t0 = st(), time.time()
    lat, lat_rt = [], []
    rt = os.geteuid() == 0 and shutil.which("chrt")
    while time.time() - t0 < secs:
        t = time.perf_counter()
        k_("status", "--json", check=True)
        lat.append((time.perf_counter() - t) * 1000)
        if rt:  # the CLI itself above the cartridges: the conductor's share
            t = time.perf_counter()
            subprocess.run(["chrt", "-f", "3", cli, "status", "--json"], env=env,
                           capture_output=True, check=True)
            lat_rt.append((time.perf_counter() - t) * 1000)
        time.sleep(0.1)
    s1 = st()
    ev = json.loads(k_("log", "--json", check=True).stdout)
    faults = [e for e in ev if e["kind"] == "fault" and e["time"] >= t_play]
    shed = [e for e in ev if e["kind"] == "shed"]
    k_("down")
    scale = 10 / secs
    return {
        "underflows": (s1["device_underflows"] - s0["device_underflows"]) * scale,
        "underruns": (sum(d["underruns"] for d in s1["decks"]) -
                      sum(d["underruns"] for d in s0["decks"])) * scale,
        "faults": len(faults), "hung": sum("hung" in e["text"] for e in faults),
        "shed": shed, "t_play": t_play, "lat": lat, "lat_rt": lat_rt or [float("nan")],
        "rt": s1.get("audio_rt", {}).get("policy", "other (no audio_rt)"),
        "cpu": s1.get("overload", {}).get("cpu_total"),
    }


def bench_overload(secs):
    k = max(2, round(os.cpu_count() * 1.125 / 0.15))
    print("## Overload (%d decks needing 15%% of a core each on %d cores; %d s)\n" % (
        k, os.cpu_count(), secs))
    print("Each deck runs tests/e2e/overload/burn.c (15%% of a core of its own CPU time per "
          "block): %.0f%% of the machine. Per 10 s: device underflows, deck underruns; decks "
          "faulted since the first `play` (hung: judged hung); `kanon status` round trips "
          "(CLI start included; ms, p50 / p95), with the CLI at normal priority and (as "
          "root) at SCHED_FIFO 3, which leaves the conductor's share. Shedding off "
          "(KANON_SHED=0), so the load stays.\n" % (k * 15 / os.cpu_count()))
    print("| configuration | audio thread | device underflows | deck underruns | faulted "
          "(hung) | status | status, CLI at FIFO 3 |")
    print("|---|---|---|---|---|---|---|")
    burn = os.path.join(TMP, "burn15.c")
    with open(burn, "w") as f:
        f.write("#define BURN 0.15\n" + open(os.path.join(ROOT, "tests", "e2e", "overload",
                                                         "burn.c")).read())
    runs = []
    base = os.environ.get("KANON_BENCH_BASELINE")
    if base:
        runs.append(("baseline build (%s)" % base, base, {"KANON_SHED": "0"}))
    runs += [("audio and cartridges at normal priority (KANON_AUDIO_RT=0)", BIN,
              {"KANON_AUDIO_RT": "0", "KANON_SHED": "0"}),
             ("audio thread above the cartridges (default)", BIN, {"KANON_SHED": "0"})]
    for label, bindir, env in runs:
        r = overload_run(bindir, env, k, secs, burn)
        print("| %s | %s | %.0f | %.0f | %d (%d) | %.0f / %.0f | %.0f / %.0f |" % (
            label, r["rt"], r["underflows"], r["underruns"], r["faults"], r["hung"],
            statistics.median(r["lat"]), pct(r["lat"], 95), statistics.median(r["lat_rt"]),
            pct(r["lat_rt"], 95)))
    r = overload_run(BIN, {}, k, secs, burn, settle=True)
    first = min((e["time"] for e in r["shed"]), default=None)
    print("\nWith shedding (the default): %d deck(s) shed, the first %s after the first "
          "`play`; once nothing more was shed for 4 s, per 10 s: %.0f device underflows, %.0f "
          "deck underruns, %d faulted; status %.0f / %.0f ms (CLI at FIFO 3: %.0f / %.0f).\n" % (
              len(r["shed"]), "%.1f s" % (first - r["t_play"]) if first else "-",
              r["underflows"], r["underruns"], r["faults"], statistics.median(r["lat"]),
              pct(r["lat"], 95), statistics.median(r["lat_rt"]), pct(r["lat_rt"], 95)))


def bench_mixer():
    """The mixer's cost per frame, 4 decks with gains ramping: sine against subnormal
    samples, with the audio thread's FTZ/DAZ off (before) and on (kn_mix_thread_init)."""
    exe = os.path.join(TMP, "mix_cost")
    run("gcc", "-std=c11", "-D_GNU_SOURCE", "-O2", "-I" + os.path.join(ROOT, "shm"),
        "-I" + os.path.join(ROOT, "conductor"), os.path.join(ROOT, "bench", "mix_cost.c"),
        os.path.join(ROOT, "conductor", "mixer.c"), "-o", exe, "-lm")
    got = dict((l.split()[1], float(l.split()[2]))
               for l in run(exe).stdout.splitlines() if l.startswith("mixer "))
    print("## Mixer: a deck of subnormals\n")
    print("ns per frame of `kn_mix_run`, 4 decks, gains ramping (median of 7 x 2000 chunks):\n")
    print("| decks | FTZ/DAZ off (before) | on (audio thread now) |")
    print("|---|---|---|")
    for what in ("sine", "subnormal"):
        print("| %s | %.1f | %.1f |" % (what, got[what + "_ftz_off"], got[what + "_ftz_on"]))
    print("\nsubnormal / sine: %.2fx with FTZ/DAZ off, %.2fx on\n" %
          (got["subnormal_ftz_off"] / got["sine_ftz_off"],
           got["subnormal_ftz_on"] / got["sine_ftz_on"]))
    print("The timeline's cost on the mixer: 4 sine decks locked to the timeline %.1f ns per "
          "frame, not locked %.1f (%.2fx)\n" % (got["sine_locked"], got["sine_ftz_on"],
                                                got["sine_locked"] / got["sine_ftz_on"]))


def bench_params():
    """A cartridge's parameter work per block, against the number of knobs."""
    exe = os.path.join(TMP, "param_cost")
    run("gcc", "-std=c11", "-D_GNU_SOURCE", "-O2", "-I" + os.path.join(ROOT, "shm"),
        "-I" + os.path.join(ROOT, "cartridge"), "-I" + os.path.join(ROOT, "cartridge", "include"),
        os.path.join(ROOT, "bench", "param_cost.c"), os.path.join(ROOT, "cartridge", "api.c"),
        os.path.join(ROOT, "cartridge", "render.c"), os.path.join(ROOT, "shm", "segment.c"),
        "-o", exe, "-lsndfile", "-lm")
    got = {}
    for l in run(exe).stdout.splitlines():
        _, n, what, ns = l.split()
        got[(int(n), what)] = float(ns)
    block_ns = 64 / 48000 * 1e9
    print("## Parameters: a cartridge's cost per block\n")
    print("`kn_params_read` + `kn_params_advance` before every `process()` call (ns per "
          "64-frame block, median of 7 x 20000 blocks; % of the block's 1.33 ms at 48 kHz), "
          "and every `kn_param_decl` of `setup()` together (which runs again at every takeover):\n")
    print("| knobs | at rest | all gliding | declarations |")
    print("|---|---|---|---|")
    for n in sorted(set(k[0] for k in got)):
        print("| %d | %.0f ns (%.3f%%) | %.0f ns (%.3f%%) | %.0f us |" % (
            n, got[(n, "rest")], 100 * got[(n, "rest")] / block_ns, got[(n, "glide")],
            100 * got[(n, "glide")] / block_ns, got[(n, "decl")] / 1000))
    print()


def rates_run(secs, ramps):
    """One conductor, a sine deck, an OSC subscriber: meters per second over secs, and
    the feedback values in between of each of `ramps` 600 ms ramps (440 <-> 880)."""
    sys.path.insert(0, os.path.join(ROOT, "tests", "e2e", "control"))
    import osc
    import socket
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = int(osc.free_port(21000 + os.getpid() % 20000))
    up("--osc-port", str(port))
    kanon("play", os.path.join(ROOT, "examples", "sine.c"), "--no-watch")
    time.sleep(1)
    sock.sendto(osc.encode("/kanon/subscribe", "i", [sock.getsockname()[1]]), ("127.0.0.1", port))
    sock.settimeout(0.05)

    def drain(until, on):
        while time.monotonic() < until:
            try:
                on(osc.decode(sock.recv(65536)))
            except socket.timeout:
                pass
            except ValueError:
                pass
    drain(time.monotonic() + 0.5, lambda m: None)
    s0 = status()
    meters = []
    t0 = time.monotonic()
    drain(t0 + secs, lambda m: meters.append(1) if m[0] == "/kanon/meters/sine" else None)
    per_s = len(meters) / (time.monotonic() - t0)
    between = []
    for i in range(ramps):
        lo, hi = (440, 880) if i % 2 == 0 else (880, 440)
        got = []
        kanon("set", "sine.freq", str(hi), "--ramp", "600")
        drain(time.monotonic() + 1.0, lambda m: got.append(m[2][0])
              if m[0] == "/kanon/feedback/sine/freq" else None)
        between.append(len([v for v in got if min(lo, hi) < v < max(lo, hi)]))
    s1 = status()
    sock.close()
    under = sum(d["underruns"] for d in s1["decks"]) - sum(d["underruns"] for d in s0["decks"])
    kanon("down", check=False)
    return per_s, between, under, s1["device_underflows"] - s0["device_underflows"]


def bench_rates(secs, ramps):
    print("## Rates the tests wait for instead of holding as floors\n")
    print("A sine deck and one OSC subscriber (dummy backend). *meters/s*: `/kanon/meters/sine` "
          "messages per second over %d s (the conductor sends them every ~33 ms); *ramp "
          "feedback*: values fed back strictly between the ends of a 600 ms `kanon set --ramp` "
          "(median and minimum of %d ramps; test_cli_json wants 2). Beside two `yes > "
          "/dev/null` loops: the same, with the machine's two cores busy.\n" % (secs, ramps))
    print("| machine | meters/s | ramp feedback (median / min) | underruns | device underflows |")
    print("|---|---|---|---|---|")
    for label, burn in (("as it is", 0), ("+ 2 busy loops", 2)):
        procs = [subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) for _ in range(burn)]
        try:
            per_s, between, under, uf = rates_run(secs, ramps)
        finally:
            for p in procs:
                p.kill()
                p.wait()
        print("| %s | %.1f | %d / %d | %d | %d |" % (label, per_s, statistics.median(between),
                                                    min(between), under, uf))
    print()


def bench_link(idle_s, runs):
    """test_link.sh, run as it is, with a longer idle window: its printed figures."""
    print("## Link: corrections while idle, a tempo change's way to the peer\n")
    print("Two conductors on the dummy backend in network namespaces, joined by Ableton "
          "Link (tests/e2e/test_link.sh with KANON_LINK_IDLE_S=%d, %d runs each). "
          "*corrections/s*: times B's tempo map was moved onto the session's while no peer "
          "changed anything (phase steps under 1 ms; kanon corrects above 0.1 ms); *map, "
          "heard*: ms from `kanon tempo 137` on A until B's map has it and until A and B "
          "play it (100 ms landing delay and the ring's lead included). Beside two `yes > "
          "/dev/null` loops: the same, the machine's two cores busy.\n" % (idle_s, runs))
    print("| machine | corrections/s (median / max) | map ms (median / max) | "
          "heard on B ms (median / max) | runs failed |")
    print("|---|---|---|---|---|")
    env = dict(os.environ, KANON_LINK_IDLE_S=str(idle_s), PYTHONDONTWRITEBYTECODE="1")
    for label, burn in (("as it is", 0), ("+ 2 busy loops", 2)):
        procs = [subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) for _ in range(burn)]
        rates, maps, heard, failed, skipped = [], [], [], 0, ""
        try:
            for _ in range(runs):
                r = subprocess.run(["bash", os.path.join(ROOT, "tests", "e2e", "test_link.sh")],
                                   env=env, capture_output=True, text=True)
                if r.returncode == 77:
                    skipped = (r.stdout.strip().splitlines() or ["skipped"])[-1]
                    break
                failed += r.returncode != 0
                m = re.search(r"its map was moved (\d+) times", r.stdout)
                if m:
                    rates.append(int(m.group(1)) / idle_s)
                m = re.search(r"map=(\d+) a=\d+ b=(\d+)", r.stdout)
                if m:
                    maps.append(int(m.group(1)))
                    heard.append(int(m.group(2)))
        finally:
            for p in procs:
                p.kill()
                p.wait()
        if skipped:
            print("\n(not run: %s)\n" % skipped)
            return
        mm = lambda xs, f: "%s / %s" % (f % statistics.median(xs), f % max(xs)) if xs else "-"
        print("| %s | %s | %s | %s | %d |" % (label, mm(rates, "%.2f"), mm(maps, "%d"),
                                            mm(heard, "%d"), failed))
    print()


def bench_faust():
    """Faust's example corpus through `kanon render`, every file in full."""
    out = os.path.join(TMP, "corpus")
    os.makedirs(out, exist_ok=True)
    env = dict(ENV, KANON_CORPUS_FULL="1", KANON_CORPUS_OUT=out)
    t0 = time.perf_counter()
    r = subprocess.run(["bash", os.path.join(ROOT, "tests", "e2e", "test_faust_corpus.sh")],
                       env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    print("## Faust: the example corpus\n")
    tsv = os.path.join(out, "results.tsv")
    if not os.path.exists(tsv):
        print("(not run: %s)\n" % (r.stdout.strip().splitlines() or ["no faust?"])[-1])
        return
    rows = [l.rstrip("\n").split("\t") for l in open(tsv) if l.strip()]
    plays = [(float(ms), f) for f, rc, ms, what in rows if what == "plays"]
    ms = sorted(m for m, _ in plays)
    print("Every `.dsp` of /usr/share/faust/examples (no old/, bela/, smartKeyboard/) rendered "
          "for 0.5 s with a 120 s compile limit, two at a time (%.0f s in all): **%d of %d play "
          "(%.1f%%)**; compile time (faust + tcc) median **%.0f ms**, p90 %.0f ms.\n" % (
              wall, len(plays), len(rows), 100.0 * len(plays) / len(rows),
              statistics.median(ms), pct(ms, 90)))
    print("| slowest to compile | ms |")
    print("|---|---|")
    for m, f in sorted(plays, reverse=True)[:8]:
        print("| %s | %.0f |" % (f, m))
    print("\nNot playing, with the reason tests/faust_corpus_expected.txt gives:\n")
    for f, rc, m, what in rows:
        if what != "plays":
            print("- %s: %s" % (f, what[len("expected: "):] if what.startswith("expected: ")
                                else "exit %s (a new failure)" % rc))
    print()


def render_cost(f, tier, seconds):
    out = os.path.join(TMP, "tier-%s.wav" % tier)
    r = json.loads(kanon("render", f, "--seconds", str(seconds), "--tier", tier, "-o", out,
                         "--force", "--json").stdout)
    return 1.0 / r["process_x"], r["tier"], out


def driver_cost(f, seconds):
    """CPU s per audio s of f built by gcc -O2 into bench/driver.c (median of 3)."""
    exe = os.path.join(TMP, "driver")
    subprocess.run(["gcc", "-std=c11", "-O2", "-I" + os.path.join(ROOT, "cartridge", "include"),
                    "-I" + os.path.join(ROOT, "nodes-c", "include"),
                    os.path.join(ROOT, "bench", "driver.c"), f, "-o", exe,
                    "-L" + os.path.join(ROOT, "build", "lib"), "-lkanon-nodes",
                    "-Wl,-rpath," + os.path.join(ROOT, "build", "lib"), "-lm"], check=True)
    xs = []
    for _ in range(3):  # in the patch's directory, as a cartridge (its samples)
        out = subprocess.run([exe, str(seconds)], cwd=os.path.dirname(f), capture_output=True,
                             text=True, check=True).stdout
        xs.append(float(re.search(r"cpu_s_per_audio_s ([0-9.]+)", out).group(1)))
    return statistics.median(xs)


def bench_tier(seconds, saves):
    print("## The second tier (issue 15)\n")
    print("CPU s per audio s inside process() (`kanon render --json`, %d s, 48 kHz stereo, "
          "block 64; median of 3); the cc tier is `cc -O2 -fPIC -shared -ffp-contract=off` "
          "(gcc -O2 itself: no other code generation flags). *same*: the two renders are "
          "bit-identical.\n" % seconds)
    print("*gcc -O2*: the same file built by `gcc -O2` (not position-independent) into "
          "bench/driver.c, which renders it into memory with stand-ins for kanon's API, in "
          "CPU s of its render loop per audio s (median of 3). *cc / gcc* is the goal \"user "
          "code within 1.1x of gcc -O2 after the second tier\".\n")
    print("| patch | tcc | cc | gcc -O2 | tcc / cc | cc / gcc | same |")
    print("|---|---|---|---|---|---|---|")
    worst = 0
    for f in [os.path.join(ROOT, "bench", "p1_plain.c"), os.path.join(ROOT, "bench", "p2_plain.c")] + EXAMPLES:
        cost, wavs = {}, {}
        for tier in ("tcc", "auto"):
            xs = []
            for _ in range(3):
                c, got, wavs[tier] = render_cost(f, tier, seconds)
                xs.append(c)
            cost[tier] = statistics.median(xs)
            if tier == "auto" and got != "cc":
                cost[tier] = float("nan")
        cost["gcc"] = driver_cost(f, seconds)
        same = open(wavs["tcc"], "rb").read() == open(wavs["auto"], "rb").read()
        worst = max(worst, cost["auto"] / cost["gcc"])
        print("| %s | %.5f | %.5f | %.5f | %.2fx | %.2fx | %s |" % (
            os.path.basename(f), cost["tcc"], cost["auto"], cost["gcc"],
            cost["tcc"] / cost["auto"], cost["auto"] / cost["gcc"], "yes" if same else "no"))
    print("\ncc / gcc: worst %.2fx (goal <= 1.1x: %s)\n" % (worst, "met" if worst <= 1.1 else
                                                          "NOT met"))
    up()
    src = open(os.path.join(ROOT, "bench", "p2_plain.c")).read()
    paths = {}
    for name, tier in (("tier", "auto"), ("plain", "tcc")):  # "plain": the tcc tier alone
        paths[name] = os.path.join(TMP, name + ".c")
        with open(paths[name], "w") as f:
            f.write(src)
        kanon("play", paths[name], "--deck", name, "--tier", tier)

    def count(name, kind, text):
        return len([e for e in json.loads(kanon("log", name, "--json").stdout)
                    if e["kind"] == kind and text in e["text"]])

    def save_and_wait(name, i, kind, text):
        n0 = count(name, kind, text)
        time.sleep(0.25)  # saves as a musician makes them, not back to back
        with open(paths[name], "w") as f:
            f.write("/* save %d */\n%s" % (i, src))
        for _ in range(3000):  # until it happened (or 30 s)
            if count(name, kind, text) > n0:
                break
            time.sleep(0.01)

    for _ in range(3000):  # the play's own cc build first
        if count("tier", "tier", "runs its cc build"):
            break
        time.sleep(0.01)
    for i in range(saves):  # the two decks' saves alternate: the same machine for both
        save_and_wait("tier", i, "tier", "runs its cc build")
        save_and_wait("plain", i, "running", "save)")
    ev = json.loads(kanon("log", "tier", "--json").stdout)
    tcc = [e["swap_ms"] for e in ev if e["kind"] == "running" and "save)" in e["text"]]
    cc = [e["swap_ms"] for e in ev if e["kind"] == "tier" and "runs its cc build" in e["text"]][1:]
    alone = [e["swap_ms"] for e in json.loads(kanon("log", "plain", "--json").stdout)
             if e["kind"] == "running" and "save)" in e["text"]]
    fadeless = len([e for e in ev if e["kind"] == "tier" and "without a fade" in e["text"]])
    faded = len([e for e in ev if e["kind"] == "tier" and "differs from the tcc build" in e["text"]])
    d = [d for d in status()["decks"] if d["name"] == "tier"][0]
    print("Live, bench/p2_plain.c, %d saves 0.25 s apart (ms: median / p99 / max): save -> tcc "
          "takeover %s (the same saves on a deck held at `--tier tcc`, alternating with these: "
          "%s); save -> cc build running %s. Tier swaps: %d without a fade (bit-identical "
          "builds), %d faded; deck underruns %d.\n"
          % (len(cc), fmt(tcc or [float("nan")]), fmt(alone or [float("nan")]),
             fmt(cc or [float("nan")]), fadeless, faded, d["underruns"]))
    kanon("stop", "plain")
    src = open(paths["tier"]).read()
    # the test's measure (tests/e2e/test_tier.sh): DSP load of one file on
    # both tiers, side by side in one conductor
    held = os.path.join(TMP, "held.c")
    with open(held, "w") as f:
        f.write(src)
    kanon("play", held, "--deck", "held", "--tier", "tcc")
    time.sleep(2)
    loads = {"tier": [], "held": []}
    for _ in range(20 if QUICK else 40):  # a load window is 0.5 s
        time.sleep(0.5)
        for d in status()["decks"]:
            if d["name"] in loads:
                loads[d["name"]].append(d["load"])
    mc, mt = statistics.median(loads["tier"]), statistics.median(loads["held"])
    print("DSP load of bench/p2_plain.c side by side (median of %d windows of 0.5 s): cc tier "
          "%.3f%%, held at --tier tcc %.3f%%: cc / tcc = %.2f (goal <= 0.5: %s).\n"
          % (len(loads["tier"]), mc, mt, mc / mt, "met" if mc / mt <= 0.5 else "NOT met"))
    kanon("down", check=False)


def main():
    print("# kanon benchmarks\n")
    print("Machine: %d cores, %s; %s\n" % (os.cpu_count(), os.uname().release,
                                        time.strftime("%Y-%m-%d %H:%M")))
    sections = [("compile", lambda: bench_compile(10 if QUICK else 30)),
                ("render", lambda: bench_render(10 if QUICK else 30)),
                ("cpu", lambda: bench_cpu(3 if QUICK else 5)),
                ("swap", lambda: bench_swap(20 if QUICK else 100)),
                ("routes", lambda: bench_routes(3 if QUICK else 5)),
                ("graphs", lambda: bench_graphs(10 if QUICK else 30)),
                ("jack", bench_jack),
                ("timeline", lambda: bench_timeline(30 if QUICK else 100)),
                ("faults", lambda: bench_faults(2 if QUICK else 10)),
                ("overload", lambda: bench_overload(5 if QUICK else 10)),
                ("mixer", bench_mixer),
                ("params", bench_params),
                ("rates", lambda: bench_rates(3 if QUICK else 5, 5 if QUICK else 11)),
                ("link", lambda: bench_link(10 if QUICK else 30, 2 if QUICK else 3)),
                ("tier", lambda: bench_tier(10 if QUICK else 30, 5 if QUICK else 20)),
                ("faust", bench_faust)]
    try:
        for name, fn in sections:
            if not ONLY or ONLY == name:
                fn()
    finally:
        kanon("down", check=False)
        shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
