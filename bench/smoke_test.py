#!/usr/bin/python3
"""Smoke test of the benchmark harness (ctest `bench_smoke`, label tools): the pieces of
bench/run.sh on rtmo-t with 2 rounds, on the goldens fixture's seeded checkpoint. Checks
that the harness works and agrees with the reference, never how fast anything is.

usage: smoke_test.py E2E_BENCH GOLDENS_DIR
  E2E_BENCH    the built bench/e2e_bench
  GOLDENS_DIR  ${CMAKE_BINARY_DIR}/goldens (rtmo-t/checkpoint.pth, model.rtmo, dumps)
ONNX Runtime joins only when bench/node_modules has onnxruntime-node (tools/setup.sh
--bench; CI does not install it) and then needs the ONNX export, so it is left out here.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = '/usr/bin/python3'
IMAGE = os.path.join(ROOT, 'tests', 'data', 'coco', '000000000785.png')


def run(*argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=300, **kw)
    if r.returncode != 0:
        sys.exit('FAILED: %s\nstdout:\n%s\nstderr:\n%s' % (' '.join(argv), r.stdout[-3000:],
                                                          r.stderr[-3000:]))
    return r.stdout


def check(cond, what):
    if not cond:
        sys.exit('FAILED: ' + what)
    print('ok:', what)


def main():
    e2e, goldens = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    g = os.path.join(goldens, 'rtmo-t')
    work = tempfile.mkdtemp(prefix='rtmo-bench-smoke-')
    os.symlink(os.path.join(g, 'model.rtmo'), os.path.join(work, 'rtmo-t.rtmo'))
    os.symlink(os.path.join(g, 'checkpoint.pth'), os.path.join(work, 'rtmo-t.pth'))

    # Network input written by ours = what ORT/PyTorch get; the reference dumped the same.
    inp = os.path.join(work, 'input-t.f32')
    run(e2e, 'input', os.path.join(work, 'rtmo-t.rtmo'), IMAGE, inp)
    check(os.path.getsize(inp) == 3 * 416 * 416 * 4, 'input-t.f32 is [3, 416, 416] float32')

    run(PY, os.path.join(HERE, 'driver.py'), '--work', work, '--ours', e2e, '--image', IMAGE,
        '--variants', 't', '--threads', '1,2', '--engines', 'ours,torch', '--iters', '2',
        '--warmup', '1', '--gap-ms', '0', '--out', os.path.join(work, 'latency.json'))
    lat = json.load(open(os.path.join(work, 'latency.json')))
    check(len(lat['runs']) == 2 and not any(r['skipped'] for r in lat['runs']),
          'driver measured ours and PyTorch with 1 and 2 threads')
    golden = json.load(open(os.path.join(g, '000000000785', 'predictions.json')))
    for r in lat['runs']:
        ours = r['engines']['ours']
        check(ours['last']['people'] == len(golden['people']),
              'ours finds the reference\'s %d people (%d threads)' % (len(golden['people']),
                                                                    r['threads']))
        s = {k: ours['runs'][k] for k in ('preprocess_ms', 'network_ms', 'postprocess_ms',
                                          'total_ms')}
        check(all(len(v) == 2 and all(x > 0 for x in v) for v in s.values()),
              'ours reports 2 positive stage times per stage')
        check(all(s['preprocess_ms'][i] + s['network_ms'][i] + s['postprocess_ms'][i]
                  <= s['total_ms'][i] * 1.001 for i in range(2)),
              'stages add up to at most the Predict wall-clock')
        check(len(r['engines']['torch']['runs']['network_ms']) == 2, 'PyTorch timed twice')

    prof = json.loads(run(e2e, 'profile', os.path.join(work, 'rtmo-t.rtmo'), IMAGE, '1', '2'))
    names = [m['name'] for m in prof['modules']]
    expected = ['preprocess', 'backbone.stem', 'backbone.stage1', 'backbone.stage2',
                'backbone.stage3', 'backbone.stage4', 'neck.input_proj', 'neck.encoder',
                'neck.fpn', 'neck.pan', 'neck.projector', 'head',
                'post.decode', 'post.nms', 'post.dcc', 'post.output']
    check(names == expected, 'profile laps in pipeline order: %s' % names)
    with open(os.path.join(work, 'profile-s.json'), 'w') as f:  # rendered as the s table
        json.dump(prof, f)

    ppl = json.loads(run(e2e, 'people', os.path.join(work, 'rtmo-t.rtmo'), IMAGE, '1', '2'))
    check([r['people'] for r in ppl['rows']] == [0, 1, 5, 20, 50, 100],
          'people scaling hits exactly 0/1/5/20/50/100 people after NMS')
    with open(os.path.join(work, 'people-s.json'), 'w') as f:  # rendered as the s table
        json.dump(ppl, f)

    run(PY, os.path.join(HERE, 'macs.py'), '--work', work, '--variants', 't', '--out',
        os.path.join(work, 'macs.json'))
    macs = json.load(open(os.path.join(work, 'macs.json')))['t']
    # Focus stem of rtmo-t: 3x3 conv 12 -> 24 channels on a 208 x 208 output.
    check(macs['parts']['backbone.stem'] == 208 * 208 * 24 * 12 * 9, 'stem MACs = 208*208*24*12*9')
    check(macs['total'] == sum(v for k, v in macs['parts'].items() if not k.startswith('folded')),
          'MAC parts add up to the total')
    # DCC per person: x_fc + y_fc on 192 + 256 bins of 128 features are most of it.
    check(macs['dcc_per_person'] > (192 + 256) * 128 * 128, 'DCC MACs include x_fc/y_fc')

    run(PY, os.path.join(HERE, 'report.py'), '--work', work, '--json',
        os.path.join(work, 'results.json'), '--md', os.path.join(work, 'RESULTS.md'))
    md = open(os.path.join(work, 'RESULTS.md')).read()
    check('| rtmo-t | 1 |' in md and '| rtmo-t | 2 |' in md and 'People-count scaling' in md,
          'RESULTS.md has the headline rows and the people table')
    shutil.rmtree(work)
    print('bench smoke test passed')


if __name__ == '__main__':
    main()
