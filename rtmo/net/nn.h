// The layer vocabulary the RTMO modules are written in: parameter types (a convolution, a
// Linear, a LayerNorm), how they are read from the checkpoint, and one typed call per
// operation, the way PyTorch code reads:
//
//   PyTorch                              here
//   y = F.silu(self.conv(x))             nn::Conv(env, p.conv, x, y)        (act in p.conv)
//   y = self.uv(x)                       nn::Linear(env, p.uv, x, y)
//   y = q @ k.transpose(-1, -2)          nn::MatMul(env, q, k, /*trans_b=*/true, y)
//   y = self.norm(x)                     nn::LayerNorm(env, p.norm, x, y)
//
// Every module is a template over the element type T: float runs on the Highway kernel
// table chosen once per process (kernels/ops.h); double runs on the independent Eigen
// kernels of the float64 verification path (kernels/f64/f64.h). The module code is the
// same for both, so the float64 comparison with PyTorch checks every line of it exactly.
//
// Shapes: maps are CHW (kernels::Map), matrices row-major with a row stride
// (kernels::Mat). Every call checks its operands' shapes and throws rtmo::Error naming the
// call on a mismatch (a few integer compares per call: cheap next to the arithmetic).
#ifndef RTMO_NET_NN_H_
#define RTMO_NET_NN_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/f64/f64.h"
#include "kernels/ops.h"
#include "kernels/tensor.h"
#include "rtmo/io/weights.h"

namespace rtmo {

// Views of the module code: maps CHW, matrices row-major (kernels/tensor.h). Functions take
// their inputs as MapIn<T> / MatIn<T> (read-only; a non-deduced context, so a Map<T> can be
// passed where T is deduced from the other arguments).
template <typename T>
using Map = kernels::Map<T>;
template <typename T>
using Mat = kernels::Mat<T>;
template <typename T>
using MapIn = std::type_identity_t<kernels::Map<const T>>;
template <typename T>
using MatIn = std::type_identity_t<kernels::Mat<const T>>;

}  // namespace rtmo

namespace rtmo::nn {

using kernels::Act;
using kernels::AlignedBuffer;

// x: [rows, cols] -> y: [cols, rows] (plain loops: used at load time and on the encoder's
// token layout, never in a hot loop).
template <typename T>
void Transpose(const T* x, int rows, int cols, T* y) {
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c)
      y[static_cast<size_t>(c) * rows + r] = x[static_cast<size_t>(r) * cols + c];
  }
}

// What every layer call needs besides its operands. On float: the kernel table chosen
// once per process and reusable packing memory (one per concurrent inference). On double
// nothing: the Eigen kernels keep their scratch on the stack/heap per call.
template <typename T>
struct Env {
  const kernels::Ops* ops = nullptr;
  kernels::Scratch* scratch = nullptr;
};

// ---- Parameters ----------------------------------------------------------------------------

// A convolution with its BatchNorm (if any) folded in and its activation, ready to run.
template <typename T>
struct ConvParams;
template <>
struct ConvParams<float> {
  kernels::PackedConv packed;  // laid out for the chosen kernel table
  Act act = Act::kNone;
  const kernels::ConvShape& shape() const { return packed.shape; }
};

template <>
struct ConvParams<double> {
  kernels::f64::Conv conv;  // PyTorch layout, folded in double, never rounded
  Act act = Act::kNone;
  const kernels::ConvShape& shape() const { return conv.shape; }
};

// torch.nn.Linear: y = x W^T + b. W is stored transposed, [in, out], so that both kernel
// families read it row by row.
template <typename T>
struct LinearParams {
  int in = 0, out = 0;
  AlignedBuffer<T> wt;  // [in, out]
  AlignedBuffer<T> b;   // [out], or empty when the layer has no bias
};

// torch.nn.LayerNorm over the last dimension.
template <typename T>
struct LayerNormParams {
  AlignedBuffer<T> gamma, beta;  // [dim]
  double eps = 1e-5;
};

// ---- Reading parameters from a checkpoint ---------------------------------------------------

