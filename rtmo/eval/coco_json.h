// Reading COCO keypoint files as pycocotools does (cocoapi PythonAPI/pycocotools/coco.py:
// COCO() for annotations, COCO.loadRes for a results list), with the fields keypoint
// evaluation uses (rtmo/eval/cocoeval.h evaluates them).
//  * a GT's `num_keypoints` and `area` are the file's fields (not recomputed).
//  * results: area and box from the keypoint extents (or w*h of "bbox" when the first result
//    has one, as loadRes does), ids 1..N in file order.
// Deviations (all on inputs pycocotools would crash on or silently misuse): malformed or
// mismatching files (unknown image/category ids, wrong keypoint counts, duplicate ids,
// non-finite numbers) raise rtmo::Error naming the file and the field.
// Both readers are streaming (SAX): a val2017 results file holds ~5M numbers.
#ifndef RTMO_EVAL_COCO_JSON_H_
#define RTMO_EVAL_COCO_JSON_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rtmo {

// One ground-truth annotation (fields as in person_keypoints_*.json).
struct GroundTruth {
  int64_t id = 0;
  int64_t image_id = 0;
  int64_t category_id = 0;
  bool iscrowd = false;
  int64_t num_keypoints = 0;  // the file's field: decides `ignore`; not recounted from v
  double area = 0;            // the file's field (segmentation area), used by OKS and ranges
  std::array<double, 4> bbox{};
  std::vector<double> keypoints;  // [K * 3]: x, y, v
};

// A keypoint annotation file.
struct KeypointDataset {
  std::string path;                      // for error messages
  int num_keypoints = 0;                 // K, from categories[].keypoints
  std::vector<int64_t> image_ids;        // sorted, unique
  std::vector<int64_t> category_ids;     // sorted, unique
  std::vector<GroundTruth> annotations;  // file order
};

// One detection of a results file after loadRes.
struct Detection {
  int64_t id = 0;  // 1-based position in the results file
  int64_t image_id = 0;
  int64_t category_id = 0;
  double score = 0;
  double area = 0;                // loadRes: keypoint-extent box area, or bbox w*h
  std::vector<double> keypoints;  // [K * 3]: x, y, score
};

// json text of a COCO keypoint annotation file -> dataset; `name` labels errors.
KeypointDataset ParseKeypointDataset(std::string_view json_text, const std::string& name);
KeypointDataset LoadKeypointDataset(const std::string& path);

// json text of a COCO results list -> detections, validated against `gt` (image ids,
// category ids, K). Throws rtmo::Error naming `name` and the field.
std::vector<Detection> ParseKeypointResults(std::string_view json_text, const std::string& name,
                                            const KeypointDataset& gt);
std::vector<Detection> LoadKeypointResults(const std::string& path, const KeypointDataset& gt);

}  // namespace rtmo

#endif  // RTMO_EVAL_COCO_JSON_H_
