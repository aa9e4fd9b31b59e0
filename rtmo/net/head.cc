#include "rtmo/net/head.h"

#include <string>

namespace rtmo {

using kernels::Act;

template <typename T>
RTMOHeadModule<T> LoadRTMOHeadModule(nn::Loader<T>& ld, const ModelConfig& cfg) {
  const double eps = cfg.bn_eps_head;
  const int half = cfg.projector_out / 2;  // x.split(C // 2, 1) (rtmo_head.py:201)
  const int cls_c = cfg.head_cls_channels;
  const int groups = cfg.pose_groups;
  const int pose_c = groups * cfg.pose_channels_per_group;
  const int K = cfg.num_keypoints, P = cfg.pose_vec_channels;
  const std::string p = "head.head_module.";
  auto lvl = [](int l) { return std::to_string(l); };
  RTMOHeadModule<T> h;
  // The ModuleLists in registration order (rtmo_head.py:110-170 = state_dict order).
  for (int l = 0; l < 2; ++l) {
    for (int i = 0; i < cfg.head_stacked_convs; ++i) {
      h.levels[l].conv_cls.push_back(
          ld.ConvModule(p + "conv_cls." + lvl(l) + "." + std::to_string(i),
                        {i == 0 ? half : cls_c, cls_c, 3}, eps, Act::kSiLU));
    }
  }
  for (int l = 0; l < 2; ++l) {
    h.levels[l].out_cls =
        ld.Pack(ld.ReadConv2d(p + "out_cls." + lvl(l), {cls_c, 1, 1}), Act::kNone);
  }
  for (int l = 0; l < 2; ++l) {
    for (int i = 0; i < 2 * cfg.head_stacked_convs; ++i) {
      // The first conv is dense, the others grouped (rtmo_head.py:133-150).
      h.levels[l].conv_pose.push_back(ld.ConvModule(
          p + "conv_pose." + lvl(l) + "." + std::to_string(i),
          {i == 0 ? half : pose_c, pose_c, 3, 1, i == 0 ? 1 : groups}, eps, Act::kSiLU));
    }
  }
  std::array<nn::RawConv, 2> bbox, vis, pose;
  for (int l = 0; l < 2; ++l) bbox[l] = ld.ReadConv2d(p + "out_bbox." + lvl(l), {pose_c, 4, 1});
  for (int l = 0; l < 2; ++l) vis[l] = ld.ReadConv2d(p + "out_kpt_vis." + lvl(l), {pose_c, K, 1});
  for (int l = 0; l < 2; ++l) pose[l] = ld.ReadConv2d(p + "out_pose." + lvl(l), {pose_c, P, 1});
  for (int l = 0; l < 2; ++l) {
    // out_bbox, out_kpt_vis and out_pose stacked along the output channels.
    nn::RawConv merged{{pose_c, 4 + K + P, 1}, {}, {}};
    for (const nn::RawConv* part : {&bbox[l], &vis[l], &pose[l]}) {
      merged.w.insert(merged.w.end(), part->w.begin(), part->w.end());
      merged.b.insert(merged.b.end(), part->b.begin(), part->b.end());
    }
    h.levels[l].out_pose_branch = ld.Pack(merged, Act::kNone);
  }
  return h;
}

template <typename T>
RTMOHeadMaps<T> AllocRTMOHeadLevel(nn::Buffers<T>* b, const ModelConfig& cfg, int stride,
                                   int input_w, int input_h) {
  const int K = cfg.num_keypoints, P = cfg.pose_vec_channels;
  const int pose_c = cfg.pose_groups * cfg.pose_channels_per_group;
  const int h = input_h / stride, w = input_w / stride;
  RTMOHeadMaps<T> m;
  m.cls_a = b->NewMap(cfg.head_cls_channels, h, w);
  m.cls_b = b->NewMap(cfg.head_cls_channels, h, w);
  m.cls_score = b->NewMap(1, h, w);
  m.pose_a = b->NewMap(pose_c, h, w);
  m.pose_b = b->NewMap(pose_c, h, w);
  m.outs = b->NewMap(4 + K + P, h, w);
  m.bbox_pred = m.outs.Slice(0, 4);
  m.kpt_vis = m.outs.Slice(4, K);
  m.pose_feat = m.outs.Slice(4 + K, P);
  return m;
}

template <typename T>
void RTMOHeadModuleForward(const nn::Env<T>& env, const RTMOHeadLevel<T>& p, MapIn<T> x,
                           RTMOHeadMaps<T>& m) {
  const int half = x.c / 2;
  // cls branch on the first half, ping-ponging between two buffers.
  MapIn<T> in = x.Slice(0, half);
  for (size_t i = 0; i < p.conv_cls.size(); ++i) {
    const Map<T> out = i % 2 == 0 ? m.cls_a : m.cls_b;
    nn::Conv(env, p.conv_cls[i], in, out);
    in = out;
  }
  nn::Conv(env, p.out_cls, in, m.cls_score);
  // pose branch on the second half.
  in = x.Slice(half, half);
  for (size_t i = 0; i < p.conv_pose.size(); ++i) {
    const Map<T> out = i % 2 == 0 ? m.pose_a : m.pose_b;
    nn::Conv(env, p.conv_pose[i], in, out);
    in = out;
  }
  nn::Conv(env, p.out_pose_branch, in, m.outs);
}

#define RTMO_INSTANTIATE(T)                                                                     \
  template RTMOHeadModule<T> LoadRTMOHeadModule<T>(nn::Loader<T>&, const ModelConfig&);         \
  template RTMOHeadMaps<T> AllocRTMOHeadLevel<T>(nn::Buffers<T>*, const ModelConfig&, int, int, \
                                                 int);                                          \
  template void RTMOHeadModuleForward<T>(const nn::Env<T>&, const RTMOHeadLevel<T>&, MapIn<T>,  \
                                         RTMOHeadMaps<T>&);
RTMO_INSTANTIATE(float)
RTMO_INSTANTIATE(double)
#undef RTMO_INSTANTIATE

}  // namespace rtmo
