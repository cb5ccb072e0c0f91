#!/usr/bin/env python3
"""bench_nodes.py - nodes-c benchmarks. Prints a markdown report.

  node costs   ns per sample of every node: bench/node_cost.c, built here
               with gcc -O2 against build/lib/libkanon-nodes.so (the real
               library), best of 5 runs of 2 s of audio each
  P1, P2       the reference patches, 60 s at 48 kHz stereo, block 64,
               CPU seconds per audio second, each written three ways:
                 nodes-c     bench/pN_nodes.c (tcc glue) via `kanon render`
                 plain tcc   bench/pN_plain.c via `kanon render`
                 plain gcc   the same bench/pN_plain.c built with gcc -O2
                             into bench/driver.c (renders into memory)
               plus, for reference, the nodes-c glue built by gcc, and the
               cost of rendering an empty patch (process start, compile,
               WAV writing) that the two `kanon render` columns include.
               CPU time is getrusage(RUSAGE_CHILDREN) around each run
               (user + system), the median of --runs runs (default 3).

  python3 scripts/bench_nodes.py [--runs N] [--seconds S] [--quick]

Needs `make` first (build/bin/kanon, build/lib/libkanon-nodes.so). The
machine may be shared: compare ratios measured in the same run.
"""
import os
import resource
import statistics
import subprocess
import sys
import tempfile

from benchargs import QUICK, arg

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bin")
LIB = os.path.join(ROOT, "build", "lib")
BENCH = os.path.join(ROOT, "bench")
TMP = tempfile.mkdtemp(prefix="kanon-bench-nodes.")
SCSYNTH = {"P1": 0.0065, "P2": 0.0060}  # CPU s per audio s, for scale (from the issue)


RUNS = arg("--runs", 1 if QUICK else 3)
SECONDS = arg("--seconds", 10.0 if QUICK else 60.0)
GCC = ["gcc", "-std=c11", "-O2", "-I" + os.path.join(ROOT, "cartridge", "include"),
       "-I" + os.path.join(ROOT, "nodes-c", "include")]
NODELIB = ["-L" + LIB, "-lkanon-nodes", "-Wl,-rpath," + LIB, "-lm"]


def build(out, *srcs, libs=("-lm",)):
    exe = os.path.join(TMP, out)
    subprocess.run(GCC + list(srcs) + ["-o", exe] + list(libs), check=True)
    return exe


def cpu_of(cmd):
    """CPU seconds (user + system) of one child run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def per_audio_second(cmd):
    return statistics.median(cpu_of(cmd) for _ in range(RUNS)) / SECONDS


def render_cmd(patch):
    return [os.path.join(BIN, "kanon"), "render", patch, "--seconds", str(SECONDS),
            "-o", os.path.join(TMP, "out.wav")]


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


def patches():
    empty = os.path.join(TMP, "empty.c")
    with open(empty, "w") as f:
        f.write("#include <kanon.h>\nvoid process(kn_ctx *k, float **out, int frames) "
                "{ (void)k, (void)out, (void)frames; }\n")
    base = per_audio_second(render_cmd(empty))
    driver = os.path.join(BENCH, "driver.c")
    rows = []
    for p in ("p1", "p2"):
        nodes_src = os.path.join(BENCH, p + "_nodes.c")
        plain_src = os.path.join(BENCH, p + "_plain.c")
        plain_gcc = build(p + "_plain_gcc", driver, plain_src)
        nodes_gcc = build(p + "_nodes_gcc", driver, nodes_src, libs=NODELIB)
        r = {"name": p.upper()}
        # interleave the variants run by run, so load changes hit all alike
        samples = {k: [] for k in ("nodes", "tcc", "gcc", "nodes_gcc")}
        for _ in range(RUNS):
            samples["nodes"].append(cpu_of(render_cmd(nodes_src)) / SECONDS)
            samples["tcc"].append(cpu_of(render_cmd(plain_src)) / SECONDS)
            samples["gcc"].append(cpu_of([plain_gcc, str(SECONDS)]) / SECONDS)
            samples["nodes_gcc"].append(cpu_of([nodes_gcc, str(SECONDS)]) / SECONDS)
        for k, v in samples.items():
            r[k] = statistics.median(v)
        rows.append(r)
    print("## Reference patches (CPU s per audio s; %g s at 48 kHz stereo, block 64; median of %d)\n"
          % (SECONDS, RUNS))
    print("| patch | nodes-c (tcc glue) | plain C, tcc | plain C, gcc -O2 | nodes-c / gcc | "
          "tcc / gcc | nodes-c, glue by gcc | scsynth (for scale) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print("| %s | %.4f | %.4f | %.4f | %.2fx | %.2fx | %.4f | %.4f |" % (
            r["name"], r["nodes"], r["tcc"], r["gcc"], r["nodes"] / r["gcc"], r["tcc"] / r["gcc"],
            r["nodes_gcc"], SCSYNTH[r["name"]]))
    print()
    print("The scsynth column is not measured here (SuperCollider is not installed): it repeats "
          "the figures the nodes-c issue gives for scsynth's NRT mode on this kind of machine.\n")
    print("The two `kanon render` columns include a fixed cost measured on an empty patch: "
          "%.4f CPU s per audio s (process start, tcc compile, writing the WAV file). "
          "Without it:\n" % base)
    print("| patch | nodes-c (tcc glue) | plain C, tcc | nodes-c / gcc |")
    print("|---|---:|---:|---:|")
    for r in rows:
        print("| %s | %.4f | %.4f | %.2fx |" % (r["name"], r["nodes"] - base, r["tcc"] - base,
                                             (r["nodes"] - base) / r["gcc"]))
    print()


def main():
    for need in (os.path.join(BIN, "kanon"), os.path.join(LIB, "libkanon-nodes.so")):
        if not os.path.exists(need):
            sys.exit("bench_nodes.py: %s is missing: run make first" % need)
    print("# nodes-c benchmarks\n")
    node_costs()
    patches()


if __name__ == "__main__":
    main()
