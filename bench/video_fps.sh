#!/bin/bash
# Frames per second of `rtmo --track --json --draw` on the sample video (issue 17).
#   bench/video_fps.sh [--build DIR] [--model FILE] [--threads "1 2"] [--loops N]
# The 5-frame sample (tests/data/video/demo.mp4, 960x540) is repeated N+1 times (default 6:
# 30 frames, stream copy, no re-encoding) so start-up is a small part of the run. Prints one
# markdown row per thread count: frames/s of the whole command (decode, network, tracking,
# JSON, drawing, H.264 encoding), the network's ms/frame and the share of the wall time
# outside the network (the command's own summary line), with the load average.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build="$here/build"
model=""
threads="1 2"
loops=5
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --loops) loops=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ -n "$model" ] || model="$build/goldens/rtmo-t/model.rtmo"
work=$(mktemp -d /tmp/rtmo-video-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
ffmpeg -nostdin -v error -stream_loop "$loops" -i "$here/tests/data/video/demo.mp4" -c copy \
  -y "$work/clip.mp4"
echo "| model | threads | frames | frames/s | network ms/frame | outside network | load avg |"
echo "|---|---:|---:|---:|---:|---:|---|"
for t in $threads; do
  line=$("$build/rtmo/rtmo" --threads "$t" -m "$model" --track --json "$work/p.jsonl" \
    --draw "$work/d.mp4" "$work/clip.mp4" 2>&1 | tail -1)
  # "rtmo: SRC: N frames, P people, F frames/s (network M ms/frame, S% of the time)"
  frames=$(sed -E 's/.*: ([0-9]+) frames?,.*/\1/' <<<"$line")
  fps=$(sed -E 's/.*, ([0-9.]+) frames\/s.*/\1/' <<<"$line")
  net=$(sed -E 's/.*network ([0-9.]+) ms\/frame.*/\1/' <<<"$line")
  share=$(sed -E 's/.*, ([0-9]+)% of the time.*/\1/' <<<"$line")
  echo "| $(basename "$(dirname "$model")") | $t | $frames | $fps | $net | $((100 - share))% | $(cut -d' ' -f1-3 /proc/loadavg) |"
done
