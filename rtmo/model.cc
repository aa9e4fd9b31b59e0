// The RTMO pipeline, step by step, and rtmo::Model (rtmo/rtmo.h) around it.
//
// RunPipeline below is the whole test-time path of mmpose's RTMO as a list of named calls,
// each step implemented in rtmo/net/ (and rtmo/io/preprocess for the letterbox) and named
// after the mmpose module or function it mirrors. It is a template over the element type:
// float (Highway kernels) or double (the float64 verification path, Eigen kernels); the
// step functions are the same code for both. The observer sees every module's output at
// module boundaries (--dump, --trace, timing, Python's forward()).
#include <omp.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "kernels/ops.h"
#include "rtmo/error.h"
#include "rtmo/io/dump.h"
#include "rtmo/io/model_files.h"
#include "rtmo/io/preprocess.h"
#include "rtmo/io/weights.h"
#include "rtmo/model_impl.h"
#include "rtmo/net/network.h"
#include "rtmo/rtmo.h"

namespace rtmo {

namespace {

// Forwards tensors to the observer, if there is one (the forward code calls it at module
// boundaries only; without an observer a call costs one pointer test).
class Tap {
 public:
  explicit Tap(Observer* obs) : obs_(obs) {}
  bool on() const { return obs_ != nullptr; }
  template <typename T>
  void Map(std::string_view name, const kernels::Map<T>& m) const {
    Values(name, m.data, {1, m.c, m.h, m.w});
  }
  template <typename T>
  void Values(std::string_view name, const T* data, std::vector<int64_t> shape) const {
    if (!obs_) return;
    TensorView t;
    t.name = name;
    t.type = std::is_same_v<T, double> ? ElemType::kF64 : ElemType::kF32;
    t.data = data;
    t.shape = std::move(shape);
    obs_->OnTensor(t);
  }
  void Ints(std::string_view name, const int64_t* data, std::vector<int64_t> shape) const {
    if (!obs_) return;
    TensorView t;
    t.name = name;
    t.type = ElemType::kI64;
    t.data = data;
    t.shape = std::move(shape);
    obs_->OnTensor(t);
  }

