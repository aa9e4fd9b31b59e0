// Command-line options of the `rtmo` command and their parser.
//
// Kept apart from main.cc so the parser is unit-tested (tests/rtmo/cli_test.cc) without a
// model. The parser only checks syntax and ranges; files are checked by the caller.
#ifndef RTMO_CLI_ARGS_H_
#define RTMO_CLI_ARGS_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "rtmo/cli/video_args.h"

namespace rtmo::cli {

// The model used when --model is not given: the official RTMO-s body7, from the model cache
// (downloaded on first use; rtmo::ResolveModel). A weights/rtmo-s.rtmo in the current
// directory (what tools/get_weights.sh s writes) takes precedence, so the README's
// get_weights.sh + rtmo commands keep working.
inline constexpr const char* kDefaultModel = "rtmo-s";
inline constexpr const char* kLocalDefaultModelPath = "weights/rtmo-s.rtmo";

struct Options {
  std::vector<std::string> inputs;  // image files or directories, in command-line order
  // --model SPEC: a .rtmo / .pth path or a model name; model_given: it was on the command
  // line (else ./weights/rtmo-s.rtmo is preferred when present).
  std::string model = kDefaultModel;
  bool model_given = false;
  std::string json_path;          // --json FILE ("-": standard output)
  std::string coco_results_path;  // --coco-results FILE ("-": standard output)
  std::string coco_ann_path;      // --coco-ann FILE (image ids for --coco-results)
  std::string draw_dir;           // --draw DIR
  std::string dump_dir;           // --dump DIR
  std::string title;              // --title TEXT: a caption on every drawing
  // Official test_cfg defaults (mmpose v1.3.2 configs/body_2d_keypoint/rtmo/*/rtmo-*.py:
  // test_cfg=dict(score_thr=0.1, nms_thr=0.65)); same as rtmo::PredictOptions.
  float score_thr = 0.1f;
  float nms_thr = 0.65f;
  // mmpose PoseLocalVisualizer / inferencer default kpt_thr=0.3
  // (mmpose/visualization/local_visualizer.py, _draw_instances_kpts).
  float kpt_thr = 0.3f;
  int threads = 0;                // 0: OpenMP's default
  std::string precision = "f32";  // --precision f32|f64 (f64: the exact verification path)
  int input_w = 0, input_h = 0;   // --input-size WxH (0: the model's own size)
  bool trace = false;             // --trace: every module's shape and statistics on stderr
  std::size_t max_pixels = 0;     // 0: rtmo::kDefaultMaxPixels
  bool overwrite = false;  // --overwrite: replace existing files that are not rtmo outputs
  bool quiet = false;
  bool help = false;
  bool version = false;
  VideoOptions video;  // video inputs only (rtmo/cli/video_args.h)
};

// Thrown for a malformed command line; main prints the message and the usage, exits 2.
struct UsageError {
  std::string message;
};

// argv[1..argc) (without the program name and without a leading `eval`) -> Options.
// Accepts `--opt VALUE` and `--opt=VALUE`; `--` ends the options. Throws UsageError.
Options ParseArgs(const std::vector<std::string>& args);

// The --help text (also printed after a UsageError).
std::string UsageText();

}  // namespace rtmo::cli

#endif  // RTMO_CLI_ARGS_H_
