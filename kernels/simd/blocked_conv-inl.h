// The blocked direct convolution: k x k convs (stride 1 or 2, one group) over a copy of the
// image whose channels are stored in blocks of 16, [ci / 16][h + 2 pad][w + 2 pad][16], so
// that a register tile holds 16 output channels x kP output pixels and nothing is packed or
// computed twice per call.
// Private to kernels/conv.cc (its ConvPath::kBlocked); AVX2 and AVX-512 (HWY_AVX3), the
// targets RTMO_BLOCKED_TARGET names: the same layouts, a tile sized per register file.
//
// Why: the im2col GEMM paths lose 25% of the FMA peak around a tile that runs at 92-99%
// from L1 (bench/KERNELS.md): the weight panels stream from L2 for every column strip, the
// direct path computes junk columns and copies them out, the stride-2 path packs every
// im2col row. Here one input-channel block's weights for one tile of output channels
// (kh * kw * 16 * 16 floats, 9 KiB for 3x3) and that block's few input rows stay in L1 while
// every tile of a row chunk runs over them; the chunk's partial sums (kChunk x 16 floats)
// are reloaded once per input block.
//
// Numerics: each output's sum runs over input blocks in ascending order, and inside a block
// over (ky, kx, ci) in that order, then bias, activation, residual: fixed by the shape, never
// by the thread count (threads only choose which (row, channel tile) tasks they run).
//
// Highway per-target include guard: re-included once per target by hwy/foreach_target.h.

// True for the targets that compile the blocked and Winograd convs (an expression of
// HWY_TARGET, evaluated where it is used: kernels/conv.cc and the kernel tests).
#ifndef RTMO_BLOCKED_TARGET
#define RTMO_BLOCKED_TARGET (HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3)
#endif

