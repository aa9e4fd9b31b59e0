#!/usr/bin/env bash
# The README's first command: set up, build, then show rtmo.cpp working.
#
#   bash tools/demo.sh              pose estimation if an official checkpoint is available,
#                                   else the offline verification demo
#   bash tools/demo.sh --verify     the verification demo even if a checkpoint is available
#
# 1. tools/setup.sh (Debian packages), cmake + build of the `rtmo` command in build/.
# 2. POSE ESTIMATION: if weights/rtmo-s.rtmo exists (or any weights/rtmo-*.rtmo), or
#    tools/get_weights.sh s can download the official RTMO-s checkpoint, run it on the sample
#    images tests/data/coco/*.jpg -> out/poses.json and the drawings in out/drawn/.
# 3. Otherwise (offline) VERIFICATION: a seeded random checkpoint in the official layout
#    (tools/reference/make_checkpoint.py), converted; the PyTorch reference and the C++ code
#    run on the same image and every module's output is compared (max/median differences,
#    tools/compare_dumps.py); the C++ drawings are labelled RANDOM WEIGHTS, because they are.
# The last lines say which of the two it did. Environment: JOBS (default 2), BUILD_DIR
# (default build), OUT (default out).
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS="${JOBS:-2}"
BUILD_DIR="${BUILD_DIR:-build}"
OUT="${OUT:-out}"
PY=/usr/bin/python3
mode=auto
[ "${1:-}" = "--verify" ] && mode=verify
start=$(date +%s)

echo "== set-up (tools/setup.sh)"
bash tools/setup.sh

echo "== build ($BUILD_DIR, target rtmo)"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS" --target rtmo
RTMO="$BUILD_DIR/rtmo/rtmo"
mkdir -p "$OUT"

model=""
if [ "$mode" = auto ]; then
  if [ -f weights/rtmo-s.rtmo ]; then
    model=weights/rtmo-s.rtmo
  else
    model="$(ls weights/rtmo-*.rtmo 2>/dev/null | head -n1 || true)"
  fi
  if [ -z "$model" ]; then
    echo "== no converted checkpoint in weights/: trying tools/get_weights.sh s"
    if bash tools/get_weights.sh s; then
      model=weights/rtmo-s.rtmo
    else
      echo "== could not download the official checkpoint (offline?): verification demo instead"
    fi
  fi
fi

if [ -n "$model" ]; then
  echo "== pose estimation: $model on tests/data/coco/*.jpg"
  rm -rf "$OUT/drawn"
  "$RTMO" --model "$model" --json "$OUT/poses.json" --draw "$OUT/drawn" tests/data/coco/*.jpg
  echo
  echo "DONE (after $(( $(date +%s) - start )) s): POSE ESTIMATION with the official checkpoint $model."
  echo "  poses:    $OUT/poses.json"
  echo "  drawings: $OUT/drawn/ ($(ls "$OUT/drawn" | tr '\n' ' '))"
  exit 0
fi

# ---------------------------------------------------------------- verification demo
V="$OUT/verify"
IMAGE=tests/data/coco/000000000785.png  # lossless: both sides see identical pixels
stem="$(basename "$IMAGE" .png)"
mkdir -p "$V"
if [ ! -f "$V/checkpoint.pth" ]; then
  echo "== seeded random RTMO-s checkpoint in the official layout (tools/reference/make_checkpoint.py)"
  $PY tools/reference/make_checkpoint.py s "$V/checkpoint.pth"
fi
echo "== convert it to .rtmo (tools/convert_checkpoint.py) and print the file's summary"
$PY tools/convert_checkpoint.py "$V/checkpoint.pth" "$V/model.rtmo" --quiet --summary
echo "== PyTorch reference, float64 and float32: every module's output (tools/reference/dump_goldens.py)"
rm -rf "$V/torch" "$V/torch64" "$V/cpp" "$V/cpp64" "$V/drawn"
$PY tools/reference/dump_goldens.py "$V/checkpoint.pth" "$IMAGE" "$V/torch64" --dtype float64
$PY tools/reference/dump_goldens.py "$V/checkpoint.pth" "$IMAGE" "$V/torch"
echo "== C++: the same image with --dump in float64 (--precision f64) and float32, all sample images drawn"
"$RTMO" --model "$V/model.rtmo" --precision f64 --dump "$V/cpp64" -q "$IMAGE"
"$RTMO" --model "$V/model.rtmo" --dump "$V/cpp" --json "$V/poses.json" -q "$IMAGE"
"$RTMO" --model "$V/model.rtmo" --draw "$V/drawn" --score-thr 0.5 \
  --title "RANDOM WEIGHTS - verification demo, not a trained model" tests/data/coco/*.png
echo
echo "== C++ vs PyTorch, per module, on $IMAGE"
echo "   f64 column: our float64 path against PyTorch float64 (relative L2; exact up to"
echo "   rounding, so anything above 1e-10 would be a bug). f32 columns: the accuracy of our"
echo "   float32 path and of PyTorch float32, both against the float64 result, and their ratio"
echo "   (below 1: ours is closer to the exact result)."
status=0
$PY tools/accuracy.py "$V/cpp/$stem" "$V/torch" "$V/torch64" --ours-f64 "$V/cpp64/$stem" \
  | tee "$V/comparison.txt" || status=$?
echo
echo "DONE (after $(( $(date +%s) - start )) s): the offline VERIFICATION demo, NOT pose estimation."
echo "  No official checkpoint was found in weights/ or could be downloaded, so rtmo.cpp ran a"
echo "  seeded RANDOM checkpoint and was compared with the PyTorch reference module by module"
echo "  in float64 and float32 (table above, also in $V/comparison.txt)."
echo "  The drawings in $V/drawn/ show RANDOM poses from random weights (labelled as such)."
echo "  For real poses: tools/get_weights.sh s (needs network), then bash tools/demo.sh again."
exit $status
