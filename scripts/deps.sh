#!/usr/bin/env bash
# Installs the Debian packages cfutures needs to build, test and run its examples (the list
# is scripts/packages.txt), or those of the given list files (the fuzzer's is
# scripts/packages-fuzz.txt). Skips apt entirely when they are all present already.
set -euo pipefail
lists=("$@")
[ ${#lists[@]} -gt 0 ] || lists=("$(dirname "$0")/packages.txt")
packages=()
for list in "${lists[@]}"; do
  mapfile -t -O "${#packages[@]}" packages < "$list"
done
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
fi
