#!/usr/bin/python3
"""Tests of the PyTorch reference (tools/reference/): layout, pre/post-processing against
re-derivations of the official code, deploy-form DCC equivalence, determinism.

Run by ctest (label `tools`) as `/usr/bin/python3 tests/tools/test_reference.py`.
"""

import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
import unittest

import cv2
import numpy as np
import torch
import torch.nn.functional as F

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
sys.path.insert(0, os.path.join(REPO, 'tools', 'reference'))
import dump_goldens  # noqa: E402
import make_checkpoint  # noqa: E402
import model as rtmo_model  # noqa: E402
import pipeline  # noqa: E402

LAYOUT_DIR = os.path.join(REPO, 'weights', 'layouts')
IMAGE_DIR = os.path.join(REPO, 'tests', 'data', 'coco')
IMAGES = sorted(os.path.join(IMAGE_DIR, f) for f in os.listdir(IMAGE_DIR) if f.endswith('.png'))
U32 = 2.0 ** -24  # float32 unit roundoff


def gamma(n):
    """Higham's gamma_n = n u / (1 - n u): bound on the relative error of an n-term float32
    sum / dot product, |fl(sum a_i b_i) - sum a_i b_i| <= gamma_n sum |a_i b_i|."""
    return n * U32 / (1 - n * U32)


def read_layout(variant):
    entries = []
    with open(os.path.join(LAYOUT_DIR, f'keys_rtmo-{variant}.txt')) as f:
        for line in f:
            if line.startswith('#') or not line.strip():
                continue
            name, dtype, shape = line.rstrip('\n').split('\t')
            entries.append((name, dtype, json.loads(shape)))
    return entries


_CACHE = {}


def t_checkpoint():
    """A make_checkpoint rtmo-t (seed 0) shared by the tests: (path, model)."""
    if 'ckpt' not in _CACHE:
        d = tempfile.mkdtemp(prefix='rtmo_ref_test_')
        path = os.path.join(d, 'rtmo-t.pth')
        ckpt, _ = make_checkpoint.make_checkpoint('t', 0)
        torch.save(ckpt, path, _use_new_zipfile_serialization=False)
        _CACHE['dir'] = d
        _CACHE['ckpt'] = path
        _CACHE['model'] = rtmo_model.load_checkpoint(path)[0]
    return _CACHE['ckpt'], _CACHE['model']


class LayoutTest(unittest.TestCase):
    def test_state_dict_equals_official_layout(self):
        # Names, dtypes, shapes AND order equal the official state_dict for every variant.
        for v in 'tsml':
            with self.subTest(variant=v):
                sd = rtmo_model.RTMO(v).state_dict()
                mine = [(k, str(t.dtype).replace('torch.', ''), list(t.shape))
                        for k, t in sd.items()]
                self.assertEqual(mine, read_layout(v))

    def test_strict_load_of_layout_conformant_state_dicts(self):
        # A state_dict built only from the layout file (random values) loads with
        # strict=True, every value lands where its name says, and a missing / extra /
        # mis-shaped entry is rejected.
        g = torch.Generator().manual_seed(1)
        for v in 'tsml':
            with self.subTest(variant=v):
                sd = {}
                for name, dtype, shape in read_layout(v):
                    if dtype == 'int64':
                        sd[name] = torch.randint(0, 1000, shape, generator=g, dtype=torch.int64)
                    else:
                        self.assertEqual(dtype, 'float32')
                        sd[name] = torch.randn(shape, generator=g)
                m = rtmo_model.RTMO(v)
                m.load_state_dict(sd, strict=True)
                for name, t in m.state_dict().items():
                    self.assertTrue(torch.equal(t, sd[name]), name)
                self.assertEqual(rtmo_model.variant_from_state_dict(sd), v)
                bad = dict(sd)
                del bad['head.dcc.sigma_fc.2.scale']
                with self.assertRaises(RuntimeError):
                    m.load_state_dict(bad, strict=True)
                bad = dict(sd, extra=torch.zeros(1))
                with self.assertRaises(RuntimeError):
                    m.load_state_dict(bad, strict=True)
                bad = dict(sd)
                bad['neck.projector.convs.0.conv.weight'] = torch.zeros(1, 1, 1, 1)
                with self.assertRaises(RuntimeError):
                    m.load_state_dict(bad, strict=True)

    def test_constant_buffers_have_official_values(self):
        m = rtmo_model.RTMO('s')
        dim_t = m.neck.sincos_pos_enc.dim_t.double()
        np.testing.assert_allclose(dim_t.numpy(), 10000.0 ** (np.arange(64) / 64), rtol=1e-6)
        np.testing.assert_allclose(m.head.dcc.spe.dim_t.numpy(), 300.0 ** (np.arange(64) / 64),
                                   rtol=1e-6)
        np.testing.assert_allclose(m.head.dcc.x_bins.numpy(), np.linspace(-0.5, 0.5, 192),
                                   atol=1e-7)
        np.testing.assert_allclose(m.head.dcc.y_bins.numpy(), np.linspace(-0.5, 0.5, 256),
                                   atol=1e-7)


