#include "rtmo/net/dcc.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>

#include "kernels/parallel.h"

namespace rtmo {

using kernels::Act;

namespace {

// rtmo_head.py:310-330 (_apply_softmax) and l.22 (EPS = 1e-8).
constexpr double kLogitClamp = 5e4;
constexpr double kSoftmaxEps = 1e-8;
// ScaleNorm eps (a clamp, not an addend): GAUEncoder default eps=1e-5 (transformer.py:644).
constexpr double kScaleNormEps = 1e-5;

// Threads for the per-person loops: float32 runs them on the kernels' pool, float64 on
// OpenMP (see ForEachPerson).
template <typename T>
int PersonThreads(int n) {
  const int t = std::is_same_v<T, float> ? kernels::MaxThreads() : omp_get_max_threads();
  return std::max(1, std::min(t, n));
}

// body(i, slot) for every person i in [0, n), handed out one at a time (dynamic) to
// `threads` threads; slot in [0, threads) names the thread (its Worker). Each person's
// result is computed the same way whichever thread takes it, and a descheduled thread does
// not hold back half the people. float32: the kernels' pool, the threads that just ran
// the network (a separate OpenMP team would have to be woken first, and would then spin
// against the pool). float64: OpenMP, because the float64 kernels called inside
// parallelise with OpenMP themselves unless they run inside an OpenMP region.
template <typename T, class Body>
void ForEachPerson(int n, int threads, const Body& body) {
  if constexpr (std::is_same_v<T, float>) {
    kernels::ParallelFor(n, threads, [&](int64_t i, int slot) { body(static_cast<int>(i), slot); });
  } else {
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (int i = 0; i < n; ++i) body(i, omp_get_thread_num());
  }
}

// ScaleNorm (transformer.py:384-420): x / clamp(||x||_2 * D^-0.5, eps) * g, per row.
// x: [rows, D] -> y: [rows, D].
template <typename T>
void ScaleNorm(const T* x, int rows, int D, T g, T* y) {
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(D)));
  for (int r = 0; r < rows; ++r) {
    const T* xr = x + static_cast<size_t>(r) * D;
    double ss = 0;  // the norm accumulated in double (PyTorch: float pairwise sums)
#pragma omp simd reduction(+ : ss)
    for (int c = 0; c < D; ++c) ss += static_cast<double>(xr[c]) * xr[c];
    const T norm = std::max(static_cast<T>(std::sqrt(ss)) * scale, static_cast<T>(kScaleNormEps));
    T* yr = y + static_cast<size_t>(r) * D;
#pragma omp simd
    for (int c = 0; c < D; ++c) yr[c] = xr[c] / norm * g;
  }
}

// Softmax of one row of logits with the official clamp and epsilon (rtmo_head.py:310-330),
// then the expectation over the absolute bins (l.401-429):
//   returns sum_i p_i * (bins_i * scale + center).
// logits: [n] -> prob: [n] (the probabilities). float32 takes the exponentials from the
// kernels (ops.exp: Highway's Exp, 1 ULP, vectorised), float64 from std::exp.
template <typename T>
T SoftmaxIntegral(const nn::Env<T>& env, const T* logits, int n, const T* bins, T scale, T center,
                  T* prob) {
  T mx = -INFINITY;
  for (int i = 0; i < n; ++i) {
    prob[i] = std::clamp(logits[i], static_cast<T>(-kLogitClamp), static_cast<T>(kLogitClamp));
    mx = std::max(mx, prob[i]);
  }
#pragma omp simd
  for (int i = 0; i < n; ++i) prob[i] = prob[i] - mx;
  if constexpr (std::is_same_v<T, float>) {
    env.ops->exp(prob, static_cast<size_t>(n), prob);
  } else {
    for (int i = 0; i < n; ++i) prob[i] = std::exp(prob[i]);
  }
  // The sums in double, vectorised (lanes of partial sums, then added: an order fixed by
  // the build, not by the thread), as is the division per bin.
  double sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int i = 0; i < n; ++i) sum += prob[i];
  const T denom = static_cast<T>(sum) + static_cast<T>(kSoftmaxEps);
  double acc = 0;
#pragma omp simd reduction(+ : acc)
  for (int i = 0; i < n; ++i) {
    prob[i] = prob[i] / denom;
    const T bin = bins[i] * scale + center;  // in T, as x_bins * scale + center
    acc += static_cast<double>(prob[i] * bin);
  }
  return static_cast<T>(acc);
}

