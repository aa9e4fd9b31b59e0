#include "rtmo/net/layout.h"

#include <string>

namespace rtmo {
namespace {

using Shape = std::vector<int64_t>;

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// Walks the modules in the order PyTorch registers them (= state_dict order).
class Walker {
 public:
  Walker(const ModelConfig& c, const TensorVisitor& visit) : c_(c), visit_(visit) {}

  void Emit(const std::string& name, Shape shape) { visit_(name, shape); }

  // BatchNorm{1,2}d: affine + running statistics (num_batches_tracked is training-only).
  void BN(const std::string& p, int64_t c) {
    for (const char* s : {"weight", "bias", "running_mean", "running_var"}) Emit(p + s, {c});
  }
  // mmcv ConvModule: conv (no bias, a norm follows) + BN.
  void ConvModule(const std::string& p, int64_t out, int64_t in_per_group, int64_t k) {
    Emit(p + "conv.weight", {out, in_per_group, k, k});
    BN(p + "bn.", out);
  }
  void Linear(const std::string& p, int64_t out, int64_t in, bool bias = true) {
    Emit(p + "weight", {out, in});
    if (bias) Emit(p + "bias", {out});
  }
  void Conv1x1Bias(const std::string& p, int64_t out, int64_t in) {
    Emit(p + "weight", {out, in, 1, 1});
    Emit(p + "bias", {out});
  }

  // CSPLayer (mmpose/models/utils/csp_layer.py:180-273) with DarknetBottleneck blocks.
  void CSPLayer(const std::string& p, int64_t in, int64_t out, int blocks) {
    const int64_t mid = out / 2;  // int(out * expand_ratio 0.5)
    ConvModule(p + "main_conv.", mid, in, 1);
    ConvModule(p + "short_conv.", mid, in, 1);
    ConvModule(p + "final_conv.", out, 2 * mid, 1);
    for (int b = 0; b < blocks; ++b) {
      const std::string q = p + "blocks." + std::to_string(b) + ".";
      ConvModule(q + "conv1.", mid, mid, 1);
      ConvModule(q + "conv2.", mid, mid, 3);
    }
  }

  void Backbone() {
    ConvModule("backbone.stem.conv.", c_.stem_channels, 12, 3);  // Focus: 4 x BGR in
    int64_t in = c_.stem_channels;
    for (int s = 0; s < 4; ++s) {
      const int64_t out = c_.stage_channels[s];
      const std::string p = "backbone.stage" + std::to_string(s + 1) + ".";
      ConvModule(p + "0.", out, in, 3);
      int idx = 1;
      if (s == 3) {  // SPPBottleneck (csp_darknet.py:67-122): C -> C/2, 4 x C/2 -> C
        ConvModule(p + "1.conv1.", out / 2, out, 1);
        ConvModule(p + "1.conv2.", out, 2 * out, 1);
        idx = 2;
      }
      CSPLayer(p + std::to_string(idx) + ".", out, out, c_.stage_blocks[s]);
      in = out;
    }
  }

  // CSPRepLayer (hybrid_encoder.py:17-83): conv3 is Identity when hidden == out.
  void CSPRepLayer(const std::string& p) {
    const int64_t h = c_.neck_hidden, hid = c_.csp_rep_hidden;
    ConvModule(p + "conv1.", hid, 2 * h, 1);
    ConvModule(p + "conv2.", hid, 2 * h, 1);
    for (int b = 0; b < c_.rep_blocks; ++b) {
      const std::string q = p + "bottlenecks." + std::to_string(b) + ".";
      ConvModule(q + "branch_3x3.", hid, hid, 3);
      ConvModule(q + "branch_1x1.", hid, hid, 1);
    }
    if (hid != h) ConvModule(p + "conv3.", h, hid, 1);
  }

