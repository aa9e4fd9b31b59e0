// rtmo.cpp public API: read this header first.
//
//   #include "rtmo/rtmo.h"
//   rtmo::Model model = rtmo::Model::Load("rtmo-s");   // a name, a .rtmo or a .pth (below)
//   rtmo::Image img = rtmo::LoadImage("people.jpg");                // BGR, as cv2.imread
//   for (const rtmo::Person& p : model.Predict(img)) { ... p.bbox, p.score, p.keypoints ... }
//
// Every failure (unreadable file, bad weights, bad image, bad option) throws rtmo::Error with
// a message that names the file and what was wrong. Predict() is const and safe to call from
// several threads on one Model; its results do not depend on the thread count.
//
// Two precisions: float32 (the default, fast: Highway SIMD kernels) and float64 (an
// independent implementation over Eigen, for exact verification against PyTorch run in
// float64; see README "How it is verified").
#ifndef RTMO_RTMO_H_
#define RTMO_RTMO_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rtmo/error.h"

namespace rtmo {

// ---- Version -----------------------------------------------------------------------------

inline constexpr int kVersionMajor = 0;
inline constexpr int kVersionMinor = 2;
inline constexpr int kVersionPatch = 0;
// "0.2.0": the library's semantic version (the `rtmo --version` of the same build).
const char* Version();
// The .rtmo format versions Model::Load reads (weights/FORMAT.md): 1 (no checksums) and 2
// (the converter's, with CRC-32s).
inline constexpr int kWeightsFormatMin = 1;
inline constexpr int kWeightsFormatMax = 2;

// ---- Images ------------------------------------------------------------------------------

// A decoded image: height x width x 3, interleaved BGR uint8 (OpenCV's order).
struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> bgr;  // size height * width * 3
};

// Decodes JPEG/PNG/BMP like cv2.imread(path, IMREAD_COLOR): grey and RGBA become BGR,
// EXIF orientation applied. Refuses images above max_pixels before decoding them.
inline constexpr size_t kDefaultMaxPixels = size_t{64} << 20;  // 64 Mpx
Image LoadImage(const std::string& path, size_t max_pixels = kDefaultMaxPixels);
// The same decoder on bytes held in memory; `name` only appears in error messages.
Image DecodeImage(const uint8_t* data, size_t size, const std::string& name = "<memory>",
                  size_t max_pixels = kDefaultMaxPixels);
// Encodes an image as "png" or "jpg" (quality 1..100) bytes / into a file (format from the
// extension: .png, .jpg, .jpeg). Throws rtmo::Error naming the file on failure.
std::vector<uint8_t> EncodeImage(const Image& image, std::string_view format, int quality = 95);
void SaveImage(const std::string& path, const Image& image, int quality = 95);

// ---- Results -----------------------------------------------------------------------------

// Coordinates are image pixels. Values are double so that a float64 model's results keep
// all their digits; a float32 model's values are float32 numbers (exactly representable).
struct Keypoint {
  double x = 0, y = 0;  // may lie outside the image
  double score = 0;     // sigmoid of the visibility logit
};

struct Person {
  std::array<double, 4> bbox{};     // x1, y1, x2, y2, clamped to the letterboxed area
  double score = 0;                 // sigmoid of the classification logit
  std::vector<Keypoint> keypoints;  // num_keypoints entries (17 for COCO, 14 for CrowdPose)
  int track_id = -1;                // set by rtmo::Tracker (rtmo/video/tracker.h); -1 = untracked
};

// Keypoint names in model order: COCO-17 ("nose", "left_eye", ...) for 17, CrowdPose-14 for
// 14; empty for other counts.
std::span<const char* const> KeypointNames(int num_keypoints);

// A skeleton link between keypoints a and b, with its colour (RGB) as mmpose's dataset
// metainfo lists it (configs/_base_/datasets/coco.py, crowdpose.py).
struct SkeletonLink {
  int a = 0, b = 0;
  std::array<uint8_t, 3> rgb{};
};
std::span<const SkeletonLink> Skeleton(int num_keypoints);

// ---- Drawing -----------------------------------------------------------------------------

struct DrawOptions {
  double kpt_thr = 0.3;   // mmpose visualizer default: draw keypoints/links scoring >= kpt_thr
  bool boxes = true;      // person boxes (green, as mmpose)
  bool track_ids = true;  // "#id" above the box of tracked people (track_id >= 0)
  std::string title;      // optional caption in the top-left corner (printable ASCII)
};
// Draws every person onto `image` in place (boxes, then links, then keypoints, as mmpose's
// PoseLocalVisualizer; anti-aliased; sizes scale with the image).
void Draw(Image* image, const std::vector<Person>& people, const DrawOptions& options = {});

// ---- Observing the pipeline --------------------------------------------------------------

enum class ElemType { kF32, kF64, kI64 };

// One module's output as the pipeline produces it: a row-major tensor valid only during the
// Observer call. Names are those of `--dump` and of tools/reference (README "Dump names"),
// e.g. "input" [1,3,H,W], "backbone.stage2" [1,C,H/8,W/8], "dcc.x_logits" [N,K,Bx].
struct TensorView {
  std::string_view name;
  ElemType type = ElemType::kF32;  // kF64 on a float64 model (indices are always kI64)
  const void* data = nullptr;
  std::vector<int64_t> shape;
  size_t numel() const;
};

// Receives every module output in pipeline order (the order tools/reference computes
// them), on the thread that called Predict. Used for --dump, --trace, timing and the
// Python module's forward(). The pipeline does no extra work when no observer is given.
class Observer {
 public:
  virtual ~Observer() = default;
  virtual void OnTensor(const TensorView& tensor) = 0;
};

