#include "rtmo/cli/run.h"

#include <unistd.h>

#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <new>
#include <utility>

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

// The refusals of the output plan, checked before any image is processed: an output that
// is an input, a result file named like an image, a directory where a file goes, or an
// existing file that is not an rtmo output (without --overwrite). Throws rtmo::Error
// naming the paths; `drawings[i]` is the drawing path of inputs[i] (empty without --draw).
void CheckOutputPlan(const Options& o, const std::vector<InputFile>& inputs,
                     const std::vector<std::string>& drawings) {
  std::map<FileId, std::string> input_ids;
  for (const InputFile& in : inputs) {
    const FileId id = IdOf(in.path);
    if (!(id == FileId{})) input_ids.emplace(id, in.path);
  }
  auto input_at = [&](const std::string& path) -> const std::string* {
    const FileId id = IdOf(path);
    if (id == FileId{}) return nullptr;
    const auto it = input_ids.find(id);
    return it == input_ids.end() ? nullptr : &it->second;
  };
  const char* kOverwriteHint = "; pass --overwrite to replace it";
  for (const auto& [opt, file] : {std::pair<const char*, const std::string&>{"--json", o.json_path},
                                  {"--coco-results", o.coco_results_path}}) {
    if (file.empty() || file == "-") continue;
    const std::string what = std::string(opt) + " '" + file + "'";
    if (const std::string* in = input_at(file)) {
      throw Error(what + " is the input image '" + *in +
                  "': refusing to overwrite an input (was an image path taken as the value "
                  "of " +
                  opt + "?)");
    }
    if (HasImageExtension(file)) {
      throw Error(what +
                  ": expected a .json file name, found an image file name (was an "
                  "image path taken as the value of " +
                  opt + "?)");
    }
    switch (ClassifyExisting(file)) {
      case ExistingKind::kDirectory:
        throw Error(what + " is a directory: expected a file name such as " +
                    (std::filesystem::path(file) / "results.json").native());
      case ExistingKind::kOther:
        if (!o.overwrite) {
          throw Error(what + " exists and is not an rtmo JSON output: refusing to replace it" +
                      kOverwriteHint);
        }
        break;
      default:
        break;
    }
    const std::filesystem::path parent = std::filesystem::path(file).parent_path();
    if (!parent.empty() && !std::filesystem::is_directory(parent)) {
      throw Error(what + ": the directory '" + parent.native() + "' does not exist");
    }
  }
  if (!o.json_path.empty() && !o.coco_results_path.empty() && o.json_path != "-" &&
      o.coco_results_path != "-") {
    std::error_code e1, e2;
    if (std::filesystem::weakly_canonical(o.json_path, e1) ==
        std::filesystem::weakly_canonical(o.coco_results_path, e2)) {
      throw Error("--json '" + o.json_path + "' and --coco-results '" + o.coco_results_path +
                  "' are the same file: expected two different files");
    }
  }
  if (o.draw_dir.empty()) return;
  std::error_code ec;
  if (std::filesystem::exists(o.draw_dir, ec) && !std::filesystem::is_directory(o.draw_dir, ec)) {
    throw Error("--draw '" + o.draw_dir + "' exists and is not a directory");
  }
  std::vector<std::string> problems;
  for (size_t i = 0; i < drawings.size(); ++i) {
    const std::string& out = drawings[i];
    if (const std::string* in = input_at(out)) {
      problems.push_back("the drawing of '" + inputs[i].path + "' would be '" + out +
                         "', which is the input '" + *in +
                         "' (choose a --draw directory "
                         "that holds no inputs)");
      continue;
    }
    const ExistingKind kind = ClassifyExisting(out);
    if (kind == ExistingKind::kDirectory) {
      problems.push_back("the drawing of '" + inputs[i].path + "' would be '" + out +
                         "', which is a directory");
    } else if (kind == ExistingKind::kOther && !o.overwrite) {
      problems.push_back("the drawing of '" + inputs[i].path + "' would replace '" + out +
                         "', an existing file that is not an rtmo drawing" + kOverwriteHint);
    }
  }
  if (!problems.empty()) {
    std::string msg = "--draw '" + o.draw_dir + "': " + problems[0];
    if (problems.size() > 1) {
      msg += " (and " + std::to_string(problems.size() - 1) + " more like it)";
    }
    throw Error(msg);
  }
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
  const std::vector<InputFile> inputs =
      CollectInputs(o.inputs, &input_errors, {o.draw_dir, o.dump_dir});
  std::vector<InputError> failures;
  for (const std::string& e : input_errors) {
    report(e);
    failures.push_back({e.substr(0, e.find(": ")), e});
  }
  stats->failed += static_cast<int>(input_errors.size());
  if (inputs.empty()) {
    report("no images to process (nothing was written)");
    return 1;
  }

  // Everything that can be known before the first image: a mistake here would otherwise
  // surface after hours of work, or destroy a file.
  std::vector<int64_t> coco_ids;
  const std::vector<std::string> stems = UniqueStems(inputs);
  const int n = static_cast<int>(inputs.size());
  std::vector<std::string> drawings;
  if (!o.draw_dir.empty()) {
    for (int i = 0; i < n; ++i) {
      drawings.push_back(
          (std::filesystem::path(o.draw_dir) / (stems[i] + "." + DrawFormat(inputs[i].path)))
              .native());
    }
  }
  std::unique_ptr<OutputStream> json_out, coco_out;
  try {
    CheckOutputPlan(o, inputs, drawings);  // first: the refusals that protect files
    if (!o.coco_results_path.empty()) {
      std::map<std::string, int64_t> ann_ids;
      if (!o.coco_ann_path.empty()) ann_ids = LoadCocoImageIds(o.coco_ann_path);
      for (const InputFile& in : inputs) {
        coco_ids.push_back(CocoImageId(in.path, o.coco_ann_path.empty() ? nullptr : &ann_ids));
      }
    }
    if (!o.draw_dir.empty()) {
      MakeDirs(o.draw_dir);
      OutputStream probe((std::filesystem::path(o.draw_dir) / "rtmo-write-test").native());
    }
    if (!o.dump_dir.empty()) MakeDirs(o.dump_dir);
    // Opening the streams creates their temp files: the destinations are writable.
    if (!o.json_path.empty()) {
      json_out = std::make_unique<OutputStream>(o.json_path);
      json_out->Write(PredictionsJsonHead(model_label));
    }
    if (!o.coco_results_path.empty()) {
      coco_out = std::make_unique<OutputStream>(o.coco_results_path);
      coco_out->Write("[");
    }
  } catch (const Error& e) {
    report(std::string(e.what()) + " (nothing was processed)");
    return 1;
  }

  // A failed stream is reported once and dropped; the run goes on (drawings, the other
  // stream), and the exit status says an output failed.
  auto stream = [&](std::unique_ptr<OutputStream>& out, const std::string& bytes) {
    if (!out) return;
    try {
      out->Write(bytes);
    } catch (const Error& e) {
      report(e.what());
      stats->output_errors += 1;
      out.reset();
    }
  };

  Progress progress(n, n > 1 && !o.quiet && isatty(fileno(err)), err);
  bool first_record = true, first_coco = true;
  int done = 0;
  progress.Update(0);  // show the bar (0/n) while the first image runs
  for (int i = 0; i < n && StopSignal() == 0; ++i, done = i) {
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
        try {
          DrawOptions draw;
          draw.kpt_thr = o.kpt_thr;
          draw.title = o.title;
          Draw(&image, people, draw);
          const std::vector<uint8_t> bytes = MarkDrawing(EncodeImage(image, fmt), fmt);
          WriteFileAtomic(drawings[i], std::string_view(reinterpret_cast<const char*>(bytes.data()),
                                                        bytes.size()));
        } catch (const Error& e) {
          progress.Message(std::string("rtmo: error: ") + e.what());
          stats->output_errors += 1;
        }
      }
      const ImageResult result{path, image.width, image.height, std::move(people)};
      stream(json_out, PredictionsJsonRecord(result, first_record));
      first_record = false;
      if (coco_out) stream(coco_out, CocoResultsRecords(result, coco_ids[i], &first_coco));
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
  const bool interrupted = done < n;

  auto finish = [&](std::unique_ptr<OutputStream>& out, const std::string& tail) {
    if (!out) return;
    try {
      out->Write(tail);
      out->Commit();
    } catch (const Error& e) {
      report(e.what());
      stats->output_errors += 1;
    }
    out.reset();
  };
  finish(json_out, PredictionsJsonTail(failures, interrupted));
  finish(coco_out, "\n]\n");

  const int sig = StopSignal();
  if (sig != 0) {
    std::fprintf(err, "rtmo: interrupted by %s after %d of %d image%s%s\n",
                 sig == SIGINT    ? "SIGINT"
                 : sig == SIGTERM ? "SIGTERM"
                                  : "a signal",
                 done, n, n == 1 ? "" : "s",
                 (o.json_path.empty() && o.coco_results_path.empty())
                     ? ""
                     : "; the result files hold the images completed");
  }
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
  if (sig != 0) return 128 + sig;
  return (stats->failed || stats->output_errors) ? 1 : 0;
}

}  // namespace rtmo::cli
