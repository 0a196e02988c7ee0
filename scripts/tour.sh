#!/usr/bin/env bash
# Builds cfutures and runs the tour: every scenario of the tutorial, one after the other.
#   bash scripts/tour.sh [--scale X]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake --preset release
cmake --build --preset release --target tour
./build/release/examples/tour "$@"
