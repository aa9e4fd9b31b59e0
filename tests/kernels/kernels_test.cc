// Randomized tests of every compiled Highway target's kernels against the naive reference
// twins (kernels/ref/ops_ref.cc). HWY_EXPORT_AND_TEST_P instantiates each test once per
// target this CPU supports; the test body fetches that target's table with ForTarget.
//
// Sizes are chosen around the register tile (kMR rows, NR = kNV vectors of columns), the
// vector width, and the K block (256), so tails and tile edges are exercised; pointers
// are offset by one float from 64-byte alignment. Tolerances are derived from the
// operation (named in every failure message); NaN/Inf outputs fail.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "tests/kernels/kernels_test.cc"
#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/tests/hwy_gtest.h"
#include "kernels/ops.h"
#include "kernels/simd/gemm-inl.h"
#include "tests/kernels/test_util.h"

HWY_BEFORE_NAMESPACE();
namespace rtmo::kernels::HWY_NAMESPACE {
namespace {

using test::AllWithin;
using test::BitwiseEqual;
using test::kEps;
using test::PageEndArray;
using test::Rng;
using test::TestArray;
using test::UlpDistance;

const Ops& TargetTable() {
  const Ops* ops = ForTarget(HWY_TARGET);
  if (ops == nullptr) {
    ADD_FAILURE() << "no kernel table for " << hwy::TargetName(HWY_TARGET);
    return Reference();
  }
  return *ops;
}

std::vector<float> Abs(const float* p, size_t n) {
  std::vector<float> a(p, p + n);
  for (float& v : a) v = std::fabs(v);
  return a;
}

constexpr float kFltMin = std::numeric_limits<float>::min();
// VSiLU's own error: < 5 ULP, i.e. <= 5 eps |silu(x)| (derived at VSiLU in
// kernels/simd/math-inl.h).
constexpr uint64_t kSiluUlps = 5;

// --- GEMM ------------------------------------------------------------------------------

struct GemmCase {
  int M, N, K;
  bool trans_b, bias;
  Act act;
};

void TestGemm() {
  const Ops& ops = TargetTable();
  const Ops& ref = Reference();
  const GemmCase cases[] = {
      {1, 1, 1, false, false, Act::kNone},    {1, 17, 3, false, true, Act::kSiLU},
      {5, 15, 7, true, true, Act::kNone},     {6, 16, 255, false, false, Act::kNone},
      {7, 33, 256, false, true, Act::kSiLU},  {8, 48, 257, true, false, Act::kNone},
      {9, 49, 300, false, true, Act::kNone},  {13, 97, 513, false, false, Act::kSiLU},
      {17, 63, 64, true, true, Act::kSiLU},   {24, 130, 40, false, true, Act::kNone},
      {33, 200, 31, true, false, Act::kNone}, {2, 400, 9, false, true, Act::kSiLU},
  };
  Rng rng(1234);
  Scratch scratch;
  for (const GemmCase& c : cases) {
    const int lda = c.K + 3, ldc = c.N + 2;
    const int ldb = (c.trans_b ? c.K : c.N) + 1;
    const size_t b_rows = c.trans_b ? c.N : c.K;
    TestArray A(static_cast<size_t>(c.M) * lda, 1), B(b_rows * ldb, 1), bias(c.N, 1);
    rng.Fill(A.data(), A.size(), -1.0f, 1.0f);
    rng.Fill(B.data(), B.size(), -2.0f, 2.0f);
    rng.Fill(bias.data(), bias.size(), -1.0f, 1.0f);
    const float* bias_p = c.bias ? bias.data() : nullptr;
    TestArray C(static_cast<size_t>(c.M) * ldc, 1);
    std::vector<float> want(static_cast<size_t>(c.M) * ldc, TestArray::kGuardValue);
    for (size_t i = 0; i < C.size(); ++i) C[i] = TestArray::kGuardValue;
    ops.gemm(c.M, c.N, c.K, A.data(), lda, B.data(), ldb, c.trans_b, bias_p, c.act, C.data(), ldc,
             &scratch);
    ref.gemm(c.M, c.N, c.K, A.data(), lda, B.data(), ldb, c.trans_b, bias_p, c.act, want.data(),
             ldc, &scratch);
    // S = |A| |op(B)| + |bias|: the magnitude that bounds the rounding error of a sum.
    const std::vector<float> aa = Abs(A.data(), A.size()), ab = Abs(B.data(), B.size()),
                             abias = Abs(bias.data(), bias.size());
    std::vector<float> S(want.size(), 0.0f);
    ref.gemm(c.M, c.N, c.K, aa.data(), lda, ab.data(), ldb, c.trans_b,
             c.bias ? abias.data() : nullptr, Act::kNone, S.data(), ldc, &scratch);
    std::vector<float> got, exp;
    std::vector<double> tol;
    for (int m = 0; m < c.M; ++m) {
      for (int n = 0; n < ldc; ++n) {
        const size_t i = static_cast<size_t>(m) * ldc + n;
        if (n >= c.N) {  // the gap between rows must stay untouched
          ASSERT_EQ(C[i], TestArray::kGuardValue) << "gemm wrote outside C at " << m << "," << n;
          continue;
        }
        got.push_back(C[i]);
        exp.push_back(want[i]);
        // (K + 2) eps S: K FMA roundings plus the bias add and the partial-sum reloads;
        // SiLU is 1.1-Lipschitz and adds kSiluUlps of its own.
        double t = (c.K + 2) * kEps * S[i];
        if (c.act == Act::kSiLU) t = 1.1 * t + kSiluUlps * kEps * std::fabs(want[i]);
        tol.push_back(t + kFltMin);
      }
    }
    EXPECT_TRUE(AllWithin(got.data(), exp.data(), tol, got.size(),
                          "|c - c_ref| <= (K+2)*eps*(|A||B|+|bias|) (x1.1 + 5eps|c| for SiLU)"))
        << hwy::TargetName(HWY_TARGET) << " gemm M=" << c.M << " N=" << c.N << " K=" << c.K
        << " trans_b=" << c.trans_b;
    EXPECT_TRUE(A.GuardsIntact() && B.GuardsIntact() && C.GuardsIntact());
  }
}

// --- Convolution -------------------------------------------------------------------------

struct ConvCase {
  ConvShape s;
  int h, w;
  bool residual;
  Act act;
  // Large images that exist to test the blocked and Winograd paths' bands (AVX2, AVX-512);
  // elsewhere they are just more GEMM-path convs, as costly as the rest of the cases
  // together under qemu's SVE emulation, so the other targets skip them.
  bool blocked_only = false;
};

// The Winograd F(2x2, 3x3) conv's error scale (kernels/simd/winograd_conv-inl.h): its
// algorithm run on absolute values, |A^T| (|G||g||G^T| . |B^T||d||B|) |A| + |b|, per output
// [out_c][oh][ow], in double. x: [in_c][h][w]; w: [out_c][in_c][3][3]; pad 1, stride 1.
std::vector<double> WinogradAbsScale(const ConvShape& s, const float* x, int h, int w,
                                     const float* wt, const float* bias) {
  static constexpr double kG[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, 0.5, 0.5}, {0, 0, 1}};
  static constexpr double kBT[4][4] = {{1, 0, 1, 0}, {0, 1, 1, 0}, {0, 1, 1, 0}, {0, 1, 0, 1}};
  static constexpr double kAT[2][4] = {{1, 1, 1, 0}, {0, 1, 1, 1}};
  const int oh = s.OutH(h), ow = s.OutW(w), th = (oh + 1) / 2, tw = (ow + 1) / 2;
  // |U| per (co, ci) and |V| per (tile, ci), 16 points each.
  std::vector<double> u(static_cast<size_t>(s.out_c) * s.in_c * 16);
  for (int co = 0; co < s.out_c; ++co) {
    for (int ci = 0; ci < s.in_c; ++ci) {
      const float* g = wt + (static_cast<size_t>(co) * s.in_c + ci) * 9;
      for (int r = 0; r < 4; ++r) {
        for (int c = 0; c < 4; ++c) {
          double a = 0;
          for (int k = 0; k < 3; ++k) {
            for (int l = 0; l < 3; ++l) a += kG[r][k] * std::fabs(g[k * 3 + l]) * kG[c][l];
          }
          u[(static_cast<size_t>(co) * s.in_c + ci) * 16 + r * 4 + c] = a;
        }
      }
    }
  }
  std::vector<double> v(static_cast<size_t>(th) * tw * s.in_c * 16);
  for (int ty = 0; ty < th; ++ty) {
    for (int tx = 0; tx < tw; ++tx) {
      for (int ci = 0; ci < s.in_c; ++ci) {
        double d[4][4];
        for (int i = 0; i < 4; ++i) {
          for (int j = 0; j < 4; ++j) {
            const int y = 2 * ty + i - 1, xx = 2 * tx + j - 1;
            d[i][j] = y < 0 || y >= h || xx < 0 || xx >= w
                          ? 0.0
                          : std::fabs(x[(static_cast<size_t>(ci) * h + y) * w + xx]);
          }
        }
        for (int r = 0; r < 4; ++r) {
          for (int c = 0; c < 4; ++c) {
            double a = 0;
            for (int i = 0; i < 4; ++i) {
              for (int j = 0; j < 4; ++j) a += kBT[r][i] * d[i][j] * kBT[c][j];
            }
            v[((static_cast<size_t>(ty) * tw + tx) * s.in_c + ci) * 16 + r * 4 + c] = a;
          }
        }
      }
    }
  }
  std::vector<double> out(static_cast<size_t>(s.out_c) * oh * ow);
  for (int co = 0; co < s.out_c; ++co) {
    for (int ty = 0; ty < th; ++ty) {
      for (int tx = 0; tx < tw; ++tx) {
        double m[16] = {};
        for (int ci = 0; ci < s.in_c; ++ci) {
          const double* up = &u[(static_cast<size_t>(co) * s.in_c + ci) * 16];
          const double* vp = &v[((static_cast<size_t>(ty) * tw + tx) * s.in_c + ci) * 16];
          for (int e = 0; e < 16; ++e) m[e] += up[e] * vp[e];
        }
        for (int i = 0; i < 2 && 2 * ty + i < oh; ++i) {
          for (int j = 0; j < 2 && 2 * tx + j < ow; ++j) {
            double a = std::fabs(bias[co]);
            for (int r = 0; r < 4; ++r) {
              for (int c = 0; c < 4; ++c) a += kAT[i][r] * m[r * 4 + c] * kAT[j][c];
            }
            out[(static_cast<size_t>(co) * oh + 2 * ty + i) * ow + 2 * tx + j] = a;
          }
        }
      }
    }
  }
  return out;
}

void TestConv() {
  const Ops& ops = TargetTable();
  const Ops& ref = Reference();
  const auto cs = ConvShape::Square;
  const ConvCase cases[] = {
      {cs(12, 32, 3, 1, 1), 9, 11, false, Act::kSiLU},   // Focus stem conv (12 = 4 x RGB)
      {cs(16, 24, 3, 2, 1), 13, 15, false, Act::kSiLU},  // downsampling
      {cs(16, 20, 3, 2, 1), 8, 8, true, Act::kNone},     // even size, stride 2
      {cs(5, 12, 3, 2, 1), 6, 75, false, Act::kNone},    // wide stride-2 rows (vector path)
      {cs(4, 8, 3, 2, 1), 3, 66, false, Act::kSiLU},     // even width, stride 2
      {cs(40, 16, 1, 1, 1), 7, 9, true, Act::kSiLU},     // pointwise, residual
      {cs(30, 17, 1, 1, 1), 1, 1, false, Act::kNone},    // 1 pixel, output conv-like
      {cs(32, 9, 3, 1, 1), 5, 4, true, Act::kSiLU},      // K = 288 crosses the K block
      {cs(48, 48, 3, 1, 8), 10, 7, false, Act::kSiLU},   // grouped, 6 channels per group
      {cs(144, 144, 3, 1, 8), 5, 5, true, Act::kSiLU},   // RTMO head pose branch (g=8)
      {cs(8, 8, 5, 1, 1), 3, 2, false, Act::kNone},      // kernel larger than the image
      {cs(3, 5, 3, 2, 1), 1, 2, false, Act::kNone},
      {cs(16, 16, 3, 2, 1), 1, 1, false, Act::kNone},  // 1 pixel: taps right of the image
      // Stride 1 runs on the padded image (direct path): wide rows that straddle tiles,
      // several K blocks (K = 180 > 128), a residual, and a one-row image.
      {cs(20, 13, 3, 1, 1), 23, 57, true, Act::kSiLU},
      {cs(7, 10, 3, 1, 1), 1, 131, false, Act::kSiLU},
      {cs(6, 9, 5, 1, 1), 17, 3, true, Act::kNone},  // pad 2, narrower than the kernel
      // The blocked direct conv (AVX2 and AVX-512: in_c in blocks of 16, tiles of 16 output
      // channels x 6 pixels (AVX2) or 12 (AVX-512), chunks of 60 outputs: part of a row,
      // or whole rows where they are shorter; 8 x 8 transposes in and out; it takes convs whose
      // channels fill blocks and tiles to within 1/8): partial tiles and transposes, chunks of
      // 3 + 3 + 1 rows, rows longer than a chunk (stride 1 and 2), a partial channel tile
      // (136 = 8 x 16 + 8; 60 = 3 x 16 + 12 below), a partial input block
      // (120 = 7 x 16 + 8), 5 x 5, one-pixel outputs.
      {cs(16, 32, 3, 1, 1), 7, 19, true, Act::kSiLU},
      {cs(16, 16, 3, 2, 1), 3, 125, true, Act::kSiLU},
      // Bands (the blocked copy of the input is made per band of output rows of <= 2 MiB):
      // 2100 px rows of 16 channels (134 KiB) make bands of 7 rows at stride 2 (3 bands for
      // 20 rows) and 13 at stride 1 (2 bands).
      {cs(16, 16, 3, 2, 1), 40, 2100, true, Act::kSiLU, true},
      {cs(16, 16, 3, 1, 1), 20, 2100, false, Act::kNone, true},
      {cs(48, 136, 3, 1, 1), 9, 67, false, Act::kSiLU},
      {cs(120, 16, 3, 2, 1), 11, 70, true, Act::kNone},
      {cs(32, 16, 3, 2, 1), 5, 8, false, Act::kSiLU},
      {cs(32, 16, 5, 1, 1), 6, 9, true, Act::kSiLU},
      {cs(64, 16, 3, 1, 1), 1, 2, true, Act::kNone},
      // Winograd F(2x2, 3x3) (AVX2 and AVX-512: the stride-1 3x3 convs above that fill blocks, and
      // these): odd and even output sizes (tiles overhanging the image by a row and a
      // column), runs of tiles split into groups of <= 6, several input blocks over two
      // bands of which the last is shorter (32 channels x 1100 px rows: bands of 6 tile
      // rows, 10 tile rows), 256 channels (a chunk of 10 tiles), a partial output tile.
      {cs(32, 32, 3, 1, 1), 8, 40, true, Act::kSiLU},
      {cs(32, 16, 3, 1, 1), 20, 1100, true, Act::kSiLU, true},
      {cs(256, 40, 3, 1, 1), 9, 21, false, Act::kSiLU},
      {cs(128, 136, 3, 1, 1), 4, 5, true, Act::kNone},
      // A partial output-channel tile (60 = 3 x 16 + 12) at stride 1 (Winograd) and 2.
      {cs(32, 60, 3, 1, 1), 13, 27, true, Act::kSiLU},
      {cs(48, 60, 3, 2, 1), 15, 26, false, Act::kSiLU},
  };
  Rng rng(99);
  // Randomized 3x3 stride-1 and stride-2 convs around the blocked and Winograd paths'
  // boundaries: channels 16 k - {0, 1, 2} for k = 1..4 (blocks full, one or two channels
  // short: 14 = 16 - 2 is too empty for those paths, 30 = 32 - 2 is not), 1-37 pixels per
  // side (odd and even, rows shorter and longer than a chunk), with and without residual
  // and SiLU. Fixed seed: the same shapes every run.
  std::vector<ConvCase> all(std::begin(cases), std::end(cases));
  auto channels = [&rng] { return 16 * rng.Int(1, 4) - rng.Int(0, 2); };
  for (int i = 0; i < 16; ++i) {
    const int in_c = channels(), out_c = channels();
    all.push_back({cs(in_c, out_c, 3, 1 + i % 2, 1), rng.Int(1, 37), rng.Int(1, 37), i % 3 == 0,
                   i % 4 < 2 ? Act::kSiLU : Act::kNone});
  }
  // The targets with the blocked and Winograd paths, stated here independently of the
  // kernel's RTMO_BLOCKED_TARGET so that a change there shows up as a failure.
  constexpr bool kBlockedTarget = HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3;
  Scratch scratch;
  for (const ConvCase& c : all) {
    if (c.blocked_only && !kBlockedTarget) continue;
    const ConvShape& s = c.s;
    const int oh = s.OutH(c.h), ow = s.OutW(c.w);
    const size_t nx = static_cast<size_t>(s.in_c) * c.h * c.w;
    const size_t plane = static_cast<size_t>(oh) * ow, ny = s.out_c * plane;
    const size_t nw = static_cast<size_t>(s.out_c) * (s.in_c / s.groups) * s.kh * s.kw;
    TestArray x(nx, 1), w(nw, 1), bias(s.out_c, 1), res(ny, 1);
    rng.Fill(x.data(), nx, -1.0f, 1.0f);
    rng.Fill(w.data(), nw, -0.5f, 0.5f);
    rng.Fill(bias.data(), s.out_c, -1.0f, 1.0f);
    rng.Fill(res.data(), ny, -1.0f, 1.0f);
    const float* res_p = c.residual ? res.data() : nullptr;
    PackedConv packed, packed_ref, packed_abs;
    ops.pack_conv(s, w.data(), bias.data(), &packed);
    ref.pack_conv(s, w.data(), bias.data(), &packed_ref);
    // The output is a channel slice [1, 1 + out_c) of a larger map: neighbours untouched.
    TestArray y((s.out_c + 2) * plane, 1);
    for (size_t i = 0; i < y.size(); ++i) y[i] = TestArray::kGuardValue;
    ops.conv2d(packed, x.data(), c.h, c.w, c.act, res_p, y.data() + plane, &scratch);
    std::vector<float> want(ny);
    ref.conv2d(packed_ref, x.data(), c.h, c.w, c.act, res_p, want.data(), &scratch);
    const std::vector<float> ax = Abs(x.data(), nx), aw = Abs(w.data(), nw),
                             abias = Abs(bias.data(), s.out_c);
    ref.pack_conv(s, aw.data(), abias.data(), &packed_abs);
    std::vector<float> S(ny);
    ref.conv2d(packed_abs, ax.data(), c.h, c.w, Act::kNone, nullptr, S.data(), &scratch);
    const int K = s.in_c / s.groups * s.kh * s.kw;
    // Winograd: AVX2 and AVX-512 take every stride-1 3x3 conv of the blocked path (pad 1, input
    // and output channels filling blocks and tiles of 16 to within 1/8, e.g. 15). Its
    // bound: the same sum over in_c products, on the transformed magnitudes, plus 8 rounding
    // levels (2 input transform, 1 U, 4 output transform, bias).
    const bool winograd_expected = kBlockedTarget && s.groups == 1 && s.kh == 3 && s.stride == 1 &&
                                   s.pad == 1 && (s.in_c + 15) / 16 * 16 * 8 <= s.in_c * 9 &&
                                   (s.out_c + 15) / 16 * 16 * 8 <= s.out_c * 9;
    EXPECT_EQ(packed.winograd, winograd_expected)
        << hwy::TargetName(HWY_TARGET) << " in=" << s.in_c << " out=" << s.out_c;
    std::vector<double> SW;
    if (packed.winograd) SW = WinogradAbsScale(s, x.data(), c.h, c.w, w.data(), bias.data());
    std::vector<double> tol(ny);
    for (size_t i = 0; i < ny; ++i) {
      double t = packed.winograd ? (s.in_c + 8) * kEps * SW[i] : (K + 2) * kEps * S[i];
      if (c.act == Act::kSiLU) t = 1.1 * t + kSiluUlps * kEps * std::fabs(want[i]);
      if (c.residual) t += kEps * std::fabs(want[i]);
      tol[i] = t + kFltMin;
    }
    EXPECT_TRUE(AllWithin(y.data() + plane, want.data(), tol, ny,
                          packed.winograd
                              ? "Winograd: |y - y_ref| <= (in_c+8)*eps*(|A^T|(|GgG^T|.|B^TdB|)|A|"
                                "+|b|) (x1.1 + 5eps|y| for SiLU, +eps|y| with residual)"
                              : "|y - y_ref| <= (K+2)*eps*(|W||x|+|b|) (x1.1 + 5eps|y| for "
                                "SiLU, +eps|y| with residual)"))
        << hwy::TargetName(HWY_TARGET) << " conv in=" << s.in_c << " out=" << s.out_c
        << " k=" << s.kh << " s=" << s.stride << " g=" << s.groups << " " << c.h << "x" << c.w;
    for (size_t i = 0; i < plane; ++i) {
      ASSERT_EQ(y[i], TestArray::kGuardValue) << "conv wrote into the channel before its slice";
      ASSERT_EQ(y[(s.out_c + 1) * plane + i], TestArray::kGuardValue)
          << "conv wrote into the channel after its slice";
    }
    EXPECT_TRUE(x.GuardsIntact() && y.GuardsIntact() && res.GuardsIntact());
  }
}

// --- Transcendentals in ULP ------------------------------------------------------------

// Inputs spread evenly in bit space over [lo, hi] (lo, hi > 0), both signs when `neg`.
std::vector<float> SweepInputs(float lo, float hi, int count, bool neg) {
  auto bits = [](float f) { return std::bit_cast<uint32_t>(f); };
  std::vector<float> v;
  const uint32_t b0 = bits(lo), b1 = bits(hi);
  for (int i = 0; i <= count; ++i) {
    const float x = std::bit_cast<float>(
        static_cast<uint32_t>(b0 + (static_cast<uint64_t>(b1 - b0) * i) / count));
    v.push_back(x);
    if (neg) v.push_back(-x);
  }
  v.push_back(0.0f);
  return v;
}

void CheckUlp(const char* name, void (*f)(const float*, size_t, float*),
              void (*f_ref)(const float*, size_t, float*), const std::vector<float>& in,
              uint64_t max_ulp) {
  TestArray x(in.size(), 1), y(in.size(), 1);
  std::copy(in.begin(), in.end(), x.data());
  std::vector<float> want(in.size());
  f(x.data(), in.size(), y.data());
  f_ref(in.data(), in.size(), want.data());
  uint64_t worst = 0;
  size_t wi = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    ASSERT_FALSE(std::isnan(y[i])) << name << "(" << in[i] << ") is NaN";
    ASSERT_EQ(std::isinf(y[i]), std::isinf(want[i])) << name << "(" << in[i] << ") = " << y[i];
    // Below FLT_MIN the ULP is the subnormal spacing; there we bound the absolute error
    // by FLT_MIN instead (flush-to-zero-level accuracy).
    if (std::fabs(want[i]) < kFltMin) {
      ASSERT_LE(std::fabs(y[i] - want[i]), kFltMin)
          << name << "(" << in[i] << "): |err| <= FLT_MIN for subnormal results";
      continue;
    }
    const uint64_t u = UlpDistance(y[i], want[i]);
    if (u > worst) {
      worst = u;
      wi = i;
    }
  }
  EXPECT_LE(worst, max_ulp) << hwy::TargetName(HWY_TARGET) << " " << name
                            << ": max ULP distance to the correctly rounded double result, "
                            << "worst input " << in[wi] << " -> " << y[wi] << " vs " << want[wi];
  EXPECT_TRUE(y.GuardsIntact());
}

