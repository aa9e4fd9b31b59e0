#include "rtmo/net/backbone.h"

#include <string>

#include "rtmo/net/timing.h"

namespace rtmo {

using kernels::Act;
using nn::ConvSpec;
using nn::MapView;

namespace {

// CSPLayer expand_ratio (csp_layer.py:209) and DarknetBottleneck expansion 1.0 (l.251).
constexpr float kCspExpandRatio = 0.5f;

CSPLayer LoadCSPLayer(const Weights& w, const kernels::Ops& ops, const std::string& p, int in_c,
                      int out_c, int num_blocks, bool add_identity, float eps) {
  const int mid = static_cast<int>(out_c * kCspExpandRatio);
  CSPLayer l;
  l.main_conv = nn::LoadConvModule(w, ops, p + ".main_conv", {in_c, mid, 1}, eps, Act::kSiLU);
  l.short_conv = nn::LoadConvModule(w, ops, p + ".short_conv", {in_c, mid, 1}, eps, Act::kSiLU);
  l.final_conv =
      nn::LoadConvModule(w, ops, p + ".final_conv", {2 * mid, out_c, 1}, eps, Act::kSiLU);
  for (int b = 0; b < num_blocks; ++b) {
    const std::string q = p + ".blocks." + std::to_string(b);
    DarknetBottleneck blk;
    blk.conv1 = nn::LoadConvModule(w, ops, q + ".conv1", {mid, mid, 1}, eps, Act::kSiLU);
    blk.conv2 = nn::LoadConvModule(w, ops, q + ".conv2", {mid, mid, 3}, eps, Act::kSiLU);
    blk.add_identity = add_identity;
    l.blocks.push_back(std::move(blk));
  }
  return l;
}

// x: [in_c, h, w] -> y: [out_c, h, w]. cat: [2*mid, h, w]; t[0..2]: [mid, h, w] scratch.
void CSPLayerForward(const kernels::Ops& ops, const CSPLayer& l, const MapView& x, const MapView& y,
                     const MapView& cat, const std::array<MapView, 3>& t, kernels::Scratch* s) {
  const int mid = l.main_conv.out_c();
  // Concat order (main, short) (csp_layer.py:269): each producer writes its own slice.
  nn::Run(ops, l.short_conv, x, cat.Slice(mid, mid), s);
  // Blocks rotate over three buffers (input, conv1 output, block output) because the
  // block output adds the block input; the last block writes the concat's main slice.
  int cur = 0;
  nn::Run(ops, l.main_conv, x, l.blocks.empty() ? cat.Slice(0, mid) : t[cur], s);
  for (size_t b = 0; b < l.blocks.size(); ++b) {
    const DarknetBottleneck& blk = l.blocks[b];
    const int hidden = (cur + 1) % 3, next = (cur + 2) % 3;
    const MapView out = b + 1 == l.blocks.size() ? cat.Slice(0, mid) : t[next];
    nn::Run(ops, blk.conv1, t[cur], t[hidden], s);
    nn::Run(ops, blk.conv2, t[hidden], out, s, blk.add_identity ? t[cur].data : nullptr);
    cur = next;
  }
  nn::Run(ops, l.final_conv, cat, y, s);
}

}  // namespace

Backbone LoadBackbone(const Weights& w, const ModelConfig& cfg, const kernels::Ops& ops) {
  const float eps = cfg.bn_eps_backbone;
  Backbone net;
  net.stem =
      nn::LoadConvModule(w, ops, "backbone.stem.conv", {12, cfg.stem_channels, 3}, eps, Act::kSiLU);
  int in_c = cfg.stem_channels;
  for (int i = 0; i < 4; ++i) {
    const std::string p = "backbone.stage" + std::to_string(i + 1);
    const int out_c = cfg.stage_channels[i];
    BackboneStage& st = net.stages[i];
    st.down = nn::LoadConvModule(w, ops, p + ".0", {in_c, out_c, 3, 2}, eps, Act::kSiLU);
    int csp_index = 1;
    if (i == 3) {  // use_spp only in the last stage (csp_darknet.py:237-243)
      SPPBottleneck spp;
      const int mid = out_c / 2;
      spp.conv1 = nn::LoadConvModule(w, ops, p + ".1.conv1", {out_c, mid, 1}, eps, Act::kSiLU);
      spp.conv2 = nn::LoadConvModule(w, ops, p + ".1.conv2", {4 * mid, out_c, 1}, eps, Act::kSiLU);
      spp.kernels = {cfg.spp_kernels[0], cfg.spp_kernels[1], cfg.spp_kernels[2]};
      st.spp = std::move(spp);
      csp_index = 2;
    }
    // add_identity is False in the last stage (arch P5, csp_darknet.py:171-173).
    st.csp = LoadCSPLayer(w, ops, p + "." + std::to_string(csp_index), out_c, out_c,
                          cfg.stage_blocks[i], /*add_identity=*/i < 3, eps);
    in_c = out_c;
  }
  return net;
}

BackboneMaps AllocBackbone(const ModelConfig& cfg, nn::Buffers* b) {
  BackboneMaps m;
  int h = cfg.input_h / 2, w = cfg.input_w / 2;
  m.focus = b->Map(12, h, w);
  m.stem = b->Map(cfg.stem_channels, h, w);
  for (int i = 0; i < 4; ++i) {
    h = (h + 1) / 2;  // 3x3 stride 2 pad 1: ceil(h / 2)
    w = (w + 1) / 2;
    const int c = cfg.stage_channels[i], mid = static_cast<int>(c * kCspExpandRatio);
    m.down[i] = b->Map(c, h, w);
    m.cat[i] = b->Map(2 * mid, h, w);
    for (auto& t : m.tmp[i]) t = b->Map(mid, h, w);
    m.stage[i] = b->Map(c, h, w);
    if (i == 3) m.spp_cat = b->Map(4 * (c / 2), h, w);
  }
  return m;
}

void BackboneForward(const kernels::Ops& ops, const Backbone& net, const MapView& input,
                     BackboneMaps& m, kernels::Scratch* s) {
  // Focus (csp_darknet.py:49-64): channel block b = (row parity, col parity) in the order
  // (0,0), (1,0), (0,1), (1,1) -- top_left, bot_left, top_right, bot_right -- each BGR.
  constexpr int kRow[4] = {0, 1, 0, 1}, kCol[4] = {0, 0, 1, 1};
  // A pure copy (1.2M floats at 640x640): split over the 12 output planes, which makes the
  // result independent of the thread count. Serial it took a quarter of the stem's time.
  const int oh = m.focus.h, ow = m.focus.w;
#pragma omp parallel for schedule(static)
  for (int plane = 0; plane < 12; ++plane) {
    const int blk = plane / 3, c = plane % 3;
    const float* src = input.channel(c);
    float* dst = m.focus.channel(plane);
    for (int y = 0; y < oh; ++y) {
      const float* row = src + static_cast<size_t>(2 * y + kRow[blk]) * input.w + kCol[blk];
      float* out = dst + static_cast<size_t>(y) * ow;
#pragma omp simd
      for (int x = 0; x < ow; ++x) out[x] = row[2 * x];
    }
  }
  nn::Run(ops, net.stem, m.focus, m.stem, s);
  timing::Lap("backbone.stem");  // bench/ laps (rtmo/net/timing.h); no-op otherwise

  MapView x = m.stem;
  for (int i = 0; i < 4; ++i) {
    const BackboneStage& st = net.stages[i];
    nn::Run(ops, st.down, x, m.down[i], s);
    MapView csp_in = m.down[i];
    if (st.spp) {
      // conv1 writes slice 0 of the concat; each pooling reads it and writes its slice.
      const int mid = st.spp->conv1.out_c();
      const MapView pooled = m.spp_cat.Slice(0, mid);
      nn::Run(ops, st.spp->conv1, m.down[i], pooled, s);
      for (int k = 0; k < 3; ++k) {
        ops.maxpool_same(pooled.data, mid, pooled.h, pooled.w, st.spp->kernels[k],
                         m.spp_cat.Slice((k + 1) * mid, mid).data);
      }
      // down[i] is free again once conv1 has read it.
      nn::Run(ops, st.spp->conv2, m.spp_cat, m.down[i], s);
      csp_in = m.down[i];
    }
    CSPLayerForward(ops, st.csp, csp_in, m.stage[i], m.cat[i], m.tmp[i], s);
    x = m.stage[i];
    static constexpr const char* kLap[4] = {"backbone.stage1", "backbone.stage2", "backbone.stage3",
                                            "backbone.stage4"};
    timing::Lap(kLap[i]);
  }
}

}  // namespace rtmo
