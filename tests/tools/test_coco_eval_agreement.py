#!/usr/bin/python3
"""rtmo-eval (C++) vs tests/tools/coco_eval_reference.py (numpy) on perturbed detections.

Usage: test_coco_eval_agreement.py RTMO_EVAL_BINARY TEST_COCO_JSON
Every scenario writes an annotation file and a results file to a temporary directory, runs
both evaluators and requires all 10 numbers to agree within 1e-9 (-1 must be -1 on both).
Scenarios: the real test_coco.json with jittered / dropped / duplicated / extra detections
and tied scores; synthetic files with many images, medium and large areas, GTs without
keypoints, crowd regions, GTs whose keypoints are all unlabelled, images without people,
more than 20 detections per image, two categories, results with a "bbox" field, and a
14-keypoint skeleton with given sigmas.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import coco_eval_reference as ref  # noqa: E402

TOL = 1e-9


def jitter_from_gt(rng, ann, scale, image_wh):
    """A detection near a GT: keypoints moved by N(0, scale * sqrt(area)) pixels."""
    k = np.asarray(ann["keypoints"], dtype=np.float64).reshape(-1, 3)
    s = np.sqrt(max(ann["area"], 1.0)) * scale
    xy = k[:, :2] + rng.normal(0, s, size=(len(k), 2))
    unlabelled = k[:, 2] == 0
    # Unlabelled GT keypoints are (0, 0): put the detection somewhere inside the box instead.
    bx, by, bw, bh = ann["bbox"]
    xy[unlabelled, 0] = bx + rng.uniform(0, 1, unlabelled.sum()) * bw
    xy[unlabelled, 1] = by + rng.uniform(0, 1, unlabelled.sum()) * bh
    xy[:, 0] = np.clip(xy[:, 0], 0, image_wh[0])
    xy[:, 1] = np.clip(xy[:, 1], 0, image_wh[1])
    out = np.concatenate([xy, rng.uniform(0, 1, (len(k), 1))], axis=1)
    return [round(float(v), 3) for v in out.ravel()]


def random_pose(rng, num_kpts, image_wh):
    w, h = image_wh
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    size = rng.uniform(10, 250)
    xy = np.stack([cx + rng.normal(0, size / 3, num_kpts), cy + rng.normal(0, size / 2, num_kpts)],
                  axis=1)
    return [round(float(v), 2) for v in
            np.concatenate([xy, rng.uniform(0, 1, (num_kpts, 1))], axis=1).ravel()]


def make_score(rng, ties):
    # With ties, scores come from a coarse grid so equal scores across images are common.
    return float(rng.integers(0, 5) / 4) if ties else round(float(rng.uniform(0, 1)), 6)


def perturbed_results(rng, ann_data, num_kpts, ties, drop=0.2, dup=0.1, extra=1.5,
                      scale=None, with_bbox=False):
    sizes = {im["id"]: (im.get("width", 640), im.get("height", 480)) for im in ann_data["images"]}
    cat_ids = [c["id"] for c in ann_data["categories"]]
    if scale is None:  # from near-perfect poses (OKS ~ 0.95) to poor ones
        scale = float(rng.choice([0.005, 0.02, 0.05]))
    res = []
    for a in ann_data["annotations"]:
        wh = sizes[a["image_id"]]
        copies = 0 if rng.uniform() < drop else (2 if rng.uniform() < dup else 1)
        for _ in range(copies):
            res.append({"image_id": a["image_id"], "category_id": a["category_id"],
                        "keypoints": jitter_from_gt(rng, a, scale * rng.uniform(0.2, 2.0), wh),
                        "score": make_score(rng, ties)})
    for im in ann_data["images"]:
        for _ in range(rng.poisson(extra)):
            res.append({"image_id": im["id"], "category_id": int(rng.choice(cat_ids)),
                        "keypoints": random_pose(rng, num_kpts, sizes[im["id"]]),
                        "score": make_score(rng, ties)})
    rng.shuffle(res)
    if with_bbox:
        for r in res:
            k = np.asarray(r["keypoints"]).reshape(-1, 3)
            x0, y0 = k[:, 0].min() - 5, k[:, 1].min() - 5
            r["bbox"] = [float(x0), float(y0), float(k[:, 0].max() - x0 + 5),
                         float(k[:, 1].max() - y0 + 5)]
    return res


def synthetic_annotations(rng, num_images, num_kpts=17, num_cats=1, gt_id_start=1):
    images, anns = [], []
    next_id = gt_id_start
    cats = [{"id": c + 1, "name": f"cat{c + 1}", "keypoints": [f"k{i}" for i in range(num_kpts)]}
            for c in range(num_cats)]
    for i in range(num_images):
        img_id = int(1000 + 7 * i)
        w, h = 640, 480
        images.append({"id": img_id, "width": w, "height": h})
        n = int(rng.choice([0, 0, 1, 2, 3, 5, 8]))  # some images have nobody
        for _ in range(n):
            kind = rng.uniform()
            # Side lengths spread over the small / medium / large COCO ranges (area 32^2, 96^2).
            bw, bh = rng.uniform(8, 300), rng.uniform(8, 350)
            bx, by = rng.uniform(0, w - 8), rng.uniform(0, h - 8)
            kp = np.zeros((num_kpts, 3))
            area = float(round(bw * bh * rng.uniform(0.5, 0.9), 4))
            crowd = 0
            if kind < 0.1:  # crowd region: no keypoints
                crowd = 1
                nk = 0
            elif kind < 0.2:  # person without any labelled keypoint: ignored (num_keypoints 0)
                nk = 0
            else:
                vis = rng.uniform(size=num_kpts) < rng.uniform(0.3, 1.0)
                kp[:, 0] = np.where(vis, bx + rng.uniform(0, 1, num_kpts) * bw, 0)
                kp[:, 1] = np.where(vis, by + rng.uniform(0, 1, num_kpts) * bh, 0)
                kp[:, 2] = np.where(vis, rng.choice([1, 2], num_kpts), 0)
                nk = int(vis.sum())
                if kind > 0.97:  # inconsistent file: num_keypoints > 0, no labelled keypoint
                    kp[:] = 0
                    nk = 3
            anns.append({"id": next_id, "image_id": img_id,
                         "category_id": int(rng.integers(1, num_cats + 1)),
                         "iscrowd": crowd, "num_keypoints": nk, "area": area,
                         "bbox": [round(float(v), 2) for v in (bx, by, bw, bh)],
                         "keypoints": [int(v) if j % 3 == 2 else round(float(v), 2)
                                       for j, v in enumerate(kp.ravel())]})
            next_id += 1
    rng.shuffle(anns)
    return {"images": images, "annotations": anns, "categories": cats}


def run_cpp(binary, ann_path, res_path, out_path, sigmas):
    cmd = [binary, "--ann", ann_path, "--results", res_path, "--json", out_path]
    if sigmas is not None:
        cmd += ["--sigmas", ",".join(repr(float(s)) for s in sigmas)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 10, proc.stdout
    with open(out_path) as f:
        stats = json.load(f)["stats"]
    return [stats[n] for n in ref.STAT_NAMES], lines


def main():
    binary, test_coco = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(20240)
    with open(test_coco) as f:
        coco = json.load(f)
    crowdpose_sigmas = np.array([.79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89,
                                 .79, .79]) / 10.0
    scenarios = []
    for i in range(6):
        scenarios.append((f"test_coco jitter #{i}", coco,
                          perturbed_results(rng, coco, 17, ties=i % 2 == 1), None))
    # test_coco with a crowd region added over the right person of 000000040083.
    crowd = json.loads(json.dumps(coco))
    crowd["annotations"].append({"id": 900000000001, "image_id": 40083, "category_id": 1,
                                 "iscrowd": 1, "num_keypoints": 0, "area": 9000.0,
                                 "bbox": [250.0, 130.0, 160.0, 170.0], "keypoints": [0] * 51})
    for i in range(3):
        scenarios.append((f"test_coco + crowd #{i}", crowd,
                          perturbed_results(rng, crowd, 17, ties=True, extra=4), None))
    for i in range(8):
        ann = synthetic_annotations(rng, num_images=int(rng.integers(20, 80)))
        scenarios.append((f"synthetic #{i}", ann,
                          perturbed_results(rng, ann, 17, ties=i % 2 == 0,
                                            extra=float(rng.choice([0.5, 3, 12]))), None))
    # Crowded images: more than 20 detections per image, so the top-20 cut matters.
    ann = synthetic_annotations(rng, num_images=15)
    scenarios.append(("synthetic, >20 dets/image", ann,
                      perturbed_results(rng, ann, 17, ties=True, dup=0.9, extra=25), None))
    ann = synthetic_annotations(rng, num_images=40, num_cats=2)
    scenarios.append(("synthetic, two categories", ann,
                      perturbed_results(rng, ann, 17, ties=False, extra=3), None))
    ann = synthetic_annotations(rng, num_images=40)
    scenarios.append(("synthetic, results with bbox", ann,
                      perturbed_results(rng, ann, 17, ties=False, extra=3, with_bbox=True), None))
    ann = synthetic_annotations(rng, num_images=40, num_kpts=14)
    scenarios.append(("synthetic, 14 keypoints + sigmas", ann,
                      perturbed_results(rng, ann, 14, ties=True, extra=3), crowdpose_sigmas))
    ann = synthetic_annotations(rng, num_images=30)
    scenarios.append(("synthetic, only false positives", ann,
                      perturbed_results(rng, ann, 17, ties=False, drop=1.0, extra=3), None))

    worst = 0.0
    failures = []
    with tempfile.TemporaryDirectory(prefix="rtmo_eval_agree_") as tmp:
        for n, (name, ann, res, sigmas) in enumerate(scenarios):
            ann_path = os.path.join(tmp, f"ann{n}.json")
            res_path = os.path.join(tmp, f"res{n}.json")
            with open(ann_path, "w") as f:
                json.dump(ann, f)
            with open(res_path, "w") as f:
                json.dump(res, f)
            want = ref.evaluate(ref.load_ground_truth(ann_path), ref.load_results(res_path),
                                sigmas)
            got, lines = run_cpp(binary, ann_path, res_path, os.path.join(tmp, f"out{n}.json"),
                                 sigmas)
            diffs = [abs(a - b) for a, b in zip(got, want)]
            worst = max(worst, max(diffs))
            status = "ok" if max(diffs) <= TOL else "MISMATCH"
            print(f"{status:8s} {name:36s} {len(res):5d} dets  max|diff| = {max(diffs):.3g}  "
                  f"AP={want[0]:.4f} APm={want[3]:.4f} APl={want[4]:.4f} AR={want[5]:.4f}")
            if status != "ok":
                failures.append(name)
                for s, a, b in zip(ref.STAT_NAMES, got, want):
                    print(f"    {s:5s} cpp={a!r} ref={b!r}")
            # The printed summary must carry the same numbers (3 decimals, pycocotools format).
            for line, value in zip(lines, got):
                assert line.endswith(f"= {value:0.3f}"), (line, value)
    print(f"{len(scenarios)} scenarios, worst |cpp - reference| = {worst:.3g} (tolerance {TOL})")
    if failures:
        print("FAILED:", ", ".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