void TestTranscendentals() {
  const Ops& ops = TargetTable();
  const Ops& ref = Reference();
  // exp: Highway's Exp is documented at 1 ULP; the domain ends where float overflows.
  CheckUlp("exp", ops.exp, ref.exp, SweepInputs(1e-8f, 88.7f, 4000, true), 1);
  std::vector<float> deep = SweepInputs(87.0f, 110.0f, 500, false);  // subnormal results
  for (float& v : deep) v = -v;
  CheckUlp("exp(deep negative)", ops.exp, ref.exp, deep, 1);
  // sigmoid = {1 or e} / (1 + e), e = exp(-|x|): exp (1 ULP) + add + divide.
  CheckUlp("sigmoid", ops.sigmoid, ref.sigmoid, SweepInputs(1e-30f, 1e4f, 4000, true), 3);
  // silu = {x or x*e} / (1 + e) with our own e = exp(-|x|): < 5 ULP, derived at VSiLU
  // (kernels/simd/math-inl.h). The second sweep is dense where the polynomial, the
  // reduction's n and the 2^(n+64) scaling change: every |x| up to 130.
  CheckUlp("silu", ops.silu, ref.silu, SweepInputs(1e-30f, 1e4f, 4000, true), kSiluUlps);
  CheckUlp("silu(core)", ops.silu, ref.silu, SweepInputs(1e-4f, 130.0f, 400000, true), kSiluUlps);
  {  // Special values, as PyTorch's x * sigmoid(x) gives them.
    const float inf = std::numeric_limits<float>::infinity();
    const float in[4] = {inf, -inf, std::numeric_limits<float>::quiet_NaN(), -1e30f};
    float out[4];
    ops.silu(in, 4, out);
    EXPECT_EQ(out[0], inf) << "silu(+inf)";
    EXPECT_TRUE(std::isnan(out[1])) << "silu(-inf) = -inf * 0, got " << out[1];
    EXPECT_TRUE(std::isnan(out[2])) << "silu(NaN), got " << out[2];
    EXPECT_TRUE(out[3] == 0.0f && std::signbit(out[3])) << "silu(-1e30) = -0, got " << out[3];
  }
  // gelu: our erfc (1.3e-7 = ~1 ULP polynomial, two 1-ULP exps, four products) and x/2.
  CheckUlp("gelu", ops.gelu, ref.gelu, SweepInputs(1e-30f, 1e4f, 4000, true), 8);
  CheckUlp("gelu(core)", ops.gelu, ref.gelu, SweepInputs(1e-3f, 14.0f, 20000, true), 8);
}

