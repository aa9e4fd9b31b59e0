#!/usr/bin/python3
"""Accuracy of two float32 implementations against the float64 reference ("truth").

  accuracy.py OURS_F32_DIR TORCH_F32_DIR TRUTH_F64_DIR [--json] [--min-iou 0.5]

Each directory holds one image's dumps, <name>.npy per module plus predictions.json, as
written by `rtmo --dump` (OURS, the C++ float32 path), tools/reference/dump_goldens.py
(TORCH, float32) and dump_goldens.py --dtype float64 (TRUTH). Names and meanings:
tools/reference/README.md.

Per module, in network order: the relative L2 error ||x - t|| / ||t|| (computed in float64)
of OURS and of TORCH against TRUTH, and their ratio ours / torch: about 1 means our float32
path is as accurate as PyTorch's, much more than 1 means we lose precision somewhere.
Integer modules (pre_nms.index, nms.keep) report the number of differing entries. A module
whose shape differs from the truth's (a different number of cells passing the threshold or
of people) is skipped with a note; per-person modules (dcc.*, keypoints.input) are compared
after putting each candidate's people in the truth's order.

End to end (predictions.json, image pixels): people are matched to the truth's by best box
IoU (greedy, highest IoU first, IoU >= --min-iou), because float32 noise can reorder people
whose scores nearly tie; then per candidate: people count, matched count, how many matched
people sit at the truth's position (order agreement), and the keypoint error distribution
(Euclidean distance per keypoint: median, 99th percentile, max, in px) plus max box and
score differences. Needs numpy only. Exit status 0 (it measures, it does not judge), 2 on
bad usage or an unreadable truth directory.
"""

import argparse
import json
import os
import sys

import numpy as np

# Network order: tools/reference/dump_goldens.py DUMP_NAMES.
ORDER = (['input', 'backbone.stem'] + ['backbone.stage%d' % i for i in range(1, 5)] +
         ['neck.input_proj.%d' % i for i in range(3)] + ['neck.encoder.0'] +
         ['neck.fpn_blocks.0', 'neck.fpn_blocks.1', 'neck.pan_blocks.0', 'neck.pan_blocks.1',
          'neck.out.0', 'neck.out.1'] +
         ['head.%s.%d' % (n, lvl) for lvl in (0, 1)
          for n in ('cls_score', 'bbox_pred', 'kpt_vis', 'pose_feat')] +
         ['pre_nms.index', 'pre_nms.scores', 'nms.keep', 'dcc.kpt_feats', 'dcc.gau',
          'dcc.x_logits', 'dcc.y_logits', 'keypoints.input'])
# Leading dimension = people in output order.
PER_PERSON = ('dcc.kpt_feats', 'dcc.gau', 'dcc.x_logits', 'dcc.y_logits', 'keypoints.input')
CANDIDATES = ('ours', 'torch')


class AccuracyError(Exception):
    pass


def load_people(d):
    """d/predictions.json -> list of people, or None if absent."""
    path = os.path.join(d, 'predictions.json')
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            people = json.load(f)['people']
    except (OSError, KeyError, ValueError) as e:
        raise AccuracyError(f'{path}: unreadable predictions.json ({e})')
    return people


