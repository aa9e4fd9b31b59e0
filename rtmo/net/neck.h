// HybridEncoder neck (mmpose/models/necks/hybrid_encoder.py, from RT-DETR), as RTMO uses it:
//   input_proj[0..2]  1x1 conv + BN (eps 1e-5), no activation, on backbone stages 2/3/4
//   encoder           one post-norm transformer layer on the stride-32 level, with a 2-D
//                     sine positional encoding added to queries and keys only
//   FPN (top-down)    lateral 1x1 conv, nearest x2, concat [up, skip], CSPRepLayer
//   PAN (bottom-up)   3x3 stride-2 conv, concat [down, lateral], CSPRepLayer
//   projector         ChannelMapper: 1x1 conv + BN, no activation, on strides 16 and 32
// Every concatenation is free: producers write straight into the channel slices of the
// concat buffers (CHW layout, see kernels/tensor.h).
#ifndef RTMO_NECK_H_
#define RTMO_NECK_H_

#include <array>
#include <optional>
#include <vector>

#include "rtmo/io/config.h"
#include "rtmo/net/nn.h"
#include "rtmo/io/weights.h"

namespace rtmo {

// reparam_layers.py:15-113 with without_branch_norm=True: SiLU(BN(conv3x3 x) + BN(conv1x1 x)).
// Loaded in deploy form: both BNs folded and the 1x1 kernel added to the centre tap of the
// 3x3 kernel (reparam_layers.py:183-217), so one 3x3 conv with bias computes the block.
// Numeric effect: PyTorch rounds the two branch outputs separately and then adds them; the
// fused conv accumulates the 1x1 term inside the same dot product. The result differs by
// float32 rounding of the pre-activation (a few ulps of its magnitude), not systematically.
struct RepVGGBlock {
  nn::Conv fused;
};

// hybrid_encoder.py:17-83: conv3(bottlenecks(conv1(x)) + conv2(x)) -- a sum, not a concat.
// conv3 is nn.Identity when hidden == out (rtmo-l).
struct CSPRepLayer {
  nn::Conv conv1, conv2;
  std::vector<RepVGGBlock> bottlenecks;
  std::optional<nn::Conv> conv3;
};

// mmpose DetrTransformerEncoderLayer (transformer.py:826-902), post-norm:
//   q = LN0(x + MHA(x + pe, x + pe, x)),  out = LN1(q + FFN(q)),  FFN = Linear-GELU-Linear.
struct EncoderLayer {
  int heads = 8;
  nn::AlignedBuffer<float> in_proj_w, in_proj_b;    // [3C, C], [3C] (q, k, v rows)
  nn::AlignedBuffer<float> out_proj_w, out_proj_b;  // [C, C], [C]
  nn::AlignedBuffer<float> ffn1_w, ffn1_b;          // [F, C], [F]
  nn::AlignedBuffer<float> ffn2_w, ffn2_b;          // [C, F], [C]
  nn::AlignedBuffer<float> ln0_g, ln0_b, ln1_g, ln1_b;
  float ln_eps = 1e-5f;
};

struct Neck {
  std::array<nn::Conv, 3> input_proj;
  std::vector<EncoderLayer> encoder;  // num_encoder_layers (1)
  nn::AlignedBuffer<float> pos_enc;   // [h32*w32, C], precomputed for the input size
  std::array<nn::Conv, 2> lateral_convs, downsample_convs;
  std::array<CSPRepLayer, 2> fpn_blocks, pan_blocks;
  std::array<nn::Conv, 2> projector;
};

Neck LoadNeck(const Weights& weights, const ModelConfig& cfg, const kernels::Ops& ops);

struct NeckMaps {
  std::array<nn::MapView, 3> input_proj;  // [C, h_i, w_i] (slices of the concat buffers)
  // Encoder working memory (token-major [T, *]) and its output as a map.
  nn::MapView encoder;  // [C, h32, w32]
  float *tokens, *tokens_pe, *qkv, *attn, *x1, *ffn_hidden, *x2;
  std::array<nn::MapView, 2> fpn_cat, pan_cat;  // [2C, h, w]: levels stride 16, 8 / 16, 32
  std::array<nn::MapView, 2> fpn_out, pan_out;  // fpn_blocks.{0,1}: strides 16, 8; pan: 16, 32
  std::array<nn::MapView, 2> out;               // projector outputs: strides 16, 32
  // CSPRepLayer scratch per level (strides 8, 16, 32): four [hidden, h, w] buffers.
  std::array<std::array<nn::MapView, 4>, 3> rep_tmp;
};
NeckMaps AllocNeck(const ModelConfig& cfg, nn::Buffers* buffers);

// stage2/3/4: [C_i, H/8..32, W/8..32] -> m.out[0]: [P, H/16, W/16], m.out[1]: [P, H/32, W/32].
void NeckForward(const kernels::Ops& ops, const Neck& net, const nn::MapView& stage2,
                 const nn::MapView& stage3, const nn::MapView& stage4, NeckMaps& m,
                 kernels::Scratch* scratch);

}  // namespace rtmo

#endif  // RTMO_NECK_H_
