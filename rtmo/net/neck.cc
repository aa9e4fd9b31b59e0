#include "rtmo/net/neck.h"

#include <cmath>
#include <cstring>
#include <string>

#include "rtmo/net/timing.h"

namespace rtmo {

using kernels::Act;
using nn::ConvSpec;
using nn::MapView;

namespace {

RepVGGBlock LoadRepVGG(const Weights& w, const kernels::Ops& ops, const std::string& p, int c,
                       float eps) {
  nn::ConvWeights k3 = nn::ReadConvModule(w, p + ".branch_3x3", {c, c, 3}, eps);
  const nn::ConvWeights k1 = nn::ReadConvModule(w, p + ".branch_1x1", {c, c, 1}, eps);
  // Deploy fusion (reparam_layers.py:183-217): pad the 1x1 kernel to 3x3 (centre tap,
  // index 4 of the row-major 3x3 window) and add; biases add.
  for (size_t oi = 0; oi < static_cast<size_t>(c) * c; ++oi) k3.w[oi * 9 + 4] += k1.w[oi];
  for (int o = 0; o < c; ++o) k3.b[o] += k1.b[o];
  return RepVGGBlock{nn::Pack(ops, k3, Act::kSiLU)};
}

CSPRepLayer LoadCSPRep(const Weights& w, const kernels::Ops& ops, const std::string& p, int in_c,
                       int out_c, int hidden, int blocks, float eps) {
  CSPRepLayer l;
  l.conv1 = nn::LoadConvModule(w, ops, p + ".conv1", {in_c, hidden, 1}, eps, Act::kSiLU);
  l.conv2 = nn::LoadConvModule(w, ops, p + ".conv2", {in_c, hidden, 1}, eps, Act::kSiLU);
  for (int b = 0; b < blocks; ++b) {
    l.bottlenecks.push_back(
        LoadRepVGG(w, ops, p + ".bottlenecks." + std::to_string(b), hidden, eps));
  }
  // hybrid_encoder.py:60-68: conv3 only when hidden != out (Identity for rtmo-l).
  if (hidden != out_c) {
    l.conv3 = nn::LoadConvModule(w, ops, p + ".conv3", {hidden, out_c, 1}, eps, Act::kSiLU);
  }
  return l;
}

// x: [2C, h, w] -> y: [C, h, w]; t: four [hidden, h, w] scratch maps.
void CSPRepForward(const kernels::Ops& ops, const CSPRepLayer& l, const MapView& x,
                   const MapView& y, const std::array<MapView, 4>& t, kernels::Scratch* s) {
  const MapView& x2 = t[0];
  nn::Run(ops, l.conv2, x, x2, s);
  // The sum bottlenecks(conv1(x)) + conv2(x) is the residual epilogue of the last conv.
  const MapView sum = l.conv3 ? t[3] : y;
  if (l.bottlenecks.empty()) {
    nn::Run(ops, l.conv1, x, sum, s, x2.data);
  } else {
    int cur = 1;
    nn::Run(ops, l.conv1, x, t[cur], s);
    for (size_t b = 0; b < l.bottlenecks.size(); ++b) {
      const bool last = b + 1 == l.bottlenecks.size();
      const int next = cur == 1 ? 2 : 1;
      nn::Run(ops, l.bottlenecks[b].fused, t[cur], last ? sum : t[next], s,
              last ? x2.data : nullptr);
      cur = next;
    }
  }
  if (l.conv3) nn::Run(ops, *l.conv3, sum, y, s);
}

// 2-D sine positional encoding (transformer.py:423-537 with spatial_dim=2, as the neck
// reshapes it at hybrid_encoder.py:241-243): token t = y*w + x gets
// [cos(y/dim_t), sin(y/dim_t), cos(x/dim_t), sin(x/dim_t)] (64 each for C = 256), with raw
// integer positions and dim_t = temperature^(i/64) taken from the checkpoint buffer.
// pe: [h*w, 4*D] where dim_t: [D].
void SinePE2D(const float* dim_t, int d, int h, int w, float* pe) {
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      float* row = pe + (static_cast<size_t>(y) * w + x) * 4 * d;
      for (int i = 0; i < d; ++i) {
        // float32 division as PyTorch does; cos/sin evaluated in double, rounded once.
        const float fy = static_cast<float>(y) / dim_t[i];
        const float fx = static_cast<float>(x) / dim_t[i];
        row[i] = static_cast<float>(std::cos(static_cast<double>(fy)));
        row[d + i] = static_cast<float>(std::sin(static_cast<double>(fy)));
        row[2 * d + i] = static_cast<float>(std::cos(static_cast<double>(fx)));
        row[3 * d + i] = static_cast<float>(std::sin(static_cast<double>(fx)));
      }
    }
  }
}

