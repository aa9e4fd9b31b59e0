#include "rtmo/net/dcc.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

namespace rtmo {

using kernels::Act;

namespace {

// rtmo_head.py:310-330 (_apply_softmax) and l.22 (EPS = 1e-8).
constexpr float kLogitClamp = 5e4f;
constexpr float kSoftmaxEps = 1e-8f;
// ScaleNorm eps (a clamp, not an addend): GAUEncoder default eps=1e-5 (transformer.py:644).
constexpr float kScaleNormEps = 1e-5f;

// A Linear weight [out, in] -> its transpose [in, out] (see Dcc).
nn::AlignedBuffer<float> Transposed(const float* w, int64_t out, int64_t in) {
  nn::AlignedBuffer<float> t(static_cast<size_t>(out * in));
  for (int64_t o = 0; o < out; ++o) {
    for (int64_t i = 0; i < in; ++i) t[i * out + o] = w[o * in + i];
  }
  return t;
}

// Row-wise softmax of rtmo_head.py:310-330 with its clamp and epsilon, then the integral
// decode of l.401-429 with absolute bins: returns sum_i p_i * (bins_i * scale + center).
// logits: [cols] -> x: [cols] probabilities.
float SoftmaxIntegral(const float* logits, int cols, const float* bins, float scale, float center,
                      float* x) {
  float mx = -INFINITY;
  for (int i = 0; i < cols; ++i) {
    x[i] = std::min(std::max(logits[i], -kLogitClamp), kLogitClamp);
    mx = std::max(mx, x[i]);
  }
  double sum = 0;
  for (int i = 0; i < cols; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const float denom = static_cast<float>(sum) + kSoftmaxEps;
  double acc = 0;
  for (int i = 0; i < cols; ++i) {
    x[i] = x[i] / denom;
    const float bin = bins[i] * scale + center;  // float32, as x_bins * scale + center
    acc += static_cast<double>(x[i] * bin);
  }
  return static_cast<float>(acc);
}

// Bin encodings (rtmo_head.py:332-365): pos_i = bins_i * scale + (center - prior), then the
// 1-D SinePositionalEncoding [cos(pos / dim_t), sin(pos / dim_t)] (transformer.py:505-510,
// cos first) and the fc adapter. -> enc_out: [n, D].
void BinEncoding(const kernels::Ops& ops, const float* bins, int n, float scale, float offset,
                 const float* dim_t, int D, const float* fc_wt, const float* fc_b, float* pos,
                 float* enc, float* enc_out, kernels::Scratch* s) {
  const int half = D / 2;
  for (int i = 0; i < n; ++i) pos[i] = bins[i] * scale + offset;
  for (int i = 0; i < n; ++i) {
    float* row = enc + static_cast<size_t>(i) * D;
    for (int j = 0; j < half; ++j) {
      // float32 argument and float cos/sin as PyTorch: the argument's own rounding
      // (|f| up to ~1e3 rad, ulp ~6e-5) dominates any difference between libm versions.
      const float f = pos[i] / dim_t[j];
      row[j] = std::cos(f);
      row[half + j] = std::sin(f);
    }
  }
  ops.gemm(n, D, D, enc, D, fc_wt, D, /*trans_b=*/false, fc_b, Act::kNone, enc_out, D, s);
}

}  // namespace

Dcc LoadDcc(const Weights& w, const ModelConfig& cfg) {
  Dcc d;
  d.K = cfg.num_keypoints;
  d.D = cfg.dcc_feat;
  d.E = cfg.gau_expansion * cfg.dcc_feat;
  d.P = cfg.pose_vec_channels;
  d.bins_x = cfg.num_bins_x;
  d.bins_y = cfg.num_bins_y;
  const int64_t K = d.K, D = d.D, E = d.E, P = d.P;
  const std::string p = "head.dcc.";
  // pose_to_kpts = Sequential(Linear, BatchNorm1d); fold the BN into the Linear as the
  // official deploy form does (rtmo_head.py:529-548), in double, rounded once.
  {
    const float* lw = w.Require(p + "pose_to_kpts.0.weight", {K * D, P});
    const float* lb = w.Require(p + "pose_to_kpts.0.bias", {K * D});
    const float* g = w.Require(p + "pose_to_kpts.1.weight", {K * D});
    const float* beta = w.Require(p + "pose_to_kpts.1.bias", {K * D});
    const float* mean = w.Require(p + "pose_to_kpts.1.running_mean", {K * D});
    const float* var = w.Require(p + "pose_to_kpts.1.running_var", {K * D});
    d.kpt_wt.Resize(static_cast<size_t>(K * D * P));
    d.kpt_b.Resize(static_cast<size_t>(K * D));
    for (int64_t o = 0; o < K * D; ++o) {
      const double s =
          static_cast<double>(g[o]) / std::sqrt(static_cast<double>(var[o]) + cfg.bn_eps_dcc);
      for (int64_t i = 0; i < P; ++i) {
        d.kpt_wt[i * K * D + o] = static_cast<float>(lw[o * P + i] * s);
      }
      d.kpt_b[o] = static_cast<float>(beta[o] + (lb[o] - mean[o]) * s);
    }
  }
  d.scale_norm_g = *w.Require(p + "gau.ln.g", {1});
  d.uv_wt = Transposed(w.Require(p + "gau.uv.weight", {2 * E + D, D}), 2 * E + D, D);
  d.gamma = nn::CopyTensor(w, p + "gau.gamma", {2, D});
  d.beta = nn::CopyTensor(w, p + "gau.beta", {2, D});
  d.pos_enc = nn::CopyTensor(w, p + "pos_enc", {K, D});
  d.o_wt = Transposed(w.Require(p + "gau.o.weight", {D, E}), D, E);
  d.res_scale = nn::CopyTensor(w, p + "gau.res_scale.scale", {D});
  d.x_bins = nn::CopyTensor(w, p + "x_bins", {d.bins_x});
  d.y_bins = nn::CopyTensor(w, p + "y_bins", {d.bins_y});
  d.spe_dim_t = nn::CopyTensor(w, p + "spe.dim_t", {D / 2});
  d.x_fc_wt = Transposed(w.Require(p + "x_fc.weight", {D, D}), D, D);
  d.x_fc_b = nn::CopyTensor(w, p + "x_fc.bias", {D});
  d.y_fc_wt = Transposed(w.Require(p + "y_fc.weight", {D, D}), D, D);
  d.y_fc_b = nn::CopyTensor(w, p + "y_fc.bias", {D});
  return d;
}

DccScratch AllocDcc(const ModelConfig& cfg, nn::Buffers* b) {
  const size_t K = cfg.num_keypoints, D = cfg.dcc_feat, E = cfg.gau_expansion * cfg.dcc_feat;
  const size_t B = std::max(cfg.num_bins_x, cfg.num_bins_y);
  DccScratch s;
  s.xn = b->Floats(K * D);
  s.uv = b->Floats(K * (2 * E + D));
  s.q = b->Floats(K * D);
  s.k = b->Floats(K * D);
  s.kernel = b->Floats(K * K);
  s.kv = b->Floats(K * E);
  s.gau = b->Floats(K * D);
  s.pos = b->Floats(B);
  s.enc = b->Floats(B * D);
  s.x_enc = b->Floats(cfg.num_bins_x * D);
  s.y_enc = b->Floats(cfg.num_bins_y * D);
  s.x_logits = b->Floats(K * cfg.num_bins_x);
  s.y_logits = b->Floats(K * cfg.num_bins_y);
  return s;
}

void DccKeypointFeatures(const kernels::Ops& ops, const Dcc& d, const float* pose_vecs, int n,
                         float* kpt_feats, kernels::Scratch* scratch) {
  // 1. pose_vec [P] -> kpt_feats [K, D] per row (keypoint-major: feature k*D + c).
  ops.gemm(n, d.K * d.D, d.P, pose_vecs, d.P, d.kpt_wt.data(), d.K * d.D, /*trans_b=*/false,
           d.kpt_b.data(), Act::kNone, kpt_feats, d.K * d.D, scratch);
}

void DccForward(const kernels::Ops& ops, const Dcc& d, const float* kpt_feats, const DccBox& box,
                DccScratch& s, kernels::Scratch* scratch, float* keypoints) {
  const int K = d.K, D = d.D, E = d.E, UV = 2 * E + D;

  // 2. GAU. ScaleNorm: x / clamp(||x||_2 * D^-0.5, eps) * g (transformer.py:384-420).
  const float norm_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));
  for (int k = 0; k < K; ++k) {
    const float* x = kpt_feats + static_cast<size_t>(k) * D;
    double ss = 0;
    for (int c = 0; c < D; ++c) ss += static_cast<double>(x[c]) * x[c];
    const float norm = std::max(static_cast<float>(std::sqrt(ss)) * norm_scale, kScaleNormEps);
    for (int c = 0; c < D; ++c) s.xn[k * D + c] = x[c] / norm * d.scale_norm_g;
  }
  ops.gemm(K, UV, D, s.xn, D, d.uv_wt.data(), UV, false, nullptr, Act::kSiLU, s.uv, UV, scratch);
  // uv = [u (E) | v (E) | base (D)]; q/k = base * gamma + beta + pos_enc (pos_enc='add').
  for (int k = 0; k < K; ++k) {
    const float* base = s.uv + static_cast<size_t>(k) * UV + 2 * E;
    const float* pe = d.pos_enc.data() + static_cast<size_t>(k) * D;
    for (int c = 0; c < D; ++c) {
      s.q[k * D + c] = base[c] * d.gamma[c] + d.beta[c] + pe[c];
      s.k[k * D + c] = base[c] * d.gamma[D + c] + d.beta[D + c] + pe[c];
    }
  }
  ops.gemm(K, K, D, s.q, D, s.k, D, true, nullptr, Act::kNone, s.kernel, K, scratch);
  // kernel = relu(qk / sqrt(s))^2: no softmax, no 1/n (transformer.py:738-741).
  const float sqrt_s = static_cast<float>(std::sqrt(static_cast<double>(D)));
  for (int i = 0; i < K * K; ++i) s.kernel[i] = s.kernel[i] / sqrt_s;
  ops.relu2(s.kernel, static_cast<size_t>(K) * K, s.kernel);
  ops.gemm(K, E, K, s.kernel, K, s.uv + E, UV, false, nullptr, Act::kNone, s.kv, E, scratch);
  for (int k = 0; k < K; ++k) {
    const float* u = s.uv + static_cast<size_t>(k) * UV;
    float* kv = s.kv + static_cast<size_t>(k) * E;
    for (int c = 0; c < E; ++c) kv[c] = u[c] * kv[c];
  }
  ops.gemm(K, D, E, s.kv, E, d.o_wt.data(), D, false, nullptr, Act::kNone, s.gau, D, scratch);
  // Shortcut on the un-normalised input: res_scale * x + out (l.752-758).
  for (int k = 0; k < K; ++k) {
    for (int c = 0; c < D; ++c) {
      s.gau[k * D + c] = kpt_feats[k * D + c] * d.res_scale[c] + s.gau[k * D + c];
    }
  }

