// COCO keypoint evaluation; see cocoeval.h for the semantics and the pycocotools references.
#include "rtmo/eval/cocoeval.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <numeric>
#include <unordered_map>

#include "rtmo/error.h"

namespace rtmo {
namespace {

// pycocotools cocoeval.py Params.setKpParams: iouThrs = np.linspace(.5, 0.95, 10),
// recThrs = np.linspace(.0, 1.00, 101), areaRng = [[0, 1e5**2], [32**2, 96**2],
// [96**2, 1e5**2]] labelled all / medium / large.
constexpr double kIouLo = 0.5, kIouHi = 0.95;
constexpr int kNumIou = 10;
constexpr int kNumRecall = 101;
constexpr int kNumAreas = 3;
constexpr double kAreaRanges[kNumAreas][2] = {
    {0.0, 1e5 * 1e5}, {32.0 * 32.0, 96.0 * 96.0}, {96.0 * 96.0, 1e5 * 1e5}};
constexpr const char* kAreaLabels[kNumAreas] = {"all", "medium", "large"};
// cocoeval.py evaluateImg: `iou = min([t, 1-1e-10])` caps a threshold below a perfect match.
constexpr double kMaxThreshold = 1 - 1e-10;
// np.spacing(1): added to the GT area in computeOks and to tp+fp in accumulate.
constexpr double kSpacing1 = DBL_EPSILON;

// np.linspace(lo, hi, n) exactly as numpy 1.x computes it: i * ((hi - lo) / (n - 1)) + lo,
// last element set to hi. The rounding matters: thresholds are compared with OKS values,
// and summarize() finds 0.5 / 0.75 by equality.
// -> [n]
std::vector<double> NumpyLinspace(double lo, double hi, int n) {
  std::vector<double> y(n);
  const double step = (hi - lo) / (n - 1);
  for (int i = 0; i < n; ++i) y[i] = static_cast<double>(i) * step + lo;
  y[n - 1] = hi;
  return y;
}

// a: [n] -> sum in numpy's pairwise order (umath loops_utils pairwise_sum, blocks of 128 with
// 8 accumulators), so np.sum / np.mean are reproduced to the last bit.
double NumpySum(const double* a, size_t n) {
  if (n < 8) {
    double res = 0.;
    for (size_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j];
    size_t i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (int j = 0; j < 8; ++j) r[j] += a[i + j];
    }
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  size_t n2 = n / 2;
  n2 -= n2 % 8;
  return NumpySum(a, n2) + NumpySum(a + n2, n - n2);
}

// values: [n] -> np.mean(values[values > -1]) or -1 when none (cocoeval.py summarize).
double MeanOfDefined(const std::vector<double>& values) {
  std::vector<double> kept;
  kept.reserve(values.size());
  for (double v : values) {
    if (v > -1) kept.push_back(v);
  }
  if (kept.empty()) return -1;
  return NumpySum(kept.data(), kept.size()) / static_cast<double>(kept.size());
}

}  // namespace

std::vector<double> CocoSigmas() {
  std::vector<double> s(kCocoSigmasTimes10.size());
  for (size_t i = 0; i < s.size(); ++i) s[i] = kCocoSigmasTimes10[i] / 10.0;
  return s;
}

// ---- OKS --------------------------------------------------------------------------------

double ComputeOks(std::span<const double> det_keypoints, const GroundTruth& gt,
                  std::span<const double> sigmas) {
  const size_t k = sigmas.size();
  if (det_keypoints.size() != 3 * k || gt.keypoints.size() != 3 * k) {
    throw Error("ComputeOks: expected " + std::to_string(3 * k) + " keypoint values, found " +
                std::to_string(det_keypoints.size()) + " (detection) and " +
                std::to_string(gt.keypoints.size()) + " (ground truth)");
  }
  const double* g = gt.keypoints.data();
  const double* d = det_keypoints.data();
  size_t visible = 0;
  for (size_t i = 0; i < k; ++i) visible += g[3 * i + 2] > 0;
  // Without labelled keypoints the distance is to the GT box grown to 3x its size
  // (cocoeval.py computeOks: x0 = x - w, x1 = x + 2w), over all K keypoints.
  const double bx0 = gt.bbox[0] - gt.bbox[2], bx1 = gt.bbox[0] + gt.bbox[2] * 2;
  const double by0 = gt.bbox[1] - gt.bbox[3], by1 = gt.bbox[1] + gt.bbox[3] * 2;
  const double area = gt.area + kSpacing1;
  // exp(-e) of the counted keypoints; a stack buffer for the usual K <= 64 (this runs for
  // every detection/GT pair).
  constexpr size_t kStackK = 64;
  double stack_terms[kStackK] = {};
  std::vector<double> heap_terms(k > kStackK ? k : 0);
  double* terms = k > kStackK ? heap_terms.data() : stack_terms;
  size_t num_terms = 0;
  for (size_t i = 0; i < k; ++i) {
    double dx, dy;
    if (visible > 0) {
      if (!(g[3 * i + 2] > 0)) continue;
      dx = d[3 * i] - g[3 * i];
      dy = d[3 * i + 1] - g[3 * i + 1];
    } else {
      dx = std::max(0.0, bx0 - d[3 * i]) + std::max(0.0, d[3 * i] - bx1);
      dy = std::max(0.0, by0 - d[3 * i + 1]) + std::max(0.0, d[3 * i + 1] - by1);
    }
    const double var = (sigmas[i] * 2) * (sigmas[i] * 2);
    // Same operation order as numpy: (dx^2 + dy^2) / vars / (area + eps) / 2.
    const double e = (dx * dx + dy * dy) / var / area / 2;
    terms[num_terms++] = std::exp(-e);
  }
  return NumpySum(terms, num_terms) / static_cast<double>(num_terms);
}

// ---- evaluation -------------------------------------------------------------------------

namespace {

// Per (category, area range): every kept detection of every image, in image order, with its
// outcome at each threshold; the input of accumulate().
struct Pool {
  std::vector<double> scores;                         // [N]
  std::vector<std::array<uint8_t, kNumIou>> per_det;  // [N][T]: an Outcome per threshold
  int64_t num_gt = 0;                                 // non-ignored GTs (npig)
};

enum Outcome : uint8_t { kIgnored = 0, kTruePositive = 1, kFalsePositive = 2 };

}  // namespace

KeypointEvalResult EvaluateKeypoints(const KeypointDataset& gt, const std::vector<Detection>& dets,
                                     const EvalParams& params) {
  const int k = gt.num_keypoints;
  std::vector<double> sigmas = params.sigmas;
  if (sigmas.empty()) {
    if (k != static_cast<int>(kCocoSigmasTimes10.size())) {
      throw Error(gt.path + ": categories[].keypoints: " + std::to_string(k) +
                  " keypoints, but the COCO sigmas cover 17; give per-keypoint sigmas");
    }
    sigmas = CocoSigmas();
  }
  if (static_cast<int>(sigmas.size()) != k) {
    throw Error(gt.path + ": categories[].keypoints: " + std::to_string(k) + " keypoints, but " +
                std::to_string(sigmas.size()) + " sigmas were given");
  }
  if (params.max_dets < 1) throw Error("EvaluateKeypoints: max_dets must be >= 1");

  KeypointEvalResult res;
  res.iou_thresholds = NumpyLinspace(kIouLo, kIouHi, kNumIou);
  res.recall_thresholds = NumpyLinspace(0.0, 1.0, kNumRecall);
  const int num_img = static_cast<int>(gt.image_ids.size());
  const int num_cat = static_cast<int>(gt.category_ids.size());
  res.num_categories = num_cat;
  res.num_images = num_img;
  res.max_dets = params.max_dets;

  // Group GTs and detections per (category, image), keeping file order inside each group.
  std::unordered_map<int64_t, int> img_index, cat_index;
  for (int i = 0; i < num_img; ++i) img_index[gt.image_ids[i]] = i;
  for (int c = 0; c < num_cat; ++c) cat_index[gt.category_ids[c]] = c;
  auto cell = [&](int64_t cat, int64_t img) -> size_t {
    auto ci = cat_index.find(cat);
    auto ii = img_index.find(img);
    if (ci == cat_index.end() || ii == img_index.end()) {
      throw Error("EvaluateKeypoints: image " + std::to_string(img) + " / category " +
                  std::to_string(cat) + " not in " + gt.path);
    }
    return static_cast<size_t>(ci->second) * num_img + ii->second;
  };
  std::vector<std::vector<int>> gts_in(static_cast<size_t>(num_cat) * num_img);
  std::vector<std::vector<int>> dts_in(gts_in.size());
  for (size_t i = 0; i < gt.annotations.size(); ++i) {
    gts_in[cell(gt.annotations[i].category_id, gt.annotations[i].image_id)].push_back(
        static_cast<int>(i));
  }
  for (size_t i = 0; i < dets.size(); ++i) {
    if (dets[i].keypoints.size() != 3 * static_cast<size_t>(k)) {
      throw Error("EvaluateKeypoints: detection " + std::to_string(dets[i].id) + " has " +
                  std::to_string(dets[i].keypoints.size()) + " keypoint values, expected " +
                  std::to_string(3 * k));
    }
    dts_in[cell(dets[i].category_id, dets[i].image_id)].push_back(static_cast<int>(i));
  }

  const int num_t = kNumIou;
  std::vector<double> thr(num_t);
  for (int t = 0; t < num_t; ++t) thr[t] = std::min(res.iou_thresholds[t], kMaxThreshold);

  std::vector<Pool> pools(static_cast<size_t>(num_cat) * kNumAreas);
  std::vector<double> oks;               // [D, G]
  std::vector<int> order;                // GT order for one area range: not ignored first
  std::vector<uint8_t> gt_taken;         // [G]
  std::vector<int64_t> matched_id;       // [T, D]: matched GT id, 0 = none (pycocotools dtm)
  std::vector<uint8_t> matched_ignored;  // [T, D]

  for (int c = 0; c < num_cat; ++c) {
    for (int im = 0; im < num_img; ++im) {
      const std::vector<int>& g_idx = gts_in[static_cast<size_t>(c) * num_img + im];
      std::vector<int> d_idx = dts_in[static_cast<size_t>(c) * num_img + im];
      if (g_idx.empty() && d_idx.empty()) continue;  // evaluateImg returns None
      // Highest score first, ties in file order (np.argsort(-score, kind='mergesort')).
      std::stable_sort(d_idx.begin(), d_idx.end(),
                       [&](int a, int b) { return dets[a].score > dets[b].score; });
      if (d_idx.size() > static_cast<size_t>(params.max_dets)) d_idx.resize(params.max_dets);
      const size_t num_d = d_idx.size(), num_g = g_idx.size();
      res.num_detections += static_cast<int64_t>(num_d);

      oks.assign(num_d * num_g, 0.0);
      for (size_t di = 0; di < num_d; ++di) {
        for (size_t gi = 0; gi < num_g; ++gi) {
          oks[di * num_g + gi] =
              ComputeOks(dets[d_idx[di]].keypoints, gt.annotations[g_idx[gi]], sigmas);
        }
      }

      for (int a = 0; a < kNumAreas; ++a) {
        const double lo = kAreaRanges[a][0], hi = kAreaRanges[a][1];
        // cocoeval.py _prepare: ignore = iscrowd, or (keypoints) num_keypoints == 0;
        // evaluateImg adds GTs outside the area range.
        auto gt_ignored = [&](int gi) {
          const GroundTruth& g = gt.annotations[g_idx[gi]];
          return g.iscrowd || g.num_keypoints == 0 || g.area < lo || g.area > hi;
        };
        order.clear();
        for (size_t gi = 0; gi < num_g; ++gi) {
          if (!gt_ignored(static_cast<int>(gi))) order.push_back(static_cast<int>(gi));
        }
        const size_t num_kept = order.size();
        for (size_t gi = 0; gi < num_g; ++gi) {
          if (gt_ignored(static_cast<int>(gi))) order.push_back(static_cast<int>(gi));
        }
        matched_id.assign(num_t * num_d, 0);
        matched_ignored.assign(num_t * num_d, 0);
        if (num_d > 0 && num_g > 0) {
          for (int t = 0; t < num_t; ++t) {
            gt_taken.assign(num_g, 0);
            for (size_t di = 0; di < num_d; ++di) {
              double best = thr[t];
              int m = -1;  // position in `order`
              for (size_t p = 0; p < num_g; ++p) {
                const GroundTruth& g = gt.annotations[g_idx[order[p]]];
                // A matched non-crowd GT is taken; a crowd GT absorbs any number.
                if (gt_taken[p] && !g.iscrowd) continue;
                // Once matched to a regular GT, never move to an ignored one.
                if (m > -1 && static_cast<size_t>(m) < num_kept && p >= num_kept) break;
                const double v = oks[di * num_g + order[p]];
                if (v < best) continue;  // ties go to the later GT, as in pycocotools
                best = v;
                m = static_cast<int>(p);
              }
              if (m == -1) continue;
              matched_ignored[t * num_d + di] = static_cast<size_t>(m) >= num_kept;
              matched_id[t * num_d + di] = gt.annotations[g_idx[order[m]]].id;
              gt_taken[m] = 1;
            }
          }
        }
        Pool& pool = pools[static_cast<size_t>(c) * kNumAreas + a];
        pool.num_gt += static_cast<int64_t>(num_kept);
        for (size_t di = 0; di < num_d; ++di) {
          const double darea = dets[d_idx[di]].area;
          const bool out_of_range = darea < lo || darea > hi;
          std::array<uint8_t, kNumIou> o{};
          for (int t = 0; t < num_t; ++t) {
            const int64_t id = matched_id[t * num_d + di];
            // pycocotools keeps the GT id in a float matrix and tests it against 0, so a match
            // to a GT whose id is 0 counts as unmatched; reproduced as is.
            bool ignored = matched_ignored[t * num_d + di] || (id == 0 && out_of_range);
            o[t] = ignored ? kIgnored : (id != 0 ? kTruePositive : kFalsePositive);
          }
          pool.scores.push_back(dets[d_idx[di]].score);
          pool.per_det.push_back(o);
        }
      }
    }
  }

  // accumulate(): per (category, area), all images' detections by score (stable over the
  // image-ordered concatenation), cumulative TP/FP, recall and enveloped precision sampled at
  // the 101 recall thresholds.
  const int num_r = kNumRecall;
  res.precision.assign(static_cast<size_t>(num_t) * num_r * num_cat * kNumAreas, -1.0);
  res.recall.assign(static_cast<size_t>(num_t) * num_cat * kNumAreas, -1.0);
  std::vector<size_t> rank;
  std::vector<double> rc, pr;
  for (int c = 0; c < num_cat; ++c) {
    for (int a = 0; a < kNumAreas; ++a) {
      const Pool& pool = pools[static_cast<size_t>(c) * kNumAreas + a];
      if (pool.num_gt == 0) continue;
      const size_t n = pool.scores.size();
      rank.resize(n);
      std::iota(rank.begin(), rank.end(), size_t{0});
      std::stable_sort(rank.begin(), rank.end(),
                       [&](size_t x, size_t y) { return pool.scores[x] > pool.scores[y]; });
      const double npig = static_cast<double>(pool.num_gt);
      for (int t = 0; t < num_t; ++t) {
        rc.resize(n);
        pr.resize(n);
        double tp = 0, fp = 0;
        for (size_t i = 0; i < n; ++i) {
          const uint8_t o = pool.per_det[rank[i]][t];
          tp += o == kTruePositive;
          fp += o == kFalsePositive;
          rc[i] = tp / npig;
          pr[i] = tp / (fp + tp + kSpacing1);
        }
        const size_t rec_at = (static_cast<size_t>(t) * num_cat + c) * kNumAreas + a;
        res.recall[rec_at] = n ? rc[n - 1] : 0.0;
        // Precision envelope: make it non-increasing in recall.
        for (size_t i = n; i-- > 1;) {
          if (pr[i] > pr[i - 1]) pr[i - 1] = pr[i];
        }
        for (int r = 0; r < num_r; ++r) {
          // np.searchsorted(rc, recThr, side='left'); past the end -> precision 0.
          const size_t idx = static_cast<size_t>(
              std::lower_bound(rc.begin(), rc.end(), res.recall_thresholds[r]) - rc.begin());
          const size_t at = ((static_cast<size_t>(t) * num_r + r) * num_cat + c) * kNumAreas + a;
          res.precision[at] = idx < n ? pr[idx] : 0.0;
        }
      }
    }
  }

  // summarize(): means over defined entries, numpy's element order (T, R, K).
  auto t_index = [&](double v) {
    for (int t = 0; t < num_t; ++t) {
      if (res.iou_thresholds[t] == v) return t;
    }
    return -1;  // summarize would select nothing and report -1
  };
  auto ap = [&](int only_t, int a) {
    std::vector<double> v;
    for (int t = 0; t < num_t; ++t) {
      if (only_t == -2 || t == only_t) {
        for (int r = 0; r < num_r; ++r) {
          for (int c = 0; c < num_cat; ++c) {
            v.push_back(
                res.precision[((static_cast<size_t>(t) * num_r + r) * num_cat + c) * kNumAreas +
                              a]);
          }
        }
      }
    }
    return MeanOfDefined(v);
  };
  auto ar = [&](int only_t, int a) {
    std::vector<double> v;
    for (int t = 0; t < num_t; ++t) {
      if (only_t == -2 || t == only_t) {
        for (int c = 0; c < num_cat; ++c) {
          v.push_back(res.recall[(static_cast<size_t>(t) * num_cat + c) * kNumAreas + a]);
        }
      }
    }
    return MeanOfDefined(v);
  };
  const int all = -2, t50 = t_index(0.5), t75 = t_index(0.75);
  res.stats = {ap(all, 0), ap(t50, 0), ap(t75, 0), ap(all, 1), ap(all, 2),
               ar(all, 0), ar(t50, 0), ar(t75, 0), ar(all, 1), ar(all, 2)};
  return res;
}

// ---- output -----------------------------------------------------------------------------

std::string FormatSummary(const KeypointEvalResult& result) {
  // cocoeval.py summarize: ' {:<18} {} @[ IoU={:<9} | area={:>6s} | maxDets={:>3d} ] = {:0.3f}'
  struct Line {
    bool ap;
    const char* iou;
    int area;
  };
  static constexpr Line kLines[10] = {
      {true, "0.50:0.95", 0},  {true, "0.50", 0},       {true, "0.75", 0},  {true, "0.50:0.95", 1},
      {true, "0.50:0.95", 2},  {false, "0.50:0.95", 0}, {false, "0.50", 0}, {false, "0.75", 0},
      {false, "0.50:0.95", 1}, {false, "0.50:0.95", 2}};
  std::string out;
  char buf[160];
  for (int i = 0; i < 10; ++i) {
    const Line& l = kLines[i];
    std::snprintf(buf, sizeof(buf), " %-18s %s @[ IoU=%-9s | area=%6s | maxDets=%3d ] = %0.3f\n",
                  l.ap ? "Average Precision" : "Average Recall", l.ap ? "(AP)" : "(AR)", l.iou,
                  kAreaLabels[l.area], result.max_dets, result.stats[i]);
    out += buf;
  }
  return out;
}

std::string SummaryJson(const KeypointEvalResult& result, const std::string& ann_path,
                        const std::string& results_path) {
  nlohmann::ordered_json j;
  j["annotations"] = ann_path;
  j["results"] = results_path;
  j["num_images"] = result.num_images;
  j["num_categories"] = result.num_categories;
  j["num_detections"] = result.num_detections;
  j["max_dets"] = result.max_dets;
  nlohmann::ordered_json stats = nlohmann::ordered_json::object();
  for (size_t i = 0; i < kStatNames.size(); ++i) stats[kStatNames[i]] = result.stats[i];
  j["stats"] = stats;
  j["iou_thresholds"] = result.iou_thresholds;
  return j.dump(2) + "\n";
}

}  // namespace rtmo
