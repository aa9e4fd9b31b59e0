// The packed, register-blocked GEMM core (BLIS-style loop nest) shared by every product
// in the kernels: ops.gemm (kernels/gemm.cc), the convolutions (kernels/conv.cc) and the
// attention (kernels/attention.cc). Private to kernels/; one copy per Highway target.
//
//   C[M,N] = epilogue(A[M,K] * B[K,N])
//
// A is packed into panels of kMR rows ([K][kMR] each, zero-padded): done once at load
// time for conv weights (pack_conv), per call for gemm. B comes from a Source:
//  - packed: per task into panels of NR = kNV vectors ([kc][NR] each, zero-padded) by a
//    packer: a row-major matrix (DensePacker), a transposed one (TransposedPacker), or a
//    CHW image through an implicit im2col (kernels/conv.cc);
//  - direct: stride-1 k x k convs read B straight from a zero-padded copy of the image,
//    where every row of the implicit im2col matrix is a contiguous run (kernels/conv.cc).
// The micro-kernel keeps a kMR x NR block of C in FMA accumulators for kc steps of K.
//
// Determinism: K is cut into blocks of kKC (a constant), each element's partial sums
// are added in ascending k order, and tile boundaries are multiples of kMR / NR from the
// matrix origin, so the arithmetic for an element never depends on the thread count;
// threads only decide which tiles they compute.
//
// Highway per-target include guard: re-included once per target by hwy/foreach_target.h.
#if defined(RTMO_KERNELS_GEMM_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef RTMO_KERNELS_GEMM_INL_H_
#undef RTMO_KERNELS_GEMM_INL_H_
#else
#define RTMO_KERNELS_GEMM_INL_H_
#endif

#include <algorithm>
#include <cstring>

#include "hwy/cache_control.h"
#include "hwy/highway.h"
#include "kernels/ops.h"
#include "kernels/parallel.h"
#include "kernels/simd/math-inl.h"
#include "kernels/simd/parts-inl.h"

HWY_BEFORE_NAMESPACE();
namespace rtmo::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

// Register tile: kMR rows x kNV vectors of accumulators, plus kNV B vectors and one
// broadcast A value must fit the register file. Each B source names its tile
// (Source::Tile): the packed sources use PackedTile; the direct convolutions (B read
// unaligned from the image) use DirectTile, which on AVX2 trades broadcasts for B loads.
template <size_t MR, size_t NV>
struct Tile {
  static constexpr size_t kMR = MR, kNV = NV;
};
#if HWY_TARGET == HWY_SCALAR
using PackedTile = Tile<4, 4>;  // 16 scalar accumulators
using DirectTile = PackedTile;
#elif HWY_TARGET <= HWY_AVX3
using PackedTile = Tile<8, 3>;  // 24 of 32 zmm: 8 x 48 floats; 11 loads per 24 FMAs
using DirectTile = PackedTile;
#elif HWY_TARGET == HWY_AVX2
using PackedTile = Tile<6, 2>;  // 12 of 16 ymm: the classic 6 x 16
// 12 accumulators + 3 B + 1 broadcast = all 16 ymm: 7 loads per 12 FMAs instead of 8.
// Measured on RTMO-s (Zen 3 EPYC, 1 thread): the direct 3x3 convs 0-3% faster than with
// 6 x 16, 11-16% at 32 output channels (where 6-row tiles also pad 4 of 36 rows); the
// packed 1x1 convs were 7-11% slower with 4 x 24, so they keep 6 x 16.
using DirectTile = Tile<4, 3>;
#else
using PackedTile = Tile<6, 2>;  // 12 of 16 (or 32) vector registers
using DirectTile = PackedTile;
#endif
// K block: a kKC x NR B micro-panel (24 KiB on AVX3) stays in L1 while the A panels of
// all rows stream past it from L2 (the BLIS loop order). Part of the numerical contract
// (see the file comment): never thread-dependent. 128 measured 3-8% faster than 256 on
// RTMO-s 3x3 convs (AVX3, 2 threads).
constexpr size_t kKC = 128;
// Columns per task: the packed B block (kKC x kNC floats, 384 KiB) stays in L2.
constexpr size_t kNCFloats = 96 * 1024 / kKC;

