#!/usr/bin/python3
"""The C++ letterbox must equal OpenCV's cv2.warpAffine bit for bit (issue 5, item 3).

Usage: test_letterbox_vs_opencv.py RTMO_IMAGE_TOOL COCO_DIR

Drives tests/tools/rtmo_image_tool (one batch run) and compares, with ZERO tolerance:
  * LetterboxBgr vs cv2.warpAffine(img, M, (W, H), INTER_LINEAR, BORDER_CONSTANT, 114) with
    the closed-form BottomupResize matrix, on random images of many sizes and aspect ratios
    (1x1 ... 3000x2000, up- and down-scaling, odd sizes) and several network input sizes;
  * WarpAffineBilinear vs cv2.warpAffine for general matrices (rotation, shear, flips,
    random border values), which exercises the non-separable path;
  * the four COCO test PNGs decoded by rtmo::LoadImage, letterboxed, vs cv2.imread +
    cv2.warpAffine with the closed-form matrix AND with the official mmpose matrix
    (get_warp_matrix -> cv2.getAffineTransform, re-implemented here);
  * Preprocess().chw vs float32(cv2 result).transpose(2, 0, 1);
  * MapToImage vs the official numpy formula (bottomup.py:176-185), exact float64.
Needs Debian's python3-opencv (4.6) and python3-numpy.
"""
import os
import subprocess
import sys
import tempfile

import cv2
import numpy as np

PAD = (114, 114, 114)


def closed_form_matrix(w, h, in_w, in_h):
    s = min(in_w / w, in_h / h)
    return np.array([[s, 0, in_w / 2 - s * w / 2], [0, s, in_h / 2 - s * h / 2]])


def official_matrix(w, h, in_w, in_h):
    """mmpose v1.3.2 BottomupResize (fit, no UDP) + get_warp_matrix, re-implemented."""
    ratio = w / h
    rsz_w, rsz_h = min(in_w, in_h * ratio), min(in_h, in_w / ratio)
    center = np.array([w / 2, h / 2], dtype=np.float32)
    scale = np.array([w * in_w / rsz_w, h * in_h / rsz_h], dtype=np.float32)
    src_w = scale[0]
    src_dir = np.array([src_w * -0.5, 0.0])  # rot = 0: _rotate_point is the identity
    dst_dir = np.array([in_w * -0.5, 0.0])
    src = np.zeros((3, 2), dtype=np.float32)
    dst = np.zeros((3, 2), dtype=np.float32)
    src[0, :] = center
    src[1, :] = center + src_dir
    dst[0, :] = [in_w * 0.5, in_h * 0.5]
    dst[1, :] = np.array([in_w * 0.5, in_h * 0.5]) + dst_dir

    def third(a, b):
        d = a - b
        return b + np.r_[-d[1], d[0]]

    src[2, :] = third(src[0, :], src[1, :])
    dst[2, :] = third(dst[0, :], dst[1, :])
    return cv2.getAffineTransform(np.float32(src), np.float32(dst)), center, scale


def warp(img, m, w, h, border=PAD):
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=border)


