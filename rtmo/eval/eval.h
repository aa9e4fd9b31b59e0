// COCO keypoint evaluation (OKS-based AP/AR), reproducing pycocotools'
// COCOeval(iouType='keypoints') + COCO.loadRes, so published numbers (e.g. RTMO-s body7: 68.6
// AP on COCO val2017) can be checked without Python.
//
// Semantics follow pycocotools 2.0 (cocoapi PythonAPI/pycocotools/{coco,cocoeval}.py):
//  * OKS = mean over the GT's labelled keypoints (v > 0) of exp(-d^2 / (2 * (area + eps) *
//    (2 * sigma)^2)); a GT without labelled keypoints uses the distance of each detected
//    keypoint to the GT box grown to [x - w, x + 2w] x [y - h, y + 2h], over all keypoints.
//  * a GT is ignored when iscrowd or num_keypoints == 0 (the `ignore` field is overwritten
//    by pycocotools, so it has no effect here either); crowd GTs can absorb many detections.
//  * per image: detections stably sorted by score, top max_dets (20) kept; greedy matching per
//    OKS threshold np.linspace(.5, .95, 10); area ranges all / medium / large.
//  * accumulation: stable sort over all images, 101 recall points, precision envelope,
//    -1 for categories without non-ignored GTs; means as numpy computes them (pairwise sums).
//  * results: area and box from the keypoint extents (or w*h of "bbox" when the first result
//    has one, as loadRes does), ids 1..N in file order.
// Deviations (all on inputs pycocotools would crash on or silently misuse): malformed or
// mismatching files (unknown image/category ids, wrong keypoint counts, duplicate ids,
// non-finite numbers) raise rtmo::Error naming the file and the field; an empty result list
// evaluates to zeros instead of an IndexError.
#ifndef RTMO_EVAL_H_
#define RTMO_EVAL_H_

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rtmo {

// COCO-17 per-keypoint OKS sigmas times 10 (pycocotools cocoeval.py Params.setKpParams:
// `np.array([.26, .25, ...]) / 10.0`); the division is kept so the doubles are identical.
inline constexpr std::array<double, 17> kCocoSigmasTimes10 = {
    .26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89};

// kCocoSigmasTimes10[i] / 10.0 -> 17 sigmas.
std::vector<double> CocoSigmas();

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

// det keypoints [K*3], gt, sigmas [K] -> OKS in [0, 1] exactly as pycocotools computeOks.
double ComputeOks(std::span<const double> det_keypoints, const GroundTruth& gt,
                  std::span<const double> sigmas);

struct EvalParams {
  std::vector<double> sigmas;  // [K]; empty: COCO-17 (then K must be 17)
  int max_dets = 20;           // pycocotools Params.setKpParams: maxDets = [20]
};

// Names of the 10 summary numbers, in pycocotools' order.
inline constexpr std::array<const char*, 10> kStatNames = {"AP", "AP50", "AP75", "APm", "APl",
                                                           "AR", "AR50", "AR75", "ARm", "ARl"};

struct KeypointEvalResult {
  std::array<double, 10> stats{};         // kStatNames order; -1 where undefined
  std::vector<double> iou_thresholds;     // [T] = 10
  std::vector<double> recall_thresholds;  // [R] = 101
  int num_categories = 0;                 // K_cat
  // [T, R, K_cat, A] row-major, A = {all, medium, large}; -1 where the category has no
  // non-ignored GT in that area range.
  std::vector<double> precision;
  std::vector<double> recall;  // [T, K_cat, A]
  int64_t num_images = 0;
  int64_t num_detections = 0;  // after the per-image top-max_dets cut
  int max_dets = 20;
};

// dataset + detections -> the 10 numbers (and the precision/recall tables).
KeypointEvalResult EvaluateKeypoints(const KeypointDataset& gt, const std::vector<Detection>& dets,
                                     const EvalParams& params = {});

// result -> the 10 lines pycocotools' summarize() prints, each ending in '\n'.
std::string FormatSummary(const KeypointEvalResult& result);

// result -> a JSON object {"stats": {"AP": ...}, ...} (full double precision).
std::string SummaryJson(const KeypointEvalResult& result, const std::string& ann_path,
                        const std::string& results_path);

// `eval` subcommand: args after the word `eval` (--ann A --results R [--json OUT]
// [--sigmas s1,...,sK]) -> exit code (0 ok, 1 bad input file, 2 bad command line).
int RunEvalCommand(const std::vector<std::string>& args);
// Same, from main's argv (argv[0] is the program name).
int RunEvalCommand(int argc, char** argv);

}  // namespace rtmo

#endif  // RTMO_EVAL_H_
