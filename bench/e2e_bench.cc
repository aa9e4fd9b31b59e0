// End-to-end benchmark program for bench/run.sh: rtmo.cpp on one image, in several modes.
//
//   e2e_bench info                                   -> {"target": Highway target chosen}
//   e2e_bench input   MODEL IMAGE OUT.f32            writes the letterboxed network input
//                                                    [3, H, W] float32 (what ORT/PyTorch get)
//   e2e_bench serve   MODEL IMAGE THREADS            worker for bench/driver.py (below)
//   e2e_bench profile MODEL IMAGE THREADS ITERS      per-module times (JSON on stdout)
//   e2e_bench people  MODEL IMAGE THREADS ITERS      post-processing cost vs people (JSON)
//
// serve: loads the model once, prints {"ready": ...}, then for each `run` line on stdin runs
// Model::Predict on the decoded image and prints one JSON line with total_ms (the wall-clock
// of Predict: pre-processing + network + post-processing) and, from the observer's laps
// (class Laps), preprocess_ms, network_ms and postprocess_ms. `quit` or EOF ends it.
//
// profile: the same Predict with the laps kept per name (backbone.stem, ..., post.dcc);
// median and min over ITERS runs after 3 warm-up runs.
//
// people: post-processing (candidate selection, NMS, DCC, mapping back) on synthetic head
// outputs with exactly N people, N in {0, 1, 5, 20, 50, 100}. The network runs on the real
// image through RunNetwork (rtmo/model_impl.h); then the score map is set to -20 everywhere
// (sigmoid 2e-9 < 0.1) except at N cells of the stride-16 level spread over the image, whose
// boxes (24 x 24 px) do not overlap, so NMS keeps all N, and RunPostprocess runs on it. The DCC
// sees the real pose vectors of those cells. The network's time is measured alongside.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "rtmo/io/preprocess.h"
#include "rtmo/io/weights.h"
#include "rtmo/model_impl.h"
#include "rtmo/net/network.h"
#include "rtmo/rtmo.h"

namespace {

constexpr float kScoreThr = 0.1f, kNmsThr = 0.65f;  // the official test_cfg (ModelOptions)

using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double Median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double Min(const std::vector<double>& v) {
  return v.empty() ? NAN : *std::min_element(v.begin(), v.end());
}

// Laps of one inference, in first-seen order, summed per name. An observer: the pipeline
// shows it every module's output as soon as it is computed, so a lap named after a tensor
// is the time since the previous tensor (the time of the step that produced it), summed per
// part of the pipeline (Part); "post.output" (added after Predict returns) is the mapping of
// the kept people back to the image.
class Laps : public rtmo::Observer {
 public:
  std::vector<std::string> order;
  std::map<std::string, double> ms;
  void Start() {
    order.clear();
    ms.clear();
    last_ = Clock::now();
  }
  void OnTensor(const rtmo::TensorView& t) override { Lap(Part(t.name)); }
  // The part of the pipeline a tensor ends (bench/macs.py counts MACs per part). The head
  // is one part: its outputs are observed only after both branches of a level have run.
  static std::string Part(std::string_view name) {
    const auto starts = [&](std::string_view p) { return name.substr(0, p.size()) == p; };
    if (name == "input") return "preprocess";
    if (starts("backbone.")) return std::string(name);
    if (starts("neck.input_proj.")) return "neck.input_proj";
    if (starts("neck.encoder.")) return "neck.encoder";
    if (starts("neck.fpn_blocks.")) return "neck.fpn";
    if (starts("neck.pan_blocks.")) return "neck.pan";
    if (starts("neck.out.")) return "neck.projector";
    if (starts("head.")) return "head";
    if (starts("pre_nms.")) return "post.decode";
    if (starts("nms.")) return "post.nms";
    return "post.dcc";  // dcc.*, keypoints.input
  }
  void Lap(const std::string& name) {
    const auto now = Clock::now();
    const double d = std::chrono::duration<double, std::milli>(now - last_).count();
    last_ = now;
    auto it = ms.find(name);
    if (it == ms.end()) {
      order.push_back(name);
      ms.emplace(name, d);
    } else {
      it->second += d;
    }
  }
  // Stage of a lap name: 0 pre-processing, 1 network, 2 post-processing.
  static int Stage(const std::string& n) {
    if (n == "preprocess") return 0;
    if (n.rfind("post", 0) == 0) return 2;
    return 1;
  }

