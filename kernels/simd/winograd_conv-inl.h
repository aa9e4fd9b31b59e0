// Winograd F(2x2, 3x3) for the stride-1 3x3 convs of the blocked path: each 2x2 block of
// outputs ("tile") costs 16 multiplies per (input, output) channel pair instead of 36, so
// the GEMM part of these convs does 2.25x fewer FMAs.
// Private to kernels/conv.cc (its ConvPath::kWinograd); AVX2 and AVX-512, like the blocked
// conv whose image layout, register tile, 8 x 8 transposes and output stores it shares.
//
// Per tile (ty, tx) and input channel, d = the 4 x 4 padded input pixels from (2ty, 2tx):
//   V = B^T d B,  U = G g G^T (per weight, at load),  Y = A^T (sum over ci of U . V) A,
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
//   A^T = [1 1 1 0; 0 1 -1 -1],
// which is the 3x3 correlation y[2ty + i][2tx + j] = sum g[k][l] d[i + k][j + l] (Lavin &
// Gray 2015, "Fast algorithms for convolutional neural networks"). The 16 products of a
// tile are 16 independent GEMMs over the input channels: M_e[co][tile] = sum_ci U_e[co][ci]
// V_e[ci][tile], run with the blocked conv's register tile (16 output channels x up to kP
// tiles, weights as vectors, V broadcast).
//
// Numerics. Float32 throughout except U (computed in double from the float weights, then
// rounded once). The error bound is that of the direct conv with |W||x| replaced by the
// same algorithm run on absolute values, |A^T| (|G||g||G^T| . |B^T||d||B|) |A|, and K by
// in_c + 8 (the transforms add 2 + 4 rounding levels): measured on RTMO-like data 1.6x the
// direct conv's error (F(4x4, 3x3) measured 30x and is not used). tests/kernels derives
// its tolerance so. The sum over ci runs in ascending order, then the fixed output
// transform: results depend on the shape only, never on the thread count.
//
// Highway per-target include guard: re-included once per target by hwy/foreach_target.h.
#if defined(RTMO_KERNELS_WINOGRAD_CONV_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef RTMO_KERNELS_WINOGRAD_CONV_INL_H_
#undef RTMO_KERNELS_WINOGRAD_CONV_INL_H_
#else
#define RTMO_KERNELS_WINOGRAD_CONV_INL_H_
#endif

#include <algorithm>
#include <cstring>

