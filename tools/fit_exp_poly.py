#!/usr/bin/python3
"""Fits the polynomial of VSiLU's exp (kernels/simd/math-inl.h) and bounds its error.

e^f = 1 + f + f^2 P(f) on |f| <= ln2/2, P of degree 4. P is fitted to (e^f - 1 - f) / f^2
by weighted least squares, the weights iterated toward the minimax solution for the
relative error of e^f. Prints the float32 coefficients and the largest relative error of
1 + s (s = f + f^2 P(f) evaluated in float32 exactly as the kernel does: Estrin's scheme,
each FMA rounded once) against e^f in double, before the kernel's final rounding.

usage: /usr/bin/python3 tools/fit_exp_poly.py   (needs numpy)
"""
import numpy as np

F32 = np.float32
HALF_LN2 = np.log(2) / 2 * 1.0001  # a little past ln2/2: n's rounding is not exact


def fit(degree=4, iterations=60):
    xs = np.cos(np.linspace(0, np.pi, 4001)) * HALF_LN2
    xs = xs[np.abs(xs) > 1e-6]
    g = (np.expm1(xs) - xs) / xs**2
    w = np.ones_like(xs)
    a = np.vander(xs, degree + 1, increasing=True)
    for _ in range(iterations):
        scale = w * xs**2 / np.exp(xs)  # error of P times f^2 / e^f: relative error of e^f
        c, *_ = np.linalg.lstsq(a * scale[:, None], g * scale, rcond=None)
        err = (a @ c - g) * xs**2 / np.exp(xs)
        w *= np.abs(err) ** 0.3 + 1e-30
        w /= w.mean()
    return c.astype(F32), np.abs(err).max()


def fma(a, b, c):
    return (np.float64(a) * np.float64(b) + np.float64(c)).astype(F32)


def float32_error(c, points=200001):
    f = np.linspace(-HALF_LN2, HALF_LN2, points).astype(F32)
    f2 = f * f
    f4 = f2 * f2
    p = fma(fma(c[3], f, c[2]), f2, fma(c[1], f, c[0]))
    p = fma(c[4], f4, p)
    s = fma(p, f2, f)
    return np.abs((np.float64(s) + 1.0) / np.exp(np.float64(f)) - 1).max()


if __name__ == '__main__':
    c, err64 = fit()
    print('coefficients (float32):', ', '.join(repr(float(v)) for v in c))
    print(f'max relative error, double coefficients: {err64:.3g}')
    print(f'max relative error of 1 + s in float32: {float32_error(c):.3g}')
