// Exact verification: the C++ float64 path (`--precision f64`, rtmo::Precision::kF64)
// against the PyTorch reference run in float64 (tools/reference/dump_goldens.py
// --dtype float64; ctest fixture `goldens`, OUTDIR/rtmo-V/<image>/f64/), for rtmo-t, s, m
// and l on every sample image the fixture made float64 goldens for.
//
// Why the bounds are tight and have no escape hatch: in float64 two independent
// implementations of the same arithmetic differ only by rounding, ~1e-16 per operation;
// through ~100 layers of sums of up to ~10^4 terms that compounds to ~1e-13 relative
// (measured: the official mmpose model vs our PyTorch reference, both float64: 2e-13 per
// module on rtmo-s). A real mistake (a wrong epsilon, a float32 constant, an off-by-one
// bin, a missing BatchNorm term) moves results by >= 1e-8 relative. So:
//   every module           rel-L2 <= 1e-10  (||cpp - golden|| / ||golden||)
//   candidates, NMS keeps   identical in content and order (score gaps of 1e-13 would
//                           be needed to swap two, far below any near-tie we have seen)
//   boxes                   <= 1e-8 px   (|golden| <= ~1e3 px, so 1e-11 relative)
//   scores                  <= 1e-10
//   keypoints               max <= 1e-6 px (the DCC's soft-argmax over 192/256 bins
//                           amplifies logit noise by at most the bin span, ~1e3 px)
// Each assertion message names the metric and the measured figure.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "rtmo/rtmo.h"
#include "tests/rtmo/golden_util.h"

