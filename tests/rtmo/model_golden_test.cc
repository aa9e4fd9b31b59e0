// The C++ network against the PyTorch reference goldens (tools/reference/, ctest fixture
// `goldens`), for rtmo-t and rtmo-s on the four COCO PNGs.
//
// Metric for every tensor: max |cpp - golden| relative to max |golden| ("rel"), plus the
// max abs difference, printed for every module. Two modes:
//  * ModulesOnGoldenInputs: each module (backbone, neck, head module, post-processing +
//    DCC) is fed the golden output of the module before it, so a module's error is its own
//    float32 re-ordering noise and does not compound. Tight tolerances; the first module
//    beyond its tolerance is named in the failure.
//  * EndToEnd: the PNG through Model::Predict with --dump; errors compound through ~60 conv
//    layers, so tolerances are looser (see kE2e* below and the measured values they print).
//
// Why the tolerances are what they are: the goldens are PyTorch float32, which differs from
// exact arithmetic by the same ~1e-5 relative as we do (measured: our double-accumulation
// Reference() kernels are no closer to the goldens than Best()). The head logits end up
// ~1.5e-4 abs apart, which moves sigmoid scores by up to ~4e-5 and boxes by ~1e-2 px
// (wh = exp(d) * stride); so "boxes 1e-3 px, scores 1e-5" is asserted where the inputs are
// the same (post-processing fed the golden head outputs) and measured end to end.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "kernels/ops.h"
#include "rtmo/io/preprocess.h"
#include "rtmo/net/network.h"
#include "rtmo/rtmo.h"
#include "tests/rtmo/golden_util.h"

namespace rtmo {
namespace {

using testing::Compare;
using testing::Diff;
using testing::Npy;
using testing::ReadNpy;

const char* const kImages[] = {"000000000785", "000000040083", "000000196141", "000000197388"};

// ---- tolerances (rel = max abs diff / max |golden|) -------------------------------------
// Modules fed golden inputs: their own float32 noise is ~1e-6..3e-5 relative.
constexpr double kModuleRel = 2e-4;
// DCC tensors fed the golden pose features: the logits are a 128-long dot product of two
// O(10) vectors; relative to their max ~3e-5 measured.
constexpr double kDccRel = 5e-4;
// End to end, errors compound through the whole network.
constexpr double kE2eRel = 1e-3;
// Post-processing on golden head outputs (same inputs): boxes and scores.
constexpr double kBoxTolPx = 1e-3;
constexpr double kScoreTol = 1e-5;
// Keypoints: median and max distance in image pixels.
constexpr double kKptMedianPx = 1e-3;
constexpr double kKptMaxPx = 0.1;

std::string GoldensDir() {
  const char* d = std::getenv("RTMO_GOLDENS");
  return d ? d : "";
}

// Networks are loaded once per variant and shared by the tests (read-only).
const Network<float>& GetNetwork(const std::string& variant) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<Network<float>>> nets;
  std::lock_guard<std::mutex> lock(mu);
  auto& n = nets[variant];
  if (!n) {
    const Weights w = Weights::Open(GoldensDir() + "/rtmo-" + variant + "/model.rtmo");
    ValidateLayout(w);
    n = std::make_unique<Network<float>>(LoadNetwork<float>(w, &kernels::Best()));
  }
  return *n;
}

struct Check {
  std::string name;
  Diff diff;
  double tol;
  bool ok() const { return diff.rel() <= tol; }
};

class Report {
 public:
  explicit Report(std::string title) : title_(std::move(title)) {}
  void Add(const std::string& name, const Diff& d, double tol) {
    checks_.push_back({name, d, tol});
  }
  void Fail(const std::string& name, const std::string& why) {
    if (first_failure_.empty()) first_failure_ = name + ": " + why;
  }
  // Prints every module's metric and fails naming the first diverging module.
  void Finish() {
    std::printf("%s\n", title_.c_str());
    for (const Check& c : checks_) {
      std::printf("  %-22s rel %.3e  max_abs %.3e  (|golden| max %.3e, tol rel %.0e)%s\n",
                  c.name.c_str(), c.diff.rel(), c.diff.max_abs, c.diff.golden_max, c.tol,
                  c.ok() ? "" : "  <-- FAIL");
      if (!c.ok() && first_failure_.empty()) {
        first_failure_ =
            c.name + ": rel " + std::to_string(c.diff.rel()) + " > " + std::to_string(c.tol);
      }
    }
    if (!first_failure_.empty())
      ADD_FAILURE() << title_ << ": first diverging module " << first_failure_;
  }