class BuildingBlockTest(unittest.TestCase):
    def test_focus_order(self):
        # Channel blocks: (even row, even col), (odd row, even col), (even row, odd col),
        # (odd row, odd col) -- csp_darknet.py:51-63.
        x = torch.arange(2 * 4 * 4, dtype=torch.float32).reshape(1, 2, 4, 4)
        focus = rtmo_model.Focus(4)
        captured = {}
        focus.conv.register_forward_pre_hook(lambda mod, inp: captured.update(x=inp[0]))
        focus.eval()(torch.cat([x, x[:, :1]], 1))
        y = captured['x']
        self.assertEqual(tuple(y.shape), (1, 12, 2, 2))
        self.assertEqual(float(y[0, 0, 0, 1]), float(x[0, 0, 0, 2]))   # even row, even col
        self.assertEqual(float(y[0, 3, 0, 1]), float(x[0, 0, 1, 2]))   # odd row, even col
        self.assertEqual(float(y[0, 6, 0, 1]), float(x[0, 0, 0, 3]))   # even row, odd col
        self.assertEqual(float(y[0, 9, 1, 1]), float(x[0, 0, 3, 3]))   # odd row, odd col

    def test_attention_equals_torch_multihead_attention(self):
        # The written-out attention equals nn.MultiheadAttention called as mmcv does
        # (sequence-first, query=key=x+pe, value=x, need_weights default) plus identity.
        torch.manual_seed(0)
        att = rtmo_model.SelfAttention(256, 8).eval()
        with torch.no_grad():
            att.attn.in_proj_bias.normal_()
            att.attn.out_proj.bias.normal_()
            x = torch.randn(1, 35, 256)
            pe = torch.randn(1, 35, 256)
            mine = att(x, pe)
            qk = (x + pe).transpose(0, 1)
            ref = att.attn(qk, qk, x.transpose(0, 1))[0].transpose(0, 1) + x
        # Same operations in the same order: expect equality up to a few ulps.
        np.testing.assert_allclose(mine.numpy(), ref.numpy(), rtol=0, atol=1e-5)
        self.assertLess(float((mine - ref).abs().max()), 64 * U32 * float(ref.abs().max()))

    def test_encoder_positional_encoding(self):
        # Token y*w + x: [cos(y/t), sin(y/t), cos(x/t), sin(x/t)], t = 10000^(i/64).
        pe = rtmo_model.SinePositionalEncoding(128, 10000.0).encode_2d_tokens(3, 5)
        self.assertEqual(tuple(pe.shape), (1, 15, 256))
        dim_t = 10000.0 ** (np.arange(64, dtype=np.float32) / 64)
        y, x = 2, 3
        expect = np.concatenate([np.cos(y / dim_t), np.sin(y / dim_t), np.cos(x / dim_t),
                                 np.sin(x / dim_t)])
        np.testing.assert_allclose(pe[0, y * 5 + x].numpy(), expect, atol=2e-6)

    def test_spp_pads_with_minus_infinity(self):
        # All-negative input: a zero-padded max-pool would return 0 at the borders.
        x = -1.0 - torch.rand(1, 2, 7, 7)
        y = F.max_pool2d(x, 13, stride=1, padding=6)
        self.assertTrue(bool((y < 0).all()))
        self.assertEqual(float(y[0, 0, 0, 0]), float(x[0, 0].max()))