namespace rtmo {
namespace {

using testing::Compare;
using testing::Diff;
using testing::Npy;
using testing::ReadNpy;

constexpr double kModuleRelL2 = 1e-10;
constexpr double kBoxTolPx = 1e-8;
constexpr double kScoreTol = 1e-10;
constexpr double kKptTolPx = 1e-6;

std::string GoldensDir() {
  const char* d = std::getenv("RTMO_GOLDENS");
  return d ? d : "";
}

// Image stems with float64 goldens for `variant`, sorted.
std::vector<std::string> F64Stems(const std::string& variant) {
  std::vector<std::string> stems;
  const std::filesystem::path vdir = GoldensDir() + "/rtmo-" + variant;
  if (!std::filesystem::is_directory(vdir)) return stems;
  for (const auto& e : std::filesystem::directory_iterator(vdir)) {
    if (std::filesystem::exists(e.path() / "f64" / "index.json")) {
      stems.push_back(e.path().filename().string());
    }
  }
  std::sort(stems.begin(), stems.end());
  return stems;
}

class F64 : public ::testing::TestWithParam<std::string> {};

// One image through Model::Predict in float64 with --dump; every module and the people
// against the float64 goldens.
void CheckImage(const Model& model, const std::string& variant, const std::string& stem,
                const std::string& sub = "f64", const std::string& ext = ".png") {
  const std::string gdir = GoldensDir() + "/rtmo-" + variant + "/" + stem + "/" + sub;
  const std::string png = std::string(RTMO_TEST_DATA_DIR) + "/coco/" + stem + ext;
  SCOPED_TRACE("rtmo-" + variant + " " + stem + " " + sub);
  PredictOptions opt;
  opt.dump_dir = ::testing::TempDir() + "/rtmo_" + sub + "_" + variant + "_" + stem;
  opt.dump_file = stem + ext;
  const std::vector<Person> people = model.Predict(LoadImage(png), opt);

  std::ifstream index_file(gdir + "/index.json");
  const nlohmann::json index = nlohmann::json::parse(index_file);
  std::printf("rtmo-%s %s %s: float64 vs PyTorch float64 (metric: rel-L2, bound %.0e)\n",
              variant.c_str(), stem.c_str(), sub.c_str(), kModuleRelL2);
  for (const auto& [name, meta] : index["names"].items()) {
    const Npy g = ReadNpy(gdir + "/" + meta["file"].get<std::string>());
    const std::string mine_path = opt.dump_dir + "/" + name + ".npy";
    ASSERT_TRUE(std::filesystem::exists(mine_path)) << name << ": not dumped";
    const Npy c = ReadNpy(mine_path);
    ASSERT_EQ(c.shape, g.shape) << name << ": shape";
    if (g.is_int64 || c.is_int64) {  // candidate indices, NMS keep list
      EXPECT_EQ(c.i, g.i) << name << ": must equal the golden in content and order";
      std::printf("  %-22s %s\n", name.c_str(), c.i == g.i ? "identical" : "DIFFERS");
      continue;
    }
    ASSERT_TRUE(c.is_f64) << name << ": the float64 path dumps float64";
    const Diff d = Compare(g.f.data(), c.f.data(), g.f.size());
    std::printf("  %-22s rel-L2 %.3e  max_abs %.3e\n", name.c_str(), d.rel_l2(), d.max_abs);
    EXPECT_LE(d.rel_l2(), kModuleRelL2) << name << ": rel-L2 " << d.rel_l2();
  }

  std::ifstream jf(gdir + "/predictions.json");
  const nlohmann::json j = nlohmann::json::parse(jf);
  const auto& gp = j["people"];
  ASSERT_EQ(people.size(), gp.size()) << "people count";
  double box_err = 0, score_err = 0, kpt_err = 0, kscore_err = 0;
  for (size_t i = 0; i < people.size(); ++i) {
    for (int c = 0; c < 4; ++c) {
      box_err = std::max(box_err, std::fabs(people[i].bbox[c] - gp[i]["bbox"][c].get<double>()));
    }
    score_err = std::max(score_err, std::fabs(people[i].score - gp[i]["score"].get<double>()));
    ASSERT_EQ(people[i].keypoints.size(), gp[i]["keypoints"].size());
    for (size_t k = 0; k < people[i].keypoints.size(); ++k) {
      const auto& g = gp[i]["keypoints"][k];
      const Keypoint& p = people[i].keypoints[k];
      kpt_err = std::max(kpt_err, std::hypot(p.x - g[0].get<double>(), p.y - g[1].get<double>()));
      kscore_err = std::max(kscore_err, std::fabs(p.score - g[2].get<double>()));
    }
  }
  std::printf(
      "  people %zu: boxes max %.3e px, scores max %.3e, keypoints max %.3e px, "
      "keypoint scores max %.3e\n",
      people.size(), box_err, score_err, kpt_err, kscore_err);
  EXPECT_LE(box_err, kBoxTolPx) << "boxes: max abs " << box_err << " px";
  EXPECT_LE(score_err, kScoreTol) << "scores: max abs " << score_err;
  EXPECT_LE(kpt_err, kKptTolPx) << "keypoints: max distance " << kpt_err << " px";
  EXPECT_LE(kscore_err, kScoreTol) << "keypoint scores: max abs " << kscore_err;
}

TEST_P(F64, EqualsPyTorchFloat64) {
  ASSERT_FALSE(GoldensDir().empty()) << "RTMO_GOLDENS is not set (the goldens fixture sets it)";
  const std::string variant = GetParam();
  const std::vector<std::string> stems = F64Stems(variant);
  ASSERT_FALSE(stems.empty()) << "no float64 goldens for rtmo-" << variant << " under "
                              << GoldensDir();
  ModelOptions mo;
  mo.precision = Precision::kF64;
  const Model model = Model::Load(GoldensDir() + "/rtmo-" + variant + "/model.rtmo", mo);
  EXPECT_EQ(model.info().precision, Precision::kF64);
  for (const std::string& stem : stems) CheckImage(model, variant, stem);
}

INSTANTIATE_TEST_SUITE_P(Rtmo, F64, ::testing::Values("t", "s", "m", "l"),
                         [](const auto& info) { return "rtmo_" + info.param; });

// Network input sizes other than the checkpoint's (--input-size, ModelOptions::input_width/
// height): smaller, larger and non-square, against the reference run at the same size
// (make_goldens.py EXTRA_SIZES: rtmo-t, first image, <stem>/f64_<W>x<H>/).
TEST(F64InputSize, OtherSizesEqualPyTorchFloat64) {
  ASSERT_FALSE(GoldensDir().empty()) << "RTMO_GOLDENS is not set (the goldens fixture sets it)";
  const std::string stem = "000000000785";
  for (const auto& [w, h] : {std::pair{320, 320}, std::pair{960, 544}}) {
    const std::string sub = "f64_" + std::to_string(w) + "x" + std::to_string(h);
    ASSERT_TRUE(
        std::filesystem::exists(GoldensDir() + "/rtmo-t/" + stem + "/" + sub + "/index.json"))
        << sub << ": no goldens";
    ModelOptions mo;
    mo.precision = Precision::kF64;
    mo.input_width = w;
    mo.input_height = h;
    const Model model = Model::Load(GoldensDir() + "/rtmo-t/model.rtmo", mo);
    EXPECT_EQ(model.info().input_width, w);
    EXPECT_EQ(model.info().input_height, h);
    CheckImage(model, "t", stem, sub);
  }
}

// From the JPEG itself: `rtmo --precision f64` and `dump_goldens.py --dtype float64` on the
// same .jpg (our libjpeg-turbo decoding equals cv2.imread pixel for pixel).
TEST(F64Jpeg, EqualsPyTorchFloat64FromTheJpeg) {
  ASSERT_FALSE(GoldensDir().empty()) << "RTMO_GOLDENS is not set (the goldens fixture sets it)";
  ModelOptions mo;
  mo.precision = Precision::kF64;
  const Model model = Model::Load(GoldensDir() + "/rtmo-t/model.rtmo", mo);
  CheckImage(model, "t", "000000000785", "f64_jpeg", ".jpg");
}

// The float64 path is deterministic across thread counts, like the float32 one: bitwise
// identical people with 1 and 2 threads.
TEST(F64Determinism, ThreadCountInvariant) {
  ASSERT_FALSE(GoldensDir().empty()) << "RTMO_GOLDENS is not set (the goldens fixture sets it)";
  ModelOptions mo;
  mo.precision = Precision::kF64;
  const Model model = Model::Load(GoldensDir() + "/rtmo-t/model.rtmo", mo);
  const Image img = LoadImage(std::string(RTMO_TEST_DATA_DIR) + "/coco/000000040083.png");
  PredictOptions one, two;
  one.threads = 1;
  two.threads = 2;
  const std::vector<Person> a = model.Predict(img, one), b = model.Predict(img, two);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].bbox, b[i].bbox) << "person " << i;
    EXPECT_EQ(a[i].score, b[i].score) << "person " << i;
    for (size_t k = 0; k < a[i].keypoints.size(); ++k) {
      EXPECT_EQ(a[i].keypoints[k].x, b[i].keypoints[k].x);
      EXPECT_EQ(a[i].keypoints[k].y, b[i].keypoints[k].y);
      EXPECT_EQ(a[i].keypoints[k].score, b[i].keypoints[k].score);
    }
  }
}

}  // namespace
}  // namespace rtmo