def box_iou_matrix(a, b):
    """a [n, 4], b [m, 4] (x1, y1, x2, y2) -> IoU [n, m] (0 where the union is empty)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide='ignore', invalid='ignore'):
        return np.where(union > 0, inter / union, 0.0)


def match_people(truth, cand, min_iou):
    """-> list of (truth index, candidate index) pairs: greedy on IoU, highest first (ties:
    smaller truth index, then smaller candidate index), each person used once, IoU >= min_iou."""
    if not truth or not cand:
        return []
    iou = box_iou_matrix([p['bbox'] for p in truth], [p['bbox'] for p in cand])
    ti, ci = np.nonzero(iou >= min_iou)
    order = sorted(zip(-iou[ti, ci], ti, ci))
    used_t, used_c, pairs = set(), set(), []
    for _, t, c in order:
        if t not in used_t and c not in used_c:
            used_t.add(int(t))
            used_c.add(int(c))
            pairs.append((int(t), int(c)))
    return sorted(pairs)


def rel_l2(x, t):
    """||x - t|| / ||t|| in float64; 0 if both are zero, inf if only t is."""
    x = x.astype(np.float64)
    t = t.astype(np.float64)
    num = float(np.linalg.norm((x - t).ravel()))
    den = float(np.linalg.norm(t.ravel()))
    if den == 0.0:
        return 0.0 if num == 0.0 else float('inf')
    return num / den


def compare_module(name, t, x, pairs):
    """One candidate's array x against the truth t -> dict with rel_l2 (float modules),
    differing (int modules) or note (skipped)."""
    if x is None:
        return {'note': 'missing'}
    if x.shape != t.shape:
        return {'note': 'shape %s differs from the truth %s: skipped' % (list(x.shape),
                                                                         list(t.shape))}
    if name in PER_PERSON and t.shape[0]:
        n = t.shape[0]
        if pairs is None:
            return {'note': 'no predictions.json to match people: skipped'}
        if len(pairs) != n:
            return {'note': '%d of %d people matched by box: skipped' % (len(pairs), n)}
        aligned = np.empty_like(x)
        for ti, ci in pairs:
            aligned[ti] = x[ci]
        x = aligned
    if t.dtype.kind in 'iu':
        return {'differing': int(np.count_nonzero(x != t)), 'size': int(t.size)}
    if t.size == 0:
        return {'note': 'empty'}
    if not np.isfinite(x).all():
        return {'note': 'non-finite values'}
    return {'rel_l2': rel_l2(x, t)}


def end_to_end(truth, cand, min_iou):
    """predictions.json people lists -> summary dict for one candidate."""
    pairs = match_people(truth, cand, min_iou)
    out = {'people': len(cand), 'truth_people': len(truth), 'matched': len(pairs),
           'same_position': sum(1 for t, c in pairs if t == c)}
    out['order_identical'] = (len(cand) == len(truth) == len(pairs) ==
                              out['same_position'])
    if not pairs:
        return out
    kd, box, score = [], 0.0, 0.0
    for t, c in pairs:
        kt = np.asarray(truth[t]['keypoints'], np.float64)
        kc = np.asarray(cand[c]['keypoints'], np.float64)
        kd.append(np.hypot(kc[:, 0] - kt[:, 0], kc[:, 1] - kt[:, 1]))
        box = max(box, float(np.max(np.abs(np.subtract(cand[c]['bbox'], truth[t]['bbox'])))))
        score = max(score, abs(cand[c]['score'] - truth[t]['score']))
    kd = np.concatenate(kd)
    out.update({'keypoint_px': {'median': float(np.median(kd)),
                                'p99': float(np.percentile(kd, 99)),
                                'max': float(kd.max()), 'count': int(kd.size)},
                'box_max_abs_px': box, 'score_max_abs': score})
    return out


def load_npy(d, name):
    path = os.path.join(d, name + '.npy')
    return np.load(path) if os.path.exists(path) else None


def evaluate(ours_dir, torch_dir, truth_dir, min_iou=0.5):
    """-> {'modules': [...], 'end_to_end': {...}} (see the module docstring)."""
    dirs = {'ours': ours_dir, 'torch': torch_dir}
    if not os.path.isdir(truth_dir):
        raise AccuracyError(f'{truth_dir}: not a directory')
    truth_names = {f[:-4] for f in os.listdir(truth_dir) if f.endswith('.npy')}
    if not truth_names:
        raise AccuracyError(f'{truth_dir}: no .npy dumps')
    people = {'truth': load_people(truth_dir)}
    for c in CANDIDATES:
        people[c] = load_people(dirs[c]) if os.path.isdir(dirs[c]) else None
    pairs = {c: (match_people(people['truth'], people[c], min_iou)
                 if people['truth'] is not None and people[c] is not None else None)
             for c in CANDIDATES}

    modules = []
    for name in [n for n in ORDER if n in truth_names] + sorted(truth_names - set(ORDER)):
        t = load_npy(truth_dir, name)
        row = {'name': name, 'shape': list(t.shape), 'truth_dtype': t.dtype.name}
        for c in CANDIDATES:
            x = load_npy(dirs[c], name) if os.path.isdir(dirs[c]) else None
            row[c] = compare_module(name, t, x, pairs[c])
        o, p = row['ours'].get('rel_l2'), row['torch'].get('rel_l2')
        if o is not None and p is not None:
            row['ratio'] = (o / p if p > 0 else (1.0 if o == 0 else float('inf')))
        modules.append(row)

    e2e = {}
    for c in CANDIDATES:
        if people['truth'] is None or people[c] is None:
            e2e[c] = {'note': 'predictions.json missing'}
        else:
            e2e[c] = end_to_end(people['truth'], people[c], min_iou)
    return {'ours_dir': ours_dir, 'torch_dir': torch_dir, 'truth_dir': truth_dir,
            'min_iou': min_iou, 'modules': modules, 'end_to_end': e2e}


def _cell(r):
    if 'rel_l2' in r:
        return '%.3e' % r['rel_l2']
    if 'differing' in r:
        return '%d/%d differ' % (r['differing'], r['size'])
    return '-'


def format_text(res):
    head = ('module', 'shape', 'ours rel-L2', 'torch rel-L2', 'ours/torch', 'note')
    rows = []
    for m in res['modules']:
        notes = ['%s: %s' % (c, m[c]['note']) for c in CANDIDATES if 'note' in m[c]]
        ratio = '%.3g' % m['ratio'] if 'ratio' in m else '-'
        rows.append((m['name'], 'x'.join(map(str, m['shape'])) or 'scalar', _cell(m['ours']),
                     _cell(m['torch']), ratio, '; '.join(notes)))
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    lines = ['  '.join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [head] + rows]
    lines.append('')
    lines.append('end to end (image pixels; people matched to the truth by box IoU >= %g):'
                 % res['min_iou'])
    for c in CANDIDATES:
        e = res['end_to_end'][c]
        if 'note' in e:
            lines.append('  %-5s %s' % (c, e['note']))
            continue
        s = ('  %-5s people %d (truth %d), matched %d, at the truth\'s position %d%s'
             % (c, e['people'], e['truth_people'], e['matched'], e['same_position'],
                ' (order identical)' if e['order_identical'] else ''))
        if 'keypoint_px' in e:
            k = e['keypoint_px']
            s += ('; keypoints median %.3g px, p99 %.3g px, max %.3g px; box max %.3g px, '
                  'score max %.3g' % (k['median'], k['p99'], k['max'], e['box_max_abs_px'],
                                      e['score_max_abs']))
        lines.append(s)
    return '\n'.join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('ours', help='C++ float32 dump directory (rtmo --dump)')
    ap.add_argument('torch', help='PyTorch float32 dump directory (dump_goldens.py)')
    ap.add_argument('truth', help='float64 dump directory (dump_goldens.py --dtype float64)')
    ap.add_argument('--json', action='store_true', help='print JSON instead of a table')
    ap.add_argument('--min-iou', type=float, default=0.5,
                    help='smallest box IoU for matching a person to the truth (default 0.5)')
    args = ap.parse_args(argv)
    try:
        res = evaluate(args.ours, args.torch, args.truth, args.min_iou)
    except AccuracyError as e:
        print(f'accuracy: {e}', file=sys.stderr)
        return 2
    print(json.dumps(res, indent=1) if args.json else format_text(res))
    return 0


if __name__ == '__main__':
    sys.exit(main())
