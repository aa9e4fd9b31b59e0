"""The one place in bench/ that knows the PyTorch reference's API (tools/reference/model.py),
used by torch_worker.py and macs.py.

  load_network(ckpt) -> (model in eval mode, square input size)
  run_network(model, x [1,3,S,S] float32) -> raw head outputs (network only, as the ONNX
    export: no post-processing, no DCC)
"""
import os
import sys

_REF = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'tools',
                    'reference')
if _REF not in sys.path:
    sys.path.insert(0, _REF)

import model as _reference  # noqa: E402  (tools/reference/model.py)


def load_network(ckpt):
    net, _ = _reference.load_checkpoint(ckpt)
    return net, net.variant.input_size


def run_network(net, x):
    return net(x)
