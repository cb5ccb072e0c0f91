#!/usr/bin/env python3
"""bench_nodes.py - nodes-c benchmarks. Prints a markdown report.

  node costs   ns per sample of every node: bench/node_cost.c, built here
               with gcc -O2 against build/lib/libkanon-nodes.so (the real
               library), best of 5 runs of 2 s of audio each
  P1, P2       the reference patches, 60 s at 48 kHz stereo, block 64,
               CPU seconds per audio second, each rendered five ways:
                 nodes-c     bench/pN_nodes.c via `kanon render --tier tcc`
                             (the glue compiled by tcc, the nodes gcc -O2)
                 plain tcc   bench/pN_plain.c via `kanon render --tier tcc`
                 plain cc    bench/pN_plain.c via `kanon render` (the
                             default --tier auto: the cc tier, cc -O2)
                 plain gcc   the same bench/pN_plain.c built with gcc -O2
                             into bench/driver.c (renders into memory)
                 scsynth     the same graphs as SynthDefs, rendered by
                             scsynth -N (scripts/scsynth_nrt.py), when
                             scsynth is installed (else a note, no column)
               The runs of the five are interleaved, so load changes hit
               all alike. CPU time is getrusage(RUSAGE_CHILDREN) around
               each whole process (user + system), the median of --runs
               runs (default 3). Then the ratios and the goals of issue 15
               (printed, met or not; the bench does not fail on them), the
               fixed costs (an empty patch / an empty score: process start,
               compile, writing the WAV file) and, for "user code within
               1.1x of gcc -O2", process() alone: the cc tier's
               `kanon render --json` process_x against driver.c's own clock
               around its render loop.

  python3 scripts/bench_nodes.py [--runs N] [--seconds S] [--quick]

Needs `make` first (build/bin/kanon, build/lib/libkanon-nodes.so). The
machine may be shared: compare ratios measured in the same run.
"""
import atexit
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile

import scsynth_nrt
from benchargs import QUICK, arg
from swaplib import read_wav  # scsynth_nrt put tests/e2e/swap on the path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bin")
LIB = os.path.join(ROOT, "build", "lib")
BENCH = os.path.join(ROOT, "bench")
TMP = tempfile.mkdtemp(prefix="kanon-bench-nodes.")
atexit.register(shutil.rmtree, TMP, True)  # the renders: ~200 MB at 60 s

RUNS = arg("--runs", 1 if QUICK else 3)
SECONDS = arg("--seconds", 10.0 if QUICK else 60.0)
GCC = ["gcc", "-std=c11", "-O2", "-I" + os.path.join(ROOT, "cartridge", "include"),
       "-I" + os.path.join(ROOT, "nodes-c", "include")]
NODELIB = ["-L" + LIB, "-lkanon-nodes", "-Wl,-rpath," + LIB, "-lm"]
# issue 15's goals, as (what, patch, ratio key, at most); printed, never failed on
GOALS = [("nodes-c P1 <= 0.5x scsynth", "P1", "nodes_sc", 0.5),
         ("nodes-c P2 <= 0.5x scsynth", "P2", "nodes_sc", 0.5),
         ("plain C P2 (cc tier) <= 1.0x scsynth", "P2", "cc_sc", 1.0)]


def build(out, *srcs, libs=("-lm",)):
    exe = os.path.join(TMP, out)
    subprocess.run(GCC + list(srcs) + ["-o", exe] + list(libs), check=True)
    return exe


