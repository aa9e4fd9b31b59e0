// Vector transcendental helpers shared by the SIMD kernels (one copy per Highway target).
// Highway per-target include guard: this file is re-included once per target by
// hwy/foreach_target.h, so the guard toggles instead of staying defined.
#if defined(RTMO_KERNELS_SIMD_MATH_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef RTMO_KERNELS_SIMD_MATH_INL_H_
#undef RTMO_KERNELS_SIMD_MATH_INL_H_
#else
#define RTMO_KERNELS_SIMD_MATH_INL_H_
#endif

#include <cstring>

#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace rtmo::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// exp(x): Highway's contrib Exp (documented max error 1 ULP; returns 0 below -104 and
// +inf above ~88.72 through its two-step 2^q reconstruction).
template <class D, class V>
HWY_INLINE V VExp(D d, V x) {
  return hn::Exp(d, x);
}

// exp(-|x|) in (0, 1]: the argument is never positive, so it cannot overflow (Highway's
// Exp is only valid up to +104 and returns garbage beyond; exp(-x) for x < -88.7 would be
// +inf even where it is valid).
template <class D, class V>
HWY_INLINE V ExpNegAbs(D d, V x) {
  return VExp(d, hn::Neg(hn::Abs(x)));
}

// sigmoid(x) = 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0, with e = exp(-|x|):
// three roundings after exp, no overflow for any finite x.
template <class D, class V>
HWY_INLINE V VSigmoid(D d, V x) {
  const V e = ExpNegAbs(d, x);
  const V num = hn::IfThenElse(hn::Lt(x, hn::Zero(d)), e, hn::Set(d, 1.0f));
  return hn::Div(num, hn::Add(hn::Set(d, 1.0f), e));
}

// silu(x) = x * sigmoid(x) = x / (1 + e) (x >= 0) or x * e / (1 + e) (x < 0), with
// e = exp(-|x|) computed here rather than by VExp: SiLU follows every conv of the network
// (30 M outputs in rtmo-s), and there it is bound by its dependency chain, not by the
// arithmetic units (bench/KERNELS.md). This exp needs no general range: its argument t is
// never positive, one scaling by 2^n replaces Highway's two, and the rounding of n is
// the 1.5 * 2^23 shifter's (one FMA and one subtraction). Measured 1.6x faster on AVX2.
//
// Error bound (derived; the kernels test sweeps it): t - n ln2 in two FMA steps (ln2_hi
// has 16 significant bits, so n * ln2_hi is exact for |n| < 256) leaves an absolute error
// <= 2^-26 in f, i.e. a relative error <= 1.5e-8 in e^f; the polynomial with its float32
// coefficients and Estrin evaluation is within 2.95e-8 of e^f on |f| <= ln2/2 (fitted and
// measured on 200001 points by tools/fit_exp_poly.py); then four roundings (e, the
// product, 1 + e, the division) of 2^-24 each. The relative error of e enters the result
// with the factor 1 / (1 + e) <= 1, so the total is <= 4.44e-8 + 4 * 2^-24 = 2.83e-7
// relative, i.e. < 5 ULP.
//
// Below t = -64 the exponent n (down to -181 at t = -125) would leave float's normal
// range; there 2^(n+64) is used and x is scaled by 2^-64 instead (both exact), so x * e
// keeps full precision down to the subnormal results near x = -100. Below t = -125 the
// result underflows to -0 for x < 0 (or is x for x > 0) and e is set to 0. Special values
// come out as PyTorch's x * sigmoid(x): silu(+inf) = +inf, silu(-inf) = -inf * 0 = NaN,
// silu(NaN) = NaN (it fails the comparison, and x carries it to the result).
template <class D, class V>
HWY_INLINE V VSiLU(D d, V x) {
  const hn::RebindToSigned<D> di;
  const V t = hn::Or(x, hn::Set(d, -0.0f));  // -|x|
  // n = round(t / ln2): adding 1.5 * 2^23 rounds to an integer, held in r's low bits.
  const V shifter = hn::Set(d, 12582912.0f);
  const V r = hn::MulAdd(t, hn::Set(d, 1.44269504088896341f), shifter);
  const V n = hn::Sub(r, shifter);
  V f = hn::MulAdd(n, hn::Set(d, -0.693145751953125f), t);  // t - n ln2_hi, exact
  f = hn::MulAdd(n, hn::Set(d, -1.428606765330187045e-6f), f);
  // e^f - 1 = f + f^2 P(f), P of degree 4 (Estrin's scheme: a shorter chain than Horner).
  const V f2 = hn::Mul(f, f);
  const V f4 = hn::Mul(f2, f2);
  const V p01 = hn::MulAdd(hn::Set(d, 0.1666652113199234f), f, hn::Set(d, 0.4999999403953552f));
  const V p23 = hn::MulAdd(hn::Set(d, 0.0083687175065279f), f, hn::Set(d, 0.04166838899254799f));
  V p = hn::MulAdd(p23, f2, p01);
  p = hn::MulAdd(hn::Set(d, 0.0013814592966809869f), f4, p);
  const V em1 = hn::MulAdd(p, f2, f);
  // 2^n (2^(n+64) below t = -64) from n's integer bits: (n + 127) << 23.
  const auto deep = hn::Lt(t, hn::Set(d, -64.0f));
  auto ni = hn::Sub(hn::BitCast(di, r), hn::BitCast(di, shifter));
  ni = hn::Add(ni, hn::Set(di, 127));
  ni = hn::Add(ni, hn::And(hn::BitCast(di, hn::VecFromMask(d, deep)), hn::Set(di, 64)));
  const V scale = hn::BitCast(d, hn::ShiftLeft<23>(ni));
  const V e = hn::IfThenElseZero(hn::Ge(t, hn::Set(d, -125.0f)), hn::MulAdd(em1, scale, scale));
  const V xs = hn::Mul(x, hn::IfThenElse(deep, hn::Set(d, 0x1p-64f), hn::Set(d, 1.0f)));
  const V num = hn::IfThenElse(hn::Lt(x, hn::Zero(d)), hn::Mul(xs, e), x);
  return hn::Div(num, hn::Add(hn::Set(d, 1.0f), e));
}