class PreprocessTest(unittest.TestCase):
    @staticmethod
    def official_warp_matrix(img_w, img_h, in_w, in_h):
        """Re-derivation of BottomupResize (bottomup_transforms.py:517-586) + get_warp_matrix
        (mmpose/structures/bbox/transforms.py:372-435, rot 0, shift 0) + _get_3rd_point
        (l.509-525): float32 points, cv2.getAffineTransform."""
        ratio = img_w / img_h
        rsz_w = min(in_w, in_h * ratio)
        rsz_h = min(in_h, in_w / ratio)
        center = np.array([img_w / 2, img_h / 2], dtype=np.float32)
        scale = np.array([img_w * in_w / rsz_w, img_h * in_h / rsz_h], dtype=np.float32)
        src = np.zeros((3, 2), dtype=np.float32)
        dst = np.zeros((3, 2), dtype=np.float32)
        src[0] = center
        src[1] = center + np.array([scale[0] * -0.5, 0.0])
        dst[0] = [in_w * 0.5, in_h * 0.5]
        dst[1] = np.array([in_w * 0.5, in_h * 0.5]) + np.array([in_w * -0.5, 0.0])

        def third(a, b):
            d = a - b
            return b + np.r_[-d[1], d[0]]
        src[2] = third(src[0], src[1])
        dst[2] = third(dst[0], dst[1])
        return cv2.getAffineTransform(np.float32(src), np.float32(dst)), center, scale

    def test_letterbox_matrix_equals_official(self):
        sizes = [(640, 425), (500, 333), (640, 429), (640, 392), (425, 640), (1, 1), (3, 1000),
                 (1000, 3), (641, 427), (416, 416), (1920, 1080)]
        for (w, h) in sizes:
            for size in (416, 640):
                with self.subTest(w=w, h=h, size=size):
                    lb = pipeline.letterbox_params(w, h, size, size)
                    m, center, scale = self.official_warp_matrix(w, h, size, size)
                    # getAffineTransform solves in float64 from float32 points: agreement to
                    # float64 rounding of values <= ~1000 (1e-9 is ~1e4 ulps of slack).
                    np.testing.assert_allclose(lb.matrix, m, rtol=0, atol=1e-9)
                    np.testing.assert_array_equal(lb.center, center)
                    np.testing.assert_array_equal(lb.scale, scale)
                    self.assertEqual(lb.center.dtype, np.float32)
                    self.assertEqual(lb.scale.dtype, np.float32)

    def test_letterbox_pixels_equal_official(self):
        self.assertEqual(len(IMAGES), 4)
        for path in IMAGES:
            img = cv2.imread(path, cv2.IMREAD_COLOR)
            h, w = img.shape[:2]
            for size in (416, 640):
                with self.subTest(image=os.path.basename(path), size=size):
                    mine, lb = pipeline.letterbox(img, size, size)
                    m, _, _ = self.official_warp_matrix(w, h, size, size)
                    ref = cv2.warpAffine(img, m, (size, size), flags=cv2.INTER_LINEAR,
                                         borderValue=(114, 114, 114))
                    np.testing.assert_array_equal(mine, ref)
                    # centred: the pad is split evenly (within a pixel) top / bottom
                    rows = np.where((mine != 114).any(axis=(1, 2)))[0]
                    self.assertLessEqual(abs(rows[0] - (size - 1 - rows[-1])), 1)
                    t = pipeline.to_input_tensor(mine)
                    self.assertEqual(tuple(t.shape), (1, 3, size, size))
                    self.assertEqual(float(t[0, 0, 0, 0]), float(mine[0, 0, 0]))  # B first

    def test_mapping_back_equals_official_numpy_promotion(self):
        lb = pipeline.letterbox_params(640, 425, 640, 640)
        p = (np.random.default_rng(0).random((5, 17, 2)) * 700 - 30).astype(np.float32)
        input_size = (640, 640)  # a tuple of ints, as BottomupResize stores it
        ref = p / input_size * lb.scale + lb.center - 0.5 * lb.scale  # bottomup.py:173-174
        mine = pipeline.to_image_space(p, lb)
        self.assertEqual(mine.dtype, np.float64)
        np.testing.assert_array_equal(mine, ref)


