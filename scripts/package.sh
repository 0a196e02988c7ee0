#!/usr/bin/env bash
# Builds the Debian package libcfutures-dev (cpack -G DEB; cmake/package.cmake), installs it
# on this machine (apt-get install ./x.deb; run as root, as CI does), then builds and runs
# two consumers of the installed package: tests/install through find_package(cfutures), and
# the same program through pkg-config alone.
#   bash scripts/package.sh [build-dir]      (default: build/package)
# The package is built without the MPI component (no Open MPI dependency).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/package}
jobs=$(nproc)

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCFUTURES_WITH_MPI=OFF \
  -DCFUTURES_BUILD_TESTS=OFF -DCFUTURES_BUILD_EXAMPLES=OFF
cmake --build "$build" -j "$jobs"
(cd "$build" && cpack -G DEB)
deb=$(realpath "$build"/packages/libcfutures-dev_*.deb)
dpkg-deb --contents "$deb" | grep -E "cfutures.pc|cfuturesConfig.cmake|libcfutures_core.a|progress.hpp"
apt-get install -y --no-install-recommends "$deb"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# find_package(cfutures) from /usr, nothing else on the path.
cmake -S tests/install -B "$work/cmake" -DCMAKE_BUILD_TYPE=Release
cmake --build "$work/cmake"
"$work/cmake/consumer"
# pkg-config alone.
g++ $(pkg-config --cflags cfutures) tests/install/main.cpp -o "$work/consumer_pkgconfig" \
  $(pkg-config --libs cfutures)
"$work/consumer_pkgconfig"
echo "package: $deb installed; find_package and pkg-config consumers built and ran"