#if defined(RTMO_KERNELS_BLOCKED_CONV_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef RTMO_KERNELS_BLOCKED_CONV_INL_H_
#undef RTMO_KERNELS_BLOCKED_CONV_INL_H_
#else
#define RTMO_KERNELS_BLOCKED_CONV_INL_H_
#endif

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "hwy/highway.h"
#if RTMO_BLOCKED_TARGET
#include <immintrin.h>
#endif
#include "kernels/ops.h"
#include "kernels/parallel.h"
#include "kernels/simd/gemm-inl.h"
#include "kernels/simd/math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace rtmo::kernels::HWY_NAMESPACE {
namespace blocked {

// Only RTMO_BLOCKED_TARGET compiles the code below (conv.cc tests the same condition).
#if RTMO_BLOCKED_TARGET

constexpr size_t kCB = 16;  // input channels per block of the blocked image
constexpr size_t kCT = 16;  // output channels per tile: two AVX2 vectors, one AVX-512 vector
#if HWY_TARGET == HWY_AVX2
constexpr size_t kN = 8;  // lanes
constexpr size_t kP = 6;  // output pixels per tile: 12 accumulators + 2 weights + 1 broadcast
#else
constexpr size_t kN = 16;
// 12 accumulators + 1 weight vector of 32 zmm; each FMA broadcasts its pixel from memory.
constexpr size_t kP = 12;
#endif
constexpr size_t kNV = kCT / kN;  // vectors per tile row of output channels
// The 8 x 8 transposes of the copies in and out run on 256-bit vectors on either target.
using D8 = hn::Full256<float>;
using V8 = hn::Vec<D8>;
// Output pixels per chunk (whole tiles). Its input rows, kh x (kChunk * stride + kw - 1)
// pixels x 64 bytes (12 KiB for 3x3 stride 1, 23 KiB for stride 2), one block's weights
// (9 KiB) and the partial sums (3.75 KiB) are about a 32 KiB L1. Stride 2 measured 2-5%
// faster with 60 than with 30 (where 40 px maps make 20 px rows, one per chunk: each block's
// weights then served 4 tiles instead of 10), 1 thread.
constexpr size_t kChunk = 60 / kP * kP;

inline size_t Blocks(size_t channels) { return (channels + kCB - 1) / kCB; }

// Convs this path takes: k x k (k > 1), one group, stride 1 or 2, and input and output
// channels that fill their blocks and tiles to within 1/8 (the zero channels of a partial
// block or tile cost FMAs: the 12-channel stem, padded to 16, ran 16% slower than on the
// im2col path with SiLU). Not 1x1 convs: with the image converted to blocks and back on
// every call they ran 10-33% slower than the packed GEMM (bench/KERNELS.md), although
// their tiles run at 90% of the FMA peak; they gain only once the network keeps the
// blocked layout between convs.
inline bool Fills(int channels, size_t unit) {
  return (channels + unit - 1) / unit * unit * 8 <= static_cast<size_t>(channels) * 9;
}
inline bool Suits(const ConvShape& s) {
  return s.groups == 1 && (s.kh > 1 || s.kw > 1) && (s.stride == 1 || s.stride == 2) &&
         Fills(s.in_c, kCB) && Fills(s.out_c, kCT);
}

// Packed weights: [ceil(out_c / kCT)][ceil(in_c / kCB)][kh][kw][kCB ci][kCT co], zero where
// ci >= in_c or co >= out_c.
inline size_t WeightFloats(const ConvShape& s) {
  return (s.out_c + kCT - 1) / kCT * Blocks(s.in_c) * s.kh * s.kw * kCB * kCT;
}
// w: [out_c, in_c, kh, kw] (groups must be 1).
inline void PackWeights(const ConvShape& s, const float* w, float* out) {
  std::memset(out, 0, sizeof(float) * WeightFloats(s));
  const size_t cib = Blocks(s.in_c), taps = static_cast<size_t>(s.kh) * s.kw;
  for (int co = 0; co < s.out_c; ++co) {
    for (int ci = 0; ci < s.in_c; ++ci) {
      for (size_t t = 0; t < taps; ++t) {
        const size_t block = (co / kCT * cib + ci / kCB) * taps + t;
        out[(block * kCB + ci % kCB) * kCT + co % kCT] = w[(co * s.in_c + ci) * taps + t];
      }
    }
  }
}

// The blocked image of one call: [cib][rows][wp][kCB] with a zero border of `pad` pixels and
// zero channels from in_c up to cib * kCB, made and used one band of output rows at a time
// (rows: the padded input rows the band reads), so that the copy is at most about
// kBandBytes (whole, the stride-2 stage1 conv's input would take 13 MB of scratch and the
// rtmo command's peak RSS 8 MB more).
constexpr size_t kBandBytes = size_t{2} << 20;
struct Geometry {
  size_t cib, wp;  // input blocks, padded row width
  int stride, kh;
  int band;         // output rows per band
  size_t max_rows;  // padded input rows of a full band
  // Stride 2 stores each row as its even padded columns, then its odd ones (odd0 = where
  // the odd ones start), so that the six pixels a tile reads for one tap are adjacent as at
  // stride 1 rather than every other one: stride-2 convs 1-10% faster (KERNELS.md), though
  // their tiles still run below the stride-1 ones (81% of the FMA peak against 91-93%).
  size_t odd0;
  static size_t Col(size_t px, size_t odd0) {
    return odd0 == 0 ? px : (px & 1 ? odd0 + px / 2 : px / 2);
  }
  size_t Col(size_t px) const { return Col(px, odd0); }
  // Padded input rows that `out_rows` consecutive output rows read.
  size_t InputRows(int out_rows) const { return static_cast<size_t>(out_rows - 1) * stride + kh; }
  size_t Floats() const { return Align16(cib * max_rows * wp * kCB); }
  // unit: bands are whole multiples of this many output rows (Winograd: 2, its tiles'
  // height; the last band may then reach one row past the image); wide: the padded row
  // width where it must exceed the image's (Winograd's tiles overhanging an odd width).
  Geometry(const ConvShape& s, int h, int w, int unit = 1, size_t wide = 0)
      : cib(Blocks(s.in_c)),
        wp(std::max<size_t>(w + 2 * s.pad, wide)),
        stride(s.stride),
        kh(s.kh),
        odd0(s.stride == 2 ? (wp + 1) / 2 : 0) {
    const int units = (s.OutH(h) + unit - 1) / unit;
    const size_t row_bytes = cib * wp * kCB * sizeof(float);
    const size_t fit = kBandBytes / row_bytes;  // padded rows within the budget
    band = fit < static_cast<size_t>(s.kh) ? 1 : static_cast<int>((fit - s.kh) / s.stride + 1);
    band = std::clamp(band / unit, 1, units) * unit;
    max_rows = InputRows(band);
  }
};

// In place: r[i] lane j <-> r[j] lane i (8 x 8 floats; the AVX2 unpack/shuffle/permute
// sequence). Converts between 8 channels x 8 pixels and 8 pixels x 8 channels.
HWY_INLINE void Transpose8x8(V8 r[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i].raw, r[i + 1].raw);
    t[i + 1] = _mm256_unpackhi_ps(r[i].raw, r[i + 1].raw);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    r[i].raw = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
    r[i + 4].raw = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
  }
}

