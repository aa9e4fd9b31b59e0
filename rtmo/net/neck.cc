#include "rtmo/net/neck.h"

#include <cmath>

#include "rtmo/net/math.h"

namespace rtmo {

using kernels::Act;

namespace {

template <typename T>
RepVGGBlock<T> LoadRepVGG(nn::Loader<T>& ld, const std::string& p, int c, double eps) {
  nn::RawConv k3 = ld.ReadConvModule(p + ".branch_3x3", {c, c, 3}, eps);
  const nn::RawConv k1 = ld.ReadConvModule(p + ".branch_1x1", {c, c, 1}, eps);
  if (!ld.declare_only()) {
    // Deploy fusion (reparam_layers.py:183-217): pad the 1x1 kernel to 3x3 (centre tap,
    // index 4 of the row-major 3x3 window) and add; biases add.
    for (size_t oi = 0; oi < static_cast<size_t>(c) * c; ++oi) k3.w[oi * 9 + 4] += k1.w[oi];
    for (int o = 0; o < c; ++o) k3.b[o] += k1.b[o];
  }
  return RepVGGBlock<T>{ld.Pack(k3, Act::kSiLU)};
}

template <typename T>
CSPRepLayer<T> LoadCSPRepLayer(nn::Loader<T>& ld, const std::string& p, int in_c, int out_c,
                               int hidden, int blocks, double eps) {
  CSPRepLayer<T> l;
  l.conv1 = ld.ConvModule(p + ".conv1", {in_c, hidden, 1}, eps, Act::kSiLU);
  l.conv2 = ld.ConvModule(p + ".conv2", {in_c, hidden, 1}, eps, Act::kSiLU);
  for (int b = 0; b < blocks; ++b) {
    l.bottlenecks.push_back(LoadRepVGG(ld, p + ".bottlenecks." + std::to_string(b), hidden, eps));
  }
  // hybrid_encoder.py:60-68: conv3 only when hidden != out (Identity for rtmo-l).
  if (hidden != out_c) l.conv3 = ld.ConvModule(p + ".conv3", {hidden, out_c, 1}, eps, Act::kSiLU);
  return l;
}

}  // namespace

template <typename T>
void CSPRepLayerForward(const nn::Env<T>& env, const CSPRepLayer<T>& p, MapIn<T> x, Map<T> y,
                        const std::array<Map<T>, 4>& t) {
  const Map<T> x2 = t[0];
  nn::Conv(env, p.conv2, x, x2);
  // The sum bottlenecks(conv1(x)) + conv2(x) is the residual epilogue of the last conv.
  const Map<T> sum = p.conv3 ? t[3] : y;
  if (p.bottlenecks.empty()) {
    nn::Conv(env, p.conv1, x, sum, x2.data);
  } else {
    int cur = 1;
    nn::Conv(env, p.conv1, x, t[cur]);
    for (size_t b = 0; b < p.bottlenecks.size(); ++b) {
      const bool last = b + 1 == p.bottlenecks.size();
      const int next = cur == 1 ? 2 : 1;
      nn::Conv(env, p.bottlenecks[b].fused, t[cur], last ? sum : t[next], last ? x2.data : nullptr);
      cur = next;
    }
  }
  if (p.conv3) nn::Conv(env, *p.conv3, sum, y);
}

template <typename T>
void SinePositionalEncoding2D(const T* dim_t, int d, int h, int w, T* pe) {
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      T* row = pe + (static_cast<size_t>(y) * w + x) * 4 * d;
      for (int i = 0; i < d; ++i) {
        // The division in T as PyTorch does; cos/sin as PyTorch evaluates them (math.h).
        const T fy = static_cast<T>(y) / dim_t[i];
        const T fx = static_cast<T>(x) / dim_t[i];
        row[i] = math::Cos(fy);
        row[d + i] = math::Sin(fy);
        row[2 * d + i] = math::Cos(fx);
        row[3 * d + i] = math::Sin(fx);
      }
    }
  }
}

template <typename T>
void TransformerEncoderLayerForward(const nn::Env<T>& env, const TransformerEncoderLayer<T>& p,
                                    MatIn<T> pe, Mat<T> x, const EncoderBuffers<T>& m) {
  const int C = x.cols, n = x.rows;
  // Positional encoding goes into queries and keys only; values and the residual use x
  // (mmcv MultiheadAttention: identity = query before query + query_pos).
  nn::Add(env, x.data, pe.data, static_cast<size_t>(n) * C, m.tokens_pe.data);
  nn::Linear(env, p.qk_proj, m.tokens_pe, m.qkv.Cols(0, 2 * C));
  nn::Linear(env, p.v_proj, x, m.qkv.Cols(2 * C, C));
  nn::Attention(env, m.qkv.Cols(0, C), m.qkv.Cols(C, C), m.qkv.Cols(2 * C, C), p.heads, m.attn);
  nn::Linear(env, p.out_proj, m.attn, m.x1);
  nn::Add(env, m.x1.data, x.data, static_cast<size_t>(n) * C, m.x1.data);
  nn::LayerNorm(env, p.norm0, m.x1, m.x1);
  // FFN (mmcv FFN, add_identity=True): x1 + Linear2(GELU(Linear1(x1))).
  nn::Linear(env, p.ffn1, m.x1, m.ffn_hidden);
  nn::Gelu(env, m.ffn_hidden.data, static_cast<size_t>(n) * m.ffn_hidden.cols, m.ffn_hidden.data);
  nn::Linear(env, p.ffn2, m.ffn_hidden, m.x2);
  nn::Add(env, m.x2.data, m.x1.data, static_cast<size_t>(n) * C, m.x2.data);
  nn::LayerNorm(env, p.norm1, m.x2, x);
}

