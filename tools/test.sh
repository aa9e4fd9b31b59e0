#!/usr/bin/env bash
# The whole test suite from a fresh Debian 12 machine: install, build, test, then the
# ASan+UBSan build of the `sanitize`-labelled tests and the ThreadSanitizer build of the
# `threads`-labelled ones (the kernels' pool, thread-count determinism). Exits non-zero on
# any failure. Environment: JOBS (default 2), BUILD_DIR (default build), SKIP_SANITIZE=1 to
# skip both sanitizer passes (CI always runs them).
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS="${JOBS:-2}"
BUILD_DIR="${BUILD_DIR:-build}"

bash tools/setup.sh

echo "== build ($BUILD_DIR)"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$BUILD_DIR" -j "$JOBS"

echo "== tests"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS" --timeout 1800

if [ "${SKIP_SANITIZE:-0}" != 1 ]; then
  echo "== ASan+UBSan build and the sanitize-labelled tests"
  cmake -S . -B "$BUILD_DIR-asan" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DRTMO_SANITIZE=ON \
    -DRTMO_BUILD_BENCH=OFF
  cmake --build "$BUILD_DIR-asan" -j "$JOBS"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir "$BUILD_DIR-asan" --output-on-failure -j "$JOBS" -L sanitize --timeout 1800
  echo "== ThreadSanitizer build and the threads-labelled tests"
  cmake -S . -B "$BUILD_DIR-tsan" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DRTMO_TSAN=ON \
    -DRTMO_BUILD_BENCH=OFF
  # Only the tests' executables: a race report makes the test exit 66 (TSan's default).
  cmake --build "$BUILD_DIR-tsan" -j "$JOBS" --target rtmo_threads_tests
  ctest --test-dir "$BUILD_DIR-tsan" --output-on-failure -j "$JOBS" -L threads --timeout 1800
fi
# aarch64 (NEON, SVE, SVE2) cross build tested under qemu-user; SKIP_AARCH64=1 skips it.
[ "${SKIP_AARCH64:-0}" = 1 ] || JOBS="$JOBS" bash tools/test_aarch64.sh
echo "== all tests passed"
