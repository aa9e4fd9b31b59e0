#!/usr/bin/python3
"""Interleaved latency comparison: ours (bench/e2e_bench), ONNX Runtime (bench/ort_worker.mjs)
and PyTorch eager (bench/torch_worker.py) on the same network and weights.

Each engine is a persistent worker process that loads its model once and then runs one
inference per `run` line on its stdin, answering one JSON line (protocol in each worker's
header). The driver warms every engine up, then does `--iters` rounds; in each round every
engine runs once, in an order rotated from round to round, so that machine noise (other
processes, frequency changes) hits all engines alike. After each run the driver waits until
that engine's process has stopped using CPU (`settle`), then pauses `--gap-ms`, so that the
next engine starts on an otherwise idle machine: ONNX Runtime's pool threads keep spinning
for tens of milliseconds after a run returns (measured: 30-50 ms of CPU time within 50 ms
of an rtmo-t run on 2 threads), which a fixed 20 ms pause left running into the next
engine's run. The settle times are recorded per engine (`settle_ms`).

usage: driver.py --work DIR --variants t,s --threads 1,2 --iters 20 --warmup 3 --out FILE
  DIR holds, per variant V: rtmo-V.rtmo, rtmo-V.onnx, rtmo-V.pth, input-V.f32 (run.sh makes
  them). A missing artefact skips that engine with the reason recorded, never silently.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
INPUT_SIZE = {'t': 416, 's': 640, 'm': 640, 'l': 640}


class Worker:
    """One engine process speaking the one-line-per-command protocol."""

    def __init__(self, name, argv, env, log_path):
        self.name = name
        self.log = open(log_path, 'w')
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True, bufsize=1, env=env, cwd=ROOT)
        self.ready = self._read()
        self.log_path = log_path

    def _read(self):
        while True:
            line = self.proc.stdout.readline()
            if not line:
                self.proc.wait()
                self.log.flush()
                tail = open(self.log.name).read()[-2000:]
                raise RuntimeError('%s worker exited (code %s); stderr tail:\n%s' %
                                   (self.name, self.proc.returncode, tail))
            line = line.strip()
            if line.startswith('{'):  # anything else is a library's chatter: ignore
                msg = json.loads(line)
                if 'error' in msg:
                    raise RuntimeError('%s worker: %s' % (self.name, msg['error']))
                return msg

    def run(self):
        self.proc.stdin.write('run\n')
        self.proc.stdin.flush()
        return self._read()

    def cpu_ns(self):
        """CPU time used so far by all threads of the worker, in ns (scheduler statistics)."""
        total = 0
        task_dir = '/proc/%d/task' % self.proc.pid
        for tid in os.listdir(task_dir):
            try:
                with open(os.path.join(task_dir, tid, 'schedstat')) as f:
                    total += int(f.read().split()[0])
            except (FileNotFoundError, ProcessLookupError):  # a thread that just ended
                pass
        return total

    def settle(self, window_s=0.01, quiet_ns=500_000, cap_s=2.0):
        """Waits until the worker has used under `quiet_ns` of CPU in the last `window_s`
        (its pool threads asleep), at most `cap_s`; returns the seconds waited."""
        t0 = time.monotonic()
        last = self.cpu_ns()
        while time.monotonic() - t0 < cap_s:
            time.sleep(window_s)
            now = self.cpu_ns()
            if now - last < quiet_ns:
                break
            last = now
        return time.monotonic() - t0

    def close(self):
        try:
            self.proc.stdin.write('quit\n')
            self.proc.stdin.flush()
            self.proc.wait(timeout=30)
        except Exception:  # already gone or stuck: end it (it is our own child)
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def p90(xs):
    """90th percentile, linear interpolation between order statistics (numpy's default)."""
    ys = sorted(xs)
    pos = 0.9 * (len(ys) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ys) - 1)
    return ys[lo] + (ys[hi] - ys[lo]) * (pos - lo)


def stats(xs):
    return {'median': statistics.median(xs), 'p90': p90(xs), 'min': min(xs), 'max': max(xs),
            'n': len(xs)}


def engine_argv(engine, variant, threads, work, ours_bin, image, baseline_bin=''):
    base = os.path.join(work, 'rtmo-%s' % variant)
    size = INPUT_SIZE[variant]
    if engine in ('ours', 'baseline'):
        # baseline: another build of e2e_bench (--baseline), e.g. before a change, run
        # interleaved with ours so that both see the same machine conditions.
        binary = ours_bin if engine == 'ours' else baseline_bin
        need = [binary, base + '.rtmo']
        argv = [binary, 'serve', base + '.rtmo', image, str(threads)]
    elif engine == 'ort':
        need = [base + '.onnx', os.path.join(work, 'input-%s.f32' % variant)]
        argv = ['node', os.path.join(HERE, 'ort_worker.mjs'), base + '.onnx', str(threads),
                os.path.join(work, 'input-%s.f32' % variant), str(size)]
    elif engine == 'torch':
        need = [base + '.pth', os.path.join(work, 'input-%s.f32' % variant)]
        argv = ['/usr/bin/python3', os.path.join(HERE, 'torch_worker.py'), base + '.pth',
                str(threads), os.path.join(work, 'input-%s.f32' % variant), str(size)]
    else:
        raise ValueError(engine)
    missing = [p for p in need if not os.path.exists(p)]
    return argv, missing