// cos_sin: Highway's Cos/Sin against cos/sin in double rounded to float, over the DCC's
// argument range (|x| up to ~1e3) and Highway's whole valid range (39000), with tails.
// Absolute error bound, derived: the polynomial's documented 3 ULP on results |y| <= 1
// (3 * 2^-24), plus the range reduction r = x - q*pi in four FMA steps whose last three
// round (each at most half an ULP of |r| <= pi/2, i.e. 2^-24, carried through
// |d sin/dx| <= 1: 3 * 2^-24), plus the reference's own rounding to float (2^-25):
// 6.5 * 2^-24, rounded up.
constexpr float kCosSinAbsTol = 7.0f / (1 << 24);

void TestCosSin() {
  const Ops& ops = TargetTable();
  const Ops& ref = Reference();
  Rng rng(11);
  for (float range : {4.0f, 1000.0f, 39000.0f}) {
    for (size_t n : {1u, 3u, 15u, 16u, 17u, 33u, 4001u}) {
      TestArray x(n, 1), c(n, 1), s(n, 1);
      rng.Fill(x.data(), n, -range, range);
      std::vector<float> want_c(n), want_s(n);
      ops.cos_sin(x.data(), n, c.data(), s.data());
      ref.cos_sin(x.data(), n, want_c.data(), want_s.data());
      float worst = 0.0f;
      size_t at = 0;
      for (size_t i = 0; i < n; ++i) {
        const float e =
            std::max(std::abs(c.data()[i] - want_c[i]), std::abs(s.data()[i] - want_s[i]));
        if (e > worst) worst = e, at = i;
      }
      EXPECT_LE(worst, kCosSinAbsTol)
          << "cos_sin n=" << n << " |x| <= " << range << ": worst at x=" << x.data()[at];
      EXPECT_TRUE(x.GuardsIntact() && c.GuardsIntact() && s.GuardsIntact());
    }
  }
}

