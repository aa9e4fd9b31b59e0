// RTMO head (mmpose/models/heads/hybrid_heads/rtmo_head.py): the per-level head module
// (RTMOHeadModule, l.25-219) and the test-time post-processing of RTMOHead.predict
// (l.889-1014, with YOLOXPoseHead.decode_bbox / _flatten_predictions).
//
// Head module, per level (strides 16 and 32, separate weights), input split in halves:
//   first half  -> cls branch: 2 x [3x3 ConvModule] -> out_cls 1x1 (1 channel)
//   second half -> pose branch: 3x3 ConvModule, 3 x [3x3 ConvModule groups=8]
//                  -> out_bbox (4), out_kpt_vis (K), out_pose (pose_vec) 1x1 convs
// BN eps 1e-3, SiLU. The three output convs of the pose branch read the same input, so they
// run as one 1x1 conv whose output channels are [bbox 4 | kpt_vis K | pose_vec]; the three
// results are contiguous channel slices of that map. out_kpt_reg is training-only.
#ifndef RTMO_HEAD_H_
#define RTMO_HEAD_H_

#include <array>
#include <cstdint>
#include <vector>

#include "rtmo/io/config.h"
#include "rtmo/net/nn.h"
#include "rtmo/io/weights.h"

namespace rtmo {

struct HeadLevel {
  std::vector<nn::Conv> conv_cls;   // head_stacked_convs
  nn::Conv out_cls;                 // 1x1, 1 channel
  std::vector<nn::Conv> conv_pose;  // 2 * head_stacked_convs
  nn::Conv out_pose_branch;         // 1x1: [out_bbox 4 | out_kpt_vis K | out_pose P]
};

struct HeadModule {
  std::array<HeadLevel, 2> levels;
  int num_keypoints = 17;
  int pose_vec = 256;
};

HeadModule LoadHeadModule(const Weights& weights, const ModelConfig& cfg, const kernels::Ops& ops);

struct HeadMaps {
  std::array<nn::MapView, 2> cls_a, cls_b, cls_score;  // cls_score: [1, h, w]
  std::array<nn::MapView, 2> pose_a, pose_b;
  std::array<nn::MapView, 2> outs;                           // [4 + K + P, h, w]
  std::array<nn::MapView, 2> bbox_pred, kpt_vis, pose_feat;  // slices of outs
};
HeadMaps AllocHead(const ModelConfig& cfg, nn::Buffers* buffers);

// x[l]: [2*C_half, h_l, w_l] (neck outputs) -> m.cls_score/bbox_pred/kpt_vis/pose_feat.
void HeadForward(const kernels::Ops& ops, const HeadModule& head,
                 const std::array<nn::MapView, 2>& x, HeadMaps& m, kernels::Scratch* scratch);

// ---- Post-processing (RTMOHead.predict) ------------------------------------------------

// Official defaults: test_cfg in configs/body_2d_keypoint/rtmo/body7/rtmo-s_*.py:531-535.
inline constexpr float kDefaultScoreThr = 0.1f;
inline constexpr float kDefaultNmsThr = 0.65f;

// A cell that passed the score filter, in input-network pixels.
struct Candidate {
  int64_t index = 0;           // flattened cell index, level 0 (stride 16) first, row-major
  int level = 0, cell = 0;     // level and y*w + x within it
  float score = 0;             // sigmoid(cls)
  std::array<float, 4> box{};  // decoded x1, y1, x2, y2 (unclamped)
  float prior_x = 0, prior_y = 0;
};

// Cells with score > score_thr (strict, mmpose/models/utils/misc.py:54), sorted by
// descending score (stable: equal scores keep cell order), boxes decoded
// (yoloxpose_head.py:713-748) at priors (j*s + (s-1)/2, i*s + (s-1)/2)
// (mlvl_point_generator.py:145-147 with centralize_points=True, offset 0).
// Appends to `out` (cleared first; reserve it to avoid allocation).
void SelectCandidates(const HeadMaps& m, const std::array<int, 2>& strides, float score_thr,
                      std::vector<Candidate>* out);

// Greedy class-agnostic NMS (mmpose/evaluation/functional/nms.py:335-369, nms_torch) on
// candidates sorted by descending score: suppress IoU > nms_thr (strict), IoU as
// bbox_overlaps (mmpose/structures/bbox/bbox_overlaps.py): no +1, union floored at 1e-6.
// `keep` receives positions into `cands`; `suppressed` is scratch of the same size.
void Nms(const std::vector<Candidate>& cands, float nms_thr, std::vector<int>* keep,
         std::vector<uint8_t>* suppressed);

}  // namespace rtmo

#endif  // RTMO_HEAD_H_