  void Neck() {
    const int64_t h = c_.neck_hidden;
    for (int i = 0; i < 3; ++i) {
      ConvModule("neck.input_proj." + std::to_string(i) + ".", h, c_.stage_channels[i + 1], 1);
    }
    for (int l = 0; l < c_.encoder_layers; ++l) {
      const std::string p = "neck.encoder.0.layers." + std::to_string(l) + ".";
      Emit(p + "self_attn.attn.in_proj_weight", {3 * h, h});
      Emit(p + "self_attn.attn.in_proj_bias", {3 * h});
      Linear(p + "self_attn.attn.out_proj.", h, h);
      Linear(p + "ffn.layers.0.0.", c_.encoder_ffn, h);
      Linear(p + "ffn.layers.1.", h, c_.encoder_ffn);
      for (const char* n : {"norms.0.", "norms.1."}) {
        Emit(p + n + "weight", {h});
        Emit(p + n + "bias", {h});
      }
    }
    // SinePositionalEncoding(h/2 per axis): dim_t has h/4 entries.
    Emit("neck.sincos_pos_enc.dim_t", {h / 4});
    for (int i = 0; i < 2; ++i)
      ConvModule("neck.lateral_convs." + std::to_string(i) + ".", h, h, 1);
    for (int i = 0; i < 2; ++i) CSPRepLayer("neck.fpn_blocks." + std::to_string(i) + ".");
    for (int i = 0; i < 2; ++i) {
      ConvModule("neck.downsample_convs." + std::to_string(i) + ".", h, h, 3);
    }
    for (int i = 0; i < 2; ++i) CSPRepLayer("neck.pan_blocks." + std::to_string(i) + ".");
    for (int i = 0; i < 2; ++i) {
      ConvModule("neck.projector.convs." + std::to_string(i) + ".", c_.projector_out, h, 1);
    }
  }

  void Head() {
    const std::string m = "head.head_module.";
    const int64_t in = c_.projector_out / 2, cls = c_.head_cls_channels;
    const int64_t g = c_.pose_groups, cpg = c_.pose_channels_per_group, pose = g * cpg;
    const int64_t k = c_.num_keypoints;
    for (int lv = 0; lv < 2; ++lv) {
      for (int j = 0; j < c_.head_stacked_convs; ++j) {
        ConvModule(m + "conv_cls." + std::to_string(lv) + "." + std::to_string(j) + ".", cls,
                   j == 0 ? in : cls, 3);
      }
    }
    for (int lv = 0; lv < 2; ++lv) Conv1x1Bias(m + "out_cls." + std::to_string(lv) + ".", 1, cls);
    for (int lv = 0; lv < 2; ++lv) {
      for (int j = 0; j < 2 * c_.head_stacked_convs; ++j) {
        // First conv is dense (in -> g*cpg), the others grouped (cpg inputs per output).
        ConvModule(m + "conv_pose." + std::to_string(lv) + "." + std::to_string(j) + ".", pose,
                   j == 0 ? in : cpg, 3);
      }
    }
    for (int lv = 0; lv < 2; ++lv) Conv1x1Bias(m + "out_bbox." + std::to_string(lv) + ".", 4, pose);
    // out_kpt_reg.* is training-only.
    for (int lv = 0; lv < 2; ++lv) {
      Conv1x1Bias(m + "out_kpt_vis." + std::to_string(lv) + ".", k, pose);
    }
    for (int lv = 0; lv < 2; ++lv) {
      Conv1x1Bias(m + "out_pose." + std::to_string(lv) + ".", c_.pose_vec_channels, pose);
    }

    const int64_t f = c_.dcc_feat, e = static_cast<int64_t>(c_.gau_expansion) * f;
    Emit("head.dcc.pos_enc", {k, f});
    Emit("head.dcc.y_bins", {c_.num_bins_y});
    Emit("head.dcc.x_bins", {c_.num_bins_x});
    Emit("head.dcc.spe.dim_t", {f / 2});
    Emit("head.dcc.gau.gamma", {2, f});
    Emit("head.dcc.gau.beta", {2, f});
    Emit("head.dcc.gau.o.weight", {f, e});
    Emit("head.dcc.gau.uv.weight", {2 * e + f, f});  // u (e), v (e), base (s = f)
    Emit("head.dcc.gau.ln.g", {1});
    Emit("head.dcc.gau.res_scale.scale", {f});
    Linear("head.dcc.pose_to_kpts.0.", k * f, c_.pose_vec_channels);
    BN("head.dcc.pose_to_kpts.1.", k * f);
    Linear("head.dcc.x_fc.", f, f);
    Linear("head.dcc.y_fc.", f, f);
    // sigma_fc.* is training-only.
  }

 private:
  const ModelConfig& c_;
  const TensorVisitor& visit_;
};

}  // namespace

void ForEachTensor(const ModelConfig& config, const TensorVisitor& visit) {
  Walker w(config, visit);
  w.Backbone();
  w.Neck();
  w.Head();
}

bool IsTrainingOnly(std::string_view name) {
  return name == "head.loss_oks.sigmas" || StartsWith(name, "head.head_module.out_kpt_reg.") ||
         StartsWith(name, "head.dcc.sigma_fc.") || EndsWith(name, ".num_batches_tracked") ||
         name == "num_batches_tracked";
}

}  // namespace rtmo
