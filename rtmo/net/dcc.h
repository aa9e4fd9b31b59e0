// Dynamic Coordinate Classifier (mmpose/models/heads/hybrid_heads/rtmo_head.py:222-658):
// turns the pose vector of one kept cell into K keypoints.
//   1. kpt_feats = BatchNorm1d(Linear(pose_vec)) -> [K, D]      (BN folded at load, eps 1e-5)
//   2. GAU (transformer.py:614-758): ScaleNorm, uv = SiLU(x W_uv^T) split (u, v, base),
//      q/k = base * gamma + beta + pos_enc, kernel = relu(q k^T / sqrt(s))^2,
//      y = res_scale * x + (u * (kernel v)) W_o^T                           -> [K, D]
//   3. dynamic bins around the box: x_bins * 1.25 w + (cx - prior_x) (and y), 1-D sine
//      encoding (temperature 300, cos first), x_fc / y_fc                  -> [Bx, D], [By, D]
//   4. logits y x_enc^T, y y_enc^T; softmax with clamp +-5e4 and +1e-8     -> [K, Bx], [K, By]
//   5. integral decode with absolute bins: x = sum p_i (x_bins_i * 1.25 w + cx)
#ifndef RTMO_DCC_H_
#define RTMO_DCC_H_

#include "kernels/ops.h"
#include "rtmo/io/config.h"
#include "rtmo/net/nn.h"
#include "rtmo/io/weights.h"

namespace rtmo {

struct Dcc {
  int K = 17, D = 128, E = 256, P = 256, bins_x = 192, bins_y = 256;
  // The Linear weights are stored transposed, [in, out] (W^T), at load: the GEMM then
  // packs them with contiguous vector copies instead of a scalar transpose on every call.
  // The GEMM sees the same values in the same order, so results are bitwise unchanged.
  nn::AlignedBuffer<float> kpt_wt, kpt_b;                     // [P, K*D], [K*D] (BN folded)
  float scale_norm_g = 1;                                     // gau.ln.g (a scalar)
  nn::AlignedBuffer<float> uv_wt;                             // [D, 2E + D], no bias
  nn::AlignedBuffer<float> gamma, beta;                       // [2, D]
  nn::AlignedBuffer<float> pos_enc;                           // [K, D]
  nn::AlignedBuffer<float> o_wt;                              // [E, D], no bias
  nn::AlignedBuffer<float> res_scale;                         // [D]
  nn::AlignedBuffer<float> x_bins, y_bins, spe_dim_t;         // [Bx], [By], [D/2]
  nn::AlignedBuffer<float> x_fc_wt, x_fc_b, y_fc_wt, y_fc_b;  // [D, D] (transposed), [D]
};

Dcc LoadDcc(const Weights& weights, const ModelConfig& cfg);

// Per-instance working memory, allocated once per inference context.
struct DccScratch {
  float *xn, *uv, *q, *k, *kernel, *kv, *gau;  // [K, *]
  float *pos, *enc, *x_enc, *y_enc;            // [max(Bx, By), *]
  float *x_logits, *y_logits;                  // [K, Bx], [K, By]
};
DccScratch AllocDcc(const ModelConfig& cfg, nn::Buffers* buffers);

// The box of one instance, in network-input pixels, and its cell's prior.
struct DccBox {
  float center_x, center_y;  // (x1 + x2) / 2, (y1 + y2) / 2 of the unclamped box
  float scale_w, scale_h;    // (x2 - x1, y2 - y1) * bbox_padding
  float prior_x, prior_y;
};

// Step 1 for all n instances in one GEMM (the [P, K*D] weight is packed once per call
// instead of once per instance; each output is computed exactly as with n = 1).
// pose_vecs: [n, P] -> kpt_feats: [n, K*D]. Runs on the kernels' threads: call it outside
// a parallel region.
void DccKeypointFeatures(const kernels::Ops& ops, const Dcc& dcc, const float* pose_vecs, int n,
                         float* kpt_feats, kernels::Scratch* scratch);

// Steps 2-5 of one instance. kpt_feats: [K*D] (one row of DccKeypointFeatures) ->
// keypoints: [K, 2] (network-input pixels). Leaves the intermediate results in `s` (gau,
// x_logits, y_logits) for --dump.
void DccForward(const kernels::Ops& ops, const Dcc& dcc, const float* kpt_feats, const DccBox& box,
                DccScratch& s, kernels::Scratch* scratch, float* keypoints);

}  // namespace rtmo

#endif  // RTMO_DCC_H_
