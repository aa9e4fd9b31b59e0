// COCO keypoint evaluation (OKS-based AP/AR), reproducing pycocotools'
// COCOeval(iouType='keypoints'), so published numbers (e.g. RTMO-s body7: 68.6 AP on COCO
// val2017) can be checked without Python. The files are read by rtmo/eval/coco_json.h
// (COCO() + COCO.loadRes).
//
// Semantics follow pycocotools 2.0 (cocoapi PythonAPI/pycocotools/cocoeval.py):
//  * OKS = mean over the GT's labelled keypoints (v > 0) of exp(-d^2 / (2 * (area + eps) *
//    (2 * sigma)^2)); a GT without labelled keypoints uses the distance of each detected
//    keypoint to the GT box grown to [x - w, x + 2w] x [y - h, y + 2h], over all keypoints.
//  * a GT is ignored when iscrowd or num_keypoints == 0 (the `ignore` field is overwritten
//    by pycocotools, so it has no effect here either); crowd GTs can absorb many detections.
//  * per image: detections stably sorted by score, top max_dets (20) kept; greedy matching per
//    OKS threshold np.linspace(.5, .95, 10); area ranges all / medium / large.
//  * accumulation: stable sort over all images, 101 recall points, precision envelope,
//    -1 for categories without non-ignored GTs; means as numpy computes them (pairwise sums).
// Deviation: an empty result list evaluates to zeros instead of pycocotools' IndexError.
#ifndef RTMO_EVAL_COCOEVAL_H_
#define RTMO_EVAL_COCOEVAL_H_

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "rtmo/eval/coco_json.h"

namespace rtmo {

// COCO-17 per-keypoint OKS sigmas times 10 (pycocotools cocoeval.py Params.setKpParams:
// `np.array([.26, .25, ...]) / 10.0`); the division is kept so the doubles are identical.
inline constexpr std::array<double, 17> kCocoSigmasTimes10 = {
    .26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89};

// kCocoSigmasTimes10[i] / 10.0 -> 17 sigmas.
std::vector<double> CocoSigmas();

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

}  // namespace rtmo

#endif  // RTMO_EVAL_COCOEVAL_H_
