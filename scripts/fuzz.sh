#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for FUZZ_SECONDS (default 30) from its
# seed corpus. New findings are written to build-fuzz/findings/<target>/.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build-fuzz
SECONDS_PER_TARGET=${FUZZ_SECONDS:-30}

CC=clang cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DSHD_FUZZ=ON >/dev/null
cmake --build "$BUILD" -j "${JOBS:-$(nproc)}"
for bin in "$BUILD"/tests/fuzz/fuzz_*; do
    name=$(basename "$bin")
    parser=${name#fuzz_}
    parser=${parser%_fuzz}
    work=$BUILD/findings/$name
    mkdir -p "$work/corpus"
    echo "== $name (${SECONDS_PER_TARGET}s)"
    SHD_DONT_MLOCK=1 "$bin" -max_total_time="$SECONDS_PER_TARGET" -max_len="${FUZZ_MAX_LEN:-4096}" \
        -artifact_prefix="$work/" \
        "$work/corpus" "$ROOT/tests/fuzz/corpus/$parser" 2>&1 | tail -n 2
done