 private:
  Clock::time_point last_;
};

void SetThreads(int threads) {
  if (threads < 1) throw rtmo::Error("threads must be >= 1, got " + std::to_string(threads));
  omp_set_num_threads(threads);
}

int Info() {
  std::printf("{\"target\": \"%s\", \"omp_max_threads\": %d}\n", rtmo::kernels::Best().target_name,
              omp_get_max_threads());
  return 0;
}

int WriteInput(const std::string& model_path, const std::string& image_path,
               const std::string& out_path) {
  const rtmo::Weights w = rtmo::Weights::Open(model_path);
  const rtmo::ModelConfig& cfg = w.config();
  const rtmo::Image img = rtmo::LoadImage(image_path);
  const rtmo::LetterboxedInput in = rtmo::Preprocess(img, cfg.input_w, cfg.input_h);
  std::ofstream f(out_path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(in.chw.data()),
          static_cast<std::streamsize>(in.chw.size() * sizeof(float)));
  if (!f) throw rtmo::Error("cannot write " + out_path);
  return 0;
}

// One timed Predict with laps: fills `laps`, returns the wall-clock of Predict.
double TimedPredict(const rtmo::Model& model, const rtmo::Image& img, Laps* laps, size_t* people) {
  rtmo::PredictOptions opt;
  opt.observer = laps;
  const auto t0 = Clock::now();
  laps->Start();
  const std::vector<rtmo::Person> out = model.Predict(img, opt);
  laps->Lap("post.output");
  const double total = MsSince(t0);
  *people = out.size();
  return total;
}

rtmo::ModelOptions Options(const std::string& precision) {
  rtmo::ModelOptions o;
  o.precision = rtmo::ParsePrecision(precision);
  return o;
}

int Serve(const std::string& model_path, const std::string& image_path, int threads,
          const std::string& precision) {
  SetThreads(threads);
  const rtmo::Model model = rtmo::Model::Load(model_path, Options(precision));
  const rtmo::Image img = rtmo::LoadImage(image_path);
  std::printf(
      "{\"ready\": true, \"engine\": \"rtmo.cpp\", \"target\": \"%s\", \"threads\": %d, "
      "\"variant\": \"%s\", \"image\": [%d, %d]}\n",
      rtmo::kernels::Best().target_name, threads, model.info().variant.c_str(), img.width,
      img.height);
  std::fflush(stdout);
  std::string line;
  Laps laps;
  while (std::getline(std::cin, line)) {
    if (line == "quit") break;
    if (line != "run") {
      std::printf("{\"error\": \"unknown command\"}\n");
      std::fflush(stdout);
      continue;
    }
    size_t people = 0;
    const double total = TimedPredict(model, img, &laps, &people);
    double stage[3] = {0, 0, 0};
    for (const auto& [name, ms] : laps.ms) stage[Laps::Stage(name)] += ms;
    if (laps.ms.empty()) {  // model without timing laps: only the total is known
      std::printf("{\"total_ms\": %.4f, \"people\": %zu}\n", total, people);
    } else {
      std::printf(
          "{\"preprocess_ms\": %.4f, \"network_ms\": %.4f, \"postprocess_ms\": %.4f, "
          "\"total_ms\": %.4f, \"people\": %zu}\n",
          stage[0], stage[1], stage[2], total, people);
    }
    std::fflush(stdout);
  }
  return 0;
}

int Profile(const std::string& model_path, const std::string& image_path, int threads, int iters,
            const std::string& precision) {
  SetThreads(threads);
  const rtmo::Model model = rtmo::Model::Load(model_path, Options(precision));
  const rtmo::Image img = rtmo::LoadImage(image_path);
  Laps laps;
  size_t people = 0;
  for (int i = 0; i < 3; ++i) TimedPredict(model, img, &laps, &people);
  std::vector<std::string> order;
  std::map<std::string, std::vector<double>> samples;
  std::vector<double> totals;
  for (int i = 0; i < iters; ++i) {
    totals.push_back(TimedPredict(model, img, &laps, &people));
    if (order.empty()) order = laps.order;
    for (const auto& [name, ms] : laps.ms) samples[name].push_back(ms);
  }
  std::printf(
      "{\"variant\": \"%s\", \"precision\": \"%s\", \"threads\": %d, \"iters\": %d, "
      "\"people\": %zu,\n",
      model.info().variant.c_str(), precision.c_str(), threads, iters, people);
  std::printf(" \"total_ms\": {\"median\": %.4f, \"min\": %.4f},\n \"modules\": [\n",
              Median(totals), Min(totals));
  for (size_t i = 0; i < order.size(); ++i) {
    const std::vector<double>& s = samples[order[i]];
    std::printf("  {\"name\": \"%s\", \"stage\": %d, \"median_ms\": %.4f, \"min_ms\": %.4f}%s\n",
                order[i].c_str(), Laps::Stage(order[i]), Median(s), Min(s),
                i + 1 < order.size() ? "," : "");
  }
  std::printf(" ]}\n");
  return 0;
}

// Sets the head outputs so that exactly `n` non-overlapping people pass the filter: cells
// of the stride-16 level on every other row and column (32 px apart), each with a 24 x 24 px
// box, so that no two boxes overlap and NMS keeps all of them.
void SyntheticPeople(std::array<rtmo::RTMOHeadMaps<float>, 2>& hm, int n) {
  for (int l = 0; l < 2; ++l) std::fill_n(hm[l].cls_score.data, hm[l].cls_score.plane(), -20.0f);
  const rtmo::Map<float>& cls = hm[0].cls_score;
  const rtmo::Map<float>& bb = hm[0].bbox_pred;
  const int per_row = (cls.w + 1) / 2;
  for (int i = 0; i < n; ++i) {
    const int row = (i / per_row) * 2, col = (i % per_row) * 2;
    if (row >= cls.h) throw rtmo::Error("people: too many synthetic people for the grid");
    const size_t cell = static_cast<size_t>(row) * cls.w + col;
    cls.data[cell] = 3.0f - 0.01f * static_cast<float>(i);  // distinct scores, all > 0.1
    bb.channel(0)[cell] = 0.0f;                             // centre on the prior
    bb.channel(1)[cell] = 0.0f;
    bb.channel(2)[cell] = std::log(1.5f);  // w = exp(d) * 16 = 24 px
    bb.channel(3)[cell] = std::log(1.5f);
  }
}

int People(const std::string& model_path, const std::string& image_path, int threads, int iters) {
  SetThreads(threads);
  const rtmo::Weights weights = rtmo::Weights::Open(model_path);
  const rtmo::Network<float> net = rtmo::LoadNetwork<float>(weights, &rtmo::kernels::Best());
  const rtmo::ModelConfig& cfg = net.cfg;
  rtmo::Context<float> ctx(net, cfg.input_w, cfg.input_h);
  const rtmo::Image img = rtmo::LoadImage(image_path);
  rtmo::Letterbox lb;
  std::vector<double> dense;
  for (int i = 0; i < 3 + iters; ++i) {
    const auto t0 = Clock::now();
    lb = rtmo::RunNetwork(net, ctx, img, nullptr);
    if (i >= 3) dense.push_back(MsSince(t0));
  }
  const std::array<int, 2> strides{cfg.head_strides[0], cfg.head_strides[1]};
  std::vector<rtmo::Person> people;
  std::printf("{\"variant\": \"%s\", \"threads\": %d, \"iters\": %d,\n", cfg.variant.c_str(),
              threads, iters);
  std::printf(" \"network_ms\": %.4f, \"network_min_ms\": %.4f,\n", Median(dense), Min(dense));
  std::printf(
      " \"method\": \"Synthetic head outputs: the network runs on the real image, then the score "
      "map is set so that exactly N cells of the stride-16 level pass the 0.1 filter, with "
      "non-overlapping boxes (NMS keeps all N); the DCC runs on those cells' real pose vectors. "
      "Post-processing = RunPostprocess (sigmoid, filter, sort, box decode, NMS, DCC, clamp and "
      "mapping back to the image; rtmo/model.cc). decode and NMS are timed in separate calls "
      "on the same data; DCC + map = RunPostprocess - decode - NMS (medians).\",\n"
      " \"rows\": [\n");
  const int counts[] = {0, 1, 5, 20, 50, 100};
  for (size_t ci = 0; ci < std::size(counts); ++ci) {
    const int n = counts[ci];
    SyntheticPeople(ctx.head, n);
    std::vector<double> t_sel, t_nms, t_run;
    for (int it = 0; it < 2 + iters; ++it) {
      auto t0 = Clock::now();
      rtmo::SelectCandidates(ctx.head, strides, kScoreThr, &ctx.candidates);
      const double sel = MsSince(t0);
      t0 = Clock::now();
      rtmo::Nms(ctx.candidates, kNmsThr, &ctx.keep, &ctx.suppressed);
      const double nms = MsSince(t0);
      t0 = Clock::now();
      people = rtmo::RunPostprocess(net, ctx, lb, kScoreThr, kNmsThr, nullptr);
      const double run = MsSince(t0);
      if (it < 2) continue;
      t_sel.push_back(sel);
      t_nms.push_back(nms);
      t_run.push_back(run);
    }
    if (static_cast<int>(people.size()) != n) {
      throw rtmo::Error("people: expected " + std::to_string(n) + " people after NMS, got " +
                        std::to_string(people.size()));
    }
    const double sel = Median(t_sel), nms = Median(t_nms);
    std::printf(
        "  {\"people\": %zu, \"candidates\": %zu, \"decode_ms\": %.4f, \"nms_ms\": %.4f, "
        "\"dcc_map_ms\": %.4f, \"post_ms\": %.4f, \"post_min_ms\": %.4f}%s\n",
        people.size(), ctx.candidates.size(), sel, nms, std::max(0.0, Median(t_run) - sel - nms),
        Median(t_run), Min(t_run), ci + 1 < std::size(counts) ? "," : "");
  }
  std::printf(" ]}\n");
  return 0;
}

int Usage() {
  std::fprintf(stderr,
               "usage: e2e_bench info\n"
               "       e2e_bench input   MODEL.rtmo IMAGE OUT.f32\n"
               "       e2e_bench serve   MODEL.rtmo IMAGE THREADS [f32|f64]\n"
               "       e2e_bench profile MODEL.rtmo IMAGE THREADS ITERS [f32|f64]\n"
               "       e2e_bench people  MODEL.rtmo IMAGE THREADS ITERS\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::vector<std::string> a(argv + 1, argv + argc);
    if (a.size() == 1 && a[0] == "info") return Info();
    if (a.size() == 4 && a[0] == "input") return WriteInput(a[1], a[2], a[3]);
    if ((a.size() == 4 || a.size() == 5) && a[0] == "serve") {
      return Serve(a[1], a[2], std::stoi(a[3]), a.size() == 5 ? a[4] : "f32");
    }
    if ((a.size() == 5 || a.size() == 6) && a[0] == "profile") {
      return Profile(a[1], a[2], std::stoi(a[3]), std::stoi(a[4]), a.size() == 6 ? a[5] : "f32");
    }
    if (a.size() == 5 && a[0] == "people") {
      return People(a[1], a[2], std::stoi(a[3]), std::stoi(a[4]));
    }
    return Usage();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "e2e_bench: %s\n", e.what());
    std::printf("{\"error\": \"see stderr\"}\n");
    return 1;
  }
}
