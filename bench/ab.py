#!/usr/bin/python3
"""A/B latency of two builds of rtmo.cpp: the check behind "no speed change" refactors.

Starts `e2e_bench serve` of build A and of build B (each loads the model once), then runs
`--iters` rounds; in each round both run once, in an order alternating from round to round,
so that machine noise hits both alike. Reports, per build, the medians and p90 of the whole
Predict (total_ms) and of the network alone (network_ms), and the B/A ratio of the medians.
The ratio is what to read on a busy machine: absolute times are only meaningful when idle.
After each run the driver's settle() waits until that build's process is idle (a build
whose pool threads spin on after a run, e.g. an OpenMP one, would otherwise slow the next).

usage: ab.py --a BUILD_A/bench/e2e_bench --b BUILD_B/bench/e2e_bench --model M.rtmo
             --image IMG [--threads 1,2] [--iters 30] [--warmup 3] [--out FILE.json]
Both builds must read the model file (a format-1 .rtmo is read by every version).
"""
import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from driver import Worker  # noqa: E402  (the same one-line protocol worker)


def p90(xs):
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(0.9 * (len(s) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--a', required=True, help='e2e_bench of build A (before)')
    ap.add_argument('--b', required=True, help='e2e_bench of build B (after)')
    ap.add_argument('--model', required=True)
    ap.add_argument('--image', required=True)
    ap.add_argument('--threads', default='1,2')
    ap.add_argument('--iters', type=int, default=30)
    ap.add_argument('--warmup', type=int, default=3)
    ap.add_argument('--gap-ms', type=float, default=50.0,
                    help='pause between runs, after the previous worker is idle')
    ap.add_argument('--out')
    args = ap.parse_args()

    with open('/proc/loadavg') as f:
        load_before = ' '.join(f.read().split()[:3])
    result = {'a': args.a, 'b': args.b, 'model': args.model, 'image': args.image,
              'load_before': load_before, 'threads': {}}
    for threads in [int(t) for t in args.threads.split(',')]:
        env = dict(os.environ, OMP_NUM_THREADS=str(threads))
        workers = {}
        for name, exe in (('a', args.a), ('b', args.b)):
            argv = [exe, 'serve', args.model, args.image, str(threads)]
            workers[name] = Worker(name, argv, env, '/tmp/ab_%s_%d.log' % (name, threads))
        try:
            for _ in range(args.warmup):
                for w in workers.values():
                    w.run()
                    w.settle()
            times = {n: {'total_ms': [], 'network_ms': []} for n in workers}
            for i in range(args.iters):
                order = ['a', 'b'] if i % 2 == 0 else ['b', 'a']
                for n in order:
                    time.sleep(args.gap_ms / 1000.0)
                    msg = workers[n].run()
                    workers[n].settle()
                    for key in times[n]:
                        times[n][key].append(msg[key])
        finally:
            for w in workers.values():
                w.close()
        row = {}
        for n in ('a', 'b'):
            row[n] = {k: {'median': statistics.median(v), 'p90': p90(v)}
                      for k, v in times[n].items()}
        row['b_over_a'] = {k: row['b'][k]['median'] / row['a'][k]['median']
                           for k in ('total_ms', 'network_ms')}
        result['threads'][threads] = row
        print('threads %d: total A %.1f ms, B %.1f ms (B/A %.3f); network A %.1f, B %.1f '
              '(B/A %.3f)' % (threads, row['a']['total_ms']['median'],
                              row['b']['total_ms']['median'], row['b_over_a']['total_ms'],
                              row['a']['network_ms']['median'],
                              row['b']['network_ms']['median'], row['b_over_a']['network_ms']))
    with open('/proc/loadavg') as f:
        result['load_after'] = ' '.join(f.read().split()[:3])
    print('load average before %s, after %s' % (load_before, result['load_after']))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=1)


if __name__ == '__main__':
    main()