// Columns of a tile: kNV vectors.
template <class T = PackedTile>
inline size_t NR() {
  return T::kNV * hn::Lanes(DF());
}
// Bit index of this target, stored in PackedConv::target_tag to catch a table mix-up.
inline int TargetTag() { return static_cast<int>(hwy::Num0BitsBelowLS1Bit_Nonzero64(HWY_TARGET)); }

// What happens to each finished accumulator v at (m, n), in this order:
// v += bias_row[m] + bias_col[n]; v = act(v); v += residual[m * ld_res + n].
struct Epilogue {
  const float* bias_row = nullptr;  // [M] or nullptr (conv bias: one per output channel)
  const float* bias_col = nullptr;  // [N] or nullptr (Linear bias: one per output feature)
  Act act = Act::kNone;
  const float* residual = nullptr;  // shaped like C or nullptr
  size_t ld_res = 0;
  bool Any() const { return bias_row || bias_col || act != Act::kNone || residual; }
};

// Packs rows [0, M) of A (element (m, k) at a[m * lda + k * ldk]: ldk = 1 for a row-major
// A, lda = 1 for a column-major one) into ceil(M/kMR) panels of [K][kMR], zero-padding the
// missing rows of the last panel.
// threads > 1 splits the panels over the pool's threads in tasks of kPackPanels (a pure
// copy: no effect on results); gemm packs its A on every call, serially a few % of a large
// product.
template <size_t kMR = PackedTile::kMR>  // the panel height: Source::Tile::kMR of its GEMM
inline void PackA(const float* a, size_t lda, size_t M, size_t K, float* out, int threads = 1,
                  size_t ldk = 1) {
  constexpr size_t kPackPanels = 4;
  const size_t panels = (M + kMR - 1) / kMR;
  const int64_t tasks = static_cast<int64_t>((panels + kPackPanels - 1) / kPackPanels);
  ParallelFor(tasks, threads, [&](int64_t task, int) {
    const size_t first = static_cast<size_t>(task) * kPackPanels;
    for (size_t pi = first; pi < std::min(panels, first + kPackPanels); ++pi) {
      const size_t p = pi * kMR;
      const size_t rows = std::min(kMR, M - p);
      float* dst = out + p * K;  // panel p/kMR starts at (p/kMR) * K * kMR = p * K
      if (lda == 1 && rows == kMR) {
        // Column-major A (the attention's P, read from its transposed scores): each k's
        // kMR values are adjacent, one short copy instead of kMR strided scalar ones.
        for (size_t k = 0; k < K; ++k) {
          std::memcpy(dst + k * kMR, a + p + k * ldk, sizeof(float) * kMR);
        }
        continue;
      }
      // Row by row: each row of A is read in order (one stream), its values stored kMR
      // floats apart inside the panel, which stays in L1. Reading the kMR rows at once, k by
      // k, took 14% of the DCC's GEMMs (kernels_bench's DCC shapes, 1 thread, AVX-512);
      // this order 11%.
      for (size_t r = 0; r < rows; ++r) {
        const float* src = a + (p + r) * lda;
        for (size_t k = 0; k < K; ++k) dst[k * kMR + r] = src[k * ldk];
      }
      for (size_t r = rows; r < kMR; ++r) {
        for (size_t k = 0; k < K; ++k) dst[k * kMR + r] = 0.0f;
      }
    }
  });
}
// Rounded up to 16 floats (64 bytes) so that buffers carved out of one scratch block
// stay aligned for hn::Load/Store.
inline size_t Align16(size_t n) { return (n + 15) / 16 * 16; }
template <size_t kMR = PackedTile::kMR>
inline size_t PackedASize(size_t M, size_t K) {
  return Align16((M + kMR - 1) / kMR * kMR * K);
}

// --- B packers: fill panels [ceil(nc/NR)][kc][NR] for rows [k0, k0+kc) and columns
// [n0, n0+nc) of the logical B, zero-padding columns past nc. ------------------------

