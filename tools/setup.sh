#!/usr/bin/env bash
# Installs every Debian package that rtmo.cpp's build, tests, tools and benchmarks need.
# Idempotent: packages already present are left alone; `apt-get update` runs at most once
# per call and only when something is missing. Run as root on Debian 12 (bookworm).
#
#   tools/setup.sh          build + tests + tools (the default)
#   tools/setup.sh --bench  also ONNX Runtime for Node (npm) for bench/
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake ninja-build pkg-config git
  # tools/get_weights.sh downloads the official checkpoints
  curl ca-certificates
  # kernels and model
  libhwy-dev libeigen3-dev libstb-dev
  # tests, sanitizers, fuzzing, benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev clang libclang-rt-14-dev
  # JSON for the evaluator and CLI
  nlohmann-json3-dev
  # JPEG decoding (the libjpeg-turbo OpenCV uses on Debian)
  libjpeg62-turbo-dev
  # tests/tools/test_image_vs_opencv.py: cjpeg and libturbojpeg write the JPEG cases
  # cv2.imwrite cannot (chroma subsamplings, arithmetic coding, RGB, CMYK/YCCK)
  libjpeg-turbo-progs libturbojpeg0
  # video input/output (rtmo/video)
  libavformat-dev libavcodec-dev libswscale-dev libavutil-dev ffmpeg
  # the Python module (rtmo/python) and `pip install --no-build-isolation .`
  pybind11-dev python3-dev python3-pip python3-setuptools python3-wheel
  # tools/ and tests/: the PyTorch reference, goldens, bit-exactness checks (never runtime)
  python3 python3-numpy python3-torch python3-opencv python3-pytest python3-venv
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # The package index is occasionally unreachable for a moment: retry.
  for attempt in 1 2 3; do
    if $SUDO apt-get update -qq; then break; fi
    echo "setup: apt-get update failed (attempt $attempt), retrying" >&2
    sleep 5
  done
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all Debian packages present"
fi

if [ "${1:-}" = "--bench" ]; then
  here="$(cd "$(dirname "$0")/.." && pwd)"
  if [ ! -f "$here/bench/node_modules/onnxruntime-node/package.json" ]; then
    echo "setup: installing onnxruntime-node into bench/node_modules"
    # The version range of bench/package.json (npm install without a package name: naming
    # it would rewrite the tracked package.json with the newest release's range).
    (cd "$here/bench" && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund)
  fi
fi
