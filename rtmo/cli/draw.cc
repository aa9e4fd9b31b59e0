#include "rtmo/cli/draw.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "rtmo/error.h"
#include "rtmo/io/image.h"

// stb_easy_font: a header of static functions (no implementation macro), a tiny vector font.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include <stb/stb_easy_font.h>
#pragma GCC diagnostic pop

namespace rtmo::cli {
namespace {

// Keypoint indices (COCO order).
enum : int {
  kNose,
  kLeftEye,
  kRightEye,
  kLeftEar,
  kRightEar,
  kLeftShoulder,
  kRightShoulder,
  kLeftElbow,
  kRightElbow,
  kLeftWrist,
  kRightWrist,
  kLeftHip,
  kRightHip,
  kLeftKnee,
  kRightKnee,
  kLeftAnkle,
  kRightAnkle
};
constexpr std::array<uint8_t, 3> kBlue = {51, 153, 255};
constexpr std::array<uint8_t, 3> kGreen = {0, 255, 0};
constexpr std::array<uint8_t, 3> kOrange = {255, 128, 0};

// Blends `rgb` into pixel (x, y) with coverage `a` in [0, 1].
inline void Blend(Image* im, int x, int y, float a, const std::array<uint8_t, 3>& rgb) {
  uint8_t* px = &im->bgr[(static_cast<size_t>(y) * im->width + x) * 3];
  const uint8_t bgr[3] = {rgb[2], rgb[1], rgb[0]};
  for (int c = 0; c < 3; ++c) {
    px[c] = static_cast<uint8_t>(std::lround(px[c] + a * (bgr[c] - px[c])));
  }
}

}  // namespace

// mmpose v1.3.2 configs/_base_/datasets/coco.py, skeleton_info 0..18 in order.
const std::array<Link, 19> kCocoSkeleton = {{
    {kLeftAnkle, kLeftKnee, kGreen},     {kLeftKnee, kLeftHip, kGreen},
    {kRightAnkle, kRightKnee, kOrange},  {kRightKnee, kRightHip, kOrange},
    {kLeftHip, kRightHip, kBlue},        {kLeftShoulder, kLeftHip, kBlue},
    {kRightShoulder, kRightHip, kBlue},  {kLeftShoulder, kRightShoulder, kBlue},
    {kLeftShoulder, kLeftElbow, kGreen}, {kRightShoulder, kRightElbow, kOrange},
    {kLeftElbow, kLeftWrist, kGreen},    {kRightElbow, kRightWrist, kOrange},
    {kLeftEye, kRightEye, kBlue},        {kNose, kLeftEye, kBlue},
    {kNose, kRightEye, kBlue},           {kLeftEye, kLeftEar, kBlue},
    {kRightEye, kRightEar, kBlue},       {kLeftEar, kLeftShoulder, kBlue},
    {kRightEar, kRightShoulder, kBlue},
}};

// mmpose v1.3.2 configs/_base_/datasets/coco.py, keypoint_info[i].color.
const std::array<std::array<uint8_t, 3>, 17> kCocoKeypointRgb = {{
    kBlue, kBlue, kBlue, kBlue, kBlue,                  // nose, eyes, ears
    kGreen, kOrange, kGreen, kOrange, kGreen, kOrange,  // shoulders, elbows, wrists
    kGreen, kOrange, kGreen, kOrange, kGreen, kOrange,  // hips, knees, ankles
}};

DrawStyle StyleFor(int width, int height) {
  const float scale = std::max(1.0f, static_cast<float>(std::max(width, height)) / 640.0f);
  return {3.0f * scale, 2.0f * scale, 2.0f * scale};
}

// Coverage of a pixel centre at distance d from the shape's centre line: 1 inside,
// falling linearly to 0 over one pixel at the edge (a cheap, good-enough anti-aliasing).
void DrawSegment(Image* im, float x0, float y0, float x1, float y1, float width,
                 const std::array<uint8_t, 3>& rgb) {
  const float hw = 0.5f * width;
  if (im->width <= 0 || im->height <= 0) return;
  if (!std::isfinite(x0) || !std::isfinite(y0) || !std::isfinite(x1) || !std::isfinite(y1)) {
    return;
  }
  const float pad = hw + 1.0f;
  // Clamp in float before converting: a far-off coordinate must not overflow the int.
  auto clampx = [&](float v) { return std::clamp(v, 0.0f, static_cast<float>(im->width - 1)); };
  auto clampy = [&](float v) { return std::clamp(v, 0.0f, static_cast<float>(im->height - 1)); };
  const int xa = static_cast<int>(std::floor(clampx(std::min(x0, x1) - pad)));
  const int xb = static_cast<int>(std::ceil(clampx(std::max(x0, x1) + pad)));
  const int ya = static_cast<int>(std::floor(clampy(std::min(y0, y1) - pad)));
  const int yb = static_cast<int>(std::ceil(clampy(std::max(y0, y1) + pad)));
  const float dx = x1 - x0, dy = y1 - y0;
  const float len2 = dx * dx + dy * dy;
  for (int y = ya; y <= yb; ++y) {
    for (int x = xa; x <= xb; ++x) {
      // OpenCV/mmpose convention: pixel (x, y) has its centre at integer (x, y).
      const float px = static_cast<float>(x) - x0, py = static_cast<float>(y) - y0;
      float t = len2 > 0 ? (px * dx + py * dy) / len2 : 0.0f;
      t = std::clamp(t, 0.0f, 1.0f);
      const float ex = px - t * dx, ey = py - t * dy;
      const float d = std::sqrt(ex * ex + ey * ey);
      const float a = std::clamp(hw + 0.5f - d, 0.0f, 1.0f);
      if (a > 0) Blend(im, x, y, a, rgb);
    }
  }
}

void DrawDisc(Image* im, float cx, float cy, float radius, const std::array<uint8_t, 3>& rgb) {
  // A disc is a zero-length segment of width 2r.
  DrawSegment(im, cx, cy, cx, cy, 2.0f * radius, rgb);
}

void DrawPeople(Image* im, const std::vector<Person>& people, float kpt_thr) {
  const DrawStyle st = StyleFor(im->width, im->height);
  const float w = static_cast<float>(im->width), h = static_cast<float>(im->height);
  for (const Person& p : people) {
    const float x1 = p.bbox[0], y1 = p.bbox[1], x2 = p.bbox[2], y2 = p.bbox[3];
    DrawSegment(im, x1, y1, x2, y1, st.box_width, kBoxRgb);
    DrawSegment(im, x2, y1, x2, y2, st.box_width, kBoxRgb);
    DrawSegment(im, x2, y2, x1, y2, st.box_width, kBoxRgb);
    DrawSegment(im, x1, y2, x1, y1, st.box_width, kBoxRgb);
  }
  for (const Person& p : people) {
    const auto& k = p.keypoints;
    const bool coco = k.size() == kCocoKeypointRgb.size();
    if (coco) {
      for (const Link& l : kCocoSkeleton) {
        const Keypoint& a = k[l.a];
        const Keypoint& b = k[l.b];
        // mmpose skips a link when an end is outside (0, w) x (0, h) or below kpt_thr.
        auto inside = [&](const Keypoint& q) { return q.x > 0 && q.x < w && q.y > 0 && q.y < h; };
        if (a.score < kpt_thr || b.score < kpt_thr || !inside(a) || !inside(b)) continue;
        DrawSegment(im, a.x, a.y, b.x, b.y, st.link_width, l.rgb);
      }
    }
    for (size_t i = 0; i < k.size(); ++i) {
      if (k[i].score < kpt_thr) continue;
      DrawDisc(im, k[i].x, k[i].y, st.radius, coco ? kCocoKeypointRgb[i] : kBlue);
    }
  }
}

void DrawTitle(Image* im, const std::string& text) {
  if (text.empty() || im->width <= 0 || im->height <= 0) return;
  // stb_easy_font indexes its tables with (c - 32): only printable ASCII may reach it.
  std::string t;
  for (char c : text.substr(0, 200)) {
    t += (c == '\n' || (c >= 32 && c < 127)) ? c : '?';
  }
  std::vector<char> vbuf(t.size() * 64 * 16 + 64);  // generous: a glyph has < 16 quads
  const int quads =
      stb_easy_font_print(0, 0, t.data(), nullptr, vbuf.data(), static_cast<int>(vbuf.size()));
  const int tw = stb_easy_font_width(t.data()), th = stb_easy_font_height(t.data());
  // px per font unit: grows with the image, but shrinks so that the whole line fits its width.
  const int s_size = std::max(1, (std::min(im->width, im->height) + 80) / 160);
  const int s = std::max(1, std::min(s_size, im->width / std::max(1, tw + 4)));
  const int pad = 2 * s;
  // Dark band behind the text, then the text in white: readable on any photo.
  const int bw = std::min(im->width, tw * s + 2 * pad);
  const int bh = std::min(im->height, th * s + 2 * pad);
  for (int y = 0; y < bh; ++y) {
    for (int x = 0; x < bw; ++x) Blend(im, x, y, 0.65f, {0, 0, 0});
  }
  // Each quad is 4 vertices of 16 bytes (x, y, z floats + RGBA); corners 0 and 2 are
  // opposite, axis-aligned.
  for (int q = 0; q < quads; ++q) {
    float v0[2], v2[2];
    std::memcpy(v0, vbuf.data() + q * 64, sizeof(v0));
    std::memcpy(v2, vbuf.data() + q * 64 + 32, sizeof(v2));
    const int x0 = pad + static_cast<int>(v0[0] * s), y0 = pad + static_cast<int>(v0[1] * s);
    const int x1 = pad + static_cast<int>(v2[0] * s), y1 = pad + static_cast<int>(v2[1] * s);
    for (int y = std::max(0, y0); y < std::min(im->height, y1); ++y) {
      for (int x = std::max(0, x0); x < std::min(im->width, x1); ++x) {
        Blend(im, x, y, 1.0f, {255, 255, 255});
      }
    }
  }
}

std::string EncodeImage(const Image& image, const std::string& format) {
  std::vector<uint8_t> bytes;
  if (format == "png") {
    bytes = EncodePng(image);
  } else if (format == "jpg") {
    bytes = EncodeJpeg(image, 95);
  } else {
    throw Error("EncodeImage: unknown format '" + format + "' (expected png or jpg)");
  }
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace rtmo::cli
