// The kernel table: every numeric operation the RTMO network needs, as plain functions
// over raw float32 pointers with explicit shapes.
//
// Dispatch happens once: `Best()` picks the Highway target for this CPU the first time it
// is called, and the model keeps the `const Ops&` it returned for its whole life; calls
// through the table are ordinary indirect calls. Tests obtain each compiled target's
// table with `ForTarget()` and the naive reference twins with `Reference()`.
//
// All kernels are deterministic: the result does not depend on the number of threads
// (omp_get_max_threads(), run on the kernels' own pool, kernels/parallel.h) or on
// scheduling (work is split over outputs in pieces fixed by the shapes; no cross-thread
// reductions).
// Shapes are contracts (one comment per entry below). The model validates shapes at load
// time; the kernels check the cheap parts of their contracts in every build (the shapes,
// leading dimensions and packing of gemm, pack_conv, conv2d and attention, never per
// element) and throw std::invalid_argument naming the file, line and contract
// (kernels/check.h). The element-wise kernels trust n and their pointers.
#ifndef RTMO_KERNELS_OPS_H_
#define RTMO_KERNELS_OPS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/tensor.h"

namespace rtmo::kernels {

// Epilogue activation fused into conv / GEMM outputs.
enum class Act : int { kNone = 0, kSiLU = 1 };

// Geometry of a 2-D convolution. Padding is symmetric (pad on every side), as in RTMO.
struct ConvShape {
  int in_c = 0, out_c = 0;
  int kh = 1, kw = 1;
  int stride = 1, pad = 0;
  int groups = 1;
  int OutH(int h) const { return (h + 2 * pad - kh) / stride + 1; }
  int OutW(int w) const { return (w + 2 * pad - kw) / stride + 1; }
  // A k x k conv with "same" padding k / 2, the only kind RTMO has (mmcv ConvModule with
  // padding=(kernel_size - 1) // 2 for odd k).
  static ConvShape Square(int in_c, int out_c, int k, int stride, int groups) {
    ConvShape s;
    s.in_c = in_c;
    s.out_c = out_c;
    s.kh = s.kw = k;
    s.stride = stride;
    s.pad = k / 2;
    s.groups = groups;
    return s;
  }
};

// Convolution weights (BatchNorm already folded in by the caller) re-laid out by the
// target that will run them. Opaque outside the kernels; build with Ops::pack_conv.
struct PackedConv {
  ConvShape shape;
  AlignedBuffer<float> weights;  // target-specific layout
  AlignedBuffer<float> bias;     // [out_c], zeros when the conv has no bias
  int target_tag = 0;            // which packing produced `weights` (checked by conv2d)
  // conv2d runs Winograd F(2x2, 3x3) on these weights (its float32 error bound differs from
  // the direct conv's: kernels/simd/winograd_conv-inl.h; tests choose their tolerance by it).
  bool winograd = false;
};

// Scratch memory reused across calls so that steady-state inference does not allocate.
// Grows on demand (first call), never shrinks. Not thread-safe: one per concurrent caller.
// Kernels taking a Scratch* also accept nullptr (they then use a per-thread one).
struct Scratch {
  AlignedBuffer<float> buf;
  AlignedBuffer<int32_t> ints;  // index tables (the direct conv's im2col row offsets)
  float* Get(size_t n) {
    if (buf.size() < n) buf.Resize(n);
    return buf.data();
  }
  int32_t* GetInts(size_t n) {
    if (ints.size() < n) ints.Resize(n);
    return ints.data();
  }
};

struct Ops {
  const char* target_name;  // e.g. "AVX2", "AVX3", "SSE4", "EMU128", "reference"

  // --- Matrix products -------------------------------------------------------------
  // C[M,N] = act(A[M,K] * op(B) + bias) where op(B) is B[K,N] (trans_b = false) or
  // B^T for B[N,K] (trans_b = true). Leading dimensions in elements. bias is [N]
  // (per column; a Linear layer's bias) or nullptr.
  void (*gemm)(int M, int N, int K, const float* A, int lda, const float* B, int ldb, bool trans_b,
               const float* bias, Act act, float* C, int ldc, Scratch* scratch);

