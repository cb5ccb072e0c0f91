#!/usr/bin/env bash
# make demo: start a conductor on the default backend (auto: JACK, PulseAudio,
# ALSA, else the dummy backend on a machine without a sound card), play
# examples/pad.c, hot-swap a chord change into it while recording, and leave
# demo.wav for you to listen to.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/build/bin:$PATH"
export KANON_INSTANCE=demo
work=build/demo
mkdir -p "$work"
cp examples/pad.c "$work/pad.c"
kanon down >/dev/null 2>&1 || true
trap 'kanon down >/dev/null 2>&1 || true' EXIT
kanon up
kanon play "$work/pad.c"
kanon record start demo.wav
echo "playing A minor for 4 s ..."
sleep 4
echo "saving a chord change (F major): hot swap, no click, phase kept"
sed -i 's/^#define CHORD 0/#define CHORD 1/' "$work/pad.c"
sleep 4
echo "kanon set pad.cutoff 0.15 (brighter)"
kanon set pad.cutoff 0.15
sleep 3
kanon record stop
kanon log pad
kanon status
echo
echo "listen: $PWD/demo.wav   (e.g. aplay demo.wav, or play demo.wav from sox)"