 private:
  std::string title_;
  std::vector<Check> checks_;
  std::string first_failure_;
};

class Golden : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {
 protected:
  void SetUp() override {
    ASSERT_FALSE(GoldensDir().empty()) << "RTMO_GOLDENS is not set (the goldens fixture sets it)";
    variant_ = std::get<0>(GetParam());
    image_ = std::get<1>(GetParam());
    dir_ = GoldensDir() + "/rtmo-" + variant_ + "/" + image_;
    ASSERT_TRUE(std::filesystem::exists(dir_ + "/input.npy")) << dir_ << ": no goldens";
  }
  Npy G(const std::string& name) const { return ReadNpy(dir_ + "/" + name + ".npy"); }
  std::string Png() const { return std::string(RTMO_TEST_DATA_DIR) + "/coco/" + image_ + ".png"; }

  // Compares a map (golden [1, C, H, W]) with `m`.
  template <typename T>
  void CompareMap(Report& r, const std::string& name, const Map<T>& m, double tol) const {
    const Npy g = G(name);
    const std::vector<int64_t> want = {1, m.c, m.h, m.w};
    if (g.shape != want) {
      r.Fail(name, "shape mismatch");
      return;
    }
    r.Add(name, Compare(g.f.data(), m.data, m.size()), tol);
  }
  template <typename T>
  void Load(const std::string& name, const Map<T>& m) const {
    const Npy g = G(name);
    ASSERT_EQ(g.size(), m.size()) << name;
    for (size_t i = 0; i < g.f.size(); ++i) m.data[i] = static_cast<T>(g.f[i]);
  }

