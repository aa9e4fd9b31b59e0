#!/usr/bin/python3
"""PyTorch eager worker for bench/driver.py: the reference network (tools/reference) with
Debian's python3-torch, loaded once, run once per `run` command on stdin.

usage: torch_worker.py CKPT.pth THREADS INPUT.f32 SIZE
Protocol as bench/ort_worker.mjs: prints {"ready": ...}, then {"network_ms": t} per `run`;
`quit` or EOF ends it. torch.set_num_threads(THREADS), one inter-op thread, no_grad,
float32, the network only (raw head outputs, as the ONNX export), no post-processing.
"""
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_reference as ref  # noqa: E402


def main():
    if len(sys.argv) != 5:
        sys.stderr.write(__doc__)
        return 2
    ckpt, threads, inp, size = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    model, model_size = ref.load_network(ckpt)
    if model_size != size:
        print(json.dumps({'error': 'checkpoint input %d != %d' % (model_size, size)}), flush=True)
        return 2
    x = torch.from_numpy(np.fromfile(inp, dtype=np.float32).reshape(1, 3, size, size))
    blas = sorted({ln.split()[-1] for ln in open('/proc/self/maps')
                   if ('blas' in ln or 'malloc' in ln) and '.so' in ln})
    print(json.dumps({'ready': True, 'engine': 'pytorch', 'version': torch.__version__,
                      'threads': torch.get_num_threads(), 'libs': blas}), flush=True)
    with torch.no_grad():
        for line in sys.stdin:
            cmd = line.strip()
            if cmd == 'quit':
                break
            if cmd != 'run':
                print(json.dumps({'error': 'unknown command ' + cmd}), flush=True)
                continue
            t0 = time.perf_counter()
            out = ref.run_network(model, x)
            t1 = time.perf_counter()
            first = out[0] if isinstance(out, (list, tuple)) else out
            while isinstance(first, (list, tuple)):
                first = first[0]
            print(json.dumps({'network_ms': (t1 - t0) * 1e3,
                              'check': float(first.reshape(-1)[0])}), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