// Bin encodings (rtmo_head.py:332-365) without their fc, transposed: pos_i = bins_i * scale +
// (center - prior), then the 1-D SinePositionalEncoding [cos(pos / dim_t), sin(pos / dim_t)]
// (transformer.py:505-510, cos first):
//   encT [D, n]: row j < D/2 is cos(pos / dim_t_j), row D/2 + j is sin(pos / dim_t_j).
// The fc adapter (x_fc / y_fc) is applied through the keypoint features instead, see
// FcIntoKeypoints.
template <typename T>
void BinEncodingT(const nn::Env<T>& env, const T* bins, int n, T scale, T offset, const T* dim_t,
                  int D, T* pos, T* args, T* encT) {
  const int half = D / 2;
#pragma omp simd
  for (int i = 0; i < n; ++i) pos[i] = bins[i] * scale + offset;
  for (int j = 0; j < half; ++j) {
    T* cos_row = encT + static_cast<size_t>(j) * n;
    T* sin_row = encT + static_cast<size_t>(half + j) * n;
    if constexpr (std::is_same_v<T, float>) {
      // float32: the argument in float, as PyTorch; its own rounding (|f| up to ~1e3 rad,
      // ulp ~6e-5) dominates the vector kernel's error (ops.cos_sin, Highway Cos/Sin, at
      // most ~4e-7 absolute).
      // Vectorised by the pragma (28k divisions per person, a fifth of the DCC's time as
      // scalar code); a division is exact in any lane, so the arguments are unchanged.
      const T dt = dim_t[j];
#pragma omp simd
      for (int i = 0; i < n; ++i) args[i] = pos[i] / dt;
      env.ops->cos_sin(args, n, cos_row, sin_row);
    } else {
      // float64 verification path: std:: in double.
      for (int i = 0; i < n; ++i) {
        const T f = pos[i] / dim_t[j];
        cos_row[i] = std::cos(f);
        sin_row[i] = std::sin(f);
      }
    }
  }
}

// The 1-D heatmap logits (rtmo_head.py:594, x_hms = kpt_feats x_enc^T) with the fc adapter
// x_enc = enc W^T + b folded into the keypoint side:
//   logits = g (W encT + b 1^T) = (g W) encT + (g b) 1^T.
// The official order multiplies the fc into every bin (D x D x n MACs per axis, 7.3 M per
// person for 192 + 256 bins); this order multiplies it into the K keypoints (K x D x D,
// 0.56 M), so the DCC costs 4.2 instead of 10.9 MMAC per person. It is the same sum in
// another association: in float32 the logits differ from the official order's by rounding
// alone (the golden tests bound them), in float64 by ~1e-16 relative.
//
// FcIntoKeypoints, batched over all people: g [rows, D], W [D, D] as [out, in], b [D] ->
// gw = g W [rows, D], gb = g b [rows].
template <typename T>
void FcIntoKeypoints(const nn::Env<T>& env, MatIn<T> g, const nn::AlignedBuffer<T>& W,
                     const nn::AlignedBuffer<T>& b, T* gw, T* gb) {
  const int rows = g.rows, D = g.cols;
  nn::MatMul(env, g, kernels::Dense<const T>(W.data(), D, D), /*trans_b=*/false,
             kernels::Dense(gw, rows, D));
  for (int r = 0; r < rows; ++r) {
    double acc = 0;  // accumulated in double as ScaleNorm's norm
    const T* gr = g.row(r);
#pragma omp simd reduction(+ : acc)
    for (int c = 0; c < D; ++c) acc += static_cast<double>(gr[c]) * b[c];
    gb[r] = static_cast<T>(acc);
  }
}

// LogitsFromEncoding, per person: gw [K, D], gb [K], encT [D, n] -> logits [K, n].
template <typename T>
void LogitsFromEncoding(const nn::Env<T>& env, MatIn<T> gw, const T* gb, const T* encT, int n,
                        T* logits) {
  const int K = gw.rows, D = gw.cols;
  nn::MatMul(env, gw, kernels::Dense<const T>(encT, D, n), /*trans_b=*/false,
             kernels::Dense(logits, K, n));
  for (int r = 0; r < K; ++r) {
    T* row = logits + static_cast<size_t>(r) * n;
    const T add = gb[r];
#pragma omp simd
    for (int i = 0; i < n; ++i) row[i] = row[i] + add;
  }
}