// x: [c, h, w] -> out: padded rows [iy0, iy0 + rows) of the blocked image, [cib][rows][wp]
// [kCB], padded column px at g.Col(px). One task per channel block; writes every float of
// those rows, border included.
// Eight pixels of eight channels at a time through Transpose8x8 (a scalar gather was a
// quarter of a stride-2 conv's time).
inline void ToBlocked(const float* x, int c, int h, int w, int pad, const Geometry& g, size_t iy0,
                      size_t rows, float* out, int threads) {
  ParallelFor(static_cast<int64_t>(g.cib), threads, [&](int64_t task, int) {
    const D8 d;
    const size_t b = static_cast<size_t>(task);
    const size_t row = g.wp * kCB, chw = static_cast<size_t>(h) * w;
    const int c0 = static_cast<int>(b * kCB), cn = std::min<int>(kCB, c - c0);
    for (size_t i = 0; i < rows; ++i) {
      float* r = out + (b * rows + i) * row;
      const int y = static_cast<int>(iy0 + i) - pad;  // input row
      if (y < 0 || y >= h) {
        std::memset(r, 0, sizeof(float) * row);
        continue;
      }
      auto at = [&](int ix) HWY_ATTR { return r + g.Col(pad + ix) * kCB; };  // input column
      for (int ix = -pad; ix < 0; ++ix) std::memset(at(ix), 0, sizeof(float) * kCB);
      const float* src = x + (static_cast<size_t>(c0) * h + y) * w;  // channel c0, row y
      const int w8 = w / 8 * 8;
      for (size_t half = 0; half < kCB; half += 8) {
        for (int ix = 0; ix < w8; ix += 8) {
          V8 v[8];
          for (size_t k = 0; k < 8; ++k) {
            const size_t cl = half + k;
            v[k] = static_cast<int>(cl) < cn ? hn::LoadU(d, src + cl * chw + ix) : hn::Zero(d);
          }
          Transpose8x8(v);
          for (int j = 0; j < 8; ++j) hn::Store(v[j], d, at(ix + j) + half);
        }
      }
      int ix = w8;
      for (; ix < w; ++ix) {
        float* p = at(ix);
        int cl = 0;
        for (; cl < cn; ++cl) p[cl] = src[static_cast<size_t>(cl) * chw + ix];
        for (; cl < static_cast<int>(kCB); ++cl) p[cl] = 0.0f;
      }
      // The right border (wider than pad where the Winograd tiles overhang the image).
      for (ix = w; ix < static_cast<int>(g.wp) - pad; ++ix) {
        std::memset(at(ix), 0, sizeof(float) * kCB);
      }
    }
  });
}

