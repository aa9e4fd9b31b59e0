// The network code on small synthetic models (no PyTorch needed), so that it runs under
// ASan+UBSan in CI (label `sanitize`): every variant's structure at a 64x64 input with
// seeded random weights in the official layout (rtmo/testing/synthetic_model.h), Best() against
// the Reference() kernels, --dump, determinism, and bad weight files.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "rtmo/io/weights.h"
#include "rtmo/model_impl.h"
#include "rtmo/net/network.h"
#include "rtmo/rtmo.h"
#include "rtmo/testing/synthetic_model.h"
#include "tests/rtmo/golden_util.h"
#include "tests/rtmo/image_util.h"

namespace rtmo {
namespace {

std::string WriteTemp(const std::string& name, const std::vector<uint8_t>& bytes) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return path;
}

ModelConfig Tiny(const std::string& variant, int keypoints = 17) {
  ModelConfig cfg = ModelConfig::ForVariant(variant, keypoints);
  cfg.input_w = 64;
  cfg.input_h = 96;  // non-square: catches h/w mix-ups
  return cfg;
}

using testing::RandomImage;

class Synthetic : public ::testing::TestWithParam<std::string> {};

// Every variant's module structure runs, gives finite, ordered, reproducible people, and
// --dump writes every name with the documented shapes.
TEST_P(Synthetic, PredictAndDump) {
  const ModelConfig cfg = Tiny(GetParam(), GetParam() == "t" ? 14 : 17);
  const std::string path = WriteTemp("synthetic_" + GetParam() + ".rtmo", SyntheticWeights(cfg, 1));
  const Model model = Model::Load(path);
  EXPECT_EQ(model.info().num_keypoints, cfg.num_keypoints);
  PredictOptions opt;
  opt.score_thr = 0.0f;  // every cell passes: exercises NMS and the DCC
  opt.dump_dir = ::testing::TempDir() + "/synthetic_dump_" + GetParam();
  const Image img = RandomImage(101, 77, 7);
  const std::vector<Person> people = model.Predict(img, opt);
  ASSERT_FALSE(people.empty());
  for (size_t i = 0; i < people.size(); ++i) {
    if (i > 0) {
      EXPECT_GE(people[i - 1].score, people[i].score);
    }
    ASSERT_EQ(people[i].keypoints.size(), static_cast<size_t>(cfg.num_keypoints));
    for (double b : people[i].bbox) EXPECT_TRUE(std::isfinite(b));
    for (const Keypoint& k : people[i].keypoints) {
      EXPECT_TRUE(std::isfinite(k.x) && std::isfinite(k.y));
      EXPECT_GE(k.score, 0.0);
      EXPECT_LE(k.score, 1.0);
    }
  }
  // Same result again (the context pool reuses memory) and without dumping.
  const std::vector<Person> again = model.Predict(img);
  ASSERT_EQ(again.size(), people.size());
  for (size_t i = 0; i < people.size(); ++i) {
    EXPECT_EQ(again[i].bbox, people[i].bbox);
    EXPECT_EQ(again[i].score, people[i].score);
  }
  const int64_t n = static_cast<int64_t>(people.size()), K = cfg.num_keypoints;
  const auto dumped = [&](const std::string& name) {
    return testing::ReadNpy(opt.dump_dir + "/" + name + ".npy").shape;
  };
  EXPECT_EQ(dumped("input"), (std::vector<int64_t>{1, 3, 96, 64}));
  EXPECT_EQ(dumped("backbone.stage4"), (std::vector<int64_t>{1, cfg.stage_channels[3], 3, 2}));
  EXPECT_EQ(dumped("neck.encoder.0"), (std::vector<int64_t>{1, 256, 3, 2}));
  EXPECT_EQ(dumped("head.pose_feat.0"), (std::vector<int64_t>{1, cfg.pose_vec_channels, 6, 4}));
  EXPECT_EQ(dumped("pre_nms.index"), (std::vector<int64_t>{6 * 4 + 3 * 2}));
  EXPECT_EQ(dumped("nms.keep"), (std::vector<int64_t>{n}));
  EXPECT_EQ(dumped("dcc.x_logits"), (std::vector<int64_t>{n, K, 192}));
  EXPECT_EQ(dumped("keypoints.input"), (std::vector<int64_t>{n, K, 2}));
  EXPECT_TRUE(std::filesystem::exists(opt.dump_dir + "/predictions.json"));
}

// Copies of the float32 tensors an inference shows its observer.
class Recorder : public Observer {
 public:
  void OnTensor(const TensorView& t) override {
    if (t.type != ElemType::kF32) return;
    const float* p = static_cast<const float*>(t.data);
    seen[std::string(t.name)].assign(p, p + t.numel());
  }
  std::map<std::string, std::vector<float>> seen;
};

// The optimized kernels against their naive twins, through the whole network.
TEST_P(Synthetic, BestMatchesReference) {
  const ModelConfig cfg = Tiny(GetParam());
  const std::vector<uint8_t> bytes = SyntheticWeights(cfg, 2);
  const Weights w = Weights::FromBytes("synthetic", bytes.data(), bytes.size());
  const Network<float> best = LoadNetwork<float>(w, &kernels::Best());
  const Network<float> ref = LoadNetwork<float>(w, &kernels::Reference());
  Context<float> cb(best, cfg.input_w, cfg.input_h), cr(ref, cfg.input_w, cfg.input_h);
  const Image img = RandomImage(cfg.input_w, cfg.input_h, 3);
  Recorder rb, rr;
  RunPipeline<float>(best, cb, img, 0.1f, 0.65f, &rb);
  RunPipeline<float>(ref, cr, img, 0.1f, 0.65f, &rr);
  // float32 (Best) vs double accumulation (Reference) through ~60 layers: relative 1e-4.
  for (const char* name : {"neck.out.0", "neck.out.1", "head.cls_score.0", "head.cls_score.1",
                           "head.pose_feat.0", "head.pose_feat.1"}) {
    ASSERT_TRUE(rb.seen.count(name) && rr.seen.count(name)) << name;
    const std::vector<float>& a = rb.seen[name];
    ASSERT_EQ(a.size(), rr.seen[name].size()) << name;
    const std::vector<double> golden(rr.seen[name].begin(), rr.seen[name].end());
    const testing::Diff d = testing::Compare(golden.data(), a.data(), a.size());
    EXPECT_LE(d.rel(), 1e-4) << name << ": max abs " << d.max_abs;
  }
}

// t (narrowest, int() truncation in the pose branch, here with 14 keypoints) and l (3 blocks
// per CSP/RepVGG stack, CSPRepLayer conv3 = Identity); s is covered by the golden tests and
// m only differs from them in widths and depths.
INSTANTIATE_TEST_SUITE_P(Variants, Synthetic, ::testing::Values("t", "l"));

// ---- the context's buffers: a phase boundary hands dead maps' memory to later maps -------

bool Inside(const float* p, size_t n, const float* base, size_t size) {
  return p >= base && p + n <= base + size;
}

TEST(Buffers, RecycleHandsDeadMemoryToLaterMaps) {
  nn::Buffers<float> b;
  float* a = b.New(100);  // recycled: 96 floats (whole 64-byte lines)
  float* kept = b.New(50);
  const Mat<float> pe = b.NewConstantMat(4, 8);
  ASSERT_EQ(b.total(), 182u);
  b.Recycle({kept});
  float* d = b.New(60);  // takes 64 of a's 96
  EXPECT_EQ(d, a);
  float* e = b.New(30);  // 32: the rest of a
  EXPECT_EQ(e, a + 64);
  float* f = b.New(20);  // nothing left: the heap
  EXPECT_EQ(b.total(), 202u) << "recycled memory is not counted again";
  for (float* p : {d, e, f}) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u) << "maps stay 64-byte aligned";
    EXPECT_FALSE(Inside(p, 1, kept, 50)) << "a kept buffer was handed out";
    EXPECT_FALSE(Inside(p, 1, pe.data, 32)) << "a constant was handed out";
  }
  EXPECT_FALSE(Inside(f, 20, a, 100));
  // A second boundary recycles only what was allocated since the first (f, and not a again,
  // whose memory d and e now hold).
  b.Recycle({});
  float* g = b.New(16);
  EXPECT_EQ(g, f);
  float* h = b.New(16);
  EXPECT_FALSE(Inside(h, 16, a, 100)) << "memory recycled twice";
  EXPECT_FALSE(Inside(h, 16, pe.data, 32)) << "a constant was handed out";
}

