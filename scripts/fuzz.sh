#!/usr/bin/env bash
# Builds the message-decoder fuzzer (preset "fuzz": Clang 14 + libFuzzer) and runs it from the
# seed corpus in tests/fuzz/corpus for the given number of seconds (default 60). New inputs go
# to build/fuzz/corpus; a finding stops the run, fails the script and is written to
# build/fuzz/findings/.
#   bash scripts/fuzz.sh          # 60 s, as CI runs it
#   bash scripts/fuzz.sh 600      # longer
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
bash scripts/deps.sh scripts/packages-fuzz.txt
cmake --preset fuzz
cmake --build --preset fuzz
mkdir -p build/fuzz/corpus build/fuzz/findings
build/fuzz/tests/fuzz/cfutures_frame_fuzzer \
  -max_total_time="$seconds" -max_len=8192 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
  -artifact_prefix=build/fuzz/findings/ -print_final_stats=1 \
  build/fuzz/corpus tests/fuzz/corpus
