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
#include "rtmo/net/network.h"
#include "rtmo/io/preprocess.h"
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
const Network& GetNetwork(const std::string& variant) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<Network>> nets;
  std::lock_guard<std::mutex> lock(mu);
  auto& n = nets[variant];
  if (!n) {
    const Weights w = Weights::Open(GoldensDir() + "/rtmo-" + variant + "/model.rtmo");
    w.ValidateLayout();
    n = std::make_unique<Network>(LoadNetwork(w, kernels::Best()));
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
  void CompareMap(Report& r, const std::string& name, const nn::MapView& m, double tol) const {
    const Npy g = G(name);
    const std::vector<int64_t> want = {1, m.c, m.h, m.w};
    if (g.shape != want) {
      r.Fail(name, "shape mismatch");
      return;
    }
    r.Add(name, Compare(g.f.data(), m.data, m.size()), tol);
  }
  void Load(const std::string& name, const nn::MapView& m) const {
    const Npy g = G(name);
    ASSERT_EQ(g.size(), m.size()) << name;
    std::copy(g.f.begin(), g.f.end(), m.data);
  }

  std::string variant_, image_, dir_;
};

// The network input from the PNG equals the golden input bit for bit.
TEST_P(Golden, InputBitIdentical) {
  const Network& net = GetNetwork(variant_);
  const Image img = LoadImage(Png());
  const Letterbox lb = MakeLetterbox(img.width, img.height, net.cfg.input_w, net.cfg.input_h);
  std::vector<float> in(static_cast<size_t>(3) * net.cfg.input_w * net.cfg.input_h);
  LetterboxChw(img, lb, in.data());
  const Npy g = G("input");
  ASSERT_EQ(g.f.size(), in.size());
  size_t differing = 0;
  for (size_t i = 0; i < in.size(); ++i) differing += std::memcmp(&g.f[i], &in[i], 4) != 0;
  EXPECT_EQ(differing, 0u) << "input values differing from the golden input";
}