#include "hwy/highway.h"
#include "kernels/ops.h"
#include "kernels/parallel.h"
#include "kernels/simd/blocked_conv-inl.h"
#include "kernels/simd/gemm-inl.h"
#include "kernels/simd/math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace rtmo::kernels::HWY_NAMESPACE {
namespace winograd {

#if RTMO_BLOCKED_TARGET
using blocked::kCB;
using blocked::kCT;
using blocked::kN;
using blocked::kNV;
using blocked::kP;

constexpr size_t kE = 16;  // transform points per tile (4 x 4)

// The convs it takes: the blocked path's 3x3 stride-1 convs with the usual one-pixel pad.
inline bool Suits(const ConvShape& s) {
  return blocked::Suits(s) && s.kh == 3 && s.kw == 3 && s.stride == 1 && s.pad == 1;
}

inline size_t PaddedIn(const ConvShape& s) { return blocked::Blocks(s.in_c) * kCB; }
inline size_t Tiles(int out_c) { return (out_c + kCT - 1) / kCT; }

// Packed U: [ceil(out_c / kCT)][kE][ceil(in_c / kCB) * kCB ci][kCT co], zero where ci >= in_c
// or co >= out_c; point e = 4 r + c is U[r][c].
inline size_t WeightFloats(const ConvShape& s) { return Tiles(s.out_c) * kE * PaddedIn(s) * kCT; }
// w: [out_c, in_c, 3, 3].
inline void PackWeights(const ConvShape& s, const float* w, float* out) {
  static constexpr double kG[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  std::memset(out, 0, sizeof(float) * WeightFloats(s));
  const size_t cip = PaddedIn(s);
  for (int co = 0; co < s.out_c; ++co) {
    for (int ci = 0; ci < s.in_c; ++ci) {
      const float* g = w + (static_cast<size_t>(co) * s.in_c + ci) * 9;
      double gt[4][3];  // G g
      for (int r = 0; r < 4; ++r) {
        for (int l = 0; l < 3; ++l) {
          gt[r][l] = kG[r][0] * g[l] + kG[r][1] * g[3 + l] + kG[r][2] * g[6 + l];
        }
      }
      for (int r = 0; r < 4; ++r) {
        for (int c = 0; c < 4; ++c) {
          const double u = gt[r][0] * kG[c][0] + gt[r][1] * kG[c][1] + gt[r][2] * kG[c][2];
          const size_t e = static_cast<size_t>(r) * 4 + c;
          out[((co / kCT * kE + e) * cip + ci) * kCT + co % kCT] = static_cast<float>(u);
        }
      }
    }
  }
}

// Tiles and the blocked image. The image is ToBlocked's [cib][rows][wp][kCB] with wp = 2 tw
// + 2 (the last tile column may overhang an odd-width image by one zero column), made per
// band of tile rows (2 bt + 2 padded rows; rows past the image are zero).
struct Geometry {
  size_t th, tw;  // tile rows, tile columns
  blocked::Geometry img;
  size_t band;     // tile rows per band
  size_t n;        // tiles per chunk (one chunk = a run of one tile row)
  size_t per_row;  // chunks per tile row
  Geometry(const ConvShape& s, int h, int w)
      : th((s.OutH(h) + 1) / 2),
        tw((s.OutW(w) + 1) / 2),
        img(s, h, w, /*unit=*/2, /*wide=*/2 * tw + 2),
        band(static_cast<size_t>(img.band) / 2) {
    // A chunk's V (kE x cip x n floats) within 160 KiB, a third of an L2, and its tiles
    // spread evenly over the row (40 px maps of 128 channels: one chunk of 20 tiles).
    const size_t cap = std::max<size_t>(kP, (size_t{160} << 10) / (kE * PaddedIn(s) * 4));
    per_row = (tw + cap - 1) / cap;
    n = (tw + per_row - 1) / per_row;
  }
  size_t VFloats(const ConvShape& s) const { return Align16(kE * PaddedIn(s) * n); }
  size_t MFloats() const { return Align16(kE * n * kCT); }
  size_t StageFloats() const { return Align16(2 * 2 * n * kCT); }
  size_t ThreadFloats(const ConvShape& s) const { return VFloats(s) + MFloats() + StageFloats(); }
};

// V for tiles [tx0, tx0 + n) of one tile row: x = the blocked image at that tile row's first
// padded row; v: [kE][cib][n][kCB].
inline void InputTransform(const float* x, size_t cib, size_t plane, size_t row, size_t tx0,
                           size_t n, float* v) {
  const DF d;
  for (size_t b = 0; b < cib; ++b) {
    for (size_t p = 0; p < n; ++p) {
      const float* t0 = x + b * plane + 2 * (tx0 + p) * kCB;
      for (size_t half = 0; half < kCB; half += kN) {
        VF t[4][4];  // B^T d, row by row
        for (size_t c = 0; c < 4; ++c) {
          const VF d0 = hn::Load(d, t0 + c * kCB + half);
          const VF d1 = hn::Load(d, t0 + row + c * kCB + half);
          const VF d2 = hn::Load(d, t0 + 2 * row + c * kCB + half);
          const VF d3 = hn::Load(d, t0 + 3 * row + c * kCB + half);
          t[0][c] = hn::Sub(d0, d2);
          t[1][c] = hn::Add(d1, d2);
          t[2][c] = hn::Sub(d2, d1);
          t[3][c] = hn::Sub(d1, d3);
        }
        float* o = v + (b * n + p) * kCB + half;
        const size_t step = cib * n * kCB;  // between points
        for (size_t r = 0; r < 4; ++r) {    // (B^T d) B
          hn::Store(hn::Sub(t[r][0], t[r][2]), d, o + (4 * r + 0) * step);
          hn::Store(hn::Add(t[r][1], t[r][2]), d, o + (4 * r + 1) * step);
          hn::Store(hn::Sub(t[r][2], t[r][1]), d, o + (4 * r + 2) * step);
          hn::Store(hn::Sub(t[r][1], t[r][3]), d, o + (4 * r + 3) * step);
        }
      }
    }
  }
}

// m[p][kCT] = sum over ci of u[ci][kCT] * v[ci / kCB][p][ci % kCB] for P tiles: one point's
// GEMM for one channel tile. v: [cib][..][kCB] with `bstride` floats between blocks; the sum
// stays in registers over every input channel.
template <size_t P>
HWY_INLINE void GemmTile(const float* HWY_RESTRICT v, size_t bstride, size_t cib,
                         const float* HWY_RESTRICT u, float* HWY_RESTRICT m) {
  VF a[kNV][P];
  blocked::ZeroTile(a);
  for (size_t b = 0; b < cib; ++b) u = blocked::AccumulateBlock<P>(v + b * bstride, u, a);
  blocked::StoreTile(a, m);
}

inline void GemmTileN(size_t tiles, const float* v, size_t bstride, size_t cib, const float* u,
                      float* m) {
  blocked::ForTileWidth(
      tiles, [&](auto width) HWY_ATTR { GemmTile<decltype(width)::value>(v, bstride, cib, u, m); });
}

// y = act(conv(x) + bias) (+ residual) for tile rows [ty_begin, ty_end) on `threads`.
// image: ToBlocked's output for the 2 (ty_end - ty_begin) + 2 padded rows from 2 ty_begin;
// buf: threads * ThreadFloats.
inline void Run(const ConvShape& s, const Geometry& g, const float* wts, const float* bias,
                const float* image, size_t ty_begin, size_t ty_end, int oh, int ow, Act act,
                const float* residual, float* y, float* buf, int threads) {
  const size_t cib = g.img.cib, cip = PaddedIn(s), ct = Tiles(s.out_c), n_max = g.n;
  const size_t row = g.img.wp * kCB, plane = (2 * (ty_end - ty_begin) + 2) * row;
  const size_t plane_out = static_cast<size_t>(oh) * ow;
  const size_t per_thread = g.ThreadFloats(s);
  // Tasks: chunks (runs of at most n tiles of one tile row), fixed by the shape. Each task
  // transforms its tiles' input once for all output channels (about 3% of the work on
  // 128 channels), then runs every channel tile over them, so all of U (1 MiB for 128 -> 128
  // channels) streams through once per chunk.
  const size_t tasks = (ty_end - ty_begin) * g.per_row;
  const DF d;
  ParallelFor(static_cast<int64_t>(tasks), threads, [&](int64_t task, int slot) {
    const size_t ty = ty_begin + static_cast<size_t>(task) / g.per_row;
    const size_t tx0 = static_cast<size_t>(task) % g.per_row * n_max;
    const size_t n = std::min(n_max, g.tw - tx0);
    float* v = buf + slot * per_thread;
    float* m = v + g.VFloats(s);
    float* stage = m + g.MFloats();
    InputTransform(image + 2 * (ty - ty_begin) * row, cib, plane, row, tx0, n, v);
    // The output pixels of this chunk: rows 2 ty and 2 ty + 1 (if inside), columns from
    // 2 tx0, at most 2 n of them.
    const size_t ox0 = 2 * tx0, cols = std::min<size_t>(2 * n, ow - ox0);
    const size_t rows = std::min<size_t>(2, oh - 2 * ty);
    for (size_t t = 0; t < ct; ++t) {
      const size_t co0 = t * kCT, cos = std::min<size_t>(kCT, s.out_c - co0);
      for (size_t e = 0; e < kE; ++e) {
        const float* u = wts + (t * kE + e) * cip * kCT;
        const float* ve = v + e * cib * n * kCB;
        // Groups of at most kP tiles, as even as possible (AVX2, 20 tiles: 4 x 5, not
        // 6 + 6 + 6 + 2, whose 4 accumulators are too few to hide the FMA latency).
        blocked::ForEvenTiles(n, [&](size_t p0, size_t count) HWY_ATTR {
          GemmTileN(count, ve + p0 * kCB, n * kCB, cib, u, m + (e * n + p0) * kCT);
        });
      }
      // Y = A^T M A per tile, + bias, activation, into stage [2 rows][2 n px][kCT].
      HWY_ALIGN float bias_t[kCT] = {};
      for (size_t c = 0; c < cos; ++c) bias_t[c] = bias[co0 + c];
      for (size_t p = 0; p < n; ++p) {
        for (size_t half = 0; half < kCT; half += kN) {
          const VF bv = hn::Load(d, bias_t + half);
          auto mv = [&](size_t r, size_t c)
                        HWY_ATTR { return hn::Load(d, m + ((4 * r + c) * n + p) * kCT + half); };
          VF s0[4], s1[4];  // A^T M, column by column
          for (size_t c = 0; c < 4; ++c) {
            const VF m1 = mv(1, c), m2 = mv(2, c);
            s0[c] = hn::Add(hn::Add(mv(0, c), m1), m2);
            s1[c] = hn::Sub(hn::Sub(m1, m2), mv(3, c));
          }
          VF out[2][2] = {
              {hn::Add(hn::Add(s0[0], s0[1]), s0[2]), hn::Sub(hn::Sub(s0[1], s0[2]), s0[3])},
              {hn::Add(hn::Add(s1[0], s1[1]), s1[2]), hn::Sub(hn::Sub(s1[1], s1[2]), s1[3])}};
          for (size_t i = 0; i < 2; ++i) {
            for (size_t j = 0; j < 2; ++j) {
              VF o = hn::Add(out[i][j], bv);
              if (act == Act::kSiLU) o = VSiLU(d, o);
              hn::Store(o, d, stage + (i * 2 * n + 2 * p + j) * kCT + half);
            }
          }
        }
      }
      for (size_t i = 0; i < rows; ++i) {
        blocked::StoreChannelRows(stage + i * 2 * n * kCT, cols, cos, plane_out, residual, y,
                                  co0 * plane_out + (2 * ty + i) * ow + ox0);
      }
    }
  });
}

#endif  // RTMO_BLOCKED_TARGET
}  // namespace winograd
}  // namespace rtmo::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // RTMO_KERNELS_WINOGRAD_CONV_INL_H_
