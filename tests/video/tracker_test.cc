// rtmo::Tracker on synthetic sequences with known identities: people are boxes (with
// 17 keypoints laid out inside them) moving at known speeds. Each test states its target:
// zero ID switches and zero fragmentations on these sequences, which a tracker without the
// motion model / lost-track memory fails (the "without" tests show the sequences are hard
// enough to need them).
#include "rtmo/video/tracker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "rtmo/error.h"

namespace rtmo {
namespace {

// A person at box (x, y, w, h) with keypoints on a fixed grid inside the box, score s.
Person MakePerson(double x, double y, double w, double h, double s = 0.9) {
  Person p;
  p.bbox = {x, y, x + w, y + h};
  p.score = s;
  for (int k = 0; k < 17; ++k) {
    const double fx = 0.2 + 0.6 * ((k * 7) % 17) / 16.0, fy = 0.05 + 0.9 * k / 16.0;
    p.keypoints.push_back({x + fx * w, y + fy * h, 0.9});
  }
  return p;
}

// Detections of one frame with their true identities.
struct Frame {
  std::vector<Person> people;
  std::vector<int> truth;  // truth[i]: the real person behind people[i]
};

// CLEAR-MOT style counts over a tracked sequence: an ID switch is a detection of a person
// whose id differs from the id that person had when last tracked (a re-identification
// after a gap under a new id counts too, i.e. fragmentations that change the id);
// `untracked` counts confident detections left without an id.
struct Metrics {
  int id_switches = 0;
  int untracked = 0;            // detections with score >= high_score left without an id
  std::map<int, int> first_id;  // truth -> the first id given
};

Metrics RunSeq(Tracker* tracker, std::vector<Frame> frames, double high = 0.5) {
  Metrics m;
  std::map<int, int> last;  // truth -> last id
  for (Frame& f : frames) {
    tracker->Update(&f.people);
    for (size_t i = 0; i < f.people.size(); ++i) {
      const int id = f.people[i].track_id;
      const int t = f.truth[i];
      if (id < 0) {
        if (f.people[i].score >= high) ++m.untracked;
        continue;
      }
      if (!m.first_id.count(t)) m.first_id[t] = id;
      auto it = last.find(t);
      if (it != last.end() && it->second != id) ++m.id_switches;
      last[t] = id;
    }
  }
  return m;
}

TEST(Tracker, ParallelWalkersKeepTheirIds) {
  std::vector<Frame> seq;
  for (int t = 0; t < 40; ++t) {
    Frame f;
    f.people = {MakePerson(10 + 6 * t, 50, 60, 150), MakePerson(300 - 4 * t, 80, 70, 160)};
    f.truth = {0, 1};
    seq.push_back(f);
  }
  Tracker tracker;
  const Metrics m = RunSeq(&tracker, seq);
  EXPECT_EQ(m.id_switches, 0);
  EXPECT_EQ(m.untracked, 0);
  EXPECT_EQ(m.first_id.at(0), 1);  // ids in detection order from 1
  EXPECT_EQ(m.first_id.at(1), 2);
  EXPECT_EQ(tracker.num_tracks(), 2);
  EXPECT_EQ(tracker.next_id(), 3);
}

TEST(Tracker, NewPersonGetsANewId) {
  std::vector<Frame> seq;
  for (int t = 0; t < 10; ++t) {
    Frame f;
    f.people = {MakePerson(10 + 5 * t, 50, 60, 150)};
    f.truth = {0};
    if (t >= 4) {
      f.people.push_back(MakePerson(400, 60, 60, 150));
      f.truth.push_back(1);
    }
    seq.push_back(f);
  }
  Tracker tracker;
  const Metrics m = RunSeq(&tracker, seq);
  EXPECT_EQ(m.id_switches, 0);
  EXPECT_EQ(m.first_id.at(0), 1);
  EXPECT_EQ(m.first_id.at(1), 2);
}

// Two people walk towards each other on nearly the same line and cross (their boxes overlap
// completely for a few frames). Target: 0 ID switches thanks to the motion model.
std::vector<Frame> Crossing() {
  std::vector<Frame> seq;
  for (int t = 0; t < 30; ++t) {
    Frame f;
    // Listed in the opposite order on odd frames: order must not matter.
    Person a = MakePerson(20 + 12 * t, 100, 60, 150), b = MakePerson(368 - 12 * t, 108, 60, 150);
    if (t % 2) {
      f.people = {b, a};
      f.truth = {1, 0};
    } else {
      f.people = {a, b};
      f.truth = {0, 1};
    }
    seq.push_back(f);
  }
  return seq;
}

TEST(Tracker, CrossingWithoutIdSwitch) {
  Tracker tracker;
  const Metrics m = RunSeq(&tracker, Crossing());
  EXPECT_EQ(m.id_switches, 0);
  EXPECT_EQ(m.untracked, 0);
  EXPECT_EQ(tracker.next_id(), 3);
}

TEST(Tracker, CrossingNeedsTheMotionModel) {
  // Same sequence without velocity (alpha 0) and IoU only: the sequence is hard enough to
  // make a static tracker swap the two people (shows the test above can fail).
  TrackerOptions o;
  o.velocity_alpha = 0;
  o.iou_weight = 1;
  Tracker tracker(o);
  const Metrics m = RunSeq(&tracker, Crossing());
  EXPECT_GT(m.id_switches, 0);
}

// A walker hidden (no detection) for `gap` frames, then seen again where the motion
// predicts.
std::vector<Frame> Occluded(int gap) {
  std::vector<Frame> seq;
  for (int t = 0; t < 20 + gap; ++t) {
    Frame f;
    if (t < 10 || t >= 10 + gap) {
      f.people = {MakePerson(10 + 8 * t, 50, 60, 150)};
      f.truth = {0};
    }
    seq.push_back(f);
  }
  return seq;
}

TEST(Tracker, OcclusionKeepsTheIdWithinMaxAge) {
  TrackerOptions o;
  o.max_age = 6;
  Tracker tracker(o);
  const Metrics m = RunSeq(&tracker, Occluded(6));  // unseen for 6 frames: still alive
  EXPECT_EQ(m.id_switches, 0);
  EXPECT_EQ(tracker.next_id(), 2);
}

TEST(Tracker, TrackDiesAfterMaxAge) {
  TrackerOptions o;
  o.max_age = 6;
  Tracker tracker(o);
  const Metrics m = RunSeq(&tracker, Occluded(7));  // unseen for 7 > max_age frames: new id
  EXPECT_EQ(m.id_switches, 1);
  EXPECT_EQ(tracker.next_id(), 3);
  EXPECT_EQ(tracker.num_tracks(), 1);  // the old track was deleted
}

TEST(Tracker, OcclusionNeedsTheMotionModel) {
  // 8 px/frame over a 6-frame gap is a 56 px jump for a 60 px wide box: without velocity
  // the reappearing walker does not overlap its last box enough.
  TrackerOptions o;
  o.max_age = 6;
  o.velocity_alpha = 0;
  Tracker tracker(o);
  const Metrics m = RunSeq(&tracker, Occluded(6));
  EXPECT_EQ(m.id_switches, 1);
}

TEST(Tracker, WeakDetectionsContinueButNeverStartTracks) {
  Tracker tracker;
  std::vector<Person> f0 = {MakePerson(0, 0, 50, 100, 0.9), MakePerson(300, 0, 50, 100, 0.3)};
  tracker.Update(&f0);
  EXPECT_EQ(f0[0].track_id, 1);
  EXPECT_EQ(f0[1].track_id, -1);  // weak: no birth
  std::vector<Person> f1 = {MakePerson(4, 0, 50, 100, 0.3), MakePerson(300, 0, 50, 100, 0.05)};
  tracker.Update(&f1);
  EXPECT_EQ(f1[0].track_id, 1);   // weak, but continues the followed track
  EXPECT_EQ(f1[1].track_id, -1);  // below low_score: ignored
  EXPECT_EQ(tracker.next_id(), 2);
}

TEST(Tracker, DeterministicAndOrderIndependentAfterBirth) {
  std::mt19937 rng(17);
  std::uniform_real_distribution<double> jitter(-3, 3);
  std::vector<Frame> seq;
  for (int t = 0; t < 25; ++t) {
    Frame f;
    for (int k = 0; k < 5; ++k) {
      f.people.push_back(MakePerson(20 + 90 * k + 3 * t + jitter(rng), 40 + 10 * k + jitter(rng),
                                    60, 150, 0.6 + 0.05 * k));
      f.truth.push_back(k);
    }
    seq.push_back(f);
  }
  // Shuffle every frame after the first (birth order is detection order by design).
  std::vector<Frame> shuffled = seq;
  for (size_t t = 1; t < shuffled.size(); ++t) {
    std::vector<size_t> idx(5);
    for (size_t i = 0; i < 5; ++i) idx[i] = i;
    std::shuffle(idx.begin(), idx.end(), rng);
    Frame g;
    for (size_t i : idx) {
      g.people.push_back(seq[t].people[i]);
      g.truth.push_back(seq[t].truth[i]);
    }
    shuffled[t] = g;
  }
  Tracker a, b;
  for (size_t t = 0; t < seq.size(); ++t) {
    std::vector<Person> pa = seq[t].people, pb = shuffled[t].people;
    a.Update(&pa);
    b.Update(&pb);
    for (size_t i = 0; i < pa.size(); ++i) {
      EXPECT_EQ(pa[i].track_id, seq[t].truth[i] + 1) << "frame " << t;
      EXPECT_EQ(pb[i].track_id, shuffled[t].truth[i] + 1) << "frame " << t;
    }
  }
}

TEST(Tracker, EmptyFramesAndNoKeypoints) {
  Tracker tracker;
  std::vector<Person> none;
  tracker.Update(&none);
  Person p;
  p.bbox = {0, 0, 10, 10};
  p.score = 0.9;
  std::vector<Person> f = {p};
  tracker.Update(&f);
  EXPECT_EQ(f[0].track_id, 1);
  f[0].bbox = {1, 0, 11, 10};  // IoU only (no keypoints): 90/110
  tracker.Update(&f);
  EXPECT_EQ(f[0].track_id, 1);
}

TEST(Tracker, BoxIoUAndOks) {
  EXPECT_DOUBLE_EQ(BoxIoU({0, 0, 10, 10}, {5, 0, 15, 10}), 50.0 / 150.0);
  EXPECT_EQ(BoxIoU({0, 0, 10, 10}, {10, 0, 20, 10}), 0.0);
  const Person a = MakePerson(0, 0, 50, 100);
  EXPECT_DOUBLE_EQ(KeypointOKS(a.keypoints, a.keypoints, 5000, 0.3), 1.0);
  // One keypoint moved by d: its term is exp(-d^2 / (2 area (2 sigma)^2)), nose sigma .026.
  Person b = a;
  for (auto& k : b.keypoints) k.score = 0.0;
  b.keypoints[0].score = 0.9;
  b.keypoints[0].x += 3;
  const double expect = std::exp(-9.0 / (2 * 5000 * (2 * .026) * (2 * .026)));
  EXPECT_NEAR(KeypointOKS(a.keypoints, b.keypoints, 5000, 0.3), expect, 1e-15);
  for (auto& k : b.keypoints) k.score = 0.0;
  EXPECT_EQ(KeypointOKS(a.keypoints, b.keypoints, 5000, 0.3), -1.0);
}

TEST(Tracker, BadOptionsAreRefused) {
  TrackerOptions o;
  o.max_age = -1;
  EXPECT_THROW(Tracker{o}, Error);
  o = {};
  o.high_score = 0.05;  // below low_score
  EXPECT_THROW(Tracker{o}, Error);
  o = {};
  o.iou_weight = 1.5;
  EXPECT_THROW(Tracker{o}, Error);
}

}  // namespace
}  // namespace rtmo
