#!/usr/bin/python3
"""Tests of the float64 PyTorch reference (dump_goldens.py --dtype float64).

Run by ctest (label `tools`) as `/usr/bin/python3 tests/tools/test_reference_f64.py`; also
collected by pytest. One seeded rtmo-t checkpoint, one test PNG, dumped in float32 and
float64 (and once at a non-square input size).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
sys.path.insert(0, os.path.join(REPO, 'tools', 'reference'))
import dump_goldens  # noqa: E402
import make_checkpoint  # noqa: E402

IMAGE = os.path.join(REPO, 'tests', 'data', 'coco', '000000197388.png')  # 640 x 392
DUMP_GOLDENS = os.path.join(REPO, 'tools', 'reference', 'dump_goldens.py')
# float32 vs float64 of the same network: float32 rounding (u = 6e-8) grown through ~60
# layers measures 1e-6 (stem) .. 4e-5 (head) rel-L2 on this checkpoint; 1e-3 leaves a wide
# margin for other machines yet fails on any real precision loss (a float16 step, a wrong
# constant, a float32 round trip in the float64 path is caught by the dtype checks instead).
MAP_REL_L2 = 1e-3
# The DCC heatmap logits amplify the box/feature noise (bins span 1.25 x the box): measured
# 3.7e-4 rel-L2; the decoded keypoints 1.3e-4.
DCC_REL_L2 = 1e-2
# Mapping back to image pixels: ~6 float64 operations on values below 2048 px, each
# rounding by <= ulp(2048) / 2 = 2.3e-13 (the re-derivation below may round rsz_w/rsz_h
# differently, as ratio vs product); 1e-11 px is ~40 such ulps. A float32 scale would be
# off by up to 443 * 2^-24 ~ 2.6e-5, i.e. ~1e-6 px and more: 5 orders above.
MAPPING_ATOL_PX = 1e-11

_CACHE = {}


NON_SQUARE = (416, 288)  # W, H


def fixture():
    """{dir, ckpt, f32, f64, f64_ns (float64 at NON_SQUARE)}, built once."""
    if not _CACHE:
        torch.set_num_threads(1)
        d = tempfile.mkdtemp(prefix='rtmo_ref_f64_test_')
        ckpt_path = os.path.join(d, 'rtmo-t.pth')
        ckpt, _ = make_checkpoint.make_checkpoint('t', 0)
        torch.save(ckpt, ckpt_path, _use_new_zipfile_serialization=False)
        for dtype in ('float32', 'float64'):
            model = dump_goldens.load_model(ckpt_path, dtype)
            dump_goldens.dump(model, ckpt_path, IMAGE, os.path.join(d, dtype))
        dump_goldens.dump(model, ckpt_path, IMAGE, os.path.join(d, 'f64_ns'), NON_SQUARE)
        _CACHE.update(dir=d, ckpt=ckpt_path, f32=os.path.join(d, 'float32'),
                      f64=os.path.join(d, 'float64'), f64_ns=os.path.join(d, 'f64_ns'))
    return _CACHE


def rel_l2(a, t):
    a, t = a.astype(np.float64), t.astype(np.float64)
    return float(np.linalg.norm((a - t).ravel()) / np.linalg.norm(t.ravel()))


class Float64ModelTest(unittest.TestCase):
    def test_every_parameter_and_buffer_is_float64(self):
        c = fixture()
        m64 = dump_goldens.load_model(c['ckpt'], 'float64')
        m32 = dump_goldens.load_model(c['ckpt'], 'float32')
        sd32 = m32.state_dict()
        n_float = 0
        for name, t in m64.state_dict().items():
            if name.endswith('num_batches_tracked'):
                self.assertEqual(t.dtype, torch.int64, name)
                continue
            n_float += 1
            self.assertEqual(t.dtype, torch.float64, name)
            # The checkpoint's float32 values widened exactly (dim_t, bins included).
            self.assertTrue(torch.equal(t, sd32[name].double()), name)
        self.assertGreater(n_float, 300)
        for name in ('head.dcc.x_bins', 'head.dcc.y_bins', 'head.dcc.spe.dim_t',
                     'neck.sincos_pos_enc.dim_t'):
            self.assertEqual(m64.state_dict()[name].dtype, torch.float64, name)


class Float64DumpTest(unittest.TestCase):
    def test_every_dump_is_float64_or_int64(self):
        c = fixture()
        with open(os.path.join(c['f64'], 'index.json')) as f:
            index = json.load(f)
        self.assertEqual(index['dtype'], 'float64')
        for name in dump_goldens.DUMP_NAMES:
            arr = np.load(os.path.join(c['f64'], name + '.npy'))
            want = np.int64 if name in dump_goldens.INT_NAMES else np.float64
            self.assertEqual(arr.dtype, want, name)
            self.assertEqual(index['names'][name]['dtype'], np.dtype(want).name, name)
            self.assertTrue(np.isfinite(arr).all(), name)

    def test_float64_agrees_with_float32_within_float32_noise(self):
        c = fixture()
        checked = 0
        for name in dump_goldens.DUMP_NAMES:
            a32 = np.load(os.path.join(c['f32'], name + '.npy'))
            a64 = np.load(os.path.join(c['f64'], name + '.npy'))
            self.assertEqual(a32.shape, a64.shape, name)
            if name in dump_goldens.INT_NAMES:
                # Same cells and people: holds unless a score lies within float32 noise
                # (~1e-6) of 0.1 or of another score; true on this seeded checkpoint.
                np.testing.assert_array_equal(a32, a64, err_msg=name)
                continue
            if name == 'input':
                np.testing.assert_array_equal(a32, a64)  # integers 0..255: exact in both
                continue
            tol = DCC_REL_L2 if name.startswith(('dcc.', 'keypoints.')) else MAP_REL_L2
            err = rel_l2(a32, a64)
            self.assertLess(err, tol, name)
            # Not identical either: the float64 path really computed in float64.
            self.assertGreater(err, 0.0, name)
            checked += 1
        self.assertEqual(checked, len(dump_goldens.DUMP_NAMES) - 3)

    def test_predictions_are_the_float64_mapping_of_the_keypoints(self):
        # predictions.json keypoints = keypoints.input mapped back in float64 with the
        # unrounded letterbox (BottomupResize 'fit' scale, re-derived here): exact to a few
        # ulps, which also shows the JSON floats round-trip float64. On a square input a
        # landscape image's scale is (w, w), exact in float32 too; the non-square input
        # makes scale_y = 640 * 288 / 416 = 443.08.., which float32 would round: far outside
        # MAPPING_ATOL_PX.
        c = fixture()
        kp = np.load(os.path.join(c['f64_ns'], 'keypoints.input.npy'))
        with open(os.path.join(c['f64_ns'], 'predictions.json')) as f:
            preds = json.load(f)
        self.assertGreater(len(preds['people']), 0)
        w, h = preds['width'], preds['height']
        in_w, in_h = NON_SQUARE
        rsz_w, rsz_h = min(in_w, in_h * w / h), min(in_h, in_w * h / w)
        scale = np.array([w * in_w / rsz_w, h * in_h / rsz_h])
        self.assertNotEqual(float(np.float32(scale[1])), scale[1])
        center = np.array([w / 2, h / 2])
        want = kp / np.array([in_w, in_h]) * scale + center - 0.5 * scale
        got = np.array([[k[:2] for k in p['keypoints']] for p in preds['people']])
        self.assertEqual(got.shape, want.shape)
        np.testing.assert_allclose(got, want, rtol=0, atol=MAPPING_ATOL_PX)


class Float64DeterminismTest(unittest.TestCase):
    def test_thread_count_does_not_change_a_bit(self):
        # The float64 truth must not depend on the machine's thread count: convolutions run
        # through slow_conv2d (im2col + BLAS dgemm, parallel over the batch only) and the
        # reductions in a fixed order. Measured bit-identical for t, s, m (1 vs 2 threads).
        c = fixture()
        out = os.path.join(c['dir'], 'f64_threads2')
        model = dump_goldens.load_model(c['ckpt'], 'float64')
        torch.set_num_threads(2)
        try:
            dump_goldens.dump(model, c['ckpt'], IMAGE, out)
        finally:
            torch.set_num_threads(1)
        for name in dump_goldens.DUMP_NAMES:
            a = np.load(os.path.join(c['f64'], name + '.npy'))
            b = np.load(os.path.join(out, name + '.npy'))
            self.assertEqual(a.dtype, b.dtype, name)
            np.testing.assert_array_equal(a, b, err_msg=name)
        for f in ('predictions.json',):
            with open(os.path.join(c['f64'], f)) as fa, open(os.path.join(out, f)) as fb:
                self.assertEqual(fa.read(), fb.read(), f)


class InputSizeTest(unittest.TestCase):
    def test_non_square_input_via_cli(self):
        c = fixture()
        out = os.path.join(c['dir'], 'f64_416x288')
        subprocess.run([sys.executable, DUMP_GOLDENS, c['ckpt'], IMAGE, out, '--dtype',
                        'float64', '--input-size', '416x288'], check=True,
                       stdout=subprocess.DEVNULL)
        with open(os.path.join(out, 'index.json')) as f:
            index = json.load(f)
        self.assertEqual(index['input_size'], [416, 288])
        self.assertEqual(np.load(os.path.join(out, 'input.npy')).shape, (1, 3, 288, 416))
        self.assertEqual(np.load(os.path.join(out, 'backbone.stage4.npy')).shape[2:], (9, 13))
        self.assertEqual(np.load(os.path.join(out, 'head.cls_score.0.npy')).shape[2:], (18, 26))
        # 640x392 into 416x288: s = min(416/640, 288/392) = 0.65, centred vertically.
        np.testing.assert_allclose(index['letterbox']['matrix'],
                                   [[0.65, 0, 0], [0, 0.65, 144 - 0.65 * 196]], rtol=1e-15)
        for name in dump_goldens.DUMP_NAMES:
            arr = np.load(os.path.join(out, name + '.npy'))
            self.assertIn(arr.dtype, (np.float64, np.int64), name)

    def test_bad_input_size_is_rejected(self):
        c = fixture()
        for bad in ('400x288', '416', '0x288', 'axb'):
            r = subprocess.run([sys.executable, DUMP_GOLDENS, c['ckpt'], IMAGE,
                                os.path.join(c['dir'], 'bad'), '--input-size', bad],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            self.assertEqual(r.returncode, 2, bad)
            self.assertIn('--input-size', r.stderr, bad)
            self.assertFalse(os.path.exists(os.path.join(c['dir'], 'bad')), bad)


def tearDownModule():
    if 'dir' in _CACHE:
        shutil.rmtree(_CACHE['dir'], ignore_errors=True)


if __name__ == '__main__':
    unittest.main()
