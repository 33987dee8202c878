#!/usr/bin/env bash
# Line coverage of shared/ from the unit suite: gcov instrumentation, lcov summary.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build-coverage

cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DSHD_COVERAGE=ON >/dev/null
cmake --build "$BUILD" -j "${JOBS:-$(nproc)}"
lcov --quiet --zerocounters --directory "$BUILD"
ctest --test-dir "$BUILD" -L unit -R '^unit/shared/' --output-on-failure -j "${JOBS:-$(nproc)}"
lcov --quiet --capture --directory "$BUILD" --output-file "$BUILD/all.info" 2>/dev/null
lcov --quiet --extract "$BUILD/all.info" "$ROOT/shared/*" --output-file "$BUILD/shared.info"
echo "== shared/ line coverage, per file"
lcov --list "$BUILD/shared.info" | sed -n '/^\[/,$p' | sed "s|$ROOT/||"
echo "== shared/ total"
lcov --summary "$BUILD/shared.info" 2>&1 | grep -E 'lines|functions'
