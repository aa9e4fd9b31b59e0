// rtmo::Model (rtmo/rtmo.h) and the network driver (rtmo/net/network.h).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "kernels/ops.h"
#include "rtmo/error.h"
#include "rtmo/net/network.h"
#include "rtmo/io/preprocess.h"
#include "rtmo/rtmo.h"
#include "rtmo/net/timing.h"
#include "rtmo/io/weights.h"

namespace rtmo {

namespace {

float Sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// The network needs every level to be an integer grid: strides up to 32.
void CheckInputSize(const ModelConfig& cfg, const std::string& source) {
  if (cfg.input_w <= 0 || cfg.input_h <= 0 || cfg.input_w % 32 || cfg.input_h % 32) {
    throw Error(source + ": config input size " + std::to_string(cfg.input_w) + "x" +
                std::to_string(cfg.input_h) + ": expected positive multiples of 32");
  }
}

}  // namespace

// ---- Network ---------------------------------------------------------------------------

Network LoadNetwork(const Weights& weights, const kernels::Ops& ops) {
  Network net;
  net.cfg = weights.config();
  CheckInputSize(net.cfg, weights.path());
  net.ops = &ops;
  net.backbone = LoadBackbone(weights, net.cfg, ops);
  net.neck = LoadNeck(weights, net.cfg, ops);
  net.head = LoadHeadModule(weights, net.cfg, ops);
  net.dcc = LoadDcc(weights, net.cfg);
  return net;
}

Context::Context(const ModelConfig& cfg) {
  input = buffers.Map(3, cfg.input_h, cfg.input_w);
  backbone = AllocBackbone(cfg, &buffers);
  neck = AllocNeck(cfg, &buffers);
  head = AllocHead(cfg, &buffers);
  // Upper bounds, so that Predict never grows these vectors.
  size_t cells = 0;
  for (int l = 0; l < 2; ++l) cells += head.cls_score[l].plane();
  candidates.reserve(cells);
  keep.reserve(cells);
  suppressed.reserve(cells);
}

void RunDense(const Network& net, Context& ctx) {
  const kernels::Ops& ops = *net.ops;
  BackboneForward(ops, net.backbone, ctx.input, ctx.backbone, &ctx.scratch);
  NeckForward(ops, net.neck, ctx.backbone.stage[1], ctx.backbone.stage[2], ctx.backbone.stage[3],
              ctx.neck, &ctx.scratch);
  HeadForward(ops, net.head, ctx.neck.out, ctx.head, &ctx.scratch);
}

void DumpDense(const Context& c, const Dumper& d) {
  d.Map("input", c.input);
  d.Map("backbone.stem", c.backbone.stem);
  for (int i = 0; i < 4; ++i) d.Map("backbone.stage" + std::to_string(i + 1), c.backbone.stage[i]);
  for (int i = 0; i < 3; ++i) d.Map("neck.input_proj." + std::to_string(i), c.neck.input_proj[i]);
  d.Map("neck.encoder.0", c.neck.encoder);
  for (int i = 0; i < 2; ++i) {
    const std::string k = std::to_string(i);
    d.Map("neck.fpn_blocks." + k, c.neck.fpn_out[i]);
    d.Map("neck.pan_blocks." + k, c.neck.pan_out[i]);
    d.Map("neck.out." + k, c.neck.out[i]);
    d.Map("head.cls_score." + k, c.head.cls_score[i]);
    d.Map("head.bbox_pred." + k, c.head.bbox_pred[i]);
    d.Map("head.kpt_vis." + k, c.head.kpt_vis[i]);
    d.Map("head.pose_feat." + k, c.head.pose_feat[i]);
  }
}

void RunPost(const Network& net, Context& ctx, float score_thr, float nms_thr, const Dumper* dump) {
  const ModelConfig& cfg = net.cfg;
  const int K = cfg.num_keypoints, D = cfg.dcc_feat;
  SelectCandidates(ctx.head, {cfg.head_strides[0], cfg.head_strides[1]}, score_thr,
                   &ctx.candidates);
  timing::Lap("post.decode");  // bench/ laps (rtmo/net/timing.h); no-op otherwise
  Nms(ctx.candidates, nms_thr, &ctx.keep, &ctx.suppressed);
  timing::Lap("post.nms");
  const size_t n = ctx.keep.size();
  // The instances vector keeps its elements (and their keypoint storage) across calls.
  if (ctx.instances.size() < n) ctx.instances.resize(n);
  // Instances are independent: one per OpenMP thread, each with its own scratch, so the
  // result does not depend on the thread count. Dumping runs them in order on one thread.
  const int threads =
      dump ? 1 : std::max(1, std::min<int>(omp_get_max_threads(), static_cast<int>(n)));
  while (static_cast<int>(ctx.dcc_workers.size()) < threads) {
    auto w = std::make_unique<Context::DccWorker>();
    w->dcc = AllocDcc(cfg, &ctx.buffers);
    ctx.dcc_workers.push_back(std::move(w));
  }
  // The pose vectors of all kept cells, then the DCC's first Linear as one GEMM over them
  // (parallel over its outputs inside the kernel; rows are independent, so each instance's
  // features are bitwise those of a one-row GEMM).
  const size_t P = cfg.pose_vec_channels, KD = static_cast<size_t>(K) * D;
  if (ctx.dcc_pose_vecs.size() < n * P) ctx.dcc_pose_vecs.resize(n * P);
  if (ctx.dcc_kpt_feats.size() < n * KD) ctx.dcc_kpt_feats.resize(n * KD);
  for (size_t i = 0; i < n; ++i) {
    const Candidate& c = ctx.candidates[ctx.keep[i]];
    const nn::MapView& pf = ctx.head.pose_feat[c.level];
    float* pv = ctx.dcc_pose_vecs.data() + i * P;
    for (int ch = 0; ch < pf.c; ++ch) pv[ch] = pf.channel(ch)[c.cell];
  }
  if (n > 0) {
    DccKeypointFeatures(*net.ops, net.dcc, ctx.dcc_pose_vecs.data(), static_cast<int>(n),
                        ctx.dcc_kpt_feats.data(), &ctx.scratch);
  }
  std::vector<float> d_feats, d_gau, d_xl, d_yl, d_kpts;  // only filled when dumping
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t i = 0; i < n; ++i) {
    Context::DccWorker& w = *ctx.dcc_workers[omp_get_thread_num()];
    const Candidate& c = ctx.candidates[ctx.keep[i]];
    Instance& inst = ctx.instances[i];
    inst.cand = c;
    inst.keypoints.resize(static_cast<size_t>(K) * 2);
    inst.keypoint_scores.resize(K);
    const nn::MapView& vis = ctx.head.kpt_vis[c.level];
    for (int k = 0; k < K; ++k) inst.keypoint_scores[k] = Sigmoid(vis.channel(k)[c.cell]);
    // bbox_xyxy2cs (mmpose/structures/bbox/transforms.py:44-73) of the unclamped box.
    DccBox box;
    box.scale_w = (c.box[2] - c.box[0]) * cfg.bbox_padding;
    box.scale_h = (c.box[3] - c.box[1]) * cfg.bbox_padding;
    box.center_x = (c.box[2] + c.box[0]) * 0.5f;
    box.center_y = (c.box[3] + c.box[1]) * 0.5f;
    box.prior_x = c.prior_x;
    box.prior_y = c.prior_y;
    const float* kpt_feats = ctx.dcc_kpt_feats.data() + i * KD;
    DccForward(*net.ops, net.dcc, kpt_feats, box, w.dcc, &w.scratch, inst.keypoints.data());
    if (dump) {
      const DccScratch& s = w.dcc;
      d_feats.insert(d_feats.end(), kpt_feats, kpt_feats + KD);
      d_gau.insert(d_gau.end(), s.gau, s.gau + K * D);
      d_xl.insert(d_xl.end(), s.x_logits, s.x_logits + K * cfg.num_bins_x);
      d_yl.insert(d_yl.end(), s.y_logits, s.y_logits + K * cfg.num_bins_y);
      d_kpts.insert(d_kpts.end(), inst.keypoints.begin(), inst.keypoints.end());
    }
  }
  timing::Lap("post.dcc");
  if (dump) {
    const int64_t m = static_cast<int64_t>(ctx.candidates.size()), nk = static_cast<int64_t>(n);
    std::vector<int64_t> index(m), keep(ctx.keep.begin(), ctx.keep.end());
    std::vector<float> scores(m);
    for (int64_t i = 0; i < m; ++i) {
      index[i] = ctx.candidates[i].index;
      scores[i] = ctx.candidates[i].score;
    }
    dump->Int64("pre_nms.index", index.data(), {m});
    dump->Floats("pre_nms.scores", scores.data(), {m});
    dump->Int64("nms.keep", keep.data(), {nk});
    dump->Floats("dcc.kpt_feats", d_feats.data(), {nk, K, D});
    dump->Floats("dcc.gau", d_gau.data(), {nk, K, D});
    dump->Floats("dcc.x_logits", d_xl.data(), {nk, K, cfg.num_bins_x});
    dump->Floats("dcc.y_logits", d_yl.data(), {nk, K, cfg.num_bins_y});
    dump->Floats("keypoints.input", d_kpts.data(), {nk, K, 2});
  }
}

