#!/usr/bin/env python3
"""Dumps the official mmpose RTMO's intermediate tensors in the same format as
tools/reference/dump_goldens.py, via forward hooks, so users can check rtmo.cpp (or our
PyTorch reference) against the official code on their own checkpoints and images.

  dump_mmpose.py CONFIG.py CKPT.pth IMAGE OUTDIR

Needs an installed official mmpose 1.x with mmcv/mmengine (written for the module names of
v1.3.2; not exercised here), which
rtmo.cpp does not depend on. It CANNOT run in rtmo.cpp's CI (no mmpose there); the CI
goldens come from tools/reference/. Use a lossless image (PNG) when comparing.

Writes OUTDIR/<name>.npy for every name of dump_goldens.DUMP_NAMES (meanings in
tools/reference/README.md), predictions.json and index.json.
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'reference'))
from dump_goldens import DUMP_NAMES, INT_NAMES, sha256_file  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('config')
    ap.add_argument('checkpoint')
    ap.add_argument('image')
    ap.add_argument('outdir')
    args = ap.parse_args(argv)
    try:
        import torch
        from mmpose.apis import inference_bottomup, init_model
        import mmpose.models.heads.hybrid_heads.rtmo_head as rtmo_head
    except ImportError as e:
        raise SystemExit(f'dump_mmpose: needs the official mmpose installed ({e})')

    model = init_model(args.config, args.checkpoint, device='cpu')
    taps = {}

    def keep(name, t):
        taps[name] = t.detach().cpu().clone()

    def hook(name):
        return lambda mod, inp, out: keep(name, out)

    bb, neck, head = model.backbone, model.neck, model.head
    bb.register_forward_pre_hook(lambda mod, inp: keep('input', inp[0]))
    bb.stem.register_forward_hook(hook('backbone.stem'))
    for i in range(1, 5):
        getattr(bb, f'stage{i}').register_forward_hook(hook(f'backbone.stage{i}'))
    for i in range(3):
        neck.input_proj[i].register_forward_hook(hook(f'neck.input_proj.{i}'))

    def encoder_hook(mod, inp, out):  # tokens [1, h*w, C] -> [1, C, h, w]
        h, w = taps['neck.input_proj.2'].shape[2:]
        keep('neck.encoder.0', out.permute(0, 2, 1).reshape(out.shape[0], -1, h, w))
    neck.encoder[0].register_forward_hook(encoder_hook)
    for kind in ('fpn_blocks', 'pan_blocks'):
        for i in range(2):
            getattr(neck, kind)[i].register_forward_hook(hook(f'neck.{kind}.{i}'))
    neck.projector.register_forward_hook(
        lambda mod, inp, out: [keep(f'neck.out.{i}', o) for i, o in enumerate(out)])

    def head_hook(mod, inp, out):
        cls, box, _, vis, pose = out
        for i in range(len(cls)):
            for name, t in (('cls_score', cls), ('bbox_pred', box), ('kpt_vis', vis),
                            ('pose_feat', pose)):
                keep(f'head.{name}.{i}', t[i])
    head.head_module.register_forward_hook(head_hook)

    dcc = head.dcc
    dcc.pose_to_kpts.register_forward_hook(
        lambda mod, inp, out: keep('dcc.kpt_feats', out.reshape(*out.shape[:-1], -1,
                                                                dcc.feat_channels)))
    dcc.gau.register_forward_hook(hook('dcc.gau'))
    orig_softmax, orig_forward_test = dcc._apply_softmax, dcc.forward_test

    def softmax(x_hms, y_hms):
        keep('dcc.x_logits', x_hms)
        keep('dcc.y_logits', y_hms)
        return orig_softmax(x_hms, y_hms)

    def forward_test(*a, **k):
        out = orig_forward_test(*a, **k)
        keep('keypoints.input', out)
        return out
    dcc._apply_softmax, dcc.forward_test = softmax, forward_test

    orig_filter, orig_nms = rtmo_head.filter_scores_and_topk, rtmo_head.nms_torch

    def filter_scores(*a, **k):
        scores, labels, idxs, results = orig_filter(*a, **k)
        keep('pre_nms.index', idxs)
        keep('pre_nms.scores', scores)
        return scores, labels, idxs, results

    def nms(*a, **k):
        out = orig_nms(*a, **k)
        keep('nms.keep', out)
        return out
    rtmo_head.filter_scores_and_topk, rtmo_head.nms_torch = filter_scores, nms

    with torch.no_grad():
        result = inference_bottomup(model, args.image)[0]
    missing = [n for n in DUMP_NAMES if n not in taps]
    if missing:
        raise SystemExit(f'dump_mmpose: hooks did not capture {missing} (no person above the '
                         'score threshold, or an mmpose version with other module names)')

    os.makedirs(args.outdir, exist_ok=True)
    names = {}
    for name in DUMP_NAMES:
        arr = taps[name].numpy().astype(np.int64 if name in INT_NAMES else np.float32)
        np.save(os.path.join(args.outdir, name + '.npy'), arr)
        names[name] = {'file': name + '.npy', 'shape': list(arr.shape), 'dtype': arr.dtype.name}
    inst = result.pred_instances
    h, w = result.metainfo['ori_shape']
    people = [{'bbox': [float(v) for v in inst.bboxes[i]], 'score': float(inst.bbox_scores[i]),
               'keypoints': [[float(inst.keypoints[i, k, 0]), float(inst.keypoints[i, k, 1]),
                              float(inst.keypoint_scores[i, k])]
                             for k in range(inst.keypoints.shape[1])]}
              for i in range(len(inst.bboxes))]
    with open(os.path.join(args.outdir, 'predictions.json'), 'w') as f:
        json.dump({'file': os.path.basename(args.image), 'width': int(w), 'height': int(h),
                   'people': people}, f, indent=1)
    with open(os.path.join(args.outdir, 'index.json'), 'w') as f:
        json.dump({'source': 'official mmpose (tools/dump_mmpose.py)',
                   'config': os.path.basename(args.config),
                   'checkpoint': os.path.basename(args.checkpoint),
                   'checkpoint_sha256': sha256_file(args.checkpoint),
                   'image': os.path.basename(args.image),
                   'image_sha256': sha256_file(args.image),
                   'torch_version': torch.__version__, 'names': names}, f, indent=1)
    print(f'dump_mmpose: {args.image} -> {args.outdir}: {len(people)} people')


if __name__ == '__main__':
    main()
