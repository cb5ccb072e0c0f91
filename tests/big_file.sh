#!/usr/bin/env bash
# big_file.sh - files past 4 GiB, by hand (not in `make test`: it writes
# 2 x 4.4 GB and takes a minute or so).
#
#   make all build/unit/test_record && tests/big_file.sh [DIR]
#
# Checks, in DIR (default $TMPDIR or /tmp; needs 9 GB free):
#   - `kanon render --seconds 11500` (4.4 GB of float32 stereo) writes an
#     RF64 file whose 64-bit sizes are exact, and a 1 s render is a plain
#     RIFF WAV;
#   - the recorder (build/unit/test_record with KANON_BIG_TEST=1) switches
#     its header to RF64 past 4 GiB while recording (what a crash leaves)
#     and after stop, with the exact frame count.
# Prints the sizes and times; exits 1 on a failed check.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$ROOT/build/bin:$ROOT/build/tools:$PATH"
dir=$(mktemp -d "${1:-${TMPDIR:-/tmp}}/kanon-big.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
free=$(df -P -k "$dir" | awk 'NR == 2 { print $4 }')
[ "$free" -gt 9000000 ] || { echo "big_file.sh: need 9 GB free in $dir"; exit 1; }
fail() { echo "FAIL: $*"; exit 1; }

kanon render "$ROOT/examples/sine.c" --seconds 1 -o "$dir/small.wav" 2>/dev/null || fail "small render"
[ "$(head -c 4 "$dir/small.wav")" = RIFF ] || fail "a 1 s render is not a RIFF WAV"

start=$(date +%s.%N)
kanon render "$ROOT/examples/sine.c" --seconds 11500 -o "$dir/big.wav" 2>/dev/null || fail "big render"
secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
[ "$(head -c 4 "$dir/big.wav")" = RF64 ] || fail "a 4.4 GB render is not RF64"
# The ds64 chunk (64-bit sizes) read directly: wavtool would load all 4.4 GB.
frames=$(python3 - "$dir/big.wav" <<'PY'
import os, struct, sys
f = open(sys.argv[1], "rb")
h = f.read(48)
assert h[12:16] == b"ds64", h[12:16]
riff, data, count = struct.unpack("<QQQ", h[20:44])
assert riff == os.path.getsize(sys.argv[1]) - 8, (riff, os.path.getsize(sys.argv[1]))
assert data == count * 8, (data, count)
print(count)
PY
)
[ "$frames" = 552000000 ] || fail "big render: the RF64 header says $frames frames, want 552000000"
echo "  ok: render of 11500 s: $(stat -c %s "$dir/big.wav") bytes, RF64, 552000000 frames, ${secs}s"
rm -f "$dir/big.wav"

start=$(date +%s.%N)
TMPDIR=$dir KANON_BIG_TEST=1 "$ROOT/build/unit/test_record" || fail "test_record with KANON_BIG_TEST=1"
secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
echo "  ok: recorder past 4 GiB: RF64 header while recording and after stop (${secs}s)"
