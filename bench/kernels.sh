#!/usr/bin/env bash
# Kernel benchmarks in one command: builds bench/kernels_bench, runs it (FMA peak probe,
# GEMM, attention, every RTMO-s conv shape), runs ONNX Runtime on the same single-conv
# shapes with the same thread count, and prints one table with the ratios.
#
#   bench/kernels.sh [--threads N] [--reps R] [--build DIR] [--filter REGEX]
#
# Defaults: 2 threads, 5 repetitions (medians reported), build dir build-kernels-bench,
# work files in /tmp/rtmo-kernels-bench. Needs onnxruntime-node (tools/setup.sh --bench).
# Speed is noisy on a shared machine: the `busy` column (process CPU / wall x threads)
# shows when our threads did not get their cores.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY=/usr/bin/python3
THREADS=2
REPS=5
BUILD="$ROOT/build-kernels-bench"
FILTER=""
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) THREADS="$2"; shift 2 ;;
    --reps) REPS="$2"; shift 2 ;;
    --build) BUILD="$2"; shift 2 ;;
    --filter) FILTER="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
WORK=/tmp/rtmo-kernels-bench
mkdir -p "$WORK"

if [ ! -f "$ROOT/bench/node_modules/onnxruntime-node/package.json" ]; then
  echo "kernels.sh: onnxruntime-node missing: run tools/setup.sh --bench" >&2
  exit 1
fi

cmake -S "$ROOT" -B "$BUILD" -G Ninja -DRTMO_BUILD_TESTS=OFF -DRTMO_BUILD_BENCH=ON >/dev/null
cmake --build "$BUILD" --target kernels_bench -j2

"$PY" "$ROOT/bench/make_conv_onnx.py" "$ROOT/bench/conv_shapes.h" "$WORK/onnx"

echo "kernels.sh: ours ($THREADS threads, $REPS repetitions)" >&2
OMP_NUM_THREADS="$THREADS" OMP_PROC_BIND=false "$BUILD/bench/kernels_bench" \
  --benchmark_repetitions="$REPS" --benchmark_report_aggregates_only=true \
  ${FILTER:+--benchmark_filter="$FILTER"} \
  --benchmark_out="$WORK/ours.json" --benchmark_out_format=json >&2

echo "kernels.sh: ONNX Runtime ($THREADS threads)" >&2
node "$ROOT/bench/ort_conv.mjs" "$WORK/onnx" "$THREADS" 20 > "$WORK/ort.jsonl"

"$PY" "$ROOT/bench/kernels_report.py" "$WORK/ours.json" "$WORK/ort.jsonl" "$WORK/onnx/shapes.json" \
  | tee "$WORK/report.md"
