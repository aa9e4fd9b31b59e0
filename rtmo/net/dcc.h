// Dynamic Coordinate Classifier (mmpose/models/heads/hybrid_heads/rtmo_head.py:222-658): turns
// the pose vector of each kept cell into K keypoints. For N kept people:
//   1. PoseToKpts   kpt_feats = BatchNorm1d(Linear(pose_vec))   [N, K, D]  (BN folded, eps 1e-5)
//   2. GAU          (transformer.py:614-758) ScaleNorm, uv = SiLU(x W_uv^T) split (u, v, base),
//                   q/k = base * gamma + beta + pos_enc, kernel = relu(q k^T / sqrt(s))^2,
//                   y = res_scale * x + (u * (kernel v)) W_o^T     [N, K, D]
//   3. BinEncoding  dynamic bins around the box: x_bins * 1.25 w + (cx - prior_x) (and y),
//                   1-D sine encoding (temperature 300, cos first), x_fc / y_fc  [B, D] each
//   4. logits       y x_enc^T, y y_enc^T                           [N, K, Bx], [N, K, By]
//                   (computed as (y W) enc^T + y b: the fc folded into the K keypoints
//                   rather than the B bins, 2.6x fewer MACs; see FcIntoKeypoints)
//   5. SoftmaxIntegral  softmax with clamp +-5e4 and +1e-8, expectation over the absolute
//                   bins: x = sum_i p_i (x_bins_i * 1.25 w + cx)   [N, K, 2]
// Steps 1, 2's Linears and the residual, and y W, run batched over all N*K rows (one GEMM
// each); the rest runs per person in parallel, each thread with its own working memory, so the
// result does not depend on the thread count.
#ifndef RTMO_NET_DCC_H_
#define RTMO_NET_DCC_H_

#include <memory>
#include <vector>

#include "rtmo/io/config.h"
#include "rtmo/net/nn.h"

namespace rtmo {

template <typename T>
struct DCC {
  int K = 17, D = 128, E = 256, P = 256, bins_x = 192, bins_y = 256;
  nn::LinearParams<T> pose_to_kpts;     // P -> K*D, BatchNorm1d folded in (l.529-548)
  T scale_norm_g = 1;                   // gau.ln.g (a scalar)
  nn::LinearParams<T> uv;               // D -> 2E + D, no bias
  nn::AlignedBuffer<T> gamma, beta;     // [2, D]
  nn::AlignedBuffer<T> pos_enc;         // [K, D]
  nn::LinearParams<T> o;                // E -> D, no bias
  nn::AlignedBuffer<T> res_scale;       // [D]
  nn::AlignedBuffer<T> x_bins, y_bins;  // [Bx], [By]: linspace(-0.5, 0.5)
  nn::AlignedBuffer<T> spe_dim_t;       // [D/2]
  nn::LinearParams<T> x_fc, y_fc;       // D -> D
  nn::AlignedBuffer<T> x_fc_w, y_fc_w;  // their weights as [out, in] (the right-hand side
                                        // of y W, dcc.cc FcIntoKeypoints)
};
// Reads head.dcc.* in state_dict order.
template <typename T>
DCC<T> LoadDCC(nn::Loader<T>& ld, const ModelConfig& cfg);

// One person's box (network-input pixels) as the DCC sees it: bbox_xyxy2cs of the unclamped
// box padded by 1.25, and its cell's prior.
template <typename T>
struct DccBox {
  T center_x, center_y;
  T scale_w, scale_h;
  T prior_x, prior_y;
};

// Working memory: batched outputs (grow with N) and per-thread scratch.
template <typename T>
struct DccBuffers {
  std::vector<T> pose_vecs;           // [N, P]
  std::vector<T> kpt_feats;           // [N, K, D]
  std::vector<T> xn, uv, ukv;         // [N*K, D], [N*K, 2E + D], [N*K, E]
  std::vector<T> gau;                 // [N, K, D]
  std::vector<T> gw_x, gw_y;          // [N*K, D]: gau x_fc_w, gau y_fc_w
  std::vector<T> gb_x, gb_y;          // [N*K]: gau . x_fc.b, gau . y_fc.b
  std::vector<T> x_logits, y_logits;  // [N, K, Bx], [N, K, By]
  std::vector<T> keypoints;           // [N, K, 2]
  struct Worker {
    std::vector<T> q, k, kernel;  // [K, D], [K, D], [K, K]
    std::vector<T> pos, args;     // [B], [B]
    std::vector<T> enc;           // [D, B] (transposed, without the fc)
    std::vector<T> prob;          // [B]
    kernels::Scratch scratch;
  };
  std::vector<std::unique_ptr<Worker>> workers;  // one per OpenMP thread (grown on demand)
};

// pose_vecs [N, P] (buf.pose_vecs, filled by the caller) and boxes [N] -> buf.kpt_feats, gau,
// x_logits, y_logits, keypoints (all [N, ...]). `env.scratch` serves the batched GEMMs.
// Step 2 alone: b.kpt_feats [n*K, D] -> b.gau [n*K, D] (DCCForward calls it).
template <typename T>
void GAUForward(const nn::Env<T>& env, const DCC<T>& d, int n, DccBuffers<T>& b);

template <typename T>
void DCCForward(const nn::Env<T>& env, const DCC<T>& p, const std::vector<DccBox<T>>& boxes,
                DccBuffers<T>& buf);

}  // namespace rtmo

#endif  // RTMO_NET_DCC_H_
