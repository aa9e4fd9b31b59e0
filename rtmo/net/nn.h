// Building blocks shared by the backbone, neck and head: an mmcv `ConvModule`
// (conv -> BatchNorm -> activation) with its BatchNorm folded into the convolution at load,
// a plain `nn.Conv2d` with bias, and the per-inference buffers the modules write into.
//
// BatchNorm folding (inference only; the running statistics are constants):
//   y = gamma * (conv(x) - mean) / sqrt(var + eps) + beta
//     = conv'(x) + b'   with  w' = w * gamma / sqrt(var + eps),  b' = beta - mean * gamma /
//     sqrt(var + eps)
// computed in double and rounded once to float32. Against PyTorch, which applies BN as a
// separate float32 pass, this changes each output by a few float32 ulps of its magnitude.
#ifndef RTMO_NN_H_
#define RTMO_NN_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "kernels/tensor.h"
#include "rtmo/io/weights.h"

namespace rtmo::nn {

using kernels::Act;
using kernels::AlignedBuffer;
using kernels::MapView;
using kernels::Ops;
using kernels::PackedConv;
using kernels::Scratch;

// A convolution with everything folded in, plus the activation it runs with.
struct Conv {
  PackedConv packed;
  Act act = Act::kNone;
  int in_c() const { return packed.shape.in_c; }
  int out_c() const { return packed.shape.out_c; }
};

// Geometry of one conv as the official module declares it.
struct ConvSpec {
  int in_c, out_c, k, stride = 1, groups = 1;
};

// Unpacked float32 weights of a conv (PyTorch layout [out_c, in_c/groups, k, k]) and bias.
// Used at load time to fold and merge before packing.
struct ConvWeights {
  ConvSpec spec;
  std::vector<float> w;
  std::vector<float> b;  // [out_c]
};

// mmcv ConvModule `prefix` = prefix.conv.weight (no bias) + prefix.bn.{weight,bias,
// running_mean,running_var}; BN folded with `eps` (the eps of the owning module's norm_cfg).
ConvWeights ReadConvModule(const Weights& weights, const std::string& prefix, const ConvSpec& spec,
                           float eps);
// nn.Conv2d `prefix` with bias: prefix.weight, prefix.bias.
ConvWeights ReadConv2d(const Weights& weights, const std::string& prefix, const ConvSpec& spec);
// Copies tensor `name` (float32, exactly `shape`, else rtmo::Error) into an aligned buffer
// owned by the module (64-byte aligned for the kernels; the mapping is 64-byte aligned too,
// but the module must not depend on the file staying open).
AlignedBuffer<float> CopyTensor(const Weights& weights, const std::string& name,
                                std::initializer_list<int64_t> shape);

// Packs for the chosen kernels; padding is k/2 as everywhere in RTMO.
Conv Pack(const Ops& ops, const ConvWeights& cw, Act act);

// Shorthand: ReadConvModule + Pack.
Conv LoadConvModule(const Weights& weights, const Ops& ops, const std::string& prefix,
                    const ConvSpec& spec, float eps, Act act);

// x: [in_c, h, w] -> y: [out_c, OutH(h), OutW(w)]; y = act(conv(x) + b) (+ residual).
// y may be a channel slice of a larger map (concat without a copy); it must not alias x.
void Run(const Ops& ops, const Conv& conv, const MapView& x, const MapView& y, Scratch* scratch,
         const float* residual = nullptr);

// Owns the feature maps of one inference context. Everything is allocated when the
// context is built; Forward passes only write into these buffers (no heap traffic).
class Buffers {
 public:
  MapView Map(int c, int h, int w);
  float* Floats(size_t n);
  size_t total_floats() const { return total_; }

 private:
  std::vector<AlignedBuffer<float>> store_;
  size_t total_ = 0;
};

}  // namespace rtmo::nn

#endif  // RTMO_NN_H_
