#!/usr/bin/env bash
# The stress runs of tests/RELIABILITY.md, outside CI: the target stress_predict
# (rtmo/fuzz/stress_predict.cc), built in its own directory.
#
#   tools/fuzz_stress.sh load [VARIANT]              .rtmo load time, checksums vs none
#   tools/fuzz_stress.sh soak [VARIANT] [N] [SIZE]   N predictions on one model, RSS
#   tools/fuzz_stress.sh tsan [VARIANT] [T] [N] [SIZE]
#       ThreadSanitizer: T threads share one Model, N images each, results == sequential.
#       TSan does not see libgomp's own synchronisation (libgomp is not built with TSan),
#       so every OpenMP region would be reported as a race: the run uses OMP_NUM_THREADS=1
#       (each Predict single-threaded; the threads are std::threads sharing the Model,
#       which is what the test is about). Set TSAN_OMP_THREADS to try more.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-}"
shift || true
case "$mode" in
  load | soak) build="${STRESS_BUILD_DIR:-build-stress}"; flags="" ;;
  tsan) build="${TSAN_BUILD_DIR:-build-tsan}"; flags="-fsanitize=thread" ;;
  *) sed -n '2,14p' "$0"; exit 2 ;;
esac

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRTMO_BUILD_TESTS=OFF \
  -DRTMO_BUILD_BENCH=OFF -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_C_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="$flags" >/dev/null
cmake --build "$build" -j "${JOBS:-2}" --target stress_predict
exe="$build/rtmo/stress_predict"

variant="${1:-t}"
case "$mode" in
  load) exec "$exe" load "$variant" "${2:-5}" ;;
  soak) exec /usr/bin/time -v "$exe" soak "$variant" "${2:-10000}" "${3:-0}" ;;
  tsan)
    OMP_NUM_THREADS="${TSAN_OMP_THREADS:-1}" TSAN_OPTIONS="halt_on_error=0 ${TSAN_OPTIONS:-}" \
      exec "$exe" threads "$variant" "${2:-8}" "${3:-50}" "${4:-0}" ;;
esac
