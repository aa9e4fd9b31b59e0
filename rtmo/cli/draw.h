// Drawing poses onto images (--draw); encoding via rtmo/io/image.h (stb_image_write).
#ifndef RTMO_CLI_DRAW_H_
#define RTMO_CLI_DRAW_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "rtmo/rtmo.h"

namespace rtmo::cli {

// COCO-17 skeleton and colours exactly as mmpose v1.3.2 configs/_base_/datasets/coco.py
// (skeleton_info links and colours, keypoint_info colours; RGB as listed there: face and
// torso blue, left side green, right side orange).
struct Link {
  int a, b;
  std::array<uint8_t, 3> rgb;
};
extern const std::array<Link, 19> kCocoSkeleton;
extern const std::array<std::array<uint8_t, 3>, 17> kCocoKeypointRgb;
// mmpose PoseLocalVisualizer(bbox_color='green') -> (0, 255, 0).
inline constexpr std::array<uint8_t, 3> kBoxRgb = {0, 255, 0};

// Sizes used for an image: mmpose's defaults (radius 3, line width 1) look right at 640 px;
// larger images scale them so the drawing stays visible.
struct DrawStyle {
  float radius;      // keypoint disc radius, px
  float link_width;  // skeleton line width, px
  float box_width;   // box outline width, px
};
DrawStyle StyleFor(int width, int height);

// Draws boxes, then links, then keypoints of every person onto `image` (BGR), as mmpose's
// PoseLocalVisualizer does: a link only when both ends have score >= kpt_thr and lie inside
// the image; a keypoint only when its score >= kpt_thr. Anti-aliased.
// Only COCO-17 people get a skeleton; other keypoint counts get dots in one colour.
void DrawPeople(Image* image, const std::vector<Person>& people, float kpt_thr);

// Writes `text` (printable ASCII; other bytes become '?') in the top-left corner on a dark
// band, scaled with the image (stb_easy_font's segment font). Used to label drawings, e.g.
// "RANDOM WEIGHTS" in the verification demo.
void DrawTitle(Image* image, const std::string& text);

// image (BGR) -> encoded file bytes; `format` is "png" or "jpg" (quality 95).
// Throws rtmo::Error if encoding fails.
std::string EncodeImage(const Image& image, const std::string& format);

// Low-level anti-aliased primitives on a BGR image, used by DrawPeople and the tests.
// A segment of width `width` with round caps; a filled disc; colour given as RGB.
void DrawSegment(Image* image, float x0, float y0, float x1, float y1, float width,
                 const std::array<uint8_t, 3>& rgb);
void DrawDisc(Image* image, float cx, float cy, float radius, const std::array<uint8_t, 3>& rgb);

}  // namespace rtmo::cli

#endif  // RTMO_CLI_DRAW_H_
