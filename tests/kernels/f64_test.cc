// Randomized tests of the float64 kernels (kernels/f64) against naive twins written here
// as plain loops in long double (x86-64: 64-bit significand, so the twins' own rounding is
// ~2^-11 of the tolerances below and can be ignored).
//
// Tolerances are derived from the operation, in units of kU = 2^-53 (double's unit
// roundoff): a sum of n terms evaluated in any order (Eigen blocks and vectorizes it) is
// off by at most gamma_n = n u / (1 - n u) times the sum of the terms' magnitudes; each
// bound below doubles that (kSafety) so that it is tight (~1e-13 relative at the sizes
// used) without depending on the exact accounting of the last operation or two.
// Pointers are offset from 64-byte alignment, views are strided, and outputs sit between
// guard values that must survive.
#include "kernels/f64/f64.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace rtmo::kernels::f64 {
namespace {

using LD = long double;

// Unit roundoff of double.
constexpr double kU = 0x1p-53;
// Every derived bound is multiplied by this: the derivations count each rounding once
// (|delta| <= u) and drop second-order terms; a factor 2 covers both without hiding a real
// error (a wrong tap, index or order of operations is off by O(1), not O(n u)).
constexpr double kSafety = 2.0;
// Relative error of one SiLU evaluation v / (1 + exp(-v)): exp <= 1 ulp (glibc), the add
// and the division 0.5 ulp each; 4 u covers it.
constexpr double kSiluUlps = 4.0;
// |d silu / dv| <= 1.0998 for all v: an error in the pre-activation grows at most this much.
constexpr double kSiluLipschitz = 1.1;
// Guard value around outputs (any write outside the output region changes it).
constexpr double kGuard = -7777.125;

// Deterministic doubles: std::mt19937_64 is fully specified; we map its output ourselves
// (std::uniform_real_distribution is implementation-defined).
class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}
  double Uniform(double lo, double hi) {
    return lo + (hi - lo) * static_cast<double>(gen_() >> 11) * 0x1p-53;
  }
  void Fill(double* p, size_t n, double lo, double hi) {
    for (size_t i = 0; i < n; ++i) p[i] = Uniform(lo, hi);
  }
  std::vector<double> Vec(size_t n, double lo = -1.0, double hi = 1.0) {
    std::vector<double> v(n);
    Fill(v.data(), n, lo, hi);
    return v;
  }

 private:
  std::mt19937_64 gen_;
};

// n doubles starting one double past a 64-byte boundary (Eigen must not assume alignment),
// with `guard` guard values before and after.
class Buffer {
 public:
  Buffer(size_t n, size_t guard = 67) : n_(n), guard_(guard), buf_(n + 2 * guard + 1) {
    for (size_t i = 0; i < buf_.size(); ++i) buf_[i] = kGuard;
  }
  double* data() { return buf_.data() + 1 + guard_; }
  size_t size() const { return n_; }
  double& operator[](size_t i) { return data()[i]; }
  bool GuardsIntact() const {
    for (size_t i = 0; i < buf_.size(); ++i) {
      if (i >= 1 + guard_ && i < 1 + guard_ + n_) continue;
      if (buf_[i] != kGuard) return false;
    }
    return true;
  }

 private:
  size_t n_, guard_;
  AlignedBuffer<double> buf_;
};

// Compares got[i] to want[i] within tol[i]; reports the first few failures with `what`.
void ExpectWithin(const std::string& what, const double* got, const std::vector<LD>& want,
                  const std::vector<double>& tol) {
  int failures = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double err = std::fabs(static_cast<double>(static_cast<LD>(got[i]) - want[i]));
    if (!(err <= tol[i]) || !std::isfinite(got[i])) {
      if (++failures <= 5) {
        ADD_FAILURE() << what << " [" << i << "]: got " << got[i] << ", want "
                      << static_cast<double>(want[i]) << ", |err| " << err << " > tol " << tol[i];
      }
    }
  }
  EXPECT_EQ(failures, 0) << what << ": " << failures << " of " << want.size() << " outside tol";
}

LD SiluRef(LD v) { return v / (1.0L + std::exp(-v)); }

// ---------------------------------------------------------------- Conv2d ----------------

struct ConvCase {
  int in_c, out_c, kh, kw, stride, pad, groups, h, w;
  Act act;
  bool residual;
};

std::string Name(const ConvCase& c) {
  return "conv in " + std::to_string(c.in_c) + " out " + std::to_string(c.out_c) + " k " +
         std::to_string(c.kh) + "x" + std::to_string(c.kw) + " s" + std::to_string(c.stride) +
         " p" + std::to_string(c.pad) + " g" + std::to_string(c.groups) + " at " +
         std::to_string(c.h) + "x" + std::to_string(c.w) + (c.act == Act::kSiLU ? " silu" : "") +
         (c.residual ? " +res" : "");
}

// The twin: y = act(sum_taps w x + b) + res in long double, and its error bound from the
// sum of the magnitudes of the (K + 1) terms (taps and bias).
void ConvRef(const ConvCase& c, const std::vector<double>& w, const std::vector<double>& b,
             const double* x, const double* res, int oh, int ow, std::vector<LD>* want,
             std::vector<double>* tol) {
  const int icg = c.in_c / c.groups, ocg = c.out_c / c.groups;
  const int terms = icg * c.kh * c.kw + 1;
  want->assign(static_cast<size_t>(c.out_c) * oh * ow, 0);
  tol->assign(want->size(), 0);
  for (int oc = 0; oc < c.out_c; ++oc) {
    const int g = oc / ocg;
    for (int oy = 0; oy < oh; ++oy) {
      for (int ox = 0; ox < ow; ++ox) {
        LD acc = b[oc], mag = std::fabs(b[oc]);
        for (int ic = 0; ic < icg; ++ic) {
          for (int ky = 0; ky < c.kh; ++ky) {
            for (int kx = 0; kx < c.kw; ++kx) {
              const int iy = oy * c.stride - c.pad + ky, ix = ox * c.stride - c.pad + kx;
              if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w) continue;
              const LD t = static_cast<LD>(
                               w[((static_cast<size_t>(oc) * icg + ic) * c.kh + ky) * c.kw + kx]) *
                           x[(static_cast<size_t>(g * icg + ic) * c.h + iy) * c.w + ix];
              acc += t;
              mag += std::fabs(t);
            }
          }
        }
        // gamma_terms of the sum; through SiLU scaled by its Lipschitz bound plus its own
        // rounding; the residual add rounds once more (u |result|).
        double bound = terms * kU * static_cast<double>(mag);
        LD v = acc;
        if (c.act == Act::kSiLU) {
          v = SiluRef(acc);
          bound = kSiluLipschitz * bound + kSiluUlps * kU * std::fabs(static_cast<double>(v));
        }
        const size_t i = (static_cast<size_t>(oc) * oh + oy) * ow + ox;
        if (res) {
          v += res[i];
          bound += kU * (std::fabs(static_cast<double>(v)) + std::fabs(res[i]));
        }
        (*want)[i] = v;
        (*tol)[i] = kSafety * bound;
      }
    }
  }
}

