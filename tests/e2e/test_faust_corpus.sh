# Faust's own example corpus (Debian's faust-common, /usr/share/faust/examples,
# without old/ (at any depth), and bela/ and smartKeyboard/, which target
# other hosts): every
# file is rendered for 0.5 s with `kanon render`, two at a time, nothing
# cached. Each one either plays (exit 0, no NaN/Inf) or is refused with the
# message that tests/faust_corpus_expected.txt gives for it, which says why
# (or, listed as nan, renders NaN/Inf).
#   - a file that is neither fails the test (a new failure, or a known one
#     refused with another message: the words changed);
#   - a listed file that now plays is reported, not failed: remove its line;
#   - files listed as slow (faust needs many seconds for them) or crash
#     (faust itself crashes on them, after many seconds) get
#     --compile-timeout 1 and must be refused by the time limit in words;
#     every other file gets 120 s (faust takes 4 s for the slowest of them
#     on an idle machine, and many times that beside a busy one).
# Prints the pass rate, the median compile time and the slowest compiles.
#
# KANON_CORPUS_FULL=1 (scripts/bench.py) gives the slow ones 120 s as well,
# so they are compiled in full; KANON_CORPUS_OUT=DIR
# keeps one result line per file there (results.tsv: file, exit status,
# compile ms, outcome); KANON_CORPUS_ONLY=REGEX takes only the files whose
# path matches (grep -E).
#
# The per-file worker is this script again: test_faust_corpus.sh --one OUTDIR
# FILE SECONDS (run by xargs -P2).
if [ "${1:-}" = --one ]; then
    out=$2 f=$3 limit=$4
    n=$(echo "$f" | tr '/' '_')
    kanon render "/usr/share/faust/examples/$f" --seconds 0.5 --compile-timeout "$limit" --json \
        -o "$out/$n.wav" >"$out/$n.json" 2>"$out/$n.err"
    echo $? >"$out/$n.rc"
    rm -f "$out/$n.wav"
    exit 0
fi
. "$(dirname "$0")/lib.sh"
command -v faust >/dev/null || { echo "SKIP: no faust compiler (apt-get install faust)"; exit 77; }
EX=/usr/share/faust/examples
[ -d "$EX" ] || { echo "SKIP: no $EX (Debian's faust-common)"; exit 77; }
LIST=$ROOT/tests/faust_corpus_expected.txt
OUT=${KANON_CORPUS_OUT:-$T/corpus}
mkdir -p "$OUT"
(cd "$EX" && find . -name '*.dsp' | sed 's|^\./||' | grep -v -e '^old/' -e '/old/' -e '^bela/' -e '^smartKeyboard/' |
    sort) >"$T/files"
if [ -n "${KANON_CORPUS_ONLY:-}" ]; then
    grep -E -- "$KANON_CORPUS_ONLY" "$T/files" >"$T/only" || true
    mv "$T/only" "$T/files"
fi
[ -s "$T/files" ] || fail "no .dsp file under $EX${KANON_CORPUS_ONLY:+ matching $KANON_CORPUS_ONLY}"
start=$(date +%s.%N)
# each file with its compile limit: 1 s for the slow ones, unless in full
while read -r f; do
    kind=$(awk -F' [|] ' -v f="$f" '$1 == f { print $2 }' "$LIST")
    if [ "$kind" = slow ] || [ "$kind" = crash ] && [ -z "${KANON_CORPUS_FULL:-}" ]; then echo "$f 1"; else
        echo "$f 120"; fi
done <"$T/files" | xargs -P2 -L1 bash "$0" --one "$OUT"
wall=$(python3 -c "import time; print(round(time.time() - $start, 1))")
python3 - "$T/files" "$LIST" "$OUT" "$wall" "${KANON_CORPUS_FULL:-}" <<'PY'
import json, os, statistics, sys
files, listing, out, wall, full = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
expected = {}
for line in open(listing):
    if not line.strip() or line.startswith("#"):
        continue
    path, kind, msg, why = [x.strip() for x in line.split(" | ", 3)]
    expected[path] = (kind, msg, why)
