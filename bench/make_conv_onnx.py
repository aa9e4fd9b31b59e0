"""Writes one single-Conv ONNX model per RTMO-s conv shape, for bench/ort_conv.mjs.

usage: /usr/bin/python3 bench/make_conv_onnx.py bench/conv_shapes.h OUT_DIR

The shapes are parsed from bench/conv_shapes.h (the one list both benchmarks use).
Each model is Conv(+bias) with seeded random weights, input [1, Cin, H, W], exported by
torch.onnx.export (opset 11), the same op the RTMO ONNX export uses.
"""
import json
import os
import re
import sys

import torch

ROW = re.compile(r'\{"([^"]*)",\s*(\d+),\s*(\d+),\s*(\d+),\s*(\d+),\s*(\d+),\s*(\d+),\s*(\d+),\s*(\d+)\}')


def parse(header):
    rows = []
    for m in ROW.finditer(open(header).read()):
        name = m.group(1)
        in_c, out_c, k, s, g, h, w, count = map(int, m.groups()[1:])
        rows.append(dict(name=name, in_c=in_c, out_c=out_c, k=k, stride=s, groups=g, h=h, w=w,
                         count=count))
    return rows


def main():
    header, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    rows = parse(header)
    if not rows:
        sys.exit(f"no conv rows found in {header}")
    torch.manual_seed(0)
    for i, r in enumerate(rows):
        path = os.path.join(out_dir, f"conv_{i}.onnx")
        r["path"] = path
        if os.path.exists(path):
            continue
        conv = torch.nn.Conv2d(r["in_c"], r["out_c"], r["k"], r["stride"], r["k"] // 2,
                               groups=r["groups"], bias=True).eval()
        x = torch.randn(1, r["in_c"], r["h"], r["w"])
        torch.onnx.export(conv, x, path, input_names=["x"], output_names=["y"], opset_version=11)
    json.dump(rows, open(os.path.join(out_dir, "shapes.json"), "w"), indent=1)
    print(f"{len(rows)} models in {out_dir}")


if __name__ == "__main__":
    main()
