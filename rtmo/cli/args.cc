#include "rtmo/cli/args.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <string_view>
#include <system_error>
#include <utility>

#include "rtmo/cli/files.h"

namespace rtmo::cli {
namespace {

float ParseFloat(const std::string& opt, const std::string& value, float lo, float hi) {
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(value.c_str(), &end);
  if (value.empty() || end != value.c_str() + value.size() || errno != 0 || !std::isfinite(v) ||
      v < lo || v > hi) {
    throw UsageError{opt + ": expected a number in [" + std::to_string(lo) + ", " +
                     std::to_string(hi) + "], got '" + value + "'"};
  }
  return static_cast<float>(v);
}

long long ParseInt(const std::string& opt, const std::string& value, long long lo, long long hi) {
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(value.c_str(), &end, 10);
  if (value.empty() || end != value.c_str() + value.size() || errno != 0 || v < lo || v > hi) {
    throw UsageError{opt + ": expected an integer in [" + std::to_string(lo) + ", " +
                     std::to_string(hi) + "], got '" + value + "'"};
  }
  return v;
}

}  // namespace

Options ParseArgs(const std::vector<std::string>& args) {
  Options o;
  bool options_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (options_done || a.empty() || a[0] != '-' || a == "-") {
      o.inputs.push_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    // Split `--name=value`.
    std::string name = a;
    std::optional<std::string> inline_value;
    if (const size_t eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
      name = a.substr(0, eq);
      inline_value = a.substr(eq + 1);
    }
    auto flag = [&]() {
      if (inline_value) throw UsageError{name + " takes no value"};
    };
    auto value = [&]() -> std::string {
      if (inline_value) return *inline_value;
      if (i + 1 >= args.size()) throw UsageError{name + " needs a value"};
      return args[++i];
    };
    auto path = [&]() -> std::string {
      std::string v = value();
      if (v.empty()) throw UsageError{name + " needs a non-empty value"};
      return v;
    };

    if (name == "-h" || name == "--help") {
      flag();
      o.help = true;
    } else if (name == "--version") {
      flag();
      o.version = true;
    } else if (name == "--overwrite") {
      flag();
      o.overwrite = true;
    } else if (name == "-q" || name == "--quiet") {
      flag();
      o.quiet = true;
    } else if (name == "-m" || name == "--model") {
      o.model = path();
      o.model_given = true;
    } else if (name == "--json") {
      o.json_path = path();
    } else if (name == "--coco-results") {
      o.coco_results_path = path();
    } else if (name == "--coco-ann") {
      o.coco_ann_path = path();
    } else if (name == "--draw") {
      o.draw_dir = path();
    } else if (name == "--title") {
      o.title = value();
    } else if (name == "--dump") {
      o.dump_dir = path();
    } else if (name == "--score-thr") {
      o.score_thr = ParseFloat(name, value(), 0.f, 1.f);
    } else if (name == "--nms-thr") {
      o.nms_thr = ParseFloat(name, value(), 0.f, 1.f);
    } else if (name == "--kpt-thr") {
      o.kpt_thr = ParseFloat(name, value(), 0.f, 1.f);
    } else if (name == "--threads") {
      o.threads = static_cast<int>(ParseInt(name, value(), 1, 1024));
    } else if (name == "--precision") {
      o.precision = value();
      if (o.precision != "f32" && o.precision != "f64") {
        throw UsageError{"--precision: expected f32 or f64, got '" + o.precision + "'"};
      }
    } else if (name == "--input-size") {
      const std::string v = value();
      const size_t x = v.find('x');
      if (x == std::string::npos) {
        throw UsageError{"--input-size: expected WxH (e.g. 640x480), got '" + v + "'"};
      }
      o.input_w = static_cast<int>(ParseInt(name, v.substr(0, x), 32, 8192));
      o.input_h = static_cast<int>(ParseInt(name, v.substr(x + 1), 32, 8192));
      if (o.input_w % 32 || o.input_h % 32) {
        throw UsageError{"--input-size: both sides must be multiples of 32, got '" + v + "'"};
      }
    } else if (name == "--trace") {
      flag();
      o.trace = true;
    } else if (name == "--max-pixels") {
      o.max_pixels = static_cast<std::size_t>(
          ParseInt(name, value(), 1, std::numeric_limits<long long>::max()));
    } else if (ParseVideoOption(name, value, flag, &o.video)) {
      // a video option (rtmo/cli/video_args.cc)
    } else {
      throw UsageError{"unknown option '" + a + "'"};
    }
  }
  if (!o.help && !o.version) {
    if (o.inputs.empty()) throw UsageError{"no INPUT given"};
    if (!o.coco_ann_path.empty() && o.coco_results_path.empty()) {
      throw UsageError{"--coco-ann only makes sense with --coco-results"};
    }
    if (o.json_path == "-" && o.coco_results_path == "-") {
      throw UsageError{"--json - and --coco-results - cannot both write to standard output"};
    }
    // A common slip: "--draw out.png photo.jpg". --draw/--dump name directories (each drawing
    // keeps its input's name); without this check a directory called "out.png" appears.
    for (const auto& [opt, dir] : {std::pair<const char*, const std::string&>{"--draw", o.draw_dir},
                                   {"--dump", o.dump_dir}}) {
      std::error_code ec;
      if (HasImageExtension(dir) && !std::filesystem::is_directory(dir, ec)) {
        throw UsageError{std::string(opt) + " takes a directory (each output keeps its input's " +
                         "name), got '" + dir + "', which looks like an image file name"};
      }
    }
  }
  return o;
}

std::string UsageText() {
  return std::string(R"(usage: rtmo [options] INPUT...
       rtmo fetch NAME...    (download + convert official models into the cache; --help)
       rtmo eval --ann ANN.json --results RES.json [...]   (COCO keypoint AP; see rtmo eval --help)

Multi-person pose estimation with RTMO. INPUT is an image file (JPEG, PNG, BMP) or a
directory, searched recursively for *.jpg *.jpeg *.png *.bmp (sorted by path).

options:
  -m, --model SPEC      a .rtmo file, an official .pth (converted once into the model
                        cache) or a model name: rtmo-t, rtmo-s, rtmo-m, rtmo-l (body7),
                        rtmo-{s,m,l}-coco, rtmo-{s,m,l}-crowdpose, rtmo-l-body7-crowdpose,
                        downloaded on first use into $RTMO_HOME (default ~/.cache/rtmo; see
                        rtmo fetch --help). Default: rtmo-s (weights/rtmo-s.rtmo if present)
  --json FILE           write {"model":..., "images":[{"file","width","height","people":[...]}],
                        "errors":[...], "interrupted":false}; FILE - writes to standard output
  --coco-results FILE   write COCO keypoint results [{"image_id","category_id","keypoints",
                        "score","bbox"}] for rtmo eval / pycocotools (- : standard output)
  --coco-ann FILE       take image ids from this COCO annotation file (matched by file_name);
                        without it, ids are the numeric file names (000000000785.jpg -> 785)
  --draw DIR            write each image with boxes and skeletons into DIR (DIR is never
                        searched for inputs)
  --overwrite           allow replacing existing files that are not rtmo outputs (inputs
                        are never replaced)
  --kpt-thr T           draw keypoints with score >= T (default 0.3)
  --title TEXT          write TEXT in the top-left corner of every drawing
  --score-thr T         keep people with score > T (default 0.1)
  --nms-thr T           suppress boxes overlapping a better one with IoU > T (default 0.65)
  --threads N           threads (default: OMP_NUM_THREADS, else all cores; results do not
                        depend on N)
  --dump DIR            write every module's output as .npy into DIR/<image>/ (for comparing
                        with the PyTorch reference, see tools/compare_dumps.py)
  --precision P         f32 (default) or f64: the float64 verification path, equal to the
                        PyTorch reference run in float64 to 1e-10 (slow: seconds per image);
                        --dump then writes float64 .npy, --json 17 significant digits
  --input-size WxH      network input size, multiples of 32 (default: the model's, 640x640
                        or 416x416 for rtmo-t)
  --trace               print every module's output (name, shape, min/mean/max) to stderr
  --max-pixels N        refuse images with more than N pixels, before decoding them
                        (default 67108864)
  -q, --quiet           no progress bar and no summary
  --version             print the version and exit
  -h, --help            print this help and exit

Files: outputs are written to a temporary file and renamed into place when complete. An
output that is an input, a --json/--coco-results name with an image extension, and an
existing file that is not an rtmo output (an rtmo JSON document, COCO results array or
marked drawing) without --overwrite are refused before any image is processed.
Ctrl-C (SIGINT) or SIGTERM: the current image finishes, the outputs are completed with the
images done so far (--json says "interrupted": true) and rtmo exits; a second signal
abandons the outputs (no partial file is left).

Exit status: 0 all inputs processed; 1 an input or output failed (the others were still
processed), an output was refused, or the model could not be loaded; 2 bad command line;
130 interrupted by SIGINT, 143 by SIGTERM.
)") + VideoUsageText();
}

}  // namespace rtmo::cli
