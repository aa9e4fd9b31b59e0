// The drawing of poses (rtmo::Draw, rtmo/io/draw.h), keypoint names and skeletons: colours
// and links against mmpose v1.3.2's dataset metainfo, pixels where people are, robustness.
#include "rtmo/io/draw.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "rtmo/error.h"
#include "rtmo/io/image.h"
#include "rtmo/rtmo.h"
#include "tests/rtmo/image_util.h"

namespace rtmo {
namespace {

using testing::Grey;
using testing::PixelRgb;

TEST(Draw, KeypointNamesAndCrowdPoseSkeleton) {
  // mmpose v1.3.2 configs/_base_/datasets/coco.py and crowdpose.py.
  ASSERT_EQ(KeypointNames(17).size(), 17u);
  EXPECT_STREQ(KeypointNames(17)[0], "nose");
  EXPECT_STREQ(KeypointNames(17)[16], "right_ankle");
  ASSERT_EQ(KeypointNames(14).size(), 14u);
  EXPECT_STREQ(KeypointNames(14)[12], "top_head");
  EXPECT_STREQ(KeypointNames(14)[13], "neck");
  EXPECT_TRUE(KeypointNames(5).empty());
  const auto crowd = Skeleton(14);
  ASSERT_EQ(crowd.size(), 15u);
  EXPECT_EQ(crowd[0].a, 10);  // left_ankle - left_knee, green
  EXPECT_EQ(crowd[0].b, 8);
  EXPECT_EQ(crowd[0].rgb, (std::array<uint8_t, 3>{0, 255, 0}));
  EXPECT_EQ(crowd[14].a, 0);  // left_shoulder - neck, blue
  EXPECT_EQ(crowd[14].b, 13);
  EXPECT_EQ(crowd[14].rgb, (std::array<uint8_t, 3>{51, 153, 255}));
  for (const SkeletonLink& l : crowd) {
    EXPECT_LT(l.a, 14);
    EXPECT_LT(l.b, 14);
  }
  EXPECT_TRUE(Skeleton(5).empty());
}

TEST(Draw, TrackIdLabelAboveTheBoxAndOptionsRespected) {
  Person p;
  p.bbox = {60, 80, 160, 180};
  p.keypoints.assign(17, Keypoint{0, 0, 0.0});
  p.track_id = 7;
  Image labelled = Grey(240, 200);
  Draw(&labelled, {p}, DrawOptions{});
  int white_above = 0;
  for (int y = 55; y < 80; ++y) {
    for (int x = 60; x < 120; ++x)
      white_above += PixelRgb(labelled, x, y) == std::array<uint8_t, 3>{255, 255, 255};
  }
  EXPECT_GT(white_above, 5) << "the '#7' label is drawn above the box";
  DrawOptions none;
  none.boxes = false;
  none.track_ids = false;
  Image plain = Grey(240, 200);
  Draw(&plain, {p}, none);
  EXPECT_EQ(plain.bgr, Grey(240, 200).bgr) << "no box, no label, no keypoint above kpt_thr";
}

TEST(Draw, SaveImageByExtension) {
  const std::string dir = ::testing::TempDir();
  Image im = Grey(21, 13);
  SaveImage(dir + "/draw_test_save.png", im);
  EXPECT_EQ(LoadImage(dir + "/draw_test_save.png").bgr, im.bgr);
  SaveImage(dir + "/draw_test_save.JPG", im);
  EXPECT_EQ(LoadImage(dir + "/draw_test_save.JPG").width, 21);
  EXPECT_THROW(SaveImage(dir + "/draw_test_save.gif", im), Error);
  EXPECT_THROW(EncodeImage(im, "jpg", 0), Error);
}

TEST(Draw, SkeletonTableIsMmposeCoco) {
  // Spot checks against mmpose v1.3.2 configs/_base_/datasets/coco.py.
  const auto kCocoSkeleton = Skeleton(17);
  const auto kCocoKeypointRgb = KeypointColors(17);
  ASSERT_EQ(kCocoSkeleton.size(), 19u);
  ASSERT_EQ(kCocoKeypointRgb.size(), 17u);
  EXPECT_EQ(kCocoSkeleton[0].a, 15);  // left_ankle - left_knee, green
  EXPECT_EQ(kCocoSkeleton[0].b, 13);
  EXPECT_EQ(kCocoSkeleton[0].rgb, (std::array<uint8_t, 3>{0, 255, 0}));
  EXPECT_EQ(kCocoSkeleton[18].a, 4);  // right_ear - right_shoulder, blue
  EXPECT_EQ(kCocoSkeleton[18].b, 6);
  EXPECT_EQ(kCocoSkeleton[18].rgb, (std::array<uint8_t, 3>{51, 153, 255}));
  EXPECT_EQ(kCocoKeypointRgb[0], (std::array<uint8_t, 3>{51, 153, 255}));  // nose
  EXPECT_EQ(kCocoKeypointRgb[10], (std::array<uint8_t, 3>{255, 128, 0}));  // right wrist
  EXPECT_EQ(kCocoKeypointRgb[15], (std::array<uint8_t, 3>{0, 255, 0}));    // left ankle
}

TEST(Draw, KeypointsLinksAndBoxWhereThePersonIs) {
  Image im = Grey(200, 150);
  Person p;
  p.bbox = {20, 10, 180, 140};
  p.score = 0.9f;
  p.keypoints.assign(17, Keypoint{0, 0, 0.0f});
  p.keypoints[15] = {50, 120, 0.9f};  // left ankle
  p.keypoints[13] = {50, 80, 0.8f};   // left knee: the link 15-13 is green
  p.keypoints[10] = {150, 60, 0.9f};  // right wrist alone: orange dot, no link
  p.keypoints[0] = {100, 30, 0.29f};  // nose below kpt_thr: not drawn
  Draw(&im, {p}, DrawOptions{});
  const std::array<uint8_t, 3> green = {0, 255, 0}, orange = {255, 128, 0};
  EXPECT_EQ(PixelRgb(im, 50, 120), green);                                    // keypoint centre
  EXPECT_EQ(PixelRgb(im, 50, 100), green);                                    // middle of the link
  EXPECT_EQ(PixelRgb(im, 150, 60), orange);                                   // right wrist
  EXPECT_EQ(PixelRgb(im, 100, 30), (std::array<uint8_t, 3>{128, 128, 128}));  // nose skipped
  EXPECT_EQ(PixelRgb(im, 100, 10), kBoxRgb);                                  // top edge of the box
  EXPECT_EQ(PixelRgb(im, 20, 70), kBoxRgb);                                   // left edge
  EXPECT_EQ(PixelRgb(im, 100, 75), (std::array<uint8_t, 3>{128, 128, 128}));  // inside: empty
  EXPECT_EQ(PixelRgb(im, 5, 5), (std::array<uint8_t, 3>{128, 128, 128}));     // outside
}

TEST(Draw, LinkWithAnEndOutsideTheImageIsSkipped) {
  Image im = Grey(100, 100);
  Person p;
  p.bbox = {-500, -500, -400, -400};  // off-image box: nothing drawn, no crash
  p.keypoints.assign(17, Keypoint{0, 0, 0.0f});
  p.keypoints[5] = {50, 50, 0.9f};    // left shoulder
  p.keypoints[7] = {150, 50, 0.9f};   // left elbow outside the image: link skipped
  p.keypoints[9] = {1e30, NAN, 1.0};  // garbage coordinates must not crash
  Draw(&im, {p}, DrawOptions{});
  EXPECT_EQ(PixelRgb(im, 50, 50), (std::array<uint8_t, 3>{0, 255, 0}));
  EXPECT_EQ(PixelRgb(im, 80, 50), (std::array<uint8_t, 3>{128, 128, 128}));
  EXPECT_EQ(PixelRgb(im, 99, 50), (std::array<uint8_t, 3>{128, 128, 128}));
}

TEST(Draw, EncodedImageDecodesToTheSameSize) {
  Image im = Grey(37, 23);
  DrawDisc(&im, 10, 10, 4, {255, 0, 0});
  for (const char* fmt : {"png", "jpg"}) {
    const std::vector<uint8_t> bytes = EncodeImage(im, fmt);
    const Image back = DecodeImage(bytes.data(), bytes.size(), std::string("drawn.") + fmt);
    EXPECT_EQ(back.width, 37);
    EXPECT_EQ(back.height, 23);
    if (std::string(fmt) == "png") {
      EXPECT_EQ(back.bgr, im.bgr);
    }
  }
  EXPECT_THROW(EncodeImage(im, "gif"), Error);
}

TEST(Draw, TitleInTheCornerAnyBytesAnySize) {
  Image im = Grey(400, 300);
  DrawTitle(&im, "RANDOM WEIGHTS \xff\x01\x80 \xc3\xa9");  // non-ASCII must not index stb's tables
  int white = 0;
  for (int y = 0; y < 40; ++y) {
    for (int x = 0; x < 400; ++x)
      white += PixelRgb(im, x, y) == std::array<uint8_t, 3>{255, 255, 255};
  }
  EXPECT_GT(white, 50);
  EXPECT_EQ(PixelRgb(im, 200, 200), (std::array<uint8_t, 3>{128, 128, 128}));
  Image tiny = Grey(3, 2);
  DrawTitle(&tiny, std::string(500, 'W'));  // clipped, no out-of-bounds write
  Image none = Grey(10, 10);
  DrawTitle(&none, "");
  EXPECT_EQ(none.bgr, Grey(10, 10).bgr);
}

}  // namespace
}  // namespace rtmo