// --- Exact ops ------------------------------------------------------------------------

void TestExactOps() {
  const Ops& ops = TargetTable();
  const Ops& ref = Reference();
  Rng rng(7);
  for (size_t n : {1u, 3u, 15u, 16u, 17u, 31u, 33u, 64u, 1000u, 40001u}) {
    TestArray a(n, 1), b(n, 1), y(n, 1);
    rng.Fill(a.data(), n, -10.0f, 10.0f);
    rng.Fill(b.data(), n, -10.0f, 10.0f);
    std::vector<float> want(n);
    ops.relu2(a.data(), n, y.data());
    ref.relu2(a.data(), n, want.data());
    EXPECT_TRUE(BitwiseEqual(y.ToVector(), want, "relu2 (one rounding, must be exact)"));
    ops.add(a.data(), b.data(), n, y.data());
    ref.add(a.data(), b.data(), n, want.data());
    EXPECT_TRUE(BitwiseEqual(y.ToVector(), want, "add (one rounding, must be exact)"));
    ops.silu(a.data(), n, a.data());  // in place is allowed
    ref.silu(b.data(), n, b.data());
    EXPECT_TRUE(y.GuardsIntact() && a.GuardsIntact());
  }
  // max-pool k = 5/9/13 over odd and tiny maps, all-negative inputs so that a padding
  // value of 0 instead of -inf would win at the borders. Rows narrower than a vector and
  // partial last vectors (13 and 20 px: the SPP maps of rtmo-t and rtmo-s) read on into
  // the next row; below, x ends at an inaccessible page, which a read past its end hits.
  struct PoolCase {
    int c, h, w, k;
  };
  for (const PoolCase& p :
       {PoolCase{3, 20, 20, 5}, PoolCase{2, 13, 7, 9}, PoolCase{5, 3, 4, 13}, PoolCase{1, 1, 1, 5},
        PoolCase{4, 17, 33, 13}, PoolCase{6, 13, 13, 9}, PoolCase{3, 20, 20, 13}}) {
    const size_t n = static_cast<size_t>(p.c) * p.h * p.w;
    TestArray x(n, 1), y(n, 1);
    rng.Fill(x.data(), n, -5.0f, -1.0f);
    std::vector<float> want(n);
    ops.maxpool_same(x.data(), p.c, p.h, p.w, p.k, y.data());
    ref.maxpool_same(x.data(), p.c, p.h, p.w, p.k, want.data());
    EXPECT_TRUE(BitwiseEqual(y.ToVector(), want, "maxpool (a max is exact)"))
        << p.c << "x" << p.h << "x" << p.w << " k=" << p.k;
    EXPECT_TRUE(y.GuardsIntact());
    PageEndArray xe(n);
    ASSERT_TRUE(xe.ok()) << "mmap/mprotect failed";
    std::memcpy(xe.data(), x.data(), n * sizeof(float));
    std::vector<float> ye(n);
    ops.maxpool_same(xe.data(), p.c, p.h, p.w, p.k, ye.data());
    EXPECT_TRUE(BitwiseEqual(ye, want, "maxpool, x at the end of a page"))
        << p.c << "x" << p.h << "x" << p.w << " k=" << p.k;
  }
  for (auto [c, h, w] : {std::tuple{3, 5, 7}, std::tuple{1, 1, 1}, std::tuple{2, 20, 17}}) {
    const size_t n = static_cast<size_t>(c) * h * w;
    TestArray x(n, 1), y(4 * n, 1);
    rng.Fill(x.data(), n, -1.0f, 1.0f);
    std::vector<float> want(4 * n);
    ops.upsample2x(x.data(), c, h, w, y.data());
    ref.upsample2x(x.data(), c, h, w, want.data());
    EXPECT_TRUE(BitwiseEqual(y.ToVector(), want, "upsample2x (a copy is exact)"));
    EXPECT_TRUE(y.GuardsIntact());
  }
}

