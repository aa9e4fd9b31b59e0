#include "rtmo/net/head.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "rtmo/net/timing.h"

namespace rtmo {

using kernels::Act;
using nn::ConvSpec;
using nn::MapView;

namespace {

// mmpose/models/structures/bbox/bbox_overlaps.py: eps=1e-6 floors the union.
constexpr float kIouEps = 1e-6f;

float Sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

}  // namespace

HeadModule LoadHeadModule(const Weights& w, const ModelConfig& cfg, const kernels::Ops& ops) {
  const float eps = cfg.bn_eps_head;
  const int half = cfg.projector_out / 2;  // x.split(C // 2, 1) (rtmo_head.py:201)
  const int cls_c = cfg.head_cls_channels;
  const int groups = cfg.pose_groups;
  const int pose_c = groups * cfg.pose_channels_per_group;
  const int K = cfg.num_keypoints, P = cfg.pose_vec_channels;
  HeadModule h;
  h.num_keypoints = K;
  h.pose_vec = P;
  const std::string p = "head.head_module.";
  for (int l = 0; l < 2; ++l) {
    const std::string L = std::to_string(l);
    HeadLevel& lv = h.levels[l];
    for (int i = 0; i < cfg.head_stacked_convs; ++i) {
      lv.conv_cls.push_back(nn::LoadConvModule(w, ops,
                                               p + "conv_cls." + L + "." + std::to_string(i),
                                               {i == 0 ? half : cls_c, cls_c, 3}, eps, Act::kSiLU));
    }
    lv.out_cls = nn::Pack(ops, nn::ReadConv2d(w, p + "out_cls." + L, {cls_c, 1, 1}), Act::kNone);
    for (int i = 0; i < 2 * cfg.head_stacked_convs; ++i) {
      // First conv dense, the others grouped (rtmo_head.py:133-150).
      lv.conv_pose.push_back(nn::LoadConvModule(
          w, ops, p + "conv_pose." + L + "." + std::to_string(i),
          {i == 0 ? half : pose_c, pose_c, 3, 1, i == 0 ? 1 : groups}, eps, Act::kSiLU));
    }
    // out_bbox, out_kpt_vis and out_pose stacked along the output channels.
    const nn::ConvWeights parts[3] = {
        nn::ReadConv2d(w, p + "out_bbox." + L, {pose_c, 4, 1}),
        nn::ReadConv2d(w, p + "out_kpt_vis." + L, {pose_c, K, 1}),
        nn::ReadConv2d(w, p + "out_pose." + L, {pose_c, P, 1}),
    };
    nn::ConvWeights merged{{pose_c, 4 + K + P, 1}, {}, {}};
    for (const auto& part : parts) {
      merged.w.insert(merged.w.end(), part.w.begin(), part.w.end());
      merged.b.insert(merged.b.end(), part.b.begin(), part.b.end());
    }
    lv.out_pose_branch = nn::Pack(ops, merged, Act::kNone);
  }
  return h;
}

HeadMaps AllocHead(const ModelConfig& cfg, nn::Buffers* b) {
  HeadMaps m;
  const int K = cfg.num_keypoints, P = cfg.pose_vec_channels;
  const int pose_c = cfg.pose_groups * cfg.pose_channels_per_group;
  for (int l = 0; l < 2; ++l) {
    const int s = cfg.head_strides[l];
    const int h = cfg.input_h / s, w = cfg.input_w / s;
    m.cls_a[l] = b->Map(cfg.head_cls_channels, h, w);
    m.cls_b[l] = b->Map(cfg.head_cls_channels, h, w);
    m.cls_score[l] = b->Map(1, h, w);
    m.pose_a[l] = b->Map(pose_c, h, w);
    m.pose_b[l] = b->Map(pose_c, h, w);
    m.outs[l] = b->Map(4 + K + P, h, w);
    m.bbox_pred[l] = m.outs[l].Slice(0, 4);
    m.kpt_vis[l] = m.outs[l].Slice(4, K);
    m.pose_feat[l] = m.outs[l].Slice(4 + K, P);
  }
  return m;
}

void HeadForward(const kernels::Ops& ops, const HeadModule& head, const std::array<MapView, 2>& x,
                 HeadMaps& m, kernels::Scratch* s) {
  for (int l = 0; l < 2; ++l) {
    const HeadLevel& lv = head.levels[l];
    const int half = x[l].c / 2;
    // cls branch on the first half, ping-ponging between two buffers.
    MapView in = x[l].Slice(0, half);
    for (size_t i = 0; i < lv.conv_cls.size(); ++i) {
      const MapView out = i % 2 == 0 ? m.cls_a[l] : m.cls_b[l];
      nn::Run(ops, lv.conv_cls[i], in, out, s);
      in = out;
    }
    nn::Run(ops, lv.out_cls, in, m.cls_score[l], s);
    timing::Lap("head.cls");  // bench/ laps (rtmo/net/timing.h), summed over levels
    // pose branch on the second half.
    in = x[l].Slice(half, half);
    for (size_t i = 0; i < lv.conv_pose.size(); ++i) {
      const MapView out = i % 2 == 0 ? m.pose_a[l] : m.pose_b[l];
      nn::Run(ops, lv.conv_pose[i], in, out, s);
      in = out;
    }
    timing::Lap("head.pose");
    nn::Run(ops, lv.out_pose_branch, in, m.outs[l], s);
    timing::Lap("head.out");
  }
}

void SelectCandidates(const HeadMaps& m, const std::array<int, 2>& strides, float score_thr,
                      std::vector<Candidate>* out) {
  out->clear();
  int64_t base = 0;
  for (int l = 0; l < 2; ++l) {
    const MapView& cls = m.cls_score[l];
    const MapView& bb = m.bbox_pred[l];
    const int n = static_cast<int>(cls.plane());
    const float s = static_cast<float>(strides[l]);
    for (int cell = 0; cell < n; ++cell) {
      const float score = Sigmoid(cls.data[cell]);
      if (!(score > score_thr)) continue;
      Candidate c;
      c.index = base + cell;
      c.level = l;
      c.cell = cell;
      c.score = score;
      const int i = cell / cls.w, j = cell % cls.w;
      c.prior_x = static_cast<float>(j * strides[l]) + (s - 1.0f) / 2.0f;
      c.prior_y = static_cast<float>(i * strides[l]) + (s - 1.0f) / 2.0f;
      // decode_bbox: xy = d[:2] * s + prior, wh = exp(d[2:]) * s, corners xy -/+ wh / 2.
      const float cx = bb.channel(0)[cell] * s + c.prior_x;
      const float cy = bb.channel(1)[cell] * s + c.prior_y;
      const float w = std::exp(bb.channel(2)[cell]) * s;
      const float h = std::exp(bb.channel(3)[cell]) * s;
      c.box = {cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2};
      out->push_back(c);
    }
    base += n;
  }
  std::stable_sort(out->begin(), out->end(),
                   [](const Candidate& a, const Candidate& b) { return a.score > b.score; });
}

void Nms(const std::vector<Candidate>& c, float nms_thr, std::vector<int>* keep,
         std::vector<uint8_t>* suppressed) {
  keep->clear();
  suppressed->assign(c.size(), 0);
  auto area = [](const std::array<float, 4>& b) { return (b[2] - b[0]) * (b[3] - b[1]); };
  for (size_t i = 0; i < c.size(); ++i) {
    if ((*suppressed)[i]) continue;
    keep->push_back(static_cast<int>(i));
    const auto& a = c[i].box;
    const float area_a = area(a);
    for (size_t j = i + 1; j < c.size(); ++j) {
      if ((*suppressed)[j]) continue;
      const auto& b = c[j].box;
      const float w = std::max(std::min(a[2], b[2]) - std::max(a[0], b[0]), 0.0f);
      const float h = std::max(std::min(a[3], b[3]) - std::max(a[1], b[1]), 0.0f);
      const float overlap = w * h;
      const float uni = std::max(area_a + area(b) - overlap, kIouEps);
      if (overlap / uni > nms_thr) (*suppressed)[j] = 1;
    }
  }
}

}  // namespace rtmo
