// Tests of the COCO keypoint evaluator (reading: rtmo/eval/coco_json.h, evaluation:
// rtmo/eval/cocoeval.h, the command: rtmo/cli/eval_cmd.h): OKS values worked out from the
// formula, AP/AR of small scenes whose precision/recall curves are computed by hand in the
// comments, ground truth as detections on the real test_coco.json, and file errors.
// (Agreement with an independent numpy implementation on random scenes is
// tests/tools/test_coco_eval_agreement.py.)
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "rtmo/cli/eval_cmd.h"
#include "rtmo/error.h"
#include "rtmo/eval/coco_json.h"
#include "rtmo/eval/cocoeval.h"

namespace rtmo {
namespace {

using Json = nlohmann::json;

// COCO sigmas as the COCO definition lists them (x10).
constexpr double kSig[17] = {.26, .25, .25,  .35,  .35, .79, .79, .72, .72,
                             .62, .62, 1.07, 1.07, .87, .87, .89, .89};
constexpr int kHip = 11;  // left_hip, sigma .107

Json Keypoints17(double x, double y, int v) {
  Json k = Json::array();
  for (int i = 0; i < 17; ++i) {
    k.push_back(x + i);  // spread out so every keypoint has its own position
    k.push_back(y + 2 * i);
    k.push_back(v);
  }
  return k;
}

Json Person(int64_t id, int64_t image, double x, double y, double area) {
  return {{"id", id},
          {"image_id", image},
          {"category_id", 1},
          {"iscrowd", 0},
          {"num_keypoints", 17},
          {"area", area},
          {"bbox", {x, y, 20, 40}},
          {"keypoints", Keypoints17(x, y, 2)}};
}

Json Crowd(int64_t id, int64_t image, std::vector<double> box, double area) {
  Json k = Json::array();
  for (int i = 0; i < 51; ++i) k.push_back(0);
  return {{"id", id},           {"image_id", image}, {"category_id", 1}, {"iscrowd", 1},
          {"num_keypoints", 0}, {"area", area},      {"bbox", box},      {"keypoints", k}};
}

// anns: a JSON array (written Json::array({...}): a one-element brace list would be copied).
Json Dataset(std::vector<int64_t> images, Json anns) {
  Json cat = {{"id", 1}, {"name", "person"}, {"keypoints", Json::array()}};
  for (int i = 0; i < 17; ++i) cat["keypoints"].push_back("k" + std::to_string(i));
  Json ims = Json::array();
  for (int64_t id : images) ims.push_back({{"id", id}, {"width", 640}, {"height", 480}});
  return {{"images", ims}, {"categories", {cat}}, {"annotations", anns}};
}

Json Det(int64_t image, Json keypoints, double score) {
  return {{"image_id", image}, {"category_id", 1}, {"keypoints", keypoints}, {"score", score}};
}

// Detection exactly on a GT's keypoints.
Json DetOn(const Json& gt_ann, double score) {
  return Det(gt_ann["image_id"].get<int64_t>(), gt_ann["keypoints"], score);
}

KeypointEvalResult Eval(const Json& ann, const Json& res) {
  const KeypointDataset gt = ParseKeypointDataset(ann.dump(), "ANN.json");
  return EvaluateKeypoints(gt, ParseKeypointResults(res.dump(), "RES.json", gt));
}

GroundTruth OneKeypointGt(int which, double x, double y, double area) {
  GroundTruth g;
  g.num_keypoints = 1;
  g.area = area;
  g.bbox = {x - 10, y - 10, 20, 20};
  g.keypoints.assign(51, 0.0);
  g.keypoints[3 * which] = x;
  g.keypoints[3 * which + 1] = y;
  g.keypoints[3 * which + 2] = 2;
  return g;
}

// ---- OKS ----------------------------------------------------------------------------------

TEST(Oks, OneLabelledKeypointFromTheFormula) {
  // Only the nose labelled at (100, 100), area 100; detection 1 px off in x (all other
  // keypoints far away: unlabelled GT keypoints do not count).
  // e = d^2 / (2 * area * (2 sigma)^2) = 1 / (2 * 100 * 0.052^2) = 1.8491124...
  // OKS = exp(-1.8491124) = 0.15737...
  const GroundTruth g = OneKeypointGt(0, 100, 100, 100);
  std::vector<double> d(51, 500.0);
  d[0] = 101;
  d[1] = 100;
  const double expected = std::exp(-1.0 / (2 * 100 * 0.052 * 0.052));
  EXPECT_NEAR(ComputeOks(d, g, CocoSigmas()), expected, 1e-15);
  EXPECT_NEAR(expected, 0.157377, 1e-6);
}

TEST(Oks, AllLabelledShiftedBy3_4) {
  // Every keypoint shifted by (3, 4): d^2 = 25; area 1000.
  // OKS = mean_i exp(-25 / (2 * 1000 * (2 sigma_i)^2)) over the 17 keypoints.
  GroundTruth g;
  g.num_keypoints = 17;
  g.area = 1000;
  g.bbox = {0, 0, 40, 25};
  std::vector<double> d(51);
  for (int i = 0; i < 17; ++i) {
    g.keypoints.insert(g.keypoints.end(), {10.0 + i, 20.0 + i, 1});
    d[3 * i] = 13.0 + i;
    d[3 * i + 1] = 24.0 + i;
    d[3 * i + 2] = 0.3;
  }
  double sum = 0;
  for (double s10 : kSig) sum += std::exp(-25.0 / (2 * 1000 * (2 * s10 / 10) * (2 * s10 / 10)));
  EXPECT_NEAR(ComputeOks(d, g, CocoSigmas()), sum / 17, 1e-15);
  // Exact detection -> exactly 1.
  for (int i = 0; i < 17; ++i) d[3 * i] = 10.0 + i, d[3 * i + 1] = 20.0 + i;
  EXPECT_EQ(ComputeOks(d, g, CocoSigmas()), 1.0);
}

TEST(Oks, NoLabelledKeypointsUsesTheGrownBox) {
  // bbox [10, 20, 30, 40] grows to x in [10 - 30, 10 + 60] = [-20, 70],
  // y in [20 - 40, 20 + 80] = [-20, 100].
  GroundTruth g;
  g.num_keypoints = 0;
  g.area = 500;
  g.bbox = {10, 20, 30, 40};
  g.keypoints.assign(51, 0.0);
  std::vector<double> inside(51, 0.0), outside(51, 0.0);
  for (int i = 0; i < 17; ++i) {
    inside[3 * i] = 69, inside[3 * i + 1] = -19;    // inside: distance 0 for every keypoint
    outside[3 * i] = 80, outside[3 * i + 1] = 110;  // 10 right, 10 below: d^2 = 200
  }
  EXPECT_EQ(ComputeOks(inside, g, CocoSigmas()), 1.0);
  // OKS = mean over all 17: exp(-200 / (2 * 500 * (2 sigma_i)^2)).
  double sum = 0;
  for (double s10 : kSig) sum += std::exp(-200.0 / (2 * 500 * (2 * s10 / 10) * (2 * s10 / 10)));
  EXPECT_NEAR(ComputeOks(outside, g, CocoSigmas()), sum / 17, 1e-15);
  // Left / above the box: x = -25 is 5 left of -20, y = -30 is 10 above: d^2 = 125.
  for (int i = 0; i < 17; ++i) outside[3 * i] = -25, outside[3 * i + 1] = -30;
  sum = 0;
  for (double s10 : kSig) sum += std::exp(-125.0 / (2 * 500 * (2 * s10 / 10) * (2 * s10 / 10)));
  EXPECT_NEAR(ComputeOks(outside, g, CocoSigmas()), sum / 17, 1e-15);
}

TEST(Oks, ZeroAreaUsesEpsilonNotDivisionByZero) {
  // area 0 -> area + eps (np.spacing(1)): a 1 px error gives exp(-huge) = 0, exact gives 1.
  GroundTruth g = OneKeypointGt(0, 5, 5, 0.0);
  std::vector<double> d(51, 0.0);
  d[0] = 5, d[1] = 5;
  EXPECT_EQ(ComputeOks(d, g, CocoSigmas()), 1.0);
  d[0] = 6;
  EXPECT_EQ(ComputeOks(d, g, CocoSigmas()), 0.0);
}

TEST(Oks, SizeMismatchIsAnError) {
  GroundTruth g = OneKeypointGt(0, 5, 5, 10.0);
  std::vector<double> d(50, 0.0);
  EXPECT_THROW(ComputeOks(d, g, CocoSigmas()), Error);
}

// ---- AP / AR of small scenes ----------------------------------------------------------------

TEST(Eval, SingleMatchAboveSomeThresholds) {
  // One GT with only left_hip labelled (sigma .107), area 1000 (small: < 32^2 = 1024).
  // Detection 5.5 px off: OKS = exp(-30.25 / (2 * 1000 * 0.214^2)) = exp(-0.33027) = 0.71872.
  // Matched at t = .50 .55 .60 .65 .70 (5 of 10), unmatched at .75 ... .95.
  // Matched: precision 1 at every recall point; unmatched: 0 -> AP = 0.5, AP50 = 1, AP75 = 0;
  // recall likewise. No medium/large GT -> those are -1.
  Json ann = Person(1, 7, 0, 0, 1000.0);
  for (int i = 0; i < 17; ++i) ann["keypoints"][3 * i + 2] = i == kHip ? 2 : 0;
  ann["num_keypoints"] = 1;
  Json kp = ann["keypoints"];
  kp[3 * kHip] = kp[3 * kHip].get<double>() + 5.5;
  const double oks = std::exp(-30.25 / (2 * 1000 * 0.214 * 0.214));
  ASSERT_GT(oks, 0.7);
  ASSERT_LT(oks, 0.75);
  const KeypointEvalResult r =
      Eval(Dataset({7}, Json::array({ann})), Json::array({Det(7, kp, 0.9)}));
  const std::array<double, 10> want = {0.5, 1, 0, -1, -1, 0.5, 1, 0, -1, -1};
  for (int i = 0; i < 10; ++i) EXPECT_DOUBLE_EQ(r.stats[i], want[i]) << kStatNames[i];
}

TEST(Eval, GroundTruthAsDetectionsOnTestCocoIsPerfect) {
  // tests/data/coco/test_coco.json: 14 people in 4 val2017 images, 2 with num_keypoints 0
  // (ignored), medium and large ones. Each labelled GT as a detection matches itself with
  // OKS 1 at every threshold, so every number is 1.
  const std::string path = std::string(RTMO_TEST_DATA_DIR) + "/coco/test_coco.json";
  const KeypointDataset gt = LoadKeypointDataset(path);
  ASSERT_EQ(gt.image_ids.size(), 4u);
  ASSERT_EQ(gt.num_keypoints, 17);
  Json res = Json::array();
  int n = 0;
  for (const GroundTruth& g : gt.annotations) {
    if (g.num_keypoints == 0) continue;
    // Descending distinct scores, and all-equal scores, must both give 1.
    res.push_back({{"image_id", g.image_id},
                   {"category_id", g.category_id},
                   {"keypoints", g.keypoints},
                   {"score", 1.0 - 0.01 * n++}});
  }
  ASSERT_EQ(n, 12);
  for (bool ties : {false, true}) {
    if (ties) {
      for (Json& d : res) d["score"] = 0.5;
    }
    const KeypointEvalResult r =
        EvaluateKeypoints(gt, ParseKeypointResults(res.dump(), "RES.json", gt));
    for (int i = 0; i < 10; ++i) EXPECT_EQ(r.stats[i], 1.0) << kStatNames[i] << " ties=" << ties;
    EXPECT_EQ(r.num_detections, 12);
  }
  // Dropping 3 of the 12: recall 9/12 = 0.75 at every threshold, precision stays 1 up to it.
  // AP: recall points 0, .01, ..., .75 (76 of 101) have precision 1 -> AP = 76/101.
  Json fewer = Json::array();
  for (size_t i = 0; i < res.size(); ++i) {
    if (i % 4 != 3) fewer.push_back(res[i]);
  }
  const KeypointEvalResult r =
      EvaluateKeypoints(gt, ParseKeypointResults(fewer.dump(), "RES.json", gt));
  EXPECT_NEAR(r.stats[0], 76.0 / 101.0, 1e-15);
  EXPECT_NEAR(r.stats[5], 0.75, 1e-15);
}

TEST(Eval, DetectionsOnImagesWithoutPeople) {
  // Image 1: one person, detected exactly (score 0.5). Image 2: nobody, a detection (0.9).
  // Ranked: FP (tp 0, fp 1), TP (tp 1, fp 1): recall [0, 1], precision [0, 1/2];
  // envelope [1/2, 1/2] -> every recall point has precision 1/2 -> AP = 0.5, AR = 1.
  const Json person = Person(10, 1, 100, 100, 20000);
  const Json ann =
      Dataset({1, 2, 3}, Json::array({person}));  // image 3: nobody, no detection: no effect
  const Json fp = Det(2, Keypoints17(300, 300, 1), 0.9);
  KeypointEvalResult r = Eval(ann, Json::array({DetOn(person, 0.5), fp}));
  EXPECT_DOUBLE_EQ(r.stats[0], 0.5);
  EXPECT_DOUBLE_EQ(r.stats[5], 1.0);
  // 'large': the person (20000 > 96^2) counts, the FP's keypoint box (16 x 32) is outside
  // the range and unmatched, so it is ignored -> APl = 1.
  EXPECT_DOUBLE_EQ(r.stats[4], 1.0);
  EXPECT_EQ(r.stats[3], -1.0);  // no medium GT
  // The same false positive ranked below the true one costs nothing.
  Json fp_low = fp;
  fp_low["score"] = 0.4;
  r = Eval(ann, Json::array({DetOn(person, 0.5), fp_low}));
  EXPECT_DOUBLE_EQ(r.stats[0], 1.0);
  // No detections at all: AP = AR = 0 (GT exists).
  r = Eval(ann, Json::array());
  EXPECT_EQ(r.stats[0], 0.0);
  EXPECT_EQ(r.stats[5], 0.0);
  // No people anywhere: every number undefined (-1), even with detections.
  r = Eval(Dataset({1, 2}, Json::array()), Json::array({fp}));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(r.stats[i], -1.0) << kStatNames[i];
}

TEST(Eval, CrowdRegionsAbsorbDetections) {
  // One medium person (area 5000) detected exactly (score 0.5) and two detections (0.9, 0.8)
  // with every keypoint at (320, 320), inside the crowd box [300, 300, 50, 50] grown to
  // [250, 400]^2: OKS 1 with the crowd region at any threshold.
  const Json person = Person(1, 5, 100, 100, 5000);
  const Json crowd = Crowd(2, 5, {300, 300, 50, 50}, 2000);
  Json in_crowd = Json::array();
  for (int i = 0; i < 17; ++i) in_crowd.insert(in_crowd.end(), {320, 320, 1});
  const Json dets = Json::array({Det(5, in_crowd, 0.9), Det(5, in_crowd, 0.8), DetOn(person, 0.5)});
  // With the crowd GT both are matched to it (a crowd GT is never used up) and ignored:
  // ranked TP only -> AP = AR = 1 (also for the medium range).
  KeypointEvalResult r = Eval(Dataset({5}, Json::array({person, crowd})), dets);
  for (int i : {0, 1, 2, 3, 5, 8}) EXPECT_DOUBLE_EQ(r.stats[i], 1.0) << kStatNames[i];
  // Without it they are false positives ranked first: precision at recall 1 is 1/3 everywhere.
  r = Eval(Dataset({5}, Json::array({person})), dets);
  EXPECT_NEAR(r.stats[0], 1.0 / 3.0, 1e-15);
  EXPECT_DOUBLE_EQ(r.stats[5], 1.0);
  // A non-crowd GT with num_keypoints 0 is ignored too, but is used up by one detection:
  // the second detection is a FP ranked before the TP -> precision at recall 1 = 1/2.
  Json unlabelled = crowd;
  unlabelled["iscrowd"] = 0;
  r = Eval(Dataset({5}, Json::array({person, unlabelled})), dets);
  EXPECT_DOUBLE_EQ(r.stats[0], 0.5);
}

TEST(Eval, OnlyTheTop20DetectionsPerImageCount) {
  // 1 person + 19 or 20 higher-scored false positives on the same image. With 19 the true
  // detection is the 20th: precision at recall 1 = 1/20 -> AP = 0.05. With 20 it is cut.
  const Json person = Person(1, 3, 100, 100, 20000);
  for (int fps : {19, 20}) {
    Json dets = Json::array({DetOn(person, 0.1)});
    for (int i = 0; i < fps; ++i)
      dets.push_back(Det(3, Keypoints17(400, 10 + i, 1), 0.5 + i * 0.01));
    const KeypointEvalResult r = Eval(Dataset({3}, Json::array({person})), dets);
    EXPECT_NEAR(r.stats[0], fps == 19 ? 0.05 : 0.0, 1e-15) << fps;
    EXPECT_DOUBLE_EQ(r.stats[5], fps == 19 ? 1.0 : 0.0) << fps;
    EXPECT_EQ(r.num_detections, 20);
  }
}

TEST(Eval, TiedScoresKeepImageOrder) {
  // Equal scores across images keep the order of the concatenation: images by increasing
  // id, so a FP on image 2 ranks before a TP on image 10 -> AP 0.5; swapped -> 1.
  const Json p10 = Person(1, 10, 100, 100, 20000);
  const Json p2 = Person(2, 2, 100, 100, 20000);
  const Json fp10 = Det(10, Keypoints17(400, 400, 1), 0.5);
  const Json fp2 = Det(2, Keypoints17(400, 400, 1), 0.5);
  EXPECT_DOUBLE_EQ(
      Eval(Dataset({10, 2}, Json::array({p10})), Json::array({DetOn(p10, 0.5), fp2})).stats[0],
      0.5);
  EXPECT_DOUBLE_EQ(
      Eval(Dataset({10, 2}, Json::array({p2})), Json::array({fp10, DetOn(p2, 0.5)})).stats[0], 1.0);
}

TEST(Eval, UnmatchedDetectionsOutsideTheAreaRangeAreIgnored) {
  // A large person detected exactly (0.5) and a FP (0.9) whose keypoint box is small
  // (16 x 32 = 512 < 32^2): for 'large' the FP is outside the range and ignored -> APl = 1;
  // for 'all' it counts -> AP = 0.5.
  const Json person = Person(1, 4, 100, 100, 20000);
  const KeypointEvalResult r =
      Eval(Dataset({4}, Json::array({person})),
           Json::array({DetOn(person, 0.5), Det(4, Keypoints17(400, 300, 1), 0.9)}));
  EXPECT_DOUBLE_EQ(r.stats[0], 0.5);
  EXPECT_DOUBLE_EQ(r.stats[4], 1.0);
}

TEST(Eval, SummaryFormatMatchesPycocotools) {
  KeypointEvalResult r;
  r.stats = {0.6861, 0.5, 0.25, -1, 1, 0.12345, 0.9995, 0, 0.5, 0.75};
  const std::string s = FormatSummary(r);
  EXPECT_EQ(s.substr(0, s.find('\n')),
            " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets= 20 ] = 0.686");
  EXPECT_NE(s.find(" Average Precision  (AP) @[ IoU=0.75      | area=   all | maxDets= 20 ] "
                   "= 0.250\n"),
            std::string::npos);
  EXPECT_NE(s.find(" Average Precision  (AP) @[ IoU=0.50:0.95 | area=medium | maxDets= 20 ] "
                   "= -1.000\n"),
            std::string::npos);
  EXPECT_NE(s.find(" Average Recall     (AR) @[ IoU=0.50      | area=   all | maxDets= 20 ] "
                   "= 1.000\n"),  // 0.9995 rounds up
            std::string::npos);
  EXPECT_NE(s.find(" Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets= 20 ] "
                   "= 0.750\n"),
            std::string::npos);
  EXPECT_EQ(std::count(s.begin(), s.end(), '\n'), 10);
}

TEST(Eval, ThresholdsAreNumpyLinspace) {
  const KeypointEvalResult r = Eval(Dataset({1}, Json::array()), Json::array());
  ASSERT_EQ(r.iou_thresholds.size(), 10u);
  EXPECT_EQ(r.iou_thresholds[0], 0.5);
  EXPECT_EQ(r.iou_thresholds[5], 0.75);
  EXPECT_EQ(r.iou_thresholds[8], 0.8999999999999999);  // numpy's value, not 0.9
  EXPECT_EQ(r.iou_thresholds[9], 0.95);
  ASSERT_EQ(r.recall_thresholds.size(), 101u);
  EXPECT_EQ(r.recall_thresholds[100], 1.0);
}

// ---- errors --------------------------------------------------------------------------------

std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(EvalErrors, ResultsFile) {
  const Json person = Person(1, 7, 0, 0, 1000.0);
  const KeypointDataset gt =
      ParseKeypointDataset(Dataset({7}, Json::array({person})).dump(), "ANN.json");
  auto parse = [&](const Json& res) {
    return [&gt, text = res.dump()] { ParseKeypointResults(text, "RES.json", gt); };
  };
  Json short_kp = DetOn(person, 0.5);
  short_kp["keypoints"].erase(short_kp["keypoints"].size() - 1);
  EXPECT_EQ(ErrorOf(parse(Json::array({DetOn(person, 0.5), short_kp}))),
            "RES.json: [1].keypoints: expected 51 numbers, found 50");
  Json bad_image = DetOn(person, 0.5);
  bad_image["image_id"] = 8;
  EXPECT_NE(
      ErrorOf(parse(Json::array({bad_image}))).find("RES.json: [0].image_id: unknown image_id 8"),
      std::string::npos);
  Json bad_cat = DetOn(person, 0.5);
  bad_cat["category_id"] = 2;
  EXPECT_NE(ErrorOf(parse(Json::array({bad_cat})))
                .find("RES.json: [0].category_id: unknown category_id 2"),
            std::string::npos);
  Json bad_score = DetOn(person, 0.5);
  bad_score["score"] = "high";
  EXPECT_EQ(ErrorOf(parse(Json::array({bad_score}))),
            "RES.json: [0].score: expected a number, found string");
  Json no_score = DetOn(person, 0.5);
  no_score.erase("score");
  EXPECT_EQ(ErrorOf(parse(Json::array({no_score}))), "RES.json: [0].score: missing");
  Json bad_kp = DetOn(person, 0.5);
  bad_kp["keypoints"][4] = nullptr;
  EXPECT_EQ(ErrorOf(parse(Json::array({bad_kp}))),
            "RES.json: [0].keypoints[4]: expected a number, found null");
  EXPECT_EQ(ErrorOf(parse(Json::object())),
            "RES.json: (top level): expected an array, found object");
  EXPECT_NE(ErrorOf([&] {
              ParseKeypointResults("[{\"image_id\": 7,", "RES.json", gt);
            }).find("RES.json: not valid JSON"),
            std::string::npos);
  // Shapes the streaming reader must reject with the field named.
  auto raw = [&](const std::string& text) {
    return ErrorOf([&] { ParseKeypointResults(text, "RES.json", gt); });
  };
  std::string nums;
  for (int i = 0; i < 51; ++i) nums += (i ? "," : "") + std::string(i == 2 ? "[1]" : "1");
  EXPECT_EQ(raw("[1, 2]"), "RES.json: [0]: expected an object, found number");
  EXPECT_EQ(raw("[[]]"), "RES.json: [0]: expected an object, found array");
  EXPECT_EQ(raw("7"), "RES.json: (top level): expected an array, found number");
  EXPECT_EQ(raw(R"([{"image_id": 7, "category_id": 1, "score": 1, "keypoints": 5}])"),
            "RES.json: [0].keypoints: expected an array, found number");
  EXPECT_EQ(raw(R"([{"image_id": 7, "category_id": 1, "score": 1, "keypoints": {}}])"),
            "RES.json: [0].keypoints: expected an array, found object");
  EXPECT_EQ(raw(R"([{"image_id": 7, "category_id": 1, "score": 1, "keypoints": [)" + nums + "]}]"),
            "RES.json: [0].keypoints[2]: expected a number, found array");
  EXPECT_EQ(raw(R"([{"image_id": [7], "category_id": 1, "score": 1}])"),
            "RES.json: [0].image_id: expected an integer, found []");
  EXPECT_EQ(raw(R"([{"image_id": 7.5, "category_id": 1, "score": 1}])"),
            "RES.json: [0].image_id: expected an integer, found 7.5");
  EXPECT_NE(
      raw(R"([{"image_id": 7, "category_id": 1, "score": 1e999, "keypoints": []}])")
          .find("RES.json: not valid JSON: [json.exception.out_of_range.406] number overflow"),
      std::string::npos);
  EXPECT_NE(raw("[] []").find("RES.json: not valid JSON"), std::string::npos);
  EXPECT_NE(raw("").find("RES.json: not valid JSON"), std::string::npos);
  EXPECT_NE(raw(R"([{"image_id": 7, "category_id": 1, "score": 1, "segmentation": {}}])")
                .find("RES.json: [0].segmentation: segmentation results are not supported"),
            std::string::npos);
  // Unknown keys (with nested values) are skipped; a "bbox" in the first result switches the
  // detection area to w * h of the boxes (pycocotools loadRes), and every result needs one.
  Json with_box = DetOn(person, 0.5);
  with_box["extra"] = {{"a", {1, {2, 3}}}, {"b", nullptr}};
  with_box["bbox"] = {1, 2, 30, 40};
  std::vector<Detection> d = ParseKeypointResults(Json::array({with_box}).dump(), "RES.json", gt);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].area, 1200.0);
  EXPECT_EQ(d[0].id, 1);
  EXPECT_EQ(ErrorOf(parse(Json::array({with_box, DetOn(person, 0.4)}))),
            "RES.json: [1].bbox: missing");
  // Without boxes: area of the keypoint extents (x 0..16, y 0..32 for Person(_, _, 0, 0)).
  d = ParseKeypointResults(Json::array({DetOn(person, 0.5), DetOn(person, 0.4)}).dump(), "RES.json",
                           gt);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[1].area, 16.0 * 32.0);
  EXPECT_EQ(d[1].id, 2);
  EXPECT_NE(ErrorOf([&] {
              LoadKeypointResults("/nonexistent/RES.json", gt);
            }).find("/nonexistent/RES.json: cannot open"),
            std::string::npos);
}