// --- LayerNorm, softmax, attention ------------------------------------------------------

void TestNormalization() {
  const Ops& ops = TargetTable();
  const Ops& ref = Reference();
  Rng rng(11);
  for (auto [rows, dim] : {std::tuple{1, 1}, std::tuple{3, 7}, std::tuple{5, 16}, std::tuple{4, 33},
                           std::tuple{17, 256}}) {
    const size_t n = static_cast<size_t>(rows) * dim;
    TestArray x(n, 1), y(n, 1), g(dim, 1), b(dim, 1);
    rng.Fill(x.data(), n, -3.0f, 5.0f);
    rng.Fill(g.data(), dim, 0.5f, 2.0f);
    rng.Fill(b.data(), dim, -1.0f, 1.0f);
    std::vector<float> want(n);
    const float eps = 1e-5f;
    ops.layernorm(x.data(), rows, dim, g.data(), b.data(), eps, y.data());
    ref.layernorm(x.data(), rows, dim, g.data(), b.data(), eps, want.data());
    std::vector<double> tol(n);
    for (int r = 0; r < rows; ++r) {
      double mean = 0, var = 0, mx = 0;
      for (int i = 0; i < dim; ++i) mean += x[r * dim + i];
      mean /= dim;
      for (int i = 0; i < dim; ++i) {
        var += (x[r * dim + i] - mean) * (x[r * dim + i] - mean);
        mx = std::max(mx, std::fabs(double{x[r * dim + i]}));
      }
      const double sigma = std::sqrt(var / dim + eps);
      for (int i = 0; i < dim; ++i) {
        const size_t k = static_cast<size_t>(r) * dim + i;
        const double xhat = (x[k] - mean) / sigma;
        tol[k] =
            std::fabs(g[i]) * ((dim + 8) * kEps * std::fabs(xhat) + (dim + 4) * kEps * mx / sigma) +
            2 * kEps * std::fabs(want[k]) + kEps * std::fabs(b[i]) + kFltMin;
      }
    }
    EXPECT_TRUE(AllWithin(y.data(), want.data(), tol, n,
                          "|g|((D+8)eps|xhat| + (D+4)eps max|x|/sigma) + 2eps|y| + eps|b|"))
        << "layernorm " << rows << "x" << dim;
    EXPECT_TRUE(y.GuardsIntact());

    // softmax in place over the same shapes, with a large offset to test max-subtraction.
    TestArray s(n, 1);
    rng.Fill(s.data(), n, -30.0f, 30.0f);
    std::vector<float> in = s.ToVector(), sw = in;
    ops.softmax(s.data(), rows, dim);
    ref.softmax(sw.data(), rows, dim);
    for (int r = 0; r < rows; ++r) {
      float mx = -INFINITY;
      for (int i = 0; i < dim; ++i) mx = std::max(mx, in[r * dim + i]);
      for (int i = 0; i < dim; ++i) {
        const size_t k = static_cast<size_t>(r) * dim + i;
        // exp(x - max): eps|x - max| from rounding the argument, 1 ULP exp, D-term sum.
        tol[k] = sw[k] * kEps * (dim + 8 + 2 * std::fabs(in[k] - mx)) + kFltMin;
      }
    }
    EXPECT_TRUE(
        AllWithin(s.data(), sw.data(), tol, n, "|p - p_ref| <= p_ref*eps*(D + 8 + 2|x - max|)"))
        << "softmax " << rows << "x" << dim;
    EXPECT_TRUE(s.GuardsIntact());
  }
}

