// RTMOHeadModule (mmpose/models/heads/hybrid_heads/rtmo_head.py:25-219): the dense part of
// the RTMO head, per level (strides 16 and 32, separate weights). Its input is split in
// halves (x.split(C // 2, 1), l.201):
//   first half  -> cls branch: 2 x [3x3 ConvModule] -> out_cls 1x1 (1 channel)
//   second half -> pose branch: 3x3 ConvModule, 3 x [3x3 ConvModule groups=8]
//                  -> out_bbox (4), out_kpt_vis (K), out_pose (pose_vec) 1x1 convs
// BN eps 1e-3, SiLU. The three output convs of the pose branch read the same input, so they
// run as one 1x1 conv whose output channels are [bbox 4 | kpt_vis K | pose_vec]; the three
// results are contiguous channel slices of that map. out_kpt_reg is training-only.
#ifndef RTMO_NET_HEAD_H_
#define RTMO_NET_HEAD_H_

#include <array>
#include <vector>

#include "rtmo/io/config.h"
#include "rtmo/net/nn.h"

namespace rtmo {

template <typename T>
struct RTMOHeadLevel {
  std::vector<nn::ConvParams<T>> conv_cls;   // head_stacked_convs
  nn::ConvParams<T> out_cls;                 // 1x1, 1 channel
  std::vector<nn::ConvParams<T>> conv_pose;  // 2 * head_stacked_convs
  nn::ConvParams<T> out_pose_branch;         // 1x1: [out_bbox 4 | out_kpt_vis K | out_pose P]
};

template <typename T>
struct RTMOHeadModule {
  std::array<RTMOHeadLevel<T>, 2> levels;
};
// Reads head.head_module.* in state_dict order (each ModuleList over both levels).
template <typename T>
RTMOHeadModule<T> LoadRTMOHeadModule(nn::Loader<T>& ld, const ModelConfig& cfg);

// The outputs of one level and its working memory.
template <typename T>
struct RTMOHeadMaps {
  Map<T> cls_a, cls_b, pose_a, pose_b;   // ping-pong buffers of the two branches
  Map<T> cls_score;                      // [1, h, w] raw logit
  Map<T> outs;                           // [4 + K + P, h, w]
  Map<T> bbox_pred, kpt_vis, pose_feat;  // slices of outs: [4, h, w], [K, h, w], [P, h, w]
};
template <typename T>
RTMOHeadMaps<T> AllocRTMOHeadLevel(nn::Buffers<T>* b, const ModelConfig& cfg, int stride,
                                   int input_w, int input_h);

// x: [2*C_half, h, w] (a neck output) -> m.cls_score, m.bbox_pred, m.kpt_vis, m.pose_feat.
template <typename T>
void RTMOHeadModuleForward(const nn::Env<T>& env, const RTMOHeadLevel<T>& p, MapIn<T> x,
                           RTMOHeadMaps<T>& m);

}  // namespace rtmo

#endif  // RTMO_NET_HEAD_H_
