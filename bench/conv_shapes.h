// Every convolution of RTMO-s at 640x640 input, with the spatial size it runs at.
// Derived from the official state_dict layout (weights/layouts/keys_rtmo-s.txt: weight
// shapes) and the architecture (tools/reference/model.py: strides stem 2 -> 320x320,
// stage1 4 -> 160, stage2 8 -> 80, stage3 16 -> 40, stage4 32 -> 20; neck levels 80/40/20;
// head at 40 and 20). RepVGG blocks are counted as their deployed (fused) 3x3 conv.
// Only the head's inference outputs are listed (out_kpt_reg is training-only).
// `count` is how many times the shape occurs in one forward pass.
#ifndef RTMO_BENCH_CONV_SHAPES_H_
#define RTMO_BENCH_CONV_SHAPES_H_

#include <cstdint>

namespace rtmo::bench {

struct ConvCase {
  const char* name;  // where it occurs (first occurrence if several)
  int in_c, out_c, k, stride, groups;
  int in_h, in_w;  // input spatial size
  int count;
  int OutH() const { return (in_h + 2 * (k / 2) - k) / stride + 1; }
  int OutW() const { return (in_w + 2 * (k / 2) - k) / stride + 1; }
  // Multiply-accumulates of one occurrence (taps on zero padding included, as ORT counts).
  int64_t Macs() const { return int64_t{OutH()} * OutW() * out_c * (in_c / groups) * k * k; }
};

inline constexpr ConvCase kRtmoSConvs[] = {
    // Backbone (CSPDarknet, widen 0.5).
    {"stem (Focus 3x3)", 12, 32, 3, 1, 1, 320, 320, 1},
    {"stage1.0 3x3 s2", 32, 64, 3, 2, 1, 320, 320, 1},
    {"stage1.1 main/short 1x1", 64, 32, 1, 1, 1, 160, 160, 2},
    {"stage1.1 block conv1 1x1", 32, 32, 1, 1, 1, 160, 160, 1},
    {"stage1.1 block conv2 3x3", 32, 32, 3, 1, 1, 160, 160, 1},
    {"stage1.1 final 1x1", 64, 64, 1, 1, 1, 160, 160, 1},
    {"stage2.0 3x3 s2", 64, 128, 3, 2, 1, 160, 160, 1},
    {"stage2.1 main/short 1x1", 128, 64, 1, 1, 1, 80, 80, 2},
    {"stage2.1 block conv1 1x1", 64, 64, 1, 1, 1, 80, 80, 3},
    {"stage2.1 block conv2 3x3", 64, 64, 3, 1, 1, 80, 80, 3},
    {"stage2.1 final 1x1", 128, 128, 1, 1, 1, 80, 80, 1},
    {"stage3.0 3x3 s2", 128, 256, 3, 2, 1, 80, 80, 1},
    {"stage3.1 main/short 1x1", 256, 128, 1, 1, 1, 40, 40, 2},
    {"stage3.1 block conv1 1x1", 128, 128, 1, 1, 1, 40, 40, 3},
    {"stage3.1 block conv2 3x3", 128, 128, 3, 1, 1, 40, 40, 3},
    {"stage3.1 final 1x1", 256, 256, 1, 1, 1, 40, 40, 1},
    {"stage4.0 3x3 s2", 256, 512, 3, 2, 1, 40, 40, 1},
    {"stage4.1 SPP conv1 1x1", 512, 256, 1, 1, 1, 20, 20, 1},
    {"stage4.1 SPP conv2 1x1", 1024, 512, 1, 1, 1, 20, 20, 1},
    {"stage4.2 main/short 1x1", 512, 256, 1, 1, 1, 20, 20, 2},
    {"stage4.2 block conv1 1x1", 256, 256, 1, 1, 1, 20, 20, 1},
    {"stage4.2 block conv2 3x3", 256, 256, 3, 1, 1, 20, 20, 1},
    {"stage4.2 final 1x1", 512, 512, 1, 1, 1, 20, 20, 1},
    // Neck (HybridEncoder).
    {"input_proj.0 1x1", 128, 256, 1, 1, 1, 80, 80, 1},
    {"input_proj.1 1x1", 256, 256, 1, 1, 1, 40, 40, 1},
    {"input_proj.2 1x1", 512, 256, 1, 1, 1, 20, 20, 1},
    // lateral_convs.0 at 20, pan_blocks.1 conv3 (128->256 at 20 below), projector.1 at 20.
    {"lateral_convs.0 / projector.1 1x1", 256, 256, 1, 1, 1, 20, 20, 2},
    {"lateral_convs.1 / projector.0 1x1", 256, 256, 1, 1, 1, 40, 40, 2},
    {"fpn_blocks.0 / pan_blocks.0 conv1+conv2 1x1", 512, 128, 1, 1, 1, 40, 40, 4},
    {"fpn_blocks.0 / pan_blocks.0 RepVGG 3x3", 128, 128, 3, 1, 1, 40, 40, 2},
    {"fpn_blocks.0 / pan_blocks.0 conv3 1x1", 128, 256, 1, 1, 1, 40, 40, 2},
    {"fpn_blocks.1 conv1+conv2 1x1", 512, 128, 1, 1, 1, 80, 80, 2},
    {"fpn_blocks.1 RepVGG 3x3", 128, 128, 3, 1, 1, 80, 80, 1},
    {"fpn_blocks.1 conv3 1x1", 128, 256, 1, 1, 1, 80, 80, 1},
    {"downsample_convs.0 3x3 s2", 256, 256, 3, 2, 1, 80, 80, 1},
    {"downsample_convs.1 3x3 s2", 256, 256, 3, 2, 1, 40, 40, 1},
    {"pan_blocks.1 conv1+conv2 1x1", 512, 128, 1, 1, 1, 20, 20, 2},
    {"pan_blocks.1 RepVGG 3x3", 128, 128, 3, 1, 1, 20, 20, 1},
    {"pan_blocks.1 conv3 1x1", 128, 256, 1, 1, 1, 20, 20, 1},
    // Head (two levels, separate weights): cls branch 2 x 3x3, pose branch 3x3 + 3 grouped.
    {"head conv_cls 3x3 @40", 128, 128, 3, 1, 1, 40, 40, 2},
    {"head conv_cls 3x3 @20", 128, 128, 3, 1, 1, 20, 20, 2},
    {"head conv_pose.0 3x3 @40", 128, 144, 3, 1, 1, 40, 40, 1},
    {"head conv_pose.0 3x3 @20", 128, 144, 3, 1, 1, 20, 20, 1},
    {"head conv_pose g8 3x3 @40", 144, 144, 3, 1, 8, 40, 40, 3},
    {"head conv_pose g8 3x3 @20", 144, 144, 3, 1, 8, 20, 20, 3},
    {"head out_cls 1x1 @40", 128, 1, 1, 1, 1, 40, 40, 1},
    {"head out_cls 1x1 @20", 128, 1, 1, 1, 1, 20, 20, 1},
    {"head out_bbox 1x1 @40", 144, 4, 1, 1, 1, 40, 40, 1},
    {"head out_bbox 1x1 @20", 144, 4, 1, 1, 1, 20, 20, 1},
    {"head out_kpt_vis 1x1 @40", 144, 17, 1, 1, 1, 40, 40, 1},
    {"head out_kpt_vis 1x1 @20", 144, 17, 1, 1, 1, 20, 20, 1},
    {"head out_pose 1x1 @40", 144, 256, 1, 1, 1, 40, 40, 1},
    {"head out_pose 1x1 @20", 144, 256, 1, 1, 1, 20, 20, 1},
};

}  // namespace rtmo::bench

#endif  // RTMO_BENCH_CONV_SHAPES_H_
