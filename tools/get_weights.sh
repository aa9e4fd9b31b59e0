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
# The checksum: OpenMMLab names checkpoints NAME-HHHHHHHH_DATE.pth where HHHHHHHH are the
# first 8 hex digits of the file's sha256; a download that does not match is deleted and
# the script fails. URLs: mmpose v1.3.2 configs/body_2d_keypoint/rtmo/*/rtmo_*.yml.
#
# Environment (for mirrors and for the tests, which serve a seeded checkpoint on 127.0.0.1):
#   RTMO_WEIGHTS_BASE_URL  replaces https://download.openmmlab.com/mmpose/v1/projects/rtmo
#   RTMO_WEIGHTS_FILE      replaces the official file name (must keep the -HHHHHHHH hash)
#   RTMO_WEIGHTS_DIR       output directory (default: weights/ of this repository)
#   RTMO_PYTHON            Python 3 for the converter (default /usr/bin/python3)
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

# Official file names (mmpose v1.3.2 configs/body_2d_keypoint/rtmo/{body7,coco,crowdpose}/
# rtmo_*.yml). The crowdpose m file really is named "rrtmo-..." on the server.
case "$variant/$dataset" in
  t/body7) file=rtmo-t_8xb32-600e_body7-416x416-f48f75cb_20231219.pth ;;
  s/body7) file=rtmo-s_8xb32-600e_body7-640x640-dac2bf74_20231211.pth ;;
  m/body7) file=rtmo-m_16xb16-600e_body7-640x640-39e78cc4_20231211.pth ;;
  l/body7) file=rtmo-l_16xb16-600e_body7-640x640-b37118ce_20231211.pth ;;
  s/coco) file=rtmo-s_8xb32-600e_coco-640x640-8db55a59_20231211.pth ;;
  m/coco) file=rtmo-m_16xb16-600e_coco-640x640-6f4e0306_20231211.pth ;;
  l/coco) file=rtmo-l_16xb16-600e_coco-640x640-516a421f_20231211.pth ;;
  s/crowdpose) file=rtmo-s_8xb32-700e_crowdpose-640x640-79f81c0d_20231211.pth ;;
  m/crowdpose) file=rrtmo-m_16xb16-700e_crowdpose-640x640-0eaf670d_20231211.pth ;;
  l/crowdpose) file=rtmo-l_16xb16-700e_crowdpose-640x640-1008211f_20231211.pth ;;
  l/body7-crowdpose) file=rtmo-l_16xb16-700e_body7-crowdpose-640x640-5bafdc11_20231219.pth ;;
  *)
    echo "get_weights: no official RTMO checkpoint for variant '$variant', dataset '$dataset'" >&2
    echo "  available: t s m l (body7); s m l (coco, crowdpose); l (body7-crowdpose)" >&2
    exit 2 ;;
esac

base="${RTMO_WEIGHTS_BASE_URL:-https://download.openmmlab.com/mmpose/v1/projects/rtmo}"
file="${RTMO_WEIGHTS_FILE:-$file}"
outdir="${RTMO_WEIGHTS_DIR:-$here/weights}"
python="${RTMO_PYTHON:-/usr/bin/python3}"
if [ "$dataset" = body7 ]; then out="$outdir/rtmo-$variant.rtmo"; else out="$outdir/rtmo-$variant-$dataset.rtmo"; fi

# The expected sha256 prefix from the name: ...-HHHHHHHH_YYYYMMDD.pth or ...-HHHHHHHH.pth.
if [[ "$file" =~ -([0-9a-f]{8})(_[0-9]{8})?\.pth$ ]]; then
  want="${BASH_REMATCH[1]}"
else
  echo "get_weights: '$file' has no -HHHHHHHH sha256 prefix in its name; cannot verify it" >&2
  exit 2
fi

mkdir -p "$outdir"
pth="$outdir/$file"
sha8() { sha256sum "$1" | cut -c1-8; }

if [ -f "$pth" ] && [ "$(sha8 "$pth")" = "$want" ]; then
  echo "get_weights: $pth already present (sha256 $want...)"
else
  url="$base/$file"
  part="$pth.part.$$"
  trap 'rm -f "$part"' EXIT
  echo "get_weights: downloading $url"
  if command -v curl >/dev/null; then
    curl -fL --retry 2 --connect-timeout 15 --progress-bar -o "$part" "$url" ||
      { echo "get_weights: download failed: $url" >&2; exit 1; }
  elif command -v wget >/dev/null; then
    wget -q --show-progress --tries=3 --timeout=15 -O "$part" "$url" ||
      { echo "get_weights: download failed: $url" >&2; exit 1; }
  else
    echo "get_weights: needs curl or wget (tools/setup.sh installs curl)" >&2
    exit 1
  fi
  got="$(sha8 "$part")"
  if [ "$got" != "$want" ]; then
    echo "get_weights: checksum mismatch for $url: sha256 starts with $got, the file name says $want; deleted the download" >&2
    exit 3
  fi
  mv -f "$part" "$pth"
  trap - EXIT
  echo "get_weights: $pth (sha256 $want... ok)"
fi

# The converter (standard library only) validates every tensor and writes atomically.
"$python" "$here/tools/convert_checkpoint.py" "$pth" "$out" --dataset "$dataset" --summary
echo "get_weights: wrote $out"
