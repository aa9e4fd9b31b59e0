// Per-target entry points of the SIMD kernel files, so that kernels/dispatch.cc can
// assemble each target's Ops table. Highway per-target include guard (re-included once
// per target by hwy/foreach_target.h).
#if defined(RTMO_KERNELS_SIMD_PARTS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef RTMO_KERNELS_SIMD_PARTS_INL_H_
#undef RTMO_KERNELS_SIMD_PARTS_INL_H_
#else
#define RTMO_KERNELS_SIMD_PARTS_INL_H_
#endif

#include "hwy/highway.h"
#include "kernels/ops.h"

HWY_BEFORE_NAMESPACE();
namespace rtmo::kernels::HWY_NAMESPACE {

// kernels/gemm.cc: gemm.
void FillGemmOps(Ops* ops);
// kernels/conv.cc: pack_conv, conv2d.
void FillConvOps(Ops* ops);
// kernels/attention.cc: attention.
void FillAttentionOps(Ops* ops);
// kernels/eltwise.cc: pooling, resampling, element-wise, layernorm, softmax, cos_sin.
void FillEltwiseOps(Ops* ops);
// kernels/eltwise.cc: one softmax row in place (shared with the attention kernel).
void SoftmaxRow(float* x, size_t cols);

}  // namespace rtmo::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // RTMO_KERNELS_SIMD_PARTS_INL_H_