// ---- Model -------------------------------------------------------------------------------

struct Model::Impl {
  Network net;
  // Contexts not in use. Predict takes one (or builds one) and gives it back, so concurrent
  // calls never share memory and a single-threaded caller reuses the same one.
  std::mutex mu;
  std::vector<std::unique_ptr<Context>> idle;

  std::unique_ptr<Context> Acquire() {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!idle.empty()) {
        std::unique_ptr<Context> c = std::move(idle.back());
        idle.pop_back();
        return c;
      }
    }
    return std::make_unique<Context>(net.cfg);
  }
  void Release(std::unique_ptr<Context> c) {
    std::lock_guard<std::mutex> lock(mu);
    idle.push_back(std::move(c));
  }
};

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

const ModelConfig& Model::config() const { return impl_->net.cfg; }

Model Model::Load(const std::string& path) {
  const Weights weights = Weights::Open(path);
  weights.ValidateLayout();
  auto impl = std::make_unique<Impl>();
  impl->net = LoadNetwork(weights, kernels::Best());
  // The mapping is released here: every tensor has been copied, folded or packed.
  return Model(std::move(impl));
}

std::vector<Person> Model::Predict(const Image& image, const PredictOptions& options) const {
  const ModelConfig& cfg = impl_->net.cfg;
  const Letterbox lb = MakeLetterbox(image.width, image.height, cfg.input_w, cfg.input_h);
  if (image.bgr.size() != static_cast<size_t>(image.width) * image.height * 3) {
    throw Error("Predict: image of " + std::to_string(image.width) + "x" +
                std::to_string(image.height) + " has " + std::to_string(image.bgr.size()) +
                " bytes, expected width*height*3");
  }
  timing::Start();  // bench/ laps (rtmo/net/timing.h); no-op otherwise
  std::unique_ptr<Context> ctx = impl_->Acquire();
  std::vector<Person> people;
  try {
    LetterboxChw(image, lb, ctx->input.data);
    timing::Lap("preprocess");
    RunDense(impl_->net, *ctx);
    std::unique_ptr<Dumper> dump;
    if (!options.dump_dir.empty()) {
      dump = std::make_unique<Dumper>(options.dump_dir);
      DumpDense(*ctx, *dump);
    }
    RunPost(impl_->net, *ctx, options.score_thr, options.nms_thr, dump.get());

    const size_t n = ctx->keep.size();
    people.resize(n);
    nlohmann::json jpeople = nlohmann::json::array();
    for (size_t i = 0; i < n; ++i) {
      const Instance& inst = ctx->instances[i];
      Person& p = people[i];
      p.score = inst.cand.score;
      // Clamp to the network input (rtmo_head.py:1008-1010), then map back (bottomup.py).
      const float x1 = std::clamp(inst.cand.box[0], 0.0f, static_cast<float>(cfg.input_w));
      const float y1 = std::clamp(inst.cand.box[1], 0.0f, static_cast<float>(cfg.input_h));
      const float x2 = std::clamp(inst.cand.box[2], 0.0f, static_cast<float>(cfg.input_w));
      const float y2 = std::clamp(inst.cand.box[3], 0.0f, static_cast<float>(cfg.input_h));
      const auto tl = MapToImage(lb, x1, y1), br = MapToImage(lb, x2, y2);
      p.bbox = {static_cast<float>(tl[0]), static_cast<float>(tl[1]), static_cast<float>(br[0]),
                static_cast<float>(br[1])};
      nlohmann::json jk = nlohmann::json::array();
      p.keypoints.resize(cfg.num_keypoints);
      for (int k = 0; k < cfg.num_keypoints; ++k) {
        const auto q = MapToImage(lb, inst.keypoints[2 * k], inst.keypoints[2 * k + 1]);
        p.keypoints[k] = {static_cast<float>(q[0]), static_cast<float>(q[1]),
                          inst.keypoint_scores[k]};
        if (dump) jk.push_back({q[0], q[1], inst.keypoint_scores[k]});
      }
      if (dump) {
        jpeople.push_back({{"bbox", {tl[0], tl[1], br[0], br[1]}},
                           {"score", p.score},
                           {"keypoints", std::move(jk)}});
      }
    }
    timing::Lap("post.output");
    if (dump) {
      const nlohmann::json j = {{"file", options.dump_file},
                                {"width", image.width},
                                {"height", image.height},
                                {"people", std::move(jpeople)}};
      dump->Text("predictions.json", j.dump() + "\n");
    }
  } catch (...) {
    impl_->Release(std::move(ctx));
    throw;
  }
  impl_->Release(std::move(ctx));
  return people;
}

}  // namespace rtmo