def content(rng, h, w, kind):
    if kind == "noise":
        return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    if kind == "extremes":  # saturation: only 0 and 255
        return (rng.integers(0, 2, (h, w, 3), dtype=np.uint8) * 255).astype(np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    g = np.stack([xx * 255.0 / max(w - 1, 1), yy * 255.0 / max(h - 1, 1),
                  (xx + yy) * 127.0 / max(w + h - 2, 1)], -1)
    return np.clip(g + rng.normal(0, 3, g.shape), 0, 255).astype(np.uint8)


def main():
    tool, coco = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(20240605)
    tmp = tempfile.mkdtemp(prefix="rtmo_letterbox_")
    cmds, checks = [], []  # checks: (label, output path, expected array)

    # --- letterbox on synthetic images ---------------------------------------------------
    sizes = [(1, 1), (1, 2), (2, 1), (2, 3), (3, 2), (7, 5), (5, 7), (13, 11), (20, 900),
             (900, 20), (1, 640), (640, 1), (640, 640), (416, 416), (640, 480), (480, 640),
             (640, 425), (500, 333), (50, 30), (30, 50), (641, 427), (1023, 767), (999, 1),
             (3000, 2000), (2000, 3000), (1280, 720), (639, 641), (320, 320), (832, 832),
             (32766, 3), (3, 32766)]  # the largest sides OpenCV accepts (< SHRT_MAX)
    sizes += [tuple(int(v) for v in rng.integers(1, 1600, 2)) for _ in range(30)]
    inputs = [(640, 640), (416, 416)]
    extra_inputs = [(640, 384), (33, 17), (1, 1), (2, 5)]
    kinds = ["noise", "gradient", "extremes"]
    n = 0
    for i, (w, h) in enumerate(sizes):
        img = content(rng, h, w, kinds[i % 3])
        path = os.path.join(tmp, f"img{i}.npy")
        np.save(path, img)
        targets = inputs + ([extra_inputs[i % len(extra_inputs)]] if i % 3 == 0 else [])
        for in_w, in_h in targets:
            out = os.path.join(tmp, f"lb{n}.npy")
            cmds.append(f"letterbox {path} {in_w} {in_h} {out}")
            exp = warp(img, closed_form_matrix(w, h, in_w, in_h), in_w, in_h)
            checks.append((f"letterbox {w}x{h} -> {in_w}x{in_h}", out, exp))
            n += 1

    # --- general affine matrices (non-separable path) ------------------------------------
    for i in range(24):
        w, h = (int(v) for v in rng.integers(1, 300, 2))
        img = content(rng, h, w, kinds[i % 3])
        path = os.path.join(tmp, f"gen{i}.npy")
        np.save(path, img)
        ang = rng.uniform(-180, 180)
        sc = rng.uniform(0.2, 4.0) * (-1 if i % 5 == 0 else 1)
        m = cv2.getRotationMatrix2D((w / 2, h / 2), ang, sc)
        if i % 4 == 1:  # shear
            m[0, 1] += rng.uniform(-0.5, 0.5)
        m[:, 2] += rng.uniform(-20, 20, 2)
        if i % 7 == 3:  # axis flip, separable with negative scale
            m = np.array([[-sc, 0, w * abs(sc)], [0, sc, rng.uniform(-5, 5)]])
        dw, dh = (int(v) for v in rng.integers(1, 400, 2))
        border = tuple(int(v) for v in rng.integers(0, 256, 1)) * 3
        out = os.path.join(tmp, f"warp{i}.npy")
        mtxt = " ".join(repr(float(v)) for v in m.reshape(-1))
        cmds.append(f"warp {path} {mtxt} {dw} {dh} {border[0]} {out}")
        checks.append((f"warp {w}x{h} -> {dw}x{dh} M={m.reshape(-1).round(3).tolist()}",
                       out, warp(img, m, dw, dh, border)))

    # Exact ties in cvRound (x.5 in 1/1024-pixel units): the inverse scale 2^-11 makes
    # Mi[0]*x*1024 = x/2, and translations of odd multiples of 2^-11 put X0 on a tie. OpenCV
    # rounds half to even there; rounding half away from zero would differ.
    for i, (s, tx, ty) in enumerate([(2048.0, 1.0, 3.0), (2048.0, -5.0, 7.0),
                                     (4096.0, 3.0, -1.0), (1024.0, 0.5, 1.5)]):
        img = content(rng, 3, 3, "noise")
        path = os.path.join(tmp, f"tie{i}.npy")
        np.save(path, img)
        m = np.array([[s, 0.0, tx], [0.0, s, ty]])
        dw = dh = 96
        out = os.path.join(tmp, f"tie{i}.out.npy")
        mtxt = " ".join(repr(float(v)) for v in m.reshape(-1))
        cmds.append(f"warp {path} {mtxt} {dw} {dh} 114 {out}")
        checks.append((f"warp ties s={s} t=({tx},{ty})", out, warp(img, m, dw, dh)))

    # --- COCO PNGs: decoder + letterbox, closed-form and official matrices ----------------
    pngs = sorted(f for f in os.listdir(coco) if f.endswith(".png"))
    assert len(pngs) == 4, pngs
    official_diffs = []
    for f in pngs:
        src = os.path.join(coco, f)
        img = cv2.imread(src, cv2.IMREAD_COLOR)
        h, w = img.shape[:2]
        for in_w, in_h in inputs:
            out = os.path.join(tmp, f"{f}.{in_w}.npy")
            cmds.append(f"letterbox {src} {in_w} {in_h} {out}")
            checks.append((f"coco {f} -> {in_w}x{in_h} (closed-form M)", out,
                           warp(img, closed_form_matrix(w, h, in_w, in_h), in_w, in_h)))
            m_off, _, _ = official_matrix(w, h, in_w, in_h)
            checks.append((f"coco {f} -> {in_w}x{in_h} (official mmpose M)", out,
                           warp(img, m_off, in_w, in_h)))
        out = os.path.join(tmp, f"{f}.chw.npy")
        cmds.append(f"chw {src} 640 640 {out}")
        exp = warp(img, closed_form_matrix(w, h, 640, 640), 640, 640)
        checks.append((f"coco {f} chw float32 [3,640,640]", out,
                       exp.astype(np.float32).transpose(2, 0, 1)))

    with open(os.path.join(tmp, "cmds.txt"), "w") as fh:
        fh.write("\n".join(cmds) + "\n")
    subprocess.run([tool, "batch", os.path.join(tmp, "cmds.txt")], check=True)

    failures, pixels = 0, 0
    for label, out, exp in checks:
        got = np.load(out)
        if got.shape != exp.shape or got.dtype != exp.dtype:
            print(f"FAIL {label}: shape/dtype {got.shape} {got.dtype} vs {exp.shape} {exp.dtype}")
            failures += 1
            continue
        diff = got.astype(np.int64) - exp.astype(np.int64) if exp.dtype == np.uint8 \
            else got.astype(np.float64) - exp.astype(np.float64)
        channel_axis = 0 if label.endswith("[3,640,640]") else -1
        bad = int(np.count_nonzero(np.any(diff != 0, axis=channel_axis)))
        pixels += exp.size // 3
        if bad:
            print(f"FAIL {label}: {bad} differing pixels, max |diff| {np.abs(diff).max()}")
            failures += 1

    # --- MapToImage vs the official formula (exact float64) ------------------------------
    map_cmds, map_exp = [], []
    for (w, h) in [(640, 425), (500, 333), (1, 1), (3000, 2000), (333, 999), (640, 640)]:
        for in_w, in_h in inputs:
            _, center, scale = official_matrix(w, h, in_w, in_h)
            for x, y in [(0.0, 0.0), (319.5, 100.25), (640.0, 640.0), (-3.75, 1000.125)]:
                kp = np.array([[x, y]], dtype=np.float32)  # network outputs are float32
                exp = kp / (in_w, in_h) * scale + center - 0.5 * scale  # bottomup.py:176-177
                out = os.path.join(tmp, f"map{len(map_cmds)}.txt")
                map_cmds.append(f"map {w} {h} {in_w} {in_h} {x!r} {y!r} {out}")
                map_exp.append((f"MapToImage {w}x{h} -> {in_w}x{in_h} ({x}, {y})", out, exp[0]))
    with open(os.path.join(tmp, "map_cmds.txt"), "w") as fh:
        fh.write("\n".join(map_cmds) + "\n")
    subprocess.run([tool, "batch", os.path.join(tmp, "map_cmds.txt")], check=True)
    for label, out, exp in map_exp:
        with open(out) as fh:
            got = np.array([float(v) for v in fh.read().split()])
        if not np.array_equal(got, exp):
            print(f"FAIL {label}: {got.tolist()} vs {exp.tolist()}")
            failures += 1

    print(f"letterbox/warp: {len(checks)} comparisons, {pixels} output pixels compared "
          f"(3 channels each), {len(sizes)} synthetic sizes + 28 general matrices + 4 COCO "
          f"PNGs; MapToImage: {len(map_exp)} points")
    if failures:
        print(f"{failures} FAILED")
        return 1
    print("all bit-exact")
    return 0


if __name__ == "__main__":
    sys.exit(main())
