#!/usr/bin/python3
"""Tests of tools/accuracy.py on synthetic dump directories with known errors.

Run by ctest (label `tools`) as `/usr/bin/python3 tests/tools/test_accuracy.py`; also
collected by pytest. Expected values are derived here from the construction (exact dyadic
perturbations, hand-counted distance distributions), never by calling the code under test.
"""

import contextlib
import io
import json
import math
import os
import shutil
import sys
import tempfile
import unittest

import numpy as np

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
sys.path.insert(0, os.path.join(REPO, 'tools'))
import accuracy  # noqa: E402

# The expected rel-L2 values below are exact up to float64 rounding of the norms (a few
# ulps): the perturbed float32 arrays hold exactly truth + delta (dyadic values), so no
# float32 rounding enters.
REL_TOL = 1e-12
K = 17
BOXES = [[10.0, 20.0, 110.0, 220.0], [300.0, 40.0, 380.0, 200.0], [150.0, 250.0, 260.0, 380.0]]


def person(box, kpts, score):
    return {'bbox': list(box), 'score': score, 'keypoints': [[x, y, 0.5] for x, y in kpts]}


def truth_keypoints(i):
    """Keypoints of person i: inside its box, multiples of 1/4 (exact everywhere)."""
    x1, y1 = BOXES[i][:2]
    return [(x1 + 2.25 * k, y1 + 3.5 * k) for k in range(K)]