// x: [T, C] (token-major) -> x: [T, C], one post-norm encoder layer; pe: [T, C].
void EncoderLayerForward(const kernels::Ops& ops, const EncoderLayer& L, int T, int C, int F,
                         const float* pe, float* x, NeckMaps& m, kernels::Scratch* s) {
  // Positional encoding goes into queries and keys only; values and the residual use x
  // (mmcv MultiheadAttention: identity = query before query + query_pos).
  ops.add(x, pe, static_cast<size_t>(T) * C, m.tokens_pe);
  const int ld = 3 * C;
  ops.gemm(T, 2 * C, C, m.tokens_pe, C, L.in_proj_w.data(), C, /*trans_b=*/true, L.in_proj_b.data(),
           Act::kNone, m.qkv, ld, s);
  ops.gemm(T, C, C, x, C, L.in_proj_w.data() + static_cast<size_t>(2 * C) * C, C, true,
           L.in_proj_b.data() + 2 * C, Act::kNone, m.qkv + 2 * C, ld, s);
  ops.attention(m.qkv, m.qkv + C, m.qkv + 2 * C, ld, T, L.heads, C / L.heads, m.attn, C, s);
  ops.gemm(T, C, C, m.attn, C, L.out_proj_w.data(), C, true, L.out_proj_b.data(), Act::kNone, m.x1,
           C, s);
  ops.add(m.x1, x, static_cast<size_t>(T) * C, m.x1);
  ops.layernorm(m.x1, T, C, L.ln0_g.data(), L.ln0_b.data(), L.ln_eps, m.x1);
  // FFN (mmcv FFN, add_identity=True): x1 + Linear2(GELU(Linear1(x1))).
  ops.gemm(T, F, C, m.x1, C, L.ffn1_w.data(), C, true, L.ffn1_b.data(), Act::kNone, m.ffn_hidden, F,
           s);
  ops.gelu(m.ffn_hidden, static_cast<size_t>(T) * F, m.ffn_hidden);
  ops.gemm(T, C, F, m.ffn_hidden, F, L.ffn2_w.data(), F, true, L.ffn2_b.data(), Act::kNone, m.x2, C,
           s);
  ops.add(m.x2, m.x1, static_cast<size_t>(T) * C, m.x2);
  ops.layernorm(m.x2, T, C, L.ln1_g.data(), L.ln1_b.data(), L.ln_eps, x);
}

void Transpose(const float* src, int rows, int cols, float* dst) {
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      dst[static_cast<size_t>(c) * rows + r] = src[static_cast<size_t>(r) * cols + c];
    }
  }
}

}  // namespace