// Runs one case into a channel slice of a bigger map (guard channels on both sides) from
// an unaligned x, checks it against the twin and that the guards are untouched.
void CheckConv(const ConvCase& c, uint64_t seed) {
  SCOPED_TRACE(Name(c));
  Rng rng(seed);
  const ConvShape s{c.in_c, c.out_c, c.kh, c.kw, c.stride, c.pad, c.groups};
  const int oh = s.OutH(c.h), ow = s.OutW(c.w);
  const std::vector<double> w =
      rng.Vec(static_cast<size_t>(c.out_c) * (c.in_c / c.groups) * c.kh * c.kw);
  const std::vector<double> b = rng.Vec(c.out_c);
  Buffer x(static_cast<size_t>(c.in_c) * c.h * c.w);
  rng.Fill(x.data(), x.size(), -2.0, 2.0);
  const size_t plane = static_cast<size_t>(oh) * ow;
  const std::vector<double> res = rng.Vec(c.out_c * plane);
  // Two whole guard channels before and after y, plus the Buffer's own guard.
  Buffer big((c.out_c + 4) * plane);
  for (size_t i = 0; i < big.size(); ++i) big[i] = kGuard;
  const Map<double> y{big.data() + 2 * plane, c.out_c, oh, ow};
  const Conv p = MakeConv(s, w.data(), b.data());
  Conv2d(p, Map<const double>{x.data(), c.in_c, c.h, c.w}, y, c.act,
         c.residual ? res.data() : nullptr);
  std::vector<LD> want;
  std::vector<double> tol;
  ConvRef(c, w, b, x.data(), c.residual ? res.data() : nullptr, oh, ow, &want, &tol);
  ExpectWithin(Name(c), y.data, want, tol);
  EXPECT_TRUE(big.GuardsIntact());
  for (size_t i = 0; i < 2 * plane; ++i) {
    ASSERT_EQ(big[i], kGuard) << "guard channel before y written at " << i;
    ASSERT_EQ(big[(c.out_c + 2) * plane + i], kGuard) << "guard channel after y written at " << i;
  }
  EXPECT_TRUE(x.GuardsIntact());
}

TEST(F64Conv2d, MatchesTwin) {
  const ConvCase cases[] = {
      // 1x1 stride 1 (the direct GEMM path), incl. a single pixel and a single channel.
      {1, 1, 1, 1, 1, 0, 1, 1, 1, Act::kNone, false},
      {3, 5, 1, 1, 1, 0, 1, 7, 4, Act::kSiLU, false},
      {13, 7, 1, 1, 1, 0, 1, 17, 9, Act::kNone, true},
      {16, 6, 1, 1, 1, 0, 2, 5, 11, Act::kSiLU, true},  // groups 2
      // 1x1 with stride or padding: im2col path.
      {7, 4, 1, 1, 2, 0, 1, 9, 6, Act::kSiLU, false},
      {3, 4, 1, 1, 1, 1, 1, 3, 5, Act::kNone, false},
      // 3x3 stride 1 / 2, pad 1 / 0, odd and non-square sizes, h or w of 1.
      {3, 8, 3, 3, 1, 1, 1, 11, 13, Act::kSiLU, false},
      {7, 5, 3, 3, 2, 1, 1, 17, 10, Act::kSiLU, true},
      {13, 9, 3, 3, 1, 0, 1, 6, 15, Act::kNone, true},
      {7, 3, 3, 3, 2, 1, 1, 1, 1, Act::kSiLU, false},
      {3, 2, 3, 3, 1, 1, 1, 1, 17, Act::kNone, false},
      {4, 6, 3, 3, 2, 1, 2, 8, 9, Act::kSiLU, false},  // groups 2
      {6, 6, 3, 3, 1, 1, 3, 5, 7, Act::kNone, true},   // groups 3
      {4, 8, 3, 3, 1, 1, 4, 6, 5, Act::kSiLU, false},  // 1 input channel, 2 outputs per group
      // Other kernels: 5x5 pad 2, 1x3, 3x1 (kh != kw), 2x2 stride 2 without padding.
      {5, 4, 5, 5, 1, 2, 1, 9, 8, Act::kSiLU, false},
      {3, 5, 1, 3, 1, 1, 1, 4, 6, Act::kNone, false},
      {3, 5, 3, 1, 2, 1, 1, 7, 5, Act::kSiLU, true},
      {2, 3, 2, 2, 2, 0, 1, 9, 7, Act::kNone, false},
      // Depthwise (direct loops), stride 1 / 2, 3x3 and 5x5.
      {7, 7, 3, 3, 1, 1, 7, 9, 13, Act::kSiLU, false},
      {13, 13, 3, 3, 2, 1, 13, 17, 8, Act::kNone, true},
      {3, 3, 5, 5, 1, 2, 3, 4, 6, Act::kSiLU, true},
      {1, 1, 3, 3, 1, 1, 1, 1, 1, Act::kNone, false},
      // Several pieces: > 128 output pixels and > 128 output channels per group, a depth
      // (in_c * 9 = 603) beyond one Eigen K block.
      {9, 131, 1, 1, 1, 0, 1, 13, 11, Act::kSiLU, true},
      {4, 260, 3, 3, 1, 1, 2, 12, 13, Act::kNone, false},
      {67, 5, 3, 3, 1, 1, 1, 10, 9, Act::kSiLU, true},
      {300, 3, 1, 1, 1, 0, 1, 6, 5, Act::kNone, false},
  };
  uint64_t seed = 1;
  for (const ConvCase& c : cases) CheckConv(c, seed++);
}