  std::string variant_, image_, dir_;
};

// The network input from the PNG equals the golden input bit for bit.
TEST_P(Golden, InputBitIdentical) {
  const Network<float>& net = GetNetwork(variant_);
  const Image img = LoadImage(Png());
  const Letterbox lb = MakeLetterbox(img.width, img.height, net.cfg.input_w, net.cfg.input_h);
  std::vector<float> in(static_cast<size_t>(3) * net.cfg.input_w * net.cfg.input_h);
  LetterboxChw(img, lb, in.data());
  const Npy g = G("input");
  ASSERT_EQ(g.f.size(), in.size());
  size_t differing = 0;
  for (size_t i = 0; i < in.size(); ++i) differing += g.f[i] != in[i];
  EXPECT_EQ(differing, 0u) << "input values differing from the golden input";
}

TEST_P(Golden, ModulesOnGoldenInputs) {
  const Network<float>& net = GetNetwork(variant_);
  Context<float> ctx(net, net.cfg.input_w, net.cfg.input_h);
  const nn::Env<float> env = ctx.env(net);
  Report r("rtmo-" + variant_ + " " + image_ + " modules on golden inputs");

  // Backbone from the golden input: Focus + stem, then each stage from the golden stage
  // before it.
  Load("input", ctx.input);
  Focus<float>(ctx.input, ctx.backbone.focus);
  nn::Conv(env, net.backbone.stem, ctx.backbone.focus, ctx.backbone.stem);
  CompareMap(r, "backbone.stem", ctx.backbone.stem, kModuleRel);
  Load("backbone.stem", ctx.backbone.stem);
  for (int i = 0; i < 4; ++i) {
    const std::string prev = i == 0 ? "backbone.stem" : "backbone.stage" + std::to_string(i);
    const Map<float> x = i == 0 ? ctx.backbone.stem : ctx.backbone.stage[i - 1];
    Load(prev, x);
    DarknetStageForward(env, net.backbone.stages[i], x, i, ctx.backbone);
    CompareMap(r, "backbone.stage" + std::to_string(i + 1), ctx.backbone.stage[i], kModuleRel);
  }
  // Neck from the golden stages 2-4, each step from the golden output of the one before.
  for (int i = 0; i < 3; ++i) {
    Load("backbone.stage" + std::to_string(i + 2), ctx.backbone.stage[i + 1]);
    nn::Conv(env, net.neck.input_proj[i], ctx.backbone.stage[i + 1], ctx.neck.input_proj[i]);
    CompareMap(r, "neck.input_proj." + std::to_string(i), ctx.neck.input_proj[i], kModuleRel);
    Load("neck.input_proj." + std::to_string(i), ctx.neck.input_proj[i]);
  }
  EncoderForward(env, net.neck, ctx.neck);
  CompareMap(r, "neck.encoder.0", ctx.neck.encoder, kModuleRel);
  Load("neck.encoder.0", ctx.neck.encoder);
  for (int i = 0; i < 2; ++i) {
    if (i == 1) Load("neck.fpn_blocks.0", ctx.neck.fpn_out[0]);
    FpnStep(env, net.neck, i, ctx.neck);
    CompareMap(r, "neck.fpn_blocks." + std::to_string(i), ctx.neck.fpn_out[i], kModuleRel);
  }
  Load("neck.fpn_blocks.1", ctx.neck.fpn_out[1]);
  for (int i = 0; i < 2; ++i) {
    if (i == 1) Load("neck.pan_blocks.0", ctx.neck.pan_out[0]);
    PanStep(env, net.neck, i, ctx.neck);
    CompareMap(r, "neck.pan_blocks." + std::to_string(i), ctx.neck.pan_out[i], kModuleRel);
  }
  for (int i = 0; i < 2; ++i) {
    Load("neck.pan_blocks." + std::to_string(i), ctx.neck.pan_out[i]);
    nn::Conv(env, net.neck.projector[i], ctx.neck.pan_out[i], ctx.neck.out[i]);
    CompareMap(r, "neck.out." + std::to_string(i), ctx.neck.out[i], kModuleRel);
  }
  // Head module from the golden neck outputs.
  for (int l = 0; l < 2; ++l) {
    const std::string k = std::to_string(l);
    Load("neck.out." + k, ctx.neck.out[l]);
    RTMOHeadModuleForward(env, net.head.levels[l], ctx.neck.out[l], ctx.head[l]);
    CompareMap(r, "head.cls_score." + k, ctx.head[l].cls_score, kModuleRel);
    CompareMap(r, "head.bbox_pred." + k, ctx.head[l].bbox_pred, kModuleRel);
    CompareMap(r, "head.kpt_vis." + k, ctx.head[l].kpt_vis, kModuleRel);
    CompareMap(r, "head.pose_feat." + k, ctx.head[l].pose_feat, kModuleRel);
  }
  // Post-processing + DCC from the golden head outputs: same candidates, same order.
  for (int l = 0; l < 2; ++l) {
    const std::string k = std::to_string(l);
    Load("head.cls_score." + k, ctx.head[l].cls_score);
    Load("head.bbox_pred." + k, ctx.head[l].bbox_pred);
    Load("head.kpt_vis." + k, ctx.head[l].kpt_vis);
    Load("head.pose_feat." + k, ctx.head[l].pose_feat);
  }
  const ModelConfig& cfg = net.cfg;
  SelectCandidates(ctx.head, {cfg.head_strides[0], cfg.head_strides[1]}, 0.1f, &ctx.candidates);
  Nms(ctx.candidates, 0.65f, &ctx.keep, &ctx.suppressed);
  {
    const Npy gi = G("pre_nms.index"), gk = G("nms.keep");
    std::vector<int64_t> index, keep(ctx.keep.begin(), ctx.keep.end());
    for (const auto& c : ctx.candidates) index.push_back(c.index);
    if (gi.i != index) r.Fail("pre_nms.index", "differs from the golden (must be equal)");
    if (gk.i != keep) r.Fail("nms.keep", "differs from the golden (must be equal)");
    const Npy gs = G("pre_nms.scores");
    if (gs.f.size() == ctx.candidates.size()) {
      double d = 0;
      for (size_t i = 0; i < gs.f.size(); ++i)
        d = std::max(d, std::fabs(gs.f[i] - ctx.candidates[i].score));
      if (d > kScoreTol) r.Fail("pre_nms.scores", "max abs " + std::to_string(d));
      std::printf("  %-22s max_abs %.3e (tol %.0e abs)\n", "pre_nms.scores", d, kScoreTol);
    }
  }
  const int n = static_cast<int>(ctx.keep.size()), P = cfg.pose_vec_channels;
  ctx.boxes.resize(n);
  float* pv = nn::Grow(&ctx.dcc.pose_vecs, static_cast<size_t>(n) * P);
  for (int i = 0; i < n; ++i) {
    const Candidate<float>& c = ctx.candidates[ctx.keep[i]];
    for (int ch = 0; ch < P; ++ch) pv[i * P + ch] = ctx.head[c.level].pose_feat.channel(ch)[c.cell];
    ctx.boxes[i] = BboxXyxy2Cs(c, cfg.bbox_padding);
  }
  DCCForward(env, net.dcc, ctx.boxes, ctx.dcc);
  const std::pair<const char*, const std::vector<float>*> dcc[] = {
      {"dcc.kpt_feats", &ctx.dcc.kpt_feats},
      {"dcc.gau", &ctx.dcc.gau},
      {"dcc.x_logits", &ctx.dcc.x_logits},
      {"dcc.y_logits", &ctx.dcc.y_logits}};
  for (const auto& [name, v] : dcc) {
    const Npy g = G(name);
    if (g.f.size() > v->size()) {
      r.Fail(name, "shape mismatch");
      continue;
    }
    r.Add(name, Compare(g.f.data(), v->data(), g.f.size()), kDccRel);
  }
  // Keypoints (network-input pixels): the DCC amplifies logit noise (see the file comment).
  const Npy gk = G("keypoints.input");
  const std::vector<float>& ck = ctx.dcc.keypoints;
  if (gk.f.size() == static_cast<size_t>(n) * cfg.num_keypoints * 2) {
    std::vector<double> dist;
    for (size_t i = 0; i + 1 < gk.f.size(); i += 2) {
      dist.push_back(std::hypot(gk.f[i] - ck[i], gk.f[i + 1] - ck[i + 1]));
    }
    if (!dist.empty()) {
      std::sort(dist.begin(), dist.end());
      const double med = dist[dist.size() / 2], mx = dist.back();
      std::printf("  %-22s median %.3e px  max %.3e px  (tol %.0e / %.0e)\n", "keypoints.input",
                  med, mx, kKptMedianPx, kKptMaxPx);
      if (med > kKptMedianPx || mx > kKptMaxPx) {
        r.Fail("keypoints.input", "median " + std::to_string(med) + " max " + std::to_string(mx));
      }
    }
  } else {
    r.Fail("keypoints.input", "shape mismatch");
  }
  // Boxes (clamped, image pixels) and scores against predictions.json.
  const Image img = LoadImage(Png());
  const Letterbox lb = MakeLetterbox(img.width, img.height, net.cfg.input_w, net.cfg.input_h);
  std::ifstream jf(dir_ + "/predictions.json");
  const nlohmann::json j = nlohmann::json::parse(jf);
  const auto& people = j["people"];
  if (people.size() != ctx.keep.size()) {
    r.Fail("people",
           "count " + std::to_string(ctx.keep.size()) + " vs " + std::to_string(people.size()));
  } else {
    double box_err = 0, score_err = 0;
    for (size_t i = 0; i < people.size(); ++i) {
      const Candidate<float>& c = ctx.candidates[ctx.keep[i]];
      const std::array<double, 4> mine = MapBackBox(lb, c.box);
      for (int k = 0; k < 4; ++k) {
        box_err = std::max(box_err, std::fabs(mine[k] - people[i]["bbox"][k].get<double>()));
      }
      score_err = std::max(score_err, std::fabs(c.score - people[i]["score"].get<double>()));
    }
    std::printf("  %-22s boxes max %.3e px (tol %.0e)  scores max %.3e (tol %.0e)\n", "predictions",
                box_err, kBoxTolPx, score_err, kScoreTol);
    if (box_err > kBoxTolPx) r.Fail("predictions.bbox", std::to_string(box_err) + " px");
    if (score_err > kScoreTol) r.Fail("predictions.score", std::to_string(score_err));
  }
  r.Finish();
}

// The PNG through the public API with --dump: every dumped tensor against its golden, and the
// people (same instances, same order) in image pixels.
TEST_P(Golden, EndToEnd) {
  const Model model = Model::Load(GoldensDir() + "/rtmo-" + variant_ + "/model.rtmo");
  PredictOptions opt;
  opt.dump_dir = ::testing::TempDir() + "/rtmo_e2e_" + variant_ + "_" + image_;
  opt.dump_file = image_ + ".png";
  const std::vector<Person> people = model.Predict(LoadImage(Png()), opt);
  Report r("rtmo-" + variant_ + " " + image_ + " end to end");
  const char* dense[] = {
      "backbone.stem",     "backbone.stage1",   "backbone.stage2",   "backbone.stage3",
      "backbone.stage4",   "neck.input_proj.0", "neck.input_proj.1", "neck.input_proj.2",
      "neck.encoder.0",    "neck.fpn_blocks.0", "neck.fpn_blocks.1", "neck.pan_blocks.0",
      "neck.pan_blocks.1", "neck.out.0",        "neck.out.1",        "head.cls_score.0",
      "head.bbox_pred.0",  "head.kpt_vis.0",    "head.pose_feat.0",  "head.cls_score.1",
      "head.bbox_pred.1",  "head.kpt_vis.1",    "head.pose_feat.1"};
  {
    const Npy g = G("input"), c = ReadNpy(opt.dump_dir + "/input.npy");
    if (g.f != c.f) r.Fail("input", "not bit-identical");
  }
  for (const char* name : dense) {
    const Npy g = G(name), c = ReadNpy(opt.dump_dir + "/" + name + ".npy");
    if (g.shape != c.shape) {
      r.Fail(name, "shape mismatch");
      continue;
    }
    r.Add(name, Compare(g.f.data(), c.f.data(), g.f.size()), kE2eRel);
  }
  // People: same count; same order except where two scores are closer than the end-to-end
  // score noise (then float noise may legitimately swap them; such swaps are reported).
  std::ifstream jf(dir_ + "/predictions.json");
  const nlohmann::json j = nlohmann::json::parse(jf);
  const auto& gp = j["people"];
  EXPECT_EQ(people.size(), gp.size()) << "people count";
  double box_err = 0, score_err = 0;
  std::vector<double> kd;
  int swaps = 0;
  std::vector<bool> used(gp.size(), false);
  for (size_t i = 0; i < std::min(people.size(), gp.size()); ++i) {
    // The golden person with the same box (nearest among unused ones close in order).
    size_t best = i;
    double best_d = INFINITY;
    for (size_t k = (i > 2 ? i - 2 : 0); k < std::min(gp.size(), i + 3); ++k) {
      if (used[k]) continue;
      double d = 0;
      for (int c = 0; c < 4; ++c)
        d = std::max(d, std::fabs(people[i].bbox[c] - gp[k]["bbox"][c].get<double>()));
      if (d < best_d) best_d = d, best = k;
    }
    used[best] = true;
    if (best != i) {
      ++swaps;
      const double gap = std::fabs(gp[best]["score"].get<double>() - gp[i]["score"].get<double>());
      EXPECT_LT(gap, 1e-4) << "person " << i << " matches golden person " << best
                           << " but their scores differ by " << gap << " (not a near-tie)";
    }
    for (int c = 0; c < 4; ++c)
      box_err = std::max(box_err, std::fabs(people[i].bbox[c] - gp[best]["bbox"][c].get<double>()));
    score_err = std::max(score_err, std::fabs(people[i].score - gp[best]["score"].get<double>()));
    for (size_t k = 0; k < people[i].keypoints.size(); ++k) {
      const auto& g = gp[best]["keypoints"][k];
      kd.push_back(std::hypot(people[i].keypoints[k].x - g[0].get<double>(),
                              people[i].keypoints[k].y - g[1].get<double>()));
    }
  }
  std::sort(kd.begin(), kd.end());
  const auto pct = [&](double q) {
    return kd.empty() ? 0.0 : kd[static_cast<size_t>(q * (kd.size() - 1))];
  };
  const double kmed = pct(0.5), k99 = pct(0.99), kmax = pct(1.0);
  std::printf(
      "  people %zu (golden %zu), near-tie swaps %d: boxes max %.3e px, scores max %.3e, "
      "keypoints median %.3e px p99 %.3e px max %.3e px\n",
      people.size(), gp.size(), swaps, box_err, score_err, kmed, k99, kmax);
  const double frac_over_1px =
      kd.empty() ? 0.0
                 : static_cast<double>(kd.end() - std::upper_bound(kd.begin(), kd.end(), 1.0)) /
                       static_cast<double>(kd.size());
  std::printf("  keypoints beyond 1 px: %.4f of %zu\n", frac_over_1px, kd.size());
  // End-to-end bounds. The network's float32 noise compounds to ~5e-4 abs on the head
  // outputs (both PyTorch's and ours; see the file comment), so boxes move by ~1e-2 px and
  // scores by ~5e-5, and the DCC logits by up to ~0.13. A keypoint whose 1-D heatmap is
  // two-peaked (common with these random weights) moves by p1*p2*dlogit*(peak distance):
  // measured worst case rtmo-s 000000197388, instance 18 keypoint 14, y probabilities 0.48
  // and 0.36 at bins 134 and 244, logit change 0.13 -> 10.7 px. The median stays ~1e-2 px
  // and at most 2.7% of keypoints move by more than 1 px, so those are asserted and the
  // maximum is reported; max <= 0.1 px is asserted where the DCC gets the same inputs
  // (ModulesOnGoldenInputs).
  EXPECT_LT(box_err, 0.05) << "boxes (image px)";
  EXPECT_LT(score_err, 1e-4) << "scores";
  EXPECT_LT(kmed, 0.05) << "keypoint median (image px)";
  EXPECT_LT(frac_over_1px, 0.05) << "share of keypoints beyond 1 px";
  r.Finish();
}

INSTANTIATE_TEST_SUITE_P(Rtmo, Golden,
                         ::testing::Combine(::testing::Values(std::string("t"), std::string("s")),
                                            ::testing::ValuesIn(std::vector<std::string>(
                                                std::begin(kImages), std::end(kImages)))),
                         [](const auto& info) {
                           return "rtmo_" + std::get<0>(info.param) + "_" + std::get<1>(info.param);
                         });

// ---- determinism -------------------------------------------------------------------------

bool SamePeople(const std::vector<Person>& a, const std::vector<Person>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::memcmp(a[i].bbox.data(), b[i].bbox.data(), sizeof(double) * 4) != 0) return false;
    if (std::memcmp(&a[i].score, &b[i].score, sizeof(double)) != 0) return false;
    if (a[i].keypoints.size() != b[i].keypoints.size()) return false;
    for (size_t k = 0; k < a[i].keypoints.size(); ++k) {
      if (std::memcmp(&a[i].keypoints[k], &b[i].keypoints[k], sizeof(Keypoint)) != 0) return false;
    }
  }
  return true;
}