class PostprocessTest(unittest.TestCase):
    def test_priors(self):
        priors, strides = pipeline.grid_priors([(2, 3), (1, 2)], (16, 32))
        expect = [[7.5, 7.5], [23.5, 7.5], [39.5, 7.5], [7.5, 23.5], [23.5, 23.5], [39.5, 23.5],
                  [15.5, 15.5], [47.5, 15.5]]
        self.assertEqual(priors.tolist(), expect)
        self.assertEqual(strides.tolist(), [16.0] * 6 + [32.0] * 2)

    def test_flatten_and_decode(self):
        a = torch.arange(2 * 2 * 3, dtype=torch.float32).reshape(1, 2, 2, 3)
        b = torch.arange(2 * 1 * 2, dtype=torch.float32).reshape(1, 2, 1, 2) + 100
        flat = pipeline.flatten_levels([a, b])
        self.assertEqual(flat[:, 0].tolist(), [0, 1, 2, 3, 4, 5, 100, 101])
        self.assertEqual(flat[:, 1].tolist(), [6, 7, 8, 9, 10, 11, 102, 103])
        boxes = pipeline.decode_boxes(torch.tensor([[0.5, -0.25, math.log(2.0), 0.0]]),
                                      torch.tensor([[7.5, 23.5]]), torch.tensor([16.0]))
        self.assertEqual(boxes.tolist(), [[-0.5, 11.5, 31.5, 27.5]])

    def test_nms_threshold_is_strict_and_areas_have_no_plus_one(self):
        # IoU([0,0,13,10], [0,0,20,10]) = 130 / 200 = 0.65 exactly (in float32 too): kept.
        # With "+1" areas it would be 154 / 231 = 0.667 > 0.65: suppressed.
        boxes = torch.tensor([[0, 0, 20, 10], [0, 0, 13, 10]], dtype=torch.float32)
        scores = torch.tensor([0.9, 0.8])
        self.assertEqual(pipeline.nms(boxes, scores).tolist(), [0, 1])
        boxes = torch.tensor([[0, 0, 20, 10], [0, 0, 13.5, 10]], dtype=torch.float32)  # 0.675
        self.assertEqual(pipeline.nms(boxes, scores).tolist(), [0])

    def test_nms_greedy_order(self):
        # B overlaps A and C; A > B > C in score: A suppresses B, so C survives.
        boxes = torch.tensor([[0, 0, 10, 10], [2, 0, 12, 10], [4, 0, 14, 10],
                              [100, 100, 110, 110]], dtype=torch.float32)
        scores = torch.tensor([0.5, 0.9, 0.4, 0.7])
        # B (0.9) first: suppresses A (IoU 8/12) and C (8/12); then D.
        self.assertEqual(pipeline.nms(boxes, scores).tolist(), [1, 3])
        scores = torch.tensor([0.9, 0.5, 0.4, 0.7])
        # A first: suppresses B (0.667) but not C (IoU 6/14); then D, then C.
        self.assertEqual(pipeline.nms(boxes, scores).tolist(), [0, 3, 2])

    def test_nms_matches_brute_force(self):
        rng = np.random.default_rng(3)
        xy = rng.random((300, 2)) * 100
        wh = rng.random((300, 2)) * 40 + 20
        boxes = np.concatenate([xy, xy + wh], 1).astype(np.float32)
        scores = rng.permutation(300).astype(np.float32) / 300
        keep = pipeline.nms(torch.from_numpy(boxes), torch.from_numpy(scores)).tolist()
        # Independent float64 greedy NMS over a precomputed IoU matrix.
        b = boxes.astype(np.float64)
        area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        lt = np.maximum(b[:, None, :2], b[None, :, :2])
        rb = np.minimum(b[:, None, 2:], b[None, :, 2:])
        inter = np.clip(rb - lt, 0, None).prod(-1)
        iou = inter / np.maximum(area[:, None] + area[None] - inter, 1e-6)
        alive = np.ones(300, bool)
        ref = []
        for i in np.argsort(-scores, kind='stable'):
            if alive[i]:
                ref.append(int(i))
                alive &= ~(iou[i] > 0.65)
        self.assertEqual(keep, ref)
        self.assertGreater(300 - len(keep), 10)  # suppression happened