// Random shapes (seeded): any combination of the above within small sizes.
TEST(F64Conv2d, RandomShapes) {
  Rng pick(4242);
  auto uni = [&](int lo, int hi) {
    return lo + static_cast<int>(pick.Uniform(0.0, 1.0) * (hi - lo + 1)) % (hi - lo + 1);
  };
  for (int t = 0; t < 60; ++t) {
    ConvCase c{};
    const int g = uni(1, 3);
    const bool dw = uni(0, 3) == 0;
    c.groups = dw ? uni(1, 9) : g;
    c.in_c = dw ? c.groups : g * uni(1, 7);
    c.out_c = dw ? c.groups : g * uni(1, 7);
    c.kh = 1 + 2 * uni(0, 2);
    c.kw = uni(0, 1) ? c.kh : 1 + 2 * uni(0, 2);
    c.stride = uni(1, 2);
    c.pad = uni(0, std::max(c.kh, c.kw) / 2);
    c.h = uni(std::max(1, c.kh - 2 * c.pad), 17);
    c.w = uni(std::max(1, c.kw - 2 * c.pad), 17);
    c.act = uni(0, 1) ? Act::kSiLU : Act::kNone;
    c.residual = uni(0, 1);
    CheckConv(c, 1000 + t);
  }
}

// A residual equal to y (y += act(conv(x))) is read before it is overwritten.
TEST(F64Conv2d, ResidualMayBeY) {
  for (const ConvCase& c : {ConvCase{5, 6, 3, 3, 1, 1, 1, 9, 7, Act::kSiLU, true},
                            ConvCase{8, 200, 1, 1, 1, 0, 1, 12, 13, Act::kNone, true},
                            ConvCase{6, 6, 3, 3, 1, 1, 6, 9, 7, Act::kSiLU, true}}) {
    SCOPED_TRACE(Name(c));
    Rng rng(77);
    const ConvShape s{c.in_c, c.out_c, c.kh, c.kw, c.stride, c.pad, c.groups};
    const int oh = s.OutH(c.h), ow = s.OutW(c.w);
    const auto w = rng.Vec(static_cast<size_t>(c.out_c) * (c.in_c / c.groups) * c.kh * c.kw);
    const auto b = rng.Vec(c.out_c);
    const auto x = rng.Vec(static_cast<size_t>(c.in_c) * c.h * c.w);
    const auto res = rng.Vec(static_cast<size_t>(c.out_c) * oh * ow);
    const Conv p = MakeConv(s, w.data(), b.data());
    std::vector<double> separate(res.size()), inplace = res;
    Conv2d(p, {x.data(), c.in_c, c.h, c.w}, {separate.data(), c.out_c, oh, ow}, c.act, res.data());
    Conv2d(p, {x.data(), c.in_c, c.h, c.w}, {inplace.data(), c.out_c, oh, ow}, c.act,
           inplace.data());
    EXPECT_EQ(0, std::memcmp(separate.data(), inplace.data(), res.size() * sizeof(double)));
  }
}

// Conv2d writes exactly y: channels before / after the slice in the same map keep their
// values, for each of the three paths (direct 1x1, im2col, depthwise).
TEST(F64Conv2d, WritesOnlyItsSlice) {
  for (const ConvCase& c : {ConvCase{9, 131, 1, 1, 1, 0, 1, 13, 11, Act::kSiLU, true},
                            ConvCase{4, 7, 3, 3, 2, 1, 1, 17, 15, Act::kNone, false},
                            ConvCase{5, 5, 3, 3, 1, 1, 5, 6, 7, Act::kSiLU, true}}) {
    SCOPED_TRACE(Name(c));
    Rng rng(5);
    const ConvShape s{c.in_c, c.out_c, c.kh, c.kw, c.stride, c.pad, c.groups};
    const int oh = s.OutH(c.h), ow = s.OutW(c.w);
    const size_t plane = static_cast<size_t>(oh) * ow;
    const auto w = rng.Vec(static_cast<size_t>(c.out_c) * (c.in_c / c.groups) * c.kh * c.kw);
    const auto x = rng.Vec(static_cast<size_t>(c.in_c) * c.h * c.w);
    const auto res = rng.Vec(c.out_c * plane);
    // A concat-like map: 3 channels, then y, then 4 channels, all random.
    std::vector<double> map = rng.Vec((3 + c.out_c + 4) * plane);
    const std::vector<double> before = map;
    const Map<double> whole{map.data(), 3 + c.out_c + 4, oh, ow};
    Conv2d(MakeConv(s, w.data(), nullptr), {x.data(), c.in_c, c.h, c.w}, whole.Slice(3, c.out_c),
           c.act, c.residual ? res.data() : nullptr);
    EXPECT_EQ(0, std::memcmp(map.data(), before.data(), 3 * plane * sizeof(double)));
    EXPECT_EQ(0, std::memcmp(map.data() + (3 + c.out_c) * plane,
                             before.data() + (3 + c.out_c) * plane, 4 * plane * sizeof(double)));
    // And the slice itself was written (not left as it was).
    size_t changed = 0;
    for (size_t i = 3 * plane; i < (3 + c.out_c) * plane; ++i) changed += map[i] != before[i];
    EXPECT_EQ(changed, c.out_c * plane);
  }
}

TEST(F64Conv2d, NullBiasIsZeroBias) {
  Rng rng(9);
  const ConvShape s{6, 4, 3, 3, 1, 1, 2};
  const auto w = rng.Vec(4 * 3 * 9);
  const std::vector<double> zeros(4, 0.0);
  const auto x = rng.Vec(6 * 5 * 7);
  std::vector<double> y0(4 * 35), y1(4 * 35);
  Conv2d(MakeConv(s, w.data(), nullptr), {x.data(), 6, 5, 7}, {y0.data(), 4, 5, 7}, Act::kSiLU);
  Conv2d(MakeConv(s, w.data(), zeros.data()), {x.data(), 6, 5, 7}, {y1.data(), 4, 5, 7},
         Act::kSiLU);
  EXPECT_EQ(0, std::memcmp(y0.data(), y1.data(), y0.size() * sizeof(double)));
}