// acc: [n pixels][kCT] (the first `cos` channels used) -> y[at0 + c * plane + q] for channel
// c < cos and pixel q < n (one run of n pixels in each of cos channel planes), plus the
// residual at the same offsets when given. Eight pixels x eight channels at a time,
// transposed to channel rows.
inline void StoreChannelRows(const float* acc, size_t n, size_t cos, size_t plane,
                             const float* residual, float* y, size_t at0) {
  const D8 d;
  size_t p = 0;
  for (; p + 8 <= n; p += 8) {
    for (size_t half = 0; half < cos; half += 8) {
      V8 v[8];
      for (size_t j = 0; j < 8; ++j) v[j] = hn::Load(d, acc + (p + j) * kCT + half);
      Transpose8x8(v);
      for (size_t i = 0; i < std::min<size_t>(8, cos - half); ++i) {
        const size_t at = at0 + (half + i) * plane + p;
        V8 o = v[i];
        if (residual) o = hn::Add(o, hn::LoadU(d, residual + at));
        hn::StoreU(o, d, y + at);
      }
    }
  }
  for (size_t c = 0; c < cos; ++c) {
    const size_t at = at0 + c * plane;
    for (size_t q = p; q < n; ++q) {
      y[at + q] = residual ? acc[q * kCT + c] + residual[at + q] : acc[q * kCT + c];
    }
  }
}

// The register tile's inner step, shared by the direct and the Winograd tiles: for the kCB
// input channels of one block, a[v][p] (kCT output channels as kNV vectors) +=
// w[cl] * xp[p * kCB + cl], cl ascending, for P pixels. Returns w past the kCB x kCT weights.
// The unroll pragmas here and in the tile helpers below keep a[][] in registers: without
// them GCC 12 kept the AVX-512 tile's array in memory, storing all of it after every input
// channel (the Winograd convs then ran 1.1-1.4x the time of the GEMM path they replace).
template <size_t P>
HWY_INLINE const float* AccumulateBlock(const float* HWY_RESTRICT xp, const float* HWY_RESTRICT w,
                                        VF (&a)[kNV][P]) {
  const DF d;
  HWY_UNROLL(1)
  for (size_t cl = 0; cl < kCB; ++cl) {
    VF wv[kNV];
    HWY_UNROLL(2)
    for (size_t v = 0; v < kNV; ++v) wv[v] = hn::Load(d, w + v * kN);
    w += kCT;
    HWY_UNROLL(16)
    for (size_t p = 0; p < P; ++p) {
      const VF xv = hn::Set(d, xp[p * kCB + cl]);
      HWY_UNROLL(2)
      for (size_t v = 0; v < kNV; ++v) a[v][p] = hn::MulAdd(wv[v], xv, a[v][p]);
    }
  }
  return w;
}

// The accumulators of a P-pixel tile: zero, loaded from and stored to [P][kCT] sums.
template <size_t P>
HWY_INLINE void ZeroTile(VF (&a)[kNV][P]) {
  const DF d;
  HWY_UNROLL(2)
  for (size_t v = 0; v < kNV; ++v) {
    HWY_UNROLL(16)
    for (size_t p = 0; p < P; ++p) a[v][p] = hn::Zero(d);
  }
}
template <size_t P>
HWY_INLINE void LoadTile(const float* HWY_RESTRICT acc, VF (&a)[kNV][P]) {
  const DF d;
  HWY_UNROLL(2)
  for (size_t v = 0; v < kNV; ++v) {
    HWY_UNROLL(16)
    for (size_t p = 0; p < P; ++p) a[v][p] = hn::Load(d, acc + p * kCT + v * kN);
  }
}
template <size_t P>
HWY_INLINE void StoreTile(const VF (&a)[kNV][P], float* HWY_RESTRICT acc) {
  const DF d;
  HWY_UNROLL(2)
  for (size_t v = 0; v < kNV; ++v) {
    HWY_UNROLL(16)
    for (size_t p = 0; p < P; ++p) hn::Store(a[v][p], d, acc + p * kCT + v * kN);
  }
}

