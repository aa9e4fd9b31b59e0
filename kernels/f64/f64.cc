// Float64 kernels (see f64.h): Eigen 3 products and plain loops, OpenMP over pieces fixed
// by the shapes.
//
// This file is compiled with EIGEN_DONT_PARALLELIZE (kernels/f64/CMakeLists.txt): Eigen
// never starts threads of its own, so each piece's product is single-threaded and its
// summation order depends on the piece's sizes only. Eigen is private to this file (not in
// f64.h), so no other translation unit can see a differently configured Eigen.
#include "kernels/f64/f64.h"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

#ifndef EIGEN_DONT_PARALLELIZE
#error "kernels/f64/f64.cc must be compiled with EIGEN_DONT_PARALLELIZE (determinism)"
#endif

namespace rtmo::kernels::f64 {
namespace {

using RowMat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Stride = Eigen::OuterStride<>;
using ConstView = Eigen::Map<const RowMat, Eigen::Unaligned, Stride>;
using View = Eigen::Map<RowMat, Eigen::Unaligned, Stride>;

// Piece sizes. They fix how a product is cut (and hence Eigen's blocking of each piece),
// so changing them changes the last bits of results, never their dependence on threads.
// All are maxima: n items are cut into the fewest blocks of (nearly) equal size (EvenBlock).
// Conv: <= 128 output pixels x <= 128 output channels keeps the per-thread im2col buffer
// at <= K x 128 doubles (2.3 MB for a 3x3 over 256 channels) and gives >= 4 equal pieces
// for every RTMO-s conv at 20x20, so that 2-4 threads are busy.
constexpr int kConvPixels = 128;
constexpr int kConvChannels = 128;
// Gemm: 64 rows x 256 columns per piece.
constexpr int kGemmRows = 64;
constexpr int kGemmCols = 256;
// Attention: 32 query rows of one head per piece (scores buffer 32 x T).
constexpr int kAttnRows = 32;
// Element-wise kernels stay single-threaded below this many values (the fork costs more).
constexpr size_t kMinParallel = 1 << 14;

// The block size for cutting n items into the fewest blocks of at most max_block items,
// all of (nearly) the same size: ceil(n / blocks) rounded up to a multiple of `align`, but
// never above max_block (max_block is a multiple of align or align is 1).
int64_t EvenBlock(int64_t n, int64_t max_block, int64_t align) {
  const int64_t blocks = (n + max_block - 1) / max_block;
  const int64_t even = (n + blocks - 1) / blocks;
  return std::min(max_block, (even + align - 1) / align * align);
}

// Eigen sizes its GEMM blocks (and so the split of each dot product into partial sums)
// from the CPU's cache sizes. Pinning them makes the results independent of the machine,
// not only of the thread count. Values of a typical x86-64 core (32 KiB L1d, 512 KiB L2,
// a few MiB of L3 share); the thread-safe static runs this once before any product.
void PinEigenBlocking() {
  static const bool pinned = [] {
    Eigen::setCpuCacheSizes(32 * 1024, 512 * 1024, 4 * 1024 * 1024);
    return true;
  }();
  (void)pinned;
}

[[noreturn]] void Fail(const std::string& what) {
  throw std::invalid_argument("rtmo::kernels::f64::" + what);
}

std::string Dims(int a, int b, int c) {
  return "[" + std::to_string(a) + "," + std::to_string(b) + "," + std::to_string(c) + "]";
}

void CheckAct(Act act, const char* fn) {
  if (act != Act::kNone && act != Act::kSiLU) {
    Fail(std::string(fn) + ": unknown activation " + std::to_string(static_cast<int>(act)));
  }
}

void CheckMat(const char* fn, const char* name, int rows, int cols, int ld) {
  if (rows < 0 || cols < 0 || ld < cols) {
    Fail(std::string(fn) + ": " + name + " has rows " + std::to_string(rows) + ", cols " +
         std::to_string(cols) + ", ld " + std::to_string(ld) + " (need >= 0 and ld >= cols)");
  }
}

// Element range [begin, end) spanned by a strided view (empty views span nothing).
struct Span {
  uintptr_t begin = 0, end = 0;
};
template <typename T>
Span SpanOf(const T* data, size_t rows, size_t cols, size_t ld) {
  if (rows == 0 || cols == 0) return {};
  const auto b = reinterpret_cast<uintptr_t>(data);
  return {b, b + ((rows - 1) * ld + cols) * sizeof(T)};
}
template <typename T>
Span SpanOf(const Mat<T>& m) {
  return SpanOf(m.data, m.rows, m.cols, m.ld);
}
template <typename T>
Span SpanOf(const Map<T>& m) {
  return SpanOf(m.data, 1, m.size(), m.size());
}
bool Overlap(Span a, Span b) { return a.begin < b.end && b.begin < a.end; }

// Outputs computed piece by piece from inputs that other pieces still read would depend on
// the schedule, and in-place use of these kernels is not supported: refuse overlap.
void CheckNoOverlap(const char* fn, const char* out, Span o, const char* in, Span i) {
  if (Overlap(o, i)) Fail(std::string(fn) + ": " + out + " overlaps " + in + " (not supported)");
}

inline double SiluOne(double v) { return v / (1.0 + std::exp(-v)); }

inline double Activate(Act act, double v) { return act == Act::kSiLU ? SiluOne(v) : v; }

// floor(a / b) for b > 0 (C++ division truncates towards zero).
inline int FloorDiv(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// col[r][j] for r = (ic * kh + ky) * kw + kx (the order of PyTorch's weight rows) and
// j = output pixels [p0, p0 + np): x[c0 + ic] at the tap's input position, 0 in padding.
void Im2col(Map<const double> x, const ConvShape& s, int c0, int icg, int ow, int64_t p0, int np,
            double* col) {
  for (int ic = 0; ic < icg; ++ic) {
    const double* xc = x.channel(c0 + ic);
    for (int ky = 0; ky < s.kh; ++ky) {
      for (int kx = 0; kx < s.kw; ++kx) {
        double* dst = col + (static_cast<size_t>(ic * s.kh + ky) * s.kw + kx) * np;
        // Output columns ox with ix = ox * stride - pad + kx inside [0, x.w): [lo, hi).
        const int lo = std::min(ow, std::max(0, FloorDiv(s.pad - kx + s.stride - 1, s.stride)));
        const int hi = std::max(lo, std::min(ow, FloorDiv(x.w - 1 + s.pad - kx, s.stride) + 1));
        // The tile covers output pixels [p0, p0 + np): walk it one output row segment at a
        // time, so the bounds are decided per segment, not per element.
        int64_t p = p0;
        const int64_t end = p0 + np;
        while (p < end) {
          const int oy = static_cast<int>(p / ow), ox0 = static_cast<int>(p % ow);
          const int ox1 = static_cast<int>(std::min<int64_t>(ow, ox0 + (end - p)));
          double* d = dst + (p - p0);  // d[ox - ox0] is this segment's element for ox
          const int iy = oy * s.stride - s.pad + ky;
          if (iy < 0 || iy >= x.h) {
            for (int ox = ox0; ox < ox1; ++ox) d[ox - ox0] = 0.0;
          } else {
            const double* xr = xc + static_cast<size_t>(iy) * x.w;
            const ptrdiff_t shift = kx - s.pad;  // ix = ox * stride + shift
            const int a = std::max(ox0, lo), b = std::max(a, std::min(ox1, hi));
            for (int ox = ox0; ox < a; ++ox) d[ox - ox0] = 0.0;
            if (s.stride == 1) {
              for (int ox = a; ox < b; ++ox) d[ox - ox0] = xr[ox + shift];
            } else {
              for (int ox = a; ox < b; ++ox)
                d[ox - ox0] = xr[static_cast<ptrdiff_t>(ox) * s.stride + shift];
            }
            for (int ox = b; ox < ox1; ++ox) d[ox - ox0] = 0.0;
          }
          p += ox1 - ox0;
        }
      }
    }
  }
}

// One input channel per output channel: direct loops, taps summed in (ky, kx) order from
// 0, then the bias. Pieces are (channel, output row): the order per element is fixed.
void DepthwiseConv(const Conv& p, Map<const double> x, Map<double> y, Act act,
                   const double* residual) {
  const ConvShape& s = p.shape;
  const int c = y.c, oh = y.h, ow = y.w;
  const size_t plane = y.plane();
  const bool parallel = static_cast<int64_t>(c) * oh > 1;
#pragma omp parallel for collapse(2) schedule(static) if (parallel)
  for (int ch = 0; ch < c; ++ch) {
    for (int oy = 0; oy < oh; ++oy) {
      const double* xc = x.channel(ch);
      const double* wc = p.w.data() + static_cast<size_t>(ch) * s.kh * s.kw;
      double* yr = y.channel(ch) + static_cast<size_t>(oy) * ow;
      const double* rr = residual ? residual + ch * plane + static_cast<size_t>(oy) * ow : nullptr;
      for (int ox = 0; ox < ow; ++ox) {
        double acc = 0.0;
        for (int ky = 0; ky < s.kh; ++ky) {
          const int iy = oy * s.stride - s.pad + ky;
          if (iy < 0 || iy >= x.h) continue;
          for (int kx = 0; kx < s.kw; ++kx) {
            const int ix = ox * s.stride - s.pad + kx;
            if (ix < 0 || ix >= x.w) continue;
            acc += wc[ky * s.kw + kx] * xc[static_cast<size_t>(iy) * x.w + ix];
          }
        }
        double v = Activate(act, acc + p.b[ch]);
        if (rr) v += rr[ox];
        yr[ox] = v;
      }
    }
  }
}

}  // namespace

Conv MakeConv(const ConvShape& s, const double* w, const double* b) {
  if (s.in_c <= 0 || s.out_c <= 0 || s.kh <= 0 || s.kw <= 0 || s.stride <= 0 || s.pad < 0 ||
      s.groups <= 0) {
    Fail("MakeConv: shape needs positive in_c/out_c/kh/kw/stride/groups and pad >= 0, got in_c " +
         std::to_string(s.in_c) + " out_c " + std::to_string(s.out_c) + " k " +
         std::to_string(s.kh) + "x" + std::to_string(s.kw) + " stride " + std::to_string(s.stride) +
         " pad " + std::to_string(s.pad) + " groups " + std::to_string(s.groups));
  }
  if (s.in_c % s.groups != 0 || s.out_c % s.groups != 0) {
    Fail("MakeConv: in_c " + std::to_string(s.in_c) + " and out_c " + std::to_string(s.out_c) +
         " must be divisible by groups " + std::to_string(s.groups));
  }
  if (w == nullptr) Fail("MakeConv: weights are null");
  Conv p;
  p.shape = s;
  const size_t nw = static_cast<size_t>(s.out_c) * (s.in_c / s.groups) * s.kh * s.kw;
  p.w.Resize(nw);
  std::copy(w, w + nw, p.w.data());
  p.b.Resize(s.out_c);
  if (b) {
    std::copy(b, b + s.out_c, p.b.data());
  } else {
    p.b.Zero();
  }
  return p;
}

void Conv2d(const Conv& p, Map<const double> x, Map<double> y, Act act, const double* residual) {
  const ConvShape& s = p.shape;
  CheckAct(act, "Conv2d");
  const size_t nw =
      static_cast<size_t>(s.out_c) * (s.groups > 0 ? s.in_c / s.groups : 0) * s.kh * s.kw;
  if (s.groups <= 0 || s.in_c % s.groups != 0 || s.out_c % s.groups != 0 || s.stride <= 0 ||
      p.w.size() != nw || p.b.size() != static_cast<size_t>(s.out_c)) {
    Fail("Conv2d: Conv not built by MakeConv (weights " + std::to_string(p.w.size()) +
         ", expected " + std::to_string(nw) + "; bias " + std::to_string(p.b.size()) + ")");
  }
  // The padded input must hold one window (ConvShape::OutH's C division would round a
  // negative (h + 2 pad - kh) / stride up to 0 and report one output row).
  if (x.c != s.in_c || x.h <= 0 || x.w <= 0 || x.h + 2 * s.pad < s.kh || x.w + 2 * s.pad < s.kw) {
    Fail("Conv2d: x is " + Dims(x.c, x.h, x.w) + ", expected in_c " + std::to_string(s.in_c) +
         " and h + 2 pad >= kh, w + 2 pad >= kw (kernel " + std::to_string(s.kh) + "x" +
         std::to_string(s.kw) + ", pad " + std::to_string(s.pad) + ")");
  }
  const int oh = s.OutH(x.h), ow = s.OutW(x.w);
  if (oh <= 0 || ow <= 0 || y.c != s.out_c || y.h != oh || y.w != ow) {
    Fail("Conv2d: y is " + Dims(y.c, y.h, y.w) + ", expected " + Dims(s.out_c, oh, ow) + " for x " +
         Dims(x.c, x.h, x.w));
  }
  CheckNoOverlap("Conv2d", "y", SpanOf(y), "x", SpanOf(x));
  if (residual != nullptr && residual != y.data) {
    CheckNoOverlap("Conv2d", "y", SpanOf(y), "residual (unless equal to y)",
                   SpanOf(residual, 1, y.size(), y.size()));
  }
  const int icg = s.in_c / s.groups, ocg = s.out_c / s.groups;
  if (icg == 1 && ocg == 1) {
    DepthwiseConv(p, x, y, act, residual);
    return;
  }
  PinEigenBlocking();
  const int k = icg * s.kh * s.kw;
  const int64_t npix = static_cast<int64_t>(oh) * ow;
  // A 1x1 stride-1 unpadded conv is already a GEMM over x's channel rows: no im2col.
  const bool direct = s.kh == 1 && s.kw == 1 && s.stride == 1 && s.pad == 0;
  // Blocks of at most kConvPixels / kConvChannels, of equal size (rounded up to a multiple
  // of 8 pixels): 400 pixels are 4 x 104 rather than 3 x 128 + 16, which would leave one of
  // two threads idle for a quarter of the time.
  const int pix_block = static_cast<int>(EvenBlock(npix, kConvPixels, 8));
  const int ch_block = static_cast<int>(EvenBlock(ocg, kConvChannels, 1));
  const int64_t pix_blocks = (npix + pix_block - 1) / pix_block;
  const int64_t ch_blocks = (ocg + ch_block - 1) / ch_block;
  const int64_t pieces = s.groups * ch_blocks * pix_blocks;
#pragma omp parallel if (pieces > 1)
  {
    AlignedBuffer<double> col(direct ? 0 : static_cast<size_t>(k) * pix_block);
    AlignedBuffer<double> tile(static_cast<size_t>(ch_block) * pix_block);
#pragma omp for schedule(dynamic, 1)
    for (int64_t piece = 0; piece < pieces; ++piece) {
      const int g = static_cast<int>(piece / (ch_blocks * pix_blocks));
      const int64_t rest = piece % (ch_blocks * pix_blocks);
      const int m0 = static_cast<int>(rest / pix_blocks) * ch_block;
      const int64_t p0 = (rest % pix_blocks) * pix_block;
      const int mb = std::min(ch_block, ocg - m0);
      const int np = static_cast<int>(std::min<int64_t>(pix_block, npix - p0));
      const int oc0 = g * ocg + m0;
      const ConstView wv(p.w.data() + static_cast<size_t>(oc0) * k, mb, k, Stride(k));
      View tv(tile.data(), mb, np, Stride(np));
      if (direct) {
        tv.noalias() = wv * ConstView(x.channel(g * icg) + p0, k, np, Stride(npix));
      } else {
        Im2col(x, s, g * icg, icg, ow, p0, np, col.data());
        tv.noalias() = wv * ConstView(col.data(), k, np, Stride(np));
      }
      // Epilogue from the private tile, so y is written once per element and a residual
      // equal to y is read before it is overwritten.
      for (int r = 0; r < mb; ++r) {
        const int oc = oc0 + r;
        const double bias = p.b[oc];
        const double* t = tile.data() + static_cast<size_t>(r) * np;
        double* yr = y.channel(oc) + p0;
        const double* rr = residual ? residual + oc * npix + p0 : nullptr;
        for (int j = 0; j < np; ++j) {
          double v = Activate(act, t[j] + bias);
          if (rr) v += rr[j];
          yr[j] = v;
        }
      }
    }
  }
}

void Gemm(Mat<const double> a, Mat<const double> b, bool trans_b, Mat<double> c, const double* bias,
          Act act) {
  CheckAct(act, "Gemm");
  CheckMat("Gemm", "a", a.rows, a.cols, a.ld);
  CheckMat("Gemm", "b", b.rows, b.cols, b.ld);
  CheckMat("Gemm", "c", c.rows, c.cols, c.ld);
  const int m = a.rows, kdim = a.cols;
  const int bk = trans_b ? b.cols : b.rows, n = trans_b ? b.rows : b.cols;
  if (bk != kdim || c.rows != m || c.cols != n) {
    Fail("Gemm: a [" + std::to_string(m) + "," + std::to_string(kdim) + "], b [" +
         std::to_string(b.rows) + "," + std::to_string(b.cols) + "]" +
         (trans_b ? " (transposed)" : "") + ", c [" + std::to_string(c.rows) + "," +
         std::to_string(c.cols) + "]: inconsistent");
  }
  if (m == 0 || n == 0) return;
  CheckNoOverlap("Gemm", "c", SpanOf(c), "a", SpanOf(a));
  CheckNoOverlap("Gemm", "c", SpanOf(c), "b", SpanOf(b));
  PinEigenBlocking();
  const int row_block = static_cast<int>(EvenBlock(m, kGemmRows, 1));
  const int col_block = static_cast<int>(EvenBlock(n, kGemmCols, 8));
  const int64_t row_blocks = (m + row_block - 1) / row_block;
  const int64_t col_blocks = (n + col_block - 1) / col_block;
  const int64_t pieces = row_blocks * col_blocks;
#pragma omp parallel for schedule(dynamic, 1) if (pieces > 1)
  for (int64_t piece = 0; piece < pieces; ++piece) {
    const int m0 = static_cast<int>(piece / col_blocks) * row_block;
    const int n0 = static_cast<int>(piece % col_blocks) * col_block;
    const int mb = std::min(row_block, m - m0), nb = std::min(col_block, n - n0);
    View cv(c.row(m0) + n0, mb, nb, Stride(c.ld));
    if (kdim == 0) {
      cv.setZero();  // an empty sum (Eigen's product needs depth > 0 to be meaningful)
    } else {
      const ConstView av(a.row(m0), mb, kdim, Stride(a.ld));
      if (trans_b) {
        cv.noalias() = av * ConstView(b.row(n0), nb, kdim, Stride(b.ld)).transpose();
      } else {
        cv.noalias() = av * ConstView(b.data + n0, kdim, nb, Stride(b.ld));
      }
    }
    if (bias == nullptr && act == Act::kNone) continue;
    for (int r = 0; r < mb; ++r) {
      double* cr = c.row(m0 + r) + n0;
      for (int j = 0; j < nb; ++j) {
        cr[j] = Activate(act, bias ? cr[j] + bias[n0 + j] : cr[j]);
      }
    }
  }
}

void LayerNorm(Mat<const double> x, const double* gamma, const double* beta, double eps,
               Mat<double> y) {
  CheckMat("LayerNorm", "x", x.rows, x.cols, x.ld);
  CheckMat("LayerNorm", "y", y.rows, y.cols, y.ld);
  if (y.rows != x.rows || y.cols != x.cols || x.cols == 0) {
    Fail("LayerNorm: x [" + std::to_string(x.rows) + "," + std::to_string(x.cols) + "], y [" +
         std::to_string(y.rows) + "," + std::to_string(y.cols) + "]: need equal, cols > 0");
  }
  if (x.data != y.data || x.ld != y.ld) CheckNoOverlap("LayerNorm", "y", SpanOf(y), "x", SpanOf(x));
  const int n = x.cols;
#pragma omp parallel for schedule(static) if (static_cast <int64_t>(x.rows) * n >= 4096)
  for (int r = 0; r < x.rows; ++r) {
    const double* xr = x.row(r);
    double sum = 0.0;
    for (int i = 0; i < n; ++i) sum += xr[i];
    const double mean = sum / n;
    double sq = 0.0;
    for (int i = 0; i < n; ++i) sq += (xr[i] - mean) * (xr[i] - mean);
    const double rstd = 1.0 / std::sqrt(sq / n + eps);
    double* yr = y.row(r);  // may be xr: every x value of the row was read above
    for (int i = 0; i < n; ++i) {
      double v = (xr[i] - mean) * rstd;
      if (gamma) v *= gamma[i];
      if (beta) v += beta[i];
      yr[i] = v;
    }
  }
}

void Attention(Mat<const double> q, Mat<const double> k, Mat<const double> v, int heads,
               Mat<double> out) {
  CheckMat("Attention", "q", q.rows, q.cols, q.ld);
  CheckMat("Attention", "k", k.rows, k.cols, k.ld);
  CheckMat("Attention", "v", v.rows, v.cols, v.ld);
  CheckMat("Attention", "out", out.rows, out.cols, out.ld);
  if (heads <= 0 || q.cols % heads != 0 || q.cols == 0 || k.cols != q.cols || v.cols != q.cols ||
      out.cols != q.cols || v.rows != k.rows || out.rows != q.rows || (q.rows > 0 && k.rows == 0)) {
    Fail("Attention: q [" + std::to_string(q.rows) + "," + std::to_string(q.cols) + "], k [" +
         std::to_string(k.rows) + "," + std::to_string(k.cols) + "], v [" + std::to_string(v.rows) +
         "," + std::to_string(v.cols) + "], out [" + std::to_string(out.rows) + "," +
         std::to_string(out.cols) + "], heads " + std::to_string(heads) +
         ": need q/k/v/out cols = heads*d, k/v rows equal (> 0), "
         "out rows = q rows");
  }
  if (q.rows == 0) return;
  CheckNoOverlap("Attention", "out", SpanOf(out), "q", SpanOf(q));
  CheckNoOverlap("Attention", "out", SpanOf(out), "k", SpanOf(k));
  CheckNoOverlap("Attention", "out", SpanOf(out), "v", SpanOf(v));
  PinEigenBlocking();
  const int d = q.cols / heads, tq = q.rows, tk = k.rows;
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  const int row_block = static_cast<int>(EvenBlock(tq, kAttnRows, 1));
  const int64_t row_blocks = (tq + row_block - 1) / row_block;
  const int64_t pieces = heads * row_blocks;
#pragma omp parallel if (pieces > 1)
  {
    AlignedBuffer<double> scores(static_cast<size_t>(row_block) * tk);
#pragma omp for schedule(dynamic, 1)
    for (int64_t piece = 0; piece < pieces; ++piece) {
      const int h = static_cast<int>(piece / row_blocks);
      const int r0 = static_cast<int>(piece % row_blocks) * row_block;
      const int rb = std::min(row_block, tq - r0);
      View sv(scores.data(), rb, tk, Stride(tk));
      sv.noalias() = ConstView(q.row(r0) + h * d, rb, d, Stride(q.ld)) *
                     ConstView(k.data + h * d, tk, d, Stride(k.ld)).transpose();
      for (int r = 0; r < rb; ++r) {
        double* sr = scores.data() + static_cast<size_t>(r) * tk;
        double mx = -std::numeric_limits<double>::infinity();
        for (int j = 0; j < tk; ++j) {
          sr[j] *= scale;
          mx = std::max(mx, sr[j]);
        }
        double sum = 0.0;
        for (int j = 0; j < tk; ++j) {
          sr[j] = std::exp(sr[j] - mx);
          sum += sr[j];
        }
        for (int j = 0; j < tk; ++j) sr[j] /= sum;
      }
      View(out.row(r0) + h * d, rb, d, Stride(out.ld)).noalias() =
          sv * ConstView(v.data + h * d, tk, d, Stride(v.ld));
    }
  }
}

void MaxPoolSame(Map<const double> x, int k, Map<double> y) {
  if (k <= 0 || k % 2 == 0) Fail("MaxPoolSame: k " + std::to_string(k) + " must be odd, > 0");
  if (y.c != x.c || y.h != x.h || y.w != x.w) {
    Fail("MaxPoolSame: y " + Dims(y.c, y.h, y.w) + " must equal x " + Dims(x.c, x.h, x.w));
  }
  CheckNoOverlap("MaxPoolSame", "y", SpanOf(y), "x", SpanOf(x));
  const int r = k / 2;
#pragma omp parallel for collapse(2) schedule(static) if (x.size() >= 4096)
  for (int ch = 0; ch < x.c; ++ch) {
    for (int oy = 0; oy < x.h; ++oy) {
      const double* xc = x.channel(ch);
      double* yr = y.channel(ch) + static_cast<size_t>(oy) * x.w;
      const int y0 = std::max(0, oy - r), y1 = std::min(x.h - 1, oy + r);
      for (int ox = 0; ox < x.w; ++ox) {
        const int x0 = std::max(0, ox - r), x1 = std::min(x.w - 1, ox + r);
        double m = xc[static_cast<size_t>(oy) * x.w + ox];  // the centre is always inside
        for (int iy = y0; iy <= y1; ++iy) {
          for (int ix = x0; ix <= x1; ++ix) {
            const double val = xc[static_cast<size_t>(iy) * x.w + ix];
            if (val > m || std::isnan(val)) m = val;  // NaN propagates, as in torch
          }
        }
        yr[ox] = m;
      }
    }
  }
}

void Upsample2x(Map<const double> x, Map<double> y) {
  if (y.c != x.c || y.h != 2 * x.h || y.w != 2 * x.w) {
    Fail("Upsample2x: y " + Dims(y.c, y.h, y.w) + ", expected " + Dims(x.c, 2 * x.h, 2 * x.w) +
         " for x " + Dims(x.c, x.h, x.w));
  }
  CheckNoOverlap("Upsample2x", "y", SpanOf(y), "x", SpanOf(x));
#pragma omp parallel for collapse(2) schedule(static) if (y.size() >= 4096)
  for (int ch = 0; ch < x.c; ++ch) {
    for (int oy = 0; oy < y.h; ++oy) {
      const double* xr = x.channel(ch) + static_cast<size_t>(oy / 2) * x.w;
      double* yr = y.channel(ch) + static_cast<size_t>(oy) * y.w;
      for (int ox = 0; ox < y.w; ++ox) yr[ox] = xr[ox / 2];
    }
  }
}

void Add(const double* a, const double* b, size_t n, double* y) {
  const int64_t len = static_cast<int64_t>(n);
#pragma omp parallel for schedule(static) if (n >= kMinParallel)
  for (int64_t i = 0; i < len; ++i) y[i] = a[i] + b[i];
}

void Silu(const double* x, size_t n, double* y) {
  const int64_t len = static_cast<int64_t>(n);
#pragma omp parallel for schedule(static) if (n >= kMinParallel)
  for (int64_t i = 0; i < len; ++i) y[i] = SiluOne(x[i]);
}

// 0.5 x (1 + erf(x / sqrt 2)) evaluated as 0.5 x erfc(-x / sqrt 2): the same function, but
// for negative x, 1 + erf(...) cancels (x = -5 would keep only ~6 correct digits) whereas
// erfc keeps full relative precision.
void Gelu(const double* x, size_t n, double* y) {
  const int64_t len = static_cast<int64_t>(n);
  constexpr double kInvSqrt2 = 0.70710678118654752440;
#pragma omp parallel for schedule(static) if (n >= kMinParallel)
  for (int64_t i = 0; i < len; ++i) y[i] = 0.5 * x[i] * std::erfc(-x[i] * kInvSqrt2);
}

void Relu2(const double* x, size_t n, double* y) {
  const int64_t len = static_cast<int64_t>(n);
#pragma omp parallel for schedule(static) if (n >= kMinParallel)
  for (int64_t i = 0; i < len; ++i) {
    const double r = x[i] < 0.0 ? 0.0 : x[i];  // NaN propagates, as torch.relu
    y[i] = r * r;
  }
}

}  // namespace rtmo::kernels::f64