class DeployDCCTest(unittest.TestCase):
    """mmpose's switch_to_deploy DCC (BN folded into the Linear, pos_enc folded into beta,
    decode relative to the grid) equals the plain DCC within derived float32 bounds; in
    float64 it agrees to float64 rounding."""

    @classmethod
    def setUpClass(cls):
        _, m = t_checkpoint()
        cls.model = m
        img = cv2.imread(IMAGES[-1], cv2.IMREAD_COLOR)  # the busiest test image
        taps = {}
        pred = pipeline.predict(m, img, taps)
        shapes = [tuple(taps[f'head.cls_score.{i}'].shape[2:]) for i in range(2)]
        priors, strides = pipeline.grid_priors(shapes)
        boxes = pipeline.decode_boxes(pipeline.flatten_levels(
            [taps['head.bbox_pred.0'], taps['head.bbox_pred.1']]), priors, strides)
        kept = pred.pre_nms_index[pred.nms_keep]
        b = boxes[kept]
        cls.pose = pipeline.flatten_levels([taps['head.pose_feat.0'],
                                            taps['head.pose_feat.1']])[kept]
        cls.bbox_cs = torch.cat([(b[:, :2] + b[:, 2:]) * 0.5, (b[:, 2:] - b[:, :2]) * 1.25], 1)
        cls.grids = priors[kept]
        cls.taps = taps
        cls.pred = pred

    def test_end_to_end(self):
        dcc = self.model.head.dcc
        self.assertGreater(len(self.grids), 10)
        kpts, inter = rtmo_model.DCCDeploy(dcc).forward(self.pose, self.bbox_cs, self.grids)
        plain = self.pred.keypoints_input
        # Keypoint difference from the logit difference: x = sum_j p_j b_j with p = softmax(l)
        # gives dx/dl_j = p_j (b_j - x), so |dx| <= max_j |dl_j| * max_j |b_j - x|
        # <= max|dl| * (box width * 1.25) to first order (x lies within the bins' span);
        # x2 for second-order terms, plus the decode's own rounding (DecodeTest bound).
        for axis, key in ((0, 'x_logits'), (1, 'y_logits')):
            dl = (inter[key] - self.taps['dcc.' + key]).abs().amax(dim=(1, 2))  # [N]
            span = self.bbox_cs[:, 2 + axis]
            decode_tol = (2 * gamma(256) + 8 * U32) * (
                span.abs() + self.bbox_cs[:, axis].abs() + self.grids[:, axis].abs())
            tol = 2 * dl * span + decode_tol \
                + rtmo_model.SOFTMAX_EPS * self.grids[:, axis].abs()  # see test_float64
            diff = (kpts[..., axis] - plain[..., axis]).abs().amax(dim=1)
            self.assertTrue(bool((diff <= tol).all()), f'{key}: {diff} > {tol}')
        self.__class__.kpt_diff = float((kpts - plain).abs().max())
        print(f'\n  deploy vs plain DCC (rtmo-t, {os.path.basename(IMAGES[-1])}, '
              f'{len(self.grids)} people): keypoints max |diff| {self.kpt_diff:.3g} px, '
              f'median {float((kpts - plain).abs().median()):.3g} px', file=sys.stderr)

    def test_folded_linear(self):
        # kpt_feats: plain BN(W x + b) vs folded W' x + b'. Each float32 evaluation of a
        # K-term dot product errs by <= gamma_K sum|w x| (Higham); the BN's subtract/divide/
        # multiply/add and the folding's roundings add a few u of the magnitudes:
        # |diff| <= 2 gamma_{K+8} (s (|W||x| + |b| + |mean|) + |beta|), s = |gamma|/sqrt(var+eps).
        dcc = self.model.head.dcc
        fc, bn = dcc.pose_to_kpts
        with torch.no_grad():
            plain = dcc.pose_to_kpts(self.pose)
            d = rtmo_model.DCCDeploy(dcc)
            folded = F.linear(self.pose, d.fc_weight, d.fc_bias)
            s = (bn.weight / (bn.running_var + bn.eps).sqrt()).abs()
            mag = s * (self.pose.abs() @ fc.weight.abs().t() + fc.bias.abs()
                       + bn.running_mean.abs()) + bn.bias.abs()
        tol = 2 * gamma(fc.in_features + 8) * mag
        diff = (plain - folded).abs()
        self.assertTrue(bool((diff <= tol).all()), f'max excess {float((diff - tol).max())}')
        self.assertGreater(float(diff.max()), 0.0)  # really different arithmetic

    def test_folded_gau(self):
        # Same GAU input for both forms. ScaleNorm (torch.norm vs torch.linalg.norm) must
        # agree exactly; the only other change is q = (b g + beta) + pe vs b g + (beta + pe):
        # |dq| <= 3u (|b g| + |beta| + |pe|). Propagated to first order through
        # qk = q k^T, kernel = relu(qk / sqrt s)^2, u * (kernel v), o(.), plus both forms'
        # roundings of every later op on slightly different inputs (gamma_n terms); the bound
        # is doubled for second-order terms.
        dcc, gau = self.model.head.dcc, self.model.head.dcc.gau
        x = self.taps['dcc.kpt_feats']
        with torch.no_grad():
            xn = gau.ln(x)
            xn_deploy = x / (torch.linalg.norm(x, dim=-1, keepdim=True) * gau.ln.scale).clamp(
                min=gau.ln.eps) * gau.ln.g
            self.assertTrue(torch.equal(xn, xn_deploy))
            uv = F.silu(gau.uv(xn))
            u, v, base = torch.split(uv, [gau.e, gau.e, gau.s], dim=-1)
            bq, bk = base * gau.gamma[0], base * gau.gamma[1]
            q = bq + gau.beta[0] + dcc.pos_enc
            k = bk + gau.beta[1] + dcc.pos_enc
            qk = q @ k.transpose(-1, -2)
            kernel = torch.square(F.relu(qk / gau.sqrt_s))
            kv = kernel @ v
            ukv = u * kv
            out = gau.o(ukv)
            y_plain = gau.res_scale(x) + out

            dq = 3 * U32 * (bq.abs() + gau.beta[0].abs() + dcc.pos_enc.abs())
            dk = 3 * U32 * (bk.abs() + gau.beta[1].abs() + dcc.pos_enc.abs())
            aq, ak = q.abs(), k.abs()
            dqk = dq @ ak.transpose(-1, -2) + aq @ dk.transpose(-1, -2) \
                + 2 * gamma(gau.s) * (aq @ ak.transpose(-1, -2))
            dker = 2 * F.relu(qk) * dqk / gau.s + 4 * U32 * kernel
            dkv = dker @ v.abs() + 2 * gamma(kernel.shape[-1]) * (kernel @ v.abs())
            dukv = u.abs() * dkv + 2 * U32 * ukv.abs()
            wo = gau.o.weight.abs()
            dy = dukv @ wo.t() + 2 * gamma(gau.e) * (ukv.abs() @ wo.t()) \
                + 2 * U32 * (gau.res_scale(x).abs() + out.abs())
            tol = 2 * dy

            d = rtmo_model.DCCDeploy(dcc)
            bd = base[None]
            qd = bd * d.gamma_q + d.beta_q
            kd = bd * d.gamma_k + d.beta_k
            kernel_d = torch.square(F.relu(torch.matmul(qd, kd.transpose(-1, -2)) / gau.sqrt_s))
            y_deploy = (gau.res_scale(x[None]) + gau.o(u[None] * torch.matmul(kernel_d, v[None])))[0]
        self.assertTrue(torch.allclose(y_plain, self.taps['dcc.gau'], rtol=0, atol=0))
        diff = (y_plain - y_deploy).abs()
        self.assertTrue(bool((diff <= tol).all()), f'max excess {float((diff - tol).max())}')

    def test_float64_equivalence(self):
        # In float64 both forms agree to float64 rounding (u = 1.1e-16): logits to 1e-9
        # relative (a generous multiple of gamma_K u-level error), keypoints accordingly.
        m = rtmo_model.RTMO('t')
        m.load_state_dict(self.model.state_dict())
        m = m.double().eval()
        dcc = m.head.dcc
        pose, cs, grids = self.pose.double(), self.bbox_cs.double(), self.grids.double()
        with torch.no_grad():
            taps = {}
            plain = dcc(pose, cs, grids, taps)
            kd, inter = rtmo_model.DCCDeploy(dcc).forward(pose, cs, grids)
        for key in ('x_logits', 'y_logits'):
            scale = float(taps['dcc.' + key].abs().max())
            self.assertLess(float((inter[key] - taps['dcc.' + key]).abs().max()), 1e-9 * scale)
        # One real (tiny) difference: softmax divides by (sum + 1e-8), so sum_j p_j =
        # 1 - 1e-8/sum with sum >= 1 (max subtracted). Plain decodes sum p_j (b_j + c), deploy
        # sum p_j (b_j + c - g) + g: they differ by g * 1e-8/sum <= 1e-8 |g|. (In float32
        # sum + 1e-8 == sum for sum >= 1, so it vanishes there.)
        tol = rtmo_model.SOFTMAX_EPS * grids.abs().unsqueeze(1) + 1e-9
        self.assertTrue(bool(((kd - plain).abs() <= tol).all()))