def cpu_of(cmd):
    """CPU seconds (user + system) of one child run, and its output
    (stdout, then stderr). A failed run stops the bench with its output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(cmd, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        sys.exit("bench_nodes.py: %s: exit %d\n%s%s" % (" ".join(cmd), r.returncode, r.stdout,
                                                       r.stderr))
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), \
        r.stdout + r.stderr


def render_cmd(patch, out, tier=None):
    return [os.path.join(BIN, "kanon"), "render", patch, "--seconds", str(SECONDS), "--json",
            "-o", os.path.join(TMP, out + ".wav")] + (["--tier", tier] if tier else [])


def render(patch, out, tier=None):
    """CPU s per audio s of one whole `kanon render`, and its --json report;
    the tier it names must be the one asked for (auto: cc)."""
    cpu, text = cpu_of(render_cmd(patch, out, tier))
    rep = json.loads(text)
    if rep["tier"] != (tier or "cc"):
        sys.exit("bench_nodes.py: %s rendered on the %s tier, not %s: the column would be wrong"
                 % (patch, rep["tier"], tier or "cc"))
    return cpu / SECONDS, rep


def node_costs():
    exe = build("node_cost", os.path.join(BENCH, "node_cost.c"), libs=NODELIB)
    out = subprocess.run([exe], check=True, capture_output=True, text=True).stdout
    print("## Node costs (ns per sample, 48 kHz, block 64, gcc -O2 library)\n")
    print("| node | ns/sample | % of one core per instance at 48 kHz |")
    print("|---|---:|---:|")
    for line in out.splitlines():
        name, ns = line.rsplit(" ", 1)
        print("| %s | %.2f | %.3f |" % (name, float(ns), float(ns) * 48000 / 1e9 * 100))
    print()


def driver_loop(text):
    """driver.c's own figure: CPU s of its render loop per audio s."""
    return float(text.split("cpu_s_per_audio_s", 1)[1].split()[0])


def scsynth_run(nrt, name):
    cpu, log = cpu_of(nrt.command(name))
    nrt.check(name, log)  # no error, the right length, the graph's signature
    return cpu / SECONDS


def measure(p, nrt):
    """Every variant of one patch, interleaved run by run: medians."""
    nodes_src = os.path.join(BENCH, p + "_nodes.c")
    plain_src = os.path.join(BENCH, p + "_plain.c")
    plain_gcc = build(p + "_plain_gcc", os.path.join(BENCH, "driver.c"), plain_src)
    keys = ["nodes", "tcc", "cc", "cc_process", "gcc", "gcc_loop"] + (["sc"] if nrt else [])
    samples = {k: [] for k in keys}
    for _ in range(RUNS):
        samples["nodes"].append(render(nodes_src, p + "_nodes", "tcc")[0])
        samples["tcc"].append(render(plain_src, p + "_tcc", "tcc")[0])
        cpu, rep = render(plain_src, p + "_cc")
        samples["cc"].append(cpu)
        samples["cc_process"].append(1 / rep["process_x"])
        cpu, text = cpu_of([plain_gcc, str(SECONDS)])
        samples["gcc"].append(cpu / SECONDS)
        samples["gcc_loop"].append(driver_loop(text))
        if nrt:
            samples["sc"].append(scsynth_run(nrt, p.upper()))
    r = {k: statistics.median(v) for k, v in samples.items()}
    r["name"] = p.upper()
    if nrt:
        r["nodes_sc"], r["cc_sc"] = r["nodes"] / r["sc"], r["cc"] / r["sc"]
        r["levels"] = [[scsynth_nrt.level(c) for c in read_wav(path)[1]]
                       for path in (os.path.join(TMP, p + "_cc.wav"), nrt.path(p.upper(), "wav"))]
    return r


def fixed_costs(nrt):
    """CPU s per audio s of rendering nothing: an empty patch on each tier,
    an empty score (no synth) in scsynth."""
    empty = os.path.join(TMP, "empty.c")
    with open(empty, "w") as f:
        f.write("#include <kanon.h>\nvoid process(kn_ctx *k, float **out, int frames) "
                "{ (void)k, (void)out, (void)frames; }\n")
    base = {"tcc": statistics.median(render(empty, "empty", "tcc")[0] for _ in range(RUNS)),
            "cc": statistics.median(render(empty, "empty")[0] for _ in range(RUNS))}
    if nrt:
        base["sc"] = statistics.median(scsynth_run(nrt, "EMPTY") for _ in range(RUNS))
    return base


def table(head, rows):
    print("| " + " | ".join(head) + " |")
    print("|---|" + "---:|" * (len(head) - 1))
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print()


def ratio(x):
    return "%.2fx" % x