  // --- Convolution -----------------------------------------------------------------
  // w: [out_c, in_c/groups, kh, kw] (PyTorch layout), bias: [out_c] or nullptr.
  // The packing belongs to this table: another table's conv2d rejects it (throws).
  void (*pack_conv)(const ConvShape& s, const float* w, const float* bias, PackedConv* out);
  // x: [in_c, h, w] -> y: [out_c, OutH(h), OutW(w)]; y = act(conv(x) + bias) (+ residual
  // after the activation when residual != nullptr, residual shaped like y).
  // y must not alias x; it may be a channel slice of a larger CHW map.
  void (*conv2d)(const PackedConv& p, const float* x, int h, int w, Act act, const float* residual,
                 float* y, Scratch* scratch);

  // --- Pooling / resampling ----------------------------------------------------------
  // x: [c, h, w] -> y: [c, h, w]; max over a k x k window, stride 1, padding k/2 that
  // never wins (PyTorch's -inf padding). k odd.
  void (*maxpool_same)(const float* x, int c, int h, int w, int k, float* y);
  // x: [c, h, w] -> y: [c, 2h, 2w], nearest neighbour.
  void (*upsample2x)(const float* x, int c, int h, int w, float* y);

  // --- Element-wise (in place allowed: y may equal x) ---------------------------------
  void (*silu)(const float* x, size_t n, float* y);     // x * sigmoid(x)
  void (*sigmoid)(const float* x, size_t n, float* y);  // 1 / (1 + exp(-x))
  void (*exp)(const float* x, size_t n, float* y);
  void (*gelu)(const float* x, size_t n, float* y);   // exact: x/2 * (1 + erf(x/sqrt2))
  void (*relu2)(const float* x, size_t n, float* y);  // max(x, 0)^2
  void (*add)(const float* a, const float* b, size_t n, float* y);

  // --- Normalisation / softmax -------------------------------------------------------
  // x: [rows, dim] -> y: [rows, dim]; (x - mean) / sqrt(var + eps) * gamma + beta,
  // biased variance. y may equal x.
  void (*layernorm)(const float* x, int rows, int dim, const float* gamma, const float* beta,
                    float eps, float* y);
  // x: [rows, cols] in place; row-wise softmax exp(x - max) / sum.
  void (*softmax)(float* x, int rows, int cols);

  // --- Attention -----------------------------------------------------------------------
  // Multi-head scaled-dot-product attention over T tokens. q, k, v: [T, heads*dim]
  // with row stride ld_qkv (so q/k/v may be column blocks of one packed projection);
  // out: [T, heads*dim] with row stride ld_out. Scale 1/sqrt(dim).
  void (*attention)(const float* q, const float* k, const float* v, int ld_qkv, int tokens,
                    int heads, int dim, float* out, int ld_out, Scratch* scratch);

  // --- Sine encodings --------------------------------------------------------------------
  // x: [n] -> y_cos: [n], y_sin: [n]; cos(x) and sin(x) for |x| <= 39000 (the range in
  // which Highway's Sin/Cos keep their documented 3 ULP; the DCC's bin encodings stay
  // below ~1e3). Single-threaded (the DCC calls it per person inside its own loop).
  // Outputs must not alias x or each other.
  void (*cos_sin)(const float* x, size_t n, float* y_cos, float* y_sin);
};

// The best compiled target for this CPU, chosen on the first call (thread-safe).
const Ops& Best();
// The naive reference twins: plain loops, double accumulation.
const Ops& Reference();
// Every compiled Highway target that this CPU supports (for tests and benchmarks), best
// first.
std::vector<const Ops*> AllSupported();
// The table of one compiled Highway target (a HWY_* target bit, e.g. HWY_TARGET inside a
// per-target test), or nullptr if that target is not compiled or this CPU lacks it.
const Ops* ForTarget(int64_t hwy_target);

// Test support: bit t (t < 64) is set once a parallel loop of a kernel has been handed to
// thread slot t of the kernels' pool (kernels/parallel.h; slot 0 is the caller) since the
// last ResetKernelThreadsSeen(). Lets tests prove that a kernel really asked for its team
// (whether a worker then ran a task depends on the scheduler; tests/kernels/parallel_test
// checks that workers do). Cheap (one relaxed atomic OR per slot per loop).
uint64_t KernelThreadsSeen();
void ResetKernelThreadsSeen();
// Called by the pool for each slot of a loop's team.
void NoteKernelThread(int thread_num);

}  // namespace rtmo::kernels

#endif  // RTMO_KERNELS_OPS_H_