TEST(F64Conv2d, RejectsInconsistentShapes) {
  const std::vector<double> w(1000, 0.5), x(1000, 1.0);
  std::vector<double> y(1000);
  EXPECT_THROW(MakeConv({6, 4, 3, 3, 1, 1, 4}, w.data(), nullptr), std::invalid_argument);
  EXPECT_THROW(MakeConv({6, 4, 3, 3, 0, 1, 1}, w.data(), nullptr), std::invalid_argument);
  EXPECT_THROW(MakeConv({6, 4, 3, 3, 1, 1, 1}, nullptr, nullptr), std::invalid_argument);
  const Conv p = MakeConv({6, 4, 3, 3, 1, 1, 1}, w.data(), nullptr);
  EXPECT_THROW(Conv2d(p, {x.data(), 5, 4, 4}, {y.data(), 4, 4, 4}, Act::kNone),
               std::invalid_argument);  // x channels
  EXPECT_THROW(Conv2d(p, {x.data(), 6, 4, 4}, {y.data(), 4, 3, 4}, Act::kNone),
               std::invalid_argument);  // y height
  EXPECT_THROW(Conv2d(p, {x.data(), 6, 4, 4}, {y.data(), 3, 4, 4}, Act::kNone),
               std::invalid_argument);  // y channels
  const Conv q = MakeConv({6, 4, 5, 5, 1, 0, 1}, w.data(), nullptr);
  EXPECT_THROW(Conv2d(q, {x.data(), 6, 3, 3}, {y.data(), 4, 1, 1}, Act::kNone),
               std::invalid_argument);  // empty output
  // 4x4 kernel, pad 1, stride 2 on a 1x1 input: (1 + 2 - 4) / 2 + 1 is 1 in C, but no
  // window fits (torch refuses it too).
  const Conv r = MakeConv({6, 4, 4, 4, 2, 1, 1}, w.data(), nullptr);
  EXPECT_THROW(Conv2d(r, {x.data(), 6, 1, 1}, {y.data(), 4, 1, 1}, Act::kNone),
               std::invalid_argument);
}

// In-place use is refused where pieces would read what other pieces wrote.
TEST(F64Kernels, RejectOverlappingOutputs) {
  std::vector<double> buf(4000, 0.25);
  const Conv p = MakeConv({4, 4, 3, 3, 1, 1, 1}, buf.data(), nullptr);
  EXPECT_THROW(Conv2d(p, {buf.data(), 4, 5, 5}, {buf.data() + 50, 4, 5, 5}, Act::kNone),
               std::invalid_argument);
  EXPECT_THROW(
      Conv2d(p, {buf.data(), 4, 5, 5}, {buf.data() + 100, 4, 5, 5}, Act::kNone, buf.data() + 101),
      std::invalid_argument);  // residual partly overlapping y
  EXPECT_THROW(
      Gemm({buf.data(), 4, 4, 4}, {buf.data() + 100, 4, 4, 4}, false, {buf.data() + 8, 4, 4, 4}),
      std::invalid_argument);
  EXPECT_THROW(
      Gemm({buf.data(), 4, 4, 4}, {buf.data() + 100, 4, 4, 4}, true, {buf.data() + 110, 4, 4, 4}),
      std::invalid_argument);
  const Mat<const double> q{buf.data(), 4, 6, 6};
  EXPECT_THROW(Attention(q, q, q, 2, {buf.data() + 12, 4, 6, 6}), std::invalid_argument);
  EXPECT_THROW(MaxPoolSame({buf.data(), 2, 4, 4}, 3, {buf.data() + 16, 2, 4, 4}),
               std::invalid_argument);
  EXPECT_THROW(Upsample2x({buf.data() + 10, 1, 2, 2}, {buf.data(), 1, 4, 4}),
               std::invalid_argument);
  EXPECT_THROW(LayerNorm({buf.data(), 4, 6, 6}, nullptr, nullptr, 1e-5, {buf.data() + 3, 4, 6, 6}),
               std::invalid_argument);
  // Views of one buffer whose spans are disjoint are fine.
  EXPECT_NO_THROW(
      Gemm({buf.data(), 4, 4, 4}, {buf.data() + 16, 4, 4, 4}, false, {buf.data() + 40, 4, 4, 4}));
}

// ---------------------------------------------------------------- Gemm ------------------

struct GemmCase {
  int m, n, k;
  bool trans_b, bias;
  Act act;
  int pad;  // extra columns of every view's row stride (ld = cols + pad)
};