// fc.wt [in, out] -> W [out, in] (the layout BinEncodingT multiplies from the left).
template <typename T>
nn::AlignedBuffer<T> WeightRows(const nn::LinearParams<T>& fc) {
  nn::AlignedBuffer<T> w;
  w.Resize(static_cast<size_t>(fc.out) * fc.in);
  nn::Transpose(fc.wt.data(), fc.in, fc.out, w.data());
  return w;
}

}  // namespace

template <typename T>
DCC<T> LoadDCC(nn::Loader<T>& ld, const ModelConfig& cfg) {
  DCC<T> d;
  d.K = cfg.num_keypoints;
  d.D = cfg.dcc_feat;
  d.E = cfg.gau_expansion * cfg.dcc_feat;
  d.P = cfg.pose_vec_channels;
  d.bins_x = cfg.num_bins_x;
  d.bins_y = cfg.num_bins_y;
  const int K = d.K, D = d.D, E = d.E, P = d.P;
  const std::string p = "head.dcc.";
  d.pos_enc = ld.Tensor(p + "pos_enc", {K, D});
  d.y_bins = ld.Tensor(p + "y_bins", {d.bins_y});
  d.x_bins = ld.Tensor(p + "x_bins", {d.bins_x});
  d.spe_dim_t = ld.Tensor(p + "spe.dim_t", {D / 2});
  d.gamma = ld.Tensor(p + "gau.gamma", {2, D});
  d.beta = ld.Tensor(p + "gau.beta", {2, D});
  d.o = ld.Linear(p + "gau.o", E, D, /*bias=*/false);
  d.uv = ld.Linear(p + "gau.uv", D, 2 * E + D, /*bias=*/false);
  const float* g = ld.Raw(p + "gau.ln.g", {1});
  d.scale_norm_g = ld.declare_only() ? T(1) : static_cast<T>(*g);
  d.res_scale = ld.Tensor(p + "gau.res_scale.scale", {D});
  // pose_to_kpts = Sequential(Linear, BatchNorm1d): the BN folded into the Linear as the
  // official deploy form does (rtmo_head.py:529-548), in double, rounded once to T.
  const float* lw = ld.Raw(p + "pose_to_kpts.0.weight", {K * D, P});
  const float* lb = ld.Raw(p + "pose_to_kpts.0.bias", {K * D});
  const float* bn_g = ld.Raw(p + "pose_to_kpts.1.weight", {K * D});
  const float* bn_b = ld.Raw(p + "pose_to_kpts.1.bias", {K * D});
  const float* mean = ld.Raw(p + "pose_to_kpts.1.running_mean", {K * D});
  const float* var = ld.Raw(p + "pose_to_kpts.1.running_var", {K * D});
  d.pose_to_kpts.in = P;
  d.pose_to_kpts.out = K * D;
  if (!ld.declare_only()) {
    d.pose_to_kpts.wt.Resize(static_cast<size_t>(P) * K * D);
    d.pose_to_kpts.b.Resize(static_cast<size_t>(K) * D);
    for (int o = 0; o < K * D; ++o) {
      const double s =
          static_cast<double>(bn_g[o]) / std::sqrt(static_cast<double>(var[o]) + cfg.bn_eps_dcc);
      for (int i = 0; i < P; ++i) {
        d.pose_to_kpts.wt[static_cast<size_t>(i) * K * D + o] =
            static_cast<T>(lw[static_cast<size_t>(o) * P + i] * s);
      }
      d.pose_to_kpts.b[o] =
          static_cast<T>(bn_b[o] + (static_cast<double>(lb[o]) - mean[o]) * s);  // all in double
    }
  }
  d.x_fc = ld.Linear(p + "x_fc", D, D);
  d.y_fc = ld.Linear(p + "y_fc", D, D);
  if (!ld.declare_only()) {
    d.x_fc_w = WeightRows(d.x_fc);
    d.y_fc_w = WeightRows(d.y_fc);
  }
  return d;
}