 private:
  Observer* obs_;
};

const char* const kStageNames[4] = {"backbone.stage1", "backbone.stage2", "backbone.stage3",
                                    "backbone.stage4"};

// The network input: the official letterbox (BottomupResize, bit-identical to
// cv2.warpAffine) as T, BGR 0..255, no normalisation (PoseDataPreprocessor without mean/std).
template <typename T>
void LetterboxInput(const Image& image, const Letterbox& lb, kernels::Map<T> input) {
  if constexpr (std::is_same_v<T, float>) {
    LetterboxChw(image, lb, input.data);
  } else {
    std::vector<uint8_t> bgr(static_cast<size_t>(lb.input_w) * lb.input_h * 3);
    LetterboxBgr(image, lb, bgr.data());
    const size_t plane = input.plane();
    for (size_t i = 0; i < plane; ++i) {
      for (int c = 0; c < 3; ++c) input.data[c * plane + i] = static_cast<T>(bgr[i * 3 + c]);
    }
  }
}

}  // namespace

// image -> people: the RTMO test-time pipeline (mmpose/models/pose_estimators/bottomup.py
// BottomupPoseEstimator.predict with RTMOHead.predict, rtmo_head.py:889-1014).
template <typename T>
Letterbox RunNetwork(const Network<T>& net, Context<T>& c, const Image& image, Observer* observer) {
  const Tap tap(observer);
  const nn::Env<T> env = c.env(net);

  // Pre-processing (bottomup_transforms.py:415-611 BottomupResize).
  const Letterbox lb = MakeLetterbox(image.width, image.height, c.input_w, c.input_h);
  LetterboxInput(image, lb, c.input);
  tap.Map("input", c.input);

  // Backbone: CSPDarknet (csp_darknet.py:225-283).
  Focus<T>(c.input, c.backbone.focus);                                  // l.16-64
  nn::Conv(env, net.backbone.stem, c.backbone.focus, c.backbone.stem);  // stem.conv
  tap.Map("backbone.stem", c.backbone.stem);
  for (int i = 0; i < 4; ++i) {
    const Map<T> x = i == 0 ? c.backbone.stem : c.backbone.stage[i - 1];
    DarknetStageForward(env, net.backbone.stages[i], x, i, c.backbone);  // l.229-243
    tap.Map(kStageNames[i], c.backbone.stage[i]);
  }

  // Neck: HybridEncoder (hybrid_encoder.py:212-292) on stages 2, 3, 4.
  for (int i = 0; i < 3; ++i) {
    nn::Conv(env, net.neck.input_proj[i], c.backbone.stage[i + 1], c.neck.input_proj[i]);
    tap.Map("neck.input_proj." + std::to_string(i), c.neck.input_proj[i]);
  }
  EncoderForward(env, net.neck, c.neck);  // l.232-248: transformer on the stride-32 level
  tap.Map("neck.encoder.0", c.neck.encoder);
  for (int i = 0; i < 2; ++i) {
    FpnStep(env, net.neck, i, c.neck);  // l.250-263: top-down
    tap.Map("neck.fpn_blocks." + std::to_string(i), c.neck.fpn_out[i]);
  }
  for (int i = 0; i < 2; ++i) {
    PanStep(env, net.neck, i, c.neck);  // l.265-273: bottom-up
    tap.Map("neck.pan_blocks." + std::to_string(i), c.neck.pan_out[i]);
  }
  for (int i = 0; i < 2; ++i) {  // output_indices=[1, 2] -> ChannelMapper projector
    const Map<T> x = c.neck.pan_out[i];
    nn::Conv(env, net.neck.projector[i], x, c.neck.out[i]);
    tap.Map("neck.out." + std::to_string(i), c.neck.out[i]);
  }

  // Head: RTMOHeadModule per level (rtmo_head.py:186-219).
  for (int l = 0; l < 2; ++l) {
    RTMOHeadModuleForward(env, net.head.levels[l], c.neck.out[l], c.head[l]);
    const std::string k = "." + std::to_string(l);
    tap.Map("head.cls_score" + k, c.head[l].cls_score);
    tap.Map("head.bbox_pred" + k, c.head[l].bbox_pred);
    tap.Map("head.kpt_vis" + k, c.head[l].kpt_vis);
    tap.Map("head.pose_feat" + k, c.head[l].pose_feat);
  }

  return lb;
}

template <typename T>
std::vector<Person> RunPostprocess(const Network<T>& net, Context<T>& c, const Letterbox& lb,
                                   T score_thr, T nms_thr, Observer* observer) {
  const Tap tap(observer);
  const ModelConfig& cfg = net.cfg;
  const nn::Env<T> env = c.env(net);

  // RTMOHead.predict: candidates (priors, box decode, sigmoid, score filter, sort), NMS.
  SelectCandidates(c.head, {cfg.head_strides[0], cfg.head_strides[1]}, score_thr, &c.candidates);
  Nms(c.candidates, nms_thr, &c.keep, &c.suppressed);
  const int n = static_cast<int>(c.keep.size());
  if (tap.on()) {
    const int64_t m = static_cast<int64_t>(c.candidates.size());
    std::vector<int64_t> index(m), keep(c.keep.begin(), c.keep.end());
    std::vector<T> scores(m);
    for (int64_t i = 0; i < m; ++i) {
      index[i] = c.candidates[i].index;
      scores[i] = c.candidates[i].score;
    }
    tap.Ints("pre_nms.index", index.data(), {m});
    tap.Values("pre_nms.scores", scores.data(), {m});
    tap.Ints("nms.keep", keep.data(), {n});
  }

  // DCC on the kept cells (rtmo_head.py:985-1006): pose vectors, boxes as centre/scale.
  const int K = cfg.num_keypoints, D = cfg.dcc_feat, P = cfg.pose_vec_channels;
  T* pose_vecs = nn::Grow(&c.dcc.pose_vecs, static_cast<size_t>(n) * P);
  c.boxes.resize(n);
  for (int i = 0; i < n; ++i) {
    const Candidate<T>& cand = c.candidates[c.keep[i]];
    const Map<T>& pf = c.head[cand.level].pose_feat;
    for (int ch = 0; ch < P; ++ch)
      pose_vecs[static_cast<size_t>(i) * P + ch] = pf.channel(ch)[cand.cell];
    c.boxes[i] = BboxXyxy2Cs(cand, cfg.bbox_padding);
  }
  DCCForward(env, net.dcc, c.boxes, c.dcc);
  if (tap.on()) {
    tap.Values("dcc.kpt_feats", c.dcc.kpt_feats.data(), {n, K, D});
    tap.Values("dcc.gau", c.dcc.gau.data(), {n, K, D});
    tap.Values("dcc.x_logits", c.dcc.x_logits.data(), {n, K, cfg.num_bins_x});
    tap.Values("dcc.y_logits", c.dcc.y_logits.data(), {n, K, cfg.num_bins_y});
    tap.Values("keypoints.input", c.dcc.keypoints.data(), {n, K, 2});
  }

  // Back to image pixels: boxes clamped to the input, then mapped (bottomup.py:176-185).
  std::vector<Person> people(n);
  for (int i = 0; i < n; ++i) {
    const Candidate<T>& cand = c.candidates[c.keep[i]];
    Person& p = people[i];
    p.score = cand.score;
    p.bbox = MapBackBox(lb, cand.box);
    p.keypoints.resize(K);
    const Map<T>& vis = c.head[cand.level].kpt_vis;
    const T* kp = c.dcc.keypoints.data() + static_cast<size_t>(i) * K * 2;
    for (int k = 0; k < K; ++k) {
      const auto q = MapToImageT<T>(lb, kp[2 * k], kp[2 * k + 1]);
      p.keypoints[k] = {q[0], q[1], nn::Sigmoid(vis.channel(k)[cand.cell])};
    }
  }
  return people;
}

template <typename T>
std::vector<Person> RunPipeline(const Network<T>& net, Context<T>& c, const Image& image,
                                T score_thr, T nms_thr, Observer* observer) {
  const Letterbox lb = RunNetwork(net, c, image, observer);
  return RunPostprocess(net, c, lb, score_thr, nms_thr, observer);
}

// ---- Public API ---------------------------------------------------------------------------------

const char* Version() {
  static const std::string v = std::to_string(kVersionMajor) + "." + std::to_string(kVersionMinor) +
                               "." + std::to_string(kVersionPatch);
  return v.c_str();
}

size_t TensorView::numel() const {
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

std::string_view PrecisionName(Precision p) { return p == Precision::kF64 ? "f64" : "f32"; }

Precision ParsePrecision(std::string_view name) {
  if (name == "f32" || name == "float32") return Precision::kF32;
  if (name == "f64" || name == "float64") return Precision::kF64;
  throw Error("unknown precision '" + std::string(name) +
              "': expected f32 (float32, the default) or f64 (float64, exact verification)");
}

namespace {

// Sets the OpenMP thread count of the calling thread for the duration of a call and puts the
// caller's value back afterwards (nthreads-var is per thread, so nothing leaks to other
// threads either).
class ThreadCountScope {
 public:
  explicit ThreadCountScope(int threads) : saved_(omp_get_max_threads()) {
    if (threads > 0) omp_set_num_threads(threads);
  }
  ~ThreadCountScope() { omp_set_num_threads(saved_); }
  ThreadCountScope(const ThreadCountScope&) = delete;
  ThreadCountScope& operator=(const ThreadCountScope&) = delete;

 private:
  int saved_;
};

// Writes predictions.json of a --dump directory: the official output of RunPipeline in
// image pixels, with the digits of the model's precision.
template <typename T>
void WritePredictionsJson(const std::string& dir, const std::string& file, const Image& image,
                          const std::vector<Person>& people) {
  auto num = [](double v) {
    // float32 values print as the shortest float that round-trips, float64 with 17
    // significant digits (round-trip).
    if constexpr (std::is_same_v<T, float>) {
      return nlohmann::json(static_cast<float>(v));
    } else {
      return nlohmann::json(v);
    }
  };
  nlohmann::json jp = nlohmann::json::array();
  for (const Person& p : people) {
    nlohmann::json jk = nlohmann::json::array();
    for (const Keypoint& k : p.keypoints) jk.push_back({k.x, k.y, num(k.score)});
    jp.push_back({{"bbox", {p.bbox[0], p.bbox[1], p.bbox[2], p.bbox[3]}},
                  {"score", num(p.score)},
                  {"keypoints", std::move(jk)}});
  }
  const nlohmann::json j = {
      {"file", file}, {"width", image.width}, {"height", image.height}, {"people", std::move(jp)}};
  Dumper(dir).Text("predictions.json", j.dump() + "\n");
}

// Tensors to two observers in turn (the user's and the --dump writer).
class TeeObserver : public Observer {
 public:
  TeeObserver(Observer* a, Observer* b) : a_(a), b_(b) {}
  void OnTensor(const TensorView& t) override {
    if (a_) a_->OnTensor(t);
    if (b_) b_->OnTensor(t);
  }

 private:
  Observer *a_, *b_;
};

}  // namespace

template <typename T>
std::vector<Person> ModelImpl<T>::Predict(const Image& image, double score_thr, double nms_thr,
                                          Observer* observer, const std::string& dump_dir,
                                          const std::string& dump_file) const {
  if (image.width <= 0 || image.height <= 0 ||
      image.bgr.size() != static_cast<size_t>(image.width) * image.height * 3) {
    throw Error("Predict: image of " + std::to_string(image.width) + "x" +
                std::to_string(image.height) + " with " + std::to_string(image.bgr.size()) +
                " bytes: expected a non-empty image of width*height*3 bytes (BGR)");
  }
  std::unique_ptr<Context<T>> ctx = Acquire();
  std::unique_ptr<NpyDumper> dumper;
  if (!dump_dir.empty()) dumper = std::make_unique<NpyDumper>(dump_dir);
  TeeObserver tee(observer, dumper.get());
  std::vector<Person> people;
  try {
    people = RunPipeline<T>(net, *ctx, image, static_cast<T>(score_thr), static_cast<T>(nms_thr),
                            observer || dumper ? &tee : nullptr);
  } catch (...) {
    Release(std::move(ctx));
    throw;
  }
  Release(std::move(ctx));
  if (dumper) WritePredictionsJson<T>(dump_dir, dump_file, image, people);
  return people;
}

template <typename T>
std::unique_ptr<Context<T>> ModelImpl<T>::Acquire() const {
  {
    std::lock_guard<std::mutex> lock(mu);
    if (!idle.empty()) {
      std::unique_ptr<Context<T>> c = std::move(idle.back());
      idle.pop_back();
      return c;
    }
  }
  return std::make_unique<Context<T>>(net, input_w, input_h);
}

template <typename T>
void ModelImpl<T>::Release(std::unique_ptr<Context<T>> c) const {
  std::lock_guard<std::mutex> lock(mu);
  idle.push_back(std::move(c));
}

#define RTMO_INSTANTIATE_PIPELINE(T)                                                               \
  template Letterbox RunNetwork<T>(const Network<T>&, Context<T>&, const Image&, Observer*);       \
  template std::vector<Person> RunPostprocess<T>(const Network<T>&, Context<T>&, const Letterbox&, \
                                                 T, T, Observer*);                                 \
  template std::vector<Person> RunPipeline<T>(const Network<T>&, Context<T>&, const Image&, T, T,  \
                                              Observer*);
RTMO_INSTANTIATE_PIPELINE(float)
RTMO_INSTANTIATE_PIPELINE(double)
#undef RTMO_INSTANTIATE_PIPELINE
template struct ModelImpl<float>;
template struct ModelImpl<double>;

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

const ModelInfo& Model::info() const { return impl_->info; }
const ModelOptions& Model::options() const { return impl_->options; }

static_assert(kWeightsFormatMin == static_cast<int>(kWeightsVersion1) &&
                  kWeightsFormatMax == static_cast<int>(kWeightsVersion),
              "rtmo.h kWeightsFormatMin/Max must name the versions Weights::Open reads");

std::string ResolveModel(const std::string& spec) {
  // Downloads and conversions take seconds to minutes: say what is happening.
  return models::ResolveModel(
      spec, [](const std::string& line) { std::fprintf(stderr, "rtmo: %s\n", line.c_str()); });
}

std::vector<std::string> ModelNames() {
  std::vector<std::string> names;
  for (const models::OfficialModel& m : models::OfficialModels()) names.push_back(m.name);
  return names;
}

Model Model::Load(const std::string& spec, const ModelOptions& options) {
  const std::string path = ResolveModel(spec);
  const Weights weights = Weights::Open(path);
  const ModelConfig& cfg = weights.config();
  const int w = options.input_width > 0 ? options.input_width : cfg.input_w;
  const int h = options.input_height > 0 ? options.input_height : cfg.input_h;
  if (w % 32 || h % 32 || options.input_width < 0 || options.input_height < 0 ||
      (options.input_width > 0) != (options.input_height > 0)) {
    throw Error(path + ": network input size " + std::to_string(w) + "x" + std::to_string(h) +
                ": expected positive multiples of 32 for both sides (strides up to 32)");
  }
  if (!(options.score_thr >= 0 && options.score_thr <= 1) ||
      !(options.nms_thr >= 0 && options.nms_thr <= 1)) {
    throw Error("ModelOptions: score_thr and nms_thr must lie in [0, 1]");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->options.input_width = w;
  impl->options.input_height = h;
  ModelInfo& info = impl->info;
  info.path = path;
  info.variant = cfg.variant;
  info.dataset = cfg.dataset;
  info.num_keypoints = cfg.num_keypoints;
  info.input_width = w;
  info.input_height = h;
  info.precision = options.precision;
  info.weights_version = static_cast<int>(weights.format_version());
  info.summary = "rtmo-" + cfg.variant + (cfg.dataset.empty() ? "" : " " + cfg.dataset) + " " +
                 std::to_string(w) + "x" + std::to_string(h) + " " +
                 std::to_string(cfg.num_keypoints) + " keypoints " +
                 std::string(PrecisionName(options.precision));
  if (options.precision == Precision::kF32) {
    impl->f32 = std::make_unique<ModelImpl<float>>();
    impl->f32->net = LoadNetwork<float>(weights, &kernels::Best());
    impl->f32->input_w = w;
    impl->f32->input_h = h;
  } else {
    // The float64 verification path: the same modules on the Eigen kernels (kernels/f64),
    // weights widened exactly, BatchNorm folded and RepVGG fused in double, never rounded.
    impl->f64 = std::make_unique<ModelImpl<double>>();
    impl->f64->net = LoadNetwork<double>(weights, nullptr);
    impl->f64->input_w = w;
    impl->f64->input_h = h;
  }
  // The mapping is released here: every tensor has been copied, folded or packed.
  return Model(std::move(impl));
}

std::vector<Person> Model::Predict(const Image& image, const PredictOptions& o) const {
  const double score_thr = o.score_thr.value_or(impl_->options.score_thr);
  const double nms_thr = o.nms_thr.value_or(impl_->options.nms_thr);
  ThreadCountScope threads(o.threads.value_or(impl_->options.threads));
  if (impl_->f32) {
    return impl_->f32->Predict(image, score_thr, nms_thr, o.observer, o.dump_dir, o.dump_file);
  }
  if (impl_->f64) {
    return impl_->f64->Predict(image, score_thr, nms_thr, o.observer, o.dump_dir, o.dump_file);
  }
  throw Error("Predict: no network loaded");
}

std::vector<std::vector<Person>> Model::Predict(std::span<const Image> images,
                                                const PredictOptions& options) const {
  std::vector<std::vector<Person>> out;
  out.reserve(images.size());
  for (const Image& image : images) out.push_back(Predict(image, options));
  return out;
}

NetworkInput Model::Letterbox(const Image& image) const {
  NetworkInput in;
  in.width = impl_->options.input_width;
  in.height = impl_->options.input_height;
  const rtmo::Letterbox lb = MakeLetterbox(image.width, image.height, in.width, in.height);
  in.matrix = lb.matrix;
  in.chw.resize(static_cast<size_t>(3) * in.width * in.height);
  LetterboxChw(image, lb, in.chw.data());
  return in;
}

std::vector<std::string> Model::TensorNames() const {
  std::vector<std::string> names = {"input", "backbone.stem"};
  for (const char* s : kStageNames) names.push_back(s);
  for (int i = 0; i < 3; ++i) names.push_back("neck.input_proj." + std::to_string(i));
  names.push_back("neck.encoder.0");
  for (int i = 0; i < 2; ++i) names.push_back("neck.fpn_blocks." + std::to_string(i));
  for (int i = 0; i < 2; ++i) names.push_back("neck.pan_blocks." + std::to_string(i));
  for (int i = 0; i < 2; ++i) names.push_back("neck.out." + std::to_string(i));
  for (int l = 0; l < 2; ++l) {
    for (const char* k :
         {"head.cls_score.", "head.bbox_pred.", "head.kpt_vis.", "head.pose_feat."}) {
      names.push_back(k + std::to_string(l));
    }
  }
  for (const char* k : {"pre_nms.index", "pre_nms.scores", "nms.keep", "dcc.kpt_feats", "dcc.gau",
                        "dcc.x_logits", "dcc.y_logits", "keypoints.input"}) {
    names.push_back(k);
  }
  return names;
}

}  // namespace rtmo
