#!/usr/bin/env python3
"""Seeded random RTMO checkpoint in the official layout, with realistic numerics.

  make_checkpoint.py VARIANT OUT.pth [--seed N] [--zip] [--calib-image PNG]

Writes {'meta': {...}, 'state_dict': OrderedDict} with exactly the official state_dict names,
shapes, dtypes and order (weights/layouts/keys_rtmo-VARIANT.txt), in torch's legacy
(non-zip) format like mmpose's publish_model.py, or the zip format with --zip.

Numerics (an untrained but "alive" network, so every code path is exercised):
* weights drawn from a torch.Generator seeded with --seed, unit-gain scales;
* BN gamma/beta non-trivial; BN running statistics calibrated layer by layer on a real
  image (the input is raw 0..255 BGR) and then perturbed, so every BN input is normalised
  to O(1) but not exactly; num_batches_tracked a random count;
* head output convs rescaled on that image: box deltas look like person boxes, keypoint
  visibility and pose features O(1), and the classification bias of each level set so that
  CLS_FRACTION of its cells pass the 0.1 score threshold (tens to ~100 cells in all), so NMS
  and the DCC both see work;
* DCC: BatchNorm1d statistics from all cells, the GAU output branch scaled to a fraction
  of the residual, x_fc/y_fc scaled so the 1-D heatmap logits have RMS DCC_LOGIT_RMS;
* constant buffers (dim_t, x_bins, y_bins, OKS sigmas) keep their official values.
Deterministic for a given seed, calibration image and torch version (single-threaded).
"""

import argparse
import collections
import os
import sys

import cv2
import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model as rtmo_model  # noqa: E402
import pipeline  # noqa: E402

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
DEFAULT_CALIB_IMAGE = os.path.join(REPO, 'tests', 'data', 'coco', '000000000785.png')

CLS_FRACTION = 0.03        # share of cells per level whose score passes 0.1 on the calib image
# Box deltas (dx, dy, log w, log h): mean/std per channel. exp(2.2)*16 ~ 145 px wide, 215 px
# tall at stride 16 (x2 at stride 32); centres near the prior and sizes alike, so boxes of
# neighbouring cells overlap with IoU ~ (145-16)/(145+16) = 0.8 > 0.65 and NMS suppresses
# some of them (a size spread of 0.3 in log space would make IoU < 0.65 almost always).
BBOX_MEAN = (0.0, 0.0, 2.2, 2.6)
BBOX_STD = (0.15, 0.15, 0.1, 0.1)
KPT_VIS_STD = 1.5
POSE_FEAT_STD = 1.0
GAU_OUT_STD = 0.7          # GAU branch std relative to 1 (its input is BN-normalised)
# Peaked but not one-hot 1-D heatmaps. The DCC amplifies float32 noise in the logits by
# the bin span (1.25 x box size): RMS 3 with the larger boxes above moved keypoints of an
# independent float32 implementation (rtmo.cpp) by up to ~3 px; RMS 2 keeps the p99 < 0.5 px.
DCC_LOGIT_RMS = 2.0
BN_MEAN_JITTER = 0.1       # running_mean = mean + 0.1 * std * N(0,1)
BN_LOGVAR_JITTER = 0.2     # running_var = var * exp(0.2 * N(0,1))


def uniform(g, shape, bound):
    return (torch.rand(shape, generator=g) * 2 - 1) * bound