// Copies one logical row segment (nc floats at `row`) into the panel layout. Every packer
// fills panels for PackedTile (its Source::Tile).
HWY_INLINE void ScatterRow(const float* row, size_t nc, size_t kk, size_t kc, float* bp) {
  const DF d;
  const size_t N = hn::Lanes(d), nr = NR();
  for (size_t j = 0; j < nc; j += nr) {
    float* dst = bp + (j / nr * kc + kk) * nr;
    const size_t cols = std::min(nr, nc - j);
    for (size_t v = 0; v < PackedTile::kNV; ++v) {
      const size_t c0 = v * N;
      if (c0 + N <= cols) {
        hn::Store(hn::LoadU(d, row + j + c0), d, dst + c0);
      } else if (c0 < cols) {
        hn::Store(LoadTail(d, row + j + c0, cols - c0), d, dst + c0);
      } else {
        hn::Store(hn::Zero(d), d, dst + c0);
      }
    }
  }
}

// B[K,N] row-major with row stride ldb.
struct DensePacker {
  static constexpr bool kDirect = false;
  using Tile = PackedTile;
  const float* b;
  size_t ldb;
  void operator()(size_t k0, size_t kc, size_t n0, size_t nc, float* bp) const {
    for (size_t kk = 0; kk < kc; ++kk) {
      // Rows are short runs far apart (a feature map's channels): each restarts the
      // hardware prefetcher, so fetch a few rows ahead by hand.
      if (kk + kPrefetchRows < kc) {
        const float* ahead = b + (k0 + kk + kPrefetchRows) * ldb + n0;
        for (size_t l = 0; l < nc; l += 16) hwy::Prefetch(ahead + l);
      }
      ScatterRow(b + (k0 + kk) * ldb + n0, nc, kk, kc, bp);
    }
  }
  static constexpr size_t kPrefetchRows = 4;
};

// B = Bt^T for Bt[N,K] row-major with row stride ldb (a Linear weight [out, in]).
struct TransposedPacker {
  static constexpr bool kDirect = false;
  using Tile = PackedTile;
  const float* bt;
  size_t ldb;
  void operator()(size_t k0, size_t kc, size_t n0, size_t nc, float* bp) const {
    const size_t nr = NR();
    const size_t ncp = (nc + nr - 1) / nr * nr;
    for (size_t n = 0; n < ncp; ++n) {
      float* dst = bp + (n / nr * kc) * nr + n % nr;
      if (n < nc) {
        const float* src = bt + (n0 + n) * ldb + k0;
        for (size_t kk = 0; kk < kc; ++kk) dst[kk * nr] = src[kk];
      } else {
        for (size_t kk = 0; kk < kc; ++kk) dst[kk * nr] = 0.0f;
      }
    }
  }
};

