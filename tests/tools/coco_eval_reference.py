#!/usr/bin/python3
"""Independent reference for COCO keypoint evaluation (OKS AP/AR), numpy only.

Written from the COCO keypoint evaluation definition (cocodataset.org/#keypoints-eval) and
the documented behaviour of pycocotools' COCO.loadRes + COCOeval(iouType='keypoints'),
to check rtmo's C++ evaluator (rtmo/eval/cocoeval.cc) without pycocotools (not installable here).
It is deliberately organised differently from the C++: vectorised OKS over all
(detection, GT) pairs of an image, a dictionary per image, numpy cumulative sums.

The protocol, as a list of rules this file implements:
  * OKS(d, g) = sum_i[v_i > 0] exp(-d_i^2 / (2 s^2 k_i^2)) / #(v_i > 0), with s^2 the GT
    area (+ machine eps), k_i = 2 * sigma_i; if the GT has no labelled keypoint, d_i is the
    distance from the detected keypoint to the box [x - w, x + 2w] x [y - h, y + 2h] and
    the mean runs over all keypoints.
  * GT ignored if iscrowd or num_keypoints == 0, or (per area range) area outside the range.
  * Per image: detections by decreasing score (stable), at most 20. Greedy matching per OKS
    threshold t in linspace(.5, .95, 10): each detection takes the GT with the highest
    OKS >= t among the not-yet-taken ones (crowd GTs are never used up), ties to the later
    GT in (non-ignored first) order; never switching from a regular GT to an ignored one.
    Detections matched to ignored GTs are ignored; unmatched detections whose area (the
    box of their keypoints) is outside the range are ignored.
  * Per category/area: all detections by decreasing score (stable over image order),
    precision = TP / (TP + FP), recall = TP / #non-ignored GT, precision made monotone,
    sampled at recall 0, .01, ..., 1 (first rank reaching the recall; 0 if never);
    AP = mean over thresholds, recall points, categories (undefined = -1 skipped); AR the
    same with the final recall.

Usage: coco_eval_reference.py ANN.json RES.json [--sigmas s1,...]  -> prints JSON stats.
"""
import json
import sys

import numpy as np

COCO_SIGMAS = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07,
                        .87, .87, .89, .89]) / 10.0
STAT_NAMES = ["AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"]
AREAS = {"all": (0.0, 1e10), "medium": (32.0 ** 2, 96.0 ** 2), "large": (96.0 ** 2, 1e10)}
MAX_DETS = 20
EPS = np.finfo(np.float64).eps


def load_ground_truth(path):
    with open(path) as f:
        data = json.load(f)
    cats = {c["id"]: c for c in data["categories"]}
    num_kpts = {len(c["keypoints"]) for c in cats.values()}
    assert len(num_kpts) == 1, "categories disagree on the number of keypoints"
    return {
        "images": sorted({im["id"] for im in data["images"]}),
        "categories": sorted(cats),
        "num_keypoints": num_kpts.pop(),
        "annotations": data["annotations"],
    }


def load_results(path):
    """Results list -> detections with ids and areas as loadRes assigns them."""
    with open(path) as f:
        res = json.load(f)
    dets = []
    with_box = bool(res) and bool(res[0].get("bbox"))
    for n, r in enumerate(res):
        k = np.asarray(r["keypoints"], dtype=np.float64).reshape(-1, 3)
        if with_box:
            area = r["bbox"][2] * r["bbox"][3]
        else:
            area = (k[:, 0].max() - k[:, 0].min()) * (k[:, 1].max() - k[:, 1].min())
        dets.append({"id": n + 1, "image_id": r["image_id"], "category_id": r["category_id"],
                     "score": float(r["score"]), "area": float(area), "kpts": k})
    return dets


def oks_matrix(dets, gts, sigmas):
    """[D] detections x [G] GTs -> [D, G] object keypoint similarity."""
    out = np.zeros((len(dets), len(gts)))
    if not dets or not gts:
        return out
    kappa2 = (2 * sigmas) ** 2
    dk = np.stack([d["kpts"] for d in dets])  # [D, K, 3]
    for j, g in enumerate(gts):
        gk = np.asarray(g["keypoints"], dtype=np.float64).reshape(-1, 3)
        labelled = gk[:, 2] > 0
        if labelled.any():
            ddx = dk[:, :, 0] - gk[None, :, 0]
            ddy = dk[:, :, 1] - gk[None, :, 1]
        else:
            bx, by, bw, bh = g["bbox"]
            lo_x, hi_x, lo_y, hi_y = bx - bw, bx + bw * 2, by - bh, by + bh * 2
            ddx = np.maximum(0.0, lo_x - dk[:, :, 0]) + np.maximum(0.0, dk[:, :, 0] - hi_x)
            ddy = np.maximum(0.0, lo_y - dk[:, :, 1]) + np.maximum(0.0, dk[:, :, 1] - hi_y)
            labelled = np.ones_like(labelled)
        e = (ddx ** 2 + ddy ** 2) / kappa2[None, :] / (g["area"] + EPS) / 2
        sim = np.exp(-e[:, labelled])
        out[:, j] = np.array([np.sum(row) for row in sim]) / labelled.sum()
    return out


