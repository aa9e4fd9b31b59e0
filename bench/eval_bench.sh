#!/usr/bin/env bash
# Times the COCO keypoint evaluator (rtmo-eval, rtmo/eval/) on a synthetic val2017-sized
# set: 5000 images, people per image and area mix like person_keypoints_val2017.json
# (~2.2 annotations per image, crowd regions and people without keypoints included), and a
# results file with DETS_PER_IMAGE detections per image (jittered GTs + false positives;
# coordinates rounded through float32 and written with Python's repr, as mmpose's CocoMetric
# writes them). A benchmark, not a test: it prints the timings.
#
#   bench/eval_bench.sh [BUILD_DIR]     (default build/; needs the rtmo-eval target built)
#   DETS_PER_IMAGE=20 REPEATS=5 bench/eval_bench.sh
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$here/build}"
bin="$build/rtmo/rtmo-eval"
[ -x "$bin" ] || { echo "eval_bench: $bin not built (cmake --build $build --target rtmo-eval)" >&2; exit 1; }
tmp="${TMPDIR:-/tmp}/rtmo_eval_bench"
mkdir -p "$tmp"
dets="${DETS_PER_IMAGE:-10}"
repeats="${REPEATS:-5}"

/usr/bin/python3 - "$tmp" "$dets" <<'EOF'
import json, sys
import numpy as np
out, dets_per_image = sys.argv[1], float(sys.argv[2])
rng = np.random.default_rng(5000)
f32 = lambda v: float(np.float32(v))
images, anns, res = [], [], []
aid = 1
for i in range(5000):
    img = 100000 + 13 * i
    w, h = 640, 480
    images.append({"id": img, "width": w, "height": h})
    n = int(rng.poisson(2.2))
    for _ in range(n):
        bw, bh = rng.uniform(10, 300), rng.uniform(20, 400)
        bx, by = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
        kind = rng.uniform()
        kp = np.zeros((17, 3))
        if kind < 0.05:
            crowd, nk = 1, 0
        elif kind < 0.4:  # val2017: about a third of the people have no labelled keypoint
            crowd, nk = 0, 0
        else:
            crowd = 0
            vis = rng.uniform(size=17) < 0.8
            kp[:, 0] = np.where(vis, bx + rng.uniform(0, 1, 17) * bw, 0).round(0)
            kp[:, 1] = np.where(vis, by + rng.uniform(0, 1, 17) * bh, 0).round(0)
            kp[:, 2] = np.where(vis, 2, 0)
            nk = int(vis.sum())
        area = float(bw * bh * 0.6)
        # Segmentations as in val2017 (polygons of ~30 points, RLE counts for crowds): unused
        # by keypoint evaluation but most of the file's bytes.
        if crowd:
            segm = {"counts": [int(c) for c in rng.integers(1, 400, 200)], "size": [h, w]}
        else:
            t = np.linspace(0, 2 * np.pi, 30)
            segm = [[round(float(v), 2) for v in np.stack(
                [bx + bw / 2 * (1 + np.cos(t)), by + bh / 2 * (1 + np.sin(t))], 1).ravel()]]
        anns.append({"segmentation": segm, "num_keypoints": nk, "area": area, "iscrowd": crowd,
                     "keypoints": [int(v) for v in kp.ravel()], "image_id": img,
                     "bbox": [round(bx, 2), round(by, 2), round(bw, 2), round(bh, 2)],
                     "category_id": 1, "id": aid})
        aid += 1
        if nk > 0:
            s = np.sqrt(area) * rng.uniform(0.005, 0.06)
            xy = np.where(kp[:, 2:3] > 0, kp[:, :2], [bx + bw / 2, by + bh / 2]) + rng.normal(0, s, (17, 2))
            k = np.concatenate([xy, rng.uniform(0, 1, (17, 1))], axis=1)
            res.append({"image_id": img, "category_id": 1,
                        "keypoints": [f32(v) for v in k.ravel()], "score": f32(rng.uniform(0.3, 1))})
    # false positives up to about dets_per_image detections per image
    for _ in range(max(0, int(rng.poisson(dets_per_image)) - n)):
        cx, cy, sz = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(10, 200)
        k = np.stack([cx + rng.normal(0, sz / 3, 17), cy + rng.normal(0, sz / 2, 17),
                      rng.uniform(0, 1, 17)], axis=1)
        res.append({"image_id": img, "category_id": 1,
                    "keypoints": [f32(v) for v in k.ravel()], "score": f32(rng.uniform(0.1, 0.6))})
cats = [{"id": 1, "name": "person", "supercategory": "person",
         "keypoints": ["nose", "left_eye", "right_eye", "left_ear", "right_ear",
                       "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
                       "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
                       "right_knee", "left_ankle", "right_ankle"]}]
json.dump({"images": images, "annotations": anns, "categories": cats}, open(f"{out}/ann.json", "w"))
json.dump(res, open(f"{out}/res.json", "w"))
print(f"eval_bench: 5000 images, {len(anns)} annotations, {len(res)} detections")
EOF
ls -l "$tmp"/ann.json "$tmp"/res.json | awk '{printf "eval_bench: %s %.1f MB\n", $9, $5 / 1e6}'
# Warm the page cache, show the numbers and the time per phase (wall and CPU).
"$bin" --ann "$tmp/ann.json" --results "$tmp/res.json" --timing
best=""
for i in $(seq "$repeats"); do
  s=$(date +%s.%N)
  "$bin" --ann "$tmp/ann.json" --results "$tmp/res.json" > /dev/null
  e=$(date +%s.%N)
  t=$(echo "$e - $s" | bc -l)
  echo "eval_bench: run $i: $(printf %.3f "$t") s"
  if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
done
echo "eval_bench: best of $repeats: $(printf %.3f "$best") s (load + parse + evaluate + summary)"