// The micro-kernel: one C[rows, cols] tile (rows <= kMR, cols <= NR) at c, row stride ldc.
// a: [kc][kMR]. B row k is b + k * NR (packed panel [kc][NR], aligned) or, kDirect,
// b + off[k] (NR floats of a prepared image, unaligned, readable past `cols`).
// first: C holds nothing yet (else the tile adds to it). ep: the last K block's epilogue
// (nullptr for the others), with (m0, n0) the tile's global position.
template <class T, bool kDirect>
HWY_INLINE void MicroKernel(size_t kc, const float* HWY_RESTRICT a, const float* HWY_RESTRICT b,
                            const int32_t* HWY_RESTRICT off, float* c, size_t ldc, size_t rows,
                            size_t cols, bool first, const Epilogue* ep, size_t m0, size_t n0) {
  constexpr size_t kMR = T::kMR, kNV = T::kNV;
  const DF d;
  const size_t N = hn::Lanes(d);
  auto load_b = [&](size_t k, size_t v) HWY_ATTR {
    if constexpr (kDirect) {
      return hn::LoadU(d, b + off[k] + v * N);
    } else {
      return hn::Load(d, b + k * kNV * N + v * N);
    }
  };
#if HWY_TARGET == HWY_SVE || HWY_TARGET == HWY_SVE2 || HWY_TARGET == HWY_SVE_256 || \
    HWY_TARGET == HWY_SVE2_128
  // SVE vectors are sizeless types, which C++ arrays cannot hold: the accumulators of the
  // 6 x 2 tile are named variables, with the same FMAs in the same order as below, and
  // are spilled once per tile (after kc steps) for the store loop.
  static_assert(kMR == 6 && kNV == 2, "the named SVE accumulators are for a 6 x 2 tile");
  VF c00 = hn::Zero(d), c01 = hn::Zero(d), c10 = hn::Zero(d), c11 = hn::Zero(d);
  VF c20 = hn::Zero(d), c21 = hn::Zero(d), c30 = hn::Zero(d), c31 = hn::Zero(d);
  VF c40 = hn::Zero(d), c41 = hn::Zero(d), c50 = hn::Zero(d), c51 = hn::Zero(d);
  for (size_t k = 0; k < kc; ++k) {
    const VF b0 = load_b(k, 0), b1 = load_b(k, 1);
    VF av = hn::Set(d, a[0]);
    c00 = hn::MulAdd(av, b0, c00), c01 = hn::MulAdd(av, b1, c01);
    av = hn::Set(d, a[1]);
    c10 = hn::MulAdd(av, b0, c10), c11 = hn::MulAdd(av, b1, c11);
    av = hn::Set(d, a[2]);
    c20 = hn::MulAdd(av, b0, c20), c21 = hn::MulAdd(av, b1, c21);
    av = hn::Set(d, a[3]);
    c30 = hn::MulAdd(av, b0, c30), c31 = hn::MulAdd(av, b1, c31);
    av = hn::Set(d, a[4]);
    c40 = hn::MulAdd(av, b0, c40), c41 = hn::MulAdd(av, b1, c41);
    av = hn::Set(d, a[5]);
    c50 = hn::MulAdd(av, b0, c50), c51 = hn::MulAdd(av, b1, c51);
    a += kMR;
  }
  HWY_ALIGN float spill[kMR * kNV * (HWY_MAX_BYTES / sizeof(float))];
  hn::Store(c00, d, spill + 0 * N), hn::Store(c01, d, spill + 1 * N);
  hn::Store(c10, d, spill + 2 * N), hn::Store(c11, d, spill + 3 * N);
  hn::Store(c20, d, spill + 4 * N), hn::Store(c21, d, spill + 5 * N);
  hn::Store(c30, d, spill + 6 * N), hn::Store(c31, d, spill + 7 * N);
  hn::Store(c40, d, spill + 8 * N), hn::Store(c41, d, spill + 9 * N);
  hn::Store(c50, d, spill + 10 * N), hn::Store(c51, d, spill + 11 * N);
  auto acc = [&](size_t r, size_t v) HWY_ATTR { return hn::Load(d, spill + (r * kNV + v) * N); };
#else
  VF accs[kMR][kNV];
  HWY_UNROLL(8)
  for (size_t r = 0; r < kMR; ++r) {
    HWY_UNROLL(8)
    for (size_t v = 0; v < kNV; ++v) accs[r][v] = hn::Zero(d);
  }
  for (size_t k = 0; k < kc; ++k) {
    VF bv[kNV];
    HWY_UNROLL(8)
    for (size_t v = 0; v < kNV; ++v) bv[v] = load_b(k, v);
    HWY_UNROLL(8)
    for (size_t r = 0; r < kMR; ++r) {
      const VF av = hn::Set(d, a[r]);
      HWY_UNROLL(8)
      for (size_t v = 0; v < kNV; ++v) accs[r][v] = hn::MulAdd(av, bv[v], accs[r][v]);
    }
    a += kMR;
  }
  auto acc = [&](size_t r, size_t v) HWY_ATTR { return accs[r][v]; };
#endif
  // Store: the same arithmetic for full and partial tiles; partial ones mask memory.
  const bool full = rows == kMR && cols == kNV * N;
  if (ep != nullptr && ep->Any()) {
    // The last K block: the epilogue on the tile before its only store to C. It was a
    // separate pass over each finished NR-wide strip of C, which by then had left L1 (a
    // 256-row strip is 48 KiB): 9% of a 1x1 conv's samples (AVX-512), most of them on its
    // loads. Here it runs from a copy of the tile in L1, in a loop that is not unrolled:
    // with SiLU inlined for each of the kMR x kNV accumulators the micro-kernel was 2.5x the
    // code and slower than before. The arithmetic is the strip pass's, in its order.
    HWY_ALIGN float tile[kMR * kNV * (HWY_MAX_BYTES / sizeof(float))];
    HWY_UNROLL(8)
    for (size_t r = 0; r < kMR; ++r) {
      HWY_UNROLL(8)
      for (size_t v = 0; v < kNV; ++v) hn::Store(acc(r, v), d, tile + (r * kNV + v) * N);
    }
    for (size_t r = 0; r < rows; ++r) {
      float* cr = c + r * ldc;
      const VF bias_r = hn::Set(d, ep->bias_row ? ep->bias_row[m0 + r] : 0.0f);
      const float* res = ep->residual ? ep->residual + (m0 + r) * ep->ld_res + n0 : nullptr;
      for (size_t c0 = 0; c0 < cols; c0 += N) {
        const size_t valid = std::min(N, cols - c0);
        VF s = hn::Load(d, tile + r * kNV * N + c0);
        if (!first) s = hn::Add(LoadUpTo(d, cr + c0, valid), s);
        if (ep->bias_row) s = hn::Add(s, bias_r);
        if (ep->bias_col) s = hn::Add(s, LoadUpTo(d, ep->bias_col + n0 + c0, valid));
        if (ep->act == Act::kSiLU) s = VSiLU(d, s);
        if (res) s = hn::Add(s, LoadUpTo(d, res + c0, valid));
        StoreUpTo(d, s, cr + c0, valid);
      }
    }
    return;
  }
  HWY_UNROLL(8)
  for (size_t r = 0; r < kMR; ++r) {
    if (r >= rows) break;
    float* cr = c + r * ldc;
    HWY_UNROLL(8)
    for (size_t v = 0; v < kNV; ++v) {
      const size_t c0 = v * N;
      if (!full && c0 >= cols) break;
      const size_t valid = full ? N : std::min(N, cols - c0);
      VF s = acc(r, v);
      if (!first) s = hn::Add(LoadUpTo(d, cr + c0, valid), s);
      StoreUpTo(d, s, cr + c0, valid);
    }
  }
}