def init_random(m: rtmo_model.RTMO, g: torch.Generator) -> None:
    """Draws every parameter/buffer in state_dict order (constant buffers excepted)."""
    constant = ('dim_t', 'x_bins', 'y_bins', 'sigmas')
    with torch.no_grad():
        for name, t in m.state_dict(keep_vars=True).items():
            leaf = name.rsplit('.', 1)[-1]
            if leaf in constant:
                continue
            if leaf == 'num_batches_tracked':
                t.fill_(int(torch.randint(1000, 1000000, (1,), generator=g)))
            elif leaf == 'running_mean':
                t.zero_()     # calibrated later
            elif leaf == 'running_var':
                t.fill_(1.0)  # calibrated later
            elif name.endswith('sigma_fc.2.scale'):
                t.fill_(0.1)  # mmcv Scale(0.1) as built by rtmo_head.py:301
            elif name.endswith('pos_enc'):
                t.copy_(torch.randn(t.shape, generator=g))  # rtmo_head.py:284 randn
            elif leaf in ('gamma', 'beta') and '.gau.' in name:
                t.copy_(torch.rand(t.shape, generator=g))   # transformer.py:699-700 rand
            elif name.endswith('ln.g'):
                t.copy_(0.8 + 0.4 * torch.rand(t.shape, generator=g))
            elif name.endswith('res_scale.scale'):
                t.copy_(0.5 + torch.rand(t.shape, generator=g))
            elif ('.bn.' in name or 'pose_to_kpts.1' in name) and leaf == 'weight':
                t.copy_(0.5 + torch.rand(t.shape, generator=g))   # BN gamma in [0.5, 1.5)
            elif ('.bn.' in name or 'pose_to_kpts.1' in name) and leaf == 'bias':
                t.copy_(0.2 * torch.randn(t.shape, generator=g))
            elif '.norms.' in name and leaf == 'weight':
                t.copy_(0.8 + 0.4 * torch.rand(t.shape, generator=g))
            elif '.norms.' in name and leaf == 'bias':
                t.copy_(0.05 * torch.randn(t.shape, generator=g))
            elif leaf == 'in_proj_weight':
                t.copy_(uniform(g, t.shape, (6.0 / (2 * t.shape[1])) ** 0.5))  # xavier per q/k/v
            elif leaf == 'weight' and t.dim() >= 2:
                fan_in = t[0].numel()
                t.copy_(uniform(g, t.shape, (3.0 / fan_in) ** 0.5))        # unit gain
            elif leaf in ('bias', 'in_proj_bias'):
                t.copy_(0.02 * torch.randn(t.shape, generator=g))
            else:
                raise AssertionError(f'make_checkpoint: no init rule for {name}')


def _bn_calibrator(g: torch.Generator):
    """forward_pre_hook for BatchNorm: sets running stats from the batch it is about to
    normalise (per channel over N, H, W), jittered, so its output is O(1) but not exact."""
    def hook(bn, inputs):
        x = inputs[0]
        dims = [0] + list(range(2, x.dim()))
        mean = x.mean(dims)
        var = x.var(dims, unbiased=False)
        var = var.clamp(min=1e-4 * float(var.mean()) + 1e-8)
        z1 = torch.randn(mean.shape, generator=g)
        z2 = torch.randn(mean.shape, generator=g)
        bn.running_mean.copy_(mean + BN_MEAN_JITTER * var.sqrt() * z1)
        bn.running_var.copy_(var * torch.exp(BN_LOGVAR_JITTER * z2))
    return hook


def _rescale_conv(conv: nn.Conv2d, y: torch.Tensor, mean, std) -> None:
    """Affinely rescales conv's weight/bias so each output channel has the target mean/std
    over the cells of y (its current output)."""
    cur_mean = y.mean((0, 2, 3))
    cur_std = y.std((0, 2, 3), unbiased=False).clamp(min=1e-12)
    mean = torch.as_tensor(mean, dtype=torch.float32).expand_as(cur_mean)
    std = torch.as_tensor(std, dtype=torch.float32).expand_as(cur_std)
    k = std / cur_std
    conv.weight.mul_(k.view(-1, 1, 1, 1))
    conv.bias.copy_((conv.bias - cur_mean) * k + mean)