// f(std::integral_constant<size_t, P>{}) for P = min(pixels, kP) >= 1: the tiles are
// compiled per width, so that their accumulators stay in registers.
template <size_t P = kP, class F>
HWY_INLINE void ForTileWidth(size_t pixels, const F& f) {
  if constexpr (P == 1) {
    return f(std::integral_constant<size_t, 1>{});
  } else {
    if (pixels >= P) return f(std::integral_constant<size_t, P>{});
    return ForTileWidth<P - 1>(pixels, f);
  }
}

// f(begin, count) for ceil(n / kP) consecutive runs that cover [0, n), each of at most kP
// items and as even as possible: a 40 px row as 10 + 10 + 10 + 10 on AVX-512, not
// 12 + 12 + 12 + 4, whose 4 accumulators cannot hide the FMA latency. The runs depend on n
// only, so each output's sum is the same however the work is split among threads.
template <class F>
HWY_INLINE void ForEvenTiles(size_t n, const F& f) {
  const size_t tiles = (n + kP - 1) / kP;
  for (size_t i = 0, begin = 0; i < tiles; ++i) {
    const size_t end = (i + 1) * n / tiles;
    f(begin, end - begin);
    begin = end;
  }
}

// One tile: kCT output channels x P pixels of one output row. x: the blocked image of one
// input block at the tile's first input pixel (row oy * S, padded column ox * S, which is at
// Col(ox * S) = ox for either stride); row: floats per image row (wp * kCB); odd0: see
// Geometry. Tap kx of the tile's pixels is a run of P adjacent pixels from column kx (stride
// 1) or from Col(kx) (stride 2). w: this (channel tile, input block)'s weights,
// [kh][kw][kCB][kCT]. acc: [P][kCT] partial sums, read unless `first`.
template <size_t P, int S>
HWY_INLINE void Tile(const float* HWY_RESTRICT x, size_t row, size_t odd0, int kh, int kw,
                     const float* HWY_RESTRICT w, float* HWY_RESTRICT acc, bool first) {
  VF a[kNV][P];
  if (first) {
    ZeroTile(a);
  } else {
    LoadTile(acc, a);
  }
  for (int ky = 0; ky < kh; ++ky) {
    for (int kx = 0; kx < kw; ++kx) {
      const size_t col = S == 1 ? kx : Geometry::Col(kx, odd0);
      w = AccumulateBlock<P>(x + ky * row + col * kCB, w, a);
    }
  }
  StoreTile(a, acc);
}

template <int S>
inline void TileN(size_t pixels, const float* x, size_t row, size_t odd0, int kh, int kw,
                  const float* w, float* acc, bool first) {
  ForTileWidth(pixels, [&](auto width) HWY_ATTR {
    Tile<decltype(width)::value, S>(x, row, odd0, kh, kw, w, acc, first);
  });
}

// y = act(conv(x) + bias) (+ residual) for output rows [oy_begin, oy_end), all channels, on
// `threads`. wts: PackWeights' layout; image:
// ToBlocked's output for padded rows [oy_begin * S, ...) (`rows` of them per block);
// acc_buf: threads * AccFloats().
inline size_t AccFloats() { return Align16(kChunk * kCT); }

