// The test-time steps of RTMOHead.predict (mmpose/models/heads/hybrid_heads/rtmo_head.py:
// 889-1014) around the DCC, each a function named after the official one:
//   SelectCandidates  sigmoid, strict score filter, descending sort (misc.py:54
//                     filter_scores_and_topk) with DecodeBox at each cell's prior
//   Nms               greedy class-agnostic NMS (evaluation/functional/nms.py nms_torch)
//   BboxXyxy2Cs       the DCC's box: centre and padded size (structures/bbox/transforms.py)
//   MapBack           box clamp to the input (l.1008-1010) and the mapping back to image
//                     pixels (models/pose_estimators/bottomup.py:176-185)
#ifndef RTMO_NET_POSTPROCESS_H_
#define RTMO_NET_POSTPROCESS_H_

#include <array>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "rtmo/io/preprocess.h"
#include "rtmo/net/dcc.h"
#include "rtmo/net/head.h"

namespace rtmo {

// Official defaults: test_cfg in configs/body_2d_keypoint/rtmo/body7/rtmo-s_*.py:531-535.
inline constexpr double kDefaultScoreThr = 0.1;
inline constexpr double kDefaultNmsThr = 0.65;

// A cell that passed the score filter, in network-input pixels.
template <typename T>
struct Candidate {
  int64_t index = 0;        // flattened cell index, level 0 (stride 16) first, row-major
  int level = 0, cell = 0;  // level and y*w + x within it
  T score = 0;              // sigmoid(cls)
  std::array<T, 4> box{};   // decoded x1, y1, x2, y2 (unclamped)
  T prior_x = 0, prior_y = 0;
};

// The prior of cell (row i, column j) at `stride`: (j*s + (s-1)/2, i*s + (s-1)/2)
// (mlvl_point_generator.py:145-147 with centralize_points=True, offset 0).
template <typename T>
std::array<T, 2> CellPrior(int i, int j, int stride);

// yoloxpose_head.py:713-748 decode_bbox: xy = d[:2] * s + prior, wh = exp(d[2:]) * s,
// corners xy -/+ wh / 2. pred: (dx, dy, log w, log h) -> x1, y1, x2, y2.
template <typename T>
std::array<T, 4> DecodeBox(const std::array<T, 4>& pred, const std::array<T, 2>& prior, int stride);

// Cells of both levels with sigmoid(cls) > score_thr (strict), sorted by descending score
// (stable: equal scores keep cell order), boxes decoded. `out` is cleared first.
template <typename T>
void SelectCandidates(const std::array<RTMOHeadMaps<T>, 2>& head, const std::array<int, 2>& strides,
                      T score_thr, std::vector<Candidate<T>>* out);

// Greedy NMS on candidates sorted by descending score: suppress IoU > nms_thr (strict), IoU
// as bbox_overlaps (structures/bbox/bbox_overlaps.py): no +1, union floored at 1e-6.
// keep: positions into `cands`, in output order; `suppressed` is scratch.
template <typename T>
void Nms(const std::vector<Candidate<T>>& cands, T nms_thr, std::vector<int>* keep,
         std::vector<uint8_t>* suppressed);

// bbox_xyxy2cs (structures/bbox/transforms.py:44-73) with padding (rtmo_head.py:705,
// bbox_padding 1.25), plus the cell's prior: the DCC's view of one person.
template <typename T>
DccBox<T> BboxXyxy2Cs(const Candidate<T>& c, double padding);

// A box clamped to the network input (rtmo_head.py:1008-1010) and mapped back to the image,
// and keypoints mapped back (bottomup.py:176-185, float64 as numpy): box and keypoints in
// image pixels.
template <typename T>
std::array<double, 4> MapBackBox(const Letterbox& lb, const std::array<T, 4>& box);

// Network-input point -> image pixels with the letterbox metainfo of T's pipeline: float32
// centre/scale as mmpose's numpy arrays (float), unrounded float64 ones (double).
template <typename T>
std::array<double, 2> MapToImageT(const Letterbox& lb, double x, double y) {
  if constexpr (std::is_same_v<T, double>) {
    return MapToImage64(lb, x, y);
  } else {
    return MapToImage(lb, x, y);
  }
}

}  // namespace rtmo

#endif  // RTMO_NET_POSTPROCESS_H_