void CheckGemm(const GemmCase& g, uint64_t seed) {
  const std::string what = "gemm " + std::to_string(g.m) + "x" + std::to_string(g.n) + "x" +
                           std::to_string(g.k) + (g.trans_b ? " bT" : "") +
                           (g.bias ? " bias" : "") + (g.act == Act::kSiLU ? " silu" : "") + " ld+" +
                           std::to_string(g.pad);
  SCOPED_TRACE(what);
  Rng rng(seed);
  const int lda = g.k + g.pad, bcols = g.trans_b ? g.k : g.n, brows = g.trans_b ? g.n : g.k;
  const int ldb = bcols + g.pad, ldc = g.n + g.pad;
  Buffer a(static_cast<size_t>(g.m) * lda), b(static_cast<size_t>(brows) * ldb);
  Buffer c(static_cast<size_t>(g.m) * ldc);
  rng.Fill(a.data(), a.size(), -1.0, 1.0);
  rng.Fill(b.data(), b.size(), -1.0, 1.0);
  for (size_t i = 0; i < c.size(); ++i) c[i] = kGuard;  // padding columns must survive
  const auto bias = rng.Vec(g.n);
  Gemm({a.data(), g.m, g.k, lda}, {b.data(), brows, bcols, ldb}, g.trans_b,
       {c.data(), g.m, g.n, ldc}, g.bias ? bias.data() : nullptr, g.act);
  std::vector<LD> want;
  std::vector<double> tol;
  std::vector<double> got;
  for (int i = 0; i < g.m; ++i) {
    for (int j = 0; j < g.n; ++j) {
      LD acc = g.bias ? bias[j] : 0.0, mag = std::fabs(static_cast<LD>(acc));
      for (int l = 0; l < g.k; ++l) {
        const double bv =
            g.trans_b ? b[static_cast<size_t>(j) * ldb + l] : b[static_cast<size_t>(l) * ldb + j];
        const LD t = static_cast<LD>(a[static_cast<size_t>(i) * lda + l]) * bv;
        acc += t;
        mag += std::fabs(t);
      }
      double bound = (g.k + 1) * kU * static_cast<double>(mag);
      if (g.act == Act::kSiLU) {
        acc = SiluRef(acc);
        bound = kSiluLipschitz * bound + kSiluUlps * kU * std::fabs(static_cast<double>(acc));
      }
      want.push_back(acc);
      tol.push_back(kSafety * bound);
      got.push_back(c[static_cast<size_t>(i) * ldc + j]);
    }
    for (int j = g.n; j < ldc; ++j) {
      ASSERT_EQ(c[static_cast<size_t>(i) * ldc + j], kGuard) << "padding column " << j;
    }
  }
  ExpectWithin(what, got.data(), want, tol);
  EXPECT_TRUE(a.GuardsIntact() && b.GuardsIntact() && c.GuardsIntact());
}

TEST(F64Gemm, MatchesTwin) {
  const GemmCase cases[] = {
      {1, 1, 1, false, false, Act::kNone, 0},    {1, 1, 1, true, true, Act::kSiLU, 3},
      {3, 5, 7, false, true, Act::kNone, 1},     {3, 5, 7, true, false, Act::kSiLU, 2},
      {17, 13, 2, false, true, Act::kSiLU, 0},   {65, 257, 33, false, true, Act::kSiLU, 5},
      {65, 257, 33, true, true, Act::kNone, 5},  {130, 300, 77, false, false, Act::kNone, 1},
      {130, 300, 77, true, true, Act::kSiLU, 0}, {7, 9, 600, true, true, Act::kNone, 3},
      {7, 9, 600, false, false, Act::kSiLU, 1},  {400, 64, 256, true, true, Act::kNone, 0},
  };
  uint64_t seed = 100;
  for (const GemmCase& g : cases) CheckGemm(g, seed++);
}

// Column blocks of one packed matrix (as q/k/v of a fused projection) are valid operands.
TEST(F64Gemm, ColumnBlockViews) {
  Rng rng(31);
  const int t = 19, d = 11;
  std::vector<double> qkv = rng.Vec(static_cast<size_t>(t) * 3 * d);
  std::vector<double> out(static_cast<size_t>(t) * 2 * t, kGuard);
  const Mat<double> packed{qkv.data(), t, 3 * d, 3 * d};
  const Mat<double> o{out.data(), t, 2 * t, 2 * t};
  // out[:, t:2t] = q k^T with q, k the first two column blocks.
  Gemm(packed.Cols(0, d), packed.Cols(d, d), true, o.Cols(t, t));
  for (int i = 0; i < t; ++i) {
    for (int j = 0; j < t; ++j) {
      LD acc = 0, mag = 0;
      for (int l = 0; l < d; ++l) {
        const LD p = static_cast<LD>(qkv[i * 3 * d + l]) * qkv[j * 3 * d + d + l];
        acc += p;
        mag += std::fabs(p);
      }
      const double got = out[i * 2 * t + t + j];
      EXPECT_LE(std::fabs(static_cast<double>(got - acc)), kSafety * d * kU * mag);
      EXPECT_EQ(out[i * 2 * t + j], kGuard);
    }
  }
}

TEST(F64Gemm, EmptyDepthGivesBiasThenAct) {
  const std::vector<double> bias = {-1.5, 0.0, 2.0};
  std::vector<double> c(6, kGuard);
  double dummy = 0;
  Gemm({&dummy, 2, 0, 0}, {&dummy, 0, 3, 3}, false, {c.data(), 2, 3, 3}, bias.data(), Act::kSiLU);
  for (int i = 0; i < 6; ++i) {
    const double v = bias[i % 3];
    EXPECT_EQ(c[i], v / (1.0 + std::exp(-v))) << i;  // torch's formula, in double
  }
}

TEST(F64Gemm, RejectsInconsistentShapes) {
  std::vector<double> buf(100);
  EXPECT_THROW(Gemm({buf.data(), 2, 3, 3}, {buf.data(), 4, 5, 5}, false, {buf.data(), 2, 5, 5}),
               std::invalid_argument);
  EXPECT_THROW(Gemm({buf.data(), 2, 3, 3}, {buf.data(), 5, 3, 3}, true, {buf.data(), 2, 4, 4}),
               std::invalid_argument);
  EXPECT_THROW(Gemm({buf.data(), 2, 3, 2}, {buf.data(), 3, 5, 5}, false, {buf.data(), 2, 5, 5}),
               std::invalid_argument);  // ld < cols
}

// ---------------------------------------------------------------- LayerNorm -------------

