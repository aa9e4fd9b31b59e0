#include "rtmo/cli/run.h"

#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <new>

#include "rtmo/cli/files.h"
#include "rtmo/cli/progress.h"
#include "rtmo/cli/report.h"
#include "rtmo/cli/video_cmd.h"
#include "rtmo/error.h"

namespace rtmo::cli {
namespace {

// Drawn images keep a lossless format for lossless inputs, JPEG otherwise.
std::string DrawFormat(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().native();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return (ext == ".jpg" || ext == ".jpeg") ? "jpg" : "png";
}

}  // namespace

int RunPredictions(const Options& o, const std::string& model_label, const PredictFn& predict,
                   RunStats* stats, std::FILE* err) {
  *stats = {};
  if (HasVideoInput(o)) return RunVideo(o, model_label, predict, stats, err);
  auto report = [&](const std::string& msg) {
    std::fprintf(err, "rtmo: error: %s\n", msg.c_str());
  };

  std::vector<std::string> input_errors;
  const std::vector<InputFile> inputs = CollectInputs(o.inputs, &input_errors);
  std::vector<InputError> failures;
  for (const std::string& e : input_errors) {
    report(e);
    failures.push_back({e.substr(0, e.find(": ")), e});
  }
  stats->failed += static_cast<int>(input_errors.size());
  if (inputs.empty()) {
    report(
        "no images found in the given INPUTs (directories are searched for .jpg .jpeg .png .bmp)");
    return 1;
  }

  // Everything that can be known before the first image: a mistake here would otherwise
  // surface after hours of work.
  std::vector<int64_t> coco_ids;
  if (!o.coco_results_path.empty()) {
    std::map<std::string, int64_t> ann_ids;
    try {
      if (!o.coco_ann_path.empty()) ann_ids = LoadCocoImageIds(o.coco_ann_path);
      for (const InputFile& in : inputs) {
        coco_ids.push_back(CocoImageId(in.path, o.coco_ann_path.empty() ? nullptr : &ann_ids));
      }
    } catch (const Error& e) {
      report(std::string(e.what()) + " (nothing was processed)");
      return 1;
    }
  }
  try {
    if (!o.draw_dir.empty()) MakeDirs(o.draw_dir);
    if (!o.dump_dir.empty()) MakeDirs(o.dump_dir);
    for (const std::string& f : {o.json_path, o.coco_results_path}) {
      if (f.empty()) continue;
      const std::filesystem::path parent = std::filesystem::path(f).parent_path();
      if (!parent.empty() && !std::filesystem::is_directory(parent)) {
        throw Error(f + ": the directory '" + parent.native() + "' does not exist");
      }
    }
  } catch (const Error& e) {
    report(std::string(e.what()) + " (nothing was processed)");
    return 1;
  }

  const std::vector<std::string> stems = UniqueStems(inputs);
  const int n = static_cast<int>(inputs.size());
  Progress progress(n, n > 1 && !o.quiet && isatty(fileno(err)), err);
  std::vector<ImageResult> results;
  std::vector<int64_t> result_ids;

  progress.Update(0);  // show the bar (0/n) while the first image runs
  for (int i = 0; i < n; ++i) {
    const std::string& path = inputs[i].path;
    try {
      Image image = LoadImage(path, o.max_pixels ? o.max_pixels : kDefaultMaxPixels);
      PredictOptions po;
      po.score_thr = o.score_thr;
      po.nms_thr = o.nms_thr;
      if (!o.dump_dir.empty()) {
        po.dump_dir = (std::filesystem::path(o.dump_dir) / stems[i]).native();
        MakeDirs(po.dump_dir);
      }
      const auto t0 = std::chrono::steady_clock::now();
      std::vector<Person> people = predict(image, po);
      stats->predict_seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      stats->images += 1;
      stats->people += static_cast<int>(people.size());
      if (!o.draw_dir.empty()) {
        const std::string fmt = DrawFormat(path);
        const std::string out =
            (std::filesystem::path(o.draw_dir) / (stems[i] + "." + fmt)).native();
        try {
          DrawOptions draw;
          draw.kpt_thr = o.kpt_thr;
          draw.title = o.title;
          Draw(&image, people, draw);
          const std::vector<uint8_t> bytes = EncodeImage(image, fmt);
          WriteFileAtomic(
              out, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
        } catch (const Error& e) {
          progress.Message(std::string("rtmo: error: ") + e.what());
          stats->output_errors += 1;
        }
      }
      results.push_back({path, image.width, image.height, std::move(people)});
      if (!coco_ids.empty()) result_ids.push_back(coco_ids[i]);
    } catch (const Error& e) {
      // LoadImage's messages name the file; add it when a message does not.
      std::string msg = e.what();
      if (msg.find(path) == std::string::npos) msg = path + ": " + msg;
      progress.Message("rtmo: error: " + msg + " (skipped)");
      failures.push_back({path, e.what()});
      stats->failed += 1;
    } catch (const std::bad_alloc&) {
      progress.Message("rtmo: error: " + path + ": out of memory (skipped)");
      failures.push_back({path, "out of memory"});
      stats->failed += 1;
    }
    progress.Update(i + 1);
  }
  progress.Finish();

  auto write = [&](const std::string& file, const std::string& bytes) {
    try {
      WriteFileAtomic(file, bytes);
    } catch (const Error& e) {
      report(e.what());
      stats->output_errors += 1;
    }
  };
  if (!o.json_path.empty()) write(o.json_path, PredictionsJson(model_label, results, failures));
  if (!o.coco_results_path.empty())
    write(o.coco_results_path, CocoResultsJson(results, result_ids));

  if (!o.quiet) {
    const double ms = stats->images ? 1e3 * stats->predict_seconds / stats->images : 0.0;
    std::fprintf(err, "rtmo: %d image%s, %d %s, mean latency %.1f ms/image", stats->images,
                 stats->images == 1 ? "" : "s", stats->people,
                 stats->people == 1 ? "person" : "people", ms);
    if (stats->failed)
      std::fprintf(err, ", %d input%s FAILED", stats->failed, stats->failed == 1 ? "" : "s");
    if (stats->output_errors)
      std::fprintf(err, ", %d output%s FAILED", stats->output_errors,
                   stats->output_errors == 1 ? "" : "s");
    std::fprintf(err, "\n");
  }
  return (stats->failed || stats->output_errors) ? 1 : 0;
}

}  // namespace rtmo::cli
