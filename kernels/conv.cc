// ops.pack_conv and ops.conv2d: every convolution is, per group, one GEMM
// W_g[cog, cig*kh*kw] x im2col(x_g) through the packed GEMM core (kernels/simd/gemm-inl.h).
// The im2col matrix is never materialised: 1x1 convs read the image as a dense B,
// stride-2 convs pack it per task (Im2ColPacker), other stride-1 convs read it directly
// from a zero-padded copy (DirectSource). On AVX2 and AVX-512, the k x k convs whose
// channels fill blocks of 16 (all of RTMO's but the stem and the grouped head convs) instead
// run the blocked direct conv of kernels/simd/blocked_conv-inl.h, and of those the stride-1 3x3
// ones Winograd F(2x2, 3x3) (kernels/simd/winograd_conv-inl.h) on the same blocked image.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/conv.cc"
#include <algorithm>
#include <cstring>

#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/check.h"
#include "kernels/ops.h"
#include "kernels/parallel.h"
#include "kernels/simd/blocked_conv-inl.h"
#include "kernels/simd/gemm-inl.h"
#include "kernels/simd/parts-inl.h"
#include "kernels/simd/winograd_conv-inl.h"

HWY_BEFORE_NAMESPACE();
namespace rtmo::kernels::HWY_NAMESPACE {
namespace {

// dst[i] = src[2 * i] for i < n; reads only src[0, 2n - 1). The stride-2 convs' packing
// would otherwise be a scalar gather, a third of the conv's time at 64 output channels.
HWY_INLINE void CopyEven(const float* src, int n, float* dst) {
  int i = 0;
#if HWY_TARGET != HWY_SCALAR
  const DF d;
  const int N = static_cast<int>(hn::Lanes(d));
  // The two loads cover src[2i, 2i + 2N); the last pair's odd element src[2i + 2N - 1]
  // is only read while it is below 2n - 1, i.e. inside the range we were given.
  for (; 2 * (i + N) <= 2 * n - 1; i += N) {
    const VF lo = hn::LoadU(d, src + 2 * i), hi = hn::LoadU(d, src + 2 * i + N);
    hn::StoreU(hn::ConcatEven(d, hi, lo), d, dst + i);
  }
  // The last (up to N) outputs: one more vector ending at dst[n - 1], its loads shifted one
  // float left so that they end at src[2n - 2] (the last even element, the loop's bound)
  // and the wanted elements fall on the odd lanes. It rewrites some outputs with the same
  // values. Without it these were a scalar loop: up to 7 of the 52 outputs of a rtmo-t row.
  if (i < n && n > N) {
    const int j = n - N;
    const float* s = src + 2 * j - 1;  // [2n - 2N - 1, 2n - 1), inside the range
    const VF lo = hn::LoadU(d, s), hi = hn::LoadU(d, s + N);
    hn::StoreU(hn::ConcatOdd(d, hi, lo), d, dst + j);
    i = n;
  }
#endif
  for (; i < n; ++i) dst[i] = src[2 * i];
}

// Implicit im2col of a CHW image: B[(ci*kh + ky)*kw + kx][oy*ow + ox] =
// x[ci][oy*stride - pad + ky][ox*stride - pad + kx], zero outside the image.
struct Im2ColPacker {
  static constexpr bool kDirect = false;
  using Tile = PackedTile;
  const float* x;
  int h, w, kh, kw, stride, pad, ow;
  // bp: ThreadScratch() floats; one im2col row goes after the packed block.
  void operator()(size_t k0, size_t kc, size_t n0, size_t nc, float* bp) const {
    float* row = bp + kKC * kNCFloats;
    for (size_t kk = 0; kk < kc; ++kk) {
      const int k = static_cast<int>(k0 + kk);
      const int kx = k % kw, ky = (k / kw) % kh, ci = k / (kw * kh);
      const float* xc = x + static_cast<size_t>(ci) * h * w;
      // Output columns ox with 0 <= ox*stride - pad + kx < w.
      const int ox_lo = std::max(0, (pad - kx + stride - 1) / stride);
      // Exclusive. `last` (the largest ox * stride) is negative when the tap is right of
      // every input column (w + pad <= kx, e.g. a 1-pixel-wide image): no column then;
      // C++ division would round -1 / 2 up to 0 and read one float past the row.
      const int last = w - 1 + pad - kx;
      const int ox_hi = last < 0 ? 0 : std::min(ow, last / stride + 1);
      size_t n = n0;
      const size_t n_end = n0 + nc;
      while (n < n_end) {
        const int oy = static_cast<int>(n / ow);
        const int ox0 = static_cast<int>(n % ow);
        const int ox1 = static_cast<int>(std::min<size_t>(ow, ox0 + (n_end - n)));
        float* dst = row + (n - n0);
        const int iy = oy * stride - pad + ky;
        if (iy < 0 || iy >= h || ox_lo >= ox_hi) {
          std::memset(dst, 0, sizeof(float) * (ox1 - ox0));
        } else {
          const float* src = xc + static_cast<size_t>(iy) * w - pad + kx;
          const int a = std::clamp(ox_lo, ox0, ox1), b = std::clamp(ox_hi, ox0, ox1);
          for (int ox = ox0; ox < a; ++ox) dst[ox - ox0] = 0.0f;
          if (stride == 1) {
            std::memcpy(dst + (a - ox0), src + a, sizeof(float) * (b - a));
          } else if (stride == 2) {
            CopyEven(src + 2 * a, b - a, dst + (a - ox0));
          } else {
            for (int ox = a; ox < b; ++ox) dst[ox - ox0] = src[ox * stride];
          }
          for (int ox = b; ox < ox1; ++ox) dst[ox - ox0] = 0.0f;
        }
        n += ox1 - ox0;
      }
      ScatterRow(row, nc, kk, kc, bp);
    }
  }
};

// --- Direct source for stride-1 k x k convs ----------------------------------------------
//
// The image is first copied with its zero padding, [c][hp][wp] (hp = h + 2 pad, wp = w +
// 2 pad). Tap (ci, ky, kx) of output (oy, ox) reads padded pixel (oy + ky, ox + kx), so
// over the "wide" output index n = oy * wp + ox the im2col row of that tap is the
// contiguous run padded[off[k] + n] with off[k] = ci * hp * wp + ky * wp + kx. The GEMM
// computes wide rows; columns ox >= ow are junk (they straddle two image rows) and Finish
// drops them. Costs: one copy of the input, and wp / ow - 1 extra columns (5% at 40 wide,
// 10% at 20); saves packing B, which costs about as much as the FMAs at the 64-128
// output channels RTMO has (each packed float feeds only M / 16 vector FMAs).

// Geometry of the padded image of one conv call.
struct PaddedGeometry {
  size_t hp, wp, plane;  // padded rows, row width, hp * wp
  size_t floats;         // whole image + slack for reads past the last wide column
  PaddedGeometry(const ConvShape& s, int h, int w) {
    hp = h + 2 * s.pad;
    wp = w + 2 * s.pad;
    plane = hp * wp;
    // The last micro-tile of the last tap reads up to NR - 1 floats past the wide output,
    // which ends inside the last plane at most kw - 1 floats before its end.
    floats = Align16(static_cast<size_t>(s.in_c) * plane +
                     std::max(NR<DirectTile>(), NR<PackedTile>()) + s.kw + 16);
  }
};

// x: [c, h, w] -> out: [c][hp][wp] with zero borders (+ zeroed slack). Split over channels.
void PadImage(const ConvShape& s, const PaddedGeometry& g, const float* x, int h, int w, float* out,
              int threads) {
  const size_t pad = s.pad;
  ParallelFor(s.in_c, threads, [&](int64_t task, int) {
    const int c = static_cast<int>(task);
    float* dst = out + static_cast<size_t>(c) * g.plane;
    std::memset(dst, 0, sizeof(float) * (pad * g.wp + pad));  // top rows, first left border
    for (int y = 0; y < h; ++y) {
      float* row = dst + (y + pad) * g.wp + pad;
      std::memcpy(row, x + (static_cast<size_t>(c) * h + y) * w, sizeof(float) * w);
      // right border of this row and left border of the next
      std::memset(row + w, 0, sizeof(float) * 2 * pad);
    }
    const size_t done = (h + pad) * g.wp + pad;  // up to the last row's right border
    std::memset(dst + done, 0, sizeof(float) * (g.plane - done));
  });
  const size_t used = static_cast<size_t>(s.in_c) * g.plane;
  std::memset(out + used, 0, sizeof(float) * (g.floats - used));
}

// off[k] for k = (ci * kh + ky) * kw + kx over one group's channels.
void TapOffsets(const ConvShape& s, const PaddedGeometry& g, int32_t* off) {
  const int cig = s.in_c / s.groups;
  for (int ci = 0; ci < cig; ++ci) {
    for (int ky = 0; ky < s.kh; ++ky) {
      for (int kx = 0; kx < s.kw; ++kx) {
        *off++ = static_cast<int32_t>(ci * g.plane + ky * g.wp + kx);
      }
    }
  }
}

template <class T>  // the register tile: DirectTile, or PackedTile (see ConvPath)
struct DirectSource {
  static constexpr bool kDirect = true;
  using Tile = T;
  const float* image;     // this group's channel 0 of the padded image
  const int32_t* off;     // [K] im2col row offsets (TapOffsets)
  size_t wp, ow, plane;   // wide and real output row width, real output plane (oh * ow)
  float* y;               // this group's output channel 0
  const float* residual;  // like y, or nullptr

