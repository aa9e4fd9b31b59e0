#!/usr/bin/env python3
"""Exports the reference network with a checkpoint's weights as ONNX (for bench/ with ONNX
Runtime).

  export_onnx.py CKPT.pth OUT.onnx [--opset 11]

Graph: input `input` [1, 3, S, S] float32 BGR 0..255 (S = 416 for rtmo-t, 640 otherwise; the
letterbox runs outside) -> the raw head outputs per level (0 = stride 16, 1 = stride 32):
`cls_score.{0,1}` [1,1,h,w], `bbox_pred.{0,1}` [1,4,h,w], `kpt_vis.{0,1}` [1,17,h,w],
`pose_feat.{0,1}` [1,P,h,w]. Post-processing (threshold, NMS, DCC) is not in the graph: its
output size depends on the data, and the benchmark measures the network.

BatchNorms stay as separate nodes unless the exporter folds them (torch folds BN into the
preceding conv in eval mode with do_constant_folding=True, like mmdeploy's graphs).
torch.onnx.export needs no `onnx` Python package to write the file.
"""

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model as rtmo_model  # noqa: E402

OUTPUT_NAMES = [f'{k}.{i}' for k in ('cls_score', 'bbox_pred', 'kpt_vis', 'pose_feat')
                for i in range(2)]


class RawHeads(torch.nn.Module):
    """RTMO -> flat tuple (cls0, cls1, bbox0, bbox1, vis0, vis1, pose0, pose1)."""

    def __init__(self, net: rtmo_model.RTMO):
        super().__init__()
        self.net = net

    def forward(self, x):
        cls, box, vis, pose = self.net(x)
        return tuple(cls) + tuple(box) + tuple(vis) + tuple(pose)


def export(ckpt_path: str, out_path: str, opset: int = 11) -> None:
    net, _ = rtmo_model.load_checkpoint(ckpt_path)
    size = net.variant.input_size
    x = torch.zeros(1, 3, size, size)
    with torch.no_grad():
        torch.onnx.export(RawHeads(net).eval(), x, out_path, opset_version=opset,
                          input_names=['input'], output_names=OUTPUT_NAMES,
                          do_constant_folding=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('checkpoint')
    ap.add_argument('out')
    ap.add_argument('--opset', type=int, default=11)
    args = ap.parse_args(argv)
    if args.opset < 11:
        raise SystemExit('export_onnx: opset 11 or newer (Resize, Erf-based GELU)')
    export(args.checkpoint, args.out, args.opset)
    print(f'export_onnx: {args.checkpoint} -> {args.out} '
          f'({os.path.getsize(args.out)} bytes, opset {args.opset})')


if __name__ == '__main__':
    main()