def calibrate(m: rtmo_model.RTMO, img_bgr: np.ndarray, g: torch.Generator) -> dict:
    size = m.variant.input_size
    inp, _ = pipeline.letterbox(img_bgr, size, size)
    x = pipeline.to_input_tensor(inp)
    hm = m.head.head_module
    handles = []
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            handles.append(mod.register_forward_pre_hook(_bn_calibrator(g)))

    def out_conv_hook(mean, std):
        def hook(conv, inputs, y):
            _rescale_conv(conv, y, mean, std)
            return conv._conv_forward(inputs[0], conv.weight, conv.bias)
        return hook

    threshold_logit = float(np.log(pipeline.SCORE_THR / (1 - pipeline.SCORE_THR)))

    def cls_hook(conv, inputs, y):
        # Standardise, then shift so CLS_FRACTION of this level's cells score above 0.1.
        _rescale_conv(conv, y, 0.0, 1.0)
        z = conv._conv_forward(inputs[0], conv.weight, conv.bias).flatten()
        q = torch.quantile(z, 1.0 - CLS_FRACTION)
        conv.bias.add_(threshold_logit + 1e-3 - q)
        return conv._conv_forward(inputs[0], conv.weight, conv.bias)

    for lvl in range(len(rtmo_model.HEAD_STRIDES)):
        handles.append(hm.out_cls[lvl].register_forward_hook(cls_hook))
        handles.append(hm.out_bbox[lvl].register_forward_hook(out_conv_hook(BBOX_MEAN, BBOX_STD)))
        handles.append(hm.out_kpt_vis[lvl].register_forward_hook(out_conv_hook(0.0, KPT_VIS_STD)))
        handles.append(hm.out_kpt_reg[lvl].register_forward_hook(out_conv_hook(0.0, 1.0)))
        handles.append(hm.out_pose[lvl].register_forward_hook(out_conv_hook(0.0, POSE_FEAT_STD)))
    with torch.no_grad():
        _, _, _, pose_maps = m(x)
    for h in handles:
        h.remove()

    dcc = m.head.dcc
    with torch.no_grad():
        # BatchNorm1d of pose_to_kpts from every cell's pose vector.
        pose_all = pipeline.flatten_levels(pose_maps)
        fc, bn = dcc.pose_to_kpts
        _bn_calibrator(g)(bn, (fc(pose_all),))
        feats = dcc.pose_to_kpts(pose_all).reshape(-1, rtmo_model.NUM_KEYPOINTS,
                                                   rtmo_model.DCC_FEAT)[:256]
        # GAU branch (everything but the residual) scaled to GAU_OUT_STD.
        branch = dcc.gau(feats, dcc.pos_enc) - dcc.gau.res_scale(feats)
        dcc.gau.o.weight.mul_(GAU_OUT_STD / float(branch.std().clamp(min=1e-12)))
        # Heatmap logits on the instances the pipeline actually keeps.
        taps = {}
        pred = pipeline.predict(m, img_bgr, taps)
        for fc_, key in ((dcc.x_fc, 'dcc.x_logits'), (dcc.y_fc, 'dcc.y_logits')):
            logits = taps[key]
            if logits.numel():
                k = DCC_LOGIT_RMS / float(logits.pow(2).mean().sqrt().clamp(min=1e-12))
                fc_.weight.mul_(k)
                fc_.bias.mul_(k)
    return {'cells_passing': int(len(pred.pre_nms_index)), 'people': int(len(pred.scores))}


def make_checkpoint(variant: str, seed: int, calib_image: str = DEFAULT_CALIB_IMAGE):
    """-> (checkpoint dict, calibration stats)."""
    torch.set_num_threads(1)  # reductions in one fixed order: same bits on every machine run
    img = cv2.imread(calib_image, cv2.IMREAD_COLOR)
    if img is None:
        raise SystemExit(f'make_checkpoint: cannot read calibration image {calib_image}')
    torch.manual_seed(seed)  # module construction draws from the global RNG; overwritten below
    m = rtmo_model.RTMO(variant).eval()
    g = torch.Generator().manual_seed(seed)
    init_random(m, g)
    stats = calibrate(m, img, g)
    sd = collections.OrderedDict((k, v.detach().clone().contiguous())
                                 for k, v in m.state_dict().items())
    meta = {
        'generator': 'rtmo.cpp tools/reference/make_checkpoint.py (seeded random weights, '
                     'not a trained model)',
        'variant': f'rtmo-{variant}',
        # 17 COCO keypoints as the body7 models; tools/convert_checkpoint.py reads the
        # dataset name from here.
        'experiment_name': f'rtmo-{variant}_seeded-random-seed{seed}_body7-layout',
        'seed': seed,
        'calibration_image': os.path.basename(calib_image),
        'torch_version': torch.__version__,
        'input_size': [m.variant.input_size, m.variant.input_size],
    }
    return {'meta': meta, 'state_dict': sd}, stats


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('variant', choices=sorted(rtmo_model.VARIANTS))
    ap.add_argument('out')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--zip', action='store_true', help='zip serialization (default: legacy)')
    ap.add_argument('--calib-image', default=DEFAULT_CALIB_IMAGE)
    args = ap.parse_args(argv)
    ckpt, stats = make_checkpoint(args.variant, args.seed, args.calib_image)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    torch.save(ckpt, args.out, _use_new_zipfile_serialization=args.zip)
    print(f'make_checkpoint: rtmo-{args.variant} seed {args.seed} -> {args.out} '
          f'({"zip" if args.zip else "legacy"}); on {os.path.basename(args.calib_image)}: '
          f'{stats["cells_passing"]} cells > {pipeline.SCORE_THR}, {stats["people"]} people')


if __name__ == '__main__':
    main()
