#!/usr/bin/env bash
# The aarch64 port, built with Debian's cross compiler and tested under qemu-user on this
# x86-64 machine: the kernel tests on every Highway target qemu can emulate, and the rtmo-t
# end-to-end check against the PyTorch goldens on one image. tools/test.sh runs it as its
# last step (SKIP_AARCH64=1 skips it); it also runs on its own from a fresh Debian 12.
#
#   tools/test_aarch64.sh
#
# Environment: JOBS (default 2), AARCH64_BUILD_DIR (default build-aarch64).
#
# Kernel runs (QEMU_CPU -> the Highway target Best() must choose; each run executes that
# target's tests): every target once, and the vector-length-agnostic targets at 128 and
# 512 bits.
#   cortex-a72                       NEON      (Armv8.0 + AES: NEON only)
#   a64fx,sve-default-vector-length=16 SVE     (SVE without SVE2, at 128 bits)
#   max                              SVE2      (qemu's default: SVE2 at 512 bits)
#   max,sve-default-vector-length=16 SVE2_128  (Highway's 128-bit SVE2 target, e.g. N2, V2),
#                                              and the generic SVE2 code at 128 bits
#   max,sve-default-vector-length=32 SVE_256   (Highway's 256-bit SVE target, e.g. V1)
# The expected target is passed as RTMO_EXPECT_TARGET; kernels_test asserts Best() equals
# it, and this script checks that every selected test ran and passed.
#
# Why not every target at every length: qemu emulates each SVE lane's float op in software,
# so a run costs about the number of lanes it computes. On one slow host (2026-12, an Intel
# Xeon guest) the kernel tests took 25 s on NEON and 43 s for both 128-bit SVE2 targets, but
# 438 s for SVE at 512 bits, 321 s for SVE2 at 512 and 940 s for SVE_256 with the generic
# SVE2 code at 256 bits; the rtmo-t goldens 41 s on NEON and 745 s on 512-bit SVE2.
#
# End-to-end runs (QEMU_CPU | which golden tests):
#   cortex-a72                       all: input, every module on golden inputs, end to end
#   max,sve-default-vector-length=16 all (SVE2_128, as on Neoverse N2 / V2 servers)
#   max                              end to end only (SVE2 at 512 bits: the whole network
#                                    with 16-lane vectors, the modules test adds no target)
# The 512-bit run is the longest step (one rtmo-t image took 375-385 s in CI, 2026-12-06,
# against 47-64 s for all three golden tests at 128 bits: qemu's SVE above 128 bits is
# slow) and keeps about one core busy, as do the kernel tests, so it runs in the
# background while they run.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS="${JOBS:-2}"
B="${AARCH64_BUILD_DIR:-build-aarch64}"
E2E_IMAGE=000000000785
PY=/usr/bin/python3  # Debian's, with python3-torch (never a pyenv shim)
t_start=$SECONDS

stage() { echo "== aarch64: $* ($((SECONDS - t_start)) s)"; }