template <typename T>
HybridEncoder<T> LoadHybridEncoder(nn::Loader<T>& ld, const ModelConfig& cfg) {
  const double eps = cfg.bn_eps_neck;
  const int C = cfg.neck_hidden, F = cfg.encoder_ffn;
  const int hid = cfg.csp_rep_hidden, blocks = cfg.rep_blocks;
  HybridEncoder<T> n;
  for (int i = 0; i < 3; ++i) {
    n.input_proj[i] = ld.ConvModule("neck.input_proj." + std::to_string(i),
                                    {cfg.stage_channels[i + 1], C, 1}, eps, Act::kNone);
  }
  for (int l = 0; l < cfg.encoder_layers; ++l) {
    const std::string p = "neck.encoder.0.layers." + std::to_string(l);
    TransformerEncoderLayer<T> L;
    L.heads = cfg.encoder_heads;
    // nn.MultiheadAttention packs q, k, v projections as in_proj_weight [3C, C] (rows q, k,
    // v): q and k read x + pe, v reads x, so the packed matrix is split into [2C, C] and
    // [C, C] Linears (both still named by the one checkpoint tensor).
    const float* w = ld.Raw(p + ".self_attn.attn.in_proj_weight", {3 * C, C});
    const float* b = ld.Raw(p + ".self_attn.attn.in_proj_bias", {3 * C});
    L.qk_proj = nn::LinearFromRows<T>(w, b, 0, 2 * C, C, ld.declare_only());
    L.v_proj = nn::LinearFromRows<T>(w, b, 2 * C, C, C, ld.declare_only());
    L.out_proj = ld.Linear(p + ".self_attn.attn.out_proj", C, C);
    L.ffn1 = ld.Linear(p + ".ffn.layers.0.0", C, F);
    L.ffn2 = ld.Linear(p + ".ffn.layers.1", F, C);
    L.norm0 = ld.LayerNorm(p + ".norms.0", C, cfg.ln_eps);
    L.norm1 = ld.LayerNorm(p + ".norms.1", C, cfg.ln_eps);
    n.encoder.push_back(std::move(L));
  }
  // SinePositionalEncoding(C/2 per axis): dim_t has C/4 entries.
  n.pe_dim_t = ld.Tensor("neck.sincos_pos_enc.dim_t", {C / 4});
  for (int i = 0; i < 2; ++i) {
    n.lateral_convs[i] =
        ld.ConvModule("neck.lateral_convs." + std::to_string(i), {C, C, 1}, eps, Act::kSiLU);
  }
  for (int i = 0; i < 2; ++i) {
    n.fpn_blocks[i] =
        LoadCSPRepLayer(ld, "neck.fpn_blocks." + std::to_string(i), 2 * C, C, hid, blocks, eps);
  }
  for (int i = 0; i < 2; ++i) {
    n.downsample_convs[i] =
        ld.ConvModule("neck.downsample_convs." + std::to_string(i), {C, C, 3, 2}, eps, Act::kSiLU);
  }
  for (int i = 0; i < 2; ++i) {
    n.pan_blocks[i] =
        LoadCSPRepLayer(ld, "neck.pan_blocks." + std::to_string(i), 2 * C, C, hid, blocks, eps);
  }
  for (int i = 0; i < 2; ++i) {
    // ChannelMapper (channel_mapper.py): ConvModule 1x1 with the neck's BN, no activation.
    n.projector[i] = ld.ConvModule("neck.projector.convs." + std::to_string(i),
                                   {C, cfg.projector_out, 1}, eps, Act::kNone);
  }
  return n;
}

