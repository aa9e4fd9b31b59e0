// The kernels' contract checks (see kernels/check.h for the policy).
#include "kernels/check.h"

#include <cstdarg>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace rtmo::kernels {

void ContractViolation(const char* file, int line, const char* fmt, ...) {
  char msg[512];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(msg, sizeof(msg), fmt, args);
  va_end(args);
  // __FILE__ is whatever path the build passed the compiler: keep it from "kernels/" on.
  std::string where(file);
  const size_t at = where.rfind("kernels/");
  if (at != std::string::npos) where.erase(0, at);
  throw std::invalid_argument("rtmo::kernels: " + where + ":" + std::to_string(line) + ": " + msg);
}

void CheckGemmArgs(const char* fn, int M, int N, int K, const float* A, int lda, const float* B,
                   int ldb, bool trans_b, const float* C, int ldc) {
  KERNEL_CHECK(M >= 0 && N >= 0 && K >= 0, "%s: M, N, K >= 0 (M %d, N %d, K %d)", fn, M, N, K);
  if (M == 0 || N == 0) return;  // nothing is read or written
  // K = 0 would leave C unwritten by the blocked kernels (no K block to finish).
  KERNEL_CHECK(K >= 1, "%s: K >= 1 when M * N > 0 (M %d, N %d, K %d)", fn, M, N, K);
  KERNEL_CHECK(A != nullptr && B != nullptr && C != nullptr, "%s: A, B and C non-null", fn);
  KERNEL_CHECK(lda >= K, "%s: lda >= K (lda %d, K %d)", fn, lda, K);
  KERNEL_CHECK(ldb >= (trans_b ? K : N), "%s: ldb >= %s (ldb %d, K %d, N %d)", fn,
               trans_b ? "K (B is [N,K])" : "N (B is [K,N])", ldb, K, N);
  KERNEL_CHECK(ldc >= N, "%s: ldc >= N (ldc %d, N %d)", fn, ldc, N);
}

void CheckConvShape(const char* fn, const ConvShape& s, const float* w) {
  KERNEL_CHECK(s.in_c >= 1 && s.out_c >= 1 && s.kh >= 1 && s.kw >= 1 && s.stride >= 1 &&
                   s.groups >= 1 && s.pad >= 0,
               "%s: in_c, out_c, kh, kw, stride, groups >= 1 and pad >= 0 (in_c %d, out_c %d, "
               "kh %d, kw %d, stride %d, groups %d, pad %d)",
               fn, s.in_c, s.out_c, s.kh, s.kw, s.stride, s.groups, s.pad);
  KERNEL_CHECK(s.in_c % s.groups == 0 && s.out_c % s.groups == 0,
               "%s: groups divides in_c and out_c (in_c %d, out_c %d, groups %d)", fn, s.in_c,
               s.out_c, s.groups);
  KERNEL_CHECK(w != nullptr, "%s: weights non-null", fn);
}

void CheckConvCall(const char* fn, const PackedConv& p, int tag, const float* x, int h, int w,
                   const float* y) {
  // A conv packed by another table has another weight layout: reading it would compute
  // garbage without any other symptom.
  KERNEL_CHECK(p.target_tag == tag,
               "%s: PackedConv packed by this table's pack_conv (its tag %d, this table's %d)", fn,
               p.target_tag, tag);
  const ConvShape& s = p.shape;
  KERNEL_CHECK(h >= 1 && w >= 1 && s.OutH(h) >= 1 && s.OutW(w) >= 1,
               "%s: an input of at least 1 x 1 with an output of at least 1 x 1 (input %d x %d, "
               "kernel %d x %d, pad %d, stride %d)",
               fn, h, w, s.kh, s.kw, s.pad, s.stride);
  KERNEL_CHECK(x != nullptr && y != nullptr, "%s: x and y non-null", fn);
}

void CheckAttentionArgs(const char* fn, const float* q, const float* k, const float* v, int ld_qkv,
                        int tokens, int heads, int dim, const float* out, int ld_out) {
  KERNEL_CHECK(tokens >= 1 && heads >= 1 && dim >= 1,
               "%s: tokens, heads, dim >= 1 (tokens %d, heads %d, dim %d)", fn, tokens, heads, dim);
  KERNEL_CHECK(ld_qkv >= heads * dim && ld_out >= heads * dim,
               "%s: ld_qkv and ld_out >= heads * dim (ld_qkv %d, ld_out %d, heads %d, dim %d)", fn,
               ld_qkv, ld_out, heads, dim);
  KERNEL_CHECK(q != nullptr && k != nullptr && v != nullptr && out != nullptr,
               "%s: q, k, v and out non-null", fn);
}

}  // namespace rtmo::kernels
