#!/usr/bin/env python3
"""Builds the golden set the C++ tests compare against (the ctest fixture `goldens`).

  make_goldens.py OUTDIR [--variants t,s,m,l] [--images PNG ...] [--large-images N]
                  [--jobs N] [--force]

For each variant: make_checkpoint.py (seed 0, legacy torch format) -> OUTDIR/rtmo-V/
checkpoint.pth; tools/convert_checkpoint.py -> OUTDIR/rtmo-V/model.rtmo; dump_goldens.py on
every test image, float32 (the official pipeline) and float64 (the float64 reference,
model.double()):
  OUTDIR/rtmo-V/<image stem>/{<name>.npy, predictions.json, index.json}       float32
  OUTDIR/rtmo-V/<image stem>/f64/{<name>.npy, predictions.json, index.json}   float64
rtmo-m and rtmo-l use only the first --large-images (default 2) of the sorted images: the
float64 reference runs PyTorch's float64 convolutions through the reference BLAS, ~30 s
(m) and ~60 s (l) per image on one core, which would put the fixture at ~10 minutes.

Variants are built by --jobs worker processes (default 2), each single-threaded: the
goldens are the same bits for any --jobs (every reduction runs in one fixed order).

A variant is skipped when OUTDIR/rtmo-V/stamp.json matches the sha256 of every input (the
reference sources, the converter, the layouts, the images), the torch version and the
variant's image list, and every expected file exists, so re-running ctest is cheap; --force
rebuilds. Any failure exits non-zero (the golden tests then fail instead of skipping).
"""

import argparse
import concurrent.futures
import glob
import hashlib
import json
import multiprocessing
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
DEFAULT_VARIANTS = 't,s,m,l'
LARGE_VARIANTS = ('m', 'l')   # float64 too slow for every image: see --large-images
DEFAULT_LARGE_IMAGES = 2
# dump subdirectory per dtype, relative to OUTDIR/rtmo-V/<stem>/
DTYPE_SUBDIRS = (('float32', ''), ('float64', 'f64'))
# Network input sizes other than the variant's own (--input-size in the C++ command): float64
# dumps of the first image in <stem>/f64_<W>x<H>/, smaller, larger and non-square.
EXTRA_SIZES = {'t': ((320, 320), (960, 544))}
# The same first image as a JPEG (the C++ decoder equals cv2.imread pixel for pixel, so the
# comparison can start from the JPEG itself): float64 dumps in <stem>/f64_jpeg/.
JPEG_VARIANTS = ('t',)


def variant_images(variant: str, images, large_images: int):
    """The images a variant's goldens cover: all, or the first large_images for m and l."""
    images = sorted(images)
    return images[:large_images] if variant in LARGE_VARIANTS else images


def expected_files(vdir: str, images):
    """Every file a complete variant directory holds."""
    files = [os.path.join(vdir, 'checkpoint.pth'), os.path.join(vdir, 'model.rtmo')]
    for image in images:
        stem = os.path.join(vdir, os.path.splitext(os.path.basename(image))[0])
        for _, sub in DTYPE_SUBDIRS:
            d = os.path.join(stem, sub)
            files += [os.path.join(d, n + '.npy') for n in dump_goldens.DUMP_NAMES]
            files += [os.path.join(d, 'predictions.json'), os.path.join(d, 'index.json')]
    variant = os.path.basename(vdir)[len('rtmo-'):]
    if images:
        stem = os.path.join(vdir, os.path.splitext(os.path.basename(images[0]))[0])
        for w, h in EXTRA_SIZES.get(variant, ()):
            files.append(os.path.join(stem, f'f64_{w}x{h}', 'index.json'))
        if variant in JPEG_VARIANTS:
            files.append(os.path.join(stem, 'f64_jpeg', 'index.json'))
    return files


def inputs_digest(images) -> str:
    files = sorted(glob.glob(os.path.join(HERE, '*.py')))
    files += [CONVERTER] + sorted(glob.glob(os.path.join(REPO, 'weights', 'layouts', '*.txt')))
    files += [make_checkpoint.DEFAULT_CALIB_IMAGE] + list(images)
    h = hashlib.sha256(torch.__version__.encode())
    for f in files:
        h.update(os.path.relpath(f, REPO).encode())
        h.update(dump_goldens.sha256_file(f).encode())
    return h.hexdigest()


def up_to_date(variant: str, outdir: str, images, digest: str) -> bool:
    """True if OUTDIR/rtmo-V's stamp matches digest, the image list and the dtypes, and every
    expected file exists."""
    vdir = os.path.join(outdir, f'rtmo-{variant}')
    stamp = os.path.join(vdir, 'stamp.json')
    if not os.path.exists(stamp):
        return False
    with open(stamp) as f:
        old = json.load(f)
    stems = [os.path.splitext(os.path.basename(i))[0] for i in images]
    return (old.get('inputs_sha256') == digest and
            sorted(old.get('images', {})) == sorted(stems) and
            old.get('dtypes') == [d for d, _ in DTYPE_SUBDIRS] and
            all(os.path.exists(f) for f in expected_files(vdir, images)))


