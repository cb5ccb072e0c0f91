#!/usr/bin/env bash
# tests/soak.sh - the long fault storm (`make soak`): tests/e2e/test_faults.sh
# with about KANON_SOAK_FAULTS (default 1000) injections instead of ~120:
# every fault type of tests/faults/ round after round, in a random order per
# round (seed KANON_SOAK_SEED, default 1), the recovery rules every 5th round,
# while the sine deck plays next door and everything is recorded. At the end
# the same checks as the short test: the sine deck equals its render sample
# for sample with 0 underruns, the victim's channel shows every revert and no
# faulty output, 3 cartridges and no zombie under the conductor, its fd count
# unchanged (+-3), and after `kanon down` no cartridge process and no shared
# memory left. Prints the fault -> verdict / revert / sound timings (p50, p99)
# for the benchmarks. About 40 injections per ~50 s round: ~25 min for 1000
# (the analysis of the ~500 MB recording needs ~2 GB of memory). Then 300
# random route graphs (~10 min).
cd "$(dirname "$0")/.." || exit 2
n=${KANON_SOAK_FAULTS:-1000}
export KANON_FAULT_ROUNDS=$(((n + 36) / 37))
export KANON_FAULT_SHUFFLE=${KANON_SOAK_SEED:-1}
export KANON_FAULT_RULES_EVERY=5
export KANON_FAULT_HOLD=${KANON_FAULT_HOLD:-1.1}
echo "soak: $KANON_FAULT_ROUNDS rounds of every fault (~$n injections), seed $KANON_FAULT_SHUFFLE"
start=$(date +%s)
bash tests/e2e/test_faults.sh
rc=$?
echo "soak: fault storm $([ $rc = 0 ] && echo PASS || echo FAIL) in $(($(date +%s) - start)) s"
# Then the routing property test with many more random graphs than `make
# test`'s 30 (KANON_SOAK_GRAPHS, default 300; seeds from KANON_SOAK_SEED).
g=${KANON_SOAK_GRAPHS:-300}
echo "soak: $g random route graphs, live == render (tests/e2e/test_graphs.sh)"
gstart=$(date +%s)
KANON_GRAPHS=$g KANON_GRAPH_SEED=${KANON_SOAK_SEED:-1} bash tests/e2e/test_graphs.sh
grc=$?
echo "soak: graphs $([ $grc = 0 ] && echo PASS || echo FAIL) in $(($(date +%s) - gstart)) s"
[ $rc = 0 ] && [ $grc = 0 ]
