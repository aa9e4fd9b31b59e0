#!/usr/bin/python3
"""Renders `bench/run.sh --contention` (driver.py's latency JSON, taken while one competing
single-threaded busy loop ran) as a Markdown section and a small JSON summary.

usage: contention_report.py --latency FILE --load "L1 L5 L15 / L1 L5 L15" [--note TEXT]
                            --json OUT --md OUT
Per engine and thread count: median, p90 and min of the timed rounds. Ours is given twice:
the network alone (network_ms, what ORT's figure covers) and image -> poses (total_ms).
Ratios are of medians (and of p90s) from the same interleaved run. "baseline" is another
build of ours (run.sh --baseline BIN), e.g. from before a change.
"""
import argparse
import datetime
import json
import subprocess


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--latency', required=True)
    ap.add_argument('--load', default='')
    ap.add_argument('--note', default='')
    ap.add_argument('--json', required=True)
    ap.add_argument('--md', required=True)
    ap.add_argument('--append', default='',
                    help='also append the section to this file (bench/contention.md, which '
                         'report.py carries into bench/RESULTS.md)')
    args = ap.parse_args()
    lat = json.load(open(args.latency))
    commit = subprocess.run(['git', 'rev-parse', '--short=12', 'HEAD'], capture_output=True,
                            text=True).stdout.strip()
    rows, summary = [], {}
    for run in lat['runs']:
        v, t = run['variant'], run['threads']
        for e, d in run['engines'].items():
            for key, what in (('network_ms', 'network'), ('total_ms', 'image -> poses')):
                if key not in d['stats'] or (e == 'ort' and key == 'total_ms'):
                    continue
                st = d['stats'][key]
                summary['%s/%s/%dt/%s' % (v, e, t, key[:-3])] = {
                    k: round(st[k], 2) for k in ('median', 'p90', 'min', 'n')}
                rows.append((v, e, t, what, st))
    md = ['## Contention (%s)' % datetime.datetime.utcnow().strftime('%Y-%m-%d %H:%M UTC'), '',
          '`bench/run.sh --contention`: ours and ONNX Runtime interleaved as in the main table, '
          'while one competing single-threaded busy loop (`sh -c \'while :; do :; done\'`, not '
          'pinned) runs on the same 2 cores. Commit %s; load average (1/5/15 min) before / '
          'after: %s (the busy loop itself adds 1).' % (commit, args.load), '']
    if args.note:
        md += ['> ' + args.note, '']
    md += ['| rtmo | engine | threads | what | median ms | p90 ms | min ms | rounds |',
           '|---|---|---:|---|---:|---:|---:|---:|']
    for v, e, t, what, st in rows:
        md.append('| %s | %s | %d | %s | %.1f | %.1f | %.1f | %d |' %
                  (v, e, t, what, st['median'], st['p90'], st['min'], st['n']))
    md.append('')
    ratios = []
    for v in sorted({r[0] for r in rows}):
        g = lambda e, t, k: summary.get('%s/%s/%dt/%s' % (v, e, t, k))
        for t in (1, 2):
            a, b = g('ours', t, 'network'), g('ort', t, 'network')
            if a and b:
                ratios.append('rtmo-%s, %d thread(s): ours/ORT network %.2fx (median), %.2fx '
                              '(p90); ours image -> poses / ORT network %.2fx (median)' %
                              (v, t, a['median'] / b['median'], a['p90'] / b['p90'],
                               g('ours', t, 'total')['median'] / b['median']))
        for e in ('ours', 'baseline'):
            a1, a2 = g(e, 1, 'total'), g(e, 2, 'total')
            if a1 and a2:
                ratios.append('rtmo-%s: %s 2 threads / %s 1 thread, image -> poses: %.2fx '
                              '(median), %.2fx (p90)' % (v, e, e, a2['median'] / a1['median'],
                                                         a2['p90'] / a1['p90']))
        for t in (1, 2):
            a, b = g('ours', t, 'total'), g('baseline', t, 'total')
            if a and b:
                ratios.append('rtmo-%s, %d thread(s): ours / baseline, image -> poses: %.2fx '
                              '(median), %.2fx (p90)' % (v, t, a['median'] / b['median'],
                                                         a['p90'] / b['p90']))
    md += ['- ' + r for r in ratios] + ['']
    json.dump({'commit': commit, 'load': args.load, 'note': args.note, 'stats': summary,
               'ratios': ratios}, open(args.json, 'w'), indent=1)
    open(args.md, 'w').write('\n'.join(md))
    if args.append:
        with open(args.append, 'a') as f:
            f.write('\n'.join(md) + '\n')
    print('\n'.join(md))


if __name__ == '__main__':
    main()
