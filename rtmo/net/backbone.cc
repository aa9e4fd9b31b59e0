#include "rtmo/net/backbone.h"

#include "kernels/parallel.h"

namespace rtmo {

using kernels::Act;

namespace {

// CSPLayer expand_ratio (csp_layer.py:209) and DarknetBottleneck expansion 1.0 (l.251).
constexpr double kCspExpandRatio = 0.5;
int CspMid(int out_c) { return static_cast<int>(out_c * kCspExpandRatio); }

}  // namespace

template <typename T>
void Focus(MapIn<T> x, Map<T> y) {
  constexpr int kRow[4] = {0, 1, 0, 1}, kCol[4] = {0, 0, 1, 1};
  const int oh = y.h, ow = y.w;
  // A pure copy: split over the 12 output planes, which keeps the result independent of
  // the thread count (serial it took a quarter of the stem's time at 640x640). On the
  // kernels' pool, the threads that run the stem conv next (an OpenMP team would spin
  // against them: kernels/parallel.h).
  kernels::ParallelFor(12, kernels::MaxThreads(), [&](int64_t task, int /*slot*/) {
    const int plane = static_cast<int>(task);
    const int blk = plane / 3, c = plane % 3;
    const T* src = x.channel(c);
    T* dst = y.channel(plane);
    for (int r = 0; r < oh; ++r) {
      const T* row = src + static_cast<size_t>(2 * r + kRow[blk]) * x.w + kCol[blk];
      T* out = dst + static_cast<size_t>(r) * ow;
#pragma omp simd
      for (int q = 0; q < ow; ++q) out[q] = row[2 * q];
    }
  });
}

template <typename T>
CSPLayer<T> LoadCSPLayer(nn::Loader<T>& ld, const std::string& p, int in_c, int out_c,
                         int num_blocks, bool add_identity, double eps) {
  const int mid = CspMid(out_c);
  CSPLayer<T> l;
  l.main_conv = ld.ConvModule(p + ".main_conv", {in_c, mid, 1}, eps, Act::kSiLU);
  l.short_conv = ld.ConvModule(p + ".short_conv", {in_c, mid, 1}, eps, Act::kSiLU);
  l.final_conv = ld.ConvModule(p + ".final_conv", {2 * mid, out_c, 1}, eps, Act::kSiLU);
  for (int b = 0; b < num_blocks; ++b) {
    const std::string q = p + ".blocks." + std::to_string(b);
    DarknetBottleneck<T> blk;
    blk.conv1 = ld.ConvModule(q + ".conv1", {mid, mid, 1}, eps, Act::kSiLU);
    blk.conv2 = ld.ConvModule(q + ".conv2", {mid, mid, 3}, eps, Act::kSiLU);
    blk.add_identity = add_identity;
    l.blocks.push_back(std::move(blk));
  }
  return l;
}

template <typename T>
CSPLayerBuffers<T> AllocCSPLayer(nn::Buffers<T>* b, int out_c, int h, int w) {
  const int mid = CspMid(out_c);
  CSPLayerBuffers<T> buf;
  buf.cat = b->NewMap(2 * mid, h, w);
  for (auto& t : buf.tmp) t = b->NewMap(mid, h, w);
  return buf;
}

template <typename T>
void CSPLayerForward(const nn::Env<T>& env, const CSPLayer<T>& p, MapIn<T> x, Map<T> y,
                     const CSPLayerBuffers<T>& buf) {
  const int mid = p.main_conv.shape().out_c;
  const std::array<Map<T>, 3>& t = buf.tmp;
  // Concat order (main, short) (csp_layer.py:269): each producer writes its own slice.
  nn::Conv(env, p.short_conv, x, buf.cat.Slice(mid, mid));
  // The blocks rotate over three buffers (block input, conv1 output, block output) because
  // a block's output adds its input; the last block writes the concat's main slice.
  int cur = 0;
  nn::Conv(env, p.main_conv, x, p.blocks.empty() ? buf.cat.Slice(0, mid) : t[cur]);
  for (size_t b = 0; b < p.blocks.size(); ++b) {
    const DarknetBottleneck<T>& blk = p.blocks[b];
    const int hidden = (cur + 1) % 3, next = (cur + 2) % 3;
    const Map<T> out = b + 1 == p.blocks.size() ? buf.cat.Slice(0, mid) : t[next];
    nn::Conv(env, blk.conv1, t[cur], t[hidden]);
    nn::Conv(env, blk.conv2, t[hidden], out, blk.add_identity ? t[cur].data : nullptr);
    cur = next;
  }
  nn::Conv(env, p.final_conv, buf.cat, y);
}

template <typename T>
void SPPBottleneckForward(const nn::Env<T>& env, const SPPBottleneck<T>& p, MapIn<T> x, Map<T> y,
                          Map<T> cat) {
  // conv1 writes slice 0 of the concat; each pooling reads it and writes its own slice.
  const int mid = p.conv1.shape().out_c;
  const Map<T> pooled = cat.Slice(0, mid);
  nn::Conv(env, p.conv1, x, pooled);
  for (int k = 0; k < 3; ++k) nn::MaxPool(env, pooled, p.kernels[k], cat.Slice((k + 1) * mid, mid));
  nn::Conv(env, p.conv2, cat, y);  // x has been read by conv1: y may alias it
}

template <typename T>
CSPDarknet<T> LoadCSPDarknet(nn::Loader<T>& ld, const ModelConfig& cfg) {
  const double eps = cfg.bn_eps_backbone;
  CSPDarknet<T> net;
  net.stem = ld.ConvModule("backbone.stem.conv", {12, cfg.stem_channels, 3}, eps, Act::kSiLU);
  int in_c = cfg.stem_channels;
  for (int i = 0; i < 4; ++i) {
    const std::string p = "backbone.stage" + std::to_string(i + 1);
    const int out_c = cfg.stage_channels[i];
    DarknetStage<T>& st = net.stages[i];
    st.down = ld.ConvModule(p + ".0", {in_c, out_c, 3, 2}, eps, Act::kSiLU);
    int csp_index = 1;
    if (i == 3) {  // use_spp only in the last stage (csp_darknet.py:237-243)
      SPPBottleneck<T> spp;
      const int mid = out_c / 2;
      spp.conv1 = ld.ConvModule(p + ".1.conv1", {out_c, mid, 1}, eps, Act::kSiLU);
      spp.conv2 = ld.ConvModule(p + ".1.conv2", {4 * mid, out_c, 1}, eps, Act::kSiLU);
      spp.kernels = {cfg.spp_kernels[0], cfg.spp_kernels[1], cfg.spp_kernels[2]};
      st.spp = std::move(spp);
      csp_index = 2;
    }
    // add_identity is False in the last stage (arch P5, csp_darknet.py:171-173).
    st.csp = LoadCSPLayer(ld, p + "." + std::to_string(csp_index), out_c, out_c,
                          cfg.stage_blocks[i], /*add_identity=*/i < 3, eps);
    in_c = out_c;
  }
  return net;
}

template <typename T>
CSPDarknetMaps<T> AllocCSPDarknet(nn::Buffers<T>* b, const ModelConfig& cfg, int input_w,
                                  int input_h) {
  CSPDarknetMaps<T> m;
  int h = input_h / 2, w = input_w / 2;
  m.focus = b->NewMap(12, h, w);
  m.stem = b->NewMap(cfg.stem_channels, h, w);
  for (int i = 0; i < 4; ++i) {
    h = (h + 1) / 2;  // 3x3 stride 2 pad 1: ceil(h / 2)
    w = (w + 1) / 2;
    const int c = cfg.stage_channels[i];
    m.down[i] = b->NewMap(c, h, w);
    m.csp[i] = AllocCSPLayer(b, c, h, w);
    m.stage[i] = b->NewMap(c, h, w);
    if (i == 3) m.spp_cat = b->NewMap(4 * (c / 2), h, w);
  }
  return m;
}

template <typename T>
void DarknetStageForward(const nn::Env<T>& env, const DarknetStage<T>& p, MapIn<T> x, int i,
                         CSPDarknetMaps<T>& m) {
  nn::Conv(env, p.down, x, m.down[i]);
  if (p.spp) SPPBottleneckForward(env, *p.spp, m.down[i], m.down[i], m.spp_cat);
  CSPLayerForward(env, p.csp, m.down[i], m.stage[i], m.csp[i]);
}

#define RTMO_INSTANTIATE(T)                                                                      \
  template void Focus<T>(MapIn<T>, Map<T>);                                                      \
  template CSPDarknet<T> LoadCSPDarknet<T>(nn::Loader<T>&, const ModelConfig&);                  \
  template CSPDarknetMaps<T> AllocCSPDarknet<T>(nn::Buffers<T>*, const ModelConfig&, int, int);  \
  template void DarknetStageForward<T>(const nn::Env<T>&, const DarknetStage<T>&, MapIn<T>, int, \
                                       CSPDarknetMaps<T>&);
RTMO_INSTANTIATE(float)
RTMO_INSTANTIATE(double)
#undef RTMO_INSTANTIATE

}  // namespace rtmo
