#!/usr/bin/env python3
"""Per-module golden dumps of the PyTorch reference for one checkpoint and one image.

  dump_goldens.py CKPT.pth IMAGE OUTDIR [--dtype float32|float64] [--input-size WxH]

Writes OUTDIR/<name>.npy for every name in DUMP_NAMES, OUTDIR/predictions.json and
OUTDIR/index.json.

--dtype float64: the float64 reference ("truth" for accuracy measurements and for the C++
float64 path): the checkpoint is loaded, then model.double() widens every parameter and
buffer (float32 values stored in the checkpoint, e.g. dim_t and the DCC bins, become their
exact float64 values), the input is float64 and every tensor the pipeline creates is
float64; the dumps are float64 .npy (the two index dumps stay int64). Default float32: the
official pipeline, bit for bit as before this option existed.
--input-size WxH: network input size (multiples of 32; default the variant's square size),
letterboxed to W x H as BottomupResize would. Feed it lossless images (tests/data/coco/*.png): a JPEG decoded by two
libraries differs by a few grey levels and an untrained network amplifies that.

What each name is (maps are [1, C, H, W] float32 (float64 with --dtype float64) with the batch dimension kept; H, W of the
network input; level 0 = stride 16, level 1 = stride 32; N = people after NMS, M = cells
passing the score threshold):

  input                 [1,3,H,W]  letterboxed image, float32 BGR 0..255 (no normalisation)
  backbone.stem         [1,C,H/2,W/2]   Focus output
  backbone.stage1..4    [1,C,H/4..H/32,...] output of each CSPDarknet stage (stage4
                                   includes SPP and its CSPLayer)
  neck.input_proj.{0,1,2} [1,256,H/8|H/16|H/32,...] 1x1 conv + BN (no activation) of
                                   backbone stage2/3/4
  neck.encoder.0        [1,256,H/32,W/32] the transformer encoder's output tokens reshaped
                                   back to a map (token y*w + x -> [:, :, y, x]); this
                                   replaces input_proj.2 for the rest of the neck
  neck.fpn_blocks.0     [1,256,H/16,W/16] top-down CSPRepLayer at stride 16 (runs first)
  neck.fpn_blocks.1     [1,256,H/8,W/8]   top-down CSPRepLayer at stride 8
  neck.pan_blocks.0     [1,256,H/16,W/16] bottom-up CSPRepLayer at stride 16
  neck.pan_blocks.1     [1,256,H/32,W/32] bottom-up CSPRepLayer at stride 32
  neck.out.{0,1}        [1,P,H/16|H/32,...] after the projector (ChannelMapper 1x1 + BN)
  head.cls_score.{l}    [1,1,h,w]   raw logit (before sigmoid)
  head.bbox_pred.{l}    [1,4,h,w]   raw (dx, dy, log w, log h)
  head.kpt_vis.{l}      [1,17,h,w]  raw logit (before sigmoid)
  head.pose_feat.{l}    [1,Cp,h,w]  out_pose, the DCC's input vector per cell
  pre_nms.index         [M] int64   flattened cell index (level 0 cells row-major, then
                                   level 1), of the cells with sigmoid(cls) > 0.1, sorted by
                                   descending score
  pre_nms.scores        [M]         their sigmoid scores (descending)
  nms.keep              [N] int64   kept positions in pre_nms, in NMS (= output) order
  dcc.kpt_feats         [N,17,128]  pose_to_kpts (Linear + BatchNorm1d) reshaped
                                   keypoint-major, before the GAU
  dcc.gau               [N,17,128]  GAU output (residual included)
  dcc.x_logits          [N,17,192]  1-D heatmap logits before the softmax
  dcc.y_logits          [N,17,256]
  keypoints.input       [N,17,2]    decoded keypoints in network-input pixels (before the
                                   mapping back to the image)

predictions.json: {"file", "width", "height", "people": [{"bbox": [x1,y1,x2,y2], "score",
"keypoints": [[x, y, score] x 17]}]} in image pixels, people in the official order; floats
written as Python repr (round-trips float64 exactly).
index.json: checkpoint path + sha256 (legacy-format files differ between saves of the same
tensors: storages are keyed by memory address) + state_dict_sha256 (reproducible), image +
sha256, torch/numpy/OpenCV versions, variant, dtype,
letterbox parameters, and per name its shape, dtype and file.
"""

import argparse
import hashlib
import json
import os
import sys

import cv2
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model as rtmo_model  # noqa: E402
import pipeline  # noqa: E402

DUMP_NAMES = (
    ['input', 'backbone.stem'] + [f'backbone.stage{i}' for i in range(1, 5)]
    + [f'neck.input_proj.{i}' for i in range(3)] + ['neck.encoder.0']
    + [f'neck.fpn_blocks.{i}' for i in range(2)] + [f'neck.pan_blocks.{i}' for i in range(2)]
    + [f'neck.out.{i}' for i in range(2)]
    + [f'head.{k}.{i}' for i in range(2) for k in ('cls_score', 'bbox_pred', 'kpt_vis',
                                                   'pose_feat')]
    + ['pre_nms.index', 'pre_nms.scores', 'nms.keep', 'dcc.kpt_feats', 'dcc.gau',
       'dcc.x_logits', 'dcc.y_logits', 'keypoints.input'])