  // 3. Bin encodings relative to the cell prior.
  BinEncoding(ops, d.x_bins.data(), d.bins_x, box.scale_w, box.center_x - box.prior_x,
              d.spe_dim_t.data(), D, d.x_fc_wt.data(), d.x_fc_b.data(), s.pos, s.enc, s.x_enc,
              scratch);
  BinEncoding(ops, d.y_bins.data(), d.bins_y, box.scale_h, box.center_y - box.prior_y,
              d.spe_dim_t.data(), D, d.y_fc_wt.data(), d.y_fc_b.data(), s.pos, s.enc, s.y_enc,
              scratch);

  // 4. 1-D heatmap logits.
  ops.gemm(K, d.bins_x, D, s.gau, D, s.x_enc, D, true, nullptr, Act::kNone, s.x_logits, d.bins_x,
           scratch);
  ops.gemm(K, d.bins_y, D, s.gau, D, s.y_enc, D, true, nullptr, Act::kNone, s.y_logits, d.bins_y,
           scratch);

  // 5. Softmax + integral decode per keypoint (probabilities in s.pos, logits kept).
  for (int k = 0; k < K; ++k) {
    keypoints[2 * k] = SoftmaxIntegral(s.x_logits + static_cast<size_t>(k) * d.bins_x, d.bins_x,
                                       d.x_bins.data(), box.scale_w, box.center_x, s.pos);
    keypoints[2 * k + 1] = SoftmaxIntegral(s.y_logits + static_cast<size_t>(k) * d.bins_y, d.bins_y,
                                           d.y_bins.data(), box.scale_h, box.center_y, s.pos);
  }
}

}  // namespace rtmo
