// Small configs and seeded synthetic weights for tests; see synthetic_model.h.
#include "rtmo/testing/synthetic_model.h"

#include <cmath>
#include <cstddef>
#include <random>

#include "rtmo/net/network.h"

namespace rtmo {
namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

ModelConfig MiniatureConfig() {
  ModelConfig c = ModelConfig::ForVariant("t", 1);
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

std::vector<uint8_t> SyntheticWeights(const ModelConfig& cfg, uint32_t seed,
                                      const SyntheticWeightsOptions& options) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<std::vector<float>> store;
  std::vector<TensorToWrite> tensors;
  ForEachTensor(cfg, [&](const std::string& name, const std::vector<int64_t>& shape) {
    size_t n = 1;
    for (int64_t d : shape) n *= static_cast<size_t>(d);
    std::vector<float> v(n);
    const bool bn = name.find(".bn.") != std::string::npos ||
                    name.find("pose_to_kpts.1.") != std::string::npos ||
                    name.find(".norms.") != std::string::npos;
    const bool cls_bias = options.cls_bias.has_value() &&
                          name.find("out_cls.") != std::string::npos && EndsWith(name, ".bias");
    for (size_t i = 0; i < n; ++i) {
      if (cls_bias) {
        v[i] = *options.cls_bias;
      } else if (EndsWith(name, "running_var")) {
        v[i] = 1.0f + 0.5f * (u(rng) + 1.0f);
      } else if (EndsWith(name, "running_mean")) {
        v[i] = 0.1f * u(rng);
      } else if (bn && EndsWith(name, ".weight")) {
        v[i] = 1.0f + 0.1f * u(rng);
      } else if (EndsWith(name, "sincos_pos_enc.dim_t")) {
        v[i] = static_cast<float>(std::pow(cfg.encoder_pe_temperature, double(i) / n));
      } else if (EndsWith(name, "spe.dim_t")) {
        v[i] = static_cast<float>(std::pow(cfg.dcc_spe_temperature, double(i) / n));
      } else if (EndsWith(name, "_bins")) {
        // Evenly spaced in [-0.5, 0.5] (a single bin sits at -0.5).
        v[i] = -0.5f + static_cast<float>(i) / static_cast<float>(n > 1 ? n - 1 : 1);
      } else if (EndsWith(name, "gau.ln.g") || EndsWith(name, "res_scale.scale")) {
        v[i] = 1.0f;
      } else if (shape.size() >= 2) {
        size_t fan_in = 1;
        for (size_t d = 1; d < shape.size(); ++d) fan_in *= static_cast<size_t>(shape[d]);
        if (name.find("pos_enc") != std::string::npos) fan_in = 1;
        v[i] = u(rng) * std::sqrt(3.0f / static_cast<float>(fan_in));
      } else {
        v[i] = 0.1f * u(rng);
      }
    }
    std::vector<int64_t> s = shape;
    if (name == options.corrupt_name) {
      s.back() += 1;
      v.resize(v.size() / shape.back() * s.back());
    }
    store.push_back(std::move(v));
    tensors.push_back({name, s, nullptr});
  });
  for (size_t i = 0; i < tensors.size(); ++i) tensors[i].data = store[i].data();
  return SerializeWeights(cfg, tensors, options.version);
}

}  // namespace rtmo