// The caller's scratch, or (when it passed none) one per calling thread.
inline Scratch* ScratchOrLocal(Scratch* scratch) {
  if (scratch != nullptr) return scratch;
  thread_local Scratch local;
  return &local;
}

// Scratch floats one thread needs: the packed B block plus one im2col row.
inline size_t ThreadScratch() { return Align16(kKC * kNCFloats + kNCFloats + 64); }

// Computes the tile block rows [m_begin, m_end) x columns [n_begin, n_end) of C, both
// begins multiples of kMR / NR, into cb: the block's element (m_begin, n_begin), row stride
// ldc. ap: packed A of the whole matrix (K columns). A direct source then moves the block
// to its destination (Source::Finish).
// Loop order (BLIS): one B micro-panel (kc x NR) stays in L1 while every A panel of the
// block streams past it; A's block (M x kc) stays in L2.
template <class Source>
void GemmBlock(size_t m_begin, size_t m_end, size_t n_begin, size_t n_end, size_t K,
               const float* ap, const Source& src, float* cb, size_t ldc, const Epilogue& ep,
               float* buf) {
  using T = typename Source::Tile;
  constexpr size_t kMR = T::kMR;
  const size_t nr = NR<T>();
  const size_t nc = n_end - n_begin;
  for (size_t k0 = 0; k0 < K; k0 += kKC) {
    const size_t kc = std::min(kKC, K - k0);
    const bool first = k0 == 0, last = k0 + kc == K;
    if constexpr (!Source::kDirect) src(k0, kc, n_begin, nc, buf);
    for (size_t j = 0; j < nc; j += nr) {
      const float* b;
      if constexpr (Source::kDirect) {
        b = src.image + n_begin + j;
        // The kc rows of the next tile sit in up to kc different lines far apart: too many
        // streams for the hardware prefetcher, and the image is usually beyond L2. Fetch
        // them while this tile's FMAs run (measured when stride-2 convs also took this
        // path: without it they were 30% slower).
        // The next tile is the next NR columns, or the first ones of the next K block.
        const bool more_cols = j + nr < nc;
        if (more_cols || k0 + kc < K) {
          const float* next = more_cols ? b + nr : src.image + n_begin;
          const size_t nk0 = more_cols ? k0 : k0 + kc;
          const size_t nkc = more_cols ? kc : std::min(kKC, K - nk0);
          for (size_t k = 0; k < nkc; ++k) {
            for (size_t l = 0; l < nr; l += 16) hwy::Prefetch(next + src.off[nk0 + k] + l);
          }
        }
      } else {
        b = buf + j * kc;
      }
      for (size_t m = m_begin; m < m_end; m += kMR) {
        const float* a = ap + m * K + k0 * kMR;
        const size_t rows = std::min(kMR, m_end - m);
        const int32_t* off = nullptr;
        if constexpr (Source::kDirect) off = src.off + k0;
        MicroKernel<T, Source::kDirect>(kc, a, b, off, cb + (m - m_begin) * ldc + j, ldc, rows,
                                        std::min(nr, nc - j), first, last ? &ep : nullptr, m,
                                        n_begin + j);
      }
    }
  }
  if constexpr (Source::kDirect) src.Finish(m_begin, m_end, n_begin, n_end, cb, ldc);
}

