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
#include "rtmo/testing/synthetic_model.h"

namespace {

void Write(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  std::printf("%s (%zu bytes)\n", path.c_str(), b.size());
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

  const rtmo::ModelConfig mini = rtmo::MiniatureConfig();
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