void TestAttention() {
  const Ops& ops = TargetTable();
  const Ops& ref = Reference();
  Rng rng(5);
  Scratch scratch;
  for (auto [tokens, heads, dim] :
       {std::tuple{1, 1, 1}, std::tuple{17, 2, 5}, std::tuple{65, 3, 16}, std::tuple{169, 8, 32}}) {
    const int hd = heads * dim;
    const int ld_qkv = 3 * hd + 1, ld_out = hd + 3;
    TestArray qkv(static_cast<size_t>(tokens) * ld_qkv, 1);
    rng.Fill(qkv.data(), qkv.size(), -2.0f, 2.0f);
    TestArray out(static_cast<size_t>(tokens) * ld_out, 1);
    std::vector<float> want(out.size(), 0.0f);
    for (size_t i = 0; i < out.size(); ++i) out[i] = 0.0f;
    const float* q = qkv.data();
    ops.attention(q, q + hd, q + 2 * hd, ld_qkv, tokens, heads, dim, out.data(), ld_out, &scratch);
    ref.attention(q, q + hd, q + 2 * hd, ld_qkv, tokens, heads, dim, want.data(), ld_out, &scratch);
    // Score error ds <= scale*(D+2)*eps*D*max|q|*max|k| (max|.| = 2); softmax turns it into
    // a relative error 2ds + (T+4)eps of each weight; the weighted sum adds (T+2)eps.
    const double scale = 1.0 / std::sqrt(static_cast<double>(dim));
    const double ds = scale * (dim + 2) * kEps * dim * 4.0;
    const double t = 2.0 * (2 * ds + (2.0 * tokens + 8) * kEps) + kFltMin;
    std::vector<double> tol(out.size(), t);
    EXPECT_TRUE(
        AllWithin(out.data(), want.data(), tol, out.size(),
                  "|o - o_ref| <= max|v|*(2ds + (2T+8)eps), ds = scale*(D+2)*eps*D*max|q||k|"))
        << "attention T=" << tokens << " heads=" << heads << " dim=" << dim;
    EXPECT_TRUE(out.GuardsIntact());
  }
}