INT_NAMES = ('pre_nms.index', 'nms.keep')
DTYPES = {'float32': torch.float32, 'float64': torch.float64}


def parse_input_size(text: str):
    """'WxH' -> (W, H) ints."""
    try:
        w, h = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(f'--input-size {text!r}: expected WxH, e.g. 640x480')
    if w <= 0 or h <= 0 or w % 32 or h % 32:
        raise argparse.ArgumentTypeError(f'--input-size {text!r}: W and H must be positive '
                                         'multiples of 32')
    return w, h


def load_model(ckpt_path: str, dtype: str = 'float32') -> rtmo_model.RTMO:
    """Checkpoint -> model in eval mode running in `dtype` ('float32' or 'float64')."""
    if dtype not in DTYPES:
        raise ValueError(f'dtype {dtype!r}: expected one of {sorted(DTYPES)}')
    model, _ = rtmo_model.load_checkpoint(ckpt_path)
    # .double() converts floating parameters and buffers only (num_batches_tracked stays int64).
    return model.double() if dtype == 'float64' else model


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def state_dict_sha256(model: rtmo_model.RTMO) -> str:
    """sha256 over (name, dtype, shape, bytes) of every state_dict entry in order. Unlike the
    checkpoint file's sha256 this is reproducible: torch's legacy format keys storages by
    their memory address, so re-saving the same tensors gives different bytes."""
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        h.update(f'{name}\t{t.dtype}\t{list(t.shape)}\n'.encode())
        h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()


def dump(model: rtmo_model.RTMO, ckpt_path: str, image_path: str, outdir: str,
         input_size=None) -> dict:
    """Runs the pipeline on image_path in the model's dtype (float32, or float64 after
    model.double()) and writes every dump; returns predictions.json. input_size: (W, H) or
    None for the variant's square size."""
    img = cv2.imread(image_path, cv2.IMREAD_COLOR)
    if img is None:
        raise SystemExit(f'dump_goldens: cannot read image {image_path}')
    dtype = pipeline.model_dtype(model)
    np_float = {torch.float32: np.float32, torch.float64: np.float64}.get(dtype)
    if np_float is None:
        raise ValueError(f'dump_goldens: model dtype {dtype}: expected float32 or float64')
    in_w, in_h = pipeline.network_input_size(model, input_size)
    taps = {}
    pred = pipeline.predict(model, img, taps, input_size=(in_w, in_h))
    missing = [n for n in DUMP_NAMES if n not in taps]
    if missing:
        raise AssertionError(f'dump_goldens: the reference produced no {missing}')
    os.makedirs(outdir, exist_ok=True)
    names = {}
    for name in DUMP_NAMES:
        want = np.int64 if name in INT_NAMES else np_float
        arr = taps[name].numpy()
        # No silent casts: a float tap in another dtype means the pipeline rounded (float32
        # inside the float64 reference) or widened somewhere.
        if arr.dtype != want:
            raise AssertionError(f'dump_goldens: {name} is {arr.dtype}, expected '
                                 f'{np.dtype(want).name} (model dtype {dtype})')
        arr = np.ascontiguousarray(arr)
        np.save(os.path.join(outdir, name + '.npy'), arr)
        names[name] = {'file': name + '.npy', 'shape': list(arr.shape),
                       'dtype': np.dtype(want).name}
    h, w = img.shape[:2]
    preds = pipeline.predictions_json(pred, os.path.basename(image_path), w, h)
    lb = pipeline.letterbox_params(w, h, in_w, in_h, np_float)
    index = {
        'checkpoint': os.path.basename(ckpt_path),
        'checkpoint_sha256': sha256_file(ckpt_path),
        'state_dict_sha256': state_dict_sha256(model),
        'image': os.path.basename(image_path),
        'image_sha256': sha256_file(image_path),
        'image_size': [w, h],
        'variant': f'rtmo-{model.variant.name}',
        'dtype': np.dtype(np_float).name,
        'input_size': list(lb.input_size),
        'letterbox': {'matrix': lb.matrix.tolist(), 'center': lb.center.tolist(),
                      'scale': lb.scale.tolist()},
        'torch_version': torch.__version__,
        'numpy_version': np.__version__,
        'opencv_version': cv2.__version__,
        'people': len(preds['people']),
        'names': names,
    }
    with open(os.path.join(outdir, 'predictions.json'), 'w') as f:
        json.dump(preds, f, indent=1)
    with open(os.path.join(outdir, 'index.json'), 'w') as f:
        json.dump(index, f, indent=1)
    return preds


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('checkpoint')
    ap.add_argument('image')
    ap.add_argument('outdir')
    ap.add_argument('--dtype', choices=sorted(DTYPES), default='float32',
                    help='float64: the float64 reference (model.double(), float64 dumps)')
    ap.add_argument('--input-size', type=parse_input_size, default=None, metavar='WxH',
                    help="network input size (default: the variant's square size)")
    ap.add_argument('--threads', type=int, default=1,
                    help='torch intra-op threads (default 1: one fixed reduction order)')
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = load_model(args.checkpoint, args.dtype)
    preds = dump(model, args.checkpoint, args.image, args.outdir, args.input_size)
    print(f'dump_goldens: {args.image} -> {args.outdir} ({args.dtype}): '
          f'{len(preds["people"])} people')


if __name__ == '__main__':
    main()