// ---- bad weights: Model::Load throws rtmo::Error, no partial model ------------------------

TEST(BadWeights, MissingFile) {
  EXPECT_THROW(Model::Load(::testing::TempDir() + "/does_not_exist.rtmo"), Error);
}

TEST(BadWeights, Truncated) {
  std::vector<uint8_t> bytes = SyntheticWeights(Tiny("t"), 4);
  bytes.resize(bytes.size() / 2);
  EXPECT_THROW(Model::Load(WriteTemp("truncated.rtmo", bytes)), Error);
}

TEST(BadWeights, WrongShapeNamesTheTensor) {
  const std::string bad = "neck.fpn_blocks.0.bottlenecks.0.branch_1x1.conv.weight";
  SyntheticWeightsOptions wrong_shape;
  wrong_shape.corrupt_name = bad;
  const std::string path =
      WriteTemp("wrong_shape.rtmo", SyntheticWeights(Tiny("t"), 5, wrong_shape));
  try {
    Model::Load(path);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
  }
}

TEST(BadWeights, EmptyImage) {
  const Model model = Model::Load(WriteTemp("ok.rtmo", SyntheticWeights(Tiny("t"), 6)));
  Image img;
  EXPECT_THROW(model.Predict(img), Error);
  img.width = 10;
  img.height = 10;
  img.bgr.resize(10);  // inconsistent size
  EXPECT_THROW(model.Predict(img), Error);
}

}  // namespace
}  // namespace rtmo
