#!/usr/bin/env bash
# Downloads an official RTMO checkpoint from the mmpose model zoo, checks it, converts it.
#
#   tools/get_weights.sh VARIANT [DATASET]
#
#   VARIANT  t | s | m | l
#   DATASET  body7 (default; t/s/m/l) | coco (s/m/l) | crowdpose (s/m/l) | body7-crowdpose (l)
#
# Writes weights/rtmo-VARIANT.rtmo for body7 and weights/rtmo-VARIANT-DATASET.rtmo otherwise
# (the .pth stays next to it, so a second run does not download again).
#
# A thin wrapper over `rtmo fetch rtmo-VARIANT[-DATASET]` with RTMO_HOME=weights/: the table
# of official files (URLs, sha256 prefixes), the download (curl or wget), the checksum and
# the conversion are the library's (rtmo/io/model_files.cc), the same code that resolves
# `rtmo --model rtmo-s` and rtmo::Model::Load("rtmo-s"). `rtmo fetch --list` prints the table.
# Needs the rtmo command: RTMO_BIN, else $BUILD_DIR/rtmo/rtmo (BUILD_DIR default build) of
# this repository, else `rtmo` on PATH.
#
# The checksum: OpenMMLab names checkpoints NAME-HHHHHHHH_DATE.pth where HHHHHHHH are the
# first 8 hex digits of the file's sha256; a download that does not match is deleted and
# the script fails.
#
# Environment (for mirrors and for the tests, which serve a seeded checkpoint on 127.0.0.1):
#   RTMO_WEIGHTS_BASE_URL  replaces https://download.openmmlab.com/mmpose/v1/projects/rtmo
#   RTMO_WEIGHTS_FILE      replaces the official file name (must keep the -HHHHHHHH hash)
#   RTMO_WEIGHTS_DIR       output directory (default: weights/ of this repository)
#   RTMO_PYTHON            Python 3 for the converter (default python3; standard library only)
# Exit status: 0 done; 1 download/conversion failed; 2 bad arguments; 3 checksum mismatch.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
usage() {
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
[ $# -ge 1 ] && [ $# -le 2 ] || usage
case "$1" in -h|--help) usage ;; esac
variant="$1"
dataset="${2:-body7}"
if [ "$dataset" = body7 ]; then name="rtmo-$variant"; else name="rtmo-$variant-$dataset"; fi

rtmo="${RTMO_BIN:-}"
if [ -z "$rtmo" ]; then
  build="${BUILD_DIR:-build}"
  case "$build" in /*) ;; *) build="$here/$build" ;; esac
  if [ -x "$build/rtmo/rtmo" ]; then
    rtmo="$build/rtmo/rtmo"
  elif command -v rtmo >/dev/null; then
    rtmo="$(command -v rtmo)"
  else
    echo "get_weights: needs the rtmo command: build it first (cmake -S . -B build -G Ninja &&" \
         "cmake --build build --target rtmo), or set RTMO_BIN" >&2
    exit 1
  fi
fi

export RTMO_HOME="${RTMO_WEIGHTS_DIR:-$here/weights}"
# `rtmo fetch` exits 2 for an unknown name (this variant/dataset pair has no checkpoint).
"$rtmo" fetch "$name" >/dev/null
echo "get_weights: wrote $RTMO_HOME/$name.rtmo"
