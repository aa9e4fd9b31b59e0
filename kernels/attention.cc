// ops.attention: multi-head scaled-dot-product attention, per (head, block of query rows)
// two single-threaded products through the GEMM core (kernels/simd/gemm-inl.h) with a
// softmax between them.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/attention.cc"
#include <algorithm>
#include <cmath>

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

// Per head: S = Q_h K_h^T (tokens x tokens), softmax(S * scale) row-wise, O_h = P V_h.
// Parallel over (head, block of query rows); each task runs its GEMMs single-threaded,
// so every output element is computed the same way whatever the thread count.
void AttentionSimd(const float* q, const float* k, const float* v, int ld_qkv, int tokens,
                   int heads, int dim, float* out, int ld_out, Scratch* scratch) {
  CheckAttentionArgs("attention", q, k, v, ld_qkv, tokens, heads, dim, out, ld_out);
  constexpr size_t kRows = 64;  // query rows per task
  const size_t T = tokens;
  const size_t q_blocks = (T + kRows - 1) / kRows;
  const int64_t tasks = static_cast<int64_t>(q_blocks) * heads;
  const int threads = MaxThreads();
  // Per thread: packed Q block, packed P block, scores, GEMM scratch.
  const size_t qa = PackedASize(kRows, dim), pa = PackedASize(kRows, T), sc = Align16(kRows * T);
  const size_t per_thread = qa + pa + sc + ThreadScratch();
  float* mem = ScratchOrLocal(scratch)->Get(per_thread * threads);
  const float scale = 1.0f / std::sqrt(static_cast<float>(dim));
  ParallelFor(tasks, threads, [&](int64_t t, int slot) {
    float* tq = mem + static_cast<size_t>(slot) * per_thread;
    float* tp = tq + qa;
    float* ts = tp + pa;
    float* tg = ts + sc;
    const size_t h = static_cast<size_t>(t) / q_blocks, qb = static_cast<size_t>(t) % q_blocks;
    const size_t r0 = qb * kRows, rows = std::min(kRows, T - r0);
    const float* qh = q + r0 * ld_qkv + h * dim;
    PackA(qh, ld_qkv, rows, dim, tq);
    Epilogue none;
    GemmDriver(rows, T, dim, tq, TransposedPacker{k + h * dim, static_cast<size_t>(ld_qkv)}, ts, T,
               none, tg, 1);
    for (size_t r = 0; r < rows; ++r) {
      float* sr = ts + r * T;
      for (size_t j = 0; j < T; ++j) sr[j] *= scale;
      SoftmaxRow(sr, T);
    }
    PackA(ts, T, rows, T, tp);
    GemmDriver(rows, dim, T, tp, DensePacker{v + h * dim, static_cast<size_t>(ld_qkv)},
               out + r0 * ld_out + h * dim, ld_out, none, tg, 1);
  });
}

}  // namespace

void FillAttentionOps(Ops* ops) { ops->attention = AttentionSimd; }

}  // namespace rtmo::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
