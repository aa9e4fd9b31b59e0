// rtmo.cpp public API: read this header first.
//
//   #include "rtmo/rtmo.h"
//   rtmo::Model model = rtmo::Model::Load("weights/rtmo-s.rtmo");   // validates everything
//   rtmo::Image img = rtmo::LoadImage("people.jpg");                // BGR, as cv2.imread
//   for (const rtmo::Person& p : model.Predict(img)) { ... p.bbox, p.score, p.keypoints ... }
//
// Every failure (unreadable file, bad weights, bad image) throws rtmo::Error with a message
// that names the file and what was wrong. Predict() is const and safe to call from several
// threads on one Model; results do not depend on the thread count.
#ifndef RTMO_RTMO_H_
#define RTMO_RTMO_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rtmo/io/config.h"
#include "rtmo/error.h"

namespace rtmo {

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

struct Keypoint {
  float x = 0, y = 0;  // image pixels (may lie outside the image)
  float score = 0;     // sigmoid of the visibility logit
};

struct Person {
  std::array<float, 4> bbox{};       // x1, y1, x2, y2 in image pixels
  float score = 0;                   // sigmoid of the classification logit
  std::vector<Keypoint> keypoints;   // config().num_keypoints entries (17 for COCO)
};

// Test-time options; defaults are the official test_cfg (score_thr 0.1, nms_thr 0.65).
struct PredictOptions {
  float score_thr = 0.1f;  // keep cells with score > score_thr (strict)
  float nms_thr = 0.65f;   // suppress boxes with IoU > nms_thr (strict)
  std::string dump_dir;    // if set: write every module's output as .npy (see README)
  std::string dump_file;   // the "file" field of dump_dir/predictions.json (e.g. the image name)
};

class Model {
 public:
  // Opens a .rtmo weights file (weights/FORMAT.md), validates every tensor and folds
  // BatchNorm. Throws rtmo::Error naming the file, tensor or field on any problem.
  static Model Load(const std::string& path);

  // People in the official output order (descending score after NMS).
  std::vector<Person> Predict(const Image& image, const PredictOptions& options = {}) const;

  const ModelConfig& config() const;

  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  ~Model();

  struct Impl;  // defined in rtmo/model.cc

 private:
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rtmo

#endif  // RTMO_RTMO_H_