// GAU (mmpose/models/utils/transformer.py:614-758, forward l.733-758) on the n people's
// keypoint features b.kpt_feats [n*K, D] -> b.gau [n*K, D]. The row-wise parts (ScaleNorm,
// uv, o) run batched over all n*K rows; the K x K attention kernel per person, in parallel.
template <typename T>
void GAUForward(const nn::Env<T>& env, const DCC<T>& d, int n, DccBuffers<T>& b) {
  const int K = d.K, D = d.D, E = d.E, UV = 2 * E + D, NK = n * K;
  const T* kpt_feats = b.kpt_feats.data();
  T* xn = nn::Grow(&b.xn, static_cast<size_t>(NK) * D);
  T* uv = nn::Grow(&b.uv, static_cast<size_t>(NK) * UV);
  T* ukv = nn::Grow(&b.ukv, static_cast<size_t>(NK) * E);
  T* gau = nn::Grow(&b.gau, static_cast<size_t>(NK) * D);
  const int threads = PersonThreads<T>(n);
  while (static_cast<int>(b.workers.size()) < threads) {
    b.workers.push_back(std::make_unique<typename DccBuffers<T>::Worker>());
  }
  // 2. GAU, the row-wise parts over all n*K rows.
  ScaleNorm(kpt_feats, NK, D, d.scale_norm_g, xn);
  nn::Linear(env, d.uv, kernels::Dense<const T>(xn, NK, D), kernels::Dense(uv, NK, UV), Act::kSiLU);

  // 2 (middle) per person: the K x K attention kernel. One worker (scratch) per thread.
  ForEachPerson<T>(n, threads, [&](int i, int slot) {
    typename DccBuffers<T>::Worker& w = *b.workers[slot];
    const nn::Env<T> wenv{env.ops, &w.scratch};
    T* q = nn::Grow(&w.q, static_cast<size_t>(K) * D);
    T* k = nn::Grow(&w.k, static_cast<size_t>(K) * D);
    T* kernel = nn::Grow(&w.kernel, static_cast<size_t>(K) * K);
    const Mat<T> uv_i = Mat<T>{uv + static_cast<size_t>(i) * K * UV, K, UV, UV};

    // uv = [u (E) | v (E) | base (D)]; q/k = base * gamma + beta + pos_enc (pos_enc='add').
    for (int r = 0; r < K; ++r) {
      const T* base = uv_i.row(r) + 2 * E;
      const T* pe = d.pos_enc.data() + static_cast<size_t>(r) * D;
#pragma omp simd
      for (int c = 0; c < D; ++c) {
        q[r * D + c] = base[c] * d.gamma[c] + d.beta[c] + pe[c];
        k[r * D + c] = base[c] * d.gamma[D + c] + d.beta[D + c] + pe[c];
      }
    }
    nn::MatMul(wenv, kernels::Dense<const T>(q, K, D), kernels::Dense<const T>(k, K, D),
               /*trans_b=*/true, kernels::Dense(kernel, K, K));
    // kernel = relu(qk / sqrt(s))^2: no softmax, no 1/n (transformer.py:738-741).
    const T sqrt_s = static_cast<T>(std::sqrt(static_cast<double>(D)));
#pragma omp simd
    for (int j = 0; j < K * K; ++j) kernel[j] = kernel[j] / sqrt_s;
    nn::Relu2(wenv, kernel, static_cast<size_t>(K) * K, kernel);
    T* ukv_i = ukv + static_cast<size_t>(i) * K * E;
    nn::MatMul(wenv, kernels::Dense<const T>(kernel, K, K), MatIn<T>(uv_i.Cols(E, E)),
               /*trans_b=*/false, kernels::Dense(ukv_i, K, E));
    for (int r = 0; r < K; ++r) {
      const T* u = uv_i.row(r);
      T* x = ukv_i + static_cast<size_t>(r) * E;
#pragma omp simd
      for (int c = 0; c < E; ++c) x[c] = u[c] * x[c];
    }
  });

  // 2 (end). The o projection over all rows, and the shortcut on the un-normalised input:
  // res_scale * x + out (l.752-758).
  nn::Linear(env, d.o, kernels::Dense<const T>(ukv, NK, E), kernels::Dense(gau, NK, D));
  for (int r = 0; r < NK; ++r) {
    const T* x = kpt_feats + static_cast<size_t>(r) * D;
    T* y = gau + static_cast<size_t>(r) * D;
#pragma omp simd
    for (int c = 0; c < D; ++c) y[c] = x[c] * d.res_scale[c] + y[c];
  }
}

