// The `rtmo` command: images in, poses out (JSON, COCO results, drawings).
//
//   rtmo [options] INPUT...        pose estimation (rtmo --help)
//   rtmo eval --ann A --results R  COCO keypoint AP of a results file (rtmo/cli/eval_cmd.h)
//
// The work is in rtmo/cli/run.cc (testable without a model); this file parses the command
// line, loads the model once and wires Model::Predict into the loop.
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
#include "rtmo/error.h"
#include "rtmo/rtmo.h"
#ifdef RTMO_HAVE_EVAL
#include "rtmo/cli/eval_cmd.h"
#endif

#ifndef RTMO_VERSION
#define RTMO_VERSION "unknown"
#endif

namespace {

constexpr int kExitUsage = 2;

void PrintMissingModel(const std::string& path) {
  std::fprintf(stderr,
               "rtmo: error: model file '%s' not found.\n"
               "  Download the official RTMO checkpoint and convert it (needs curl and "
               "python3, see tools/setup.sh):\n"
               "    tools/get_weights.sh s               # RTMO-s body7 -> weights/rtmo-s.rtmo\n"
               "    tools/get_weights.sh m coco          # -> weights/rtmo-m-coco.rtmo\n"
               "  or convert a .pth you already have:\n"
               "    /usr/bin/python3 tools/convert_checkpoint.py CHECKPOINT.pth "
               "weights/rtmo-s.rtmo\n"
               "  then run again, or pass the file with --model FILE.\n",
               path.c_str());
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

int RunPredictCommand(const std::vector<std::string>& args) {
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
    std::printf("rtmo %s (rtmo.cpp, RTMO pose estimation in C++)\n", RTMO_VERSION);
    return 0;
  }
  if (opts.threads > 0) omp_set_num_threads(opts.threads);

  // The model first: a bad weights file is one clear message before any work.
  std::error_code ec;
  if (!std::filesystem::exists(opts.model, ec)) {
    PrintMissingModel(opts.model);
    return 1;
  }
  rtmo::Model* model = nullptr;
  std::unique_ptr<rtmo::Model> holder;
  try {
    rtmo::ModelOptions mo;
    mo.precision = rtmo::ParsePrecision(opts.precision);
    mo.input_width = opts.input_w;
    mo.input_height = opts.input_h;
    holder = std::make_unique<rtmo::Model>(rtmo::Model::Load(opts.model, mo));
    model = holder.get();
  } catch (const rtmo::Error& e) {
    std::fprintf(stderr, "rtmo: error: cannot load the model: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "rtmo: error: cannot load the model '%s': out of memory\n",
                 opts.model.c_str());
    return 1;
  }

  WarnIfVersion1(opts.model);
  // After loading: a Ctrl-C while loading just ends the process (nothing written yet).
  rtmo::cli::InstallSignalHandlers();
  rtmo::cli::RunStats stats;
  rtmo::cli::TraceObserver tracer(stderr);
  rtmo::Observer* observer = opts.trace ? &tracer : nullptr;
  return rtmo::cli::RunPredictions(
      opts, opts.model,
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
  try {
    return RunPredictCommand(args);
  } catch (const std::exception& e) {
    // Anything not expected per image (e.g. out of memory in the final JSON): still one line.
    std::fprintf(stderr, "rtmo: error: %s\n", e.what());
    return 1;
  }
}
