#include "rtmo/io/config.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "rtmo/error.h"

namespace rtmo {
namespace {

// widen/deepen per variant: configs/body_2d_keypoint/rtmo/body7/rtmo-*.py (widen_factor,
// deepen_factor near line 400). Computed in double like the Python configs do.
struct VariantFactors {
  const char* name;
  double widen;
  double deepen;
  int input;  // test_cfg.input_size
};
constexpr VariantFactors kVariants[] = {
    {"t", 0.375, 0.33, 416},
    {"s", 0.5, 0.33, 640},
    {"m", 0.75, 0.67, 640},
    {"l", 1.0, 1.0, 640},
};

// CSPDarknet arch 'P5' (csp_darknet.py:171-173): out channels and blocks per stage.
constexpr int kStageOut[4] = {128, 256, 512, 1024};
constexpr int kStageBlocks[4] = {3, 9, 9, 3};

void Check(bool ok, const std::string& source, const char* field, const std::string& expected,
           const std::string& found) {
  if (!ok) {
    throw Error(source + ": config field '" + field + "': expected " + expected + ", found " +
                found);
  }
}

void CheckRange(int v, int lo, int hi, const std::string& source, const char* field) {
  Check(v >= lo && v <= hi, source, field,
        "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]",
        std::to_string(v));
}

void CheckRangeF(double v, double lo, double hi, const std::string& source, const char* field) {
  // !(v >= lo) also rejects NaN.
  Check(std::isfinite(v) && v > lo && v <= hi, source, field,
        "a finite number in (" + std::to_string(lo) + ", " + std::to_string(hi) + "]",
        std::to_string(v));
}

}  // namespace

ModelConfig ModelConfig::ForVariant(std::string_view variant, int num_keypoints) {
  const VariantFactors* f = nullptr;
  for (const VariantFactors& v : kVariants) {
    if (variant == v.name) f = &v;
  }
  if (f == nullptr) {
    throw Error("unknown RTMO variant '" + std::string(variant) + "': expected t, s, m or l");
  }
  if (num_keypoints < 1 || num_keypoints > 1024) {
    throw Error("num_keypoints: expected 1..1024, found " + std::to_string(num_keypoints));
  }
  ModelConfig c;
  c.variant = f->name;
  c.input_w = c.input_h = f->input;
  c.num_keypoints = num_keypoints;
  c.widen_factor = f->widen;
  c.deepen_factor = f->deepen;
  c.stem_channels = static_cast<int>(64 * f->widen);
  for (int i = 0; i < 4; ++i) {
    c.stage_channels[i] = static_cast<int>(kStageOut[i] * f->widen);
    // max(round(n * deepen), 1) (csp_darknet.py:229); no value is a .5 tie.
    c.stage_blocks[i] = std::max(static_cast<int>(std::lround(kStageBlocks[i] * f->deepen)), 1);
  }
  c.csp_rep_hidden = static_cast<int>(c.neck_hidden * f->widen);  // hybrid_encoder.py:40
  c.rep_blocks = static_cast<int>(std::lround(3 * f->deepen));
  c.head_cls_channels = static_cast<int>(256 * f->widen);
  c.projector_out = 2 * c.head_cls_channels;
  c.pose_channels_per_group = static_cast<int>(36 * f->widen);  // t: int(13.5) = 13
  c.pose_vec_channels = static_cast<int>(512 * f->widen);
  return c;
}

void ModelConfig::Validate(const std::string& source) const {
  Check(variant == "t" || variant == "s" || variant == "m" || variant == "l", source, "variant",
        "one of t, s, m, l", "'" + variant + "'");
  CheckRange(input_w, 32, 8192, source, "input_w");
  CheckRange(input_h, 32, 8192, source, "input_h");
  Check(input_w % 32 == 0 && input_h % 32 == 0, source, "input_w/input_h",
        "multiples of 32 (the largest stride)",
        std::to_string(input_w) + "x" + std::to_string(input_h));
  CheckRange(num_keypoints, 1, 1024, source, "num_keypoints");
  CheckRangeF(widen_factor, 0.f, 4.f, source, "widen_factor");
  CheckRangeF(deepen_factor, 0.f, 4.f, source, "deepen_factor");
  CheckRange(stem_channels, 1, 4096, source, "stem_channels");
  for (int i = 0; i < 4; ++i) {
    CheckRange(stage_channels[i], 2, 8192, source, "stage_channels");
    Check(stage_channels[i] % 2 == 0, source, "stage_channels", "even (CSP halves)",
          std::to_string(stage_channels[i]));
    CheckRange(stage_blocks[i], 1, 64, source, "stage_blocks");
  }
  for (int k : spp_kernels) {
    CheckRange(k, 1, 63, source, "spp_kernels");
    Check(k % 2 == 1, source, "spp_kernels", "odd", std::to_string(k));
  }
  CheckRange(neck_hidden, 1, 8192, source, "neck_hidden");
  CheckRange(csp_rep_hidden, 1, 8192, source, "csp_rep_hidden");
  CheckRange(rep_blocks, 1, 64, source, "rep_blocks");
  CheckRange(encoder_layers, 1, 64, source, "encoder_layers");
  CheckRange(encoder_heads, 1, 256, source, "encoder_heads");
  Check(neck_hidden % encoder_heads == 0, source, "encoder_heads", "a divisor of neck_hidden",
        std::to_string(encoder_heads));
  CheckRange(encoder_ffn, 1, 65536, source, "encoder_ffn");
  CheckRange(projector_out, 2, 8192, source, "projector_out");
  CheckRange(head_cls_channels, 1, 8192, source, "head_cls_channels");
  Check(projector_out == 2 * head_cls_channels, source, "projector_out",
        "2 * head_cls_channels = " + std::to_string(2 * head_cls_channels),
        std::to_string(projector_out));
  CheckRange(head_stacked_convs, 1, 16, source, "head_stacked_convs");
  CheckRange(pose_groups, 1, 256, source, "pose_groups");
  CheckRange(pose_channels_per_group, 1, 4096, source, "pose_channels_per_group");
  CheckRange(pose_vec_channels, 1, 8192, source, "pose_vec_channels");
  CheckRange(head_strides[0], 1, 1024, source, "head_strides");
  CheckRange(head_strides[1], 1, 1024, source, "head_strides");
  CheckRangeF(bn_eps_backbone, 0.f, 1.f, source, "bn_eps_backbone");
  CheckRangeF(bn_eps_neck, 0.f, 1.f, source, "bn_eps_neck");
  CheckRangeF(bn_eps_head, 0.f, 1.f, source, "bn_eps_head");
  CheckRangeF(bn_eps_dcc, 0.f, 1.f, source, "bn_eps_dcc");
  CheckRangeF(ln_eps, 0.f, 1.f, source, "ln_eps");
  CheckRange(dcc_feat, 2, 4096, source, "dcc_feat");
  Check(dcc_feat % 2 == 0, source, "dcc_feat", "even (sin/cos halves)", std::to_string(dcc_feat));
  CheckRange(gau_expansion, 1, 64, source, "gau_expansion");
  CheckRange(num_bins_x, 2, 65536, source, "num_bins_x");
  CheckRange(num_bins_y, 2, 65536, source, "num_bins_y");
  CheckRangeF(dcc_spe_temperature, 0.f, 1e9f, source, "dcc_spe_temperature");
  CheckRangeF(encoder_pe_temperature, 0.f, 1e9f, source, "encoder_pe_temperature");
  CheckRangeF(bbox_padding, 0.f, 100.f, source, "bbox_padding");
}

std::string ModelConfig::Summary() const {
  std::string s = "rtmo-" + variant;
  if (!dataset.empty()) s += " " + dataset;
  s += " " + std::to_string(input_w) + "x" + std::to_string(input_h) + " " +
       std::to_string(num_keypoints) + " keypoints";
  return s;
}

}  // namespace rtmo
