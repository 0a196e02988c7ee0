#!/usr/bin/env bash
# Builds cfutures and runs its whole test suite with CTest.
#   bash scripts/test.sh            # preset "release"
#   bash scripts/test.sh tsan       # or dev, asan
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-release}"
bash scripts/deps.sh
cmake --preset "$preset"
cmake --build --preset "$preset"
ctest --preset "$preset"
