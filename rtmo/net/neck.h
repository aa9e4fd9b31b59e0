// HybridEncoder neck (mmpose/models/necks/hybrid_encoder.py, from RT-DETR), as RTMO uses it:
//   input_proj[0..2]  1x1 conv + BN (eps 1e-5), no activation, on backbone stages 2/3/4
//   encoder           one post-norm transformer layer on the stride-32 level, with a 2-D
//                     sine positional encoding added to queries and keys only
//   FPN (top-down)    lateral 1x1 conv, nearest x2, concat [up, skip], CSPRepLayer
//   PAN (bottom-up)   3x3 stride-2 conv, concat [down, lateral], CSPRepLayer
//   projector         ChannelMapper: 1x1 conv + BN, no activation, on strides 16 and 32
// Every concatenation is free: producers write straight into the channel slices of the
// concat buffers (CHW layout, see kernels/tensor.h).
#ifndef RTMO_NET_NECK_H_
#define RTMO_NET_NECK_H_

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "rtmo/io/config.h"
#include "rtmo/net/nn.h"

namespace rtmo {

// ---- RepVGGBlock (mmpose/models/utils/reparam_layers.py:15-113) ----------------------------

// without_branch_norm=True: SiLU(BN(conv3x3 x) + BN(conv1x1 x)), loaded in deploy form: both
// BNs folded and the 1x1 kernel added to the centre tap of the 3x3 kernel (l.183-217), in
// double, then rounded once: one 3x3 conv with bias computes the block.
template <typename T>
struct RepVGGBlock {
  nn::ConvParams<T> fused;
};

// ---- CSPRepLayer (hybrid_encoder.py:17-83) ---------------------------------------------------

// conv3(bottlenecks(conv1(x)) + conv2(x)) -- a sum, not a concat; conv3 is nn.Identity when
// hidden == out (rtmo-l).
template <typename T>
struct CSPRepLayer {
  nn::ConvParams<T> conv1, conv2;
  std::vector<RepVGGBlock<T>> bottlenecks;
  std::optional<nn::ConvParams<T>> conv3;
};
// x: [2C, h, w] -> y: [C, h, w]; tmp: four [hidden, h, w] maps of working memory.
template <typename T>
void CSPRepLayerForward(const nn::Env<T>& env, const CSPRepLayer<T>& p, MapIn<T> x, Map<T> y,
                        const std::array<Map<T>, 4>& tmp);

// ---- The transformer encoder layer (mmpose/models/utils/transformer.py:826-902) -------------

// Post-norm DetrTransformerEncoderLayer: q = LN0(x + MHA(x + pe, x + pe, x)),
// out = LN1(q + FFN(q)), FFN = Linear -> GELU -> Linear (mmcv FFN, add_identity).
template <typename T>
struct TransformerEncoderLayer {
  int heads = 8;
  nn::LinearParams<T> qk_proj, v_proj;  // in_proj_weight rows [0, 2C) and [2C, 3C)
  nn::LinearParams<T> out_proj;
  nn::LinearParams<T> ffn1, ffn2;
  nn::LayerNormParams<T> norm0, norm1;
};

// Working memory of the encoder, token-major.
template <typename T>
struct EncoderBuffers {
  Mat<T> tokens, tokens_pe;  // [T, C]
  Mat<T> qkv;                // [T, 3C]: q | k | v
  Mat<T> attn, x1, x2;       // [T, C]
  Mat<T> ffn_hidden;         // [T, F]
};

// x: [T, C] -> x (in place); pe: [T, C].
template <typename T>
void TransformerEncoderLayerForward(const nn::Env<T>& env, const TransformerEncoderLayer<T>& p,
                                    MatIn<T> pe, Mat<T> x, const EncoderBuffers<T>& buf);

// 2-D sine positional encoding (transformer.py:423-537, spatial_dim=2, as the neck builds it
// at hybrid_encoder.py:241-243) for an h x w map: token t = y*w + x gets
// [cos(y/dim_t), sin(y/dim_t), cos(x/dim_t), sin(x/dim_t)] with raw integer positions and
// dim_t = temperature^(i/D) taken from the checkpoint buffer. dim_t: [D] -> pe: [h*w, 4D].
template <typename T>
void SinePositionalEncoding2D(const T* dim_t, int d, int h, int w, T* pe);

// ---- HybridEncoder (hybrid_encoder.py:86-292) --------------------------------------------------

template <typename T>
struct HybridEncoder {
  std::array<nn::ConvParams<T>, 3> input_proj;
  std::vector<TransformerEncoderLayer<T>> encoder;  // num_encoder_layers (1)
  nn::AlignedBuffer<T> pe_dim_t;                    // neck.sincos_pos_enc.dim_t [C/4]
  std::array<nn::ConvParams<T>, 2> lateral_convs, downsample_convs;
  std::array<CSPRepLayer<T>, 2> fpn_blocks, pan_blocks;
  std::array<nn::ConvParams<T>, 2> projector;
};
// Reads neck.* in state_dict order.
template <typename T>
HybridEncoder<T> LoadHybridEncoder(nn::Loader<T>& ld, const ModelConfig& cfg);

// The maps of one inference. Levels: strides 8, 16, 32.
template <typename T>
struct HybridEncoderMaps {
  std::array<Map<T>, 3> input_proj;  // [C, h_i, w_i] (slices of the concat buffers)
  Mat<T> pos_enc;                    // [T32, C]: the sine encoding for this input size
  EncoderBuffers<T> enc;
  Map<T> encoder;                                // [C, h32, w32]
  std::array<Map<T>, 2> fpn_cat, pan_cat;        // [2C, h, w]: strides 16, 8 / 16, 32
  std::array<Map<T>, 2> fpn_out;                 // fpn_blocks.{0,1}: strides 16, 8
  std::array<Map<T>, 2> pan_out;                 // pan_blocks.{0,1}: strides 16, 32
  std::array<Map<T>, 2> out;                     // projector: strides 16, 32
  std::array<std::array<Map<T>, 4>, 3> rep_tmp;  // CSPRepLayer working memory per level
};
template <typename T>
HybridEncoderMaps<T> AllocHybridEncoder(nn::Buffers<T>* b, const ModelConfig& cfg,
                                        const HybridEncoder<T>& net, int input_w, int input_h);

// The encoder on the stride-32 level (use_encoder_idx=[2], hybrid_encoder.py:232-248):
// m.input_proj[2] -> tokens (flatten(2).permute(0, 2, 1)) -> layers -> m.encoder.
template <typename T>
void EncoderForward(const nn::Env<T>& env, const HybridEncoder<T>& p, HybridEncoderMaps<T>& m);

// Top-down step i (hybrid_encoder.py:250-263): lateral conv of the coarser map (written into
// the PAN concat, since inner_outs is updated in place), nearest x2, concat with the skip,
// CSPRepLayer -> m.fpn_out[i].
template <typename T>
void FpnStep(const nn::Env<T>& env, const HybridEncoder<T>& p, int i, HybridEncoderMaps<T>& m);

// Bottom-up step i (l.265-273): 3x3 stride-2 conv of the finer map, concat with the lateral,
// CSPRepLayer -> m.pan_out[i].
template <typename T>
void PanStep(const nn::Env<T>& env, const HybridEncoder<T>& p, int i, HybridEncoderMaps<T>& m);

}  // namespace rtmo

#endif  // RTMO_NET_NECK_H_