Neck LoadNeck(const Weights& w, const ModelConfig& cfg, const kernels::Ops& ops) {
  const float eps = cfg.bn_eps_neck;
  const int C = cfg.neck_hidden, F = cfg.encoder_ffn;
  const int hid = cfg.csp_rep_hidden, blocks = cfg.rep_blocks;
  Neck n;
  const int in_c[3] = {cfg.stage_channels[1], cfg.stage_channels[2], cfg.stage_channels[3]};
  for (int i = 0; i < 3; ++i) {
    n.input_proj[i] = nn::LoadConvModule(w, ops, "neck.input_proj." + std::to_string(i),
                                         {in_c[i], C, 1}, eps, Act::kNone);
  }
  for (int l = 0; l < cfg.encoder_layers; ++l) {
    const std::string p = "neck.encoder.0.layers." + std::to_string(l);
    EncoderLayer L;
    L.heads = cfg.encoder_heads;
    L.ln_eps = cfg.ln_eps;
    L.in_proj_w = nn::CopyTensor(w, p + ".self_attn.attn.in_proj_weight", {3 * C, C});
    L.in_proj_b = nn::CopyTensor(w, p + ".self_attn.attn.in_proj_bias", {3 * C});
    L.out_proj_w = nn::CopyTensor(w, p + ".self_attn.attn.out_proj.weight", {C, C});
    L.out_proj_b = nn::CopyTensor(w, p + ".self_attn.attn.out_proj.bias", {C});
    L.ffn1_w = nn::CopyTensor(w, p + ".ffn.layers.0.0.weight", {F, C});
    L.ffn1_b = nn::CopyTensor(w, p + ".ffn.layers.0.0.bias", {F});
    L.ffn2_w = nn::CopyTensor(w, p + ".ffn.layers.1.weight", {C, F});
    L.ffn2_b = nn::CopyTensor(w, p + ".ffn.layers.1.bias", {C});
    L.ln0_g = nn::CopyTensor(w, p + ".norms.0.weight", {C});
    L.ln0_b = nn::CopyTensor(w, p + ".norms.0.bias", {C});
    L.ln1_g = nn::CopyTensor(w, p + ".norms.1.weight", {C});
    L.ln1_b = nn::CopyTensor(w, p + ".norms.1.bias", {C});
    n.encoder.push_back(std::move(L));
  }
  const int h32 = cfg.input_h / 32, w32 = cfg.input_w / 32;
  const float* dim_t = w.Require("neck.sincos_pos_enc.dim_t", {C / 4});
  n.pos_enc.Resize(static_cast<size_t>(h32) * w32 * C);
  SinePE2D(dim_t, C / 4, h32, w32, n.pos_enc.data());
  for (int i = 0; i < 2; ++i) {
    const std::string k = std::to_string(i);
    n.lateral_convs[i] =
        nn::LoadConvModule(w, ops, "neck.lateral_convs." + k, {C, C, 1}, eps, Act::kSiLU);
    n.fpn_blocks[i] = LoadCSPRep(w, ops, "neck.fpn_blocks." + k, 2 * C, C, hid, blocks, eps);
    n.downsample_convs[i] =
        nn::LoadConvModule(w, ops, "neck.downsample_convs." + k, {C, C, 3, 2}, eps, Act::kSiLU);
    n.pan_blocks[i] = LoadCSPRep(w, ops, "neck.pan_blocks." + k, 2 * C, C, hid, blocks, eps);
    // ChannelMapper (channel_mapper.py): ConvModule 1x1 with the neck's BN, no activation.
    n.projector[i] = nn::LoadConvModule(w, ops, "neck.projector.convs." + k,
                                        {C, cfg.projector_out, 1}, eps, Act::kNone);
  }
  return n;
}

NeckMaps AllocNeck(const ModelConfig& cfg, nn::Buffers* b) {
  const int C = cfg.neck_hidden, F = cfg.encoder_ffn, hid = cfg.csp_rep_hidden;
  int hs[3], ws[3];  // strides 8, 16, 32
  for (int i = 0; i < 3; ++i) {
    hs[i] = cfg.input_h >> (3 + i);
    ws[i] = cfg.input_w >> (3 + i);
  }
  NeckMaps m;
  m.fpn_cat[0] = b->Map(2 * C, hs[1], ws[1]);
  m.fpn_cat[1] = b->Map(2 * C, hs[0], ws[0]);
  m.pan_cat[0] = b->Map(2 * C, hs[1], ws[1]);
  m.pan_cat[1] = b->Map(2 * C, hs[2], ws[2]);
  // The stride-8 and stride-16 projections are the skip halves of the FPN concats.
  m.input_proj[0] = m.fpn_cat[1].Slice(C, C);
  m.input_proj[1] = m.fpn_cat[0].Slice(C, C);
  m.input_proj[2] = b->Map(C, hs[2], ws[2]);
  const size_t T = static_cast<size_t>(hs[2]) * ws[2];
  m.encoder = b->Map(C, hs[2], ws[2]);
  m.tokens = b->Floats(T * C);
  m.tokens_pe = b->Floats(T * C);
  m.qkv = b->Floats(T * 3 * C);
  m.attn = b->Floats(T * C);
  m.x1 = b->Floats(T * C);
  m.ffn_hidden = b->Floats(T * F);
  m.x2 = b->Floats(T * C);
  m.fpn_out[0] = b->Map(C, hs[1], ws[1]);
  m.fpn_out[1] = b->Map(C, hs[0], ws[0]);
  m.pan_out[0] = b->Map(C, hs[1], ws[1]);
  m.pan_out[1] = b->Map(C, hs[2], ws[2]);
  m.out[0] = b->Map(cfg.projector_out, hs[1], ws[1]);
  m.out[1] = b->Map(cfg.projector_out, hs[2], ws[2]);
  for (int l = 0; l < 3; ++l) {
    for (auto& t : m.rep_tmp[l]) t = b->Map(hid, hs[l], ws[l]);
  }
  return m;
}