class SyntheticDirs:
    """truth (float64), ours and torch (float32) dump directories in a temp dir."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix='rtmo_accuracy_test_')
        self.dirs = {n: os.path.join(self.root, n) for n in ('ours', 'torch', 'truth')}
        for d in self.dirs.values():
            os.makedirs(d)
        rng = np.random.default_rng(1)
        # Float32-representable truth: multiples of 2^-12 in [1, 2) with random signs.
        self.stem = (np.sign(rng.standard_normal((1, 4, 5, 6))) *
                     (1 + np.floor(rng.random((1, 4, 5, 6)) * 4096) / 4096)).astype(np.float64)
        self.gau = (1 + np.floor(rng.random((3, K, 8)) * 4096) / 4096).astype(np.float64)
        self.scores = np.array([0.875, 0.75, 0.5, 0.25])
        self.index = np.array([5, 9, 2, 7], np.int64)

    def save(self, which, name, arr):
        np.save(os.path.join(self.dirs[which], name + '.npy'), arr)

    def people(self, which, people):
        with open(os.path.join(self.dirs[which], 'predictions.json'), 'w') as f:
            json.dump({'file': 'x.png', 'width': 400, 'height': 400, 'people': people}, f)

    def close(self):
        shutil.rmtree(self.root)


def perturb(t, positions, delta):
    """t + delta at the given flat positions, as float32 (exact: dyadic values)."""
    x = t.copy().ravel()
    x[positions] += delta
    out = x.reshape(t.shape).astype(np.float32)
    assert np.array_equal(out.astype(np.float64), x.reshape(t.shape)), 'not exact in float32'
    return out


def expected_rel(t, count, delta):
    """||delta at `count` places|| / ||t||, from the construction."""
    return math.sqrt(count) * abs(delta) / math.sqrt(math.fsum(float(v) ** 2 for v in t.ravel()))


class AccuracyTest(unittest.TestCase):
    def setUp(self):
        self.s = SyntheticDirs()
        self.addCleanup(self.s.close)

    def build(self, torch_people=3):
        s = self.s
        s.save('truth', 'backbone.stem', s.stem)
        s.save('truth', 'dcc.gau', s.gau)
        s.save('truth', 'pre_nms.scores', s.scores)
        s.save('truth', 'pre_nms.index', s.index)
        s.save('truth', 'keypoints.input', np.zeros((3, K, 2)))  # all-zero truth: rel 0 or inf
        s.people('truth', [person(BOXES[i], truth_keypoints(i), 0.9 - 0.1 * i)
                           for i in range(3)])
        # ours: stem off by 2^-10 at 7 places; people 0 and 1 swapped (near-tie reorder)
        # with identical values; keypoints moved by known distances; one index differs.
        s.save('ours', 'backbone.stem', perturb(s.stem, [0, 3, 17, 40, 41, 90, 119], 2.0 ** -10))
        s.save('ours', 'dcc.gau', s.gau[[1, 0, 2]].astype(np.float32))
        s.save('ours', 'pre_nms.scores', s.scores.astype(np.float32))
        s.save('ours', 'pre_nms.index', np.array([5, 9, 7, 2], np.int64))
        s.save('ours', 'keypoints.input', np.zeros((3, K, 2), np.float32))
        # Distances: person 0 every keypoint 0.5 px (0.3, 0.4); person 1 every keypoint
        # 1.0 px (0.6, 0.8); person 2 one keypoint 10 px (6, 8), the rest 0.
        k0 = [(x + 0.3, y + 0.4) for x, y in truth_keypoints(0)]
        k1 = [(x + 0.6, y + 0.8) for x, y in truth_keypoints(1)]
        k2 = truth_keypoints(2)
        k2[5] = (k2[5][0] + 6.0, k2[5][1] + 8.0)
        box1 = [BOXES[1][0] + 2.0] + BOXES[1][1:]  # a 2 px box difference
        s.people('ours', [person(box1, k1, 0.8), person(BOXES[0], k0, 0.9),
                          person(BOXES[2], k2, 0.7)])
        # torch: stem off by -2^-8 at 2 places, people in order; optionally one missing.
        s.save('torch', 'backbone.stem', perturb(s.stem, [5, 6], -(2.0 ** -8)))
        s.save('torch', 'dcc.gau', s.gau[:torch_people].astype(np.float32))
        s.save('torch', 'pre_nms.scores', s.scores[:3].astype(np.float32))  # M differs
        s.save('torch', 'pre_nms.index', s.index[:3])
        s.save('torch', 'keypoints.input', np.zeros((torch_people, K, 2), np.float32))
        s.people('torch', [person(BOXES[i], truth_keypoints(i), 0.9 - 0.1 * i)
                           for i in range(torch_people)])
        return accuracy.evaluate(s.dirs['ours'], s.dirs['torch'], s.dirs['truth'])

    def modules(self, res):
        return {m['name']: m for m in res['modules']}

    def test_rel_l2_of_known_perturbations_and_ratio(self):
        m = self.modules(self.build())['backbone.stem']
        want_ours = expected_rel(self.s.stem, 7, 2.0 ** -10)
        want_torch = expected_rel(self.s.stem, 2, 2.0 ** -8)
        self.assertAlmostEqual(m['ours']['rel_l2'] / want_ours, 1.0, delta=REL_TOL)
        self.assertAlmostEqual(m['torch']['rel_l2'] / want_torch, 1.0, delta=REL_TOL)
        # ratio = sqrt(7) 2^-10 / (sqrt(2) 2^-8) = sqrt(3.5) / 4
        self.assertAlmostEqual(m['ratio'], math.sqrt(3.5) / 4, delta=1e-12)

    def test_modules_in_network_order(self):
        names = [m['name'] for m in self.build()['modules']]
        self.assertEqual(names, ['backbone.stem', 'pre_nms.index', 'pre_nms.scores',
                                 'dcc.gau', 'keypoints.input'])

    def test_people_reordered_are_aligned_by_box(self):
        # ours holds the truth's dcc.gau rows 1, 0, 2: after matching by box IoU it is exact.
        m = self.modules(self.build())['dcc.gau']
        self.assertEqual(m['ours'], {'rel_l2': 0.0})
        self.assertEqual(m['torch'], {'rel_l2': 0.0})

    def test_integer_modules_count_differences(self):
        m = self.modules(self.build())['pre_nms.index']
        self.assertEqual(m['ours'], {'differing': 2, 'size': 4})
        self.assertIn('shape', m['torch']['note'])  # 3 cells vs the truth's 4

    def test_shape_mismatch_is_skipped_with_a_note(self):
        mods = self.modules(self.build(torch_people=2))
        for name in ('pre_nms.scores', 'dcc.gau', 'keypoints.input'):
            self.assertNotIn('rel_l2', mods[name]['torch'], name)
            self.assertIn('skipped', mods[name]['torch']['note'], name)
            self.assertNotIn('ratio', mods[name], name)
        self.assertIn('rel_l2', mods['dcc.gau']['ours'])

    def test_zero_truth(self):
        # keypoints.input truth is all zero and both candidates are zero: 0, ratio 1.
        m = self.modules(self.build())['keypoints.input']
        self.assertEqual(m['ours']['rel_l2'], 0.0)
        self.assertEqual(m['ratio'], 1.0)
        self.assertEqual(accuracy.rel_l2(np.ones(3), np.zeros(3)), float('inf'))

    def test_end_to_end_keypoint_distribution(self):
        e = self.build()['end_to_end']
        ours = e['ours']
        self.assertEqual((ours['people'], ours['truth_people'], ours['matched']), (3, 3, 3))
        # Truth order 0, 1, 2; ours lists 1, 0, 2: only person 2 sits at its position.
        self.assertEqual(ours['same_position'], 1)
        self.assertFalse(ours['order_identical'])
        # 51 distances sorted: 16 x 0, 17 x 0.5, 17 x 1.0, 1 x 10. Median = element 25 = 0.5;
        # p99 (linear): rank 0.99 * 50 = 49.5, between 1.0 and 10 -> 5.5; max 10.
        k = ours['keypoint_px']
        self.assertEqual(k['count'], 51)
        self.assertAlmostEqual(k['median'], 0.5, delta=1e-12)
        self.assertAlmostEqual(k['p99'], 5.5, delta=1e-12)
        self.assertAlmostEqual(k['max'], 10.0, delta=1e-12)
        self.assertAlmostEqual(ours['box_max_abs_px'], 2.0, delta=1e-12)
        self.assertAlmostEqual(ours['score_max_abs'], 0.0, delta=1e-12)
        torch_ = e['torch']
        self.assertTrue(torch_['order_identical'])
        self.assertEqual(torch_['keypoint_px']['max'], 0.0)

    def test_end_to_end_count_disagreement(self):
        t = self.build(torch_people=2)['end_to_end']['torch']
        self.assertEqual((t['people'], t['truth_people'], t['matched'], t['same_position']),
                         (2, 3, 2, 2))
        self.assertFalse(t['order_identical'])

    def test_missing_module_and_predictions(self):
        self.build()
        os.remove(os.path.join(self.s.dirs['ours'], 'dcc.gau.npy'))
        os.remove(os.path.join(self.s.dirs['torch'], 'predictions.json'))
        res = accuracy.evaluate(*(self.s.dirs[n] for n in ('ours', 'torch', 'truth')))
        m = self.modules(res)['dcc.gau']
        self.assertEqual(m['ours'], {'note': 'missing'})
        self.assertIn('no predictions.json', m['torch']['note'])
        self.assertIn('note', res['end_to_end']['torch'])

    def test_json_output_and_exit_status(self):
        self.build()
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = accuracy.main([self.s.dirs['ours'], self.s.dirs['torch'], self.s.dirs['truth'],
                                '--json'])
        self.assertEqual(rc, 0)
        res = json.loads(out.getvalue())
        stem = self.modules(res)['backbone.stem']
        self.assertAlmostEqual(stem['ours']['rel_l2'] / expected_rel(self.s.stem, 7, 2.0 ** -10),
                               1.0, delta=REL_TOL)
        text = io.StringIO()
        with contextlib.redirect_stdout(text):
            accuracy.main([self.s.dirs['ours'], self.s.dirs['torch'], self.s.dirs['truth']])
        self.assertIn('backbone.stem', text.getvalue())
        self.assertIn('p99 5.5 px', text.getvalue())
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            rc = accuracy.main([self.s.dirs['ours'], self.s.dirs['torch'],
                                os.path.join(self.s.root, 'absent')])
        self.assertEqual(rc, 2)
        self.assertIn('absent', err.getvalue())


class MatchingTest(unittest.TestCase):
    def test_iou(self):
        iou = accuracy.box_iou_matrix([[0, 0, 2, 2]], [[1, 0, 3, 2], [5, 5, 6, 6], [0, 0, 2, 2]])
        np.testing.assert_allclose(iou, [[1 / 3, 0.0, 1.0]], rtol=1e-15)

    def test_greedy_highest_iou_first(self):
        # With min_iou 0.2 candidate 0 could go to truth 0 (IoU 1/3, visited first in list
        # order) or truth 1 (IoU 1): highest IoU first gives truth 1; candidate 1 (exactly
        # truth 0) goes to truth 0; a box below min_iou (IoU 0.1/1.9) stays unmatched.
        truth = [{'bbox': [0, 0, 2, 2]}, {'bbox': [1, 0, 3, 2]}, {'bbox': [10, 10, 11, 11]}]
        cand = [{'bbox': [1, 0, 3, 2]}, {'bbox': [0, 0, 2, 2]}, {'bbox': [10.9, 10, 11.9, 11]}]
        self.assertEqual(accuracy.match_people(truth, cand, 0.2), [(0, 1), (1, 0)])
        self.assertEqual(accuracy.match_people(truth, cand, 0.05),
                         [(0, 1), (1, 0), (2, 2)])


if __name__ == '__main__':
    unittest.main()