  // Moves the finished wide block [m_begin, m_end) x [n_begin, n_end) (cb: its element
  // (m_begin, n_begin), row stride ldc) into y, adding the residual, and drops the junk
  // columns.
  void Finish(size_t m_begin, size_t m_end, size_t n_begin, size_t n_end, const float* cb,
              size_t ldc) const {
    for (size_t m = m_begin; m < m_end; ++m) {
      const float* cr = cb + (m - m_begin) * ldc;  // cr[n - n_begin]: column n of row m
      float* yr = y + m * plane;
      const float* rr = residual ? residual + m * plane : nullptr;
      for (size_t n = n_begin; n < n_end;) {
        const size_t oy = n / wp, ox = n % wp;
        const size_t row_end = std::min(n_end, (oy + 1) * wp);
        const size_t ox_end = std::min(ow, row_end - oy * wp);
        if (ox < ox_end) {
          const size_t at = oy * ow + ox, len = ox_end - ox;
          if (rr) {
            // The residual, added after the activation as in the packed path.
            MapBinary(DF(), cr + (n - n_begin), rr + at, len, yr + at,
                      [](DF, VF a, VF b) HWY_ATTR { return hn::Add(a, b); });
          } else {
            std::memcpy(yr + at, cr + (n - n_begin), sizeof(float) * len);
          }
        }
        n = row_end;
      }
    }
  }
};

// How a conv's GEMM gets its B, and so which tile its packed weights are for.
enum class ConvPath {
  kPointwise,     // 1x1 stride 1: x itself is a dense B (DensePacker, PackedTile)
  kDirect,        // other stride-1 convs: DirectSource<DirectTile>
  kDirectPacked,  // the same with PackedTile, where DirectTile would pad more rows of C
  kIm2Col,        // stride 2: Im2ColPacker (PackedTile)
  kBlocked,       // AVX2/AVX-512, blocked::Suits: the blocked direct conv (blocked_conv-inl.h)
  kWinograd,      // AVX2/AVX-512, winograd::Suits: Winograd F(2x2, 3x3) on the blocked image
};
ConvPath PathOf(const ConvShape& s) {
#if RTMO_BLOCKED_TARGET
  if (winograd::Suits(s)) return ConvPath::kWinograd;
  if (blocked::Suits(s)) return ConvPath::kBlocked;
#endif
  if (s.kh == 1 && s.kw == 1 && s.stride == 1 && s.pad == 0) return ConvPath::kPointwise;
  // Stride-2 convs stay on the packed im2col: their phase-split copy would be a full extra
  // pass over inputs that are mostly beyond L2 (measured 4-23% slower on RTMO-s, 2 threads).
  if (s.stride != 1) return ConvPath::kIm2Col;
  // Rows of C each tile computes, padding included: RTMO's grouped head convs (18 rows per
  // group) fill three 6-row tiles exactly but five 4-row ones (measured 8-13% slower).
  const size_t cog = s.out_c / s.groups;
  auto padded = [cog](size_t mr) { return (cog + mr - 1) / mr * mr; };
  return padded(DirectTile::kMR) <= padded(PackedTile::kMR) ? ConvPath::kDirect
                                                            : ConvPath::kDirectPacked;
}

// Floats of one group's packed weights: panels of the height of the path's tile.
size_t PackedGroupSize(ConvPath path, size_t cog, size_t kg) {
  return path == ConvPath::kDirect ? PackedASize<DirectTile::kMR>(cog, kg)
                                   : PackedASize<PackedTile::kMR>(cog, kg);
}

// Packed conv weights: for each group, the [cog, cig*kh*kw] weight matrix as A panels of
// the tile its GEMM will use.
void PackConvSimd(const ConvShape& s, const float* w, const float* bias, PackedConv* out) {
  CheckConvShape("pack_conv", s, w);
  const size_t cog = s.out_c / s.groups;
  const size_t kg = static_cast<size_t>(s.in_c / s.groups) * s.kh * s.kw;
  const ConvPath path = PathOf(s);
  out->shape = s;
  out->bias.Resize(s.out_c);
  for (int i = 0; i < s.out_c; ++i) out->bias[i] = bias ? bias[i] : 0.0f;
  out->target_tag = TargetTag();
  out->winograd = false;
#if RTMO_BLOCKED_TARGET
  if (path == ConvPath::kWinograd) {
    out->weights.Resize(winograd::WeightFloats(s));
    winograd::PackWeights(s, w, out->weights.data());
    out->winograd = true;
    return;
  }
  if (path == ConvPath::kBlocked) {
    out->weights.Resize(blocked::WeightFloats(s));
    blocked::PackWeights(s, w, out->weights.data());
    return;
  }
#endif
  const size_t per_group = PackedGroupSize(path, cog, kg);
  out->weights.Resize(per_group * s.groups);
  for (int g = 0; g < s.groups; ++g) {
    float* dst = out->weights.data() + g * per_group;
    if (path == ConvPath::kDirect) {
      PackA<DirectTile::kMR>(w + g * cog * kg, kg, cog, kg, dst);
    } else {
      PackA<PackedTile::kMR>(w + g * cog * kg, kg, cog, kg, dst);
    }
  }
}

// x: [in_c, h, w] -> y: [out_c, oh, ow], per group one GEMM W_g[cog, K] x im2col(x_g),
// B from the source PathOf chooses.
void Conv2dSimd(const PackedConv& p, const float* x, int h, int w, Act act, const float* residual,
                float* y, Scratch* scratch) {
  const ConvShape& s = p.shape;
  CheckConvCall("conv2d", p, TargetTag(), x, h, w, y);
  const int oh = s.OutH(h), ow = s.OutW(w);
  const size_t cig = s.in_c / s.groups, cog = s.out_c / s.groups;
  const size_t kg = cig * s.kh * s.kw;
  const size_t n = static_cast<size_t>(oh) * ow;
  const ConvPath path = PathOf(s);
  const int threads = ThreadsFor(static_cast<size_t>(s.out_c), n, kg);
  Scratch* sc = ScratchOrLocal(scratch);
#if RTMO_BLOCKED_TARGET
  if (path == ConvPath::kWinograd) {
    const winograd::Geometry wg(s, h, w);
    float* image = sc->Get(wg.img.Floats() + threads * wg.ThreadFloats(s));
    float* buf = image + wg.img.Floats();
    for (size_t ty0 = 0; ty0 < wg.th; ty0 += wg.band) {
      const size_t ty1 = std::min(wg.th, ty0 + wg.band);
      blocked::ToBlocked(x, s.in_c, h, w, s.pad, wg.img, 2 * ty0, 2 * (ty1 - ty0) + 2, image,
                         threads);
      winograd::Run(s, wg, p.weights.data(), p.bias.data(), image, ty0, ty1, oh, ow, act, residual,
                    y, buf, threads);
    }
    return;
  }
  if (path == ConvPath::kBlocked) {
    const blocked::Geometry bg(s, h, w);
    float* image = sc->Get(bg.Floats() + threads * blocked::AccFloats());
    float* acc = image + bg.Floats();
    // Band by band (blocked::Geometry): re-lay out the padded input rows a band of output
    // rows reads, then compute that band.
    for (int oy0 = 0; oy0 < oh; oy0 += bg.band) {
      const int oy1 = std::min(oh, oy0 + bg.band);
      const size_t rows = bg.InputRows(oy1 - oy0);
      blocked::ToBlocked(x, s.in_c, h, w, s.pad, bg, static_cast<size_t>(oy0) * s.stride, rows,
                         image, threads);
      if (s.stride == 1) {
        blocked::Run<1>(s, bg, p.weights.data(), p.bias.data(), image, rows, oy0, oy1, oh, ow, act,
                        residual, y, acc, threads);
      } else {
        blocked::Run<2>(s, bg, p.weights.data(), p.bias.data(), image, rows, oy0, oy1, oh, ow, act,
                        residual, y, acc, threads);
      }
    }
    return;
  }
#endif
  const size_t per_group = PackedGroupSize(path, cog, kg);
  const bool direct = path == ConvPath::kDirect || path == ConvPath::kDirectPacked;

  // The direct path's prepared image and offsets (before the per-thread GEMM scratch,
  // carved out of one block). It computes "wide" output rows (wp columns, see
  // DirectSource), block by block in each thread's scratch, never a whole wide output.
  const PaddedGeometry g(s, h, w);
  const size_t n_wide = static_cast<size_t>(oh) * g.wp;
  size_t per_thread = ThreadScratch();
  if (path == ConvPath::kDirect) {
    per_thread = GemmThreadScratch<DirectSource<DirectTile>>(cog, n_wide, kg);
  } else if (path == ConvPath::kDirectPacked) {
    per_thread = GemmThreadScratch<DirectSource<PackedTile>>(cog, n_wide, kg);
  }
  const size_t image = direct ? g.floats : 0;
  float* mem = sc->Get(image + static_cast<size_t>(threads) * per_thread);
  float* buf = mem + image;
  int32_t* off = nullptr;
  if (direct) {
    off = sc->GetInts(kg);
    TapOffsets(s, g, off);
    PadImage(s, g, x, h, w, mem, threads);
  }

  // One group's GEMM -> y_g, on `threads` threads.
  auto run_group = [&](int gi, float* tbuf, int nthreads) {
    Epilogue ep;
    ep.bias_row = p.bias.data() + gi * cog;
    ep.act = act;
    const float* ap = p.weights.data() + gi * per_group;
    float* yg = y + gi * cog * n;
    const float* rg = residual ? residual + gi * cog * n : nullptr;
    if (direct) {
      // Each task's wide block goes to its thread's scratch, then Finish moves it into y
      // (adding the residual there).
      const float* image_g = mem + gi * cig * g.plane;
      const size_t ows = static_cast<size_t>(ow);
      if (path == ConvPath::kDirect) {
        const DirectSource<DirectTile> src{image_g, off, g.wp, ows, n, yg, rg};
        GemmDriver(cog, n_wide, kg, ap, src, nullptr, 0, ep, tbuf, nthreads);
      } else {
        const DirectSource<PackedTile> src{image_g, off, g.wp, ows, n, yg, rg};
        GemmDriver(cog, n_wide, kg, ap, src, nullptr, 0, ep, tbuf, nthreads);
      }
      return;
    }
    ep.residual = rg;
    ep.ld_res = n;
    if (path == ConvPath::kPointwise) {
      GemmDriver(cog, n, kg, ap, DensePacker{x + gi * cig * n, n}, yg, n, ep, tbuf, nthreads);
    } else {
      GemmDriver(cog, n, kg, ap,
                 Im2ColPacker{x + gi * cig * h * w, h, w, s.kh, s.kw, s.stride, s.pad, ow}, yg, n,
                 ep, tbuf, nthreads);
    }
  };
  if (s.groups == 1 || threads == 1) {
    for (int gi = 0; gi < s.groups; ++gi) run_group(gi, buf, threads);
    return;
  }
  // Grouped (RTMO: 8 groups of 18 channels): the groups are the parallel tasks, one fork
  // instead of one per group. Each group's GEMM is the same single-threaded computation
  // whichever thread runs it, so results do not depend on the thread count.
  ParallelFor(s.groups, threads, [&](int64_t gi, int slot) {
    run_group(static_cast<int>(gi), buf + static_cast<size_t>(slot) * per_thread, 1);
  });
}

}  // namespace

void FillConvOps(Ops* ops) {
  ops->pack_conv = PackConvSimd;
  ops->conv2d = Conv2dSimd;
}

}  // namespace rtmo::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
