// The model configuration: every number the network needs besides the tensors themselves.
// It is stored explicitly in each .rtmo file (weights/FORMAT.md, "config block"), so the
// reader never guesses; ModelConfig::ForVariant() derives the same values from the official
// mmpose v1.3.2 configs (configs/body_2d_keypoint/rtmo/{body7,coco,crowdpose}/rtmo-*.py).
#ifndef RTMO_CONFIG_H_
#define RTMO_CONFIG_H_

#include <string>
#include <string_view>

namespace rtmo {

struct ModelConfig {
  std::string variant;  // "t", "s", "m" or "l"
  std::string dataset;  // "body7", "coco", "crowdpose", ... (informational, may be empty)
  int input_w = 640;    // network input (test_cfg.input_size): 416 for t, 640 otherwise
  int input_h = 640;
  int num_keypoints = 17;  // 17 (COCO order) or 14 (CrowdPose)

  // Backbone: CSPDarknet P5 (mmpose/models/backbones/csp_darknet.py:171-173, 225-261).
  double widen_factor = 0.5;
  double deepen_factor = 0.33;
  int stem_channels = 32;                       // int(64 * widen)
  int stage_channels[4] = {64, 128, 256, 512};  // int({128,256,512,1024} * widen)
  int stage_blocks[4] = {1, 3, 3, 1};           // max(round({3,9,9,3} * deepen), 1)
  int spp_kernels[3] = {5, 9, 13};              // SPPBottleneck in stage 4

  // Neck: HybridEncoder (mmpose/models/necks/hybrid_encoder.py).
  int neck_hidden = 256;     // hidden_dim
  int csp_rep_hidden = 128;  // CSPRepLayer hidden = int(256 * widen); == 256 -> conv3 is Identity
  int rep_blocks = 1;        // RepVGG blocks per CSPRepLayer = round(3 * deepen)
  int encoder_layers = 1;    // num_encoder_layers (on the stride-32 level only)
  int encoder_heads = 8;
  int encoder_ffn = 1024;
  int projector_out = 256;  // ChannelMapper out = 2 * head branch width

  // Head module (mmpose/models/heads/hybrid_heads/rtmo_head.py:25-219).
  int head_cls_channels = 128;  // int(256 * widen); also the width of each input half
  int head_stacked_convs = 2;   // cls branch convs; the pose branch has 2x as many
  int pose_groups = 8;
  int pose_channels_per_group = 18;  // int(36 * widen)
  int pose_vec_channels = 256;       // out_pose channels = DCC input
  int head_strides[2] = {16, 32};

  // Normalisation epsilons per tensor group: backbone/head use the config's BN eps 1e-3, the
  // neck and the DCC's BatchNorm1d PyTorch's default 1e-5.
  // Real-valued fields are double, like the Python floats of the official config: 1e-3f
  // differs from 0.001 by 5e-11 relative, visible in the float64 verification path.
  double bn_eps_backbone = 1e-3;
  double bn_eps_neck = 1e-5;
  double bn_eps_head = 1e-3;
  double bn_eps_dcc = 1e-5;
  double ln_eps = 1e-5;

  // DCC (rtmo_head.py:222-658) and its GAU (mmpose/models/utils/transformer.py:614-758).
  int dcc_feat = 128;     // feat_channels = GAU s = spe_channels
  int gau_expansion = 2;  // GAU e = expansion * dcc_feat
  int num_bins_x = 192;
  int num_bins_y = 256;
  double dcc_spe_temperature = 300.0;
  double encoder_pe_temperature = 10000.0;
  double bbox_padding = 1.25;

  // The official configuration of `variant` ("t", "s", "m", "l") with `num_keypoints`
  // keypoints. Throws rtmo::Error for an unknown variant or a keypoint count outside 1..1024.
  static ModelConfig ForVariant(std::string_view variant, int num_keypoints = 17);

  // Throws rtmo::Error naming `source` (a file name) and the first field that is out of
  // range or inconsistent (e.g. pose_vec_channels != projector_out).
  void Validate(const std::string& source) const;

  // One line: "rtmo-s body7 640x640 17 keypoints".
  std::string Summary() const;
};

}  // namespace rtmo

#endif  // RTMO_CONFIG_H_
