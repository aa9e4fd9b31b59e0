// ForEachTensor against the official state_dict layouts (weights/layouts/keys_rtmo-*.txt,
// dumped from mmpose v1.3.2 models): same names, same order, same shapes, minus the
// training-only entries.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "rtmo/error.h"
#include "rtmo/io/config.h"
#include "rtmo/net/network.h"

namespace rtmo {
namespace {

struct Entry {
  std::string name, dtype;
  std::vector<int64_t> shape;
};

// Parses "name\tdtype\t[a, b, c]" lines; '#' lines are comments.
std::vector<Entry> ReadLayout(const std::string& variant) {
  const std::string path = std::string(RTMO_LAYOUT_DIR) + "/keys_rtmo-" + variant + ".txt";
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::vector<Entry> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ss(line);
    Entry e;
    std::string shape;
    std::getline(ss, e.name, '\t');
    std::getline(ss, e.dtype, '\t');
    std::getline(ss, shape);
    for (char& ch : shape) {
      if (ch == '[' || ch == ']' || ch == ',') ch = ' ';
    }
    std::istringstream sh(shape);
    int64_t d;
    while (sh >> d) e.shape.push_back(d);
    out.push_back(e);
  }
  return out;
}

std::vector<Entry> Visit(const ModelConfig& c) {
  std::vector<Entry> out;
  ForEachTensor(c, [&](const std::string& n, const std::vector<int64_t>& s) {
    out.push_back({n, "float32", s});
  });
  return out;
}

class LayoutTest : public ::testing::TestWithParam<std::string> {};

TEST_P(LayoutTest, MatchesOfficialStateDict) {
  const std::vector<Entry> official = ReadLayout(GetParam());
  ASSERT_GT(official.size(), 500u);
  std::vector<Entry> expected;
  size_t dropped = 0;
  for (const Entry& e : official) {
    if (IsTrainingOnly(e.name)) {
      ++dropped;
    } else {
      expected.push_back(e);
    }
  }
  // loss_oks.sigmas + 4 out_kpt_reg + 3 sigma_fc + one num_batches_tracked per BN.
  EXPECT_GT(dropped, 8u);
  const std::vector<Entry> got = Visit(ModelConfig::ForVariant(GetParam(), 17));
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].name, expected[i].name) << "entry " << i;
    EXPECT_EQ(got[i].shape, expected[i].shape) << got[i].name;
    EXPECT_EQ(expected[i].dtype, "float32") << expected[i].name;
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, LayoutTest, ::testing::Values("t", "s", "m", "l"));

TEST(Layout, TrainingOnlyEntries) {
  EXPECT_TRUE(IsTrainingOnly("head.loss_oks.sigmas"));
  EXPECT_TRUE(IsTrainingOnly("head.head_module.out_kpt_reg.1.bias"));
  EXPECT_TRUE(IsTrainingOnly("head.dcc.sigma_fc.2.scale"));
  EXPECT_TRUE(IsTrainingOnly("backbone.stem.conv.bn.num_batches_tracked"));
  EXPECT_FALSE(IsTrainingOnly("head.head_module.out_kpt_vis.1.bias"));
  EXPECT_FALSE(IsTrainingOnly("head.dcc.x_fc.weight"));
}

// Keypoint count only changes the keypoint-indexed tensors (CrowdPose: 14).
TEST(Layout, KeypointCountScalesKeypointTensors) {
  const std::vector<Entry> a = Visit(ModelConfig::ForVariant("s", 17));
  const std::vector<Entry> b = Visit(ModelConfig::ForVariant("s", 14));
  ASSERT_EQ(a.size(), b.size());
  int changed = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].name, b[i].name);
    if (a[i].shape != b[i].shape) {
      ++changed;
      ASSERT_EQ(a[i].shape.size(), b[i].shape.size());
      // The first dim scales with K (K or K*128); the rest is unchanged.
      EXPECT_EQ(a[i].shape[0] * 14, b[i].shape[0] * 17) << a[i].name;
      for (size_t d = 1; d < a[i].shape.size(); ++d) EXPECT_EQ(a[i].shape[d], b[i].shape[d]);
    }
  }
  // out_kpt_vis.{0,1}.{weight,bias}, pos_enc, pose_to_kpts.0.{weight,bias}, BN1d x4.
  EXPECT_EQ(changed, 11);
}

TEST(Config, ForVariantMatchesArchitectureTable) {
  const ModelConfig t = ModelConfig::ForVariant("t");
  EXPECT_EQ(t.input_w, 416);
  EXPECT_EQ(t.pose_channels_per_group, 13);  // int(36 * 0.375) truncates 13.5
  const ModelConfig l = ModelConfig::ForVariant("l");
  EXPECT_EQ(l.csp_rep_hidden, l.neck_hidden);  // conv3 = Identity
  EXPECT_EQ(l.stage_blocks[1], 9);
  const ModelConfig m = ModelConfig::ForVariant("m");
  EXPECT_EQ(m.stage_blocks[0], 2);
  EXPECT_EQ(m.rep_blocks, 2);
  EXPECT_THROW(ModelConfig::ForVariant("x"), Error);
  EXPECT_THROW(ModelConfig::ForVariant("s", 0), Error);
}

}  // namespace
}  // namespace rtmo
