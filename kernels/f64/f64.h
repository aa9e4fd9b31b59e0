// Float64 kernels of the exact-verification path: the whole network can be run in double
// and compared against PyTorch run in float64, so that a disagreement of the float32 path
// is attributable (to float32 rounding, or to a real bug).
//
// This is an implementation independent of the float32 Highway kernels (kernels/ops.h):
// plain loops and Eigen 3 matrix products in double, std:: maths. It shares only the view
// types (kernels/tensor.h) and the `Act` / `ConvShape` definitions with them.
//
// Determinism: every function is OpenMP-parallel, and its result is bitwise identical for
// any number of threads. Work is cut into pieces fixed by the shapes alone (blocks of
// output rows / columns / channels); each piece is computed single-threaded (Eigen's own
// threading is compiled out), so the summation order of every output element depends on
// the shapes only. Eigen's GEMM blocking is pinned to fixed cache sizes (not queried from
// the CPU), so for a given build (compiler, flags: the SIMD width Eigen uses, FMA) results
// do not depend on the machine's caches either.
//
// Errors: shape inconsistencies throw std::invalid_argument naming the argument.
#ifndef RTMO_KERNELS_F64_F64_H_
#define RTMO_KERNELS_F64_F64_H_

#include <cstddef>

#include "kernels/ops.h"  // Act, ConvShape only
#include "kernels/tensor.h"

namespace rtmo::kernels::f64 {

using kernels::Act;        // enum class Act { kNone, kSiLU }
using kernels::ConvShape;  // in_c, out_c, kh, kw, stride, pad, groups; OutH / OutW

// A convolution ready to run: weights in PyTorch layout [out_c, in_c/groups, kh, kw],
// bias [out_c] (zeros if the conv has none).
struct Conv {
  ConvShape shape;
  AlignedBuffer<double> w;
  AlignedBuffer<double> b;
};

// Builds a Conv from PyTorch-layout weights w [out_c * in_c/groups * kh * kw] and bias
// b [out_c] (nullptr: zeros); both are copied. Throws std::invalid_argument if the shape
// is inconsistent (non-positive sizes, channels not divisible by groups, w null).
Conv MakeConv(const ConvShape& s, const double* w, const double* b);

// x: [in_c, h, w] -> y: [out_c, OutH(h), OutW(w)]; y = act(conv(x) + b), then + residual
// (residual: y.size() values in y's layout, added AFTER the activation) if non-null.
// y may be a channel slice of a bigger map; y must not overlap x; residual may equal
// y.data (read before each element is written). Any groups (1, depthwise, general).
void Conv2d(const Conv& p, Map<const double> x, Map<double> y, Act act,
            const double* residual = nullptr);

// c[M,N] = a[M,K] * op(b) (+ bias[N] if non-null), then act; op(b) = b[K,N], or with
// trans_b, b[N,K]^T. All views are row-major with row strides (ld). c must not overlap a/b.
void Gemm(Mat<const double> a, Mat<const double> b, bool trans_b, Mat<double> c,
          const double* bias = nullptr, Act act = Act::kNone);

// Row-wise LayerNorm over the columns: y = (x - mean) / sqrt(var + eps) * gamma + beta,
// biased variance (as torch). gamma / beta [x.cols] (nullptr: 1 / 0). y: same shape as x,
// may equal x (same data and ld); must not otherwise overlap it.
void LayerNorm(Mat<const double> x, const double* gamma, const double* beta, double eps,
               Mat<double> y);

// Multi-head scaled dot-product attention, no mask: q, k, v [T, heads*d] (views; may be
// column blocks of one matrix; k and v may have a different T than q) -> out [Tq, heads*d];
// per head softmax(q k^T / sqrt(d)) v. out must not overlap q, k or v.
void Attention(Mat<const double> q, Mat<const double> k, Mat<const double> v, int heads,
               Mat<double> out);

// x: [c, h, w] -> y: same shape; max over the k x k window, stride 1, padding k/2 (padding
// never wins), k odd and positive. y must not overlap x.
void MaxPoolSame(Map<const double> x, int k, Map<double> y);

// x: [c, h, w] -> y: [c, 2h, 2w], nearest neighbour. y must not overlap x.
void Upsample2x(Map<const double> x, Map<double> y);

// Element-wise over n values; y may equal an input.
void Add(const double* a, const double* b, size_t n, double* y);
void Silu(const double* x, size_t n, double* y);   // x / (1 + exp(-x)), as torch
void Gelu(const double* x, size_t n, double* y);   // exact: 0.5 x (1 + erf(x / sqrt 2))
void Relu2(const double* x, size_t n, double* y);  // max(x, 0)^2

}  // namespace rtmo::kernels::f64

#endif  // RTMO_KERNELS_F64_F64_H_