// Splits x into hi + lo where hi keeps the top 12 significand bits, so hi * hi is exact
// in float32 (Veltkamp/Dekker splitting done with a bit mask; needs no FMA, so the result
// is the same on targets that emulate MulAdd).
template <class D, class V>
HWY_INLINE V HighHalf(D d, V x) {
  const hn::RebindToUnsigned<D> du;
  return hn::BitCast(d, hn::And(hn::BitCast(du, x), hn::Set(du, 0xFFFFF000u)));
}

// GELU with the exact erf: x/2 * (1 + erf(x / sqrt2)) = x/2 * erfc(-x / sqrt2).
//
// erfc(z) for z >= 0 is evaluated as t * exp(-z^2 + P(u)), t = 1 / (1 + z/2),
// u = (t - 0.58) / 0.42 in [-1, 1] for z in [0, 10.5]; P is a degree-10 polynomial we
// fitted (weighted least squares iterated toward minimax, tools: numpy) to
// log(erfc(z)) + z^2 - log(t); its max error is 6.8e-9 in double and 1.3e-7 when
// evaluated in float32 Horner form. For z < 0, erfc(z) = 2 - erfc(-z).
// z^2 = x^2 / 2 is formed without rounding: x = hi + lo with hi*hi exact, so
// exp(-z^2) = exp(-hi*hi/2) * exp(-lo*(x+hi)/2); a rounded z^2 would cost up to
// z^2 * eps relative error (64 ULP at z = 8). Measured max error: see kernels tests.
template <class D, class V>
HWY_INLINE V VGelu(D d, V x) {
  const V ax = hn::Abs(x);
  const V z = hn::Mul(ax, hn::Set(d, 0.70710678118654752f));  // |x| / sqrt2
  const V t = hn::Div(hn::Set(d, 1.0f), hn::MulAdd(z, hn::Set(d, 0.5f), hn::Set(d, 1.0f)));
  const V u = hn::Mul(hn::Sub(t, hn::Set(d, 0.58f)), hn::Set(d, 1.0f / 0.42f));
  V p = hn::Set(d, -2.2840036763227545e-05f);
  p = hn::MulAdd(p, u, hn::Set(d, 6.076300633139908e-05f));
  p = hn::MulAdd(p, u, hn::Set(d, 0.00012960350431967527f));
  p = hn::MulAdd(p, u, hn::Set(d, -0.0005734123988077044f));
  p = hn::MulAdd(p, u, hn::Set(d, -0.0002540980640333146f));
  p = hn::MulAdd(p, u, hn::Set(d, 0.0038711174856871367f));
  p = hn::MulAdd(p, u, hn::Set(d, -0.0012340369867160916f));
  p = hn::MulAdd(p, u, hn::Set(d, -0.03014659509062767f));
  p = hn::MulAdd(p, u, hn::Set(d, 0.016716372221708298f));
  p = hn::MulAdd(p, u, hn::Set(d, 0.5746099352836609f));
  p = hn::MulAdd(p, u, hn::Set(d, -0.56315678358078f));
  // Clamp |x| so that hi*hi/2 stays finite; beyond 20 the erfc factor is 0 anyway.
  const V xc = hn::Min(ax, hn::Set(d, 20.0f));
  const V hi = HighHalf(d, xc);
  const V lo = hn::Sub(xc, hi);
  const V half = hn::Set(d, 0.5f);
  const V e1 = VExp(d, hn::Neg(hn::Mul(hn::Mul(hi, hi), half)));
  const V e2 = VExp(d, hn::Sub(p, hn::Mul(hn::Mul(lo, hn::Add(xc, hi)), half)));
  const V erfc_abs = hn::Mul(hn::Mul(t, e2), e1);  // erfc(|x| / sqrt2)
  // x < 0: erfc(-x/sqrt2) = erfc(|x|/sqrt2); x >= 0: 2 - erfc(|x|/sqrt2).
  const V erfc_neg =
      hn::IfThenElse(hn::Lt(x, hn::Zero(d)), erfc_abs, hn::Sub(hn::Set(d, 2.0f), erfc_abs));
  return hn::Mul(hn::Mul(x, half), erfc_neg);
}

