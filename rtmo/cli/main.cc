// The `rtmo` command: images in, poses out (JSON, COCO results, drawings).
//
//   rtmo [options] INPUT...        pose estimation (rtmo --help)
//   rtmo fetch NAME...             download + convert official models (rtmo fetch --help)
//   rtmo eval --ann A --results R  COCO keypoint AP of a results file (rtmo/cli/eval_cmd.h)
//
// The work is in rtmo/cli/run.cc (testable without a model); this file parses the command
// line, loads the model once and wires Model::Predict into the loop. Built twice: `rtmo`
// without FFmpeg, which execs `rtmo-video` (with FFmpeg) for a video INPUT (video_cmd.h).
#include <omp.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "rtmo/cli/args.h"
#include "rtmo/cli/files.h"
#include "rtmo/cli/run.h"
#include "rtmo/cli/trace.h"
#include "rtmo/cli/video_cmd.h"
#include "rtmo/error.h"
#include "rtmo/io/model_files.h"
#include "rtmo/rtmo.h"
#ifdef RTMO_HAVE_EVAL
#include "rtmo/cli/eval_cmd.h"
#endif

namespace {

constexpr int kExitUsage = 2;

// `rtmo fetch`: download + check + convert official models into the cache without running
// them (tools/get_weights.sh is a wrapper over this). Exit status: 0 done, 1 a download or
// conversion failed, 2 bad command line or name, 3 checksum mismatch (the first failure's).
constexpr const char* kFetchUsage =
    "usage: rtmo fetch NAME...   download, check and convert official RTMO checkpoints\n"
    "       rtmo fetch --list    the names and their URLs\n"
    "\n"
    "Writes $RTMO_HOME/NAME.rtmo (RTMO_HOME default: $XDG_CACHE_HOME/rtmo, else "
    "~/.cache/rtmo)\n"
    "and keeps the verified .pth next to it. The sha256 of each download must start with the\n"
    "8 hex digits in the official file name. Needs curl (or wget) and python3 (standard\n"
    "library only). Environment: RTMO_HOME, RTMO_WEIGHTS_BASE_URL (a mirror), "
    "RTMO_WEIGHTS_FILE\n"
    "(another file name, with its -HHHHHHHH hash), RTMO_OFFLINE=1, RTMO_PYTHON, "
    "RTMO_CONVERTER.\n"
    "Exit status: 0 done; 1 download/conversion failed; 2 bad arguments; 3 checksum "
    "mismatch.\n";

int RunFetchCommand(const std::vector<std::string>& args) {
  if (args.empty()) {
    std::fputs(kFetchUsage, stderr);
    return kExitUsage;
  }
  if (args.size() == 1 && (args[0] == "-h" || args[0] == "--help")) {
    std::fputs(kFetchUsage, stdout);
    return 0;
  }
  if (args.size() == 1 && args[0] == "--list") {
    for (const rtmo::models::OfficialModel& m : rtmo::models::OfficialModels()) {
      std::printf("%-24s %s/%s\n", m.name, rtmo::models::kDefaultBaseUrl, m.file);
    }
    return 0;
  }
  for (const std::string& name : args) {  // all names checked before any download
    if (rtmo::models::FindOfficial(name) == nullptr) {
      std::string names;
      for (const auto& m : rtmo::models::OfficialModels()) names += std::string(" ") + m.name;
      std::fprintf(stderr, "rtmo fetch: no official RTMO checkpoint named '%s'; names:%s\n",
                   name.c_str(), names.c_str());
      return kExitUsage;
    }
  }
  auto log = [](const std::string& line) {
    std::fprintf(stderr, "rtmo fetch: %s\n", line.c_str());
  };
  int status = 0;
  for (const std::string& name : args) {
    try {
      const rtmo::models::OfficialModel& m = *rtmo::models::FindOfficial(name);
      const std::filesystem::path cached =
          rtmo::models::ModelHome() / (std::string(m.name) + ".rtmo");
      std::error_code ec;
      if (std::filesystem::is_regular_file(cached, ec)) {
        log(cached.string() + " already present");
      } else {
        rtmo::models::FetchOfficial(m, log);
      }
      std::printf("%s\n", cached.c_str());
    } catch (const rtmo::models::FetchError& e) {
      std::fprintf(stderr, "rtmo fetch: %s: %s\n", name.c_str(), e.what());
      if (status == 0) status = e.exit_status();
    } catch (const rtmo::Error& e) {
      std::fprintf(stderr, "rtmo fetch: %s: %s\n", name.c_str(), e.what());
      if (status == 0) status = 1;
    }
  }
  return status;
}

// Version-1 weights load but carry no checksums (weights/FORMAT.md): say so, once.
void WarnIfVersion1(const std::string& path) {
  unsigned char head[16] = {};
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return;
  const size_t got = std::fread(head, 1, sizeof head, f);
  std::fclose(f);
  if (got == sizeof head && head[12] == 1 && head[13] == 0 && head[14] == 0 && head[15] == 0) {
    std::fprintf(stderr,
                 "rtmo: warning: '%s' is a version-1 .rtmo file without checksums (corruption "
                 "would go unnoticed); re-convert it with tools/convert_checkpoint.py\n",
                 path.c_str());
  }
}

// `argv`: main's, for the hand-over of a video command line to rtmo-video.
int RunPredictCommand(const std::vector<std::string>& args, char* const argv[]) {
  rtmo::cli::Options opts;
  try {
    opts = rtmo::cli::ParseArgs(args);
  } catch (const rtmo::cli::UsageError& e) {
    std::fprintf(stderr, "rtmo: %s\n\n%s", e.message.c_str(), rtmo::cli::UsageText().c_str());
    return kExitUsage;
  }
  if (opts.help) {
    std::fputs(rtmo::cli::UsageText().c_str(), stdout);
    return 0;
  }
  if (opts.version) {
    // The library's version (rtmo::Version(), the same number as the CMake project's).
    std::printf(
        "rtmo %s (rtmo.cpp, RTMO pose estimation in C++; reads .rtmo format versions "
        "%d to %d)\n",
        rtmo::Version(), rtmo::kWeightsFormatMin, rtmo::kWeightsFormatMax);
    return 0;
  }
  // A video INPUT: `rtmo` (no FFmpeg linked) becomes rtmo-video here, before any model
  // load, so nothing is done twice (video_cmd.h).
  const int handover = rtmo::cli::HandOverVideo(opts, argv);
  if (handover >= 0) return handover;
  if (opts.threads > 0) omp_set_num_threads(opts.threads);

  // The model first: a bad weights file is one clear message before any work.
  std::error_code ec;
  std::string spec = opts.model;
  if (!opts.model_given &&
      std::filesystem::is_regular_file(rtmo::cli::kLocalDefaultModelPath, ec)) {
    spec = rtmo::cli::kLocalDefaultModelPath;  // what tools/get_weights.sh s writes
  }
  std::string model_path;
  try {
    model_path = rtmo::ResolveModel(spec);
  } catch (const rtmo::Error& e) {
    std::fprintf(stderr, "rtmo: error: cannot load the model: %s\n", e.what());
    if (!opts.model_given) {
      std::fprintf(stderr,
                   "  (the default model is %s; or: tools/get_weights.sh s writes %s, or pass "
                   "--model FILE.rtmo|FILE.pth)\n",
                   rtmo::cli::kDefaultModel, rtmo::cli::kLocalDefaultModelPath);
    }
    return 1;
  }
  rtmo::Model* model = nullptr;
  std::unique_ptr<rtmo::Model> holder;
  try {
    rtmo::ModelOptions mo;
    mo.precision = rtmo::ParsePrecision(opts.precision);
    mo.input_width = opts.input_w;
    mo.input_height = opts.input_h;
    holder = std::make_unique<rtmo::Model>(rtmo::Model::Load(model_path, mo));
    model = holder.get();
  } catch (const rtmo::Error& e) {
    std::fprintf(stderr, "rtmo: error: cannot load the model: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "rtmo: error: cannot load the model '%s': out of memory\n",
                 opts.model.c_str());
    return 1;
  }

  WarnIfVersion1(model_path);
  // After loading: a Ctrl-C while loading just ends the process (nothing written yet).
  rtmo::cli::InstallSignalHandlers();
  rtmo::cli::RunStats stats;
  rtmo::cli::TraceObserver tracer(stderr);
  rtmo::Observer* observer = opts.trace ? &tracer : nullptr;
  return rtmo::cli::RunPredictions(
      opts, model_path,
      [model, observer](const rtmo::Image& image, const rtmo::PredictOptions& po) {
        rtmo::PredictOptions with_trace = po;
        with_trace.observer = observer;
        return model->Predict(image, with_trace);
      },
      &stats);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "eval") {
#ifdef RTMO_HAVE_EVAL
    return rtmo::RunEvalCommand(std::vector<std::string>(args.begin() + 1, args.end()));
#else
    std::fprintf(stderr, "rtmo: this build has no evaluator (rtmo_eval was not built)\n");
    return kExitUsage;
#endif
  }
  if (!args.empty() && args[0] == "fetch") {
    try {
      return RunFetchCommand(std::vector<std::string>(args.begin() + 1, args.end()));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "rtmo fetch: error: %s\n", e.what());
      return 1;
    }
  }
  try {
    return RunPredictCommand(args, argv);
  } catch (const std::exception& e) {
    // Anything not expected per image (e.g. out of memory in the final JSON): still one line.
    std::fprintf(stderr, "rtmo: error: %s\n", e.what());
    return 1;
  }
}