# --- install ------------------------------------------------------------------------------
stage "install"
bash tools/setup.sh  # the native packages (python3-torch for the goldens, cmake, ninja)
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
PACKAGES=(
  g++-aarch64-linux-gnu qemu-user
  # arm64 builds of the libraries (multiarch, /usr/lib/aarch64-linux-gnu) + their runtime
  libhwy-dev:arm64 libgtest-dev:arm64 libstb-dev:arm64 libgomp1:arm64 libjpeg62-turbo-dev:arm64
  # header-only, architecture-independent
  libeigen3-dev nlohmann-json3-dev
)
# (Outputs are captured before matching: `cmd | grep -q` fails under pipefail when grep
# exits early and cmd gets SIGPIPE.)
arm64_index_ok() {
  local policy
  policy=$(apt-cache policy libhwy-dev:arm64 2>/dev/null || true)
  grep -q 'Candidate: [0-9]' <<<"$policy"
}
missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  if [ "$status" != "install ok installed" ]; then missing+=("$p"); fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "test_aarch64: installing ${missing[*]}"
  if ! grep -qx arm64 <<<"$(dpkg --print-foreign-architectures)"; then
    $SUDO dpkg --add-architecture arm64
  fi
  export DEBIAN_FRONTEND=noninteractive
  # Foreign-architecture indexes fail to download now and then: retry until the arm64
  # index is really there (apt-get update may exit 0 with some indexes missing).
  for attempt in 1 2 3 4 5 6; do
    if $SUDO apt-get update -qq && arm64_index_ok; then break; fi
    if [ "$attempt" = 6 ]; then
      echo "test_aarch64: the arm64 package index could not be fetched" >&2
      exit 1
    fi
    echo "test_aarch64: apt-get update incomplete (attempt $attempt), retrying" >&2
    sleep $((attempt * 5))
  done
  for attempt in 1 2 3; do
    if $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; then break; fi
    if [ "$attempt" = 3 ]; then exit 1; fi
    echo "test_aarch64: apt-get install failed (attempt $attempt), retrying" >&2
    sleep 10
  done
else
  echo "test_aarch64: all aarch64 packages present"
fi

# --- build ----------------------------------------------------------------------------------
# Only what runs under emulation: the kernel tests and the golden test (with the model
# library it links). No benchmarks, no other test programs.
stage "configure and build ($B)"
cmake -S . -B "$B" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/aarch64-linux-gnu.cmake" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRTMO_BUILD_TESTS=ON -DRTMO_BUILD_BENCH=OFF
cmake --build "$B" -j "$JOBS" --target kernels_test model_golden_test

LOGS="$B/aarch64-logs"
mkdir -p "$LOGS"
summary=()

# Runs `binary` under qemu with QEMU_CPU=$1 and gtest filter $2; the selected tests must
# exist (a filter that matches nothing passes vacuously in gtest), all run and all pass.
# Extra environment: the remaining arguments (NAME=VALUE).
run_qemu_tests() {
  local cpu=$1 filter=$2 binary=$3 log=$4
  shift 4
  local expected
  expected=$(env QEMU_CPU="$cpu" qemu-aarch64 "$binary" --gtest_filter="$filter" \
    --gtest_list_tests | grep -c '^  ' || true)
  if [ "$expected" -eq 0 ]; then
    echo "test_aarch64: no test matches '$filter' in $binary" >&2
    return 1
  fi
  local t0=$SECONDS rc=0
  env QEMU_CPU="$cpu" "$@" qemu-aarch64 "$binary" --gtest_filter="$filter" >"$log" 2>&1 || rc=$?
  local passed
  passed=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) tests\{0,1\}\..*/\1/p' "$log")
  if [ "$rc" != 0 ] || [ "${passed:-0}" != "$expected" ] || grep -q '^\[  SKIPPED \]' "$log"; then
    cat "$log"
    echo "test_aarch64: FAILED under QEMU_CPU=$cpu: $binary --gtest_filter=$filter" \
      "(exit $rc, passed ${passed:-0} of $expected, log $log)" >&2
    return 1
  fi
  RUN_SECONDS=$((SECONDS - t0))
  RUN_TESTS=$expected
}

# --- goldens; the 512-bit end-to-end run starts in the background ----------------------
# Same test program and tolerances as on x86 (tests/rtmo/model_golden_test.cc): the input
# bit-identical, every module on golden inputs, and Model::Predict end to end.
stage "goldens (rtmo-t, $E2E_IMAGE)"
"$PY" tools/reference/make_goldens.py "$B/goldens" --variants t \
  --images "tests/data/coco/$E2E_IMAGE.png"
