#!/usr/bin/python3
"""Counts the multiply-accumulates of the RTMO network per variant and per module, on the
PyTorch reference (tools/reference), by watching the ATen operators one forward pass runs.

usage: macs.py --work DIR --variants t,s,m,l --out macs.json
  DIR/rtmo-V.pth are the seeded checkpoints run.sh made (the counts depend only on shapes).

Counting rule (the usual one; ORT's profile of RTMO-s in shared/perf uses the same):
  convolution  output elements x (C_in / groups) x kH x kW   (taps on zero padding included)
  mm / addmm   M x N x K;   bmm / baddbmm  B x M x N x K     (linear layers, attention)
Element-wise work (SiLU, adds, softmax, LayerNorm) is not counted: it is not FMA work.
Deploy form: a RepVGG block's 1x1 branch is folded into its 3x3 (official switch_to_deploy,
reparam_layers.py:183-217), so the network's MACs exclude it; it is reported apart.
Each MAC is attributed to the innermost named submodule running when it happens and then
to a part (PARTS below), the same names bench/e2e_bench's per-module profile uses.
"""
import argparse
import json
import os
import sys

import torch
from torch.utils._python_dispatch import TorchDispatchMode

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'tools', 'reference'))

# module-name prefix -> part (first match wins; official state_dict module names)
PARTS = [
    ('backbone.stem', 'backbone.stem'),
    ('backbone.stage1', 'backbone.stage1'), ('backbone.stage2', 'backbone.stage2'),
    ('backbone.stage3', 'backbone.stage3'), ('backbone.stage4', 'backbone.stage4'),
    ('neck.input_proj', 'neck.input_proj'), ('neck.encoder', 'neck.encoder'),
    ('neck.lateral_convs', 'neck.fpn'), ('neck.fpn_blocks', 'neck.fpn'),
    ('neck.downsample_convs', 'neck.pan'), ('neck.pan_blocks', 'neck.pan'),
    ('neck.projector', 'neck.projector'),
    # One part for both branches: the observer sees the head's outputs only after
    # RTMOHeadModuleForward has run both (rtmo/model.cc), so no lap can split them.
    ('head.head_module', 'head'),
    ('head.dcc', 'dcc'),
]


def part_of(name):
    for prefix, part in PARTS:
        if name == prefix or name.startswith(prefix + '.') or (
                prefix.endswith('_') and name.startswith(prefix)):
            return part
    return 'other:' + name


class MacCounter(TorchDispatchMode):
    """Adds the MACs of every conv / matrix product to the module on top of `stack`."""

    def __init__(self, stack):
        super().__init__()
        self.stack = stack
        self.by_module = {}

    def _add(self, macs):
        name = self.stack[-1] if self.stack else ''
        self.by_module[name] = self.by_module.get(name, 0) + int(macs)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        op = func.overloadpacket
        a = torch.ops.aten
        if op is a.convolution:
            w = args[1]
            self._add(out.numel() * w.shape[1] * w.shape[2] * w.shape[3])
        elif op is a.mm:
            self._add(args[0].shape[0] * args[0].shape[1] * args[1].shape[1])
        elif op is a.addmm:
            self._add(args[1].shape[0] * args[1].shape[1] * args[2].shape[1])
        elif op is a.bmm:
            b, m, k = args[0].shape
            self._add(b * m * k * args[1].shape[2])
        elif op is a.baddbmm:
            b, m, k = args[1].shape
            self._add(b * m * k * args[2].shape[2])
        return out


def count(model, x, run=None):
    """MACs of `run(model, x)` (default model(x)): {module name: MACs} and {part: MACs}."""
    stack = []
    hooks = []
    for name, mod in model.named_modules():
        name = name or type(mod).__name__  # the root too (e.g. the DCC counted on its own)
        # Hooks must return None (a returned value would replace the module's input/output).
        def enter(m, i, n=name):
            stack.append(n)

        def leave(m, i, o):
            stack.pop()
        hooks.append(mod.register_forward_pre_hook(enter))
        hooks.append(mod.register_forward_hook(leave))
    counter = MacCounter(stack)
    try:
        with torch.no_grad(), counter:
            (run or (lambda m, t: m(t)))(model, x)
    finally:
        for h in hooks:
            h.remove()
    parts = {}
    for name, macs in counter.by_module.items():
        if '.branch_1x1' in name:  # folded into branch_3x3 in deploy form
            parts['folded:repvgg_1x1'] = parts.get('folded:repvgg_1x1', 0) + macs
            continue
        p = part_of(name)
        parts[p] = parts.get(p, 0) + macs
    return counter.by_module, parts


def main():
    import bench_reference as ref  # bench/bench_reference.py: the one place that knows the API
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--work', required=True)
    ap.add_argument('--variants', default='t,s,m,l')
    ap.add_argument('--out', required=True)
    a = ap.parse_args()
    res = {}
    for v in a.variants.split(','):
        ckpt = os.path.join(a.work, 'rtmo-%s.pth' % v)
        model, size = ref.load_network(ckpt)
        x = torch.zeros(1, 3, size, size)
        by_module, parts = count(model, x, ref.run_network)
        total = sum(m for p, m in parts.items() if not p.startswith('folded:'))
        # The DCC per detected person (runs in post-processing, once per kept instance).
        dcc = model.head.dcc
        P = dcc.pose_to_kpts[0].in_features if isinstance(dcc.pose_to_kpts, torch.nn.Sequential) \
            else model.variant.projector_out
        one = (torch.zeros(1, P), torch.tensor([[320.0, 320.0, 120.0, 300.0]]),
               torch.tensor([[319.5, 311.5]]))
        _, dparts = count(dcc, one, lambda m, a: m(*a))
        res[v] = {'input': size, 'total': total, 'parts': parts,
                  'dcc_per_person': sum(dparts.values())}
        print('rtmo-%s (%d px): %.3f GMAC  ' % (v, size, total / 1e9) +
              ', '.join('%s %.3f' % (p, m / 1e9) for p, m in parts.items()), flush=True)
    with open(a.out, 'w') as f:
        json.dump(res, f, indent=1)


if __name__ == '__main__':
    sys.path.insert(0, HERE)
    main()