// Where a module's Load reads its tensors: the weights file, or a recorder that only lists
// the names and shapes (the layout the converter and the validator check against). The
// module Load functions are therefore the one declaration of every tensor name and shape.
class TensorSource {
 public:
  virtual ~TensorSource() = default;
  // The float32 values of `name`, which must have exactly `shape`; else rtmo::Error naming
  // the tensor, the expected and the found shape. Never nullptr.
  virtual const float* Get(const std::string& name, const std::vector<int64_t>& shape) = 0;
  // True when only names and shapes are wanted: Load functions skip the arithmetic.
  virtual bool declare_only() const { return false; }
};

// Reads from a validated .rtmo file and remembers what was read, so that the caller can
// refuse a file holding tensors no module asked for.
class WeightsSource : public TensorSource {
 public:
  explicit WeightsSource(const Weights& weights) : weights_(weights) {}
  const float* Get(const std::string& name, const std::vector<int64_t>& shape) override;
  // Throws rtmo::Error naming the first tensor of the file that no Get asked for.
  void CheckAllUsed() const;

 private:
  const Weights& weights_;
  std::map<std::string, int, std::less<>> used_;
};

// Lists (name, shape) in the order the Load functions ask for them (= mmpose's state_dict
// order) and hands out zeros.
class ShapeRecorder : public TensorSource {
 public:
  struct Entry {
    std::string name;
    std::vector<int64_t> shape;
  };
  const float* Get(const std::string& name, const std::vector<int64_t>& shape) override;
  bool declare_only() const override { return true; }
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  std::vector<Entry> entries_;
  std::vector<float> zeros_;
};

// Geometry of one convolution as the official module declares it (padding k/2, as
// everywhere in RTMO).
struct ConvSpec {
  int in_c, out_c, k, stride = 1, groups = 1;
};

// A convolution's weights in PyTorch layout [out_c, in_c/groups, k, k] and bias [out_c],
// in double: BatchNorm folding and RepVGG fusion happen here, and the result is rounded
// once to the network's element type when it is packed.
struct RawConv {
  ConvSpec spec;
  std::vector<double> w, b;
};

template <typename T>
class Loader {
 public:
  Loader(TensorSource& source, const kernels::Ops* ops) : src_(source), ops_(ops) {}
  bool declare_only() const { return src_.declare_only(); }

  // mmcv ConvModule at `prefix`: prefix.conv.weight (no bias) + prefix.bn.{weight, bias,
  // running_mean, running_var}, BN folded with `eps` (the owning module's norm_cfg):
  //   w' = w * gamma / sqrt(var + eps),  b' = beta - mean * gamma / sqrt(var + eps).
  RawConv ReadConvModule(const std::string& prefix, const ConvSpec& spec, double eps);
  // torch.nn.Conv2d with bias at `prefix`: prefix.weight, prefix.bias.
  RawConv ReadConv2d(const std::string& prefix, const ConvSpec& spec);
  ConvParams<T> Pack(const RawConv& raw, Act act);
  ConvParams<T> ConvModule(const std::string& prefix, const ConvSpec& spec, double eps, Act act) {
    return Pack(ReadConvModule(prefix, spec, eps), act);
  }

  // torch.nn.Linear at `prefix`: prefix.weight [out, in] (+ prefix.bias [out]).
  LinearParams<T> Linear(const std::string& prefix, int in, int out, bool bias = true);
  // torch.nn.LayerNorm(dim) at `prefix`.
  LayerNormParams<T> LayerNorm(const std::string& prefix, int dim, double eps);
  // A plain tensor (a buffer or parameter used as is), widened to T.
  AlignedBuffer<T> Tensor(const std::string& name, const std::vector<int64_t>& shape);
  // The raw float32 values (for parameters that need arithmetic before use).
  const float* Raw(const std::string& name, const std::vector<int64_t>& shape) {
    return src_.Get(name, shape);
  }

 private:
  TensorSource& src_;
  const kernels::Ops* ops_;  // float: packs convolutions for this table
};

// rows [r0, r0 + n) of a Linear weight w: [*, in] (and bias b: [*]) as a Linear in -> n:
// for packed projections such as nn.MultiheadAttention's in_proj_weight (q, k, v rows).
template <typename T>
LinearParams<T> LinearFromRows(const float* w, const float* b, int r0, int n, int in,
                               bool declare_only);

// ---- Operations ------------------------------------------------------------------------------

