#!/usr/bin/env python3
"""Builds the golden set the C++ tests compare against (the ctest fixture `goldens`).

  make_goldens.py OUTDIR [--variants t,s] [--images PNG ...] [--force]

For each variant: make_checkpoint.py (seed 0, legacy torch format) -> OUTDIR/rtmo-V/
checkpoint.pth; tools/convert_checkpoint.py -> OUTDIR/rtmo-V/model.rtmo; dump_goldens.py on
every test image -> OUTDIR/rtmo-V/<image stem>/{<name>.npy, predictions.json, index.json}.

A variant is skipped when OUTDIR/rtmo-V/stamp.json matches the sha256 of every input (the
reference sources, the converter, the layouts, the images) and the torch version, so
re-running ctest is cheap; --force rebuilds. Any failure exits non-zero (the golden tests
then fail instead of skipping).
"""

import argparse
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import dump_goldens  # noqa: E402
import make_checkpoint  # noqa: E402
import model as rtmo_model  # noqa: E402

REPO = os.path.normpath(os.path.join(HERE, '..', '..'))
CONVERTER = os.path.join(REPO, 'tools', 'convert_checkpoint.py')
DEFAULT_IMAGES = sorted(glob.glob(os.path.join(REPO, 'tests', 'data', 'coco', '*.png')))
SEED = 0


def inputs_digest(images) -> str:
    files = sorted(glob.glob(os.path.join(HERE, '*.py')))
    files += [CONVERTER] + sorted(glob.glob(os.path.join(REPO, 'weights', 'layouts', '*.txt')))
    files += [make_checkpoint.DEFAULT_CALIB_IMAGE] + list(images)
    h = hashlib.sha256(torch.__version__.encode())
    for f in files:
        h.update(os.path.relpath(f, REPO).encode())
        h.update(dump_goldens.sha256_file(f).encode())
    return h.hexdigest()


def build_variant(variant: str, outdir: str, images, digest: str, force: bool) -> None:
    vdir = os.path.join(outdir, f'rtmo-{variant}')
    stamp = os.path.join(vdir, 'stamp.json')
    if not force and os.path.exists(stamp):
        with open(stamp) as f:
            up_to_date = json.load(f).get('inputs_sha256') == digest
        expected = [os.path.join(vdir, 'checkpoint.pth'), os.path.join(vdir, 'model.rtmo')]
        for image in images:
            stem = os.path.join(vdir, os.path.splitext(os.path.basename(image))[0])
            expected += [os.path.join(stem, n + '.npy') for n in dump_goldens.DUMP_NAMES]
            expected += [os.path.join(stem, 'predictions.json'), os.path.join(stem, 'index.json')]
        if up_to_date and all(os.path.exists(f) for f in expected):
            print(f'make_goldens: rtmo-{variant} up to date ({vdir})')
            return
    if os.path.exists(vdir):
        shutil.rmtree(vdir)
    os.makedirs(vdir)
    t0 = time.time()
    ckpt, stats = make_checkpoint.make_checkpoint(variant, SEED)
    ckpt_path = os.path.join(vdir, 'checkpoint.pth')
    torch.save(ckpt, ckpt_path, _use_new_zipfile_serialization=False)
    subprocess.run([sys.executable, CONVERTER, ckpt_path, os.path.join(vdir, 'model.rtmo'),
                    '--quiet'], check=True)
    model, _ = rtmo_model.load_checkpoint(ckpt_path)
    summary = {}
    for image in images:
        stem = os.path.splitext(os.path.basename(image))[0]
        preds = dump_goldens.dump(model, ckpt_path, image, os.path.join(vdir, stem))
        with open(os.path.join(vdir, stem, 'index.json')) as f:
            cells = json.load(f)['names']['pre_nms.index']['shape'][0]
        summary[stem] = {'cells_passing': cells, 'people': len(preds['people'])}
    with open(stamp, 'w') as f:
        json.dump({'inputs_sha256': digest, 'seed': SEED, 'images': summary}, f, indent=1)
    print(f'make_goldens: rtmo-{variant} in {time.time() - t0:.1f} s: ' +
          ', '.join(f'{k}: {v["cells_passing"]} cells, {v["people"]} people'
                    for k, v in summary.items()))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('outdir')
    ap.add_argument('--variants', default='t,s')
    ap.add_argument('--images', nargs='*', default=DEFAULT_IMAGES)
    ap.add_argument('--force', action='store_true')
    args = ap.parse_args(argv)
    if not args.images:
        raise SystemExit('make_goldens: no test images (tests/data/coco/*.png)')
    torch.set_num_threads(1)
    digest = inputs_digest(args.images)
    for v in args.variants.split(','):
        build_variant(v, args.outdir, args.images, digest, args.force)


if __name__ == '__main__':
    main()
