// ops.gemm: C = act(A * op(B) + bias) through the packed GEMM core (kernels/simd/gemm-inl.h),
// A packed per call, B packed per task from a row-major or transposed matrix.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/gemm.cc"

#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/check.h"
#include "kernels/ops.h"
#include "kernels/simd/gemm-inl.h"
#include "kernels/simd/parts-inl.h"

HWY_BEFORE_NAMESPACE();
namespace rtmo::kernels::HWY_NAMESPACE {
namespace {

void GemmSimd(int M, int N, int K, const float* A, int lda, const float* B, int ldb, bool trans_b,
              const float* bias, Act act, float* C, int ldc, Scratch* scratch) {
  CheckGemmArgs("gemm", M, N, K, A, lda, B, ldb, trans_b, C, ldc);
  if (M == 0 || N == 0) return;
  const int threads = ThreadsFor(M, N, K);
  const size_t a_size = PackedASize(M, K);
  float* mem =
      ScratchOrLocal(scratch)->Get(a_size + static_cast<size_t>(threads) * ThreadScratch());
  PackA(A, lda, M, K, mem, threads);
  Epilogue ep;
  ep.bias_col = bias;
  ep.act = act;
  if (trans_b) {
    GemmDriver(M, N, K, mem, TransposedPacker{B, static_cast<size_t>(ldb)}, C, ldc, ep,
               mem + a_size, threads);
  } else {
    GemmDriver(M, N, K, mem, DensePacker{B, static_cast<size_t>(ldb)}, C, ldc, ep, mem + a_size,
               threads);
  }
}

}  // namespace

void FillGemmOps(Ops* ops) { ops->gemm = GemmSimd; }

}  // namespace rtmo::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