// Bound (derivation): the mean is off by <= n u mean|x|, which shifts every centred value
// by that much (times rstd after scaling); the variance of the centred values has relative
// error <= (n + 3) u (the mean's error enters only to second order), so rstd has relative
// error <= ((n + 3) / 2 + 2) u; the centring, scaling, gamma and beta each round once.
TEST(F64LayerNorm, MatchesTwin) {
  struct Case {
    int rows, cols, pad;
    bool affine, in_place;
    double offset;  // added to x: a mean far from 0 tests the centring
  };
  const Case cases[] = {{1, 1, 0, true, false, 0.0},   {3, 7, 2, true, false, 0.5},
                        {17, 256, 0, true, true, 3.0}, {5, 33, 4, false, false, -2.0},
                        {40, 129, 1, true, true, 0.0}, {2, 1000, 0, true, false, 10.0}};
  Rng rng(11);
  const double eps = 1e-5;
  for (const Case& c : cases) {
    SCOPED_TRACE("layernorm " + std::to_string(c.rows) + "x" + std::to_string(c.cols));
    const int ld = c.cols + c.pad;
    Buffer x(static_cast<size_t>(c.rows) * ld);
    for (size_t i = 0; i < x.size(); ++i) x[i] = rng.Uniform(-1.0, 1.0) + c.offset;
    const auto gamma = rng.Vec(c.cols, 0.5, 1.5), beta = rng.Vec(c.cols);
    std::vector<double> xin(x.data(), x.data() + x.size());
    Buffer yb(static_cast<size_t>(c.rows) * ld);
    double* y = c.in_place ? x.data() : yb.data();
    LayerNorm({x.data(), c.rows, c.cols, ld}, c.affine ? gamma.data() : nullptr,
              c.affine ? beta.data() : nullptr, eps, {y, c.rows, c.cols, ld});
    std::vector<LD> want;
    std::vector<double> tol, got;
    for (int r = 0; r < c.rows; ++r) {
      const double* xr = xin.data() + static_cast<size_t>(r) * ld;
      LD mean = 0, absmean = 0;
      for (int i = 0; i < c.cols; ++i) mean += xr[i], absmean += std::fabs(xr[i]);
      mean /= c.cols;
      absmean /= c.cols;
      LD var = 0;
      for (int i = 0; i < c.cols; ++i) var += (xr[i] - mean) * (xr[i] - mean);
      var /= c.cols;
      const LD rstd = 1.0L / std::sqrt(var + eps);
      for (int i = 0; i < c.cols; ++i) {
        const LD z = (xr[i] - mean) * rstd;
        const LD g = c.affine ? gamma[i] : 1.0L, bt = c.affine ? beta[i] : 0.0L;
        const LD out = z * g + bt;
        const double n = c.cols;
        const double bound =
            kU * static_cast<double>(std::fabs(g) *
                                         (n * absmean * rstd + ((n + 3) / 2 + 5) * std::fabs(z)) +
                                     std::fabs(out));
        want.push_back(out);
        tol.push_back(kSafety * bound);
        got.push_back(y[static_cast<size_t>(r) * ld + i]);
      }
      for (int i = c.cols; i < ld; ++i) {
        ASSERT_EQ(y[static_cast<size_t>(r) * ld + i], c.in_place ? xr[i] : kGuard);
      }
    }
    ExpectWithin("layernorm", got.data(), want, tol);
    EXPECT_TRUE(x.GuardsIntact() && yb.GuardsIntact());
  }
}

// ---------------------------------------------------------------- Attention -------------

// Bound (derivation), per query row and head: a score s_j = (q . k_j) / sqrt(d) is off by
// E_j <= (d + 2) u sum_l |q_l k_jl| / sqrt(d); exp(s_j - max) then has relative error
// <= E_j + E_max + u |s_j - max| + 2u (exp, subtraction); the normalisation sum (Tk terms,
// all positive) and the division add (Tk + 1) u relative; the product with v sums Tk terms:
// |err o| <= sum_j p_j |v_j| (2 max_j E_j + max_j u|s_j - max| + (2 Tk + 4) u).
void CheckAttention(int tq, int tk, int heads, int d, int pad, uint64_t seed) {
  SCOPED_TRACE("attention tq " + std::to_string(tq) + " tk " + std::to_string(tk) + " heads " +
               std::to_string(heads) + " d " + std::to_string(d));
  Rng rng(seed);
  const int c = heads * d;
  // q, k, v as column blocks of one packed [T, 3c + pad] matrix when tq == tk (as the model
  // does); otherwise q separate.
  const int ld = 3 * c + pad;
  const int rows = std::max(tq, tk);
  Buffer qkv(static_cast<size_t>(rows) * ld);
  rng.Fill(qkv.data(), qkv.size(), -2.0, 2.0);
  const Mat<double> packed{qkv.data(), rows, 3 * c, ld};
  const Mat<const double> q = packed.Rows(0, tq).Cols(0, c);
  const Mat<const double> k = packed.Rows(0, tk).Cols(c, c);
  const Mat<const double> v = packed.Rows(0, tk).Cols(2 * c, c);
  const int ldo = c + pad;
  Buffer out(static_cast<size_t>(tq) * ldo);
  for (size_t i = 0; i < out.size(); ++i) out[i] = kGuard;
  Attention(q, k, v, heads, {out.data(), tq, c, ldo});
  std::vector<LD> want;
  std::vector<double> tol, got;
  const LD scale = 1.0L / std::sqrt(static_cast<LD>(d));
  std::vector<LD> s(tk), err(tk);
  for (int i = 0; i < tq; ++i) {
    for (int h = 0; h < heads; ++h) {
      LD mx = -std::numeric_limits<LD>::infinity();
      double emax = 0;
      for (int j = 0; j < tk; ++j) {
        LD acc = 0, mag = 0;
        for (int l = 0; l < d; ++l) {
          const LD p = static_cast<LD>(q.row(i)[h * d + l]) * k.row(j)[h * d + l];
          acc += p;
          mag += std::fabs(p);
        }
        s[j] = acc * scale;
        emax = std::max(emax, static_cast<double>((d + 2) * kU * mag * scale));
        mx = std::max(mx, s[j]);
      }
      LD sum = 0;
      double spread = 0;
      for (int j = 0; j < tk; ++j) {
        spread = std::max(spread, static_cast<double>(mx - s[j]));
        s[j] = std::exp(s[j] - mx);
        sum += s[j];
      }
      const double rel = 2 * emax + kU * spread + (2.0 * tk + 4) * kU;
      for (int l = 0; l < d; ++l) {
        LD o = 0, mag = 0;
        for (int j = 0; j < tk; ++j) {
          const LD p = s[j] / sum * v.row(j)[h * d + l];
          o += p;
          mag += std::fabs(p);
        }
        want.push_back(o);
        tol.push_back(kSafety * rel * static_cast<double>(mag));
        got.push_back(out[static_cast<size_t>(i) * ldo + h * d + l]);
      }
    }
    for (int j = c; j < ldo; ++j) ASSERT_EQ(out[static_cast<size_t>(i) * ldo + j], kGuard);
  }
  ExpectWithin("attention", got.data(), want, tol);
  EXPECT_TRUE(out.GuardsIntact());
}