TEST(EvalErrors, AnnotationFile) {
  const Json person = Person(1, 7, 0, 0, 1000.0);
  auto parse = [](const Json& ann) {
    return [text = ann.dump()] { ParseKeypointDataset(text, "ANN.json"); };
  };
  Json no_anns = Dataset({7}, Json::array({person}));
  no_anns.erase("annotations");
  EXPECT_EQ(ErrorOf(parse(no_anns)), "ANN.json: annotations: missing");
  Json short_kp = Dataset({7}, Json::array({person}));
  short_kp["annotations"][0]["keypoints"].erase(0);
  EXPECT_EQ(ErrorOf(parse(short_kp)),
            "ANN.json: annotations[0].keypoints: expected 51 numbers, found 50");
  EXPECT_EQ(ErrorOf(parse(Dataset({6}, Json::array({person})))),
            "ANN.json: annotations[0].image_id: 7 is not in images");
  Json no_area = Dataset({7}, Json::array({person}));
  no_area["annotations"][0].erase("area");
  EXPECT_EQ(ErrorOf(parse(no_area)), "ANN.json: annotations[0].area: missing");
  EXPECT_EQ(ErrorOf(parse(Dataset({7}, Json::array({person, person})))),
            "ANN.json: annotations[1].id: duplicate annotation id 1");
  Json no_kp_names = Dataset({7}, Json::array({person}));
  no_kp_names["categories"][0].erase("keypoints");
  EXPECT_EQ(ErrorOf(parse(no_kp_names)), "ANN.json: categories[0].keypoints: missing");
  auto raw = [](const std::string& text) {
    return ErrorOf([&] { ParseKeypointDataset(text, "ANN.json"); });
  };
  EXPECT_EQ(raw("[]"), "ANN.json: (top level): expected an object, found array");
  EXPECT_EQ(raw(R"({"images": {}, "categories": [], "annotations": []})"),
            "ANN.json: images: expected an array, found object");
  EXPECT_EQ(raw(R"({"images": [{"id": 1}, 5], "categories": [], "annotations": []})"),
            "ANN.json: images[1]: expected an object, found number");
  EXPECT_EQ(raw(R"({"images": [{"id": "a"}], "categories": [], "annotations": []})"),
            "ANN.json: images[0].id: expected an integer, found \"a\"");
  EXPECT_EQ(raw(R"({"images": [{"id": 1}], "categories": [], "annotations": []})"),
            "ANN.json: categories: empty: no keypoint category");
  EXPECT_NE(raw(R"({"images": [{"id": 1}], )").find("ANN.json: not valid JSON"), std::string::npos);
  // Section order does not matter (val2017 lists categories last); unknown keys and
  // segmentations are skipped whatever their shape.
  Json reordered = Json::object();
  Json full = Dataset({7}, Json::array({person}));
  full["annotations"][0]["segmentation"] = {{1, 2, 3, 4}, {{"counts", "x"}}};
  full["info"] = {{"year", 2017}};
  reordered["annotations"] = full["annotations"];
  reordered["info"] = full["info"];
  reordered["categories"] = full["categories"];
  reordered["images"] = full["images"];
  const KeypointDataset ds = ParseKeypointDataset(reordered.dump(), "ANN.json");
  ASSERT_EQ(ds.annotations.size(), 1u);
  EXPECT_EQ(ds.annotations[0].keypoints.size(), 51u);
  EXPECT_EQ(ds.annotations[0].area, 1000.0);
  EXPECT_EQ(ds.image_ids, std::vector<int64_t>{7});
  // 14 keypoints (CrowdPose style) need sigmas; with 14 sigmas they evaluate.
  Json k14 = Dataset({7}, Json::array());
  for (int i = 0; i < 3; ++i) k14["categories"][0]["keypoints"].erase(14);
  const KeypointDataset gt14 = ParseKeypointDataset(k14.dump(), "ANN14.json");
  EXPECT_EQ(gt14.num_keypoints, 14);
  EXPECT_NE(ErrorOf([&] { EvaluateKeypoints(gt14, {}); }).find("ANN14.json"), std::string::npos);
  EvalParams p;
  p.sigmas.assign(14, 0.079);
  EXPECT_EQ(EvaluateKeypoints(gt14, {}, p).stats[0], -1.0);
}

