#!/usr/bin/python3
"""Per-call overhead of the Python binding over the C++ call (issue 16: goal < 0.5 ms on rtmo-t).

  bench/python_overhead.py MODEL.rtmo IMAGE [--calls N] [--threads T]
  (with the package rtmo importable: pip-installed, or PYTHONPATH=build/python)

For each call, the binding reports the seconds spent inside rtmo::Model::Predict
(Model._predict_timed, timed in C++ with the GIL released); the overhead is the call's wall
time in Python minus that: argument checks, the image copy into a contiguous rtmo::Image,
releasing/re-acquiring the GIL, and building the Poses arrays. Reported as median, minimum
and 90th percentile over N calls, for a C-contiguous image (cv2.imread's layout) and for a
strided BGRA view (the per-pixel copy path), plus the cost of forward() returning every
tensor.
"""

import argparse
import os
import platform
import time

import numpy as np

import rtmo


def stats(xs):
    xs = np.sort(np.asarray(xs) * 1e3)
    return "median %.3f ms, min %.3f, p90 %.3f" % (np.median(xs), xs[0],
                                                   xs[int(0.9 * (len(xs) - 1))])


def overhead(model, image, calls):
    wall, inner = [], []
    for _ in range(calls):
        t0 = time.perf_counter()
        poses, seconds = model._predict_timed(image)
        wall.append(time.perf_counter() - t0)
        inner.append(seconds)
    return np.array(wall), np.array(inner), len(poses)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("image")
    ap.add_argument("--calls", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    model = rtmo.Model(args.model, threads=args.threads)
    img = rtmo.load_image(args.image)
    bgra = np.zeros(img.shape[:2] + (4,), np.uint8)
    bgra[..., :3] = img
    print("rtmo %s, %s, %d thread(s), %s %dx%d, Python %s, load average %s" % (
        rtmo.__version__, model.info["summary"], args.threads, os.path.basename(args.image),
        img.shape[1], img.shape[0], platform.python_version(),
        " ".join("%.2f" % x for x in os.getloadavg())))
    overhead(model, img, 3)  # warm-up: inference context, caches
    for label, image in [("contiguous BGR", img), ("strided BGRA view", bgra[..., :3])]:
        wall, inner, n = overhead(model, image, args.calls)
        print("%-18s %d people | call %s | C++ Predict %s | overhead %s" % (
            label, n, stats(wall), stats(inner), stats(wall - inner)))
    # forward(): every module output copied out and handed to numpy.
    t_pred, t_fwd = [], []
    for _ in range(max(5, args.calls // 5)):
        t0 = time.perf_counter()
        model(img)
        t1 = time.perf_counter()
        out = model.forward(img)
        t_fwd.append(time.perf_counter() - t1)
        t_pred.append(t1 - t0)
    mb = sum(a.nbytes for a in out.values()) / 2 ** 20
    print("forward() of all %d tensors (%.1f MB) vs predict(): +%.3f ms (medians)" % (
        len(out), mb, (np.median(t_fwd) - np.median(t_pred)) * 1e3))


if __name__ == "__main__":
    main()