void NeckForward(const kernels::Ops& ops, const Neck& n, const MapView& stage2,
                 const MapView& stage3, const MapView& stage4, NeckMaps& m, kernels::Scratch* s) {
  const int C = m.encoder.c;
  nn::Run(ops, n.input_proj[0], stage2, m.input_proj[0], s);
  nn::Run(ops, n.input_proj[1], stage3, m.input_proj[1], s);
  nn::Run(ops, n.input_proj[2], stage4, m.input_proj[2], s);
  timing::Lap("neck.input_proj");  // bench/ laps (rtmo/net/timing.h); no-op otherwise

  // Encoder on the stride-32 level (use_encoder_idx=[2]): tokens = flatten(2).permute(0,2,1).
  const int T = static_cast<int>(m.encoder.plane());
  Transpose(m.input_proj[2].data, C, T, m.tokens);
  for (const EncoderLayer& L : n.encoder) {
    const int F = static_cast<int>(L.ffn1_b.size());
    EncoderLayerForward(ops, L, T, C, F, n.pos_enc.data(), m.tokens, m, s);
  }
  Transpose(m.tokens, T, C, m.encoder.data);
  timing::Lap("neck.encoder");

  // Top-down FPN (hybrid_encoder.py:250-263). The lateral outputs are also the PAN's skip
  // inputs (inner_outs is updated in place), so they are written into the PAN concats.
  const MapView lat0 = m.pan_cat[1].Slice(C, C);  // stride 32
  nn::Run(ops, n.lateral_convs[0], m.encoder, lat0, s);
  ops.upsample2x(lat0.data, C, lat0.h, lat0.w, m.fpn_cat[0].Slice(0, C).data);
  CSPRepForward(ops, n.fpn_blocks[0], m.fpn_cat[0], m.fpn_out[0], m.rep_tmp[1], s);
  const MapView lat1 = m.pan_cat[0].Slice(C, C);  // stride 16
  nn::Run(ops, n.lateral_convs[1], m.fpn_out[0], lat1, s);
  ops.upsample2x(lat1.data, C, lat1.h, lat1.w, m.fpn_cat[1].Slice(0, C).data);
  CSPRepForward(ops, n.fpn_blocks[1], m.fpn_cat[1], m.fpn_out[1], m.rep_tmp[0], s);
  timing::Lap("neck.fpn");

  // Bottom-up PAN (l.265-273): cat[downsample(previous), lateral].
  nn::Run(ops, n.downsample_convs[0], m.fpn_out[1], m.pan_cat[0].Slice(0, C), s);
  CSPRepForward(ops, n.pan_blocks[0], m.pan_cat[0], m.pan_out[0], m.rep_tmp[1], s);
  nn::Run(ops, n.downsample_convs[1], m.pan_out[0], m.pan_cat[1].Slice(0, C), s);
  CSPRepForward(ops, n.pan_blocks[1], m.pan_cat[1], m.pan_out[1], m.rep_tmp[2], s);
  timing::Lap("neck.pan");

  // output_indices=[1, 2] -> projector.
  nn::Run(ops, n.projector[0], m.pan_out[0], m.out[0], s);
  nn::Run(ops, n.projector[1], m.pan_out[1], m.out[1], s);
  timing::Lap("neck.projector");
}

}  // namespace rtmo