// The task grid of one product: C cut into m_blocks x n_blocks blocks whose edges fall on
// tile panels (multiples of kMR rows / NR columns, so every tile keeps its place relative
// to the matrix origin). Blocks are balanced: the panels are shared out so that block
// sizes differ by at most one panel, since with a handful of tasks per thread one task
// more or less is a large share (13 tasks of 7 panels on 2 threads: 7 against 6, where 16
// tasks of 6-7 panels split 8 / 8). mc, nc: the largest block. The grid depends on M, N
// and K (and, where B is packed, on whether one thread runs it: below), and has more
// blocks than threads: tasks are handed out dynamically, so when the OS deschedules one
// thread (another process wants the core) the others take over its share, and only the
// block it is in the middle of waits for it. Tasks of ~kTaskMacs are ~10-20 us of FMAs, large
// enough that claiming one (an atomic increment) costs nothing. Which block computes an element
// never changes its arithmetic (its sum runs over the same K blocks in the same order).
struct TaskGrid {
  size_t m_panels, n_panels, kmr, nr;
  size_t m_blocks, n_blocks;
  size_t mc, nc;
  size_t tasks() const { return m_blocks * n_blocks; }
  // Block b of `blocks` over `panels` panels of `width`, clipped to `size`: [begin, end).
  static size_t Edge(size_t b, size_t blocks, size_t panels, size_t width, size_t size) {
    return std::min(size, b * panels / blocks * width);
  }
  size_t M0(size_t mb, size_t M) const { return Edge(mb, m_blocks, m_panels, kmr, M); }
  size_t N0(size_t nb, size_t N) const { return Edge(nb, n_blocks, n_panels, nr, N); }
};
constexpr size_t kTaskMacs = size_t{1} << 20;
constexpr size_t kMaxTasks = 16;
// packs_on_one_thread: B is packed (each row block packs its own copy of its columns' B)
// and the product runs on one thread. Then the rows are never split: there every row
// block after the first only re-packs B. Measured on AVX-512, 1 thread (kernels_bench, min
// of 8 interleaved rounds): 1x1 convs on RTMO-t's 13 x 13 and 26 x 26 maps 0.86-0.97x the
// time, on RTMO-s's 20 x 20 maps 0.90-0.97x (9 of 10 shapes; 1.005x on the tenth): the maps
// narrow enough to run out of column panels. On 2 threads the same grid (fewer, larger tasks) lost
// up to 1.2x where it left 4 tasks (13 x 13 maps, 384 rows): a team whose second thread starts late
// needs smaller tasks to even out, so there the rows are split as before. The grid never changes an
// element's arithmetic, so results stay the same on any number of threads.
template <class T>
inline TaskGrid GridFor(size_t M, size_t N, size_t K, bool packs_on_one_thread = false) {
  constexpr size_t kMR = T::kMR;
  const size_t nr = NR<T>();
  const size_t n_panels = (N + nr - 1) / nr, m_panels = (M + kMR - 1) / kMR;
  const size_t want = std::clamp<size_t>(M * N * K / kTaskMacs, 1, kMaxTasks);
  // Columns first: at most kNCFloats per block (the packed B block stays in L2), and more
  // blocks down to one panel each while fewer than `want`; every element of B is still
  // packed once. Rows only when the columns run out: each row block re-packs its B.
  size_t n_blocks = (n_panels + kNCFloats / nr - 1) / (kNCFloats / nr);
  n_blocks = std::max(n_blocks, std::min(want, n_panels));
  size_t m_blocks = packs_on_one_thread ? 1 : std::min(m_panels, (want + n_blocks - 1) / n_blocks);
  // An even number of tasks (the pool's teams are 2, 4, 8 ... threads on most machines):
  // one block more where the panels allow, columns first. `want` can be odd, and so can
  // the L2 bound alone (9 blocks of 48 panels at N = 6400).
  if (m_blocks * n_blocks > 1 && (m_blocks * n_blocks) % 2 == 1) {
    if (n_blocks < n_panels) {
      ++n_blocks;
    } else if (m_blocks < m_panels && !packs_on_one_thread) {
      ++m_blocks;
    }
  }
  TaskGrid g;
  g.m_panels = m_panels;
  g.n_panels = n_panels;
  g.kmr = kMR;
  g.nr = nr;
  g.m_blocks = m_blocks;
  g.n_blocks = n_blocks;
  g.mc = (m_panels + m_blocks - 1) / m_blocks * kMR;
  g.nc = (n_panels + n_blocks - 1) / n_blocks * nr;
  return g;
}