template <typename T>
HybridEncoderMaps<T> AllocHybridEncoder(nn::Buffers<T>* b, const ModelConfig& cfg,
                                        const HybridEncoder<T>& net, int input_w, int input_h) {
  const int C = cfg.neck_hidden, F = cfg.encoder_ffn, hid = cfg.csp_rep_hidden;
  int hs[3], ws[3];  // strides 8, 16, 32
  for (int i = 0; i < 3; ++i) {
    hs[i] = input_h >> (3 + i);
    ws[i] = input_w >> (3 + i);
  }
  HybridEncoderMaps<T> m;
  m.fpn_cat[0] = b->NewMap(2 * C, hs[1], ws[1]);
  m.fpn_cat[1] = b->NewMap(2 * C, hs[0], ws[0]);
  m.pan_cat[0] = b->NewMap(2 * C, hs[1], ws[1]);
  m.pan_cat[1] = b->NewMap(2 * C, hs[2], ws[2]);
  // The stride-8 and stride-16 projections are the skip halves of the FPN concats.
  m.input_proj[0] = m.fpn_cat[1].Slice(C, C);
  m.input_proj[1] = m.fpn_cat[0].Slice(C, C);
  m.input_proj[2] = b->NewMap(C, hs[2], ws[2]);
  const int T32 = hs[2] * ws[2];
  m.pos_enc = b->NewConstantMat(T32, C);
  // Computed for this input size (the encoder's h x w) once per context.
  if (net.pe_dim_t.size()) {
    SinePositionalEncoding2D(net.pe_dim_t.data(), C / 4, hs[2], ws[2], m.pos_enc.data);
  }
  m.enc.tokens = b->NewMat(T32, C);
  m.enc.tokens_pe = b->NewMat(T32, C);
  m.enc.qkv = b->NewMat(T32, 3 * C);
  m.enc.attn = b->NewMat(T32, C);
  m.enc.x1 = b->NewMat(T32, C);
  m.enc.ffn_hidden = b->NewMat(T32, F);
  m.enc.x2 = b->NewMat(T32, C);
  m.encoder = b->NewMap(C, hs[2], ws[2]);
  m.fpn_out[0] = b->NewMap(C, hs[1], ws[1]);
  m.fpn_out[1] = b->NewMap(C, hs[0], ws[0]);
  m.pan_out[0] = b->NewMap(C, hs[1], ws[1]);
  m.pan_out[1] = b->NewMap(C, hs[2], ws[2]);
  m.out[0] = b->NewMap(cfg.projector_out, hs[1], ws[1]);
  m.out[1] = b->NewMap(cfg.projector_out, hs[2], ws[2]);
  for (int l = 0; l < 3; ++l) {
    for (auto& t : m.rep_tmp[l]) t = b->NewMap(hid, hs[l], ws[l]);
  }
  return m;
}

template <typename T>
void EncoderForward(const nn::Env<T>& env, const HybridEncoder<T>& p, HybridEncoderMaps<T>& m) {
  const int C = m.encoder.c, n = static_cast<int>(m.encoder.plane());
  nn::Transpose(m.input_proj[2].data, C, n, m.enc.tokens.data);
  for (const TransformerEncoderLayer<T>& layer : p.encoder) {
    TransformerEncoderLayerForward(env, layer, m.pos_enc, m.enc.tokens, m.enc);
  }
  nn::Transpose(m.enc.tokens.data, n, C, m.encoder.data);
}

template <typename T>
void FpnStep(const nn::Env<T>& env, const HybridEncoder<T>& p, int i, HybridEncoderMaps<T>& m) {
  const int C = m.encoder.c;
  // Step 0 reads the encoder output (stride 32), step 1 the first FPN block (stride 16).
  const Map<T> coarse = i == 0 ? m.encoder : m.fpn_out[0];
  const Map<T> lateral = m.pan_cat[1 - i].Slice(C, C);
  nn::Conv(env, p.lateral_convs[i], coarse, lateral);
  nn::Upsample2x(env, lateral, m.fpn_cat[i].Slice(0, C));
  CSPRepLayerForward(env, p.fpn_blocks[i], m.fpn_cat[i], m.fpn_out[i], m.rep_tmp[1 - i]);
}

template <typename T>
void PanStep(const nn::Env<T>& env, const HybridEncoder<T>& p, int i, HybridEncoderMaps<T>& m) {
  const int C = m.encoder.c;
  // Step 0 reads the last FPN output (stride 8), step 1 the first PAN output (stride 16).
  const Map<T> fine = i == 0 ? m.fpn_out[1] : m.pan_out[0];
  nn::Conv(env, p.downsample_convs[i], fine, m.pan_cat[i].Slice(0, C));
  CSPRepLayerForward(env, p.pan_blocks[i], m.pan_cat[i], m.pan_out[i], m.rep_tmp[1 + i]);
}

#define RTMO_INSTANTIATE(T)                                                                \
  template HybridEncoder<T> LoadHybridEncoder<T>(nn::Loader<T>&, const ModelConfig&);      \
  template HybridEncoderMaps<T> AllocHybridEncoder<T>(nn::Buffers<T>*, const ModelConfig&, \
                                                      const HybridEncoder<T>&, int, int);  \
  template void EncoderForward<T>(const nn::Env<T>&, const HybridEncoder<T>&,              \
                                  HybridEncoderMaps<T>&);                                  \
  template void FpnStep<T>(const nn::Env<T>&, const HybridEncoder<T>&, int,                \
                           HybridEncoderMaps<T>&);                                         \
  template void PanStep<T>(const nn::Env<T>&, const HybridEncoder<T>&, int,                \
                           HybridEncoderMaps<T>&);                                         \
  template void SinePositionalEncoding2D<T>(const T*, int, int, int, T*);
RTMO_INSTANTIATE(float)
RTMO_INSTANTIATE(double)
#undef RTMO_INSTANTIATE

}  // namespace rtmo
