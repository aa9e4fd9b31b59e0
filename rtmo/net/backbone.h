// CSPDarknet backbone (mmpose/models/backbones/csp_darknet.py, arch P5), as RTMO uses it:
//   stem    Focus: space-to-depth (2x2 -> 12 channels) + 3x3 ConvModule        stride 2
//   stageN  ConvModule 3x3 stride 2, [SPPBottleneck in stage 4], CSPLayer      strides 4..32
// Every ConvModule is conv (no bias) + BatchNorm(eps 1e-3) + Swish, BN folded at load.
// The neck reads stages 2, 3, 4 (strides 8, 16, 32).
//
// Each module: its parameters (a struct), its Load (which names every checkpoint tensor it
// reads, with its shape: the one declaration of the module's layout), and its forward
// step, named after the mmpose class it mirrors.
#ifndef RTMO_NET_BACKBONE_H_
#define RTMO_NET_BACKBONE_H_

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "rtmo/io/config.h"
#include "rtmo/net/nn.h"

namespace rtmo {

// ---- Focus (csp_darknet.py:16-64) ---------------------------------------------------------

// Space-to-depth, the stem's first step: channel block b = (row parity, col parity) in the
// order (0,0), (1,0), (0,1), (1,1) -- top_left, bot_left, top_right, bot_right -- each BGR.
// x: [3, H, W] -> y: [12, H/2, W/2].
template <typename T>
void Focus(MapIn<T> x, Map<T> y);

// ---- DarknetBottleneck (csp_layer.py:39-106) ----------------------------------------------

// conv2(conv1(x)) (+ x when add_identity): conv1 1x1, conv2 3x3, expansion 1.0.
template <typename T>
struct DarknetBottleneck {
  nn::ConvParams<T> conv1, conv2;
  bool add_identity = true;
};

// ---- CSPLayer (csp_layer.py:180-273) --------------------------------------------------------

// final_conv(cat(blocks(main_conv(x)), short_conv(x))), mid = out * expand_ratio 0.5.
template <typename T>
struct CSPLayer {
  nn::ConvParams<T> main_conv, short_conv, final_conv;
  std::vector<DarknetBottleneck<T>> blocks;
};
template <typename T>
CSPLayer<T> LoadCSPLayer(nn::Loader<T>& ld, const std::string& prefix, int in_c, int out_c,
                         int num_blocks, bool add_identity, double eps);

// Working memory of one CSPLayer at one resolution.
template <typename T>
struct CSPLayerBuffers {
  Map<T> cat;                 // [2*mid, h, w]: main branch | short branch
  std::array<Map<T>, 3> tmp;  // [mid, h, w] each: the blocks rotate over them
};
template <typename T>
CSPLayerBuffers<T> AllocCSPLayer(nn::Buffers<T>* b, int out_c, int h, int w);

// x: [in_c, h, w] -> y: [out_c, h, w].
template <typename T>
void CSPLayerForward(const nn::Env<T>& env, const CSPLayer<T>& p, MapIn<T> x, Map<T> y,
                     const CSPLayerBuffers<T>& buf);

// ---- SPPBottleneck (csp_darknet.py:67-122) ------------------------------------------------

// conv2(cat(x, maxpool5(x), maxpool9(x), maxpool13(x))), x = conv1(input), mid = C/2.
template <typename T>
struct SPPBottleneck {
  nn::ConvParams<T> conv1, conv2;
  std::array<int, 3> kernels{};
};
// x: [C, h, w] -> y: [C, h, w]; cat: [4*mid, h, w] working memory. y may equal x.
template <typename T>
void SPPBottleneckForward(const nn::Env<T>& env, const SPPBottleneck<T>& p, MapIn<T> x, Map<T> y,
                          Map<T> cat);

// ---- CSPDarknet (csp_darknet.py:125-283) ----------------------------------------------------

template <typename T>
struct DarknetStage {
  nn::ConvParams<T> down;               // stageN.0: 3x3 stride 2
  std::optional<SPPBottleneck<T>> spp;  // stage4.1
  CSPLayer<T> csp;                      // stageN.1 (stage4.2)
};

template <typename T>
struct CSPDarknet {
  nn::ConvParams<T> stem;  // backbone.stem.conv (after Focus)
  std::array<DarknetStage<T>, 4> stages;
};
// Reads backbone.stem.* and backbone.stageN.* in state_dict order.
template <typename T>
CSPDarknet<T> LoadCSPDarknet(nn::Loader<T>& ld, const ModelConfig& cfg);

// The maps of one inference (input size from `input_w` x `input_h`).
template <typename T>
struct CSPDarknetMaps {
  Map<T> focus;                 // [12, H/2, W/2]
  Map<T> stem;                  // [stem, H/2, W/2]
  std::array<Map<T>, 4> down;   // stride-2 conv outputs
  std::array<Map<T>, 4> stage;  // [C_i, H/2^(i+2), W/2^(i+2)]
  std::array<CSPLayerBuffers<T>, 4> csp;
  Map<T> spp_cat;  // [4 * C4/2, H/32, W/32]
};
template <typename T>
CSPDarknetMaps<T> AllocCSPDarknet(nn::Buffers<T>* b, const ModelConfig& cfg, int input_w,
                                  int input_h);

// One stage: down-sampling conv, SPPBottleneck (stage 4), CSPLayer.
// x: [C_{i-1}, h, w] -> m.stage[i]: [C_i, ceil(h/2), ceil(w/2)].
template <typename T>
void DarknetStageForward(const nn::Env<T>& env, const DarknetStage<T>& p, MapIn<T> x, int i,
                         CSPDarknetMaps<T>& m);

}  // namespace rtmo

#endif  // RTMO_NET_BACKBONE_H_