// Scratch floats GemmDriver needs per thread: the packed B block (ThreadScratch()), and for
// a direct source, which writes no C of its own, the task's C block (Source::Finish moves it
// into place while it is still in cache; a whole wide output for the stem would be 13 MB).
template <class Source>
size_t GemmThreadScratch(size_t M, size_t N, size_t K) {
  if constexpr (Source::kDirect) {
    const TaskGrid g = GridFor<typename Source::Tile>(M, N, K);
    return ThreadScratch() + Align16(g.mc * g.nc);
  } else {
    return ThreadScratch();
  }
}

// C[M,N] = epilogue(A * B) over the pool's threads (a direct source: C unused, nullptr).
// ap: packed A. scratch: >= threads * GemmThreadScratch<Source>(M, N, K) floats. threads 1
// runs inline (used inside parallel regions).
template <class Source>
void GemmDriver(size_t M, size_t N, size_t K, const float* ap, const Source& src, float* C,
                size_t ldc, const Epilogue& ep, float* scratch, int threads) {
  if (M == 0 || N == 0) return;
  const TaskGrid g = GridFor<typename Source::Tile>(M, N, K, !Source::kDirect && threads <= 1);
  const int64_t tasks = static_cast<int64_t>(g.tasks());
  const size_t per_thread = GemmThreadScratch<Source>(M, N, K);
  auto run = [&](int64_t t, float* buf) {
    const size_t mb = static_cast<size_t>(t) / g.n_blocks;
    const size_t nb = static_cast<size_t>(t) % g.n_blocks;
    const size_t m0 = g.M0(mb, M), n0 = g.N0(nb, N);
    const size_t m1 = g.M0(mb + 1, M), n1 = g.N0(nb + 1, N);
    if constexpr (Source::kDirect) {
      GemmBlock(m0, m1, n0, n1, K, ap, src, buf + ThreadScratch(), g.nc, ep, buf);
    } else {
      GemmBlock(m0, m1, n0, n1, K, ap, src, C + m0 * ldc + n0, ldc, ep, buf);
    }
  };
  // Dynamic: on a shared machine a descheduled thread must not hold back the others.
  // Which thread runs a task never changes its arithmetic.
  ParallelFor(tasks, threads, [&](int64_t t, int slot) {
    run(t, scratch + static_cast<size_t>(slot) * per_thread);
  });
}

// Threads for a product of this size. Below ~4M MACs the fork/join and the narrower
// per-thread tiles cost more than a second thread saves: measured with ops.gemm on RTMO-s
// conv-like shapes (AVX3, 2 cores, medians of 200), 2 threads lose up to 3.7M MACs
// (e.g. 64x100x192: 30 vs 37 us; 128x100x288: 94 vs 102 us) and win from ~3.3M on wide N
// (64x400x128: 50 vs 43 us; 64x400x256: 106 vs 78 us). Results never depend on it.
constexpr size_t kMinParallelMacs = size_t{1} << 22;
inline int ThreadsFor(size_t M, size_t N, size_t K) {
  if (M * N * K < kMinParallelMacs) return 1;
  return MaxThreads();
}

}  // namespace rtmo::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // RTMO_KERNELS_GEMM_INL_H_