TEST(EvalCommand, ExitCodesAndJson) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("rtmo_eval_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const Json person = Person(1, 7, 0, 0, 20000.0);
  const std::string ann = (dir / "ann.json").string(), res = (dir / "res.json").string();
  const std::string out = (dir / "out.json").string();
  std::ofstream(ann) << Dataset({7}, Json::array({person})).dump();
  std::ofstream(res) << Json::array({DetOn(person, 0.7)}).dump();
  EXPECT_EQ(RunEvalCommand({"--ann", ann, "--results=" + res, "--json", out}), 0);
  Json j = Json::parse(std::ifstream(out));
  EXPECT_DOUBLE_EQ(j["stats"]["AP"].get<double>(), 1.0);  // 1 / (1 + eps): one TP
  EXPECT_EQ(j["stats"]["APm"].get<double>(), -1.0);
  EXPECT_EQ(RunEvalCommand({"--ann", ann}), 2);               // --results missing
  EXPECT_EQ(RunEvalCommand({"--ann", ann, "--results"}), 2);  // value missing
  EXPECT_EQ(RunEvalCommand({"--ann", ann, "--results", res, "--bogus", "1"}), 2);
  EXPECT_EQ(RunEvalCommand({"--ann", ann, "--results", res, "--sigmas", "0.1,x"}), 2);
  EXPECT_EQ(RunEvalCommand({"--ann", ann, "--results", (dir / "missing.json").string()}), 1);
  EXPECT_EQ(RunEvalCommand({"--ann", ann, "--results", res, "--sigmas", "0.1,0.2"}), 1);
  EXPECT_EQ(RunEvalCommand({"--help"}), 0);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace rtmo