// ---- The model ---------------------------------------------------------------------------

enum class Precision { kF32, kF64 };
// "f32" / "f64".
std::string_view PrecisionName(Precision precision);
// "f32"/"float32" -> kF32, "f64"/"float64" -> kF64; anything else throws rtmo::Error listing
// the accepted names.
Precision ParsePrecision(std::string_view name);

// Chosen once per model.
struct ModelOptions {
  Precision precision = Precision::kF32;
  // Threads per Predict call (0: OpenMP's default, i.e. omp_get_max_threads() of the
  // calling thread, so OMP_NUM_THREADS applies). The float32 path runs on the kernels' own
  // pool (kernels/parallel.h), the float64 path on OpenMP. Applied inside the call only: the
  // caller's OpenMP settings are left unchanged.
  int threads = 0;
  // Network input size; 0 = the checkpoint's (640x640, 416x416 for rtmo-t). Other sizes
  // must be positive multiples of 32 (mmpose allows any such size through its config).
  int input_width = 0, input_height = 0;
  // Defaults for every Predict call; the official test_cfg values.
  double score_thr = 0.1;  // keep cells with score > score_thr (strict)
  double nms_thr = 0.65;   // suppress boxes with IoU > nms_thr (strict)
};

// Per call; unset fields take the model's options.
struct PredictOptions {
  std::optional<double> score_thr;
  std::optional<double> nms_thr;
  std::optional<int> threads;
  Observer* observer = nullptr;  // every module output, in order (not owned)
  std::string dump_dir;          // if set: every module's output as .npy, + predictions.json
  std::string dump_file;         // the "file" field of dump_dir/predictions.json
};

// What a loaded model is.
struct ModelInfo {
  std::string path;     // the weights file
  std::string variant;  // "t", "s", "m", "l"
  std::string dataset;  // "body7", "coco", "crowdpose" (may be empty)
  int num_keypoints = 17;
  int input_width = 0, input_height = 0;  // the network input size in use
  Precision precision = Precision::kF32;
  int weights_version = 0;  // .rtmo format version of the file
  std::string summary;      // one line, e.g. "rtmo-s body7 640x640 17 keypoints f32"
};

// The network input for an image, exactly as Predict builds it (the official BottomupResize
// letterbox, bit-identical to cv2.warpAffine): feed it to a PyTorch model to compare.
struct NetworkInput {
  int width = 0, height = 0;
  std::vector<float> chw;          // [1, 3, height, width] float32 BGR 0..255
  std::array<double, 6> matrix{};  // 2x3 row-major affine map image -> network input
};

// ---- Models by name ----------------------------------------------------------------------

// What Model::Load (and `rtmo --model`) accept, resolved to a .rtmo file that exists:
//   "path/x.rtmo"  the file itself;
//   "path/x.pth"   an official mmpose checkpoint, converted on first use into
//                  $RTMO_HOME/x-P.rtmo (P: sha256 prefix of its absolute path; again
//                  when the .pth is newer) by
//                  tools/convert_checkpoint.py run with python3 (standard library only);
//   a name         ModelNames(): rtmo-t/s/m/l (body7), rtmo-s/m/l-coco, rtmo-s/m/l-crowdpose,
//                  rtmo-l-body7-crowdpose, read from $RTMO_HOME/<name>.rtmo; when missing,
//                  the official checkpoint is downloaded with curl (or wget) into
//                  $RTMO_HOME, its sha256 checked against the prefix in its file name, and
//                  converted (progress lines on stderr).
// RTMO_HOME defaults to $XDG_CACHE_HOME/rtmo, else ~/.cache/rtmo. Environment overrides:
// RTMO_WEIGHTS_BASE_URL (a mirror), RTMO_OFFLINE=1 (never download), RTMO_PYTHON,
// RTMO_CONVERTER (see rtmo/io/model_files.h). Files appear atomically (temporary name +
// rename); an existing file is never replaced by a different one. Throws rtmo::Error; when
// a download cannot happen, the message names the URL and the exact cache path to put the
// file at.
std::string ResolveModel(const std::string& spec);
// The official model names, in the order of the model zoo table ("rtmo-t", "rtmo-s", ...).
std::vector<std::string> ModelNames();

class Model {
 public:
  // Opens a model (spec: ResolveModel above: a .rtmo path, a .pth path or a name such as
  // "rtmo-s"), validates every tensor of the .rtmo file (weights/FORMAT.md) and prepares the
  // network in the requested precision. Throws rtmo::Error naming the file, tensor or field.
  // info().path is the resolved .rtmo file.
  static Model Load(const std::string& spec, const ModelOptions& options = {});

  // People in the official output order (descending score after NMS).
  std::vector<Person> Predict(const Image& image, const PredictOptions& options = {}) const;
  // Several images; the same results as calling Predict on each in turn.
  std::vector<std::vector<Person>> Predict(std::span<const Image> images,
                                           const PredictOptions& options = {}) const;

  NetworkInput Letterbox(const Image& image) const;

  // Every name an Observer receives, in order (for a Predict that keeps at least one person).
  std::vector<std::string> TensorNames() const;

  const ModelInfo& info() const;
  const ModelOptions& options() const;

  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  ~Model();

  struct Impl;                                 // defined in rtmo/model.cc
  const Impl& impl() const { return *impl_; }  // internal (tests, tools)

 private:
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rtmo

#endif  // RTMO_RTMO_H_