class DeterminismTest(unittest.TestCase):
    def test_checkpoint_and_goldens_are_deterministic(self):
        path, m = t_checkpoint()
        d = tempfile.mkdtemp(prefix='rtmo_ref_det_')
        try:
            # make_checkpoint twice -> the same tensors; legacy and zip files load equal.
            ckpt2, _ = make_checkpoint.make_checkpoint('t', 0)
            zip_path = os.path.join(d, 'zip.pth')
            torch.save(ckpt2, zip_path)
            sd1 = torch.load(path)['state_dict']
            sd2 = torch.load(zip_path)['state_dict']
            self.assertEqual(list(sd1), list(sd2))
            for k in sd1:
                self.assertTrue(torch.equal(sd1[k], sd2[k]), k)
            with open(zip_path, 'rb') as f:
                self.assertEqual(f.read(2), b'PK')        # zip
            with open(path, 'rb') as f:
                self.assertNotEqual(f.read(2), b'PK')     # legacy
            # dump twice -> bitwise identical files.
            image = IMAGES[0]
            for run in ('a', 'b'):
                dump_goldens.dump(m, path, image, os.path.join(d, run))
            files = sorted(os.listdir(os.path.join(d, 'a')))
            self.assertEqual(len(files), len(dump_goldens.DUMP_NAMES) + 2)
            self.assertEqual(files, sorted(os.listdir(os.path.join(d, 'b'))))
            for f in files:
                with open(os.path.join(d, 'a', f), 'rb') as fa, \
                        open(os.path.join(d, 'b', f), 'rb') as fb:
                    self.assertEqual(fa.read(), fb.read(), f)
        finally:
            shutil.rmtree(d)

    def test_dump_contents(self):
        path, m = t_checkpoint()
        d = tempfile.mkdtemp(prefix='rtmo_ref_dump_')
        try:
            preds = dump_goldens.dump(m, path, IMAGES[-1], d)
            with open(os.path.join(d, 'index.json')) as f:
                index = json.load(f)
            with open(path, 'rb') as f:
                self.assertEqual(index['checkpoint_sha256'], hashlib.sha256(f.read()).hexdigest())
            self.assertEqual(index['torch_version'], torch.__version__)
            self.assertEqual(index['state_dict_sha256'], dump_goldens.state_dict_sha256(
                rtmo_model.load_checkpoint(path)[0]))
            arr = {n: np.load(os.path.join(d, n + '.npy')) for n in dump_goldens.DUMP_NAMES}
            self.assertEqual(arr['input'].shape, (1, 3, 416, 416))
            self.assertEqual(arr['backbone.stem'].shape, (1, 24, 208, 208))
            self.assertEqual(arr['neck.encoder.0'].shape, (1, 256, 13, 13))
            self.assertEqual(arr['neck.fpn_blocks.0'].shape, (1, 256, 26, 26))
            self.assertEqual(arr['neck.fpn_blocks.1'].shape, (1, 256, 52, 52))
            self.assertEqual(arr['neck.out.1'].shape, (1, 192, 13, 13))
            self.assertEqual(arr['head.pose_feat.0'].shape, (1, 192, 26, 26))
            for n in ('pre_nms.index', 'nms.keep'):
                self.assertEqual(arr[n].dtype, np.int64)
            n_pre = len(arr['pre_nms.index'])
            n = len(preds['people'])
            # The calibrated checkpoint exercises NMS and the DCC on this image.
            self.assertGreater(n_pre, 20)
            self.assertGreater(n_pre, n)
            self.assertGreater(n, 5)
            self.assertEqual(arr['dcc.x_logits'].shape, (n, 17, 192))
            self.assertEqual(arr['dcc.y_logits'].shape, (n, 17, 256))
            self.assertEqual(arr['keypoints.input'].shape, (n, 17, 2))
            scores = arr['pre_nms.scores']
            self.assertTrue(bool((scores > 0.1).all()))
            self.assertTrue(bool((np.diff(scores) <= 0).all()))
            # pre_nms is consistent with the raw cls maps.
            cls = np.concatenate([arr['head.cls_score.0'].reshape(-1),
                                  arr['head.cls_score.1'].reshape(-1)])
            sig = torch.from_numpy(cls).sigmoid().numpy()
            self.assertEqual(sorted(arr['pre_nms.index'].tolist()),
                             np.nonzero(sig > 0.1)[0].tolist())
            # people follow nms.keep; activations O(1) everywhere.
            self.assertEqual([p['score'] for p in preds['people']],
                             [float(scores[i]) for i in arr['nms.keep']])
            for name in dump_goldens.DUMP_NAMES:
                a = arr[name]
                self.assertTrue(np.isfinite(a).all(), name)
                if name.startswith(('backbone', 'neck', 'head', 'dcc.')) and a.size:
                    rms = float(np.sqrt(np.mean(a.astype(np.float64) ** 2)))
                    self.assertTrue(0.1 < rms < 10, f'{name}: rms {rms}')
            # JSON schema.
            self.assertEqual(set(preds), {'file', 'width', 'height', 'people'})
            for p in preds['people']:
                self.assertEqual(len(p['bbox']), 4)
                self.assertEqual(len(p['keypoints']), 17)
                self.assertTrue(all(len(k) == 3 for k in p['keypoints']))
        finally:
            shutil.rmtree(d)


class ExportOnnxTest(unittest.TestCase):
    def test_export_writes_the_graph(self):
        # torch.onnx.export needs no onnx package; check the protobuf names the outputs and
        # holds the weights (the numeric check against ONNX Runtime is manual: bench/).
        import export_onnx
        path, m = t_checkpoint()
        out = os.path.join(_CACHE['dir'], 'rtmo-t.onnx')
        export_onnx.export(path, out)
        with open(out, 'rb') as f:
            data = f.read()
        for name in ['input'] + export_onnx.OUTPUT_NAMES:
            self.assertIn(name.encode(), data)
        used = sum(t.numel() for k, t in m.state_dict().items()
                   if 'out_kpt_reg' not in k and 'sigma_fc' not in k and 'num_batches' not in k)
        self.assertGreater(len(data), 4 * 0.9 * used)  # float32 weights (BN folded)


def tearDownModule():
    if 'dir' in _CACHE:
        shutil.rmtree(_CACHE['dir'], ignore_errors=True)


if __name__ == '__main__':
    torch.set_num_threads(1)
    unittest.main(verbosity=2)