template <int S>
void Run(const ConvShape& s, const Geometry& g, const float* wts, const float* bias,
         const float* image, size_t rows, int oy_begin, int oy_end, int oh, int ow, Act act,
         const float* residual, float* y, float* acc_buf, int threads) {
  const size_t ct = (s.out_c + kCT - 1) / kCT, taps = static_cast<size_t>(s.kh) * s.kw;
  const size_t block_w = taps * kCB * kCT;  // weights of one (channel tile, input block)
  const size_t row = g.wp * kCB, plane = rows * row;
  const size_t chunk = kChunk, plane_out = static_cast<size_t>(oh) * ow;
  const size_t band = oy_end - oy_begin, iy0 = static_cast<size_t>(oy_begin) * S;
  // Tasks: channel tiles x row groups, fixed by the shape. The channel tile varies fastest,
  // so that consecutive tasks (on one thread, or two running together) read the same input
  // rows: a row group is at most as many output rows as have their input rows (stride x cib
  // x wp x 64 bytes each) in 256 KiB, half an L2 (measured 2-4% faster on the stride-2
  // convs of 80-160 px maps, 1 thread, than groups sized by MACs alone), and there are at
  // least about one task per 1 M MACs (up to 64), so that 2 threads share the work evenly.
  const size_t macs = static_cast<size_t>(s.out_c) * band * ow * s.in_c * taps;
  const size_t want = std::clamp<size_t>(macs >> 20, 1, 64);
  const size_t row_bytes = static_cast<size_t>(S) * g.cib * g.wp * kCB * sizeof(float);
  const size_t l2_rows = std::max<size_t>(1, (size_t{256} << 10) / row_bytes);
  const size_t groups =
      std::clamp<size_t>(std::max((want + ct - 1) / ct, (band + l2_rows - 1) / l2_rows), 1, band);
  const DF d;
  ParallelFor(static_cast<int64_t>(ct * groups), threads, [&](int64_t task, int slot) {
    const size_t t = static_cast<size_t>(task) % ct, grp = static_cast<size_t>(task) / ct;
    float* acc = acc_buf + slot * AccFloats();
    const size_t co0 = t * kCT, cos = std::min<size_t>(kCT, s.out_c - co0);
    HWY_ALIGN float bias_t[kCT] = {};
    for (size_t c = 0; c < cos; ++c) bias_t[c] = bias[co0 + c];
    VF b[kNV];
    for (size_t v = 0; v < kNV; ++v) b[v] = hn::Load(d, bias_t + v * kN);
    const float* wt = wts + t * g.cib * block_w;
    // A chunk is up to `chunk` pixels of one row or, where rows are shorter, as many whole
    // rows as fit (20 px maps: 3 rows), so that each block's weights serve that many tiles
    // before the next block's replace them in L1. Either way its pixels are one contiguous
    // run of [oh][ow] (from oy * ow + ox0), and so are its partial sums in acc.
    const size_t y_end = oy_begin + (grp + 1) * band / groups;
    for (size_t oy = oy_begin + grp * band / groups; oy < y_end;) {
      const size_t chunk_rows =
          static_cast<size_t>(ow) >= chunk ? 1 : std::min(chunk / ow, y_end - oy);
      for (size_t ox0 = 0; ox0 < static_cast<size_t>(ow); ox0 += chunk) {
        const size_t per_row = std::min(chunk, ow - ox0), n = chunk_rows * per_row;
        for (size_t b = 0; b < g.cib; ++b) {
          const float* wb = wt + b * block_w;
          for (size_t r = 0; r < chunk_rows; ++r) {
            const float* xb = image + b * plane + ((oy + r) * S - iy0) * row + ox0 * kCB;
            float* ar = acc + r * per_row * kCT;
            ForEvenTiles(per_row, [&](size_t p, size_t count) HWY_ATTR {
              TileN<S>(count, xb + p * kCB, row, g.odd0, s.kh, s.kw, wb, ar + p * kCT, b == 0);
            });
          }
        }
        // Bias and activation per pixel (16 channels = kNV vectors), then out to [co][oy][ox]
        // with the residual.
        for (size_t p = 0; p < n; ++p) {
          for (size_t v = 0; v < kNV; ++v) {
            VF o = hn::Add(hn::Load(d, acc + p * kCT + v * kN), b[v]);
            if (act == Act::kSiLU) o = VSiLU(d, o);
            hn::Store(o, d, acc + p * kCT + v * kN);
          }
        }
        StoreChannelRows(acc, n, cos, plane_out, residual, y, co0 * plane_out + oy * ow + ox0);
      }
      oy += chunk_rows;
    }
  });
}

#endif  // RTMO_BLOCKED_TARGET
}  // namespace blocked
}  // namespace rtmo::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // RTMO_KERNELS_BLOCKED_CONV_INL_H_
