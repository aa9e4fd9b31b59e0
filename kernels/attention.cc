// ops.attention: multi-head scaled-dot-product attention, per (head, block of query rows)
// two single-threaded products through the GEMM core (kernels/simd/gemm-inl.h) with a
// softmax between them, the scores kept transposed (see AttentionSimd).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/attention.cc"
#include <algorithm>
#include <cmath>
#include <limits>

#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/check.h"
#include "kernels/ops.h"
#include "kernels/parallel.h"
#include "kernels/simd/gemm-inl.h"
#include "kernels/simd/parts-inl.h"

HWY_BEFORE_NAMESPACE();
namespace rtmo::kernels::HWY_NAMESPACE {
namespace {

// Softmax over t of every column c < cols of S^T [T][ld] after scaling it, in place (the
// columns are query rows: softmax(S * scale) row-wise, computed on the transpose). Lanes
// are columns, so every step is a plain vector op, and each column's max and sum run
// sequentially over t: its results depend neither on the vector width nor on the thread.
void ScaledSoftmaxColumns(float* st, size_t T, size_t ld, size_t cols, float scale) {
  const DF d;
  const size_t N = hn::Lanes(d);
  const VF vscale = hn::Set(d, scale);
  for (size_t c0 = 0; c0 < cols; c0 += N) {
    const size_t n = std::min(N, cols - c0);
    auto load = [&](const float* p) HWY_ATTR { return LoadUpTo(d, p, n); };
    auto store = [&](VF v, float* p) HWY_ATTR { StoreUpTo(d, v, p, n); };
    VF vmax = hn::Set(d, -std::numeric_limits<float>::infinity());
    for (size_t t = 0; t < T; ++t) {
      float* p = st + t * ld + c0;
      const VF x = hn::Mul(load(p), vscale);
      store(x, p);
      vmax = hn::Max(vmax, x);
    }
    VF vsum = hn::Zero(d);
    for (size_t t = 0; t < T; ++t) {
      float* p = st + t * ld + c0;
      const VF e = VExp(d, hn::Sub(load(p), vmax));
      store(e, p);
      vsum = hn::Add(vsum, e);
    }
    const VF inv = hn::Div(hn::Set(d, 1.0f), vsum);
    for (size_t t = 0; t < T; ++t) {
      float* p = st + t * ld + c0;
      store(hn::Mul(load(p), inv), p);
    }
  }
}

// Per head h and block of query rows: S^T = K_h Q_blk^T (tokens x rows), softmax over each
// column (scaled), O_blk = P V_h with P = (S^T)^T. Computing S transposed lets K_h be
// packed once per head (it is the A of the first product) and makes the softmax and the
// packing of P stride-1 along query rows; only the block's Q^T (rows x dim) is packed per
// task. Parallel over (head, block); each task runs its GEMMs single-threaded, so every
// output element is computed the same way whatever the thread count.
void AttentionSimd(const float* q, const float* k, const float* v, int ld_qkv, int tokens,
                   int heads, int dim, float* out, int ld_out, Scratch* scratch) {
  CheckAttentionArgs("attention", q, k, v, ld_qkv, tokens, heads, dim, out, ld_out);
  constexpr size_t kRows = 64;  // query rows per task
  const size_t T = tokens, ld = static_cast<size_t>(ld_qkv);
  const size_t q_blocks = (T + kRows - 1) / kRows;
  const int64_t tasks = static_cast<int64_t>(q_blocks) * heads;
  const int threads = MaxThreads();
  // Shared: every head's packed K_h. Per thread: packed P block, S^T block, GEMM scratch.
  const size_t ka = PackedASize(T, dim);
  const size_t pa = PackedASize(kRows, T), sc = Align16(T * kRows);
  const size_t per_thread = pa + sc + ThreadScratch();
  float* kpack = ScratchOrLocal(scratch)->Get(ka * heads + per_thread * threads);
  float* mem = kpack + ka * heads;
  ParallelFor(heads, threads,
              [&](int64_t h, int) { PackA(k + h * dim, ld, T, dim, kpack + h * ka); });
  const float scale = 1.0f / std::sqrt(static_cast<float>(dim));
  ParallelFor(tasks, threads, [&](int64_t t, int slot) {
    float* tp = mem + static_cast<size_t>(slot) * per_thread;
    float* st = tp + pa;
    float* tg = st + sc;
    const size_t h = static_cast<size_t>(t) / q_blocks, qb = static_cast<size_t>(t) % q_blocks;
    const size_t r0 = qb * kRows, rows = std::min(kRows, T - r0);
    Epilogue none;
    // S^T [T][rows] (row stride kRows) = K_h [T, dim] x Q_blk^T [dim, rows].
    GemmDriver(T, rows, dim, kpack + h * ka, TransposedPacker{q + r0 * ld + h * dim, ld}, st, kRows,
               none, tg, 1);
    ScaledSoftmaxColumns(st, T, kRows, rows, scale);
    // P [rows, T] is S^T read column-major: element (r, t) at st[t * kRows + r].
    PackA(st, /*lda=*/1, rows, T, tp, /*threads=*/1, /*ldk=*/kRows);
    GemmDriver(rows, dim, T, tp, DensePacker{v + h * dim, ld}, out + r0 * ld_out + h * dim, ld_out,
               none, tg, 1);
  });
}

}  // namespace

void FillAttentionOps(Ops* ops) { ops->attention = AttentionSimd; }

}  // namespace rtmo::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
