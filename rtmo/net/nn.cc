#include "rtmo/net/nn.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

namespace rtmo::nn {

namespace {

std::vector<float> Copy(const float* p, size_t n) { return std::vector<float>(p, p + n); }

}  // namespace

ConvWeights ReadConvModule(const Weights& weights, const std::string& prefix, const ConvSpec& spec,
                           float eps) {
  const int64_t co = spec.out_c, ci = spec.in_c / spec.groups, k = spec.k;
  const float* w = weights.Require(prefix + ".conv.weight", {co, ci, k, k});
  const float* gamma = weights.Require(prefix + ".bn.weight", {co});
  const float* beta = weights.Require(prefix + ".bn.bias", {co});
  const float* mean = weights.Require(prefix + ".bn.running_mean", {co});
  const float* var = weights.Require(prefix + ".bn.running_var", {co});
  ConvWeights cw{spec, Copy(w, static_cast<size_t>(co * ci * k * k)), std::vector<float>(co)};
  const size_t per_out = static_cast<size_t>(ci * k * k);
  for (int64_t o = 0; o < co; ++o) {
    // Folded in double, rounded once (see nn.h).
    const double s = static_cast<double>(gamma[o]) / std::sqrt(static_cast<double>(var[o]) + eps);
    for (size_t i = 0; i < per_out; ++i) {
      float& x = cw.w[o * per_out + i];
      x = static_cast<float>(x * s);
    }
    cw.b[o] = static_cast<float>(beta[o] - mean[o] * s);
  }
  return cw;
}

ConvWeights ReadConv2d(const Weights& weights, const std::string& prefix, const ConvSpec& spec) {
  const int64_t co = spec.out_c, ci = spec.in_c / spec.groups, k = spec.k;
  const float* w = weights.Require(prefix + ".weight", {co, ci, k, k});
  const float* b = weights.Require(prefix + ".bias", {co});
  return ConvWeights{spec, Copy(w, static_cast<size_t>(co * ci * k * k)),
                     Copy(b, static_cast<size_t>(co))};
}

Conv Pack(const Ops& ops, const ConvWeights& cw, Act act) {
  kernels::ConvShape s;
  s.in_c = cw.spec.in_c;
  s.out_c = cw.spec.out_c;
  s.kh = s.kw = cw.spec.k;
  s.stride = cw.spec.stride;
  s.pad = cw.spec.k / 2;
  s.groups = cw.spec.groups;
  Conv c;
  c.act = act;
  ops.pack_conv(s, cw.w.data(), cw.b.data(), &c.packed);
  return c;
}

Conv LoadConvModule(const Weights& weights, const Ops& ops, const std::string& prefix,
                    const ConvSpec& spec, float eps, Act act) {
  return Pack(ops, ReadConvModule(weights, prefix, spec, eps), act);
}

void Run(const Ops& ops, const Conv& conv, const MapView& x, const MapView& y, Scratch* scratch,
         const float* residual) {
  // Shape contract (checked in debug builds by the kernels; here for clarity).
  const auto& s = conv.packed.shape;
  (void)s;
#ifndef NDEBUG
  if (x.c != s.in_c || y.c != s.out_c || y.h != s.OutH(x.h) || y.w != s.OutW(x.w)) {
    std::abort();
  }
#endif
  ops.conv2d(conv.packed, x.data, x.h, x.w, conv.act, residual, y.data, scratch);
}

MapView Buffers::Map(int c, int h, int w) {
  return MapView{Floats(static_cast<size_t>(c) * h * w), c, h, w};
}

float* Buffers::Floats(size_t n) {
  store_.emplace_back(n);
  store_.back().Zero();
  total_ += n;
  return store_.back().data();
}

AlignedBuffer<float> CopyTensor(const Weights& weights, const std::string& name,
                                std::initializer_list<int64_t> shape) {
  const float* p = weights.Require(name, shape);
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  AlignedBuffer<float> b(n);
  std::memcpy(b.data(), p, n * sizeof(float));
  return b;
}

}  // namespace rtmo::nn
