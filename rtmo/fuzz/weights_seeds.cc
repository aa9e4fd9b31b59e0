// weights_seeds DIR: writes the fuzzer's seed corpus -- the same kinds of files the reader
// tests build (tests/rtmo/weights_test.cc): a few tensors of every rank, a crowdpose
// config, and a complete model layout on a miniature config (so ValidateLayout succeeds).
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "rtmo/io/config.h"
#include "rtmo/io/weights.h"
#include "rtmo/net/network.h"

namespace {

void Write(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  std::printf("%s (%zu bytes)\n", path.c_str(), b.size());
}

// A model whose every width is tiny, so its full layout fits in a few dozen KB.
rtmo::ModelConfig Miniature() {
  rtmo::ModelConfig c = rtmo::ModelConfig::ForVariant("t", 1);
  c.stem_channels = 2;
  for (int& s : c.stage_channels) s = 2;
  c.neck_hidden = 8;
  c.csp_rep_hidden = 4;
  c.encoder_ffn = 4;
  c.head_cls_channels = 2;
  c.projector_out = 4;
  c.pose_groups = 2;
  c.pose_channels_per_group = 1;
  c.pose_vec_channels = 4;
  c.dcc_feat = 2;
  c.gau_expansion = 1;
  c.num_bins_x = 2;
  c.num_bins_y = 2;
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: weights_seeds DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  std::vector<float> values(4096);
  for (size_t i = 0; i < values.size(); ++i) values[i] = 0.001f * static_cast<float>(i) - 1.f;

  std::vector<rtmo::TensorToWrite> few = {{"a.weight", {2, 3, 4, 5}, values.data()},
                                          {"a.bias", {7}, values.data()},
                                          {"scalar", {}, values.data()},
                                          {"b.weight", {16, 16}, values.data()}};
  Write(dir + "/small.rtmo", rtmo::SerializeWeights(rtmo::ModelConfig::ForVariant("t"), few));
  rtmo::ModelConfig crowd = rtmo::ModelConfig::ForVariant("l", 14);
  crowd.dataset = "crowdpose";
  Write(dir + "/crowdpose_config.rtmo", rtmo::SerializeWeights(crowd, {few[1]}));
  Write(dir + "/no_tensors.rtmo", rtmo::SerializeWeights(rtmo::ModelConfig::ForVariant("s"), {}));

  const rtmo::ModelConfig mini = Miniature();
  std::vector<std::string> names;
  std::vector<std::vector<int64_t>> shapes;
  rtmo::ForEachTensor(mini, [&](const std::string& n, const std::vector<int64_t>& s) {
    names.push_back(n);
    shapes.push_back(s);
  });
  std::vector<rtmo::TensorToWrite> all;
  for (size_t i = 0; i < names.size(); ++i) all.push_back({names[i], shapes[i], values.data()});
  Write(dir + "/miniature_model.rtmo", rtmo::SerializeWeights(mini, all));
  // Version 1 (no checksums), still read: its parser path too.
  Write(dir + "/small_v1.rtmo",
        rtmo::SerializeWeights(rtmo::ModelConfig::ForVariant("t"), few, rtmo::kWeightsVersion1));
  Write(dir + "/miniature_model_v1.rtmo",
        rtmo::SerializeWeights(mini, all, rtmo::kWeightsVersion1));
  return 0;
}
