// rtmo/io/preprocess.h: letterbox geometry, the official back-mapping, and the fixed-point
// resampler's properties on hand-checked cases. Bit-exactness against OpenCV over many
// sizes is tests/tools/test_letterbox_vs_opencv.py; this suite runs under ASan+UBSan.
#include "rtmo/io/preprocess.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "rtmo/error.h"
#include "tests/rtmo/image_util.h"

namespace rtmo {
namespace {

using testing::RandomImage;

TEST(MakeLetterbox, OfficialGeometry) {
  // COCO 000000000785 (640x425) into 640x640: s = 1, centred with a half-pixel offset.
  const Letterbox lb = MakeLetterbox(640, 425, 640, 640);
  EXPECT_EQ(lb.matrix[0], 1.0);
  EXPECT_EQ(lb.matrix[1], 0.0);
  EXPECT_EQ(lb.matrix[2], 0.0);
  EXPECT_EQ(lb.matrix[4], 1.0);
  EXPECT_EQ(lb.matrix[5], 107.5);
  EXPECT_EQ(lb.input_center[0], 320.0f);
  EXPECT_EQ(lb.input_center[1], 212.5f);
  EXPECT_EQ(lb.input_scale[0], 640.0f);
  EXPECT_EQ(lb.input_scale[1], 640.0f);
  // Tall 500x1000 into 416x416: s = 0.416, x offset 208 - 104 = 104.
  const Letterbox t = MakeLetterbox(500, 1000, 416, 416);
  EXPECT_DOUBLE_EQ(t.matrix[0], 0.416);
  EXPECT_DOUBLE_EQ(t.matrix[2], 104.0);
  EXPECT_DOUBLE_EQ(t.matrix[5], 0.0);
  EXPECT_EQ(t.input_scale[0], 1000.0f);  // w*W/rsz_w = 500*416/208
  EXPECT_EQ(t.input_scale[1], 1000.0f);
  EXPECT_THROW(MakeLetterbox(0, 10, 640, 640), Error);
  EXPECT_THROW(MakeLetterbox(10, 10, 640, -1), Error);
}

TEST(MapToImage, OfficialFormula) {
  const Letterbox lb = MakeLetterbox(640, 425, 640, 640);
  // p_img = p_in / 640 * 640 + center - 320: x unchanged, y shifted by -107.5.
  auto p = MapToImage(lb, 0, 0);
  EXPECT_EQ(p[0], 0.0);
  EXPECT_EQ(p[1], -107.5);
  p = MapToImage(lb, 320, 320);
  EXPECT_EQ(p[0], 320.0);
  EXPECT_EQ(p[1], 212.5);
  // Round trip through the forward matrix for many sizes; the only error source is the
  // float32 rounding of input_scale/centre (relative 2^-24 of coordinates < 4096 px).
  std::mt19937 rng(3);
  for (int i = 0; i < 200; ++i) {
    const int w = 1 + rng() % 4000, h = 1 + rng() % 4000;
    const Letterbox l = MakeLetterbox(w, h, 640, 640);
    const double x = (rng() % 10000) / 10000.0 * w, y = (rng() % 10000) / 10000.0 * h;
    const double xi = l.matrix[0] * x + l.matrix[2], yi = l.matrix[4] * y + l.matrix[5];
    const auto back = MapToImage(l, xi, yi);
    const double tol = 4096 * std::ldexp(1.0, -22);
    EXPECT_NEAR(back[0], x, tol) << w << "x" << h;
    EXPECT_NEAR(back[1], y, tol) << w << "x" << h;
  }
}

TEST(WarpAffineBilinear, HandComputedUpscale) {
  // A 2x1 image (0, 255) scaled by 2 into 4x2 with border 114. Worked by hand from the
  // fixed-point rules (1/32-pixel coordinates, 15-bit weights, +2^14 >> 15) and checked
  // against cv2.warpAffine:  row 0: 0, 128, 255, 185;  row 1: 57, 121, 185, 149.
  Image im;
  im.width = 2;
  im.height = 1;
  im.bgr = {0, 0, 0, 255, 255, 255};
  std::vector<uint8_t> out(4 * 2 * 3);
  WarpAffineBilinear(im.bgr.data(), 2, 1, {2, 0, 0, 0, 2, 0}, 4, 2, 114, out.data());
  const int want[2][4] = {{0, 128, 255, 185}, {57, 121, 185, 149}};
  for (int y = 0; y < 2; ++y) {
    for (int x = 0; x < 4; ++x) {
      for (int c = 0; c < 3; ++c) EXPECT_EQ(out[(y * 4 + x) * 3 + c], want[y][x]) << x << "," << y;
    }
  }
}

TEST(WarpAffineBilinear, IdentityAndIntegerShiftAreExact) {
  const Image im = RandomImage(37, 23, 1);
  std::vector<uint8_t> out(im.bgr.size());
  WarpAffineBilinear(im.bgr.data(), 37, 23, {1, 0, 0, 0, 1, 0}, 37, 23, 114, out.data());
  EXPECT_EQ(out, im.bgr);
  // Shift by (+2, +1): dst(x, y) = src(x-2, y-1), border elsewhere.
  WarpAffineBilinear(im.bgr.data(), 37, 23, {1, 0, 2, 0, 1, 1}, 37, 23, 9, out.data());
  for (int y = 0; y < 23; ++y) {
    for (int x = 0; x < 37; ++x) {
      for (int c = 0; c < 3; ++c) {
        const int want = (x >= 2 && y >= 1) ? im.bgr[((y - 1) * 37 + (x - 2)) * 3 + c] : 9;
        ASSERT_EQ(out[(y * 37 + x) * 3 + c], want) << x << "," << y;
      }
    }
  }
}

TEST(Letterbox, ConstantImageAndPadding) {
  // A constant image: inside pixels keep the value, far padding is 114, the seam pixels
  // blend between the two (bilinear with the border), nothing outside that range.
  Image im;
  im.width = 300;
  im.height = 100;
  im.bgr.assign(300 * 100 * 3, 200);
  const Letterbox lb = MakeLetterbox(300, 100, 640, 640);  // s = 640/300, image rows ~213
  std::vector<uint8_t> out(640 * 640 * 3);
  LetterboxBgr(im, lb, out.data());
  EXPECT_EQ(out[(0 * 640 + 0) * 3], 114);      // top padding
  EXPECT_EQ(out[(639 * 640 + 639) * 3], 114);  // bottom padding
  EXPECT_EQ(out[(320 * 640 + 320) * 3], 200);  // centre
  for (uint8_t v : out) EXPECT_TRUE(v >= 114 && v <= 200);
}

TEST(Letterbox, ChwEqualsBgrTransposedAndThreadCountInvariant) {
  const Image im = RandomImage(333, 517, 5);
  const Letterbox lb = MakeLetterbox(333, 517, 416, 416);
  std::vector<uint8_t> hwc(416 * 416 * 3);
  LetterboxBgr(im, lb, hwc.data());
  const LetterboxedInput in = Preprocess(im, 416, 416);
  ASSERT_EQ(in.chw.size(), 3u * 416 * 416);
  for (int c = 0; c < 3; ++c) {
    for (int i = 0; i < 416 * 416; ++i) {
      ASSERT_EQ(in.chw[c * 416 * 416 + i], static_cast<float>(hwc[i * 3 + c]));
    }
  }
  const int saved = omp_get_max_threads();
  for (int threads : {1, 2, 7}) {
    omp_set_num_threads(threads);
    const LetterboxedInput again = Preprocess(im, 416, 416);
    ASSERT_EQ(std::memcmp(again.chw.data(), in.chw.data(), in.chw.size() * sizeof(float)), 0)
        << threads << " threads";
  }
  omp_set_num_threads(saved);
}

TEST(Letterbox, RejectsInconsistentInput) {
  Image im = RandomImage(10, 10, 2);
  const Letterbox lb = MakeLetterbox(10, 10, 64, 64);
  std::vector<uint8_t> out(64 * 64 * 3);
  const Letterbox other = MakeLetterbox(11, 10, 64, 64);
  EXPECT_THROW(LetterboxBgr(im, other, out.data()), Error);
  im.bgr.pop_back();
  EXPECT_THROW(LetterboxBgr(im, lb, out.data()), Error);
  EXPECT_THROW(Preprocess(Image{}, 640, 640), Error);
  EXPECT_THROW(WarpAffineBilinear(nullptr, 0, 0, {1, 0, 0, 0, 1, 0}, 4, 4, 0, out.data()), Error);
  // OpenCV's remap asserts sides < SHRT_MAX; so do we (clear error instead of saturation).
  const Image wide = RandomImage(32767, 1, 3);
  EXPECT_THROW(Preprocess(wide, 640, 640), Error);
  EXPECT_NO_THROW(Preprocess(RandomImage(32766, 1, 3), 640, 640));
}

TEST(WarpAffineBilinear, AbsurdMatricesAreSafe) {
  // Degenerate, huge and non-finite matrices must not invoke UB (UBSan build): OpenCV's
  // coordinate saturation (int16) and cvRound's INT_MIN are reproduced.
  const Image im = RandomImage(5, 4, 9);
  std::vector<uint8_t> out(16 * 16 * 3);
  for (const std::array<double, 6>& m : {std::array<double, 6>{0, 0, 0, 0, 0, 0},
                                         {1e-9, 0, 0, 0, 1e-9, 0},
                                         {1e12, 0, -1e15, 0, 1e12, 3},
                                         {NAN, 0, 0, 0, 1, 0},
                                         {1, 2, 3, 4, 5, 6},
                                         {-1, 0, 1e300, 0, 1, -1e300}}) {
    WarpAffineBilinear(im.bgr.data(), 5, 4, m, 16, 16, 114, out.data());
  }
  SUCCEED();
}

}  // namespace
}  // namespace rtmo