// x: [in_c, h, w] -> y: [out_c, OutH(h), OutW(w)];  y = act(conv(x) + b) (+ residual, added
// after the activation, shaped like y). y may be a channel slice of a larger map (concat
// without a copy); it must not alias x.
template <typename T>
void Conv(const Env<T>& env, const ConvParams<T>& p, MapIn<T> x, Map<T> y,
          const T* residual = nullptr);

// x: [rows, in] -> y: [rows, out];  y = act(x W^T + b).
template <typename T>
void Linear(const Env<T>& env, const LinearParams<T>& p, MatIn<T> x, Mat<T> y,
            Act act = Act::kNone);

// a: [M, K], b: [K, N] (or [N, K] with trans_b) -> c: [M, N];  c = a op(b).
template <typename T>
void MatMul(const Env<T>& env, MatIn<T> a, MatIn<T> b, bool trans_b, Mat<T> c);

// x: [rows, dim] -> y: [rows, dim] (y may equal x).
template <typename T>
void LayerNorm(const Env<T>& env, const LayerNormParams<T>& p, MatIn<T> x, Mat<T> y);

// Multi-head scaled dot-product attention (torch.nn.MultiheadAttention's core, no mask):
// q, k, v: [T, heads*dim] (may be column blocks of one matrix) -> out: [T, heads*dim].
template <typename T>
void Attention(const Env<T>& env, MatIn<T> q, MatIn<T> k, MatIn<T> v, int heads, Mat<T> out);

// x: [c, h, w] -> y: [c, h, w]: max over k x k, stride 1, padding k/2 that never wins.
template <typename T>
void MaxPool(const Env<T>& env, MapIn<T> x, int k, Map<T> y);

// x: [c, h, w] -> y: [c, 2h, 2w], nearest neighbour.
template <typename T>
void Upsample2x(const Env<T>& env, MapIn<T> x, Map<T> y);

// Element-wise on n values (y may equal x).
template <typename T>
void Add(const Env<T>& env, const T* a, const T* b, size_t n, T* y);
template <typename T>
void Gelu(const Env<T>& env, const T* x, size_t n, T* y);  // exact, erf form
template <typename T>
void Relu2(const Env<T>& env, const T* x, size_t n, T* y);  // max(x, 0)^2

// Scalar maths shared by the modules, in the precision PyTorch uses for T.
template <typename T>
T Sigmoid(T x);

// ---- Memory of one inference ------------------------------------------------------------------

// Owns the feature maps of one inference context. Everything is allocated when the context
// is built; the forward pass only writes into these buffers (no heap traffic).
template <typename T>
class Buffers {
 public:
  Map<T> NewMap(int c, int h, int w);
  Mat<T> NewMat(int rows, int cols);
  T* New(size_t n);
  // For values written once when the context is built and read on every pass (the
  // encoder's positional encoding): fresh memory, never recycled.
  Mat<T> NewConstantMat(int rows, int cols);
  // Floats allocated from the heap (recycled memory not counted again).
  size_t total() const { return total_; }

  // A phase boundary of the forward pass: the memory of every buffer allocated so far,
  // except those starting at a pointer in `keep`, is handed to the maps allocated from now
  // on (first fit, in allocation order; heap only when nothing fits). The caller vouches
  // that no map allocated before this call, other than the kept ones, is read or written
  // once any map allocated after it is first written, and that the forward pass writes
  // every map before reading it (recycled memory holds the earlier phase's values).
  // The observer's views are valid only during its call (rtmo.h), so it is not a reader.
  void Recycle(const std::vector<const T*>& keep);

 private:
  static constexpr size_t kLine = 64 / sizeof(T);  // elements per cache line
  struct Span {
    T* data;
    size_t n;
  };
  T* Fresh(size_t n);  // a new zeroed heap buffer
  std::vector<AlignedBuffer<T>> store_;
  std::vector<Span> free_;  // recycled memory not yet handed out
  size_t recycled_ = 0;     // store_[0, recycled_) has been recycled
  std::vector<const T*> constants_;
  size_t total_ = 0;
};

// A vector that only grows (per-person buffers sized by the largest call so far).
template <typename T>
T* Grow(std::vector<T>* v, size_t n) {
  if (v->size() < n) v->resize(n);
  return v->data();
}

}  // namespace rtmo::nn

#endif  // RTMO_NET_NN_H_
