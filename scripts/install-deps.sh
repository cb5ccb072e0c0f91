#!/usr/bin/env bash
# Installs kanon's build and test dependencies from Debian's packages,
# only if something is missing (so `make test` stays fast after the first run).
set -euo pipefail
echo "jackd2 jackd/tweak_rt_limits boolean false" | debconf-set-selections 2>/dev/null || true
PKGS=(build-essential pkg-config libsoundio-dev libtcc-dev tcc libnng-dev nng-utils
      liblo-dev liblo-tools libsndfile1-dev libsamplerate0-dev libcjson-dev
      jackd2 libjack-jackd2-dev libasound2-dev clang-format python3 procps clang libclang-rt-14-dev iproute2 faust valgrind tmux groff-base
      libsystemd-dev g++ ableton-link-dev libasio-dev)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "kanon: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
