// Multi-person tracking: a stable Person::track_id across the frames of a video.
//
// Algorithm (ByteTrack-style two-stage greedy matching with a constant-velocity motion
// model; deterministic, no randomness, no dependence on thread count):
//   1. Predict: every live track moves its last box and keypoints by its velocity (box-centre
//      pixels per frame) times the frames since it was last matched.
//   2. Similarity of a track and a detection:
//        sim = iou_weight * IoU(predicted box, detection box) + (1 - iou_weight) * OKS
//      where OKS is COCO's object keypoint similarity between the predicted keypoints and the
//      detection's, over keypoints scoring >= kpt_thr in both (COCO sigmas for 17 keypoints,
//      CrowdPose's for 14, 0.079 otherwise; scale = predicted box area). With no such
//      keypoint, sim = IoU. Pairs with sim < match_thr never match.
//   3. Stage 1: detections with score >= high_score against all live tracks; stage 2:
//      the remaining detections with low_score <= score < high_score against the tracks
//      still unmatched that were matched on the previous frame (weak detections only
//      continue a track that is being followed, as ByteTrack). Each stage is greedy on
//      sim (highest first; ties: older track, then earlier detection).
//   4. Unmatched stage-1 detections start new tracks (ids 1, 2, 3 ... in detection order);
//      unmatched weak ones keep track_id -1. A track unmatched for more than max_age
//      consecutive frames is deleted (its id is never reused).
//   5. Velocity: v = velocity_alpha * (centre shift / frames elapsed) + (1 - alpha) * v
//      (the first measurement of a track is taken whole; velocity_alpha = 0: static boxes).
#ifndef RTMO_VIDEO_TRACKER_H_
#define RTMO_VIDEO_TRACKER_H_

#include <array>
#include <vector>

#include "rtmo/rtmo.h"

namespace rtmo {

struct TrackerOptions {
  double high_score = 0.5;      // detections that can start tracks and match first
  double low_score = 0.1;       // below: ignored (track_id -1)
  double match_thr = 0.3;       // minimum similarity of a match
  double iou_weight = 0.5;      // similarity = w * IoU + (1 - w) * OKS
  double kpt_thr = 0.3;         // keypoints used by OKS (score >= kpt_thr in both)
  int max_age = 30;             // frames a lost track is kept for re-identification
  double velocity_alpha = 0.5;  // weight of the newest velocity measurement (0: no motion)
};

class Tracker {
 public:
  // Throws rtmo::Error naming the field if an option is out of range.
  explicit Tracker(const TrackerOptions& options = {});

  // One frame's detections (in any order): sets every person's track_id (-1 for ignored
  // weak detections); the vector's order and other fields are unchanged. Call once per
  // frame in order; a frame without people is an empty vector (it ages the tracks).
  void Update(std::vector<Person>* people);

  // Tracks alive (matched within max_age frames).
  int num_tracks() const { return static_cast<int>(tracks_.size()); }
  // The id the next new track gets.
  int next_id() const { return next_id_; }
  const TrackerOptions& options() const { return options_; }

 private:
  struct Track {
    int id = 0;
    std::array<double, 4> box{};  // last matched box
    std::vector<Keypoint> keypoints;
    double vx = 0, vy = 0;  // box-centre velocity, pixels per frame
    int since_update = 0;   // frames since the last match (0: matched on this frame)
    int hits = 0;           // frames matched
  };

  TrackerOptions options_;
  std::vector<Track> tracks_;  // in creation order (ascending id)
  int next_id_ = 1;
};

// Intersection over union of two x1,y1,x2,y2 boxes (0 for empty boxes).
double BoxIoU(const std::array<double, 4>& a, const std::array<double, 4>& b);

// COCO object keypoint similarity of two poses of the same keypoint count, over keypoints
// scoring >= kpt_thr in both, with scale^2 = `area`; -1 if no keypoint qualifies.
double KeypointOKS(const std::vector<Keypoint>& a, const std::vector<Keypoint>& b, double area,
                   double kpt_thr);

}  // namespace rtmo

#endif  // RTMO_VIDEO_TRACKER_H_
