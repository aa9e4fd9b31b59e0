#!/usr/bin/python3
"""Writes a random checkpoint in the official RTMO state_dict layout (test helper).

    /usr/bin/python3 tests/tools/make_test_checkpoint.py OUT.pth --variant s [--format legacy|zip]
        [--bare] [--keypoints 17] [--seed 0]

Shapes and names come from weights/layouts/keys_rtmo-<variant>.txt (the official mmpose
v1.3.2 state_dicts); values are random (float32) and num_batches_tracked is int64, like
the released checkpoints. Uses torch (tests only).
"""
import argparse
import collections
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, os.pardir, "tools"))
import convert_checkpoint as cc  # noqa: E402  (layout parsing only)


def make_state_dict(variant, keypoints=17, seed=0):
    g = torch.Generator().manual_seed(seed)
    sd = collections.OrderedDict()
    for name, dtype, shape in cc.load_layout(variant, keypoints):
        if dtype == "int64":
            sd[name] = torch.tensor(int(torch.randint(0, 10**6, (), generator=g)))
        elif name.endswith("running_var"):
            sd[name] = torch.rand(shape, generator=g) + 0.5
        else:
            sd[name] = torch.randn(shape, generator=g)
    return sd


def save(obj, path, fmt):
    torch.save(obj, path, _use_new_zipfile_serialization=(fmt == "zip"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--variant", default="s")
    ap.add_argument("--format", default="legacy", choices=["legacy", "zip"])
    ap.add_argument("--bare", action="store_true")
    ap.add_argument("--keypoints", type=int, default=17)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    sd = make_state_dict(a.variant, a.keypoints, a.seed)
    obj = sd if a.bare else {"meta": {"experiment_name": "rtmo-%s_test_body7" % a.variant},
                             "state_dict": sd}
    save(obj, a.out, a.format)


if __name__ == "__main__":
    main()