TEST_P(Golden, ModulesOnGoldenInputs) {
  const Network& net = GetNetwork(variant_);
  const kernels::Ops& ops = *net.ops;
  Context ctx(net.cfg);
  Report r("rtmo-" + variant_ + " " + image_ + " modules on golden inputs");

  // Backbone from the golden input.
  Load("input", ctx.input);
  BackboneForward(ops, net.backbone, ctx.input, ctx.backbone, &ctx.scratch);
  CompareMap(r, "backbone.stem", ctx.backbone.stem, kModuleRel);
  for (int i = 0; i < 4; ++i) {
    CompareMap(r, "backbone.stage" + std::to_string(i + 1), ctx.backbone.stage[i], kModuleRel);
  }
  // Neck from the golden stages 2-4.
  for (int i = 1; i < 4; ++i) Load("backbone.stage" + std::to_string(i + 1), ctx.backbone.stage[i]);
  NeckForward(ops, net.neck, ctx.backbone.stage[1], ctx.backbone.stage[2], ctx.backbone.stage[3],
              ctx.neck, &ctx.scratch);
  for (int i = 0; i < 3; ++i) {
    CompareMap(r, "neck.input_proj." + std::to_string(i), ctx.neck.input_proj[i], kModuleRel);
  }
  CompareMap(r, "neck.encoder.0", ctx.neck.encoder, kModuleRel);
  for (int i = 0; i < 2; ++i)
    CompareMap(r, "neck.fpn_blocks." + std::to_string(i), ctx.neck.fpn_out[i], kModuleRel);
  for (int i = 0; i < 2; ++i)
    CompareMap(r, "neck.pan_blocks." + std::to_string(i), ctx.neck.pan_out[i], kModuleRel);
  for (int i = 0; i < 2; ++i)
    CompareMap(r, "neck.out." + std::to_string(i), ctx.neck.out[i], kModuleRel);
  // Head module from the golden neck outputs.
  for (int i = 0; i < 2; ++i) Load("neck.out." + std::to_string(i), ctx.neck.out[i]);
  HeadForward(ops, net.head, ctx.neck.out, ctx.head, &ctx.scratch);
  for (int l = 0; l < 2; ++l) {
    const std::string k = std::to_string(l);
    CompareMap(r, "head.cls_score." + k, ctx.head.cls_score[l], kModuleRel);
    CompareMap(r, "head.bbox_pred." + k, ctx.head.bbox_pred[l], kModuleRel);
    CompareMap(r, "head.kpt_vis." + k, ctx.head.kpt_vis[l], kModuleRel);
    CompareMap(r, "head.pose_feat." + k, ctx.head.pose_feat[l], kModuleRel);
  }
  // Post-processing + DCC from the golden head outputs: same candidates, same order.
  for (int l = 0; l < 2; ++l) {
    const std::string k = std::to_string(l);
    Load("head.cls_score." + k, ctx.head.cls_score[l]);
    Load("head.bbox_pred." + k, ctx.head.bbox_pred[l]);
    Load("head.kpt_vis." + k, ctx.head.kpt_vis[l]);
    Load("head.pose_feat." + k, ctx.head.pose_feat[l]);
  }
  const std::string tmp = ::testing::TempDir() + "/rtmo_golden_" + variant_ + "_" + image_;
  const Dumper dump(tmp);
  RunPost(net, ctx, 0.1f, 0.65f, &dump);
  for (const char* name : {"pre_nms.index", "nms.keep"}) {
    const Npy g = G(name), c = ReadNpy(tmp + "/" + name + ".npy");
    if (g.shape != c.shape || g.i != c.i) r.Fail(name, "differs from the golden (must be equal)");
  }
  const Npy gs = G("pre_nms.scores"), cs = ReadNpy(tmp + "/pre_nms.scores.npy");
  if (gs.shape == cs.shape) {
    const Diff d = Compare(gs.f.data(), cs.f.data(), gs.f.size());
    if (d.max_abs > kScoreTol) r.Fail("pre_nms.scores", "max abs " + std::to_string(d.max_abs));
    std::printf("  %-22s max_abs %.3e (tol %.0e abs)\n", "pre_nms.scores", d.max_abs, kScoreTol);
  }
  for (const char* name : {"dcc.kpt_feats", "dcc.gau", "dcc.x_logits", "dcc.y_logits"}) {
    const Npy g = G(name), c = ReadNpy(tmp + "/" + name + ".npy");
    if (g.shape != c.shape) {
      r.Fail(name, "shape mismatch");
      continue;
    }
    r.Add(name, Compare(g.f.data(), c.f.data(), g.f.size()), kDccRel);
  }
  // Keypoints (network-input pixels): the DCC amplifies logit noise (see the file comment).
  const Npy gk = G("keypoints.input"), ck = ReadNpy(tmp + "/keypoints.input.npy");
  if (gk.shape == ck.shape) {
    std::vector<double> dist;
    for (size_t i = 0; i + 1 < gk.f.size(); i += 2) {
      dist.push_back(std::hypot(gk.f[i] - ck.f[i], gk.f[i + 1] - ck.f[i + 1]));
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
      const Candidate& c = ctx.instances[i].cand;
      float b[4];
      for (int k = 0; k < 4; ++k) {
        b[k] = std::clamp(c.box[k], 0.0f,
                          static_cast<float>(k % 2 == 0 ? net.cfg.input_w : net.cfg.input_h));
      }
      const auto tl = MapToImage(lb, b[0], b[1]), br = MapToImage(lb, b[2], b[3]);
      const double mine[4] = {tl[0], tl[1], br[0], br[1]};
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
    if (std::memcmp(a[i].bbox.data(), b[i].bbox.data(), sizeof(float) * 4) != 0) return false;
    if (std::memcmp(&a[i].score, &b[i].score, sizeof(float)) != 0) return false;
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