template <typename T>
void DCCForward(const nn::Env<T>& env, const DCC<T>& d, const std::vector<DccBox<T>>& boxes,
                DccBuffers<T>& b) {
  const int n = static_cast<int>(boxes.size());
  if (n == 0) return;
  const int K = d.K, D = d.D, NK = n * K;
  T* kpt_feats = nn::Grow(&b.kpt_feats, static_cast<size_t>(NK) * D);
  T* x_logits = nn::Grow(&b.x_logits, static_cast<size_t>(NK) * d.bins_x);
  T* y_logits = nn::Grow(&b.y_logits, static_cast<size_t>(NK) * d.bins_y);
  T* keypoints = nn::Grow(&b.keypoints, static_cast<size_t>(NK) * 2);

  // 1. PoseToKpts over all people: [n, P] -> [n, K*D] (keypoint-major: feature k*D + c).
  nn::Linear(env, d.pose_to_kpts, kernels::Dense<const T>(b.pose_vecs.data(), n, d.P),
             kernels::Dense(kpt_feats, n, K * D));
  // 2. GAU: keypoint features attend to each other.
  GAUForward(env, d, n, b);
  const T* gau = b.gau.data();
  const int threads = PersonThreads<T>(n);
  const int Bmax = std::max(d.bins_x, d.bins_y);
  // 3 (the fc side of the logits) over all n*K rows: gau x_fc / y_fc and gau . bias.
  T* gw_x = nn::Grow(&b.gw_x, static_cast<size_t>(NK) * D);
  T* gw_y = nn::Grow(&b.gw_y, static_cast<size_t>(NK) * D);
  T* gb_x = nn::Grow(&b.gb_x, NK);
  T* gb_y = nn::Grow(&b.gb_y, NK);
  const MatIn<T> g_all = kernels::Dense<const T>(gau, NK, D);
  FcIntoKeypoints(env, g_all, d.x_fc_w, d.x_fc.b, gw_x, gb_x);
  FcIntoKeypoints(env, g_all, d.y_fc_w, d.y_fc.b, gw_y, gb_y);

  // 3-5 per person: the bin encodings (they depend on the box), the logits and the decoding.
  ForEachPerson<T>(n, threads, [&](int i, int slot) {
    typename DccBuffers<T>::Worker& w = *b.workers[slot];
    const nn::Env<T> wenv{env.ops, &w.scratch};
    T* pos = nn::Grow(&w.pos, Bmax);
    T* args = nn::Grow(&w.args, Bmax);
    T* enc = nn::Grow(&w.enc, static_cast<size_t>(Bmax) * D);
    T* prob = nn::Grow(&w.prob, Bmax);
    const DccBox<T>& box = boxes[i];
    const size_t row0 = static_cast<size_t>(i) * K;
    T* xl = x_logits + row0 * d.bins_x;
    T* yl = y_logits + row0 * d.bins_y;
    BinEncodingT(wenv, d.x_bins.data(), d.bins_x, box.scale_w, box.center_x - box.prior_x,
                 d.spe_dim_t.data(), D, pos, args, enc);
    LogitsFromEncoding(wenv, kernels::Dense<const T>(gw_x + row0 * D, K, D), gb_x + row0, enc,
                       d.bins_x, xl);
    BinEncodingT(wenv, d.y_bins.data(), d.bins_y, box.scale_h, box.center_y - box.prior_y,
                 d.spe_dim_t.data(), D, pos, args, enc);
    LogitsFromEncoding(wenv, kernels::Dense<const T>(gw_y + row0 * D, K, D), gb_y + row0, enc,
                       d.bins_y, yl);
    T* kp = keypoints + static_cast<size_t>(i) * K * 2;
    for (int r = 0; r < K; ++r) {
      kp[2 * r] = SoftmaxIntegral(wenv, xl + static_cast<size_t>(r) * d.bins_x, d.bins_x,
                                  d.x_bins.data(), box.scale_w, box.center_x, prob);
      kp[2 * r + 1] = SoftmaxIntegral(wenv, yl + static_cast<size_t>(r) * d.bins_y, d.bins_y,
                                      d.y_bins.data(), box.scale_h, box.center_y, prob);
    }
  });
}

#define RTMO_INSTANTIATE(T)                                                                    \
  template DCC<T> LoadDCC<T>(nn::Loader<T>&, const ModelConfig&);                              \
  template void DCCForward<T>(const nn::Env<T>&, const DCC<T>&, const std::vector<DccBox<T>>&, \
                              DccBuffers<T>&);                                                 \
  template void GAUForward<T>(const nn::Env<T>&, const DCC<T>&, int, DccBuffers<T>&);
RTMO_INSTANTIATE(float)
RTMO_INSTANTIATE(double)
#undef RTMO_INSTANTIATE

}  // namespace rtmo