def print_patches(rows, base, nrt):
    sc = bool(nrt)
    print("## Reference patches (CPU s per audio s, whole process; %g s at 48 kHz stereo, "
          "block 64; median of %d)\n" % (SECONDS, RUNS))
    head = ["patch", "nodes-c (tcc glue)", "plain C, tcc", "plain C, cc tier", "plain C, gcc -O2"]
    head += ["scsynth NRT", "nodes-c / scsynth", "cc tier / scsynth"] if sc else []
    head += ["tcc / gcc", "cc tier / gcc"]
    table(head, [[r["name"]] + ["%.4f" % r[k] for k in ("nodes", "tcc", "cc", "gcc")] +
                 (["%.4f" % r["sc"], ratio(r["nodes_sc"]), ratio(r["cc_sc"])] if sc else []) +
                 [ratio(r["tcc"] / r["gcc"]), ratio(r["cc"] / r["gcc"])] for r in rows])
    if sc:
        print("scsynth renders the same graphs (scripts/scsynth_nrt.py: SinOsc, Saw, RLPF, Pan2, "
              "Sum4, Out; docs/benchmarks.md says what differs), `scsynth -N` into a float WAV, "
              "checked after every run.\n")
        by = {r["name"]: r for r in rows}
        print("Goals (issue 15), whole processes of %g s renders (the fixed costs below weigh "
              "more in shorter ones; the issue's figures are of 60 s):\n" % SECONDS)
        for what, p, k, most in GOALS:
            print("- %s: %.2fx, %s" % (what, by[p][k], "met" if by[p][k] <= most else "not met"))
        same = ["%s kanon %.2f / %.2f, scsynth %.2f / %.2f" % (r["name"], *sum(r["levels"], []))
                for r in rows]
        print("\nThe same sound: RMS over a second from 0.5 s in, dBFS, L / R (kanon: plain C, "
              "cc tier): %s.\n" % "; ".join(same))
    else:
        print(scsynth_nrt.MISSING + ".\n")
    print("Fixed costs, measured on an empty patch (CPU s per audio s: process start, compile, "
          "writing the WAV file): tcc tier %.4f, cc tier %.4f (the cc compile is a gcc process)%s. "
          "Without them:\n" % (base["tcc"], base["cc"],
                               ", scsynth %.4f (an empty score: start, plugins, silent blocks)"
                               % base["sc"] if sc else ""))
    head = ["patch", "nodes-c (tcc glue)", "plain C, tcc", "plain C, cc tier"]
    head += ["scsynth NRT", "nodes-c / scsynth", "cc tier / scsynth"] if sc else []
    rows_net = []
    for r in rows:
        n, t, c = r["nodes"] - base["tcc"], r["tcc"] - base["tcc"], r["cc"] - base["cc"]
        row = [r["name"], "%.4f" % n, "%.4f" % t, "%.4f" % c]
        if sc:
            s = r["sc"] - base["sc"]
            row += ["%.4f" % s, ratio(n / s), ratio(c / s)]
        rows_net.append(row)
    table(head, rows_net)


def print_process(rows):
    print("## process() alone: the cc tier against gcc -O2 (CPU s per audio s; goal: within "
          "1.1x)\n")
    print("cc tier: `kanon render --json`'s process_x (its clock around each process() call); "
          "gcc -O2: bench/driver.c's CPU clock around its render loop (process(), clearing the "
          "block and interleaving it into memory).\n")
    table(["patch", "cc tier, process()", "gcc -O2, render loop", "cc / gcc", "goal <= 1.1x"],
          [["%s plain" % r["name"], "%.5f" % r["cc_process"], "%.5f" % r["gcc_loop"],
            ratio(r["cc_process"] / r["gcc_loop"]),
            "met" if r["cc_process"] <= 1.1 * r["gcc_loop"] else "not met"] for r in rows])


def patches():
    nrt = scsynth_nrt.Nrt(TMP, SECONDS) if scsynth_nrt.find() else None
    base = fixed_costs(nrt)
    rows = [measure(p, nrt) for p in ("p1", "p2")]
    print_patches(rows, base, nrt)
    print_process(rows)


def main():
    for need in (os.path.join(BIN, "kanon"), os.path.join(LIB, "libkanon-nodes.so")):
        if not os.path.exists(need):
            sys.exit("bench_nodes.py: %s is missing: run make first" % need)
    print("# nodes-c benchmarks\n")
    node_costs()
    patches()


if __name__ == "__main__":
    main()