// Partial vectors at the end of an array: n < Lanes(d) floats, the other lanes zero.
// We do not use hn::MaskedLoad / hn::BlendedStore for this: in Highway 1.0.3 on SSE4 they
// load (and blend-store back) the whole vector, which reads past the end of the array
// and, for the store, rewrites neighbouring floats that another thread may be writing.
template <class D>
HWY_INLINE hn::Vec<D> LoadTail(D d, const float* p, size_t n) {
  alignas(64) float buf[HWY_MAX_BYTES / sizeof(float)] = {};
  std::memcpy(buf, p, n * sizeof(float));
  return hn::Load(d, buf);
}
template <class D>
HWY_INLINE void StoreTail(D d, hn::Vec<D> v, float* p, size_t n) {
  alignas(64) float buf[HWY_MAX_BYTES / sizeof(float)];
  hn::Store(v, d, buf);
  std::memcpy(p, buf, n * sizeof(float));
}

// n <= Lanes(d) floats: a full vector access when n is the whole vector, else the tail
// functions above.
template <class D>
HWY_INLINE hn::Vec<D> LoadUpTo(D d, const float* p, size_t n) {
  return n == hn::Lanes(d) ? hn::LoadU(d, p) : LoadTail(d, p, n);
}
template <class D>
HWY_INLINE void StoreUpTo(D d, hn::Vec<D> v, float* p, size_t n) {
  if (n == hn::Lanes(d)) {
    hn::StoreU(v, d, p);
  } else {
    StoreTail(d, v, p, n);
  }
}

// Applies f(d, v) to n floats; the tail goes through LoadTail/StoreTail so that no
// element outside [0, n) is read or written.
template <class D, class F>
HWY_INLINE void MapUnary(D d, const float* x, size_t n, float* y, F f) {
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(f(d, hn::LoadU(d, x + i)), d, y + i);
  if (i < n) StoreTail(d, f(d, LoadTail(d, x + i, n - i)), y + i, n - i);
}

// y[i] = f(d, a[i], b[i]) over n floats; the tail as in MapUnary.
template <class D, class F>
HWY_INLINE void MapBinary(D d, const float* a, const float* b, size_t n, float* y, F f) {
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(f(d, hn::LoadU(d, a + i), hn::LoadU(d, b + i)), d, y + i);
  if (i < n) {
    const size_t t = n - i;
    StoreTail(d, f(d, LoadTail(d, a + i, t), LoadTail(d, b + i, t)), y + i, t);
  }
}

}  // namespace rtmo::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // RTMO_KERNELS_SIMD_MATH_INL_H_