TEST(Determinism, TwoThreadsOneModelIdentical) {
  ASSERT_FALSE(GoldensDir().empty());
  const Model model = Model::Load(GoldensDir() + "/rtmo-t/model.rtmo");
  const Image a = LoadImage(std::string(RTMO_TEST_DATA_DIR) + "/coco/000000000785.png");
  const Image b = LoadImage(std::string(RTMO_TEST_DATA_DIR) + "/coco/000000040083.png");
  const std::vector<Person> ra = model.Predict(a), rb = model.Predict(b);
  ASSERT_FALSE(ra.empty());
  std::vector<Person> ta, tb;
  std::thread t1([&] { ta = model.Predict(a); });
  std::thread t2([&] { tb = model.Predict(b); });
  t1.join();
  t2.join();
  EXPECT_TRUE(SamePeople(ra, ta));
  EXPECT_TRUE(SamePeople(rb, tb));
}

TEST(Determinism, ThreadCountInvariant) {
  ASSERT_FALSE(GoldensDir().empty());
  const Model model = Model::Load(GoldensDir() + "/rtmo-t/model.rtmo");
  const Image img = LoadImage(std::string(RTMO_TEST_DATA_DIR) + "/coco/000000196141.png");
  const int saved = omp_get_max_threads();
  std::vector<std::vector<Person>> results;
  for (int threads : {1, 2, 7}) {
    omp_set_num_threads(threads);
    results.push_back(model.Predict(img));
  }
  omp_set_num_threads(saved);
  ASSERT_FALSE(results[0].empty());
  EXPECT_TRUE(SamePeople(results[0], results[1])) << "1 vs 2 threads";
  EXPECT_TRUE(SamePeople(results[0], results[2])) << "1 vs 7 threads";
}

}  // namespace
}  // namespace rtmo
