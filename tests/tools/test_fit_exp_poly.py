#!/usr/bin/python3
"""tools/fit_exp_poly.py against the kernel it serves: VSiLU's coefficients in
kernels/simd/math-inl.h are the tool's, and the tool's measured error is the 2.95e-8 the
kernel's error bound is derived from."""
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
sys.path.insert(0, os.path.join(ROOT, 'tools'))
import fit_exp_poly  # noqa: E402


def main():
    coefficients, _ = fit_exp_poly.fit()
    err = fit_exp_poly.float32_error(coefficients)
    src = open(os.path.join(ROOT, 'kernels', 'simd', 'math-inl.h')).read()
    body = src[src.index('HWY_INLINE V VSiLU('):]
    body = body[:body.index('\n}\n')]
    in_kernel = [float(v) for v in re.findall(r'hn::Set\(d, (0\.0\d+|0\.[1-4]\d+)f\)', body)]
    failures = []
    for c in coefficients:
        if float(c) not in in_kernel:
            failures.append(f'coefficient {float(c)!r} is not in VSiLU (found {in_kernel})')
    if not err <= 2.95e-8:
        failures.append(f'float32 error {err:.4g} > 2.95e-8, the bound VSiLU derives from')
    if 'tools/fit_exp_poly.py' not in src:
        failures.append('VSiLU no longer names tools/fit_exp_poly.py')
    for f in failures:
        print('FAIL:', f)
    print(f'{len(coefficients)} coefficients, float32 error {err:.4g}')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
