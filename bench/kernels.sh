#!/usr/bin/env bash
# Kernel benchmarks in one command: builds bench/kernels_bench (FMA peak probe, GEMM,
# attention, every RTMO-s conv shape) and runs it and ONNX Runtime on the same single-conv
# shapes with the same thread count, alternately for several rounds so that both see the
# same machine conditions; prints one table with the ratios (medians over rounds).
#
#   bench/kernels.sh [--threads N] [--rounds R] [--reps R] [--build DIR] [--filter REGEX]
#
# Defaults: 2 threads, 3 rounds of 3 repetitions each (ORT: 20 runs per shape and round),
# build dir build-kernels-bench, work files in /tmp/rtmo-kernels-bench. Needs
# onnxruntime-node (tools/setup.sh --bench). About 3 minutes per round.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY=/usr/bin/python3
THREADS=2
REPS=3
ROUNDS=3
BUILD="$ROOT/build-kernels-bench"
FILTER=""
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) THREADS="$2"; shift 2 ;;
    --reps) REPS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
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

FILES=()
for r in $(seq 1 "$ROUNDS"); do
  echo "kernels.sh: round $r/$ROUNDS: ours ($THREADS threads, $REPS repetitions)" >&2
  OMP_NUM_THREADS="$THREADS" OMP_PROC_BIND=false "$BUILD/bench/kernels_bench" \
    --benchmark_repetitions="$REPS" --benchmark_report_aggregates_only=true \
    ${FILTER:+--benchmark_filter="$FILTER"} \
    --benchmark_out="$WORK/ours_$r.json" --benchmark_out_format=json >/dev/null
  echo "kernels.sh: round $r/$ROUNDS: ONNX Runtime ($THREADS threads)" >&2
  node "$ROOT/bench/ort_conv.mjs" "$WORK/onnx" "$THREADS" 20 > "$WORK/ort_$r.jsonl"
  FILES+=("$WORK/ours_$r.json" "$WORK/ort_$r.jsonl")
done

"$PY" "$ROOT/bench/kernels_report.py" "$WORK/onnx/shapes.json" "${FILES[@]}" | tee "$WORK/report.md"
