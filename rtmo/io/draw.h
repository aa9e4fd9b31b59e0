// Drawing poses onto images: rtmo::Draw (public, rtmo/rtmo.h) and the primitives it is built
// from. Colours and links are mmpose's dataset metainfo (rtmo::Skeleton).
#ifndef RTMO_IO_DRAW_H_
#define RTMO_IO_DRAW_H_

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "rtmo/rtmo.h"

namespace rtmo {

// mmpose PoseLocalVisualizer(bbox_color='green') -> (0, 255, 0).
inline constexpr std::array<uint8_t, 3> kBoxRgb = {0, 255, 0};
// keypoint_info colours of mmpose v1.3.2 configs/_base_/datasets/{coco,crowdpose}.py (RGB);
// empty for other keypoint counts.
std::span<const std::array<uint8_t, 3>> KeypointColors(int num_keypoints);

// Sizes used for an image: mmpose's defaults (radius 3, line width 1) look right at 640 px;
// larger images scale them so the drawing stays visible.
struct DrawStyle {
  float radius;      // keypoint disc radius, px
  float link_width;  // skeleton line width, px
  float box_width;   // box outline width, px
};
DrawStyle StyleFor(int width, int height);

// rtmo::Draw (declared in rtmo/rtmo.h) draws boxes, then links, then keypoints of every
// person onto `image` (BGR), as mmpose's PoseLocalVisualizer does: a link only when both ends
// have score >= kpt_thr and lie inside the image; a keypoint only when its score >= kpt_thr.
// Anti-aliased. COCO-17 and CrowdPose-14 people get their skeleton; other keypoint counts get
// dots in one colour. Tracked people (track_id >= 0) get "#id" above their box.

// Writes `text` (printable ASCII; other bytes become '?') in the top-left corner on a dark
// band, scaled with the image (stb_easy_font's segment font). Used to label drawings, e.g.
// "RANDOM WEIGHTS" in the verification demo.
void DrawTitle(Image* image, const std::string& text);
// A short label (e.g. a track id) just above (x, y), kept inside the image.
void DrawLabel(Image* image, const std::string& text, float x, float y);

// Low-level anti-aliased primitives on a BGR image, used by DrawPeople and the tests.
// A segment of width `width` with round caps; a filled disc; colour given as RGB.
void DrawSegment(Image* image, float x0, float y0, float x1, float y1, float width,
                 const std::array<uint8_t, 3>& rgb);
void DrawDisc(Image* image, float cx, float cy, float radius, const std::array<uint8_t, 3>& rgb);

}  // namespace rtmo

#endif  // RTMO_IO_DRAW_H_
