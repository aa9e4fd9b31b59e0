#!/usr/bin/python3
"""Per-module comparison of two dump directories: the PyTorch reference and the C++ `--dump`.

  compare_dumps.py REFERENCE_DIR CPP_DIR [--markdown]

Both directories hold <name>.npy per module (tools/reference/README.md lists the names:
input, backbone.stem ... keypoints.input) and predictions.json, as written by
tools/reference/dump_goldens.py (or tools/dump_mmpose.py) and by `rtmo --dump DIR`.
Prints one row per module, in network order: shape, max |a - b|, median |a - b|, max |ref|
(to read the differences against), and for the integer tensors (pre_nms.index, nms.keep)
the number of differing entries; then the people in predictions.json. Needs numpy only.
Exit status 1 if a module is missing or its shape differs, else 0: it reports, it does not
judge tolerances (the C++ golden tests do, with stated bounds).
"""

import json
import os
import sys

import numpy as np

# Network order (tools/reference/dump_goldens.py DUMP_NAMES).
ORDER = (["input", "backbone.stem"] + ["backbone.stage%d" % i for i in range(1, 5)] +
         ["neck.input_proj.%d" % i for i in range(3)] + ["neck.encoder.0"] +
         ["neck.fpn_blocks.0", "neck.fpn_blocks.1", "neck.pan_blocks.0", "neck.pan_blocks.1",
          "neck.out.0", "neck.out.1"] +
         ["head.%s.%d" % (n, l) for n in ("cls_score", "bbox_pred", "kpt_vis", "pose_feat")
          for l in (0, 1)] +
         ["pre_nms.index", "pre_nms.scores", "nms.keep", "dcc.kpt_feats", "dcc.gau",
          "dcc.x_logits", "dcc.y_logits", "keypoints.input"])


def names_in(d):
    return {f[:-4] for f in os.listdir(d) if f.endswith(".npy")}


PER_PERSON = {"dcc.kpt_feats", "dcc.gau", "dcc.x_logits", "dcc.y_logits", "keypoints.input"}


def load_people(d):
    try:
        with open(os.path.join(d, "predictions.json")) as f:
            return json.load(f)["people"]
    except (OSError, KeyError, ValueError):
        return None


def match_people(ref, cpp):
    """perm[i] = the reference person matching C++ person i: the nearest box among the
    unused reference people within two places in order. Two scores closer than the float
    noise may legitimately swap places (a near-tie in the sort before NMS)."""
    perm, used = [], set()
    for i, p in enumerate(cpp[:len(ref)]):
        cands = [k for k in range(max(0, i - 2), min(len(ref), i + 3)) if k not in used]
        k = min(cands, key=lambda k: max(abs(a - b) for a, b in zip(p["bbox"], ref[k]["bbox"])))
        used.add(k)
        perm.append(k)
    return perm


def compare(ref_dir, cpp_dir):
    rows, ok = [], True
    ref_p, cpp_p = load_people(ref_dir), load_people(cpp_dir)
    perm = match_people(ref_p, cpp_p) if ref_p is not None and cpp_p is not None else None
    swaps = sum(1 for i, k in enumerate(perm) if i != k) if perm else 0
    names = names_in(ref_dir) | names_in(cpp_dir)
    ordered = [n for n in ORDER if n in names] + sorted(names - set(ORDER))
    for name in ordered:
        pr, pc = (os.path.join(d, name + ".npy") for d in (ref_dir, cpp_dir))
        if not (os.path.exists(pr) and os.path.exists(pc)):
            rows.append((name, "missing in " + ("C++" if os.path.exists(pr) else "reference"),
                         "", "", "", ""))
            ok = False
            continue
        a, b = np.load(pr), np.load(pc)
        shape = "x".join(map(str, a.shape)) or "scalar"
        if a.shape != b.shape:
            rows.append((name, "%s vs %s" % (a.shape, b.shape), "SHAPE DIFFERS", "", "", ""))
            ok = False
            continue
        note = ""
        if name in PER_PERSON and perm and swaps and len(perm) == a.shape[0] == b.shape[0]:
            aligned = np.empty_like(b)
            aligned[perm] = b  # C++ row i goes where its reference person is
            b = aligned
            note = "rows matched by box (%d near-tie swaps)" % swaps
        if a.dtype.kind in "iu":
            diff = int(np.count_nonzero(a != b))
            rows.append((name, shape, "", "", "", "%d of %d differ" % (diff, a.size)))
            continue
        if a.size == 0:
            rows.append((name, shape, "-", "-", "-", "empty"))
            continue
        d = np.abs(a.astype(np.float64) - b.astype(np.float64))
        finite = bool(np.isfinite(b).all())
        rows.append((name, shape, "%.3g" % d.max(), "%.3g" % np.median(d),
                     "%.3g" % np.abs(a).max(), note if finite else "NON-FINITE in C++"))
        ok = ok and finite
    return rows, ok


def compare_predictions(ref_dir, cpp_dir):
    ref, cpp = load_people(ref_dir), load_people(cpp_dir)
    if ref is None or cpp is None:
        return ["predictions.json: missing or unreadable"]
    lines = ["people: reference %d, C++ %d" % (len(ref), len(cpp))]
    perm = match_people(ref, cpp)
    if perm:
        pairs = [(cpp[i], ref[k]) for i, k in enumerate(perm)]
        box = max(abs(x - y) for p, q in pairs for x, y in zip(p["bbox"], q["bbox"]))
        score = max(abs(p["score"] - q["score"]) for p, q in pairs)
        kd = np.array([np.hypot(k[0] - l[0], k[1] - l[1]) for p, q in pairs
                       for k, l in zip(p["keypoints"], q["keypoints"])])
        swaps = sum(1 for i, k in enumerate(perm) if i != k)
        lines.append("boxes max |diff| %.3g px, scores max |diff| %.3g, keypoints median %.3g px, "
                     "99th percentile %.3g px, max %.3g px (people matched by box; %d near-tie "
                     "order swaps)" % (box, score, np.median(kd), np.percentile(kd, 99), kd.max(),
                                       swaps))
    return lines


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    if len(args) != 2 or "-h" in argv or "--help" in argv:
        print(__doc__)
        return 2
    ref_dir, cpp_dir = args
    rows, ok = compare(ref_dir, cpp_dir)
    head = ("module", "shape", "max |diff|", "median |diff|", "max |ref|", "note")
    if "--markdown" in argv:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
        for r in [head] + rows:
            print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
    print()
    for line in compare_predictions(ref_dir, cpp_dir):
        print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
