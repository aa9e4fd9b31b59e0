// Test support, built only for tests, fuzz targets and the stress tool (never installed):
// small model configs and seeded random weights in the official layout, so that the network
// and the weights reader can be exercised without a PyTorch checkpoint. Used by
// tests/rtmo/{weights,model_synthetic}_test.cc and rtmo/fuzz/{weights_seeds,stress_predict}.cc.
#ifndef RTMO_TESTING_SYNTHETIC_MODEL_H_
#define RTMO_TESTING_SYNTHETIC_MODEL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "rtmo/io/config.h"
#include "rtmo/io/weights.h"

namespace rtmo {

// rtmo-t's module structure, 1 keypoint, every width 1-8 channels: the complete layout
// (every tensor kind) fits in a few dozen KB, affordable for checksum and fuzz seeds.
ModelConfig MiniatureConfig();

struct SyntheticWeightsOptions {
  uint32_t version = kWeightsVersion;  // the .rtmo format version written
  // When set, every element of the final classification biases (out_cls.*.bias), e.g. -1
  // (sigmoid = 0.27) so that only a few cells pass score_thr 0.1 and post-processing stays
  // cheap at full input sizes; otherwise they are random like any 1-d tensor.
  std::optional<float> cls_bias;
  // A tensor written with its last dimension one larger than the layout's (a wrong-shape
  // file for the reader's error path); empty: none.
  std::string corrupt_name;
};

// cfg, seed -> a .rtmo file image with every tensor of ForEachTensor(cfg), drawn so that
// activations stay O(1): conv/linear weights uniform with variance 1/fan_in, BN near
// identity, the constant buffers (dim_t, bins) with their official values. The same
// (cfg, seed, options) always gives the same bytes.
std::vector<uint8_t> SyntheticWeights(const ModelConfig& cfg, uint32_t seed,
                                      const SyntheticWeightsOptions& options = {});

}  // namespace rtmo

#endif  // RTMO_TESTING_SYNTHETIC_MODEL_H_