def measure(variant, threads, args):
    env = dict(os.environ)
    # Every engine gets the same thread budget; OpenMP/BLAS pools sized to match.
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS=str(threads))
    workers, skipped = {}, {}
    load_before = open('/proc/loadavg').read().split()[0]
    try:
        for e in args.engines:
            argv, missing = engine_argv(e, variant, threads, args.work, args.ours, args.image,
                                        args.baseline)
            if missing:
                skipped[e] = 'missing ' + ', '.join(missing)
                print('  %s: skipped (%s)' % (e, skipped[e]), flush=True)
                continue
            log = os.path.join(args.work, 'log-%s-%s-%dt.txt' % (e, variant, threads))
            wenv = dict(env)
            if e == 'torch' and args.torch_blas:
                wenv['LD_LIBRARY_PATH'] = args.torch_blas + (
                    ':' + env['LD_LIBRARY_PATH'] if env.get('LD_LIBRARY_PATH') else '')
            if e == 'torch' and args.torch_preload:
                wenv['LD_PRELOAD'] = args.torch_preload
            try:
                workers[e] = Worker(e, argv, wenv, log)
            except RuntimeError as err:
                skipped[e] = 'failed to start: %s' % str(err).splitlines()[0]
                print('  %s: %s (log %s)' % (e, skipped[e], log), flush=True)
        names = list(workers)
        samples = {e: [] for e in names}
        settle = {e: [] for e in names}
        gap = args.gap_ms / 1000.0
        for i in range(args.warmup + args.iters):
            k = i % max(1, len(names))
            for e in names[k:] + names[:k]:
                if e in skipped:
                    continue
                time.sleep(gap)
                try:
                    r = workers[e].run()
                except RuntimeError as err:  # one engine failing must not lose the others
                    skipped[e] = 'failed in round %d: %s' % (i, str(err).splitlines()[0])
                    print('  %s: %s' % (e, skipped[e]), flush=True)
                    continue
                waited = workers[e].settle()
                if i >= args.warmup:
                    samples[e].append(r)
                    settle[e].append(waited * 1e3)
        names = [e for e in names if e not in skipped]
        out = {'variant': variant, 'threads': threads, 'iters': args.iters,
               'warmup': args.warmup, 'skipped': skipped, 'engines': {},
               'loadavg_1min': [float(load_before),
                                float(open('/proc/loadavg').read().split()[0])]}
        for e in names:
            keys = [k for k in samples[e][0] if k.endswith('_ms')]
            out['engines'][e] = {
                'ready': workers[e].ready,
                'stats': {k: stats([s[k] for s in samples[e]]) for k in keys},
                'runs': {k: [round(s[k], 4) for s in samples[e]] for k in keys},
                # How long the process kept using CPU after answering (to the 10 ms poll).
                'settle_ms': stats(settle[e]),
            }
            extra = {k: v for k, v in samples[e][-1].items() if not k.endswith('_ms')}
            if extra:
                out['engines'][e]['last'] = extra
        return out
    finally:
        for w in workers.values():
            w.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--work', required=True)
    ap.add_argument('--ours', default=os.path.join(ROOT, 'build-bench', 'bench', 'e2e_bench'))
    ap.add_argument('--image', default=os.path.join(ROOT, 'tests', 'data', 'coco',
                                                    '000000000785.png'))
    ap.add_argument('--variants', default='t,s,m,l')
    ap.add_argument('--threads', default='1,2')
    ap.add_argument('--engines', default='ours,ort,torch',
                    help='any of ours, ort, torch, baseline (needs --baseline)')
    ap.add_argument('--baseline', default='',
                    help='another e2e_bench binary, the engine "baseline" (before/after runs)')
    ap.add_argument('--iters', type=int, default=20)
    ap.add_argument('--warmup', type=int, default=3)
    ap.add_argument('--torch-blas', default='',
                    help='directory with a libblas.so.3 for the PyTorch worker (LD_LIBRARY_PATH)')
    ap.add_argument('--torch-preload', default='',
                    help='allocator library LD_PRELOADed into the PyTorch worker (jemalloc)')
    ap.add_argument('--gap-ms', type=float, default=20.0)
    ap.add_argument('--out', required=True)
    args = ap.parse_args()
    args.engines = args.engines.split(',')
    results = []
    for v in args.variants.split(','):
        for t in [int(x) for x in args.threads.split(',')]:
            print('rtmo-%s, %d thread(s): %d warm-up + %d timed rounds of %s' %
                  (v, t, args.warmup, args.iters, ', '.join(args.engines)), flush=True)
            r = measure(v, t, args)
            for e, d in r['engines'].items():
                s = d['stats']
                print('  %-5s ' % e + '  '.join('%s %.1f/%.1f/%.1f' % (k[:-3], s[k]['median'],
                                                                       s[k]['p90'], s[k]['min'])
                                               for k in s) + '  (median/p90/min ms)', flush=True)
            results.append(r)
    with open(args.out, 'w') as f:
        json.dump({'image': os.path.relpath(args.image, ROOT), 'gap_ms': args.gap_ms,
                   'runs': results}, f, indent=1)


if __name__ == '__main__':
    sys.exit(main())