TEST(F64Attention, MatchesTwin) {
  CheckAttention(1, 1, 1, 1, 0, 1);
  CheckAttention(5, 5, 2, 3, 1, 2);
  CheckAttention(33, 33, 8, 32, 0, 3);  // 2 query blocks (17 + 16)
  CheckAttention(70, 70, 3, 8, 5, 4);
  CheckAttention(7, 40, 2, 16, 2, 5);  // fewer queries than keys
  CheckAttention(65, 9, 4, 5, 0, 6);
}

TEST(F64Attention, RejectsInconsistentShapes) {
  std::vector<double> buf(200);
  const Mat<const double> q{buf.data(), 4, 6, 6}, k5{buf.data(), 5, 6, 6};
  const Mat<double> out{buf.data(), 4, 6, 6};
  EXPECT_THROW(Attention(q, q, q, 4, out), std::invalid_argument);   // 6 % 4
  EXPECT_THROW(Attention(q, q, k5, 2, out), std::invalid_argument);  // k/v rows differ
  EXPECT_THROW(Attention(q, q, q, 0, out), std::invalid_argument);
}

// ---------------------------------------------------------------- MaxPool / Upsample ----

struct Chw {
  int c, h, w;
};

TEST(F64MaxPoolSame, EqualsTwin) {
  Rng rng(21);
  for (int k : {1, 3, 5, 9, 13}) {
    for (const auto& [c, h, w] :
         std::vector<Chw>{{1, 1, 1}, {3, 5, 7}, {2, 17, 4}, {4, 13, 13}, {1, 1, 9}}) {
      SCOPED_TRACE("maxpool k " + std::to_string(k) + " " + std::to_string(h) + "x" +
                   std::to_string(w));
      // Negative values: a padding that "won" as 0 would show.
      Buffer x(static_cast<size_t>(c) * h * w), y(x.size());
      rng.Fill(x.data(), x.size(), -3.0, -1.0);
      MaxPoolSame({x.data(), c, h, w}, k, {y.data(), c, h, w});
      for (int ch = 0; ch < c; ++ch) {
        for (int oy = 0; oy < h; ++oy) {
          for (int ox = 0; ox < w; ++ox) {
            double m = -std::numeric_limits<double>::infinity();
            for (int iy = oy - k / 2; iy <= oy + k / 2; ++iy) {
              for (int ix = ox - k / 2; ix <= ox + k / 2; ++ix) {
                if (iy >= 0 && iy < h && ix >= 0 && ix < w) {
                  m = std::max(m, x[(static_cast<size_t>(ch) * h + iy) * w + ix]);
                }
              }
            }
            ASSERT_EQ(y[(static_cast<size_t>(ch) * h + oy) * w + ox], m)
                << ch << "," << oy << "," << ox;
          }
        }
      }
      EXPECT_TRUE(y.GuardsIntact());
    }
  }
}

TEST(F64MaxPoolSame, NanPropagatesAndBadKThrows) {
  std::vector<double> x = {1, 2, 3, 4, 5, 6, 7, 8, 9}, y(9);
  x[4] = std::nan("");
  MaxPoolSame({x.data(), 1, 3, 3}, 3, {y.data(), 1, 3, 3});
  for (double v : y) EXPECT_TRUE(std::isnan(v));
  EXPECT_THROW(MaxPoolSame({x.data(), 1, 3, 3}, 2, {y.data(), 1, 3, 3}), std::invalid_argument);
  EXPECT_THROW(MaxPoolSame({x.data(), 1, 3, 3}, 3, {y.data(), 1, 3, 2}), std::invalid_argument);
}

TEST(F64Upsample2x, EqualsTwin) {
  Rng rng(22);
  for (const auto& [c, h, w] : std::vector<Chw>{{1, 1, 1}, {3, 5, 7}, {2, 17, 4}, {64, 20, 20}}) {
    Buffer x(static_cast<size_t>(c) * h * w), y(x.size() * 4);
    rng.Fill(x.data(), x.size(), -1.0, 1.0);
    Upsample2x({x.data(), c, h, w}, {y.data(), c, 2 * h, 2 * w});
    for (int ch = 0; ch < c; ++ch) {
      for (int oy = 0; oy < 2 * h; ++oy) {
        for (int ox = 0; ox < 2 * w; ++ox) {
          ASSERT_EQ(y[(static_cast<size_t>(ch) * 2 * h + oy) * 2 * w + ox],
                    x[(static_cast<size_t>(ch) * h + oy / 2) * w + ox / 2]);
        }
      }
    }
    EXPECT_TRUE(y.GuardsIntact());
  }
  std::vector<double> buf(100);
  EXPECT_THROW(Upsample2x({buf.data(), 1, 3, 3}, {buf.data(), 1, 6, 5}), std::invalid_argument);
}

// ---------------------------------------------------------------- element-wise ----------

// Inputs covering both tails and exact specials; sizes above the parallel threshold too.
std::vector<double> EltwiseInputs(size_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<double> x = rng.Vec(n, -8.0, 8.0);
  const double specials[] = {0.0, -0.0, 1e-300, -1e-300, 40.0, -40.0, 700.0, -700.0, 1.0, -1.0};
  for (size_t i = 0; i < std::size(specials) && i < n; ++i) x[i] = specials[i];
  return x;
}

TEST(F64Eltwise, AddIsCorrectlyRounded) {
  for (size_t n : {size_t{1}, size_t{17}, size_t{40000}}) {
    const auto a = EltwiseInputs(n, 1), b = EltwiseInputs(n, 2);
    std::vector<double> y(n), y_alias = a;
    Add(a.data(), b.data(), n, y.data());
    Add(y_alias.data(), b.data(), n, y_alias.data());
    for (size_t i = 0; i < n; ++i) {
      // One rounding of the exact sum (long double holds it exactly here).
      ASSERT_EQ(y[i], static_cast<double>(static_cast<LD>(a[i]) + b[i])) << i;
      ASSERT_EQ(y_alias[i], y[i]) << i;
    }
  }
}