def match_image(dets, gts, oks, area_rng, thresholds):
    """One image/category/area -> (scores [D], state [T, D]: 1 TP, 0 FP, -1 ignored, npig)."""
    lo, hi = area_rng
    ignore = np.array([bool(g["iscrowd"]) or g["num_keypoints"] == 0 or
                       not (lo <= g["area"] <= hi) for g in gts], dtype=bool)
    # Regular GTs are tried before ignored ones (stable within each group).
    perm = [j for j in range(len(gts)) if not ignore[j]] + \
           [j for j in range(len(gts)) if ignore[j]]
    crowd = [bool(gts[j]["iscrowd"]) for j in perm]
    ign = [bool(ignore[j]) for j in perm]
    ids = [gts[j]["id"] for j in perm]
    sims = oks[:, perm] if len(gts) else oks
    state = np.zeros((len(thresholds), len(dets)), dtype=np.int64)
    for ti, thr in enumerate(thresholds):
        used = [False] * len(perm)
        for di, d in enumerate(dets):
            best_val, best = min(thr, 1 - 1e-10), None
            for p in range(len(perm)):
                if used[p] and not crowd[p]:
                    continue
                if best is not None and not ign[best] and ign[p]:
                    break
                if sims[di, p] >= best_val:
                    best_val, best = sims[di, p], p
            outside = not (lo <= d["area"] <= hi)
            if best is None:
                state[ti, di] = -1 if outside else 0
                continue
            used[best] = True
            if ign[best]:
                state[ti, di] = -1
            elif ids[best] == 0:  # a zero GT id reads as "no match" in the COCO tool
                state[ti, di] = -1 if outside else 0
            else:
                state[ti, di] = 1
    return np.array([d["score"] for d in dets]), state, int((~ignore).sum())


def evaluate(gt, dets, sigmas=None):
    if sigmas is None:
        assert gt["num_keypoints"] == 17, "need sigmas for a non-COCO-17 skeleton"
        sigmas = COCO_SIGMAS
    sigmas = np.asarray(sigmas, dtype=np.float64)
    thresholds = np.linspace(.5, .95, 10)
    rec_points = np.linspace(0, 1, 101)
    images = gt["images"]
    by_key_gt, by_key_dt = {}, {}
    for a in gt["annotations"]:
        by_key_gt.setdefault((a["image_id"], a["category_id"]), []).append(a)
    for d in dets:
        by_key_dt.setdefault((d["image_id"], d["category_id"]), []).append(d)

    cats = gt["categories"]
    area_names = list(AREAS)
    prec = -np.ones((len(thresholds), len(rec_points), len(cats), len(area_names)))
    rec = -np.ones((len(thresholds), len(cats), len(area_names)))
    for ci, cat in enumerate(cats):
        per_image = []
        for img in images:
            gts = by_key_gt.get((img, cat), [])
            dts = by_key_dt.get((img, cat), [])
            if not gts and not dts:
                continue
            order = sorted(range(len(dts)), key=lambda i: -dts[i]["score"])[:MAX_DETS]
            dts = [dts[i] for i in order]
            per_image.append((gts, dts, oks_matrix(dts, gts, sigmas)))
        for ai, name in enumerate(area_names):
            scores, states, npig = [], [], 0
            for gts, dts, oks in per_image:
                s, st, n = match_image(dts, gts, oks, AREAS[name], thresholds)
                scores.append(s)
                states.append(st)
                npig += n
            if npig == 0:
                continue
            scores = np.concatenate(scores) if scores else np.zeros(0)
            states = np.concatenate(states, axis=1) if states else np.zeros((10, 0))
            rank = sorted(range(len(scores)), key=lambda i: -scores[i])  # stable
            states = states[:, rank]
            for ti in range(len(thresholds)):
                tp = np.cumsum(states[ti] == 1).astype(np.float64)
                fp = np.cumsum(states[ti] == 0).astype(np.float64)
                recall = tp / npig
                precision = tp / (fp + tp + EPS)
                rec[ti, ci, ai] = recall[-1] if len(recall) else 0.0
                precision = np.maximum.accumulate(precision[::-1])[::-1]
                at = np.searchsorted(recall, rec_points, side="left")
                q = np.zeros(len(rec_points))
                ok = at < len(precision)
                q[ok] = precision[at[ok]]
                prec[ti, :, ci, ai] = q

    def mean(x):
        x = x[x > -1]
        return float(np.mean(x)) if x.size else -1.0

    t50 = np.where(thresholds == .5)[0]
    t75 = np.where(thresholds == .75)[0]
    a_all, a_med, a_large = 0, 1, 2
    return [
        mean(prec[:, :, :, a_all]), mean(prec[t50][:, :, :, a_all]),
        mean(prec[t75][:, :, :, a_all]), mean(prec[:, :, :, a_med]),
        mean(prec[:, :, :, a_large]),
        mean(rec[:, :, a_all]), mean(rec[t50][:, :, a_all]), mean(rec[t75][:, :, a_all]),
        mean(rec[:, :, a_med]), mean(rec[:, :, a_large]),
    ]


def main(argv):
    sigmas = None
    args = list(argv[1:])
    if "--sigmas" in args:
        i = args.index("--sigmas")
        sigmas = [float(s) for s in args[i + 1].split(",")]
        del args[i:i + 2]
    gt = load_ground_truth(args[0])
    stats = evaluate(gt, load_results(args[1]), sigmas)
    print(json.dumps(dict(zip(STAT_NAMES, stats)), indent=2))


if __name__ == "__main__":
    main(sys.argv)