// --- Determinism across thread counts ---------------------------------------------------

// Runs `fn` with 1, 2 and 7 OpenMP threads; outputs must be bitwise identical and the
// multi-threaded runs must have handed a kernel parallel loop to that many threads.
template <class Fn>
void CheckThreadInvariant(const char* what, Fn fn) {
  const int saved = omp_get_max_threads();
  std::vector<float> base;
  for (int threads : {1, 2, 7}) {
    omp_set_num_threads(threads);
    ResetKernelThreadsSeen();
    std::vector<float> out = fn();
    const int seen = std::popcount(KernelThreadsSeen());
    if (threads == 1) {
      base = out;
    } else {
      EXPECT_EQ(seen, threads) << what << ": threads that entered the kernel's parallel region";
      EXPECT_TRUE(BitwiseEqual(
          base, out, std::string(what) + " with " + std::to_string(threads) + " vs 1 thread"));
    }
  }
  omp_set_num_threads(saved);
}

void TestThreadDeterminism() {
  const Ops& ops = TargetTable();
  Rng rng(3);
  Scratch scratch;
  {
    const int M = 40, N = 700, K = 300;
    std::vector<float> A(M * K), B(K * N), bias(N);
    rng.Fill(A.data(), A.size(), -1, 1);
    rng.Fill(B.data(), B.size(), -1, 1);
    rng.Fill(bias.data(), N, -1, 1);
    CheckThreadInvariant("gemm", [&] {
      std::vector<float> C(M * N);
      ops.gemm(M, N, K, A.data(), K, B.data(), N, false, bias.data(), Act::kSiLU, C.data(), N,
               &scratch);
      return C;
    });
  }
  // A 3x3 conv (pad 1) with random weights, bias and (optionally) residual, all three
  // above the kernels' threading threshold (4M MACs) so that 2 and 7 threads really run.
  auto check_conv = [&](const char* what, int in_c, int out_c, int stride, int groups, int h, int w,
                        bool residual, int k = 3) {
    ConvShape s;
    s.in_c = in_c;
    s.out_c = out_c;
    s.kh = s.kw = k;
    s.stride = stride;
    s.pad = k / 2;
    s.groups = groups;
    const size_t ny = static_cast<size_t>(out_c) * s.OutH(h) * s.OutW(w);
    std::vector<float> x(in_c * h * w), wt(out_c * (in_c / groups) * k * k), b(out_c), r;
    rng.Fill(x.data(), x.size(), -1, 1);
    rng.Fill(wt.data(), wt.size(), -1, 1);
    rng.Fill(b.data(), b.size(), -1, 1);
    if (residual) {
      r.resize(ny);
      rng.Fill(r.data(), r.size(), -1, 1);
    }
    PackedConv p;
    ops.pack_conv(s, wt.data(), b.data(), &p);
    CheckThreadInvariant(what, [&] {
      std::vector<float> y(ny);
      ops.conv2d(p, x.data(), h, w, Act::kSiLU, residual ? r.data() : nullptr, y.data(), &scratch);
      return y;
    });
  };
  check_conv("conv3x3s2", 24, 40, 2, 1, 61, 59, false);    // packed im2col, 8M MACs
  check_conv("conv3x3s1", 24, 40, 1, 1, 31, 29, true);     // direct path, 7.8M MACs
  check_conv("conv3x3g8", 144, 144, 1, 8, 25, 23, false);  // groups are the tasks, 13M MACs
  // AVX2's and AVX-512's blocked direct conv (tasks: channel tiles x row groups), 12-35M MACs, and
  // its Winograd F(2x2, 3x3) conv (tasks: runs of tiles of one tile row), 13M MACs direct.
  check_conv("conv5x5s1 blocked", 32, 48, 1, 1, 31, 29, true, 5);
  check_conv("conv3x3s2 blocked", 48, 32, 2, 1, 61, 59, false);
  check_conv("conv3x3s1 Winograd", 32, 48, 1, 1, 31, 29, true);
  {
    const int T = 100, H = 4, D = 8;
    std::vector<float> qkv(T * 3 * H * D);
    rng.Fill(qkv.data(), qkv.size(), -2, 2);
    CheckThreadInvariant("attention", [&] {
      std::vector<float> o(T * H * D);
      ops.attention(qkv.data(), qkv.data() + H * D, qkv.data() + 2 * H * D, 3 * H * D, T, H, D,
                    o.data(), H * D, &scratch);
      return o;
    });
  }
  {
    const size_t n = 16384 * 9 + 5;  // several chunks of the element-wise split
    std::vector<float> x(n);
    rng.Fill(x.data(), n, -8, 8);
    CheckThreadInvariant("gelu", [&] {
      std::vector<float> y(n);
      ops.gelu(x.data(), n, y.data());
      return y;
    });
  }
}