rows, new, changed, now_plays, ok_refused, played, ms = [], [], [], [], [], [], []
names = [l.strip() for l in open(files) if l.strip()]
for f in names:
    n = f.replace("/", "_")
    rc = int(open(os.path.join(out, n + ".rc")).read().strip() or 3) if os.path.exists(os.path.join(out, n + ".rc")) else -1
    text = open(os.path.join(out, n + ".json")).read() if os.path.exists(os.path.join(out, n + ".json")) else ""
    err = open(os.path.join(out, n + ".err")).read() if os.path.exists(os.path.join(out, n + ".err")) else ""
    try:
        j = json.loads(text.strip().splitlines()[-1]) if text.strip() else {}
    except ValueError:
        j = {}
    message = (j.get("text") or j.get("error") or err or text).strip()
    if rc == 0 and j.get("nonfinite"):
        message = "it renders %d NaN/Inf samples in 0.5 s" % j["nonfinite"]
    plays = rc == 0 and j.get("ok") is True and j.get("nonfinite", 1) == 0
    if plays:
        played.append(f)
        ms.append(j["compile_ms"])
    outcome = "plays" if plays else "refused"
    exp = expected.get(f)
    if plays and exp and not (full and exp[0] == "slow"):
        now_plays.append(f)
    elif not plays and not exp:
        new.append((f, rc, message or "(no message)"))
    elif not plays and exp:
        kind, want, why = exp[0], exp[1], exp[2]
        if full and kind == "slow":
            new.append((f, rc, message or "(no message)"))  # in full, a slow one must play
        elif full and kind == "crash" and rc == 1 and "faust was killed by" in message:
            ok_refused.append(f)
            outcome = "expected: " + why
        elif kind == "nan" and rc == 0 and j.get("ok") is True and j.get("nonfinite", 0) > 0:
            ok_refused.append(f)
            outcome = "expected: " + why
        elif kind != "nan" and rc == 1 and want in message:
            ok_refused.append(f)
            outcome = "expected: " + why
        else:
            changed.append((f, rc, want, message or "(no message)"))
    rows.append("%s\t%d\t%s\t%s" % (f, rc, j.get("compile_ms", ""), outcome))
open(os.path.join(out, "results.tsv"), "w").write("\n".join(rows) + "\n")
gone = [] if os.environ.get("KANON_CORPUS_ONLY") else [p for p in expected if p not in names]
print("  %d files in %s s: %d play, %d fail as expected, %d new failures, %d refused with "
      "other words, %d listed but playing now" % (len(names), wall, len(played), len(ok_refused),
                                                  len(new), len(changed), len(now_plays)))
print("  pass rate %.1f%% (%d of %d); compile time (faust + tcc) of those that play: median %.0f ms, "
      "max %.0f ms" % (100.0 * len(played) / len(names), len(played), len(names),
                       statistics.median(ms) if ms else 0, max(ms) if ms else 0))
slowest = sorted(((j, f) for f, j in zip(played, ms)), reverse=True)[:3]
print("  slowest that play: " + ", ".join("%s %.0f ms" % (f, j) for j, f in slowest))
for f in now_plays:
    print("  NOTE: %s is in tests/faust_corpus_expected.txt but plays now: remove its line" % f)
for p in gone:
    print("  NOTE: %s is in tests/faust_corpus_expected.txt but not in the corpus" % p)
for f, rc, m in new:
    print("FAIL: %s: exit %d, not in the expected failures: %s" % (f, rc, m.splitlines()[0] if m else m))
for f, rc, want, m in changed:
    print("FAIL: %s: exit %d, expected a refusal saying '%s', got: %s" % (f, rc, want, m))
sys.exit(1 if new or changed else 0)
PY
rc=$?
[ $rc = 0 ] || fail "the Faust corpus: see above"
ok "every file of the Faust corpus plays or is refused with the reason tests/faust_corpus_expected.txt gives"
