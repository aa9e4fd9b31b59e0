// The kernels' one error policy: a violated call contract (a shape, a leading dimension,
// a packing from another table) throws std::invalid_argument whose message names the
// source file and line of the check, the kernel, and the contract with the values it got,
// e.g. "rtmo::kernels: kernels/gemm.cc:412: gemm: lda >= K (lda 8, K 12)".
//
// The checks are cheap (a few integer comparisons per call, never per element) and active
// in every build type: the model validates shapes at load time, so a failure here is a
// bug in the caller, and it must not turn into an out-of-bounds read in a release build.
// They run before any OpenMP parallel region of the kernel. A kernel called from inside
// the caller's own parallel region cannot propagate the exception out of that region
// (OpenMP then calls std::terminate, which still prints the message).
// The float64 verification kernels (kernels/f64) throw the same exception type.
#ifndef RTMO_KERNELS_CHECK_H_
#define RTMO_KERNELS_CHECK_H_

#include "kernels/ops.h"

namespace rtmo::kernels {

// Throws std::invalid_argument("rtmo::kernels: <file>:<line>: " + printf(fmt, ...)).
[[noreturn]] void ContractViolation(const char* file, int line, const char* fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

// KERNEL_CHECK(cond, "fmt", args...): throws through ContractViolation when cond is false.
// The message should name the kernel and the contract, with the values it got.
#define KERNEL_CHECK(cond, ...)                                                       \
  do {                                                                                \
    if (!(cond)) ::rtmo::kernels::ContractViolation(__FILE__, __LINE__, __VA_ARGS__); \
  } while (0)

// Contract checks shared by the SIMD kernels and their reference twins (kernels/check.cc),
// so both reject exactly the same calls. `fn` names the kernel in the message.
// gemm: M, N, K >= 0; when M * N > 0: K >= 1, ldc >= N and C non-null; A and B non-null
// with lda >= K and ldb >= (trans_b ? K : N).
void CheckGemmArgs(const char* fn, int M, int N, int K, const float* A, int lda, const float* B,
                   int ldb, bool trans_b, const float* C, int ldc);
// pack_conv: in_c, out_c, kh, kw, stride, groups >= 1, pad >= 0, groups divides in_c and
// out_c, weights non-null.
void CheckConvShape(const char* fn, const ConvShape& s, const float* w);
// conv2d: p packed by the table whose tag is `tag`; h, w >= 1 with an output of at least
// 1 x 1; x and y non-null.
void CheckConvCall(const char* fn, const PackedConv& p, int tag, const float* x, int h, int w,
                   const float* y);
// attention: tokens, heads, dim >= 1; ld_qkv and ld_out >= heads * dim; pointers non-null.
void CheckAttentionArgs(const char* fn, const float* q, const float* k, const float* v, int ld_qkv,
                        int tokens, int heads, int dim, const float* out, int ld_out);

}  // namespace rtmo::kernels

#endif  // RTMO_KERNELS_CHECK_H_
