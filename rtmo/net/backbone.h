// CSPDarknet backbone (mmpose/models/backbones/csp_darknet.py, arch P5), as RTMO uses it:
//   stem   Focus: space-to-depth (2x2 -> 12 channels) + 3x3 ConvModule        stride 2
//   stageN ConvModule 3x3 stride 2, [SPPBottleneck in stage 4], CSPLayer      strides 4..32
// Every ConvModule is conv (no bias) + BatchNorm(eps 1e-3) + Swish, BN folded at load.
// Outputs used by the neck: stages 2, 3, 4 (strides 8, 16, 32).
#ifndef RTMO_BACKBONE_H_
#define RTMO_BACKBONE_H_

#include <array>
#include <optional>
#include <vector>

#include "rtmo/io/config.h"
#include "rtmo/net/nn.h"
#include "rtmo/io/weights.h"

namespace rtmo {

// csp_layer.py:39-106: conv1 1x1, conv2 3x3, + identity (stages 1-3 only).
struct DarknetBottleneck {
  nn::Conv conv1, conv2;
  bool add_identity = true;
};

// csp_layer.py:180-273: final_conv(cat(blocks(main_conv(x)), short_conv(x))).
struct CSPLayer {
  nn::Conv main_conv, short_conv, final_conv;
  std::vector<DarknetBottleneck> blocks;
};

// csp_darknet.py:67-122: conv2(cat(x, pool5(x), pool9(x), pool13(x))), x = conv1(input).
struct SPPBottleneck {
  nn::Conv conv1, conv2;
  std::array<int, 3> kernels{};
};

struct BackboneStage {
  nn::Conv down;                     // stageN.0
  std::optional<SPPBottleneck> spp;  // stage4.1
  CSPLayer csp;                      // stageN.1 (stage4.2)
};

struct Backbone {
  nn::Conv stem;  // backbone.stem.conv (after the Focus rearrangement)
  std::array<BackboneStage, 4> stages;
};

// Reads and folds every backbone tensor (names: backbone.stem.*, backbone.stageN.*).
Backbone LoadBackbone(const Weights& weights, const ModelConfig& cfg, const kernels::Ops& ops);

// Feature maps of one inference, allocated once for the config's input size.
struct BackboneMaps {
  nn::MapView focus;                 // [12, H/2, W/2]
  nn::MapView stem;                  // [stem, H/2, W/2]
  std::array<nn::MapView, 4> stage;  // [C_i, H/2^(i+2), W/2^(i+2)]
  // Per-stage scratch: the stride-2 conv output, the CSP concat and three block buffers.
  std::array<nn::MapView, 4> down, cat;
  std::array<std::array<nn::MapView, 3>, 4> tmp;
  nn::MapView spp_cat;
};
BackboneMaps AllocBackbone(const ModelConfig& cfg, nn::Buffers* buffers);

// input: [3, H, W] (BGR, 0..255) -> m.stage[0..3]: [C_i, H/2^(i+2), W/2^(i+2)].
void BackboneForward(const kernels::Ops& ops, const Backbone& net, const nn::MapView& input,
                     BackboneMaps& m, kernels::Scratch* scratch);

}  // namespace rtmo

#endif  // RTMO_BACKBONE_H_