// The GEMM's task grid (GridFor, kernels/simd/gemm-inl.h): its blocks tile C exactly, start
// on tile panels, differ by at most one panel in each direction, are at most mc x nc, and
// come in an even number whenever there are at least two and the panels allow it, except
// that a packed B on one thread never splits the rows (each row block would re-pack B).
// (Which block computes an element never changes its value: the GEMM tests check that.)
template <class T>
void CheckTaskGrid(const char* tile, bool packs_on_one_thread) {
  const size_t kmr = T::kMR, nr = NR<T>();
  const size_t Ms[] = {1, 5, 6, 17, 32, 64, 96, 128, 144, 256, 512};
  const size_t Ns[] = {1, 7, 24, 100, 169, 400, 676, 1600, 6400, 25600};
  const size_t Ks[] = {9, 64, 288, 1152};
  for (size_t M : Ms) {
    for (size_t N : Ns) {
      for (size_t K : Ks) {
        const TaskGrid g = GridFor<T>(M, N, K, packs_on_one_thread);
        const std::string at = std::string(tile) + " M=" + std::to_string(M) +
                               " N=" + std::to_string(N) + " K=" + std::to_string(K) +
                               (packs_on_one_thread ? " packed B, one thread" : "");
        ASSERT_GE(g.m_blocks, 1u) << at;
        ASSERT_GE(g.n_blocks, 1u) << at;
        // One direction: blocks [edge(b), edge(b + 1)) tile [0, size) from panel edges
        // (multiples of `unit`), none empty or above `largest`, sizes within one panel.
        auto check = [&](const char* what, size_t blocks, auto edge, size_t unit, size_t size,
                         size_t largest) {
          EXPECT_EQ(edge(0), 0u) << at;
          EXPECT_EQ(edge(blocks), size) << at;
          size_t lo = SIZE_MAX, hi = 0;
          for (size_t b = 0; b < blocks; ++b) {
            const size_t b0 = edge(b), b1 = edge(b + 1);
            ASSERT_LT(b0, b1) << at << ": empty " << what << " block " << b;
            EXPECT_EQ(b0 % unit, 0u) << at;
            EXPECT_LE(b1 - b0, largest) << at;
            const size_t panels = (b1 - b0 + unit - 1) / unit;  // the last may end inside one
            lo = std::min(lo, panels);
            hi = std::max(hi, panels);
          }
          EXPECT_LE(hi - lo, 1u) << at << ": " << what << " blocks unbalanced";
        };
        check(
            "row", g.m_blocks, [&](size_t b) { return g.M0(b, M); }, kmr, M, g.mc);
        check(
            "column", g.n_blocks, [&](size_t b) { return g.N0(b, N); }, nr, N, g.nc);
        if (packs_on_one_thread) {
          EXPECT_EQ(g.m_blocks, 1u) << at;
          EXPECT_EQ(g.n_blocks, GridFor<T>(M, N, K).n_blocks) << at;
        }
        // Odd only when neither direction has a panel left to split (or may be split).
        if (g.tasks() > 1 && g.tasks() % 2 == 1) {
          if (!packs_on_one_thread) {
            EXPECT_EQ(g.m_blocks, g.m_panels) << at << ": " << g.tasks() << " tasks";
          }
          EXPECT_EQ(g.n_blocks, g.n_panels) << at << ": " << g.tasks() << " tasks";
        }
      }
    }
  }
}

void TestTaskGrid() {
  CheckTaskGrid<PackedTile>("PackedTile", false);
  CheckTaskGrid<PackedTile>("PackedTile", true);
  CheckTaskGrid<DirectTile>("DirectTile", false);
}

}  // namespace
}  // namespace rtmo::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace rtmo::kernels {
namespace {

HWY_BEFORE_TEST(KernelsTest);
HWY_EXPORT_AND_TEST_P(KernelsTest, TestGemm);
HWY_EXPORT_AND_TEST_P(KernelsTest, TestConv);
HWY_EXPORT_AND_TEST_P(KernelsTest, TestTranscendentals);
HWY_EXPORT_AND_TEST_P(KernelsTest, TestCosSin);
HWY_EXPORT_AND_TEST_P(KernelsTest, TestExactOps);
HWY_EXPORT_AND_TEST_P(KernelsTest, TestNormalization);
HWY_EXPORT_AND_TEST_P(KernelsTest, TestAttention);
HWY_EXPORT_AND_TEST_P(KernelsTest, TestThreadDeterminism);
HWY_EXPORT_AND_TEST_P(KernelsTest, TestTaskGrid);

// The dispatcher: Best() is one of the supported tables, stable across calls, and every
// supported compiled target is listed.
TEST(KernelsDispatch, BestIsSupportedAndStable) {
  const std::vector<const Ops*> all = AllSupported();
  ASSERT_FALSE(all.empty());
  const Ops& best = Best();
  EXPECT_EQ(&best, &Best());
  EXPECT_EQ(&best, all.front()) << "Best() should be the best supported target";
  EXPECT_STREQ(Reference().target_name, "reference");
  for (const Ops* o : all) {
    ASSERT_NE(o->gemm, nullptr);
    EXPECT_NE(o->conv2d, Reference().conv2d) << o->target_name << " still uses the reference";
    EXPECT_NE(o->attention, Reference().attention) << o->target_name;
  }
}

// Best() is the target this machine should use. Prints it (CI logs); when
// RTMO_EXPECT_TARGET is set (tools/test_aarch64.sh sets it for each emulated CPU, e.g.
// SVE2_128 for QEMU_CPU=max,sve-default-vector-length=16) the choice must equal it, so a
// run meant to cover one Highway target cannot silently fall back to another.
TEST(KernelsDispatch, BestIsExpectedTarget) {
  std::printf("Best() target: %s\n", Best().target_name);
  const char* want = std::getenv("RTMO_EXPECT_TARGET");
  if (want == nullptr || *want == '\0') {
    GTEST_SKIP() << "RTMO_EXPECT_TARGET is not set: no expected target to compare with";
  }
  EXPECT_STREQ(Best().target_name, want);
}

}  // namespace
}  // namespace rtmo::kernels
#endif
