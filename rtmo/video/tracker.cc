#include "rtmo/video/tracker.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>

#include "rtmo/error.h"

namespace rtmo {
namespace {

// Per-keypoint OKS sigmas: COCO (pycocotools cocoeval.py kpt_oks_sigmas) and CrowdPose
// (crowdposetools); a uniform value for other layouts.
constexpr double kCocoSigmas[17] = {.026, .025, .025, .035, .035, .079, .079, .072, .072,
                                    .062, .062, .107, .107, .087, .087, .089, .089};
constexpr double kCrowdPoseSigmas[14] = {.079, .079, .072, .072, .062, .062, .107,
                                         .107, .087, .087, .089, .089, .079, .079};
constexpr double kDefaultSigma = 0.079;

double Sigma(size_t n, size_t k) {
  if (n == 17) return kCocoSigmas[k];
  if (n == 14) return kCrowdPoseSigmas[k];
  return kDefaultSigma;
}

// One candidate association.
struct Pair {
  double sim;
  size_t track, det;  // indices into tracks_ (creation order) and people
};

}  // namespace

double BoxIoU(const std::array<double, 4>& a, const std::array<double, 4>& b) {
  const double iw = std::min(a[2], b[2]) - std::max(a[0], b[0]);
  const double ih = std::min(a[3], b[3]) - std::max(a[1], b[1]);
  if (iw <= 0 || ih <= 0) return 0.0;
  const double inter = iw * ih;
  const double area_a = (a[2] - a[0]) * (a[3] - a[1]);
  const double area_b = (b[2] - b[0]) * (b[3] - b[1]);
  const double uni = area_a + area_b - inter;
  return uni > 0 ? inter / uni : 0.0;
}

double KeypointOKS(const std::vector<Keypoint>& a, const std::vector<Keypoint>& b, double area,
                   double kpt_thr) {
  if (a.size() != b.size() || a.empty() || !(area > 0)) return -1.0;
  double sum = 0;
  int count = 0;
  for (size_t k = 0; k < a.size(); ++k) {
    if (a[k].score < kpt_thr || b[k].score < kpt_thr) continue;
    const double dx = a[k].x - b[k].x, dy = a[k].y - b[k].y;
    const double kk = 2 * Sigma(a.size(), k);
    // pycocotools: e = d^2 / (2 * s^2 * k^2) with s^2 = area (vars = (2 sigma)^2).
    sum += std::exp(-(dx * dx + dy * dy) / (2.0 * area * kk * kk));
    ++count;
  }
  return count ? sum / count : -1.0;
}

Tracker::Tracker(const TrackerOptions& o) : options_(o) {
  auto check = [](bool ok, const std::string& what) {
    if (!ok) throw Error("tracker option " + what);
  };
  check(o.low_score >= 0 && o.low_score <= 1, "low_score: expected [0, 1]");
  check(o.high_score >= o.low_score && o.high_score <= 1, "high_score: expected [low_score, 1]");
  check(o.match_thr >= 0 && o.match_thr <= 1, "match_thr: expected [0, 1]");
  check(o.iou_weight >= 0 && o.iou_weight <= 1, "iou_weight: expected [0, 1]");
  check(o.max_age >= 0, "max_age: expected >= 0");
  check(o.velocity_alpha >= 0 && o.velocity_alpha <= 1, "velocity_alpha: expected [0, 1]");
}

void Tracker::Update(std::vector<Person>* people_ptr) {
  std::vector<Person>& people = *people_ptr;
  const TrackerOptions& o = options_;
  for (Person& p : people) p.track_id = -1;

  // 1. Age the tracks and predict where each is on this frame.
  struct Predicted {
    std::array<double, 4> box;
    std::vector<Keypoint> keypoints;
  };
  std::vector<Predicted> pred(tracks_.size());
  for (size_t t = 0; t < tracks_.size(); ++t) {
    Track& tr = tracks_[t];
    tr.since_update += 1;
    const double dx = tr.vx * tr.since_update, dy = tr.vy * tr.since_update;
    pred[t].box = {tr.box[0] + dx, tr.box[1] + dy, tr.box[2] + dx, tr.box[3] + dy};
    pred[t].keypoints = tr.keypoints;
    for (Keypoint& k : pred[t].keypoints) {
      k.x += dx;
      k.y += dy;
    }
  }

  auto similarity = [&](size_t t, const Person& p) {
    const double iou = BoxIoU(pred[t].box, p.bbox);
    const std::array<double, 4>& b = pred[t].box;
    const double area = (b[2] - b[0]) * (b[3] - b[1]);
    const double oks = KeypointOKS(pred[t].keypoints, p.keypoints, area, o.kpt_thr);
    return oks < 0 ? iou : o.iou_weight * iou + (1 - o.iou_weight) * oks;
  };
  std::vector<bool> track_used(tracks_.size(), false), det_used(people.size(), false);

  // Greedy assignment of `dets` to the eligible tracks, best similarity first.
  auto match = [&](const std::vector<size_t>& dets, auto&& eligible) {
    std::vector<Pair> pairs;
    for (size_t t = 0; t < tracks_.size(); ++t) {
      if (track_used[t] || !eligible(tracks_[t])) continue;
      for (size_t d : dets) {
        const double s = similarity(t, people[d]);
        if (s >= o.match_thr) pairs.push_back({s, t, d});
      }
    }
    std::sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) {
      return std::tie(b.sim, a.track, a.det) < std::tie(a.sim, b.track, b.det);
    });
    for (const Pair& pr : pairs) {
      if (track_used[pr.track] || det_used[pr.det]) continue;
      track_used[pr.track] = det_used[pr.det] = true;
      Track& tr = tracks_[pr.track];
      const Person& p = people[pr.det];
      const double gap = tr.since_update;
      const double cx_old = 0.5 * (tr.box[0] + tr.box[2]), cy_old = 0.5 * (tr.box[1] + tr.box[3]);
      const double cx = 0.5 * (p.bbox[0] + p.bbox[2]), cy = 0.5 * (p.bbox[1] + p.bbox[3]);
      // The first measurement is taken whole (there is nothing to smooth); alpha 0 turns the
      // motion model off.
      const double a = o.velocity_alpha == 0 ? 0.0 : (tr.hits == 1 ? 1.0 : o.velocity_alpha);
      tr.vx = a * (cx - cx_old) / gap + (1 - a) * tr.vx;
      tr.vy = a * (cy - cy_old) / gap + (1 - a) * tr.vy;
      tr.box = p.bbox;
      tr.keypoints = p.keypoints;
      tr.since_update = 0;
      tr.hits += 1;
      people[pr.det].track_id = tr.id;
    }
  };

  // 2-3. Two stages.
  std::vector<size_t> high, low;
  for (size_t d = 0; d < people.size(); ++d) {
    if (people[d].score >= o.high_score) {
      high.push_back(d);
    } else if (people[d].score >= o.low_score) {
      low.push_back(d);
    }
  }
  match(high, [](const Track&) { return true; });
  // since_update was incremented above: 1 means "matched on the previous frame".
  match(low, [](const Track& t) { return t.since_update == 1; });

  // 4. Births and deaths.
  for (size_t d : high) {
    if (det_used[d]) continue;
    Track tr;
    tr.id = next_id_++;
    tr.box = people[d].bbox;
    tr.keypoints = people[d].keypoints;
    tr.hits = 1;
    people[d].track_id = tr.id;
    tracks_.push_back(std::move(tr));
  }
  std::erase_if(tracks_, [&](const Track& t) { return t.since_update > o.max_age; });
}

}  // namespace rtmo