def build_variant(variant: str, outdir: str, images, digest: str) -> None:
    """(Re)builds OUTDIR/rtmo-V for `images` (variant_images). Single-threaded torch."""
    torch.set_num_threads(1)
    vdir = os.path.join(outdir, f'rtmo-{variant}')
    stamp = os.path.join(vdir, 'stamp.json')
    stems = [os.path.splitext(os.path.basename(i))[0] for i in images]
    if os.path.exists(vdir):
        shutil.rmtree(vdir)
    os.makedirs(vdir)
    t0 = time.time()
    ckpt, stats = make_checkpoint.make_checkpoint(variant, SEED)
    ckpt_path = os.path.join(vdir, 'checkpoint.pth')
    torch.save(ckpt, ckpt_path, _use_new_zipfile_serialization=False)
    subprocess.run([sys.executable, CONVERTER, ckpt_path, os.path.join(vdir, 'model.rtmo'),
                    '--quiet'], check=True)
    summary = {stem: {} for stem in stems}
    for dtype, sub in DTYPE_SUBDIRS:
        model = dump_goldens.load_model(ckpt_path, dtype)
        for image, stem in zip(images, stems):
            d = os.path.join(vdir, stem, sub)
            preds = dump_goldens.dump(model, ckpt_path, image, d)
            with open(os.path.join(d, 'index.json')) as f:
                cells = json.load(f)['names']['pre_nms.index']['shape'][0]
            summary[stem][dtype] = {'cells_passing': cells, 'people': len(preds['people'])}
    if EXTRA_SIZES.get(variant) and images:
        model = dump_goldens.load_model(ckpt_path, 'float64')
        for w, h in EXTRA_SIZES[variant]:
            dump_goldens.dump(model, ckpt_path, images[0],
                              os.path.join(vdir, stems[0], f'f64_{w}x{h}'), input_size=(w, h))
    if variant in JPEG_VARIANTS and images:
        jpeg = os.path.splitext(images[0])[0] + '.jpg'
        model = dump_goldens.load_model(ckpt_path, 'float64')
        dump_goldens.dump(model, ckpt_path, jpeg, os.path.join(vdir, stems[0], 'f64_jpeg'))
    with open(stamp, 'w') as f:
        json.dump({'inputs_sha256': digest, 'seed': SEED,
                   'dtypes': [d for d, _ in DTYPE_SUBDIRS], 'images': summary}, f, indent=1)
    print(f'make_goldens: rtmo-{variant} in {time.time() - t0:.1f} s: ' +
          ', '.join(f'{k}: ' + ' / '.join(f'{v[d]["cells_passing"]} cells, {v[d]["people"]} '
                                          f'people ({d})' for d, _ in DTYPE_SUBDIRS)
                    for k, v in summary.items()), flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('outdir')
    ap.add_argument('--variants', default=DEFAULT_VARIANTS)
    ap.add_argument('--images', nargs='*', default=DEFAULT_IMAGES)
    ap.add_argument('--large-images', type=int, default=DEFAULT_LARGE_IMAGES,
                    help='how many of the (sorted) images rtmo-m and rtmo-l use (default 2)')
    ap.add_argument('--jobs', type=int, default=2,
                    help='variants built in parallel, one process each (default 2)')
    ap.add_argument('--force', action='store_true')
    args = ap.parse_args(argv)
    if args.jobs < 1:
        raise SystemExit(f'make_goldens: --jobs {args.jobs}: expected >= 1')
    if not args.images:
        raise SystemExit('make_goldens: no test images (tests/data/coco/*.png)')
    if args.large_images < 1:
        raise SystemExit(f'make_goldens: --large-images {args.large_images}: expected >= 1')
    variants = args.variants.split(',')
    unknown = [v for v in variants if v not in rtmo_model.VARIANTS]
    if unknown:
        raise SystemExit(f'make_goldens: unknown variants {unknown} '
                         f'(expected some of {sorted(rtmo_model.VARIANTS)})')
    digest = inputs_digest(args.images)
    t0 = time.time()
    jobs = []
    for v in variants:
        images = variant_images(v, args.images, args.large_images)
        if not args.force and up_to_date(v, args.outdir, images, digest):
            print(f'make_goldens: rtmo-{v} up to date ({os.path.join(args.outdir, "rtmo-" + v)})')
        else:
            jobs.append((v, args.outdir, images, digest))
    if args.jobs == 1 or len(jobs) <= 1:
        for job in jobs:
            build_variant(*job)
    else:
        # Costliest first (l, m, s, t: the float64 dumps dominate) so the workers finish
        # together. 'spawn': no fork of a process that has loaded torch's OpenMP runtime.
        order = {'l': 0, 'm': 1, 's': 2, 't': 3}
        jobs.sort(key=lambda j: order.get(j[0], 4))
        ctx = multiprocessing.get_context('spawn')
        with concurrent.futures.ProcessPoolExecutor(args.jobs, mp_context=ctx) as pool:
            futures = [pool.submit(build_variant, *job) for job in jobs]
            for f in futures:
                f.result()  # re-raises a worker's failure: exit non-zero
    print(f'make_goldens: done in {time.time() - t0:.1f} s')


if __name__ == '__main__':
    main()