TEST(F64Eltwise, SiluMatchesTwin) {
  for (size_t n : {size_t{1}, size_t{33}, size_t{40000}}) {
    const auto x = EltwiseInputs(n, 3);
    std::vector<double> y = x;  // in place
    Silu(y.data(), n, y.data());
    std::vector<LD> want(n);
    std::vector<double> tol(n);
    for (size_t i = 0; i < n; ++i) {
      want[i] = SiluRef(x[i]);
      tol[i] = kSafety * kSiluUlps * kU * std::fabs(static_cast<double>(want[i]));
    }
    ExpectWithin("silu", y.data(), want, tol);
  }
}

TEST(F64Eltwise, GeluMatchesTwin) {
  for (size_t n : {size_t{1}, size_t{33}, size_t{40000}}) {
    const auto x = EltwiseInputs(n, 4);
    std::vector<double> y(n);
    Gelu(x.data(), n, y.data());
    std::vector<LD> want(n);
    std::vector<double> tol(n);
    for (size_t i = 0; i < n; ++i) {
      const LD z = static_cast<LD>(x[i]) / std::sqrt(2.0L);
      want[i] = 0.5L * x[i] * std::erfc(-z);
      // erfc <= ~2 ulp, the two products 1 ulp; rounding of the argument (relative u) is
      // amplified by |z erfc'(-z) / erfc(-z)| <= 2 z^2 + 2 for the left tail.
      const double amp = 2.0 * static_cast<double>(z * z) + 2.0;
      tol[i] = kSafety * (4.0 + amp) * kU * std::fabs(static_cast<double>(want[i]));
    }
    ExpectWithin("gelu", y.data(), want, tol);
  }
}

TEST(F64Eltwise, Relu2IsExact) {
  for (size_t n : {size_t{1}, size_t{33}, size_t{40000}}) {
    const auto x = EltwiseInputs(n, 5);
    std::vector<double> y(n);
    Relu2(x.data(), n, y.data());
    for (size_t i = 0; i < n; ++i) {
      const double r = x[i] > 0 ? x[i] : 0.0;
      ASSERT_EQ(y[i], r * r) << i;  // one rounding, same as the twin's
    }
  }
}

// ---------------------------------------------------------------- determinism -----------

// Runs `fn` (which writes `out`) under 1, 2 and 3 OpenMP threads and expects bitwise
// identical outputs.
template <typename Fn>
void ExpectThreadInvariant(const std::string& what, std::vector<double>& out, Fn fn) {
  const int saved = omp_get_max_threads();
  std::vector<double> first;
  for (int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);
    std::fill(out.begin(), out.end(), kGuard);
    fn();
    if (threads == 1) {
      first = out;
    } else {
      EXPECT_EQ(0, std::memcmp(first.data(), out.data(), out.size() * sizeof(double)))
          << what << ": " << threads << " threads differ from 1";
    }
  }
  omp_set_num_threads(saved);
}

TEST(F64Determinism, SameBitsForAnyThreadCount) {
  Rng rng(99);
  // Conv: im2col (3 pixel blocks x 2 channel blocks), direct 1x1, depthwise, grouped, and
  // a depth of 1152 (several of Eigen's K blocks per piece).
  for (const ConvShape s : {ConvShape{16, 136, 3, 3, 1, 1, 1}, ConvShape{40, 150, 1, 1, 1, 0, 1},
                            ConvShape{24, 24, 3, 3, 2, 1, 24}, ConvShape{24, 48, 3, 3, 1, 1, 4},
                            ConvShape{128, 136, 3, 3, 1, 1, 1}}) {
    const int h = s.in_c > 100 ? 12 : 19, w = s.in_c > 100 ? 11 : 15;
    const int oh = s.OutH(h), ow = s.OutW(w);
    const auto wt = rng.Vec(static_cast<size_t>(s.out_c) * (s.in_c / s.groups) * s.kh * s.kw);
    const auto b = rng.Vec(s.out_c);
    const auto x = rng.Vec(static_cast<size_t>(s.in_c) * h * w);
    const auto res = rng.Vec(static_cast<size_t>(s.out_c) * oh * ow);
    const Conv p = MakeConv(s, wt.data(), b.data());
    std::vector<double> y(res.size());
    ExpectThreadInvariant("conv", y, [&] {
      Conv2d(p, {x.data(), s.in_c, h, w}, {y.data(), s.out_c, oh, ow}, Act::kSiLU, res.data());
    });
  }
  {
    const int m = 130, n = 300, k = 77;
    const auto a = rng.Vec(m * k), b = rng.Vec(n * k), bias = rng.Vec(n);
    std::vector<double> c(m * n);
    for (bool tb : {false, true}) {
      ExpectThreadInvariant("gemm", c, [&] {
        Gemm({a.data(), m, k, k}, {b.data(), tb ? n : k, tb ? k : n, tb ? k : n}, tb,
             {c.data(), m, n, n}, bias.data(), Act::kSiLU);
      });
    }
  }
  {
    const int t = 70, c = 24;
    const auto qkv = rng.Vec(t * 3 * c);
    const Mat<const double> packed{qkv.data(), t, 3 * c, 3 * c};
    std::vector<double> out(t * c);
    ExpectThreadInvariant("attention", out, [&] {
      Attention(packed.Cols(0, c), packed.Cols(c, c), packed.Cols(2 * c, c), 3,
                {out.data(), t, c, c});
    });
  }
  {
    const int rows = 100, cols = 129;
    const auto x = rng.Vec(rows * cols), g = rng.Vec(cols), b = rng.Vec(cols);
    std::vector<double> y(x.size());
    ExpectThreadInvariant("layernorm", y, [&] {
      LayerNorm({x.data(), rows, cols, cols}, g.data(), b.data(), 1e-5,
                {y.data(), rows, cols, cols});
    });
  }
  {
    const auto x = rng.Vec(50000, -6, 6);
    std::vector<double> y(x.size());
    ExpectThreadInvariant("gelu", y, [&] { Gelu(x.data(), x.size(), y.data()); });
  }
}

}  // namespace
}  // namespace rtmo::kernels::f64
