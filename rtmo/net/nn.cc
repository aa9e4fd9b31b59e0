#include "rtmo/net/nn.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "rtmo/error.h"
#include "rtmo/io/weights.h"

namespace rtmo::nn {
namespace {

// Shape contracts of the typed calls. A failure is a programming error in the module code
// (the weights were validated at load), reported with the call and both shapes.
void Check(bool ok, const char* call, const std::string& what) {
  if (!ok) throw Error(std::string("nn::") + call + ": " + what);
}
std::string Dims(int a, int b, int c) {
  return "[" + std::to_string(a) + ", " + std::to_string(b) + ", " + std::to_string(c) + "]";
}
std::string Dims(int a, int b) { return "[" + std::to_string(a) + ", " + std::to_string(b) + "]"; }

size_t Numel(const std::vector<int64_t>& shape) {
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

// The kernels' geometry of a module's convolution (padding k/2, as everywhere in RTMO).
kernels::ConvShape ShapeOf(const ConvSpec& c) {
  return kernels::ConvShape::Square(c.in_c, c.out_c, c.k, c.stride, c.groups);
}

}  // namespace

// ---- Sources -----------------------------------------------------------------------------------

const float* WeightsSource::Get(const std::string& name, const std::vector<int64_t>& shape) {
  const float* p = weights_.Require(name, shape);
  ++used_[name];
  return p;
}

void WeightsSource::CheckAllUsed() const {
  for (const TensorInfo& t : weights_.tensors()) {
    if (used_.find(t.name) == used_.end()) {
      throw Error(weights_.path() + ": tensor '" + t.name +
                  "' is not part of the model described by the file's config (" +
                  weights_.config().Summary() + ")");
    }
  }
}

const float* ShapeRecorder::Get(const std::string& name, const std::vector<int64_t>& shape) {
  entries_.push_back({name, shape});
  const size_t n = Numel(shape);
  if (zeros_.size() < n) zeros_.assign(n, 0.0f);
  return zeros_.data();
}

// ---- Loader
// --------------------------------------------------------------------------------------

template <typename T>
RawConv Loader<T>::ReadConvModule(const std::string& prefix, const ConvSpec& spec, double eps) {
  const int64_t co = spec.out_c, ci = spec.in_c / spec.groups, k = spec.k;
  const float* w = src_.Get(prefix + ".conv.weight", {co, ci, k, k});
  const float* gamma = src_.Get(prefix + ".bn.weight", {co});
  const float* beta = src_.Get(prefix + ".bn.bias", {co});
  const float* mean = src_.Get(prefix + ".bn.running_mean", {co});
  const float* var = src_.Get(prefix + ".bn.running_var", {co});
  RawConv raw{spec, {}, {}};
  if (declare_only()) return raw;
  const size_t per_out = static_cast<size_t>(ci * k * k);
  raw.w.resize(static_cast<size_t>(co) * per_out);
  raw.b.resize(static_cast<size_t>(co));
  for (int64_t o = 0; o < co; ++o) {
    // BatchNorm (eval) folded in double: PyTorch computes it as a separate pass, which
    // differs from the folded form by rounding only (a few ulps of the output in float32).
    const double s = static_cast<double>(gamma[o]) / std::sqrt(static_cast<double>(var[o]) + eps);
    for (size_t i = 0; i < per_out; ++i) raw.w[o * per_out + i] = w[o * per_out + i] * s;
    raw.b[o] = beta[o] - mean[o] * s;
  }
  return raw;
}

template <typename T>
RawConv Loader<T>::ReadConv2d(const std::string& prefix, const ConvSpec& spec) {
  const int64_t co = spec.out_c, ci = spec.in_c / spec.groups, k = spec.k;
  const float* w = src_.Get(prefix + ".weight", {co, ci, k, k});
  const float* b = src_.Get(prefix + ".bias", {co});
  RawConv raw{spec, {}, {}};
  if (declare_only()) return raw;
  raw.w.assign(w, w + co * ci * k * k);
  raw.b.assign(b, b + co);
  return raw;
}

template <>
ConvParams<float> Loader<float>::Pack(const RawConv& raw, Act act) {
  ConvParams<float> p;
  p.act = act;
  kernels::ConvShape& s = p.packed.shape;
  s = ShapeOf(raw.spec);
  if (declare_only()) return p;
  // Rounded once from the double-precision folded/fused values.
  const std::vector<float> w(raw.w.begin(), raw.w.end()), b(raw.b.begin(), raw.b.end());
  ops_->pack_conv(s, w.data(), b.data(), &p.packed);
  return p;
}

template <typename T>
LinearParams<T> Loader<T>::Linear(const std::string& prefix, int in, int out, bool bias) {
  LinearParams<T> p;
  p.in = in;
  p.out = out;
  const float* w = src_.Get(prefix + ".weight", {out, in});
  const float* b = bias ? src_.Get(prefix + ".bias", {out}) : nullptr;
  if (declare_only()) return p;
  p.wt.Resize(static_cast<size_t>(in) * out);
  for (int o = 0; o < out; ++o) {
    for (int i = 0; i < in; ++i)
      p.wt[static_cast<size_t>(i) * out + o] = w[static_cast<size_t>(o) * in + i];
  }
  if (bias) {
    p.b.Resize(out);
    for (int o = 0; o < out; ++o) p.b[o] = b[o];
  }
  return p;
}

template <typename T>
LayerNormParams<T> Loader<T>::LayerNorm(const std::string& prefix, int dim, double eps) {
  LayerNormParams<T> p;
  p.gamma = Tensor(prefix + ".weight", {dim});
  p.beta = Tensor(prefix + ".bias", {dim});
  p.eps = eps;
  return p;
}

template <typename T>
AlignedBuffer<T> Loader<T>::Tensor(const std::string& name, const std::vector<int64_t>& shape) {
  const float* p = src_.Get(name, shape);
  if (declare_only()) return {};
  const size_t n = Numel(shape);
  AlignedBuffer<T> b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<T>(p[i]);  // float -> double is exact
  return b;
}

template <>
ConvParams<double> Loader<double>::Pack(const RawConv& raw, Act act) {
  ConvParams<double> p;
  p.act = act;
  const kernels::ConvShape s = ShapeOf(raw.spec);
  p.conv.shape = s;
  if (declare_only()) return p;
  p.conv = kernels::f64::MakeConv(s, raw.w.data(), raw.b.data());
  return p;
}

template class Loader<float>;
template class Loader<double>;

template <typename T>
LinearParams<T> LinearFromRows(const float* w, const float* b, int r0, int n, int in,
                               bool declare_only) {
  LinearParams<T> p;
  p.in = in;
  p.out = n;
  if (declare_only) return p;
  p.wt.Resize(static_cast<size_t>(in) * n);
  p.b.Resize(n);
  for (int o = 0; o < n; ++o) {
    const float* row = w + static_cast<size_t>(r0 + o) * in;
    for (int i = 0; i < in; ++i) p.wt[static_cast<size_t>(i) * n + o] = row[i];
    p.b[o] = b[r0 + o];
  }
  return p;
}
template LinearParams<float> LinearFromRows<float>(const float*, const float*, int, int, int, bool);
template LinearParams<double> LinearFromRows<double>(const float*, const float*, int, int, int,
                                                     bool);

// ---- Shape contracts shared by the float32 and float64 operations ---------------------------

namespace {

// x [in_c, H, W] -> y [out_c, OutH, OutW] of the conv `s`.
template <typename T>
void CheckConv(const kernels::ConvShape& s, Map<const T> x, Map<T> y) {
  Check(x.c == s.in_c && y.c == s.out_c && y.h == s.OutH(x.h) && y.w == s.OutW(x.w), "Conv",
        "x " + Dims(x.c, x.h, x.w) + " -> y " + Dims(y.c, y.h, y.w) + " does not fit a " +
            std::to_string(s.kh) + "x" + std::to_string(s.kw) + "/" + std::to_string(s.stride) +
            " conv " + std::to_string(s.in_c) + " -> " + std::to_string(s.out_c));
}

// x [rows, in] -> y [rows, out].
template <typename T>
void CheckLinear(const LinearParams<T>& p, Mat<const T> x, Mat<T> y) {
  Check(x.cols == p.in && y.cols == p.out && y.rows == x.rows, "Linear",
        "x " + Dims(x.rows, x.cols) + " -> y " + Dims(y.rows, y.cols) + " for a Linear " +
            std::to_string(p.in) + " -> " + std::to_string(p.out));
}

// a [M, K] x b [K, N] (or b^T, b [N, K]) -> c [M, N].
template <typename T>
void CheckMatMul(Mat<const T> a, Mat<const T> b, bool trans_b, Mat<T> c) {
  const int k_b = trans_b ? b.cols : b.rows, n_b = trans_b ? b.rows : b.cols;
  Check(a.cols == k_b && c.rows == a.rows && c.cols == n_b, "MatMul",
        "a " + Dims(a.rows, a.cols) + (trans_b ? " x b^T " : " x b ") + Dims(b.rows, b.cols) +
            " -> c " + Dims(c.rows, c.cols));
}

// x [C, H, W] -> y [C, H, W], odd k.
template <typename T>
void CheckMaxPool(Map<const T> x, int k, Map<T> y) {
  Check(x.c == y.c && x.h == y.h && x.w == y.w && k % 2 == 1, "MaxPool",
        "x " + Dims(x.c, x.h, x.w) + " -> y " + Dims(y.c, y.h, y.w) + ", k " + std::to_string(k));
}

// x [C, H, W] -> y [C, 2H, 2W].
template <typename T>
void CheckUpsample2x(Map<const T> x, Map<T> y) {
  Check(x.c == y.c && 2 * x.h == y.h && 2 * x.w == y.w, "Upsample2x",
        "x " + Dims(x.c, x.h, x.w) + " -> y " + Dims(y.c, y.h, y.w));
}

}  // namespace

// ---- Operations: float32 on the Highway kernel table
// ---------------------------------------------

template <>
void Conv(const Env<float>& env, const ConvParams<float>& p, Map<const float> x, Map<float> y,
          const float* residual) {
  CheckConv(p.shape(), x, y);
  env.ops->conv2d(p.packed, x.data, x.h, x.w, p.act, residual, y.data, env.scratch);
}

template <>
void Linear(const Env<float>& env, const LinearParams<float>& p, Mat<const float> x, Mat<float> y,
            Act act) {
  CheckLinear(p, x, y);
  env.ops->gemm(x.rows, p.out, p.in, x.data, x.ld, p.wt.data(), p.out, /*trans_b=*/false,
                p.b.size() ? p.b.data() : nullptr, act, y.data, y.ld, env.scratch);
}

template <>
void MatMul(const Env<float>& env, Mat<const float> a, Mat<const float> b, bool trans_b,
            Mat<float> c) {
  CheckMatMul(a, b, trans_b, c);
  env.ops->gemm(a.rows, c.cols, a.cols, a.data, a.ld, b.data, b.ld, trans_b, nullptr, Act::kNone,
                c.data, c.ld, env.scratch);
}

template <>
void LayerNorm(const Env<float>& env, const LayerNormParams<float>& p, Mat<const float> x,
               Mat<float> y) {
  Check(x.rows == y.rows && x.cols == y.cols && x.cols == static_cast<int>(p.gamma.size()) &&
            x.ld == x.cols && y.ld == y.cols,
        "LayerNorm",
        "x " + Dims(x.rows, x.cols) + " -> y " + Dims(y.rows, y.cols) + " (dense) for dim " +
            std::to_string(p.gamma.size()));
  env.ops->layernorm(x.data, x.rows, x.cols, p.gamma.data(), p.beta.data(),
                     static_cast<float>(p.eps), y.data);
}

template <>
void Attention(const Env<float>& env, Mat<const float> q, Mat<const float> k, Mat<const float> v,
               int heads, Mat<float> out) {
  Check(q.rows == k.rows && q.rows == v.rows && q.rows == out.rows && q.cols == k.cols &&
            q.cols == v.cols && q.cols == out.cols && q.cols % heads == 0 && q.ld == k.ld &&
            q.ld == v.ld,
        "Attention",
        "q " + Dims(q.rows, q.cols) + ", k " + Dims(k.rows, k.cols) + ", v " +
            Dims(v.rows, v.cols) + " -> out " + Dims(out.rows, out.cols) + ", " +
            std::to_string(heads) + " heads (q/k/v must share their row stride)");
  env.ops->attention(q.data, k.data, v.data, q.ld, q.rows, heads, q.cols / heads, out.data, out.ld,
                     env.scratch);
}

template <>
void MaxPool(const Env<float>& env, Map<const float> x, int k, Map<float> y) {
  CheckMaxPool(x, k, y);
  env.ops->maxpool_same(x.data, x.c, x.h, x.w, k, y.data);
}

template <>
void Upsample2x(const Env<float>& env, Map<const float> x, Map<float> y) {
  CheckUpsample2x(x, y);
  env.ops->upsample2x(x.data, x.c, x.h, x.w, y.data);
}

template <>
void Add(const Env<float>& env, const float* a, const float* b, size_t n, float* y) {
  env.ops->add(a, b, n, y);
}
template <>
void Gelu(const Env<float>& env, const float* x, size_t n, float* y) {
  env.ops->gelu(x, n, y);
}
template <>
void Relu2(const Env<float>& env, const float* x, size_t n, float* y) {
  env.ops->relu2(x, n, y);
}

// ---- Operations: float64 on the Eigen kernels (kernels/f64), the verification path ------------
// The same shape contracts as the float32 calls above.

template <>
void Conv(const Env<double>&, const ConvParams<double>& p, Map<const double> x, Map<double> y,
          const double* residual) {
  CheckConv(p.shape(), x, y);
  kernels::f64::Conv2d(p.conv, x, y, p.act, residual);
}

template <>
void Linear(const Env<double>&, const LinearParams<double>& p, Mat<const double> x, Mat<double> y,
            Act act) {
  CheckLinear(p, x, y);
  kernels::f64::Gemm(x, Mat<const double>{p.wt.data(), p.in, p.out, p.out}, /*trans_b=*/false, y,
                     p.b.size() ? p.b.data() : nullptr, act);
}

template <>
void MatMul(const Env<double>&, Mat<const double> a, Mat<const double> b, bool trans_b,
            Mat<double> c) {
  CheckMatMul(a, b, trans_b, c);
  kernels::f64::Gemm(a, b, trans_b, c);
}

template <>
void LayerNorm(const Env<double>&, const LayerNormParams<double>& p, Mat<const double> x,
               Mat<double> y) {
  Check(x.rows == y.rows && x.cols == y.cols && x.cols == static_cast<int>(p.gamma.size()),
        "LayerNorm",
        "x " + Dims(x.rows, x.cols) + " -> y " + Dims(y.rows, y.cols) + " for dim " +
            std::to_string(p.gamma.size()));
  kernels::f64::LayerNorm(x, p.gamma.data(), p.beta.data(), p.eps, y);
}

template <>
void Attention(const Env<double>&, Mat<const double> q, Mat<const double> k, Mat<const double> v,
               int heads, Mat<double> out) {
  Check(q.rows == k.rows && q.rows == v.rows && q.rows == out.rows && q.cols == k.cols &&
            q.cols == v.cols && q.cols == out.cols && q.cols % heads == 0,
        "Attention",
        "q " + Dims(q.rows, q.cols) + ", k " + Dims(k.rows, k.cols) + ", v " +
            Dims(v.rows, v.cols) + " -> out " + Dims(out.rows, out.cols) + ", " +
            std::to_string(heads) + " heads");
  kernels::f64::Attention(q, k, v, heads, out);
}

template <>
void MaxPool(const Env<double>&, Map<const double> x, int k, Map<double> y) {
  CheckMaxPool(x, k, y);
  kernels::f64::MaxPoolSame(x, k, y);
}

template <>
void Upsample2x(const Env<double>&, Map<const double> x, Map<double> y) {
  CheckUpsample2x(x, y);
  kernels::f64::Upsample2x(x, y);
}

template <>
void Add(const Env<double>&, const double* a, const double* b, size_t n, double* y) {
  kernels::f64::Add(a, b, n, y);
}
template <>
void Gelu(const Env<double>&, const double* x, size_t n, double* y) {
  kernels::f64::Gelu(x, n, y);
}
template <>
void Relu2(const Env<double>&, const double* x, size_t n, double* y) {
  kernels::f64::Relu2(x, n, y);
}

template <>
float Sigmoid(float x) {
  return 1.0f / (1.0f + std::exp(-x));
}
template <>
double Sigmoid(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}

// ---- Buffers
// --------------------------------------------------------------------------------------

template <typename T>
T* Buffers<T>::Fresh(size_t n) {
  store_.emplace_back(n);
  store_.back().Zero();
  total_ += n;
  return store_.back().data();
}

template <typename T>
T* Buffers<T>::New(size_t n) {
  // Recycled spans hand out whole cache lines, so every map stays 64-byte aligned like a
  // fresh AlignedBuffer.
  const size_t take = (n + kLine - 1) / kLine * kLine;
  for (Span& s : free_) {
    if (s.n >= take) {
      T* p = s.data;
      s.data += take;
      s.n -= take;
      return p;
    }
  }
  return Fresh(n);
}

template <typename T>
void Buffers<T>::Recycle(const std::vector<const T*>& keep) {
  // Buffers recycled before are not handed out twice.
  for (size_t i = recycled_; i < store_.size(); ++i) {
    AlignedBuffer<T>& b = store_[i];
    if (std::find(keep.begin(), keep.end(), b.data()) == keep.end() &&
        std::find(constants_.begin(), constants_.end(), b.data()) == constants_.end()) {
      // Whole cache lines only (AlignedBuffer rounds its allocation up to them).
      free_.push_back({b.data(), b.size() / kLine * kLine});
    }
  }
  recycled_ = store_.size();
}

template <typename T>
Map<T> Buffers<T>::NewMap(int c, int h, int w) {
  return Map<T>{New(static_cast<size_t>(c) * h * w), c, h, w};
}

template <typename T>
Mat<T> Buffers<T>::NewMat(int rows, int cols) {
  return Mat<T>{New(static_cast<size_t>(rows) * cols), rows, cols, cols};
}

template <typename T>
Mat<T> Buffers<T>::NewConstantMat(int rows, int cols) {
  T* p = Fresh(static_cast<size_t>(rows) * cols);
  constants_.push_back(p);
  return Mat<T>{p, rows, cols, cols};
}

template class Buffers<float>;
template class Buffers<double>;

}  // namespace rtmo::nn
