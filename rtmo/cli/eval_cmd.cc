// The `eval` command; see eval_cmd.h.
#include "rtmo/cli/eval_cmd.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <stdexcept>

#include "rtmo/error.h"
#include "rtmo/eval/coco_json.h"
#include "rtmo/eval/cocoeval.h"

namespace rtmo {
namespace {

const char kEvalUsage[] =
    "usage: rtmo eval --ann ANN.json --results RES.json [--json OUT.json]\n"
    "                 [--sigmas s1,s2,...,sK] [--timing]\n"
    "\n"
    "COCO keypoint evaluation (OKS AP/AR), identical to pycocotools' COCOeval with\n"
    "iouType='keypoints': prints the 10 standard numbers.\n"
    "  --ann FILE      COCO keypoint annotations (e.g. person_keypoints_val2017.json)\n"
    "  --results FILE  COCO results list [{image_id, category_id, keypoints, score}, ...]\n"
    "                  (written by `rtmo --coco-results`)\n"
    "  --json FILE     also write the numbers as JSON\n"
    "  --sigmas LIST   per-keypoint OKS sigmas, comma-separated (default: the COCO-17\n"
    "                  sigmas; needed for files with another number of keypoints)\n"
    "  --timing        print the time of each phase to stderr\n";

std::vector<double> ParseSigmas(const std::string& text) {
  std::vector<double> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t comma = std::min(text.find(',', pos), text.size());
    const std::string item = text.substr(pos, comma - pos);
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(item.c_str(), &end);
    if (item.empty() || end != item.c_str() + item.size() || errno != 0 || !std::isfinite(v) ||
        v <= 0) {
      throw std::invalid_argument("--sigmas: '" + item + "' is not a positive number");
    }
    out.push_back(v);
    pos = comma + 1;
  }
  return out;
}

}  // namespace

int RunEvalCommand(const std::vector<std::string>& args) {
  std::string ann, results, json_out;
  bool timing = false;
  EvalParams params;
  try {
    for (size_t i = 0; i < args.size(); ++i) {
      std::string opt = args[i], value;
      bool has_value = false;
      if (opt == "-h" || opt == "--help") {
        std::cout << kEvalUsage;
        return 0;
      }
      if (opt == "--timing") {
        timing = true;
        continue;
      }
      const size_t eq = opt.find('=');
      if (opt.rfind("--", 0) == 0 && eq != std::string::npos) {
        value = opt.substr(eq + 1);
        opt = opt.substr(0, eq);
        has_value = true;
      }
      if (opt != "--ann" && opt != "--results" && opt != "--json" && opt != "--sigmas") {
        throw std::invalid_argument("unknown argument '" + args[i] + "'");
      }
      if (!has_value) {
        if (i + 1 >= args.size()) throw std::invalid_argument(opt + ": missing value");
        value = args[++i];
      }
      if (value.empty()) throw std::invalid_argument(opt + ": empty value");
      if (opt == "--ann") ann = value;
      if (opt == "--results") results = value;
      if (opt == "--json") json_out = value;
      if (opt == "--sigmas") params.sigmas = ParseSigmas(value);
    }
    if (ann.empty()) throw std::invalid_argument("--ann is required");
    if (results.empty()) throw std::invalid_argument("--results is required");
  } catch (const std::invalid_argument& e) {
    std::cerr << "rtmo eval: " << e.what() << "\n" << kEvalUsage;
    return 2;
  }
  try {
    using Clock = std::chrono::steady_clock;
    // Wall and CPU time per phase (CPU time tells more on a busy machine).
    const auto t0 = Clock::now();
    const std::clock_t c0 = std::clock();
    const KeypointDataset gt = LoadKeypointDataset(ann);
    const auto t1 = Clock::now();
    const std::clock_t c1 = std::clock();
    const std::vector<Detection> dets = LoadKeypointResults(results, gt);
    const auto t2 = Clock::now();
    const std::clock_t c2 = std::clock();
    const KeypointEvalResult res = EvaluateKeypoints(gt, dets, params);
    const auto t3 = Clock::now();
    const std::clock_t c3 = std::clock();
    std::cout << FormatSummary(res) << std::flush;
    if (timing) {
      auto ms = [](auto a, auto b) {
        return std::chrono::duration<double, std::milli>(b - a).count();
      };
      auto cpu = [](std::clock_t a, std::clock_t b) { return 1e3 * (b - a) / CLOCKS_PER_SEC; };
      std::fprintf(
          stderr,
          "rtmo eval: %zu images, %zu annotations, %zu detections\n"
          "rtmo eval: wall ms: annotations %.1f, results %.1f, evaluation %.1f, total %.1f\n"
          "rtmo eval: cpu  ms: annotations %.1f, results %.1f, evaluation %.1f, total %.1f\n",
          gt.image_ids.size(), gt.annotations.size(), dets.size(), ms(t0, t1), ms(t1, t2),
          ms(t2, t3), ms(t0, t3), cpu(c0, c1), cpu(c1, c2), cpu(c2, c3), cpu(c0, c3));
    }
    if (!json_out.empty()) {
      std::ofstream out(json_out, std::ios::binary);
      if (!out) throw Error(json_out + ": cannot open for writing: " + std::strerror(errno));
      out << SummaryJson(res, ann, results);
      out.close();
      if (!out) throw Error(json_out + ": write failed");
    }
  } catch (const Error& e) {
    std::cerr << "rtmo eval: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

int RunEvalCommand(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  return RunEvalCommand(args);
}

}  // namespace rtmo