BG_CPU=max
BG_FILTER="Rtmo/Golden.EndToEnd/rtmo_t_$E2E_IMAGE"
BG_SUMMARY="$LOGS/background.summary"
rm -f "$BG_SUMMARY"
stage "rtmo-t goldens, QEMU_CPU=$BG_CPU ($BG_FILTER), in the background"
(
  run_qemu_tests "$BG_CPU" "$BG_FILTER" "$B/tests/rtmo/model_golden_test" \
    "$LOGS/golden-rtmo_t-$BG_CPU.log" RTMO_GOLDENS="$PWD/$B/goldens"
  echo "rtmo-t   QEMU_CPU=$BG_CPU: $RUN_TESTS golden tests passed on $E2E_IMAGE" \
    "in ${RUN_SECONDS} s (alongside the kernel tests)" >"$BG_SUMMARY"
) &
bg_pid=$!
# A failure in the foreground ends the script (set -e): stop the background run with it.
trap 'kill "$bg_pid" 2>/dev/null || true' EXIT

# --- kernel tests on every Highway target -------------------------------------------------
KERNEL_RUNS=(
  "cortex-a72|NEON|*/NEON"
  "a64fx,sve-default-vector-length=16|SVE|*/SVE"
  "max|SVE2|*/SVE2"
  "max,sve-default-vector-length=16|SVE2_128|*/SVE2_128:*/SVE2"
  "max,sve-default-vector-length=32|SVE_256|*/SVE_256"
)
for run in "${KERNEL_RUNS[@]}"; do
  IFS='|' read -r cpu want filter <<<"$run"
  stage "kernel tests, QEMU_CPU=$cpu (expect $want)"
  log="$LOGS/kernels-${cpu//[,=]/_}.log"
  run_qemu_tests "$cpu" "$filter:KernelsDispatch.*" "$B/tests/kernels/kernels_test" "$log" \
    RTMO_EXPECT_TARGET="$want"
  chosen=$(sed -n 's/^Best() target: //p' "$log")
  if [ "$chosen" != "$want" ]; then
    echo "test_aarch64: QEMU_CPU=$cpu chose '$chosen', expected $want" >&2
    exit 1
  fi
  summary+=("kernels  QEMU_CPU=$cpu: Best()=$chosen, $RUN_TESTS tests passed ($filter) in ${RUN_SECONDS} s")
done

# --- end to end: rtmo-t on one image against the PyTorch goldens --------------------------
E2E_RUNS=(
  "cortex-a72|Rtmo/Golden.*/rtmo_t_$E2E_IMAGE"
  "max,sve-default-vector-length=16|Rtmo/Golden.*/rtmo_t_$E2E_IMAGE"
)
for run in "${E2E_RUNS[@]}"; do
  IFS='|' read -r cpu filter <<<"$run"
  stage "rtmo-t goldens, QEMU_CPU=$cpu ($filter)"
  log="$LOGS/golden-rtmo_t-${cpu//[,=]/_}.log"
  run_qemu_tests "$cpu" "$filter" "$B/tests/rtmo/model_golden_test" \
    "$log" RTMO_GOLDENS="$PWD/$B/goldens"
  grep -E '^  (people|predictions|keypoints.input) ' "$log" || true
  summary+=("rtmo-t   QEMU_CPU=$cpu: $RUN_TESTS golden tests passed on $E2E_IMAGE in ${RUN_SECONDS} s")
done

stage "waiting for the background run (QEMU_CPU=$BG_CPU)"
if ! wait "$bg_pid" || [ ! -s "$BG_SUMMARY" ]; then
  echo "test_aarch64: the background run failed (QEMU_CPU=$BG_CPU, $BG_FILTER)" >&2
  exit 1
fi
trap - EXIT
grep -E '^  (people|predictions|keypoints.input) ' "$LOGS/golden-rtmo_t-$BG_CPU.log" || true
summary+=("$(cat "$BG_SUMMARY")")

stage "done"
printf '  %s\n' "${summary[@]}"
echo "== aarch64: all passed in $((SECONDS - t_start)) s"
