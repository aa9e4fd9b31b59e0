#!/usr/bin/env bash
# Fuzzes the .rtmo reader (rtmo::Weights::FromBytes + ValidateLayout) with libFuzzer under
# ASan+UBSan for SECONDS (default 60), single process. Builds with clang in build-fuzz/
# (override with FUZZ_BUILD_DIR), seeds the corpus with the files weights_seeds writes
# (the kinds of files tests/rtmo/weights_test.cc builds), keeps the grown corpus between
# runs, and writes any crashing input to $FUZZ_BUILD_DIR/fuzz_weights_artifacts/.
#
#   tools/fuzz_weights.sh 600
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN="${1:-60}"
BUILD="${FUZZ_BUILD_DIR:-build-fuzz}"

if [[ -n "${FUZZ_GCC_BUILD:-}" ]]; then
  # Debian's clang 14 crashes on kernels/eltwise.cc (Highway: "Do not know how to split
  # the result of this operator"). FUZZ_GCC_BUILD=build links the fuzzer against an
  # existing gcc build's libraries instead: the reader (weights.cc, config.cc) and the
  # target are still compiled by clang with the fuzzer and sanitizers; the rest (only
  # ValidateLayout is used) is not instrumented.
  G="$FUZZ_GCC_BUILD"
  mkdir -p "$BUILD/rtmo"
  clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer -I. \
    -o "$BUILD/rtmo/fuzz_weights" rtmo/fuzz/fuzz_weights.cc rtmo/io/weights.cc \
    rtmo/io/config.cc "$G/rtmo/librtmo_model.a" "$G/rtmo/librtmo_image.a" \
    "$G/kernels/librtmo_kernels.a" "$G/kernels/f64/librtmo_kernels_f64.a" -lhwy -ljpeg -fopenmp
  cmake --build "$G" -j "${JOBS:-2}" --target rtmo_testing
  g++ -std=c++20 -O1 -I. -o "$BUILD/rtmo/weights_seeds" rtmo/fuzz/weights_seeds.cc \
    "$G/rtmo/librtmo_testing.a" "$G/rtmo/librtmo_model.a" "$G/rtmo/librtmo_image.a" "$G/rtmo/librtmo_core.a" \
    "$G/kernels/librtmo_kernels.a" "$G/kernels/f64/librtmo_kernels_f64.a" -lhwy -ljpeg -fopenmp
else
  CC=clang CXX=clang++ cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DRTMO_BUILD_FUZZERS=ON -DRTMO_BUILD_TESTS=OFF -DRTMO_BUILD_BENCH=OFF >/dev/null
  cmake --build "$BUILD" -j "${JOBS:-2}" --target fuzz_weights weights_seeds
fi

seeds="$BUILD/fuzz_weights_seeds"
corpus="$BUILD/fuzz_weights_corpus"
artifacts="$BUILD/fuzz_weights_artifacts"
mkdir -p "$seeds" "$corpus" "$artifacts"
"$BUILD/rtmo/weights_seeds" "$seeds"

# Inputs up to 128 KiB: the miniature full-model seed is ~60 KB.
"$BUILD/rtmo/fuzz_weights" -max_total_time="$SECONDS_TO_RUN" -max_len=131072 -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" "$seeds"
